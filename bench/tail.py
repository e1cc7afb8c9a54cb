#!/usr/bin/env python3
"""Where the slow answers come from: the server's own periodic work, or the machine.

    python bench/tail.py                       # the reference review, 20,000 answers on one connection
    python bench/tail.py --scenario 1-pod-rs --reviews 50000

The server is started as bench/run.py starts it (pinned to core 0); one keep-alive connection on
core 1 sends the review again as soon as each answer is in, and every answer's latency is kept with
its index. A slow answer (over ``--slow`` times the median) caused by the server's own periodic work
(a garbage collection, a timer, a thread) comes alone or recurs every so many reviews; one caused by
the machine (the vCPU descheduled, another process on the core) comes in runs of consecutive slow
answers spread over milliseconds. The report gives the percentiles, how many slow answers have a slow
neighbour, the longest runs, and the most common gaps between slow answers, counted in reviews.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# python bench/tail.py: the repository root, for the bench package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import HOST, progress
from bench.environment import prepare
from bench.probes import read_http_answer
from bench.server import Server


@dataclass(frozen=True)
class Answer:
    index: int
    at: float  # seconds since the first timed review was sent
    ms: float


def request_bytes(body: bytes) -> bytes:
    head = f"POST /mutate HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def measure(server: Server, body: bytes, reviews: int, warmup: int) -> list[Answer]:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = server.context.wrap_socket(raw, server_hostname=HOST)
    request = request_bytes(body)
    try:
        for _ in range(warmup):
            conn.sendall(request)
            read_http_answer(conn)
        answers = []
        clock = time.perf_counter
        began = clock()
        for index in range(reviews):
            sent = clock()
            conn.sendall(request)
            status, answer = read_http_answer(conn)
            done = clock()
            if status != 200:
                raise SystemExit(f"answer {index}: HTTP {status} {answer[:80]!r}")
            answers.append(Answer(index, sent - began, (done - sent) * 1000))
        return answers
    finally:
        conn.close()


def runs_of(slow: list[Answer]) -> list[list[Answer]]:
    runs: list[list[Answer]] = []
    for answer in slow:
        if runs and answer.index == runs[-1][-1].index + 1:
            runs[-1].append(answer)
        else:
            runs.append([answer])
    return runs


def report(answers: list[Answer], slow_factor: float) -> list[str]:
    latencies = sorted(a.ms for a in answers)

    def pct(p: float) -> float:
        return latencies[min(int(p * len(latencies)), len(latencies) - 1)]

    median = statistics.median(latencies)
    threshold = median * slow_factor
    slow = [a for a in answers if a.ms > threshold]
    runs = runs_of(slow)
    neighboured = sum(len(run) for run in runs if len(run) > 1)
    gaps = Counter(b.index - a.index for a, b in itertools.pairwise(slow) if b.index - a.index > 1)
    lines = [
        f"{len(answers):,} answers on one connection, {len(answers) / answers[-1].at:,.0f}/s",
        f"p50 {pct(0.5):.3f} ms, p90 {pct(0.9):.3f}, p99 {pct(0.99):.3f}, p99.9 {pct(0.999):.3f}, "
        f"max {latencies[-1]:.3f}",
        f"slow (over {slow_factor:g} x the median, {threshold:.3f} ms): {len(slow)} "
        f"({100 * len(slow) / len(answers):.2f} %), in {len(runs)} runs; "
        f"{neighboured} ({100 * neighboured / max(len(slow), 1):.0f} %) have a slow neighbour",
    ]
    longest = sorted(runs, key=len, reverse=True)[:5]
    for run in longest:
        spread = (run[-1].at - run[0].at) * 1000 + run[-1].ms
        worst = max(a.ms for a in run)
        lines.append(
            f"  run of {len(run)} from review {run[0].index}: {spread:.1f} ms long, "
            f"worst answer {worst:.2f} ms"
        )
    common = ", ".join(f"{gap} ({count}x)" for gap, count in gaps.most_common(6)) or "none"
    lines.append(f"most common gaps between slow answers, in reviews: {common}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="0-reference")
    parser.add_argument("--reviews", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--slow", type=float, default=3.0, help="slow means over this many times the median")
    args = parser.parse_args(argv)
    env, scenarios = prepare()
    scenario = scenarios[args.scenario]
    if env.can_pin:
        os.sched_setaffinity(0, {1})
    server = Server(env, scenario.templates, pinned=env.can_pin)
    server.start()
    try:
        progress(f"{args.reviews:,} reviews of {scenario.key} on one connection")
        answers = measure(server, scenario.body, args.reviews, args.warmup)
    finally:
        server.stop()
    print("\n".join(report(answers, args.slow)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
