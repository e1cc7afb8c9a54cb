"""How this installation runs the mutation core: compiled by mypyc (the image) or interpreted.

The same source serves both ways (setup.py); which one a process runs is said at start-up and by
``--version``, so a benchmark or a bug report names it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

COMPILED = "compiled by mypyc"
INTERPRETED = "interpreted"


def core_build() -> str:
    """``COMPILED`` when the engine module is a C extension, else ``INTERPRETED``."""
    spec = importlib.util.find_spec("webhook.core.engine")
    loader = spec.loader if spec is not None else None
    return COMPILED if isinstance(loader, importlib.machinery.ExtensionFileLoader) else INTERPRETED
