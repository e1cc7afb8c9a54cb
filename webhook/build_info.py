"""How this installation runs the mutation core: compiled by mypyc (the image) or interpreted.

The same source serves both ways (setup.py); which one a process runs is said at start-up and by
``--version``, so a benchmark or a bug report names it.

What is compiled is ``COMPILED_SOURCES``: the pure core, the server's synchronous decision path
around it (envelope, decision, recording), which every review runs and which does no I/O of its own,
and the admission port's ASGI app (its request path and budget), whose I/O is uvicorn's.
setup.py reads the list from this file, and tests/test_compiled_core.py checks every module on it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

COMPILED = "compiled by mypyc"
INTERPRETED = "interpreted"

# Globs relative to the repository root; each match is one compiled module.
COMPILED_SOURCES = (
    "webhook/core/*.py",
    "webhook/server/refusal.py",
    "webhook/server/review.py",
    "webhook/server/decision.py",
    "webhook/server/handler.py",
    "webhook/server/asgi.py",
    "webhook/server/limits.py",
    "webhook/server/app.py",
)


def compiled_sources(root: Path) -> list[Path]:
    """The files ``COMPILED_SOURCES`` matches under the repository root ``root``, sorted."""
    return sorted({path for pattern in COMPILED_SOURCES for path in root.glob(pattern)})


def compiled_modules(root: Path) -> list[str]:
    """The dotted names of the modules compiled from ``root``: ``webhook.core.engine``, and a
    package's ``__init__.py`` by the package's name (``webhook.core``), as Python imports them."""
    names = []
    for path in compiled_sources(root):
        parts = path.relative_to(root).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def core_build() -> str:
    """``COMPILED`` when the engine module is a C extension, else ``INTERPRETED``."""
    spec = importlib.util.find_spec("webhook.core.engine")
    loader = spec.loader if spec is not None else None
    return COMPILED if isinstance(loader, importlib.machinery.ExtensionFileLoader) else INTERPRETED
