"""``sidecar-injector import``: read the files, convert, print templates on stdout and the rest on stderr.

The one module of the package that does I/O. Exit status 0 when templates (or rewrites) were
produced, warnings or not; 1 with one ``error:`` line when the input cannot be read or is not that
format, or when nothing at all could be imported (after the warnings that say why).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from webhook.bounded_yaml import FILE_LIMITS
from webhook.convert.api import import_configs
from webhook.convert.model import ConversionError, ImportResult
from webhook.convert.output import render, rewrite_lines

# All input files together: a configuration directory is a few files of a few KiB each.
MAX_INPUT_BYTES = 4 * FILE_LIMITS.text_bytes


def run_import(
    source_format: str,
    paths: Sequence[str],
    annotation_prefix: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        files = read_files(paths)
        result = import_configs(source_format, files, annotation_prefix=annotation_prefix)
    except ConversionError as exc:
        print(f"error: {_one_line(str(exc))}", file=err)
        return 1
    if result.templates:
        out.write(render(result))
    report(result, err)
    if not result.templates and not result.workloads:
        print(f"error: no {source_format} configuration could be imported from the files given", file=err)
        return 1
    return 0


def report(result: ImportResult, err: TextIO) -> None:
    for line in rewrite_lines(result):
        print(_one_line(line), file=err)
    for warning in result.warnings:
        print(f"warning: {_one_line(str(warning))}", file=err)
    print(
        f"imported {len(result.templates)} template(s) from {result.source_format}, "
        f"{len(result.workloads)} workload rewrite(s), {len(result.warnings)} warning(s)",
        file=err,
    )


def read_files(paths: Sequence[str]) -> dict[str, str]:
    """Each file's text by the name given (``-``: standard input), within one size budget."""
    files: dict[str, str] = {}
    budget = MAX_INPUT_BYTES
    for path in paths:
        if path in files:
            continue
        try:
            if path == "-":
                data = sys.stdin.buffer.read(budget + 1)
            else:
                with open(path, "rb") as handle:
                    data = handle.read(budget + 1)
        except OSError as exc:
            raise ConversionError(path, f"cannot read it: {exc.strerror or exc}") from exc
        if len(data) > budget:
            raise ConversionError(
                path, f"the files given exceed {MAX_INPUT_BYTES // (1024 * 1024)} MiB together"
            )
        budget -= len(data)
        try:
            files[path] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConversionError(path, f"not UTF-8 text (byte {exc.start})") from exc
    return files


def _one_line(text: str) -> str:
    return " ".join(text.split())
