"""The core runs as the build says it does, and a compiled module is never older than its source.

``scripts/compile-core`` (and the image's build) compile webhook/core with mypyc; Python then loads
the extension in preference to the .py beside it, so an edited source would silently not run. CI's
compiled pass sets SIDECAR_INJECTOR_EXPECT_COMPILED=1, so a build that quietly fell back to the
interpreter fails there instead of passing as "compiled".
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from webhook.build_info import COMPILED, INTERPRETED, core_build

CORE = Path(__file__).parents[1] / "webhook" / "core"
MODULES = sorted(f"webhook.core.{path.stem}" for path in CORE.glob("*.py") if path.stem != "__init__")


def _is_extension(name: str) -> bool:
    return isinstance(importlib.import_module(name).__spec__.loader, importlib.machinery.ExtensionFileLoader)  # type: ignore[union-attr]


def test_every_compiled_core_module_is_newer_than_its_source() -> None:
    stale = []
    for source in CORE.glob("*.py"):
        for extension in CORE.glob(f"{source.stem}.*.so"):
            if extension.stat().st_mtime < source.stat().st_mtime:
                stale.append(f"{extension.name} is older than {source.name}")
    assert not stale, "; ".join(stale) + ": run `bash scripts/compile-core` (or `--clean`)"


def test_the_core_is_wholly_compiled_or_wholly_interpreted_and_says_which() -> None:
    compiled = {name: _is_extension(name) for name in MODULES}
    assert len(set(compiled.values())) == 1, f"a partly compiled core: {compiled}"
    assert core_build() == (COMPILED if all(compiled.values()) else INTERPRETED)


@pytest.mark.skipif(
    os.environ.get("SIDECAR_INJECTOR_EXPECT_COMPILED") != "1",
    reason="the compiled pass of .ci/run sets SIDECAR_INJECTOR_EXPECT_COMPILED=1",
)
def test_the_compiled_pass_runs_the_compiled_core() -> None:
    assert core_build() == COMPILED, "scripts/compile-core did not take effect"
