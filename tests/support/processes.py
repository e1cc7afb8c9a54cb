"""Start the real CLI in a subprocess and wait for it, the way an operator (or the image) does."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhook", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        check=check,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class IssuedCertificate:
    """A CA and serving certificate from `sidecar-injector certs generate`, valid for localhost."""

    directory: Path

    @property
    def server_args(self) -> list[str]:
        return ["--cert", str(self.directory / "tls.crt"), "--key", str(self.directory / "tls.key")]

    def client_context(self) -> ssl.SSLContext:
        """What kube-apiserver does: trust only the caBundle, verify the name."""
        return ssl.create_default_context(cafile=str(self.directory / "ca.crt"))


def issue_certificate(directory: Path, service: str = "s", namespace: str = "n") -> IssuedCertificate:
    cli(
        "certs",
        "generate",
        "--service",
        service,
        "--namespace",
        namespace,
        "--out",
        str(directory),
        "--extra-name",
        "localhost",
        "--extra-name",
        "127.0.0.1",
    )
    return IssuedCertificate(directory)


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    port: int
    metrics_port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@contextmanager
def running_server(
    args: Sequence[str],
    tmp_path: Path,
    ready_context: ssl.SSLContext | None = None,
    executable: Sequence[str] | None = None,
) -> Iterator[RunningServer]:
    port, metrics_port = free_port(), free_port()
    if "--drain-seconds" not in args:  # tests that do not study shutdown need not wait for a drain
        args = [*args, "--drain-seconds", "0.2"]
    log_path = tmp_path / f"server-{port}.log"
    command = [
        *(executable or [sys.executable, "-m", "webhook"]),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        *args,
    ]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = RunningServer(process, port, metrics_port, log_path)
    try:
        wait_until_healthy(server, ready_context)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def https_request(
    method: str, url: str, verify: ssl.SSLContext | bool, sni: str, timeout: float = 10, **kwargs: object
) -> httpx.Response:
    """A request to 127.0.0.1 that presents and verifies ``sni`` as the server's name (like a Service DNS name)."""
    with httpx.Client(verify=verify, timeout=timeout) as client:
        return client.request(method, url, extensions={"sni_hostname": sni}, **kwargs)  # type: ignore[arg-type]


def wait_until_healthy(server: RunningServer, context: ssl.SSLContext | None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    verify: ssl.SSLContext | bool = context if context is not None else False
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            response = https_request(
                "GET", f"https://127.0.0.1:{server.port}/healthz", verify, "localhost", timeout=2
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not healthy within {timeout} s:\n{server.log()}")
