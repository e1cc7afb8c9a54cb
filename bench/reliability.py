#!/usr/bin/env python3
"""Load and soak figures for the webhook's reliability features, over real HTTPS.

    python bench/reliability.py            # full run (about 7 minutes on 2 cores)
    python bench/reliability.py --quick    # about 1.5 minutes

tests/integration/ proves each behaviour once; this script measures them under load. Every scenario
starts a fresh ``sidecar-injector serve`` (bench/server.py: the image's settings, JSON logs at INFO)
and every client verifies the server's certificate against its CA. One module per scenario, each
with ``measure()`` and its report ``section()``:

1. shutdown (bench/shutdown.py): 32 wrk connections, SIGTERM mid-run; the load stops
   ``--endpoint-lag`` seconds after /readyz fails (kube-apiserver stops routing once the endpoints
   controller drops the pod);
2. rotation (bench/rotation.py): 32 wrk connections (8 of them a new TLS handshake per request)
   while the certificate is swapped in a kubelet-style Secret volume several times, then a
   mismatched pair, then a good one;
3. bodies (bench/oversized.py): 50 MiB and 100 x 5 MiB bodies, declared and chunked: answers,
   timing, peak RSS growth;
4. slow (bench/slow_clients.py): hundreds of idle and slowloris connections: latency beside them,
   when they close;
5. overload (bench/overload.py): more concurrent 200 KiB reviews than ``--max-inflight``: what the
   refusals are and how fast they come; the same load with the default limit, and with a short
   ``?timeout=``; then ``?timeout=`` on slow requests;
6. hostile (bench/hostile_scenario.py): each pattern of bench/hostile.py (stalled uploads, partial
   bodies, pipelined tails, endless and countless headers, answers never read, huge objects)
   beside normal reviews: the fraction served and RSS; then bursts of concurrent connections;
7. template-bomb (bench/template_bomb.py): a "billion laughs" template beside the examples.

Prints a Markdown report and writes bench/results/reliability.md and reliability.json. Exit status:
1 if a zero-failure expectation was violated (a failed request during shutdown or rotation, a 200 or
an unexpected 5xx for an oversized body, a dead server), 2 if the setup failed, else 0. Missed soft
targets are reported, never fatal. The servers run the webhook/ package next to this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

# python bench/reliability.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import hostile_scenario, overload, oversized, rotation, shutdown, slow_clients, template_bomb
from bench.checks import Options, Report
from bench.common import REPO, RESULTS, BenchError, JsonObj, progress
from bench.environment import Env, code_fingerprint, machine_meta, prepare
from bench.reviews import Scenario

# In the order they run and report; each has measure(env, opts, report, scenarios) and section().
SCENARIOS: dict[str, ModuleType] = {
    "shutdown": shutdown,
    "rotation": rotation,
    "bodies": oversized,
    "slow": slow_clients,
    "overload": overload,
    "hostile": hostile_scenario,
    "template-bomb": template_bomb,
}


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 2 minutes: fewer repeats and connections")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})"
    )
    parser.add_argument("--drain-seconds", type=float, default=3.0, help="serve --drain-seconds (default 3)")
    parser.add_argument(
        "--endpoint-lag",
        type=float,
        default=1.5,
        help="seconds from /readyz failing until the load stops (endpoints propagation; default 1.5)",
    )
    parser.add_argument("--shutdowns", type=int, help="SIGTERMs under load (default 5; quick 1)")
    parser.add_argument(
        "--rotations", type=int, help="certificate rotations under load (default 10; quick 2)"
    )
    parser.add_argument("--body-rounds", type=int, help="rounds per oversized-body case (default 4; quick 3)")
    parser.add_argument(
        "--slow-connections", type=int, help="idle + slowloris connections (default 500; quick 200)"
    )
    parser.add_argument(
        "--tcp-only", type=int, help="connections that never start TLS (default 100; quick 0)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=10.0, help="serve --request-timeout (default 10)"
    )
    parser.add_argument("--idle-timeout", type=float, default=15.0, help="serve --idle-timeout (default 15)")
    parser.add_argument("--duration", type=float, help="seconds per overload run (default 5; quick 3)")
    parser.add_argument(
        "--max-inflight", type=int, default=4, help="the cap for the overload run (default 4)"
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent overload clients (default 64)")
    parser.add_argument(
        "--hostile-seconds", type=float, help="seconds per hostile pattern (default 8; quick 4)"
    )
    parser.add_argument("--burst-rounds", type=int, help="bursts of connections (default 10; quick 3)")
    parser.add_argument(
        "--burst-connections", type=int, help="concurrent connections per burst (default 3000; quick 1000)"
    )
    parser.add_argument(
        "--short-timeout",
        default="50ms",
        help="?timeout= of every review in the last overload row (default 50ms)",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    chosen = tuple(args.only.split(",")) if args.only else tuple(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    def pick(value: Any, full: Any, fast: Any) -> Any:
        return value if value is not None else (fast if quick else full)

    return Options(
        quick=quick,
        scenarios=chosen,
        drain_seconds=args.drain_seconds,
        endpoint_lag=args.endpoint_lag,
        lead=1.5 if quick else 2.0,
        shutdowns=pick(args.shutdowns, 5, 1),
        rotations=pick(args.rotations, 10, 2),
        body_rounds=pick(args.body_rounds, 4, 3),
        slow_connections=pick(args.slow_connections, 500, 200),
        tcp_only=pick(args.tcp_only, 100, 0),
        idle_timeout=args.idle_timeout,
        request_timeout=args.request_timeout,
        duration=pick(args.duration, 5.0, 3.0),
        max_inflight=args.max_inflight,
        overload_clients=args.clients,
        hostile_seconds=pick(args.hostile_seconds, 8.0, 4.0),
        burst_rounds=pick(args.burst_rounds, 10, 3),
        burst_connections=pick(args.burst_connections, 3000, 1000),
        short_timeout=args.short_timeout,
    )


def run_scenarios(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    for key in opts.scenarios:
        progress(f"== {key}")
        report.results.setdefault(key, {})
        try:
            SCENARIOS[key].measure(env, opts, report, scenarios)
        except (BenchError, subprocess.CalledProcessError) as exc:
            report.setup_failures.append(f"{key}: {exc}")
            progress(f"{key}: setup failure: {exc}")
        except Exception as exc:  # a server that died or stopped answering mid-scenario
            traceback.print_exc()
            report.results[key]["error"] = repr(exc)
            report.check(key, "the scenario ran to its end", f"{type(exc).__name__}: {exc}", False, hard=True)


def render(report: Report, opts: Options) -> str:
    m = report.meta
    out = [
        "# sidecar-injector reliability figures",
        "",
        f"- date: {m.get('date')}; command: `{m.get('command')}`",
        f"- machine: {m.get('cores')} cores, {m.get('cpu_model')}, Linux {m.get('kernel')}; idle cores:"
        f" {m.get('idle', '?')}; Python"
        f" {m.get('python')}; {m.get('wrk_version')}",
        f"- code: commit {m.get('commit')}",
        "- server: `sidecar-injector serve --cert … --key … --templates examples --log-format json` plus the"
        " flags given per scenario, a fresh process per scenario, unpinned (clients share the 2 cores);"
        " every client verifies the certificate (CA and name)",
        "",
    ]
    for key, scenario in SCENARIOS.items():
        if key in report.results:
            out += scenario.section(report.results[key], opts)
    out += [
        "## Expectations",
        "",
        "| scenario | expectation | measured | kind | met |",
        "|---|---|---|---|:---:|",
    ]
    for c in report.checks:
        kind = "zero-failure" if c.hard else "target"
        met = "yes" if c.ok else ("**VIOLATED**" if c.hard else "**no**")
        expectation, measured = (text.replace("|", "\\|") for text in (c.expectation, c.measured))
        out.append(f"| {c.scenario} | {expectation} | {measured} | {kind} | {met} |")
    soft = [c for c in report.checks if not c.hard]
    out += [
        "",
        f"Zero-failure expectations violated: {len(report.violations)}."
        f" Soft targets met: {sum(c.ok for c in soft)}/{len(soft)}.",
    ]
    out += [f"- setup failure: {failure}" for failure in report.setup_failures]
    out += [f"- {note}" for note in m.get("notes", [])]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    opts = parse_options(argv[1:])
    # The servers (and the certificates issued here) use the webhook/ package next to this script,
    # whatever the venv's editable install points at.
    repo = str(REPO)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, repo)
    started = time.monotonic()
    report = Report()
    try:
        env, scenarios = prepare()
        report.meta = machine_meta(env, argv)
    except (BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"reliability: setup failure: {exc}", file=sys.stderr)
        return 2
    code = code_fingerprint()
    report.meta["notes"] = []
    try:
        run_scenarios(env, opts, report, scenarios)
    finally:
        if code_fingerprint() != code:
            report.meta["notes"].append(
                f"**webhook/ changed during this run** (fingerprint {code} → {code_fingerprint()}):"
                " scenarios may have run different code; re-run"
            )
        text = render(report, opts)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "reliability.md").write_text(text)
        raw: JsonObj = {
            "meta": report.meta,
            "options": asdict(opts),
            "results": report.results,
            "checks": [asdict(c) for c in report.checks],
            "setup_failures": report.setup_failures,
        }
        (RESULTS / "reliability.json").write_text(json.dumps(raw, indent=1, default=str))
        shutil.rmtree(env.work, ignore_errors=True)
    print(text)
    print(f"(written to {RESULTS / 'reliability.md'}; {time.monotonic() - started:.0f} s)")
    if report.violations:
        print(f"reliability: {len(report.violations)} zero-failure expectations violated", file=sys.stderr)
        return 1
    return 2 if report.setup_failures else 0


if __name__ == "__main__":
    sys.exit(main())
