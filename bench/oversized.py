"""Scenario 3 of bench/reliability.py (``bodies``): oversized request bodies.

A fresh server per case: one 50 MiB body, declared and chunked, then 100 concurrent 5 MiB bodies of
each kind; clients send 64 KiB pieces and stop once an answer starts. Reported: the answers, how fast
they come, peak RSS growth and the RSS retained after each round.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass

from bench.checks import Options, Report
from bench.common import HOST, MIB, JsonObj, progress
from bench.environment import Env
from bench.probes import read_http_answer
from bench.procfs import RssSampler, reset_peak_rss, rss_mib
from bench.report import ms, pct
from bench.reviews import Scenario
from bench.server import Server, fresh_server, log_problems


@dataclass
class BodyAnswer:
    status: int | str  # HTTP status, or how the connection ended without one
    answered_s: float | None  # from the first byte sent to the answer's first byte
    sent_bytes: int  # body bytes sent when the answer arrived (or the connection broke)
    message: str = ""


def _answer_started(sock: ssl.SSLSocket, readable: select.poll) -> bytes | None:
    """Application data already sent by the server (b"" if it closed), or None if there is none yet.

    A readable socket is not enough: TLS 1.3 session tickets arrive after the handshake too."""
    if not (sock.pending() or readable.poll(0)):
        return None
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except ssl.SSLWantReadError:
        return None
    finally:
        sock.settimeout(60)


def send_oversized(port: int, context: ssl.SSLContext, size: int, chunked: bool) -> BodyAnswer:
    """POST ``size`` bytes to /mutate in 64 KiB pieces, declared (Content-Length) or chunked, and stop
    sending as soon as an answer starts, as a client that reads while it writes does."""
    piece = b"[" * (64 * 1024)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = f"POST /mutate HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock = context.wrap_socket(raw, server_hostname=HOST)
    readable = select.poll()
    readable.register(sock, select.POLLIN)
    sent = 0
    began = time.monotonic()
    start: bytes | None = None
    try:
        try:
            sock.sendall(head.encode())
            while sent < size:
                start = _answer_started(sock, readable)
                if start is not None:
                    break
                n = min(len(piece), size - sent)
                sock.sendall(b"%x\r\n%s\r\n" % (n, piece[:n]) if chunked else piece[:n])
                sent += n
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as exc:
            broke = f"{type(exc).__name__} while sending"
        else:
            broke = ""
        try:
            if start is None and not (sock.pending() or readable.poll(60_000)):
                return BodyAnswer(broke or "no answer in 60 s", None, sent)
            answered = time.monotonic() - began
            status, body = read_http_answer(sock, start or b"")
        except (OSError, ssl.SSLError, ValueError, IndexError) as exc:
            return BodyAnswer(broke or f"{type(exc).__name__} before an answer", None, sent)
    finally:
        sock.close()
    try:
        message = str(json.loads(body).get("message", ""))
    except ValueError:
        message = body[:80].decode(errors="replace")
    return BodyAnswer(status, answered, sent, message)


def oversized_case(server: Server, context: ssl.SSLContext, size: int, count: int, chunked: bool) -> JsonObj:
    """``count`` concurrent clients each sending ``size`` bytes; answers, timing and RSS."""
    pid = server.pid
    before = rss_mib(pid)
    hwm_reset = reset_peak_rss(pid)
    sampler = RssSampler(pid)
    sampler.start()
    answers: list[BodyAnswer] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def client() -> None:
        barrier.wait()
        answer = send_oversized(server.port, context, size, chunked)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(count)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    elapsed = time.monotonic() - began
    sampled = sampler.stop()
    peak = rss_mib(pid, "VmHWM") if hwm_reset else sampled
    after = rss_mib(pid)
    times = [a.answered_s for a in answers if a.answered_s is not None]
    sent = [a.sent_bytes / MIB for a in answers]
    kinds = Counter(f"{a.status} {a.message}".strip() for a in answers)
    return {
        "label": f"{count} x {size // MIB} MiB, {'chunked' if chunked else 'Content-Length'}",
        "size_mib": size / MIB,
        "clients": count,
        "chunked": chunked,
        "answers": dict(kinds.most_common()),
        "statuses": [a.status for a in answers],
        "messages": [a.message for a in answers],
        "answer_p50_s": pct(times, 50),
        "answer_max_s": max(times) if times else None,
        "sent_p50_mib": pct(sent, 50),
        "sent_max_mib": max(sent) if sent else None,
        "elapsed_s": elapsed,
        "rss_before_mib": before,
        "peak_growth_mib": peak - before,
        "peak_from": "VmHWM (reset before the case)" if hwm_reset else "VmRSS sampled every 10 ms",
        "rss_after_growth_mib": after - before,
    }


def acceptable_refusal(status: int | str, message: str, chunked: bool) -> bool:
    """413, or (chunked only: the size is unknown until the limit) the buffered-bytes 503; a connection
    that ended before an answer (client-side) is no server answer at all."""
    if isinstance(status, str):
        return True
    if status == 413:
        return True
    return chunked and status == 503 and "request data in flight" in message


def bodies_case(env: Env, scenario: Scenario, size: int, count: int, chunked: bool, rounds: int) -> JsonObj:
    """One case on a fresh server: ``rounds`` rounds (RSS growth that repeats in later rounds is kept
    per connection, a leak; a one-off rise is the allocator's high-water mark), then a normal review."""
    with fresh_server(env) as server:
        for _ in range(20):  # warm the request path, so the first round does not pay for it
            server.post(scenario.body)
        time.sleep(0.5)
        base = rss_mib(server.pid)
        results = []
        retained = []
        for _ in range(rounds):
            results.append(oversized_case(server, server.context, size, count, chunked))
            time.sleep(0.5)
            retained.append(rss_mib(server.pid) - base)
        status, _body = server.post(scenario.body)
        alive = server.process is not None and server.process.poll() is None and server.get("/healthz") == 200
        errors = log_problems(server)
    case = results[0]
    case.update(
        {
            "rounds": rounds,
            "retained_after_rounds_mib": retained,
            "statuses": [st for r in results for st in r["statuses"]],
            "messages": [m for r in results for m in r["messages"]],
            "answers": dict(Counter(a for r in results for a, n in r["answers"].items() for _ in range(n))),
            "review_after": status,
            "alive": alive,
            "log_errors": errors[:5],
        }
    )
    return case


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    scenario = scenarios["1-pod-rs"]
    name = "bodies"
    cases = []
    for size, count, chunked in (
        (50 * MIB, 1, False),
        (50 * MIB, 1, True),
        (5 * MIB, 100, False),
        (5 * MIB, 100, True),
    ):
        case = bodies_case(env, scenario, size, count, chunked, opts.body_rounds)
        cases.append(case)
        progress(
            f"bodies {case['label']}: {case['answers']}, answer p50 {ms(case['answer_p50_s'])}, peak RSS"
            f" +{case['peak_growth_mib']:.1f} MiB, retained after each round"
            f" {', '.join(f'{r:+.1f}' for r in case['retained_after_rounds_mib'])} MiB"
        )
    report.results[name] = {"cases": cases, "server_log_errors": [e for c in cases for e in c["log_errors"]]}
    after = [f"{c['review_after']}{'' if c['alive'] else ' (server dead)'}" for c in cases]
    report.check(
        name,
        "after every case a normal review is answered 200 and /healthz answers",
        ", ".join(after),
        all(c["review_after"] == 200 and c["alive"] for c in cases),
        hard=True,
    )
    errors = report.results[name]["server_log_errors"]
    report.check(name, "no error lines in the server logs", f"{len(errors)} lines", not errors, hard=False)
    for case in cases:
        wrong = [
            f"{st} {m}".strip()
            for st, m in zip(case["statuses"], case["messages"], strict=True)
            if not acceptable_refusal(st, m, case["chunked"])
        ]
        allowed = "413 or the buffered-bytes 503" if case["chunked"] else "413"
        report.check(
            name,
            f"{case['label']}: every answer is {allowed} (no 200, no other 5xx)",
            f"{len(wrong)} others" + (f": {Counter(wrong).most_common(3)}" if wrong else ""),
            not wrong,
            hard=True,
        )
    single, single_chunked, many, many_chunked = cases
    for case, how in ((single, "from its header"), (single_chunked, "at the 3 MiB limit")):
        report.check(
            name,
            f"{case['label']}: refused {how}, answer ≤ 100 ms after the first byte",
            ms(case["answer_max_s"]),
            case["answer_max_s"] is not None and case["answer_max_s"] <= 0.1,
            hard=False,
        )
    for case, limit in ((single, 8), (single_chunked, 8), (many, 80), (many_chunked, 80)):
        report.check(
            name,
            f"{case['label']}: peak RSS growth < {limit} MiB",
            f"{case['peak_growth_mib']:.1f} MiB",
            case["peak_growth_mib"] < limit,
            hard=False,
        )
        retained = case["retained_after_rounds_mib"]
        if len(retained) > 1:
            slope = (retained[-1] - retained[0]) / (len(retained) - 1)
            report.check(
                name,
                f"{case['label']}: retained RSS grows < 15 MiB per round after the first",
                " → ".join(f"{r:+.1f}" for r in retained) + f" MiB ({slope:+.1f} per round)",
                slope < 15,
                hard=False,
            )


def section(r: JsonObj, opts: Options) -> list[str]:
    if "cases" not in r:
        return []
    out = [
        "## 3. Oversized bodies",
        "",
        "A fresh server per case; bodies sent in 64 KiB pieces by clients that stop sending once an answer"
        " starts (limits: 3 MiB per review, 12 MiB of bodies being read at once). Each case runs"
        f" {r['cases'][0]['rounds']} rounds; the timing and peak columns are the first round's, the answers"
        " are all rounds'. Peak growth: VmHWM (reset before the round) minus VmRSS before it. Retained: VmRSS"
        " 0.5 s after each round minus VmRSS before the first.",
        "",
        "| case | answers | answer time p50 / max | peak RSS growth | RSS retained after each round |",
        "|---|---|---:|---:|---:|",
    ]
    for c in r["cases"]:
        answers = "; ".join(f"{k} x {v}" for k, v in c["answers"].items())
        retained = " → ".join(f"{x:+.1f}" for x in c["retained_after_rounds_mib"])
        out.append(
            f"| {c['label']} | {answers} | {ms(c['answer_p50_s'])} / {ms(c['answer_max_s'])} |"
            f" {c['peak_growth_mib']:+.1f} MiB | {retained} MiB |"
        )
    out.append("")
    return out
