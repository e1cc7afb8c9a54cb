"""Scenario 4 of bench/reliability.py (``slow``): idle, slowloris and TCP-only connections.

Latency of normal reviews before, beside and after hundreds of held connections, and when the
server closes each of them (from when its timer starts).
"""

from __future__ import annotations

import selectors
import socket
import ssl
import statistics
import threading
import time
from dataclasses import dataclass

from bench.checks import Options, Report, check_alive
from bench.common import HOST, JsonObj, progress
from bench.environment import Env
from bench.procfs import rss_mib
from bench.report import pct, secs
from bench.reviews import Scenario
from bench.server import Server, fresh_server
from bench.wrk import failures, run_wrk


@dataclass
class Held:
    kind: str  # "idle" (TLS done, nothing sent), "slowloris" (a header trickling), "tcp-only" (no TLS)
    sock: socket.socket
    since: float  # when the server's timer starts: handshake done, first byte sent, TCP connected
    closed: float | None = None


class Crowd(threading.Thread):
    """Connections that hold the server's resources without completing a request, watched until the
    server closes them; slowloris connections get one more header byte every second."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        super().__init__(daemon=True)
        self.port, self.context = port, context
        self.held: list[Held] = []
        self._selector = selectors.DefaultSelector()
        self._stop_event = threading.Event()

    def open(self, idle: int, slow: int, tcp_only: int) -> None:
        partial = f"POST /mutate HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nX-Slow: "
        for kind, count in (("idle", idle), ("slowloris", slow), ("tcp-only", tcp_only)):
            for _ in range(count):
                sock: socket.socket = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                if kind != "tcp-only":
                    sock = self.context.wrap_socket(sock, server_hostname=HOST)
                if kind == "slowloris":
                    sock.sendall(partial.encode())
                held = Held(kind, sock, time.monotonic())
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ, held)
                self.held.append(held)

    def run(self) -> None:
        next_trickle = time.monotonic() + 1.0
        while not self._stop_event.is_set() and any(h.closed is None for h in self.held):
            for key, _events in self._selector.select(timeout=0.05):
                held: Held = key.data
                try:
                    if held.sock.recv(4096) == b"":
                        self._closed(held)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError:  # ssl.SSLError included: EOF without close_notify, reset
                    self._closed(held)
            if time.monotonic() >= next_trickle:
                next_trickle += 1.0
                for held in self.held:
                    if held.kind == "slowloris" and held.closed is None:
                        try:
                            held.sock.send(b"a")
                        except (ssl.SSLWantWriteError, BlockingIOError):
                            pass
                        except OSError:
                            self._closed(held)

    def _closed(self, held: Held) -> None:
        held.closed = time.monotonic()
        self._selector.unregister(held.sock)
        held.sock.close()

    def open_count(self) -> int:
        return sum(h.closed is None for h in self.held)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)
        for held in self.held:
            if held.closed is None:
                held.sock.close()

    def summary(self, kind: str) -> JsonObj:
        group = [h for h in self.held if h.kind == kind]
        lifetimes = [h.closed - h.since for h in group if h.closed is not None]
        return {
            "opened": len(group),
            "closed": len(lifetimes),
            "closed_after_min_s": min(lifetimes) if lifetimes else None,
            "closed_after_p50_s": pct(lifetimes, 50),
            "closed_after_max_s": max(lifetimes) if lifetimes else None,
        }


def fresh_connection_latency(server: Server, scenario: Scenario, count: int) -> list[float]:
    """Seconds per review on a new connection each (TCP + TLS handshake + review), one at a time."""
    times = []
    for _ in range(count):
        began = time.monotonic()
        status, _body = server.post(scenario.body)
        if status != 200:
            raise OSError(f"HTTP {status} for a normal review")
        times.append(time.monotonic() - began)
    return times


def latency_point(env: Env, server: Server, scenario: Scenario) -> JsonObj:
    """Three 2 s wrk runs (8 connections; medians reported), then 100 reviews on new connections."""
    own = time.process_time()  # this process's CPU: the held connections' watcher competes for the cores
    runs = [run_wrk(env, server, scenario, 8, 1, 2, pinned=False) for _ in range(3)]
    own = time.process_time() - own
    fresh = fresh_connection_latency(server, scenario, 100)
    return {
        "rps": statistics.median(run.rps for run in runs),
        "p50_ms": statistics.median(run.values["p50_us"] for run in runs) / 1000,
        "p99_ms": statistics.median(run.values["p99_us"] for run in runs) / 1000,
        "p99_ms_runs": [run.values["p99_us"] / 1000 for run in runs],
        "server_cpu_ms_per_1k": statistics.median(run.cpu_per_1k for run in runs) * 1000,
        "bench_cpu_pct": own * 100 / sum(run.values["duration_us"] / 1e6 for run in runs),
        "failures": sum(failures(run.values) for run in runs),
        "requests": sum(int(run.values["requests"]) for run in runs),
        "fresh_p50_ms": (pct(fresh, 50) or 0) * 1000,
        "fresh_p99_ms": (pct(fresh, 99) or 0) * 1000,
        "rss_mib": rss_mib(server.pid),
    }


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    scenario = scenarios["1-pod-rs"]
    name = "slow"
    idle = opts.slow_connections // 2
    slow = opts.slow_connections - idle
    extra = ["--idle-timeout", f"{opts.idle_timeout:g}", "--request-timeout", f"{opts.request_timeout:g}"]
    with fresh_server(env, extra) as server:
        baseline = latency_point(env, server, scenario)
        progress(f"slow: baseline p50 {baseline['p50_ms']:.2f} ms p99 {baseline['p99_ms']:.2f} ms")
        crowd = Crowd(server.port, server.context)
        opened = time.monotonic()
        crowd.open(idle, slow, opts.tcp_only)
        open_s = time.monotonic() - opened
        crowd.start()
        rss_with = rss_mib(server.pid)
        loaded = latency_point(env, server, scenario)
        still_open = crowd.open_count()
        progress(
            f"slow: with {len(crowd.held)} held connections ({still_open} still open after the run): "
            f"p50 {loaded['p50_ms']:.2f} ms p99 {loaded['p99_ms']:.2f} ms"
        )
        window = max(opts.request_timeout, opts.idle_timeout) + 5.0
        if opts.tcp_only:
            window = max(window, opts.request_timeout + 5.0)  # the TLS handshake deadline
        deadline = opened + open_s + window
        while crowd.open_count() and time.monotonic() < deadline:
            time.sleep(0.2)
        crowd.stop()
        after = latency_point(env, server, scenario)
        report.results[name] = {
            "idle_timeout_s": opts.idle_timeout,
            "request_timeout_s": opts.request_timeout,
            "open_seconds": open_s,
            "baseline": baseline,
            "with_crowd": loaded,
            "after_closed": after,
            "held_open_during_measurement": still_open,
            "rss_with_crowd_mib": rss_with,
            "window_s": window,
            "groups": {kind: crowd.summary(kind) for kind in ("idle", "slowloris", "tcp-only")},
        }
        check_alive(report, name, server)
    result = report.results[name]
    bad = baseline["failures"] + loaded["failures"] + after["failures"]
    report.check(name, "0 failed normal reviews beside the held connections", str(bad), bad == 0, hard=True)
    limit = baseline["p99_ms"] * 1.5 + 1
    report.check(
        name,
        f"p99 beside {len(crowd.held)} held connections ≤ 1.5 x baseline + 1 ms ({limit:.2f} ms)",
        f"{baseline['p99_ms']:.2f} → {loaded['p99_ms']:.2f} ms",
        loaded["p99_ms"] <= limit,
        hard=False,
    )
    groups = result["groups"]
    for kind, timeout in (("slowloris", opts.request_timeout), ("idle", opts.idle_timeout)):
        g = groups[kind]
        latest = g["closed_after_max_s"]
        report.check(
            name,
            f"every {kind} connection closed by the server within {timeout:g} s + 1 s",
            f"{g['closed']}/{g['opened']}, latest after {secs(latest)}",
            g["closed"] == g["opened"] and latest is not None and latest <= timeout + 1,
            hard=False,
        )


def section(r: JsonObj, opts: Options) -> list[str]:
    if "groups" not in r:
        return []
    g = r["groups"]
    held = sum(group["opened"] for group in g.values())
    out = [
        "## 4. Slow and idle clients",
        "",
        f"`--request-timeout {r['request_timeout_s']:g} --idle-timeout {r['idle_timeout_s']:g}`. {held}"
        f" held connections opened in {r['open_seconds']:.1f} s: idle after the TLS handshake, slowloris"
        " (a partial header, then one more byte a second), and TCP-only (no TLS handshake). Latency: wrk,"
        " 8 keep-alive connections, median of three 2 s runs, then 100 reviews on a new connection each,"
        " one at a time.",
        "",
        "| phase | wrk req/s | wrk p50 | wrk p99 | server CPU per 1k reviews | this script's CPU |"
        " new-connection review p50 / p99 | server RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, p in (
        ("baseline", r["baseline"]),
        (
            f"beside the held connections ({r['held_open_during_measurement']} open at the end)",
            r["with_crowd"],
        ),
        ("after the server closed them", r["after_closed"]),
    ):
        out.append(
            f"| {label} | {p['rps']:,.0f} | {p['p50_ms']:.2f} ms | {p['p99_ms']:.2f} ms |"
            f" {p['server_cpu_ms_per_1k']:.0f} ms | {p['bench_cpu_pct']:.0f} % |"
            f" {p['fresh_p50_ms']:.2f} / {p['fresh_p99_ms']:.2f} ms | {p['rss_mib']:.1f} MiB |"
        )
    out += [
        "",
        f"Server RSS with every held connection open: {r['rss_with_crowd_mib']:.1f} MiB.",
        "",
        "| held connections | opened | closed by the server | closed after: min / median / max | timer |",
        "|---|---:|---:|---:|---|",
    ]
    timers = {
        "idle": f"--idle-timeout {r['idle_timeout_s']:g} s, from the handshake",
        "slowloris": f"--request-timeout {r['request_timeout_s']:g} s, from the first byte",
        "tcp-only": f"the TLS handshake deadline, --request-timeout {r['request_timeout_s']:g} s",
    }
    for kind, group in g.items():
        if not group["opened"]:
            continue
        out.append(
            f"| {kind} | {group['opened']} | {group['closed']} | {secs(group['closed_after_min_s'], 1)} /"
            f" {secs(group['closed_after_p50_s'], 1)} / {secs(group['closed_after_max_s'], 1)} |"
            f" {timers[kind]} |"
        )
    out += ["", f"(watched for {r['window_s']:.0f} s after opening)", ""]
    return out
