#!/usr/bin/env python3
"""Load and soak figures for the webhook's reliability features, over real HTTPS.

    python bench/reliability.py            # full run (about 7 minutes on 2 cores)
    python bench/reliability.py --quick    # about 1.5 minutes

tests/integration/ proves each behaviour once; this script measures them under load. Every scenario
starts a fresh ``sidecar-injector serve`` (bench/run.py's Server: the image's settings, JSON logs at
INFO) and every client verifies the server's certificate against its CA:

1. shutdown: 32 wrk connections, SIGTERM mid-run; the load stops ``--endpoint-lag`` seconds after
   /readyz fails (kube-apiserver stops routing once the endpoints controller drops the pod);
2. rotation: 32 wrk connections (8 of them a new TLS handshake per request) while the certificate is
   swapped in a kubelet-style Secret volume several times, then a mismatched pair, then a good one;
3. bodies: 50 MiB and 100 x 5 MiB bodies, declared and chunked: answers, timing, peak RSS growth;
4. slow clients: hundreds of idle and slowloris connections: latency beside them, when they close;
5. overload: more concurrent 200 KiB reviews than ``--max-inflight``: what the refusals are and how
   fast they come; the same load with the default limit, and with a short ``?timeout=``; then
   ``?timeout=`` on slow requests;
6. hostile: each pattern of bench/hostile.py (stalled uploads, partial bodies, pipelined tails,
   endless and countless headers, answers never read, huge objects) beside normal reviews: the
   fraction served and RSS; then bursts of concurrent connections (bench/hostile_scenario.py).

Prints a Markdown report and writes bench/results/reliability.md and reliability.json. Exit status:
1 if a zero-failure expectation was violated (a failed request during shutdown or rotation, a 200 or
an unexpected 5xx for an oversized body, a dead server), 2 if the setup failed, else 0. Missed soft
targets are reported, never fatal. The servers run the webhook/ package next to this script.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import select
import selectors
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hostile_scenario  # bench/hostile_scenario.py, like run.py
import run as bench  # bench/run.py: same directory, on sys.path when this file is run as a script

MIB = bench.MIB
HOST = "localhost"  # the name every client sends (SNI) and checks in the certificate
SOCKET_ERRORS = ("connect", "read", "write", "timeout")  # wrk's own "status" duplicates bad_status
REVIEWS = "sidecar_injector_reviews_total"
RELOADS = "sidecar_injector_certificate_reloads_total"
READY = "sidecar_injector_ready"
EXPIRY = "sidecar_injector_certificate_expiry_timestamp_seconds"
SCENARIOS = ("shutdown", "rotation", "bodies", "slow", "overload", "hostile", "template-bomb")
CERT_POLL_SECONDS = 2.0  # Settings.cert_poll_seconds: not a flag, so the script cannot change it

JsonObj = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Options and the report


@dataclass(frozen=True)
class Options:
    quick: bool
    scenarios: tuple[str, ...]
    drain_seconds: float
    endpoint_lag: float
    lead: float
    shutdowns: int
    rotations: int
    body_rounds: int
    slow_connections: int
    tcp_only: int
    idle_timeout: float
    request_timeout: float
    duration: float
    max_inflight: int
    overload_clients: int
    short_timeout: str
    hostile_seconds: float = 8.0
    burst_rounds: int = 10
    burst_connections: int = 3000


@dataclass
class Check:
    scenario: str
    expectation: str
    measured: str
    ok: bool
    hard: bool  # a zero-failure expectation (exit 1 when missed); otherwise a soft target


@dataclass
class Report:
    meta: JsonObj = field(default_factory=dict)
    results: dict[str, JsonObj] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    setup_failures: list[str] = field(default_factory=list)

    def check(self, scenario: str, expectation: str, measured: str, ok: bool, *, hard: bool) -> None:
        self.checks.append(Check(scenario, expectation, measured, bool(ok), hard))
        if not ok:
            kind = "VIOLATED" if hard else "missed"
            bench.progress(f"{scenario}: {kind}: {expectation} (measured {measured})")

    @property
    def violations(self) -> list[Check]:
        return [c for c in self.checks if c.hard and not c.ok]


# --------------------------------------------------------------------------------------------------
# Small measuring tools


def pct(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def ms(seconds: float | None, digits: int = 1) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.{digits}f} ms"


def secs(seconds: float | None, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds:.{digits}f} s"


def scrape(port: int) -> dict[str, float]:
    """/metrics as {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        value
        for key, value in samples.items()
        if (key == name or key.startswith(name + "{")) and all(w in key for w in wanted)
    )


def failures(values: dict[str, float]) -> int:
    """Bad answers (admission.lua) plus socket errors of one wrk run."""
    return int(values["bad"] + sum(values[k] for k in SOCKET_ERRORS))


def socket_errors(values: dict[str, float]) -> int:
    return int(sum(values[k] for k in SOCKET_ERRORS))


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    return bench.read_status_kib(pid, key) / 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, same user or root); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """VmRSS every 10 ms: the peak, when VmHWM cannot be reset."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            with suppress(OSError, bench.BenchError):
                self.peak_kib = max(self.peak_kib, bench.read_status_kib(self.pid, "VmRSS"))
            self._stop_event.wait(0.01)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(5)
        return self.peak_kib / 1024


class ReadinessPoller(threading.Thread):
    """GET /readyz on one keep-alive connection every ``interval``; records each change of answer."""

    def __init__(self, port: int, context: ssl.SSLContext, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.port, self.context, self.interval = port, context, interval
        self.changes: list[tuple[float, str]] = []  # (monotonic time, "200" / "503" / "error")
        self.bodies: dict[str, bytes] = {}  # the last body seen per non-200 state
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        connection: http.client.HTTPSConnection | None = None
        while not self._stop_event.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPSConnection(
                        "127.0.0.1", self.port, context=self.context, timeout=2
                    )
                connection.request("GET", "/readyz")
                answer = connection.getresponse()
                body = answer.read()
                state = str(answer.status)
                if answer.status != 200:
                    self.bodies[state] = body
            except (OSError, http.client.HTTPException):
                state = "error"
                if connection is not None:
                    connection.close()
                connection = None
            self.polls += 1
            if not self.changes or self.changes[-1][1] != state:
                self.changes.append((time.monotonic(), state))
            self._stop_event.wait(self.interval)
        if connection is not None:
            connection.close()

    def first(self, predicate: Callable[[str], bool], after: float) -> float | None:
        return next((t for t, state in list(self.changes) if t >= after and predicate(state)), None)

    def wait_for(self, predicate: Callable[[str], bool], after: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.first(predicate, after)
            if found is not None:
                return found
            time.sleep(0.005)
        return None

    def states_between(self, start: float, end: float) -> list[str]:
        """Every state in force at some point of [start, end]."""
        before = [state for t, state in self.changes if t <= start][-1:]
        return before + [state for t, state in self.changes if start < t <= end]

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def peer_serial(port: int, context: ssl.SSLContext) -> int:
    """Serial of the certificate a new, verifying TLS handshake is given."""
    from cryptography import x509

    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


class HandshakeProber(threading.Thread):
    """A new verifying handshake every ``interval``: which serial each was given, or its error."""

    def __init__(self, port: int, context: ssl.SSLContext, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.port, self.context, self.interval = port, context, interval
        self.records: list[tuple[float, float, int | str]] = []  # (began, done, serial or error)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            began = time.monotonic()
            try:
                seen: int | str = peer_serial(self.port, self.context)
            except (OSError, ssl.SSLError) as exc:
                seen = f"{type(exc).__name__}: {exc}"
            self.records.append((began, time.monotonic(), seen))
            self._stop_event.wait(self.interval)

    def errors(self) -> list[str]:
        return [seen for _, _, seen in self.records if isinstance(seen, str)]

    def serials_between(self, start: float, end: float) -> set[int | str]:
        """Serials given to the handshakes begun in [start, end]."""
        return {seen for began, _, seen in list(self.records) if start <= began <= end}

    def wait_for_serial(self, serial: int, after: float, timeout: float) -> float | None:
        """When the first handshake finished after ``after`` had been given ``serial``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((d for _, d, seen in list(self.records) if d >= after and seen == serial), None)
            if found is not None:
                return found
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


class WrkLoad:
    """wrk with bench/admission.lua in the background until stopped: SIGINT makes wrk stop, report
    and print the BENCH line (requests in flight at that moment are neither good nor failed)."""

    def __init__(
        self,
        env: bench.Env,
        server: bench.Server,
        scenario: bench.Scenario,
        conns: int,
        threads: int,
        *,
        close: bool = False,
        duration: float = 3600.0,
    ) -> None:
        self.command = bench.wrk_command(
            env, server, scenario, conns, threads, duration, False, connection_close=close
        )
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(60)

    def wait(self, timeout: float) -> dict[str, float]:
        out, err = self.process.communicate(timeout=timeout)
        values = bench.parse_bench_line(out)
        if values is None:
            raise bench.BenchError(f"wrk printed no result: {shlex.join(self.command)}\n{out}{err}")
        return values


@contextmanager
def fresh_server(
    env: bench.Env, extra_args: Sequence[str] = (), certs: Path | None = None
) -> Iterator[bench.Server]:
    """A new ``serve`` process (unpinned: clients and server share both cores)."""
    with bench.running(env, [bench.EXAMPLES], pinned=False, certs=certs, extra_args=extra_args) as (
        server,
        _ready,
    ):
        yield server


def log_problems(server: bench.Server) -> list[str]:
    """Error lines and tracebacks in the server's log (warnings are expected in some scenarios)."""
    try:
        text = server.log.read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if '"level": "error"' in ln or '"level": "critical"' in ln]


def check_alive(report: Report, scenario: str, server: bench.Server) -> None:
    alive = server.process is not None and server.process.poll() is None and server.get("/healthz") == 200
    report.check(
        scenario, "server alive and answering /healthz afterwards", "yes" if alive else "NO", alive, hard=True
    )
    problems = log_problems(server)
    report.results[scenario]["server_log_errors"] = problems[:5]
    report.check(
        scenario,
        "no error lines in the server log",
        f"{len(problems)} lines" + (f": {problems[0][:160]}" if problems else ""),
        not problems,
        hard=False,
    )


# --------------------------------------------------------------------------------------------------
# 1. Graceful shutdown under load


def one_shutdown(env: bench.Env, opts: Options, scenario: bench.Scenario, *, model: bool) -> JsonObj:
    """SIGTERM under 32 connections. ``model``: the load stops ``endpoint_lag`` after /readyz fails,
    as kube-apiserver's does once the pod leaves the Service's endpoints; otherwise (a client that
    ignores readiness) it runs until the server process has exited."""
    extra = ["--drain-seconds", f"{opts.drain_seconds:g}"]
    with fresh_server(env, extra) as server:
        assert server.process is not None
        poller = ReadinessPoller(server.port, server.context)
        poller.start()
        load = WrkLoad(env, server, scenario, 32, 2)
        time.sleep(opts.lead)
        reviews_before = metric_sum(scrape(server.metrics_port), REVIEWS)
        term = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        unready = poller.wait_for(lambda state: state != "200", term, timeout=10)
        during: float | None = None
        stopped: float | None = None
        if model:
            time.sleep(max(0.0, (unready or term) + opts.endpoint_lag - time.monotonic()))
            with suppress(OSError):
                during = metric_sum(scrape(server.metrics_port), REVIEWS) - reviews_before
            stopped = time.monotonic()
            values = load.stop()
        code = server.process.wait(opts.drain_seconds + 60)
        exited = time.monotonic()
        if not model:
            values = load.stop()  # within a millisecond or two of the exit
        poller.stop()
        log = server.log.read_text(errors="replace")
    return {
        "model": "load stops after readiness fails" if model else "load ignores readiness",
        "wrk": values,
        "requests": int(values["requests"]),
        "good": int(values["good"]),
        "bad": int(values["bad"]),
        "socket_errors": socket_errors(values),
        "cut": int(values["read"] + values["write"] + values["timeout"]),
        "refused": int(values["connect"]),
        "failures": failures(values),
        "reviews_during_drain": during,
        "unready_after_s": None if unready is None else unready - term,
        "load_stopped_after_s": None if stopped is None else stopped - term,
        "exit_code": code,
        "exit_after_s": exited - term,
        "log_shutdown_requested": "shutdown requested" in log,
        "log_stopped": '"message": "stopped"' in log,
    }


def scenario_shutdown(env: bench.Env, opts: Options, report: Report, scenario: bench.Scenario) -> None:
    runs = []
    for n in range(opts.shutdowns):
        run = one_shutdown(env, opts, scenario, model=True)
        runs.append(run)
        bench.progress(
            f"shutdown #{n + 1}: {run['good']:,}/{run['requests']:,} good, {run['failures']} failed, "
            f"unready after {ms(run['unready_after_s'])}, exit {run['exit_code']} after "
            f"{secs(run['exit_after_s'])}"
        )
    naive = one_shutdown(env, opts, scenario, model=False)
    bench.progress(
        f"shutdown, load ignoring readiness: {naive['good']:,}/{naive['requests']:,} good, "
        f"{naive['bad']} bad answers, {naive['socket_errors']} socket errors, exit {naive['exit_code']}"
    )
    report.results["shutdown"] = {"runs": runs, "naive": naive}
    total = sum(r["requests"] for r in runs)
    failed = sum(r["failures"] for r in runs)
    name = "shutdown"
    report.check(
        name,
        f"0 failed requests (bad answers + socket errors) over {len(runs)} SIGTERMs under 32 connections",
        f"{failed:,} failed, {total:,} requests answered",
        failed == 0 and total > 0,
        hard=True,
    )
    codes = [r["exit_code"] for r in runs] + [naive["exit_code"]]
    report.check(
        name, "exit code 0 after every SIGTERM", ", ".join(map(str, codes)), set(codes) == {0}, hard=True
    )
    unready = [r["unready_after_s"] for r in [*runs, naive]]
    report.check(
        name,
        "/readyz fails after every SIGTERM",
        ", ".join(ms(u) for u in unready),
        all(u is not None for u in unready),
        hard=True,
    )
    logged = all(r["log_shutdown_requested"] and r["log_stopped"] for r in [*runs, naive])
    report.check(
        name, "log says 'shutdown requested' and 'stopped'", "yes" if logged else "no", logged, hard=True
    )
    worst = max((u for u in unready if u is not None), default=None)
    report.check(
        name,
        "/readyz fails within 100 ms of SIGTERM (under load)",
        ms(worst),
        worst is not None and worst <= 0.1,
        hard=False,
    )
    exits = [r["exit_after_s"] for r in runs]
    report.check(
        name,
        f"exit within drain + 1 s ({opts.drain_seconds + 1:g} s) once the load has stopped",
        secs(max(exits)),
        max(exits) <= opts.drain_seconds + 1,
        hard=False,
    )
    report.check(
        name,
        "a client ignoring readiness gets no wrong answer until the exit (connection errors only)",
        f"{naive['bad']} wrong answers, {naive['cut']} cut, {naive['refused']} refused",
        naive["bad"] == 0,
        hard=False,
    )


# --------------------------------------------------------------------------------------------------
# 2. Certificate rotation under load


class SecretVolume:
    """A folder updated the way the kubelet's AtomicWriter updates a Secret volume: the files go into a
    new ``..<timestamp>`` folder, a ``..data_tmp`` symlink to it is renamed over ``..data``, the visible
    names link through ``..data``, and the old folder is removed (as in tests/integration)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True)
        self._n = 0

    def write(self, files: dict[str, bytes]) -> float:
        """Write ``files``; returns the monotonic time of the atomic switch."""
        self._n += 1
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        folder = self.root / f"..{stamp}.{self._n:09d}"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        data_link = self.root / "..data"
        old = os.readlink(data_link) if data_link.is_symlink() else None
        os.symlink(folder.name, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", data_link)
        switched = time.monotonic()
        for name in files:
            if not (self.root / name).is_symlink():
                os.symlink(f"..data/{name}", self.root / name)
        if old is not None:
            for child in (self.root / old).iterdir():
                child.unlink()
            (self.root / old).rmdir()
        return switched


def scenario_rotation(env: bench.Env, opts: Options, report: Report, scenario: bench.Scenario) -> None:
    from cryptography import x509

    from webhook.tls import CertificateBundle, issue_ca, issue_serving_certificate, service_dns_names

    ca = issue_ca(now=datetime.now(UTC))

    def leaf() -> CertificateBundle:
        names = [*service_dns_names("sidecar-injector", "bench"), HOST]
        return issue_serving_certificate(
            ca, names, now=datetime.now(UTC), days=30, ip_addresses=["127.0.0.1"]
        )

    def serial(bundle: CertificateBundle) -> int:
        return int(x509.load_pem_x509_certificate(bundle.cert_pem).serial_number)

    def files(bundle: CertificateBundle) -> dict[str, bytes]:
        return {"tls.crt": bundle.cert_pem, "tls.key": bundle.key_pem, "ca.crt": ca.cert_pem}

    volume = SecretVolume(env.work / "secret")
    current = leaf()
    volume.write(files(current))
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    name = "rotation"
    result: JsonObj = {"cert_poll_seconds": CERT_POLL_SECONDS}
    report.results[name] = result
    with fresh_server(env, certs=volume.root) as server:
        poller = ReadinessPoller(server.port, context, interval=0.05)
        prober = HandshakeProber(server.port, context)
        poller.start()
        prober.start()
        keepalive = WrkLoad(env, server, scenario, 24, 1)
        handshakes = WrkLoad(env, server, scenario, 8, 1, close=True)
        load_started = time.monotonic()
        time.sleep(1.0)
        before = scrape(server.metrics_port)
        delays: list[float | None] = []
        for n in range(opts.rotations):
            new = leaf()
            switched = volume.write(files(new))
            seen = prober.wait_for_serial(serial(new), switched, timeout=15)
            delays.append(None if seen is None else seen - switched)
            bench.progress(f"rotation #{n + 1}: new serial served after {secs(delays[-1])}")
            if seen is not None:
                current = new
            time.sleep(random.uniform(0.5, 0.5 + CERT_POLL_SECONDS))  # any phase of the server's poll
        good_done = time.monotonic()
        after_good = scrape(server.metrics_port)
        expiry_ok = (
            abs(
                metric_sum(after_good, EXPIRY)
                - x509.load_pem_x509_certificate(current.cert_pem).not_valid_after_utc.timestamp()
            )
            < 1
        )

        # A key that does not belong to the certificate: the old pair must stay in service.
        wrong = leaf()
        switched = volume.write(
            {"tls.crt": wrong.cert_pem, "tls.key": current.key_pem, "ca.crt": ca.cert_pem}
        )
        unready = poller.wait_for(lambda state: state != "200", switched, timeout=15)
        time.sleep(max(0.0, switched + 2 * CERT_POLL_SECONDS + 0.5 - time.monotonic()))
        during_mismatch = scrape(server.metrics_port)
        served = prober.serials_between(switched, time.monotonic())
        readyz_body = poller.bodies.get("503", b"").decode(errors="replace")
        bench.progress(f"rotation: mismatched pair: unready after {secs(unready and unready - switched)}")

        fixed = leaf()
        switched_back = volume.write(files(fixed))
        recovered_serial = prober.wait_for_serial(serial(fixed), switched_back, timeout=15)
        recovered_ready = poller.wait_for(lambda state: state == "200", switched_back, timeout=15)
        time.sleep(0.5)
        keep_values, churn_values = keepalive.stop(), handshakes.stop()
        load_stopped = time.monotonic()
        poller.stop()
        prober.stop()
        after = scrape(server.metrics_port)
        check_alive(report, name, server)

    good_states = poller.states_between(load_started, good_done)
    handshake_errors = prober.errors()
    result.update(
        {
            "rotations": opts.rotations,
            "delays_s": delays,
            "wrk_keepalive": keep_values,
            "wrk_new_connection_per_request": churn_values,
            "load_seconds": load_stopped - load_started,
            "handshakes_probed": len(prober.records),
            "handshake_errors": handshake_errors[:10],
            "handshake_error_count": len(handshake_errors),
            "readiness_states_during_good_rotations": good_states,
            "readiness_polls": poller.polls,
            "reloads_ok": metric_sum(after_good, RELOADS, result="ok")
            - metric_sum(before, RELOADS, result="ok"),
            "expiry_gauge_follows": expiry_ok,
            "mismatch": {
                "unready_after_s": None if unready is None else unready - switched,
                "serials_served": sorted(str(s) for s in served),
                "old_serial": str(serial(current)),
                "still_old_serial": served == {serial(current)},
                "reload_errors": metric_sum(during_mismatch, RELOADS, result="error")
                - metric_sum(after_good, RELOADS, result="error"),
                "ready_gauge": metric_sum(during_mismatch, READY),
                "readyz_body": readyz_body[:300],
            },
            "recovery": {
                "new_serial_after_s": None if recovered_serial is None else recovered_serial - switched_back,
                "ready_after_s": None if recovered_ready is None else recovered_ready - switched_back,
                "reloads_ok": metric_sum(after, RELOADS, result="ok")
                - metric_sum(during_mismatch, RELOADS, result="ok"),
            },
        }
    )
    requests = int(keep_values["requests"] + churn_values["requests"])
    failed = failures(keep_values) + failures(churn_values) + len(handshake_errors)
    report.check(
        name,
        f"0 failed requests and handshakes through {opts.rotations} rotations, a mismatch and a recovery",
        f"{failed:,} failed; {requests:,} requests answered + {len(prober.records):,} handshakes",
        failed == 0 and requests > 0,
        hard=True,
    )
    served_all = all(d is not None for d in delays)
    report.check(
        name,
        "every new certificate reaches new handshakes",
        f"{sum(d is not None for d in delays)}/{len(delays)}",
        served_all,
        hard=True,
    )
    worst = max((d for d in delays if d is not None), default=None)
    report.check(
        name,
        f"new serial within the {CERT_POLL_SECONDS:g} s poll interval + 0.5 s",
        secs(worst),
        worst is not None and worst <= CERT_POLL_SECONDS + 0.5,
        hard=False,
    )
    report.check(
        name,
        "/readyz stays 200 through good rotations",
        ", ".join(good_states),
        good_states == ["200"],
        hard=False,
    )
    mismatch = result["mismatch"]
    report.check(
        name,
        "mismatched pair: the old serial is still served",
        "yes" if mismatch["still_old_serial"] else f"served {mismatch['serials_served']}",
        mismatch["still_old_serial"],
        hard=True,
    )
    report.check(
        name,
        "mismatched pair: /readyz turns non-200",
        secs(mismatch["unready_after_s"]),
        unready is not None,
        hard=True,
    )
    raised = mismatch["reload_errors"] >= 1 and mismatch["ready_gauge"] == 0
    report.check(
        name,
        f'mismatched pair: {RELOADS}{{result="error"}} rises and {READY} is 0',
        f"+{mismatch['reload_errors']:g}, ready {mismatch['ready_gauge']:g}",
        raised,
        hard=True,
    )
    recovery = result["recovery"]
    report.check(
        name,
        "a good pair afterwards: new serial served and /readyz 200 again",
        f"serial after {secs(recovery['new_serial_after_s'])}, ready after {secs(recovery['ready_after_s'])}",
        recovered_serial is not None and recovered_ready is not None,
        hard=True,
    )


# --------------------------------------------------------------------------------------------------
# 3. Oversized bodies


@dataclass
class BodyAnswer:
    status: int | str  # HTTP status, or how the connection ended without one
    answered_s: float | None  # from the first byte sent to the answer's first byte
    sent_bytes: int  # body bytes sent when the answer arrived (or the connection broke)
    message: str = ""


def read_http_answer(sock: ssl.SSLSocket, data: bytes = b"") -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 answer (Content-Length framed); ``data``: bytes already read."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before an answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(ln.split(b":")[1]) for ln in lines if ln.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), body


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


def oversized_case(
    server: bench.Server, context: ssl.SSLContext, size: int, count: int, chunked: bool
) -> JsonObj:
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


def bodies_case(
    env: bench.Env, scenario: bench.Scenario, size: int, count: int, chunked: bool, rounds: int
) -> JsonObj:
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


def scenario_bodies(env: bench.Env, opts: Options, report: Report, scenario: bench.Scenario) -> None:
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
        bench.progress(
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


# --------------------------------------------------------------------------------------------------
# 4. Slow and idle clients


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


def fresh_connection_latency(server: bench.Server, scenario: bench.Scenario, count: int) -> list[float]:
    """Seconds per review on a new connection each (TCP + TLS handshake + review), one at a time."""
    times = []
    for _ in range(count):
        began = time.monotonic()
        status, _body = server.post(scenario.body)
        if status != 200:
            raise OSError(f"HTTP {status} for a normal review")
        times.append(time.monotonic() - began)
    return times


def latency_point(env: bench.Env, server: bench.Server, scenario: bench.Scenario) -> JsonObj:
    """Three 2 s wrk runs (8 connections; medians reported), then 100 reviews on new connections."""
    own = time.process_time()  # this process's CPU: the held connections' watcher competes for the cores
    runs = [bench.run_wrk(env, server, scenario, 8, 1, 2, pinned=False) for _ in range(3)]
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


def scenario_slow(env: bench.Env, opts: Options, report: Report, scenario: bench.Scenario) -> None:
    name = "slow"
    idle = opts.slow_connections // 2
    slow = opts.slow_connections - idle
    extra = ["--idle-timeout", f"{opts.idle_timeout:g}", "--request-timeout", f"{opts.request_timeout:g}"]
    with fresh_server(env, extra) as server:
        baseline = latency_point(env, server, scenario)
        bench.progress(f"slow: baseline p50 {baseline['p50_ms']:.2f} ms p99 {baseline['p99_ms']:.2f} ms")
        crowd = Crowd(server.port, server.context)
        opened = time.monotonic()
        crowd.open(idle, slow, opts.tcp_only)
        open_s = time.monotonic() - opened
        crowd.start()
        rss_with = rss_mib(server.pid)
        loaded = latency_point(env, server, scenario)
        still_open = crowd.open_count()
        bench.progress(
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


# --------------------------------------------------------------------------------------------------
# 5. Overload


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
    scenario: bench.Scenario,
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

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
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


def overload_point(env: bench.Env, opts: Options, scenario: bench.Scenario, point: OverloadPoint) -> JsonObj:
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


def expiry_check(server: bench.Server, scenario: bench.Scenario) -> JsonObj:
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


def scenario_overload(
    env: bench.Env, opts: Options, report: Report, scenarios: dict[str, bench.Scenario]
) -> None:
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
        bench.progress(f"overload, {planned.label}: {json.dumps(points[-1]['kinds'])}")
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


# --------------------------------------------------------------------------------------------------
# Report


def _shutdown_section(result: JsonObj, opts: Options) -> list[str]:
    out = [
        "## 1. Graceful shutdown under load",
        "",
        f"wrk, 32 connections (2 threads), scenario 1-pod-rs with every answer checked (admission.lua);"
        f" SIGTERM after {opts.lead:g} s of load; `--drain-seconds {opts.drain_seconds:g}`. The load stops"
        f" {opts.endpoint_lag:g} s after /readyz first answers non-200 (polled every 20 ms on its own"
        " connection): kube-apiserver stops calling a pod once the endpoints controller has removed it.",
        "",
        "| run | requests | good | failed (bad + socket errors) | reviews answered after SIGTERM |"
        " SIGTERM → /readyz non-200 | SIGTERM → load stopped | SIGTERM → exit | exit code |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, run in enumerate(result["runs"], 1):
        during = run["reviews_during_drain"]
        out.append(
            f"| {n} | {run['requests']:,} | {run['good']:,} | {run['failures']:,} |"
            f" {'n/a' if during is None else f'{during:,.0f}'} | {ms(run['unready_after_s'])} |"
            f" {secs(run['load_stopped_after_s'])} | {secs(run['exit_after_s'])} | {run['exit_code']} |"
        )
    naive = result["naive"]
    out += [
        "",
        "For contrast, a client that ignores readiness and keeps all 32 connections busy until the process"
        f" has exited (wrk stopped at the exit): {naive['requests']:,} requests, {naive['good']:,} good,"
        f" {naive['bad']} wrong answers; {naive['cut']} requests lost on connections the server closed"
        f" when the drain ended (wrk read/write errors) and {naive['refused']} connection attempts refused"
        " after it;"
        f" exit {naive['exit_code']} after {secs(naive['exit_after_s'])}. This is why the drain must outlast"
        " the endpoints' reaction to readiness.",
        "",
    ]
    return out


def _rotation_section(r: JsonObj) -> list[str]:
    delays = [d for d in r["delays_s"] if d is not None]
    keep, churn = r["wrk_keepalive"], r["wrk_new_connection_per_request"]
    mismatch, recovery = r["mismatch"], r["recovery"]
    rows = [
        (
            "load",
            f"{r['load_seconds']:.1f} s of wrk: 24 keep-alive connections"
            f" ({int(keep['requests']):,} requests, {failures(keep)} failed) + 8 with a new TLS"
            f" handshake per request ({int(churn['requests']):,} requests, {failures(churn)} failed)",
        ),
        (
            "verifying handshakes (a new connection every 20 ms, CA and name checked)",
            f"{r['handshakes_probed']:,}, {r['handshake_error_count']} failed",
        ),
        (
            f"{r['rotations']} rotations: `..data` switch → a new handshake completes with the new serial",
            (
                f"median {secs(statistics.median(delays))}, max {secs(max(delays))}"
                f" ({', '.join(f'{d:.2f}' for d in delays)} s;"
                f" the server polls every {r['cert_poll_seconds']:g} s)"
                if delays
                else "never"
            ),
        ),
        (
            f'{RELOADS}{{result="ok"}} over the rotations',
            f"+{r['reloads_ok']:g}; expiry gauge = the served certificate's notAfter:"
            f" {'yes' if r['expiry_gauge_follows'] else 'NO'}",
        ),
        (
            "/readyz during good rotations (polled every 50 ms)",
            ", ".join(r["readiness_states_during_good_rotations"]),
        ),
        (
            "mismatched key and certificate: serials served afterwards",
            "the old one only" if mismatch["still_old_serial"] else ", ".join(mismatch["serials_served"]),
        ),
        ("mismatched pair: switch → /readyz non-200", secs(mismatch["unready_after_s"])),
        ("mismatched pair: /readyz body", f"`{mismatch['readyz_body'][:150]}`"),
        (
            "mismatched pair: metrics",
            f'{RELOADS}{{result="error"}} +{mismatch["reload_errors"]:g},'
            f" {READY} {mismatch['ready_gauge']:g}",
        ),
        (
            "a good pair after the mismatch",
            f"new serial after {secs(recovery['new_serial_after_s'])}, /readyz 200 after"
            f" {secs(recovery['ready_after_s'])}",
        ),
    ]
    return [
        "## 2. Certificate rotation under load",
        "",
        "The server reads `tls.crt`/`tls.key` from a folder laid out like a kubelet Secret volume (`..data`"
        " symlink to a timestamped folder, replaced by an atomic rename); new leaves from the same CA.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {a} | {b} |" for a, b in rows),
        "",
    ]


def _bodies_section(r: JsonObj) -> list[str]:
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


def _slow_section(r: JsonObj) -> list[str]:
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


def _overload_section(r: JsonObj) -> list[str]:
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


def render(report: Report, opts: Options) -> str:
    m = report.meta
    out = [
        "# sidecar-injector reliability figures",
        "",
        f"- date: {m.get('date')}; command: `{m.get('command')}`",
        f"- machine: {m.get('cores')} cores, {m.get('cpu_model')}, Linux {m.get('kernel')}; Python"
        f" {m.get('python')}; {m.get('wrk_version')}",
        f"- code: commit {m.get('commit')}",
        "- server: `sidecar-injector serve --cert … --key … --templates examples --log-format json` plus the"
        " flags given per scenario, a fresh process per scenario, unpinned (clients share the 2 cores);"
        " every client verifies the certificate (CA and name)",
        "",
    ]
    r = report.results
    if "shutdown" in r and "runs" in r["shutdown"]:
        out += _shutdown_section(r["shutdown"], opts)
    if "rotation" in r and "mismatch" in r["rotation"]:
        out += _rotation_section(r["rotation"])
    if "bodies" in r and "cases" in r["bodies"]:
        out += _bodies_section(r["bodies"])
    if "slow" in r and "groups" in r["slow"]:
        out += _slow_section(r["slow"])
    if "overload" in r and "points" in r["overload"]:
        out += _overload_section(r["overload"])
    if "hostile" in r and "patterns" in r["hostile"]:
        out += hostile_scenario.section(r["hostile"])
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


def scenario_template_bomb(env: bench.Env, opts: Options, report: Report, scenario: bench.Scenario) -> None:
    """Issue 16 A: a 700-byte "billion laughs" template (aliases 8 levels deep, 9 wide, ending in a
    schema error) beside the examples: time to ready, peak RSS, log size; reviews still answered."""
    folder = env.work / "bomb-templates"
    folder.mkdir(exist_ok=True)
    lines = [
        "initContainers:",
        "- {name: l0, image: i, args: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]}",
    ]
    lines += [
        f"- {{name: l{n}, image: i, args: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]}}" for n in range(1, 8)
    ]
    lines += ["containers: [{name: c, image: i, args: *l7}]"]
    (folder / "bomb.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: lol, labels: {sidecar-injector.io/template: 'true'}}\n"
        "data:\n  template: |\n" + "".join(f"    {line}\n" for line in lines)
    )
    with bench.running(env, [bench.EXAMPLES, folder], pinned=False) as (server, ready):
        bench.check_answer(server, scenario)
        peak, log_bytes = rss_mib(server.pid, "VmHWM"), server.log.stat().st_size
    report.results["template-bomb"] = {"ready_s": ready, "peak_rss_mib": peak, "log_bytes": log_bytes}
    bench.progress(f"template-bomb: ready {ready:.2f} s, peak RSS {peak:.0f} MiB, log {log_bytes} B")
    report.check("template-bomb", "ready within 5 s beside the template", secs(ready), ready < 5, hard=False)
    report.check("template-bomb", "peak RSS below 150 MiB", f"{peak:.0f} MiB", peak < 150, hard=False)
    report.check("template-bomb", "server log below 64 KiB", f"{log_bytes} B", log_bytes < 65536, hard=True)


# --------------------------------------------------------------------------------------------------
# 6. Hostile clients (bench/hostile_scenario.py)


def scenario_hostile(env: bench.Env, opts: Options, report: Report) -> None:
    name = "hostile"
    rows = []
    for pattern in hostile_scenario.CLASSES:
        with fresh_server(env) as server:
            row = hostile_scenario.one_pattern(server, pattern, opts.hostile_seconds, scrape)
            bench.progress(
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
        burst = hostile_scenario.bursts(server, opts.burst_rounds, opts.burst_connections)
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


# --------------------------------------------------------------------------------------------------
# Entry point


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
    chosen = tuple(args.only.split(",")) if args.only else SCENARIOS
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


def run_scenarios(
    env: bench.Env, opts: Options, report: Report, scenarios: dict[str, bench.Scenario]
) -> None:
    small = scenarios["1-pod-rs"]
    plan: dict[str, Callable[[], None]] = {
        "shutdown": lambda: scenario_shutdown(env, opts, report, small),
        "rotation": lambda: scenario_rotation(env, opts, report, small),
        "bodies": lambda: scenario_bodies(env, opts, report, small),
        "slow": lambda: scenario_slow(env, opts, report, small),
        "overload": lambda: scenario_overload(env, opts, report, scenarios),
        "hostile": lambda: scenario_hostile(env, opts, report),
        "template-bomb": lambda: scenario_template_bomb(env, opts, report, small),
    }
    for key in opts.scenarios:
        bench.progress(f"== {key}")
        report.results.setdefault(key, {})
        try:
            plan[key]()
        except (bench.BenchError, subprocess.CalledProcessError) as exc:
            report.setup_failures.append(f"{key}: {exc}")
            bench.progress(f"{key}: setup failure: {exc}")
        except Exception as exc:  # a server that died or stopped answering mid-scenario
            traceback.print_exc()
            report.results[key]["error"] = repr(exc)
            report.check(key, "the scenario ran to its end", f"{type(exc).__name__}: {exc}", False, hard=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    opts = parse_options(argv[1:])
    # The servers (and the certificates issued here) use the webhook/ package next to this script,
    # whatever the venv's editable install points at.
    repo = str(bench.REPO)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, repo)
    started = time.monotonic()
    report = Report()
    try:
        env, scenarios = bench.prepare()
        report.meta = bench.machine_meta(env, argv)
    except (bench.BenchError, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"reliability: setup failure: {exc}", file=sys.stderr)
        return 2
    code = bench.code_fingerprint()
    report.meta["notes"] = []
    try:
        run_scenarios(env, opts, report, scenarios)
    finally:
        if bench.code_fingerprint() != code:
            report.meta["notes"].append(
                f"**webhook/ changed during this run** (fingerprint {code} → {bench.code_fingerprint()}):"
                " scenarios may have run different code; re-run"
            )
        text = render(report, opts)
        bench.RESULTS.mkdir(exist_ok=True)
        (bench.RESULTS / "reliability.md").write_text(text)
        raw: JsonObj = {
            "meta": report.meta,
            "options": asdict(opts),
            "results": report.results,
            "checks": [asdict(c) for c in report.checks],
            "setup_failures": report.setup_failures,
        }
        (bench.RESULTS / "reliability.json").write_text(json.dumps(raw, indent=1, default=str))
        shutil.rmtree(env.work, ignore_errors=True)
    print(text)
    print(f"(written to {bench.RESULTS / 'reliability.md'}; {time.monotonic() - started:.0f} s)")
    if report.violations:
        print(f"reliability: {len(report.violations)} zero-failure expectations violated", file=sys.stderr)
        return 1
    return 2 if report.setup_failures else 0


if __name__ == "__main__":
    sys.exit(main())
