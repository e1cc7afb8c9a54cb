#!/usr/bin/env python3
"""What the handler costs around the engine: ``ReviewHandler.handle()`` on the reference review with
``mutate()`` replaced by its own result, so only the envelope, the decision's bookkeeping, the
answer's encoding, the counters and the JSON log line (at INFO, to /dev/null) are left.

    python bench/around_engine.py                  # median CPU µs per review (thread time, pinned)
    python bench/around_engine.py --instructions   # instructions per review, under valgrind
    python bench/around_engine.py --engine         # the same with the real engine

Instructions are what to compare on a shared, noisy machine: valgrind's cachegrind counts them, and
the difference between a run of ``--calls`` reviews and a run of none is the reviews' alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REFERENCE, REFERENCE_TEMPLATES


def handler(engine: bool) -> Callable[[bytes], object]:
    import webhook.server.decision as decision
    from webhook.core import InjectionPolicy, mutate
    from webhook.logconfig import configure_logging
    from webhook.metrics import Metrics
    from webhook.server.handler import ReviewHandler
    from webhook.server.review import parse_review
    from webhook.templates.file_source import FolderTemplateSource
    from webhook.templates.store import TemplateStore

    metrics = Metrics()
    store = TemplateStore(metrics=metrics)
    FolderTemplateSource(store, REFERENCE_TEMPLATES).sync()
    with redirect_stderr(open(os.devnull, "w")):
        configure_logging("INFO", "json")
    if not engine:
        parsed = parse_review((REFERENCE / "review.json").read_bytes())
        result = mutate(parsed.object, parsed.facts, store.snapshot(), InjectionPolicy())

        def decided(*_: Any, **__: Any) -> Any:
            return result

        decision.mutate = decided  # type: ignore[attr-defined]  # the decision's own name for it
    return ReviewHandler(store.snapshot, InjectionPolicy(), metrics).handle


def run(calls: int, engine: bool) -> list[float]:
    """CPU µs per review in each of 15 runs of ``calls``."""
    handle = handler(engine)
    body = (REFERENCE / "review.json").read_bytes()
    for _ in range(min(calls, 50)):
        handle(body)
    runs = []
    for _ in range(15):
        started = time.thread_time_ns()
        for _ in range(calls):
            handle(body)
        runs.append((time.thread_time_ns() - started) / calls / 1000)
    return runs


def instructions(calls: int, engine: bool) -> float:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")

    def counted(n: int) -> int:
        args = [__file__, "--calls", str(n), "--single", *(["--engine"] if engine else [])]
        done = subprocess.run(
            [
                valgrind,
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                sys.executable,
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr}")
        return int(found.group(1).replace(",", ""))

    return (counted(calls) - counted(0)) / calls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--engine", action="store_true", help="keep the real engine")
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # one valgrind run
    args = parser.parse_args(argv)
    logging.disable(logging.NOTSET)
    what = "handle() with the engine" if args.engine else "handle() around the engine"
    if args.single:
        handle, body = handler(args.engine), (REFERENCE / "review.json").read_bytes()
        for _ in range(args.calls):
            handle(body)
    elif args.instructions:
        print(f"{what}: {instructions(min(args.calls, 1000), args.engine):,.0f} instructions per review")
    else:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {0})
        runs = sorted(run(args.calls, args.engine))
        print(f"{what}: median {statistics.median(runs):.1f} µs, best {runs[0]:.1f} µs (CPU time per review)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
