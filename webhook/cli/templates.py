"""``templates validate``: check template folders the way the server loads them; non-zero exit on errors.

The folder reading here is shared with ``inject``, which reports the same problems as warnings.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webhook.cli import options
from webhook.core.security import TemplateSecurityPolicy
from webhook.templates import TemplateError
from webhook.templates.parsing import LEGACY_KEY, LEGACY_SUFFIX, NATIVE_KEY, TEMPLATE_LABEL

if TYPE_CHECKING:
    from webhook.templates.store import DocumentResult


def register(commands: Any) -> None:
    templates = options.command_group(commands, "templates", "template tooling")
    validate = options.command(templates, "validate", "check template ConfigMaps; non-zero exit on errors")
    validate.add_argument(
        "folders",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="folders of template ConfigMap manifests to check (one or more)",
    )
    options.add_template_flags(validate)
    validate.set_defaults(run=validate_folders)


NO_TEMPLATES = (
    f"no templates found (a template is a ConfigMap labelled {TEMPLATE_LABEL} with the key "
    f"{NATIVE_KEY!r}, or a ConfigMap named <name>{LEGACY_SUFFIX} with the key {LEGACY_KEY!r})"
)


def read_templates(
    folder: Path, version: str, security: TemplateSecurityPolicy
) -> tuple[dict[str, DocumentResult], str | None]:
    """The templates (or their errors) of one folder by document, or why the folder cannot be read."""
    if not folder.exists():
        return {}, "no such folder"
    if not folder.is_dir():
        return {}, "not a folder"
    try:
        from webhook.templates.file_source import load_folder

        return load_folder(folder, version, security), None
    except (TemplateError, OSError) as exc:
        return {}, str(exc)


def validate_folders(args: argparse.Namespace) -> int:
    failed = 0
    for folder in args.folders:
        results, problem = read_templates(folder, args.kubernetes_version, options.security_policy(args))
        foreign = foreign_configmaps(folder) if problem is None else []
        for line in foreign:
            print(f"error: {line}")
        failed += len(foreign)
        if problem or (not results and not foreign):
            print(f"error: {folder}: {problem or NO_TEMPLATES}")
            failed += 1
        for result in results.values():
            if isinstance(result, TemplateError):
                for line in result.lines():  # one line per problem, each naming file, line and field
                    print(f"error: {line}")
                failed += 1
            else:
                print(f"ok: template {result.name!r} (revision {result.revision}) from {result.source}")
    return 1 if failed else 0


def foreign_configmaps(folder: Path) -> list[str]:
    """One line per ConfigMap of the folder that another injector would read: ignored when served,
    so an error here rather than a silent exit 0 (``import`` converts it)."""
    from webhook.convert import detect_format
    from webhook.templates.file_source import read_folder
    from webhook.templates.parsing import load_manifests

    lines = []
    for name, content in read_folder(folder).items():
        if not isinstance(content, str):
            continue  # load_folder reports it
        try:
            manifests = load_manifests(content, name)
        except TemplateError:
            continue  # load_folder reports it
        for manifest in manifests:
            source_format = detect_format(manifest)
            if source_format is not None:
                lines.append(_foreign_line(folder / name, manifest, source_format))
    return lines


def _foreign_line(path: Path, manifest: dict[str, Any], source_format: str) -> str:
    metadata = manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return (
        f"{path}: ConfigMap {name!r} is a configuration of the {source_format} injector, not a "
        f"template, and is not read; convert it with `sidecar-injector import --from {source_format} {path}`"
    )
