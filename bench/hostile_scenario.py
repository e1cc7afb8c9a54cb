"""Scenario 6 of bench/reliability.py (``hostile``): one figure per class of issue 16, part B.

For each hostile pattern of bench/hostile.py a fresh server (the image's settings, defaults for every
limit) is attacked for ``--hostile-seconds`` while four keep-alive clients send normal reviews with
kube-apiserver's patience (5 s): the figure is the fraction of those answered correctly in time, and
the server's RSS before, at its peak and two seconds after. Then bursts of concurrent one-review
connections: RSS after each burst (growth that repeats would be memory kept per connection).
"""

from __future__ import annotations

import time

from bench import hostile
from bench.checks import Options, Report, check_alive
from bench.common import JsonObj, progress, run_async
from bench.environment import Env
from bench.procfs import reset_peak_rss, rss_mib
from bench.reviews import Scenario
from bench.scraping import scrape
from bench.server import Server, fresh_server

CLASSES = {
    "stalled-bodies": "limits held by stalled uploads (4 x 3 MiB - 10 bytes)",
    "partial-bodies": "limits held by partial bodies (256 x 10 of 1,000 bytes)",
    "pipelined-tail": "a review plus the start of another (260 connections)",
    "huge-headers": "unfinished 40 MiB headers (8 connections)",
    "many-headers": "10,000 headers (4 connections)",
    "never-reading": "pipelined reviews, answers never read (20 connections)",
    "huge-objects": "a Pod of 88,000 containers, over and over (1 connection)",
}


def _cuts(samples: dict[str, float]) -> dict[str, int]:
    prefix = 'sidecar_injector_connections_cut_total{reason="'
    return {key[len(prefix) : -2]: int(value) for key, value in samples.items() if key.startswith(prefix)}


def one_pattern(server: Server, name: str, seconds: float) -> JsonObj:
    target = hostile.Target(server.port, server.context)
    run_async(hostile.beside(target, None, 1.0, lead=0.0))  # warm up the request path
    before = rss_mib(server.pid)
    exact_peak = reset_peak_rss(server.pid)
    served, tally = run_async(hostile.beside(target, hostile.PATTERNS[name], seconds))
    peak = rss_mib(server.pid, "VmHWM") if exact_peak else None
    time.sleep(2.0)
    return {
        "pattern": name,
        "normal": served.summary(),
        "hostile": tally.__dict__ if tally else None,
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": None if peak is None else round(peak, 1),
        "rss_after_mib": round(rss_mib(server.pid), 1),
        "cuts": _cuts(scrape(server.metrics_port)),
    }


def bursts(server: Server, rounds: int, concurrency: int) -> JsonObj:
    target = hostile.Target(server.port, server.context)
    run_async(hostile.burst(target, 50))
    before = rss_mib(server.pid)
    exact_peak = reset_peak_rss(server.pid)
    after, outcomes = [], []
    for _ in range(rounds):
        outcomes.append(run_async(hostile.burst(target, concurrency)))
        time.sleep(2.0)  # freed memory is returned a second after a burst
        after.append(round(rss_mib(server.pid), 1))
    return {
        "rounds": rounds,
        "concurrency": concurrency,
        "rss_before_mib": round(before, 1),
        "rss_after_each_mib": after,
        "rss_peak_mib": round(rss_mib(server.pid, "VmHWM"), 1) if exact_peak else None,
        "outcomes": outcomes,
    }


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    name = "hostile"
    rows = []
    for pattern in CLASSES:
        with fresh_server(env) as server:
            row = one_pattern(server, pattern, opts.hostile_seconds)
            progress(
                f"hostile: {pattern}: {row['normal']['fraction'] * 100:.1f} % of normal reviews served,"
                f" RSS {row['rss_before_mib']} -> {row['rss_peak_mib']} -> {row['rss_after_mib']} MiB"
            )
            rows.append(row)
            report.results[name] = {"seconds": opts.hostile_seconds, "patterns": rows}
            check_alive(report, name, server)
        report.check(
            name,
            f"{pattern}: at least 99 % of normal reviews answered within 5 s",
            f"{row['normal']['fraction'] * 100:.1f} %",
            row["normal"]["fraction"] >= 0.99,
            hard=False,
        )
    with fresh_server(env) as server:
        burst = bursts(server, opts.burst_rounds, opts.burst_connections)
        report.results[name]["bursts"] = burst
        check_alive(report, name, server)
    growth = burst["rss_after_each_mib"][-1] - burst["rss_after_each_mib"][0]
    report.check(
        name,
        f"RSS after the last of {opts.burst_rounds} bursts within 20 MiB of the first",
        f"{growth:+.1f} MiB",
        growth <= 20,
        hard=False,
    )


def section(result: JsonObj, opts: Options) -> list[str]:
    if "patterns" not in result:
        return []
    out = [
        "## 6. Hostile clients (issue 16, part B)",
        "",
        f"Each pattern for {result['seconds']:g} s against a fresh server with default limits, beside four"
        " keep-alive clients sending normal reviews with kube-apiserver's patience (5 s). Served: answered"
        " 200 with the right uid within 5 s. RSS: before, peak (VmHWM), 2 s after. The attackers and the"
        " normal clients share one process and the machine's cores with the server.",
        "",
        "| pattern | normal reviews served | p99 | RSS before → peak → after | connections cut |",
        "|---|---:|---:|---:|---|",
    ]
    for row in result["patterns"]:
        normal = row["normal"]
        peak = "n/a" if row["rss_peak_mib"] is None else f"{row['rss_peak_mib']:.0f}"
        cuts = ", ".join(f"{reason} {count:,}" for reason, count in sorted(row["cuts"].items())) or "-"
        p99 = "n/a" if normal["p99_ms"] is None else f"{normal['p99_ms']:.0f} ms"
        out.append(
            f"| {CLASSES.get(row['pattern'], row['pattern'])} | {normal['fraction'] * 100:.1f} %"
            f" ({normal['served']:,}/{normal['attempts']:,}) | {p99} |"
            f" {row['rss_before_mib']:.0f} → {peak} → {row['rss_after_mib']:.0f} MiB | {cuts} |"
        )
    b = result.get("bursts")
    if b:
        answered = sum(o.get("ok", 0) for o in b["outcomes"])
        total = b["rounds"] * b["concurrency"]
        each = ", ".join(f"{v:.0f}" for v in b["rss_after_each_mib"])
        out += [
            "",
            f"Bursts: {b['rounds']} rounds of {b['concurrency']:,} concurrent one-review connections"
            f" (`--max-connections` default): {answered:,}/{total:,} answered;"
            f" RSS {b['rss_before_mib']:.0f} MiB before, after each round {each} MiB,"
            f" peak {b['rss_peak_mib'] or 'n/a'} MiB.",
        ]
    return [*out, ""]
