"""One ``sidecar-injector serve`` process, started as the image starts it, and what is asked of it."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from bench.common import EXAMPLES, REPO, BenchError
from bench.environment import Env, code_fingerprint
from bench.procfs import process_tree, read_cpu_seconds, read_status_kib
from bench.reviews import Scenario
from tests.support.processes import free_port


class Server:
    """One ``sidecar-injector serve`` process, as the image starts it, optionally pinned to core 0."""

    def __init__(
        self,
        env: Env,
        templates: Sequence[Path],
        *,
        pinned: bool,
        workers: int | None = None,
        certs: Path | None = None,
        extra_args: Sequence[str] = (),
    ):
        """``certs``: a folder with tls.crt, tls.key and ca.crt (default: the one ``prepare()`` made);
        ``extra_args`` are appended to the ``serve`` command line."""
        self.env = env
        self.port, self.metrics_port = free_port(), free_port()
        self.log = env.log_path()
        certs = certs or env.certs
        command = [
            str(env.entrypoint),
            "serve",
            "--cert",
            str(certs / "tls.crt"),
            "--key",
            str(certs / "tls.key"),
            *[arg for folder in templates for arg in ("--templates", str(folder))],
            "--log-format",
            "json",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
        ]
        if workers is not None:
            command += ["--workers", str(workers)]
        command += extra_args
        if pinned:
            command = ["taskset", "-c", "0", *command]
        self.command = command
        self.context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        self.process: subprocess.Popen[bytes] | None = None
        self.code = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> float:
        """Spawn and poll /readyz; returns seconds from spawn to the first 200."""
        self.code = code_fingerprint()
        with self.log.open("wb") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                self.command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.get("/readyz") == 200:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise BenchError(f"server not ready within {timeout} s:\n{self.log_tail()}")

    def get(self, path: str) -> int | None:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def post(self, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=10)
        try:
            connection.request("POST", "/mutate", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def pids(self) -> list[int]:
        return process_tree(self.pid)

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            with suppress(OSError):
                total += read_cpu_seconds(pid)
        return total

    def rss_kib(self) -> int:
        return sum(read_status_kib(pid, "VmRSS") for pid in self.pids())

    def hwm_kib(self) -> int:
        return sum(read_status_kib(pid, "VmHWM") for pid in self.pids())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, keep_log: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if not keep_log:
            self.log.unlink(missing_ok=True)


@contextmanager
def running(
    env: Env,
    templates: Sequence[Path],
    *,
    pinned: bool,
    workers: int | None = None,
    certs: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[tuple[Server, float]]:
    server = Server(env, templates, pinned=pinned, workers=workers, certs=certs, extra_args=extra_args)
    ok = False
    try:
        ready = server.start()
        yield server, ready
        ok = True
    finally:
        server.stop(keep_log=not ok)


@contextmanager
def fresh_server(env: Env, extra_args: Sequence[str] = (), certs: Path | None = None) -> Iterator[Server]:
    """A new ``serve`` process (unpinned: clients and server share both cores)."""
    with running(env, [EXAMPLES], pinned=False, certs=certs, extra_args=extra_args) as (
        server,
        _ready,
    ):
        yield server


def log_problems(server: Server) -> list[str]:
    """Error lines and tracebacks in the server's log (warnings are expected in some scenarios)."""
    try:
        text = server.log.read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if '"level": "error"' in ln or '"level": "critical"' in ln]


def check_answer(server: Server, scenario: Scenario) -> tuple[int, int]:
    """One request outside wrk: a readable error if the answer is wrong; returns (ops, response bytes)."""
    status, body = server.post(scenario.body)
    if status != 200:
        raise BenchError(f"{scenario.key}: HTTP {status}: {body[:300]!r}")
    response = json.loads(body)["response"]
    if response.get("uid") != scenario.uid or response.get("allowed") is not True:
        raise BenchError(f"{scenario.key}: wrong answer: {body[:300]!r}")
    if ("patch" in response) != scenario.expect_patch:
        raise BenchError(f"{scenario.key}: patch expected={scenario.expect_patch}: {body[:300]!r}")
    ops = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return len(ops), len(body)
