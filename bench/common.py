"""What every benchmark shares: where things are, the error that ends a run, and progress lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import uvloop

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
LUA = BENCH / "admission.lua"
RESULTS = BENCH / "results"
EXAMPLES = REPO / "examples"
LEGACY_TEMPLATE = EXAMPLES / "logging-agent-initializer.yaml"
REFERENCE = BENCH / "reference"  # the reference scenario's review and template (issue 17)
REFERENCE_TEMPLATES = REFERENCE / "templates"
MIB = 1024 * 1024
HOST = "localhost"  # the name every client sends (SNI) and checks in the certificate

JsonObj = dict[str, Any]


class BenchError(Exception):
    """The benchmark could not be set up or a server misbehaved (exit 2)."""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_async(coroutine: Awaitable[Any]) -> Any:
    """Run a client coroutine on uvloop (a project dependency), as the server's own loop runs."""
    return uvloop.run(coroutine)  # type: ignore[arg-type]
