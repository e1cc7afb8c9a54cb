"""bench/reliability.py, scenario ``hostile``: one figure per class of issue 16, part B.

For each hostile pattern of bench/hostile.py a fresh server (the image's settings, defaults for every
limit) is attacked for ``--hostile-seconds`` while four keep-alive clients send normal reviews with
kube-apiserver's patience (5 s): the figure is the fraction of those answered correctly in time, and
the server's RSS before, at its peak and two seconds after. Then bursts of concurrent one-review
connections: RSS after each burst (growth that repeats would be memory kept per connection).
"""

from __future__ import annotations

import time
from typing import Any

import hostile
import run as bench

JsonObj = dict[str, Any]
CLASSES = {
    "stalled-bodies": "limits held by stalled uploads (4 x 3 MiB - 10 bytes)",
    "partial-bodies": "limits held by partial bodies (256 x 10 of 1,000 bytes)",
    "pipelined-tail": "a review plus the start of another (260 connections)",
    "huge-headers": "unfinished 40 MiB headers (8 connections)",
    "many-headers": "10,000 headers (4 connections)",
    "never-reading": "pipelined reviews, answers never read (20 connections)",
    "huge-objects": "a Pod of 88,000 containers, over and over (1 connection)",
}


def _rss(server: bench.Server) -> float:
    return bench.read_status_kib(server.pid, "VmRSS") / 1024


def _peak(server: bench.Server) -> float:
    return bench.read_status_kib(server.pid, "VmHWM") / 1024


def _reset_peak(server: bench.Server) -> bool:
    try:
        with open(f"/proc/{server.pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _cuts(samples: dict[str, float]) -> dict[str, int]:
    prefix = 'sidecar_injector_connections_cut_total{reason="'
    return {key[len(prefix) : -2]: int(value) for key, value in samples.items() if key.startswith(prefix)}


def one_pattern(server: bench.Server, name: str, seconds: float, scrape: Any) -> JsonObj:
    target = hostile.Target(server.port, server.context)
    hostile.run(hostile.beside(target, None, 1.0, lead=0.0))  # warm up the request path
    before = _rss(server)
    exact_peak = _reset_peak(server)
    served, tally = hostile.run(hostile.beside(target, hostile.PATTERNS[name], seconds))
    peak = _peak(server) if exact_peak else None
    time.sleep(2.0)
    return {
        "pattern": name,
        "normal": served.summary(),
        "hostile": tally.__dict__ if tally else None,
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": None if peak is None else round(peak, 1),
        "rss_after_mib": round(_rss(server), 1),
        "cuts": _cuts(scrape(server.metrics_port)),
    }


def bursts(server: bench.Server, rounds: int, concurrency: int) -> JsonObj:
    target = hostile.Target(server.port, server.context)
    hostile.run(hostile.burst(target, 50))
    before = _rss(server)
    exact_peak = _reset_peak(server)
    after, outcomes = [], []
    for _ in range(rounds):
        outcomes.append(hostile.run(hostile.burst(target, concurrency)))
        time.sleep(2.0)  # freed memory is returned a second after a burst
        after.append(round(_rss(server), 1))
    return {
        "rounds": rounds,
        "concurrency": concurrency,
        "rss_before_mib": round(before, 1),
        "rss_after_each_mib": after,
        "rss_peak_mib": round(_peak(server), 1) if exact_peak else None,
        "outcomes": outcomes,
    }


def section(result: JsonObj) -> list[str]:
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
