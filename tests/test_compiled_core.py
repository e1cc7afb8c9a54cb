"""The core runs as the build says it does, and a compiled module is never older than its source.

``scripts/compile-core`` (and the image's build) compile webhook/core and the server's decision path
(``COMPILED_SOURCES``) with mypyc; Python then loads
the extension in preference to the .py beside it, so an edited source would silently not run. CI's
compiled pass sets SIDECAR_INJECTOR_EXPECT_COMPILED=1, so a build that quietly fell back to the
interpreter fails there instead of passing as "compiled".
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from webhook.build_info import COMPILED, INTERPRETED, compiled_modules, compiled_sources, core_build

ROOT = Path(__file__).parents[1]
SOURCES = compiled_sources(ROOT)
MODULES = compiled_modules(ROOT)


def _is_extension(name: str) -> bool:
    return isinstance(importlib.import_module(name).__spec__.loader, importlib.machinery.ExtensionFileLoader)  # type: ignore[union-attr]


def test_every_compiled_core_module_is_newer_than_its_source() -> None:
    stale = []
    for source in SOURCES:
        for extension in source.parent.glob(f"{source.stem}.*.so"):
            if extension.stat().st_mtime < source.stat().st_mtime:
                stale.append(f"{extension.name} is older than {source.name}")
    assert not stale, "; ".join(stale) + ": run `bash scripts/compile-core` (or `--clean`)"


def test_the_compiled_sources_name_the_core_and_the_decision_path() -> None:
    assert {"webhook.core", "webhook.core.engine", "webhook.server.decision"} <= set(MODULES)
    assert len(MODULES) == len(SOURCES) and all(path.suffix == ".py" for path in SOURCES)


def test_the_core_is_wholly_compiled_or_wholly_interpreted_and_says_which() -> None:
    compiled = {name: _is_extension(name) for name in MODULES}
    assert len(set(compiled.values())) == 1, f"partly compiled: {compiled}"
    assert core_build() == (COMPILED if all(compiled.values()) else INTERPRETED)


@pytest.mark.skipif(
    os.environ.get("SIDECAR_INJECTOR_EXPECT_COMPILED") != "1",
    reason="the compiled pass of .ci/run sets SIDECAR_INJECTOR_EXPECT_COMPILED=1",
)
def test_the_compiled_pass_runs_the_compiled_core() -> None:
    assert core_build() == COMPILED, "scripts/compile-core did not take effect"


def test_no_compiled_function_binds_one_name_to_exceptions_of_different_types() -> None:
    """Compiled, a name bound by two ``except … as name`` clauses of one function takes the first
    clause's type, and binding the other's exception to it raises TypeError: found when the compiled
    decision answered a failing encoder with a TypeError instead of the policy's answer. Checked on
    the source, so the interpreted pass catches it too."""
    shared = []
    for source in SOURCES:
        for function in ast.walk(ast.parse(source.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            types: dict[str, set[str]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.ExceptHandler) and node.name:
                    types.setdefault(node.name, set()).add(ast.unparse(node.type) if node.type else "")
            shared += [
                f"{source.relative_to(ROOT)}:{function.lineno} {function.name}(): {name!r} for {sorted(kinds)}"
                for name, kinds in types.items()
                if len(kinds) > 1
            ]
    assert not shared, "; ".join(shared)
