"""Optional native build of the pure core.

``SIDECAR_INJECTOR_COMPILE=1`` compiles ``webhook/core`` (no I/O, fully typed) and the server's
decision path around it (``COMPILED_SOURCES`` in webhook/build_info.py) with mypyc into C extensions;
without it the package is pure Python. Compiling needs mypy and a C compiler with the
Python headers in the build environment, so build with ``--no-build-isolation`` after installing mypy
(the Dockerfile and scripts/compile-core do). Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from setuptools import Extension, setup


def compiled_core() -> list[Extension]:
    if os.environ.get("SIDECAR_INJECTOR_COMPILE", "") in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as missing:
        raise SystemExit(
            "SIDECAR_INJECTOR_COMPILE=1 needs mypy in the build environment: "
            "pip install 'mypy>=1.10' and build with --no-build-isolation"
        ) from missing
    # Read, not imported: importing webhook would need its dependencies in the build environment.
    compiled_sources = runpy.run_path("webhook/build_info.py")["compiled_sources"]
    sources = [str(path) for path in compiled_sources(Path())]
    # The group's shared library lands inside the package (webhook/core__mypyc*.so), so every way of
    # installing it (wheel, editable, in place) finds it next to the modules that load it.
    return mypycify(sources, opt_level="3", group_name="webhook.core", target_dir="build/mypyc")


setup(ext_modules=compiled_core())
