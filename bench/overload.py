"""Scenario 5 of bench/reliability.py: more concurrent 200 KiB reviews than the server takes at once.

64 keep-alive connections post the large pod back to back, on a fresh server with a small
``--max-inflight``, with the default, and with the default while every review carries a short
``?timeout=``. Reported per kind of answer: count, rate and answer time (a refusal is timed when it
arrives, while the body may still be going out). Then ``?timeout=`` on requests that arrive slowly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass

from bench.checks import Options, Report
from bench.common import HOST, JsonObj, progress, run_async
from bench.environment import Env
from bench.probes import read_http_answer
from bench.report import pct
from bench.reviews import Scenario
from bench.scraping import REVIEWS, metric_sum, scrape
from bench.server import Server, fresh_server, log_problems


@dataclass
class Answer:
    kind: str
    seconds: float  # from the first byte of the request to the first byte of the answer


ACCEPTED = "200 AdmissionReview with the patch"
INFLIGHT_CAP = "503 too many reviews in progress (in-flight cap)"
BUFFERED_CAP = "503 too much request data in flight (buffered bytes)"
EXPIRED = "503 kube-apiserver's ?timeout= passed (expired)"
DOCUMENTED_ANSWERS = (ACCEPTED, INFLIGHT_CAP, BUFFERED_CAP, EXPIRED)


def classify(status: int, body: bytes, uid: str) -> str:
    if status == 200:
        good = f'"uid":"{uid}"'.encode() in body and b'"allowed":true' in body and b'"patch":' in body
        return ACCEPTED if good else "200 but a wrong answer"
    if status == 503 and b"too many reviews" in body:
        return INFLIGHT_CAP
    if status == 503 and b"request data in flight" in body:
        return BUFFERED_CAP
    if status == 503 and b"timeout" in body:
        return EXPIRED
    return f"{status} other: {body[:80].decode(errors='replace')}"


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, float, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    arrived = time.monotonic()
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip().lower() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
    }
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), body, arrived, headers.get("connection") == "close"


async def _client(
    port: int, context: ssl.SSLContext, request: bytes, uid: str, stop_at: float, out: list[Answer]
) -> None:
    """One keep-alive connection sending reviews back to back; the answer is read while the body is
    still being written, so a refusal sent before the body is in is timed as it arrives."""
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=context, server_hostname=HOST, limit=1 << 20
                )
            began = time.monotonic()
            reading = asyncio.ensure_future(_read_answer(reader))
            writer.write(request)
            await writer.drain()
            status, body, arrived, close = await reading
            out.append(Answer(classify(status, body, uid), arrived - began))
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            out.append(Answer(f"connection error: {type(exc).__name__}", 0.0))
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()
        with suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


def drive(
    port: int,
    context: ssl.SSLContext,
    scenario: Scenario,
    clients: int,
    seconds: float,
    query: str = "",
) -> list[Answer]:
    """``clients`` concurrent keep-alive connections sending ``scenario`` for ``seconds`` (uvloop)."""
    head = (
        f"POST /mutate{query} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(scenario.body)}\r\n\r\n"
    )
    request = head.encode() + scenario.body
    out: list[Answer] = []

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(
            *(_client(port, context, request, scenario.uid, stop_at, out) for _ in range(clients))
        )

    run_async(main())
    return out


def summarize_answers(answers: list[Answer], seconds: float, deadline: float | None = None) -> JsonObj:
    """Count, rate and answer-time percentiles per kind of answer; with ``deadline`` (the reviews'
    ?timeout=), how many accepted reviews were answered after it by the client's clock."""
    late = None if deadline is None else sum(a.kind == ACCEPTED and a.seconds > deadline for a in answers)
    kinds: dict[str, JsonObj] = {}
    for kind in sorted({a.kind for a in answers}):
        times = [a.seconds for a in answers if a.kind == kind]
        kinds[kind] = {
            "count": len(times),
            "per_s": len(times) / seconds,
            "p50_ms": (pct(times, 50) or 0) * 1000,
            "p90_ms": (pct(times, 90) or 0) * 1000,
            "p99_ms": (pct(times, 99) or 0) * 1000,
            "max_ms": max(times) * 1000,
        }
    return {"answers": len(answers), "kinds": kinds, "accepted_after_deadline": late}


@dataclass(frozen=True)
class OverloadPoint:
    label: str
    flags: tuple[str, ...] = ()
    query: str = ""
    expiry_check: bool = False

    @property
    def deadline(self) -> float | None:
        """The ``?timeout=`` in seconds (kube-apiserver's forms: 50ms, 10s, 1m), or None."""
        if "timeout=" not in self.query:
            return None
        value = self.query.split("timeout=", 1)[1]
        for unit, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
            if value.endswith(unit):
                return float(value.removesuffix(unit)) * factor
        return None


def overload_point(env: Env, opts: Options, scenario: Scenario, point: OverloadPoint) -> JsonObj:
    with fresh_server(env, point.flags) as server:
        drive(server.port, server.context, scenario, 4, 1.0)  # warm-up
        before = scrape(server.metrics_port)
        cpu = server.cpu_seconds()
        answers = drive(
            server.port, server.context, scenario, opts.overload_clients, opts.duration, point.query
        )
        cpu = server.cpu_seconds() - cpu
        after = scrape(server.metrics_port)
        result = summarize_answers(answers, opts.duration, point.deadline)
        result.update(
            {
                "label": point.label,
                "server_cpu_s": cpu,
                "metric_rejected": {
                    reason: metric_sum(after, REVIEWS, reason=reason)
                    - metric_sum(before, REVIEWS, reason=reason)
                    for reason in ("overloaded", "expired")
                },
                "expired_check": expiry_check(server, scenario) if point.expiry_check else None,
                "alive": server.process is not None
                and server.process.poll() is None
                and server.get("/healthz") == 200,
                "log_errors": log_problems(server)[:5],
            }
        )
    return result


def _start_slow_request(port: int, context: ssl.SSLContext, body: bytes, query: str) -> ssl.SSLSocket:
    sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=HOST
    )
    sock.sendall(
        f"POST /mutate{query} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:100]
    )
    return sock


def expiry_check(server: Server, scenario: Scenario) -> JsonObj:
    """5 reviews with ?timeout=1s and 5 with ?timeout=10s whose bodies take 1.3 s to arrive (as if
    queued); times each answer from the last body byte."""
    late = [_start_slow_request(server.port, server.context, scenario.body, "?timeout=1s") for _ in range(5)]
    timely = [
        _start_slow_request(server.port, server.context, scenario.body, "?timeout=10s") for _ in range(5)
    ]
    time.sleep(1.3)
    results: dict[str, list[tuple[int, float]]] = {"late": [], "timely": []}
    for group, socks in (("late", late), ("timely", timely)):
        for sock in socks:
            sock.sendall(scenario.body[100:])
            sent = time.monotonic()
            status, body = read_http_answer(sock)
            results[group].append((status, time.monotonic() - sent))
            sock.close()
            if group == "late" and b"timeout" not in body:
                results[group][-1] = (-status, results[group][-1][1])
    return {
        "late_statuses": [s for s, _ in results["late"]],
        "timely_statuses": [s for s, _ in results["timely"]],
        "late_answer_max_ms": max(t for _, t in results["late"]) * 1000,
        "timely_answer_max_ms": max(t for _, t in results["timely"]) * 1000,
    }


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    name = "overload"
    large = scenarios["2-pod-large"]
    plan = [
        OverloadPoint(f"--max-inflight {opts.max_inflight}", ("--max-inflight", str(opts.max_inflight))),
        OverloadPoint("default --max-inflight (256)", expiry_check=True),
        OverloadPoint(
            f"default limit, every review ?timeout={opts.short_timeout}",
            query=f"?timeout={opts.short_timeout}",
        ),
    ]
    points: list[JsonObj] = []
    for planned in plan:
        points.append(overload_point(env, opts, large, planned))
        progress(f"overload, {planned.label}: {json.dumps(points[-1]['kinds'])}")
    report.results[name] = {
        "body_kib": len(large.body) / 1024,
        "clients": opts.overload_clients,
        "seconds": opts.duration,
        "points": points,
        "server_log_errors": [e for p in points for e in p["log_errors"]],
    }
    for point in points:
        unexpected = {k: v["count"] for k, v in point["kinds"].items() if k not in DOCUMENTED_ANSWERS}
        report.check(
            name,
            f"{point['label']}: only correct reviews and documented 503s, no connection errors",
            f"{sum(unexpected.values())} others" + (f": {unexpected}" if unexpected else ""),
            not unexpected,
            hard=True,
        )
        alive = point["alive"]
        report.check(
            name, f"{point['label']}: server alive afterwards", "yes" if alive else "NO", alive, hard=True
        )
    limited, default, _short = points
    refused = limited["kinds"].get(INFLIGHT_CAP)
    accepted = limited["kinds"].get(ACCEPTED)
    report.check(
        name,
        f"{opts.overload_clients} clients over a cap of {opts.max_inflight}: some reviews refused with 503",
        f"{refused['count'] if refused else 0} refusals",
        refused is not None,
        hard=False,
    )
    if refused and accepted:
        report.check(
            name,
            "refusals come fast: p99 of the in-flight-cap 503s ≤ p50 of the accepted reviews",
            f"{refused['p99_ms']:.1f} ms vs {accepted['p50_ms']:.1f} ms",
            refused["p99_ms"] <= accepted["p50_ms"],
            hard=False,
        )
    counted = limited["metric_rejected"]["overloaded"]
    seen = sum(v["count"] for k, v in limited["kinds"].items() if k in (INFLIGHT_CAP, BUFFERED_CAP))
    report.check(
        name,
        'reviews_total{reason="overloaded"} counts every refusal the clients saw',
        f"metric {counted:g}, clients {seen} (+ warm-up)",
        counted >= seen,
        hard=False,
    )
    expired = default["expired_check"]
    honoured = set(expired["late_statuses"]) == {503} and set(expired["timely_statuses"]) == {200}
    report.check(
        name,
        "?timeout=1s reviews whose body completes after 1.3 s get the expired 503, ?timeout=10s ones 200",
        f"late {expired['late_statuses']}, timely {expired['timely_statuses']}",
        honoured,
        hard=False,
    )


def section(r: JsonObj, opts: Options) -> list[str]:
    if "points" not in r:
        return []
    out = [
        "## 5. Overload",
        "",
        f"{r['clients']} keep-alive connections (Python, uvloop) posting the {r['body_kib']:.0f} KiB pod"
        f" (scenario 2-pod-large) back to back for {r['seconds']:g} s, a fresh server per row; answer time"
        " from the request's first byte to the answer's first byte (a refusal can arrive while the body is"
        " still being sent).",
        "",
    ]
    for p in r["points"]:
        rejected = ", ".join(f"{k} +{v:g}" for k, v in p["metric_rejected"].items())
        out += [
            f"**{p['label']}**: {p['answers']:,} answers, server CPU {p['server_cpu_s']:.1f} s,"
            f' reviews_total{{outcome="rejected"}} by reason: {rejected}.',
            "",
            "| answer | count | per s | p50 | p90 | p99 | max |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, k in p["kinds"].items():
            out.append(
                f"| {kind} | {k['count']:,} | {k['per_s']:,.0f} | {k['p50_ms']:.1f} ms |"
                f" {k['p90_ms']:.1f} ms | {k['p99_ms']:.1f} ms | {k['max_ms']:.1f} ms |"
            )
        if p["accepted_after_deadline"] is not None:
            accepted = p["kinds"].get(ACCEPTED, {}).get("count", 0)
            out += [
                "",
                f"{p['accepted_after_deadline']:,} of the {accepted:,} accepted reviews reached the client"
                " after their `?timeout=` by its clock: the server starts that clock when it reads the"
                " request's first byte, so what comes before (the client's own sending, and waiting in"
                " the socket buffers while the event loop is busy) does not count.",
            ]
        out.append("")
    e = next(p["expired_check"] for p in r["points"] if p["expired_check"])
    out += [
        "`?timeout=` on slow requests (default limit): 5 reviews with `?timeout=1s` and 5 with"
        f" `?timeout=10s`, each body completed 1.3 s after its headers: late → {e['late_statuses']}"
        f" (answered ≤ {e['late_answer_max_ms']:.1f} ms after the last byte), timely → {e['timely_statuses']}"
        f" (≤ {e['timely_answer_max_ms']:.1f} ms).",
        "",
    ]
    return out
