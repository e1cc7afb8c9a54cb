"""Scenario 1 of bench/reliability.py: SIGTERM under load.

32 wrk connections; after SIGTERM the load stops ``--endpoint-lag`` seconds after /readyz fails, as
kube-apiserver stops calling a pod once the endpoints controller has dropped it. Then one run with a
client that ignores readiness, for contrast.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress

from bench.checks import Options, Report
from bench.common import JsonObj, progress
from bench.environment import Env
from bench.probes import ReadinessPoller
from bench.report import ms, secs
from bench.reviews import Scenario
from bench.scraping import REVIEWS, metric_sum, scrape
from bench.server import fresh_server
from bench.wrk import WrkLoad, failures, socket_errors, wrong_answers


def one_shutdown(env: Env, opts: Options, scenario: Scenario, *, model: bool) -> JsonObj:
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
        # A shed answer is a wrong one here too: 32 connections stay under every limit of the server.
        "bad": wrong_answers(values),
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


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    scenario = scenarios["1-pod-rs"]
    runs = []
    for n in range(opts.shutdowns):
        run = one_shutdown(env, opts, scenario, model=True)
        runs.append(run)
        progress(
            f"shutdown #{n + 1}: {run['good']:,}/{run['requests']:,} good, {run['failures']} failed, "
            f"unready after {ms(run['unready_after_s'])}, exit {run['exit_code']} after "
            f"{secs(run['exit_after_s'])}"
        )
    naive = one_shutdown(env, opts, scenario, model=False)
    progress(
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


def section(result: JsonObj, opts: Options) -> list[str]:
    if "runs" not in result:
        return []
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
