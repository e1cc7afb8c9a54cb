"""``serve`` with no flags, as a first-time user runs it: loopback only, an honest banner, a clean exit."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import REPO, free_port, issue_certificate

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port``, from the kernel's own tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@contextmanager
def local_serve(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "webhook", "serve", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_for(log: Path, process: subprocess.Popen[str], text: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content or process.poll() is not None:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared:\n{log.read_text()}")


def test_a_local_trial_binds_loopback_announces_only_open_ports_and_cleans_up_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port, metrics_port = free_port(), free_port()
    with local_serve(tmp_path, "--port", str(port), "--metrics-port", str(metrics_port)) as (process, log):
        banner = wait_for(log, process, "curl ")
        # The banner comes only once both ports accept connections.
        for open_port in (port, metrics_port):
            socket.create_connection(("127.0.0.1", open_port), timeout=5).close()
        assert listening_addresses(port) == {"127.0.0.1"}
        assert listening_addresses(metrics_port) == {"127.0.0.1"}
        curl = shlex.split(next(line for line in banner.splitlines() if line.strip().startswith("curl ")))
        ca_folder = Path(curl[curl.index("--cacert") + 1]).parent
        assert ca_folder.is_dir()

        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    output = log.read_text()
    assert not ca_folder.exists(), "the generated certificate's folder is removed on exit"
    assert "serving for" not in output, "a local trial does not drain"
    lines = [re.sub(r"^\S+ \S+ ", "", line) for line in output.splitlines() if line.strip()]
    repeated = {line for line in lines if lines.count(line) > 1}
    assert not repeated, f"lines logged more than once: {repeated}"


@pytest.mark.parametrize("taken", ["--port", "--metrics-port"])
def test_a_taken_port_stops_serve_with_one_line_that_names_it_and_no_banner(
    taken: str, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    blocked = port if taken == "--port" else metrics_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", blocked))
        squatter.listen()
        with local_serve(tmp_path, "--port", str(port), "--metrics-port", str(metrics_port)) as (
            process,
            log,
        ):
            assert process.wait(60) == 1
    output = log.read_text()
    assert f"cannot start: port {blocked} ({taken}) is already in use on 127.0.0.1" in output
    assert "curl" not in output and "listening" not in output and "Traceback" not in output
    assert [line for line in output.splitlines() if "ERROR" in line] == [output.strip().splitlines()[-1]]


def test_a_taken_port_stops_the_workers_mode_with_the_same_line(tmp_path: Path) -> None:
    certificate = issue_certificate(tmp_path / "certs")
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        args = ["--workers", "2", *certificate.server_args, "--host", "127.0.0.1", "--port", str(port)]
        with local_serve(tmp_path, *args, "--metrics-port", "0") as (process, log):
            assert process.wait(60) == 1
    output = log.read_text()
    assert f"cannot start: port {port} (--port) is already in use on 127.0.0.1" in output
    assert "Traceback" not in output
