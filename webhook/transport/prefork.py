"""``serve --workers N``: N server processes sharing one listening socket, one /metrics for all.

A single Python process uses one core; the chart's replicas scale across nodes, and workers scale
one pod across its cores. The parent binds the admission port, forks the workers (each a complete
server: its own template sources, certificate reloader and event loop), serves /metrics summed over
the workers (prometheus-client's multiprocess mode), forwards SIGTERM so each worker drains, and
exits with the first failure. A worker that dies unexpectedly stops the pod, and the kubelet
restarts it: no half-capacity pod keeps passing its probes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from dataclasses import replace
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from webhook.metrics import enable_multiprocess
from webhook.settings import Settings
from webhook.transport.listening import ListenError, listen

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

WorkerMain = Callable[[Settings, socket.socket, socket.socket | None], int]
"""A worker's main: its settings, the admission socket and the probe socket (if --probe-port)."""


def serve_workers(settings: Settings, worker_main: WorkerMain) -> int:
    try:
        sock = listen(settings.host, settings.port, "--port")
        probe = listen(settings.host, settings.probe_port, "--probe-port") if settings.probe_port else None
    except ListenError as exc:
        log.error("cannot start: %s", exc)
        return 1
    metrics_dir = tempfile.mkdtemp(prefix="sidecar-injector-metrics-")
    enable_multiprocess(metrics_dir)
    workers = Workers(_fork(settings, worker_main, sock, probe))
    sock.close()
    if probe is not None:
        probe.close()
    log.info("started %d workers: %s", len(workers.pids), ", ".join(map(str, workers.pids)))
    signal.signal(signal.SIGTERM, workers.forward)
    signal.signal(signal.SIGINT, workers.forward)
    # SIGHUP, SIGUSR1 and SIGUSR2 stay ignored here (webhook.signals): a handler that
    # logs could interrupt this thread inside a log write of its own.
    status = 0
    metrics_server = None
    if settings.metrics_port:
        try:
            metrics_server = _serve_metrics(settings, metrics_dir)
        except OSError as exc:
            log.error(
                "cannot start: port %d (--metrics-port): %s", settings.metrics_port, exc.strerror or exc
            )
            status = 1
            workers.forward(signal.SIGTERM, None)
    failed = workers.wait(metrics_dir)
    status = status or failed
    if metrics_server is not None:
        metrics_server.shutdown()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _fork(
    settings: Settings, worker_main: WorkerMain, sock: socket.socket, probe: socket.socket | None
) -> list[int]:
    worker_settings = replace(settings, metrics_port=0)
    # The Pod watch and the rolling updater are per pod, not per worker: the first worker runs them.
    others = replace(worker_settings, watch_pods=False, rollout_updater=False)
    pids = []
    parent = os.getpid()
    for index in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            code = 1
            try:
                _terminate_with(parent)
                code = worker_main(worker_settings if index == 0 else others, sock, probe)
            finally:
                os._exit(code)
        pids.append(pid)
    return pids


def _terminate_with(parent: int) -> None:
    """Ask Linux for SIGTERM when the parent dies, so a parent killed outright (SIGKILL, outside a
    container's PID namespace) leaves no worker serving the port on its own; they drain and exit."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _serve_metrics(settings: Settings, metrics_dir: str) -> WSGIServer:
    """/metrics summed over the workers' files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
    server, _ = start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
    return server


class Workers:
    """The forked workers: signals are forwarded to them, and the first failure stops the others."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.stopping = False

    def forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def wait(self, metrics_dir: str) -> int:
        """Until every worker has exited; the exit status of the first that failed, else 0."""
        status = 0
        remaining = set(self.pids)
        while remaining:
            pid, wait_status = os.wait()
            remaining.discard(pid)
            mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]
            code = os.waitstatus_to_exitcode(wait_status)
            if code != 0 or not self.stopping:
                log.error("worker %d exited with %d; stopping the others", pid, code)
                status = status or code or 1
                self.forward(signal.SIGTERM, None)
        return status
