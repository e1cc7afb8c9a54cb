#!/usr/bin/env python3
"""What the handler costs around the engine: ``ReviewHandler.handle()`` on the reference review (the
envelope, the decision's bookkeeping, the answer's encoding, the counters and the JSON log line at
INFO, to /dev/null), less ``mutate()`` alone on the same review with the same templates.

    python bench/around_engine.py                  # median CPU µs per review (thread time, pinned)
    python bench/around_engine.py --instructions   # instructions per review, under valgrind
    python bench/around_engine.py --engine         # handle() whole, the engine included

Instructions are what to compare on a shared, noisy machine: valgrind's cachegrind counts them, and
the difference between a run of ``--calls`` reviews and a run of none is the reviews' alone.

The engine is measured apart and subtracted rather than replaced inside the handler: with the
compiled build (scripts/compile-core) the decision calls ``mutate()`` directly in C, so nothing
patched into a module would be seen. The two parts are measured the same way, in the same build.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REFERENCE, REFERENCE_TEMPLATES

PARTS = ("handle", "engine")


def workload(part: str) -> Callable[[], object]:
    """One reference review through ``handle()`` (part "handle"), or through ``mutate()`` alone as
    the decision calls it (part "engine"), with the handler the server builds from its defaults
    (``wiring.review_handler``: the namespace's Pod Security level among the facts)."""
    from webhook.core import mutate
    from webhook.logconfig import configure_logging
    from webhook.metrics import Metrics
    from webhook.server.review import ParsedReview
    from webhook.settings import Settings
    from webhook.templates.file_source import FolderTemplateSource
    from webhook.templates.store import TemplateStore
    from webhook.wiring import review_handler

    body = (REFERENCE / "review.json").read_bytes()
    metrics = Metrics()
    store = TemplateStore(metrics=metrics)
    FolderTemplateSource(store, REFERENCE_TEMPLATES).sync()
    with redirect_stderr(open(os.devnull, "w")):
        configure_logging("INFO", "json")
    handler = review_handler(Settings(), store.snapshot, metrics)
    if part == "handle":
        return lambda: handler.handle(body)
    parsed, policy = handler.decision.read(body), handler.decision.policy
    assert isinstance(parsed, ParsedReview), parsed
    return lambda: mutate(parsed.reviewed, parsed.facts, store.snapshot(), policy, verify=True)


def run(calls: int, part: str) -> list[float]:
    """CPU µs per review of ``part`` in each of 15 runs of ``calls``."""
    review = workload(part)
    for _ in range(min(calls, 50)):
        review()
    runs = []
    for _ in range(15):
        started = time.thread_time_ns()
        for _ in range(calls):
            review()
        runs.append((time.thread_time_ns() - started) / calls / 1000)
    return runs


def instructions(calls: int, part: str) -> float:
    """Instructions per review of ``part``: a run of ``calls`` reviews less a run of none."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")

    def counted(n: int) -> int:
        args = [__file__, "--calls", str(n), "--single", part]
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
    parser.add_argument("--engine", action="store_true", help="report handle() whole, the engine included")
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--single", choices=PARTS, help=argparse.SUPPRESS)  # one valgrind run of a part
    args = parser.parse_args(argv)
    logging.disable(logging.NOTSET)
    if args.single:
        review = workload(args.single)
        for _ in range(args.calls):
            review()
        return 0
    if args.instructions:
        calls = min(args.calls, 1000)
        handle, engine = instructions(calls, "handle"), instructions(calls, "engine")
        print(f"handle() with the engine: {handle:,.0f} instructions per review")
        print(f"mutate() alone: {engine:,.0f}")
        if not args.engine:
            print(f"handle() around the engine: {handle - engine:,.0f} instructions per review")
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    handle_runs, engine_runs = sorted(run(args.calls, "handle")), sorted(run(args.calls, "engine"))
    handle, engine = statistics.median(handle_runs), statistics.median(engine_runs)
    best = handle_runs[0]
    print(f"handle() with the engine: median {handle:.1f} µs, best {best:.1f} µs (CPU time per review)")
    print(f"mutate() alone: median {engine:.1f} µs, best {engine_runs[0]:.1f} µs")
    if not args.engine:
        print(f"handle() around the engine: {handle - engine:.1f} µs (difference of the medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
