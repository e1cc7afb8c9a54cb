#!/usr/bin/env python3
"""Benchmark the sidecar-injector webhook over real HTTPS, the way the container image runs it.

    python bench/run.py            # full run (about 10 minutes with --duration 5)
    python bench/run.py --quick    # smoke run: 3 s points, 1 repeat, fewer points
    python bench/run.py --scenarios 0-reference --conns 1,8 --load-only   # one scenario under load

What it does: issues a certificate with ``sidecar-injector certs generate``, starts ``sidecar-injector
serve`` with production settings (JSON logs at INFO, one worker), measures startup-to-ready and memory,
then drives it with wrk (keep-alive HTTPS) and bench/admission.lua, which counts a response as good
only when it is a correct answer to the review it sent, and as shed when it is one of the server's
overload refusals (a 503: designed load shedding). Throughput is good admissions per second. Prints a
Markdown report and writes it to bench/results/latest.md (plus latest.json). Exits 1 if any request
got a bad answer or a socket error, 2 if the setup failed; shed answers are reported (and named on
stderr), never fatal, and so are missed performance targets.

If wrk is missing and the script runs as root, it runs ``apt-get install -y wrk``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# python bench/run.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, BenchError
from bench.environment import machine_meta, prepare
from bench.reviews import REFERENCE_KEY, SCENARIO_KEYS
from bench.throughput import BASELINE_KEY, Options, Report, run_plan
from bench.throughput_report import comparison_line, render


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s points, 1 repeat, fewer points")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 3)")
    parser.add_argument("--repeat", type=int, help="runs per point, median reported (default 3; quick 1)")
    parser.add_argument("--warmup", type=float, help="seconds of unreported load per server (default 2)")
    parser.add_argument("--conns", help="comma-separated connection counts (default 1,8,32,64)")
    parser.add_argument("--starts", type=int, help="starts for the startup median (default 5; quick 3)")
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated scenarios measured under load (default all: {','.join(SCENARIO_KEYS)})",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="only the scenarios under load, pinned: no startup, memory, churn, 1,000 templates, workers",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    chosen = args.scenarios.split(",") if args.scenarios else list(SCENARIO_KEYS)
    unknown = sorted(set(chosen) - set(SCENARIO_KEYS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    conns = [int(c) for c in args.conns.split(",")] if args.conns else ([1, 8] if quick else [1, 8, 32, 64])
    return Options(
        duration=args.duration or (3.0 if quick else 10.0),
        repeat=args.repeat or (1 if quick else 3),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        conns=conns,
        starts=args.starts or (3 if quick else 5),
        idle_seconds=2.0 if quick else 3.0,
        quick=quick,
        scenarios=chosen,
        unpinned_scenarios=[k for k in chosen if k in (REFERENCE_KEY, BASELINE_KEY)] if quick else chosen,
        template_conns=[c for c in conns if c in (1, 8)] or conns[:1],
        churn=200 if quick else 500,
        worker_conns=[8] if quick else [c for c in conns if c in (8, 64)] or conns,
        load_only=args.load_only,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    opts = parse_options(argv[1:])
    started = time.monotonic()
    try:
        env, scenarios = prepare()
        work = env.work
        report = Report(meta=machine_meta(env, argv))
        try:
            run_plan(env, opts, report, scenarios)
        finally:
            # Partial results are still worth a report when something breaks halfway.
            text = render(report, opts, scenarios)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "latest.md").write_text(text)
            (RESULTS / "latest.json").write_text(
                json.dumps(
                    {
                        "meta": report.meta,
                        "scalars": report.scalars,
                        "answers": report.answers,
                        "notes": report.notes,
                        "churn": report.churn,
                        "warmup_shed": report.warmup_shed,
                        "points": [p.summary() for p in report.points if p.runs],
                    },
                    indent=1,
                )
            )
        shutil.rmtree(work, ignore_errors=True)
    except (BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"bench: setup or server failure: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(comparison_line(report, opts))
    print(f"(written to {RESULTS / 'latest.md'}; {time.monotonic() - started:.0f} s)")
    return verdict(report)


def verdict(report: Report) -> int:
    """The exit status: 1 if any wrk run saw a bad answer or a socket error, or a point admitted
    nothing at all, else 0. Shed answers are named on stderr and do not fail the run: shedding load
    is what the server is built to do."""
    shedding = report.shedding()
    if shedding:
        where = ", ".join(f"{name} ({shed:,} of {total:,})" for name, shed, total in shedding)
        print(
            f"bench: the server shed load (503 overload refusals, not failures) at: {where}", file=sys.stderr
        )
    failures = sum(p.failures for p in report.points) + int(report.scalars.get("warmup_failures", 0))
    if failures:
        print(f"bench: {failures} bad answers or socket errors under load", file=sys.stderr)
        return 1
    # Shedding is by design, but a point that admitted nothing measured nothing.
    unserved = [p.name for p in report.points if p.runs and not any(run.values["good"] for run in p.runs)]
    if unserved:
        print(f"bench: no review admitted at: {', '.join(unserved)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
