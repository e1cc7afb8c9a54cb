#!/usr/bin/env python3
"""Admission latency with Kubernetes Events off and on, the events endpoint healthy, failing or hanging.

    python bench/events.py            # 4 configurations x connections 1,8 x 3 rounds of 10 s: ~6 minutes
    python bench/events.py --quick    # 1 round of 3 s: about 1 minute

Events leave through a bounded queue and a sender thread, so a slow or broken API server must not
show in the admission answer time. This measures it: ``sidecar-injector serve --kube`` against the
fake API server of tests/fakes (in this process: it stands for kube-apiserver, and like it shares
the machine), serving the examples' legacy template from a ConfigMap, driven by wrk with scenario
``1-pod-rs`` of bench/run.py (a Pod from a ReplicaSet, opted in: every review calls for an Injected
Event on the ReplicaSet, all identical, so the healthy sender aggregates them into one Event). Four
configurations, each on a fresh server: ``--no-events``; Events on with the endpoint healthy; every
create answered 500; every create held for an hour (the client's 5 s timeout ends each try). Rounds
alternate the configurations; each point is the median over rounds. Reported per configuration and
connection count: requests/s, p50 and p99 (wrk), and from the server's /metrics the Events requests
and drops. Pinned like run.py when there are two cores (server on core 0, wrk on core 1).

Writes bench/results/events.md and events.json. Exit status 1 if any answer was wrong or a socket
failed, 2 if the setup failed. Figures from a machine shared with other work are noisy: compare
configurations within one run, never across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# python bench/events.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EXAMPLES, RESULTS, BenchError, progress
from bench.environment import Env, machine_meta, prepare
from bench.reviews import SCENARIO_KEYS, Scenario
from bench.scraping import metric_sum, scrape
from bench.server import check_answer, running
from bench.wrk import Run, failures, run_wrk
from tests.fakes import FakeApiServer

OWN = "injector"
EVENTS = "events.events.k8s.io"


@dataclass(frozen=True)
class Config:
    name: str
    args: tuple[str, ...] = ()
    fault: Callable[[FakeApiServer], object] | None = None


CONFIGS = (
    Config("off", ("--no-events",)),
    Config("on, endpoint healthy"),
    Config(
        "on, endpoint failing (500)", fault=lambda fake: fake.fail_requests(verb="create", resource=EVENTS)
    ),
    Config(
        "on, endpoint hanging", fault=lambda fake: fake.hang_requests(3600.0, verb="create", resource=EVENTS)
    ),
)


@dataclass
class Point:
    runs: list[Run] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run.values[key] for run in self.runs)

    @property
    def rps(self) -> float:
        return statistics.median(run.rps for run in self.runs)


@dataclass
class Result:
    config: str
    points: dict[int, Point] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)
    bad: int = 0


def kubeconfig(fake: FakeApiServer, folder: Path) -> Path:
    path = folder / "kubeconfig"
    cluster = {"name": "fake", "cluster": {"server": fake.host}}
    user = {"name": "injector", "user": {"token": "not-checked"}}
    context = {"name": "fake", "context": {"cluster": "fake", "user": "injector"}}
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "fake", "clusters": [cluster]}
    path.write_text(yaml.safe_dump({**config, "users": [user], "contexts": [context]}))
    return path


def start_fake() -> FakeApiServer:
    fake = FakeApiServer().start()
    for namespace in (OWN, "shop"):
        fake.create_namespace(namespace)
    manifest = yaml.safe_load((EXAMPLES / "logging-agent-initializer.yaml").read_text())
    fake.create(OWN, manifest["metadata"]["name"], manifest["data"])
    return fake


def measure_one(env: Env, fake: FakeApiServer, config: Config, scenario: Scenario, opts: Options) -> Result:
    fake.clear_faults()
    if config.fault is not None:
        config.fault(fake)
    args = ("--kube", "--kubeconfig", str(kubeconfig(fake, env.work)), "--namespace", OWN, *config.args)
    result = Result(config.name)
    created_before = fake.count("create", EVENTS)
    with running(env, [], pinned=env.can_pin, extra_args=args) as (server, _ready):
        check_answer(server, scenario)
        run_wrk(env, server, scenario, max(opts.conns), 1, opts.warmup, env.can_pin)
        for conns in opts.conns:
            run = run_wrk(
                env, server, scenario, conns, 1 if env.can_pin else min(conns, 2), opts.duration, env.can_pin
            )
            result.points.setdefault(conns, Point()).runs.append(run)
            result.bad += failures(run.values)
            p99 = run.values["p99_us"] / 1000
            progress(f"events: {config.name}, {conns} conns: {run.rps:,.0f}/s p99 {p99:.2f} ms")
        samples = scrape(server.metrics_port)
    result.events = {
        "created at the API": fake.count("create", EVENTS) - created_before,
        "create requests ok": metric_sum(
            samples, "sidecar_injector_events_requests_total", request="create", result="ok"
        ),
        "create requests failed": metric_sum(
            samples, "sidecar_injector_events_requests_total", request="create", result="error"
        ),
        "patch requests": metric_sum(samples, "sidecar_injector_events_requests_total", request="patch"),
        "aggregated": metric_sum(samples, "sidecar_injector_events_aggregated_total"),
        "dropped: queue full": metric_sum(
            samples, "sidecar_injector_events_dropped_total", reason="queue-full"
        ),
        "dropped: other": metric_sum(samples, "sidecar_injector_events_dropped_total")
        - metric_sum(samples, "sidecar_injector_events_dropped_total", reason="queue-full"),
    }
    return result


@dataclass(frozen=True)
class Options:
    duration: float
    rounds: int
    warmup: float
    conns: tuple[int, ...]


def run_rounds(env: Env, scenario: Scenario, opts: Options) -> list[Result]:
    merged = {config.name: Result(config.name) for config in CONFIGS}
    fake = start_fake()
    try:
        for round_index in range(opts.rounds):
            order = CONFIGS[round_index % len(CONFIGS) :] + CONFIGS[: round_index % len(CONFIGS)]
            for config in order:
                one = measure_one(env, fake, config, scenario, opts)
                total = merged[config.name]
                for conns, point in one.points.items():
                    total.points.setdefault(conns, Point()).runs.extend(point.runs)
                for key, value in one.events.items():
                    total.events[key] = total.events.get(key, 0.0) + value
                total.bad += one.bad
    finally:
        fake.stop()
    return list(merged.values())


def render(results: list[Result], opts: Options, meta: dict[str, object]) -> str:
    lines = [
        "# Admission latency with Events off and on",
        "",
        f"{meta['date']}, {meta['cores']} cores ({meta['cpu_model']}), commit {meta['commit']}.",
        f"Command: `{meta['command']}`. Scenario 1-pod-rs; {opts.rounds} round(s) of {opts.duration:g} s per "
        "point, medians; the server on core 0 and wrk on core 1 when pinned.",
        "",
        "| Events | conns | requests/s | p50 ms | p99 ms | bad answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for conns, point in sorted(result.points.items()):
            lines.append(
                f"| {result.config} | {conns} | {point.rps:,.0f} | {point.median('p50_us') / 1000:.2f} | "
                f"{point.median('p99_us') / 1000:.2f} | {result.bad} |"
            )
    lines += ["", "What the sender did (all rounds together):", ""]
    keys = list(results[1].events) if len(results) > 1 else []
    lines += ["| Events | " + " | ".join(keys) + " |", "| --- |" + " ---: |" * len(keys)]
    for result in results[1:]:
        lines.append(f"| {result.config} | " + " | ".join(f"{result.events[k]:,.0f}" for k in keys) + " |")
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s points")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10; quick 3)")
    parser.add_argument("--rounds", type=int, help="rounds over the configurations (default 3; quick 1)")
    parser.add_argument("--conns", default="1,8", help="comma-separated connection counts (default 1,8)")
    args = parser.parse_args(argv)
    return Options(
        duration=args.duration or (3.0 if args.quick else 10.0),
        rounds=args.rounds or (1 if args.quick else 3),
        warmup=1.0 if args.quick else 2.0,
        conns=tuple(int(c) for c in args.conns.split(",")),
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    opts = parse(argv[1:])
    started = time.monotonic()
    try:
        env, scenarios = prepare()
        results = run_rounds(env, scenarios[SCENARIO_KEYS[0]], opts)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    text = render(results, opts, machine_meta(env, argv))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "events.md").write_text(text)
    data = [
        {
            "config": r.config,
            "bad": r.bad,
            "events": r.events,
            "points": {c: [run.values for run in p.runs] for c, p in r.points.items()},
        }
        for r in results
    ]
    (RESULTS / "events.json").write_text(json.dumps(data, indent=1))
    print(text)
    progress(f"events: done in {time.monotonic() - started:.0f} s")
    return 1 if any(r.bad for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
