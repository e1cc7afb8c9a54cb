"""The container image's contents, proven without a Docker engine.

The Dockerfile's builder stage does three things: build the project wheel with webhook/core compiled
by mypyc, install the hash-locked requirements.lock into a pip-less venv, install the wheel with
--no-deps. These tests do the same with the same flags into a fresh venv (the build tools of
requirements-build.lock are the test environment's own), then start the console script the image's ENTRYPOINT runs
and stop it the way the kubelet does (SIGTERM), expecting a clean exit. The Dockerfile itself is
linted with hadolint and checked for the properties the chart relies on (numeric non-root user,
entry point, ports, nothing but /opt/venv carried into the final stage).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from webhook.build_info import compiled_modules

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements.lock"
# The exact pip invocations of the Dockerfile's builder stage (checked against it below).
LOCK_INSTALL = ["install", "--require-hashes", "--only-binary=:all:", "-r", "requirements.lock"]
WHEEL_INSTALL = ["install", "--no-deps"]
BUILD_TOOLS_INSTALL = "pip install --require-hashes --only-binary=:all: -r requirements-build.lock"
COMPILED_WHEEL = "SIDECAR_INJECTOR_COMPILE=1 pip wheel --no-deps --no-build-isolation"


def _missing(tool: str, remedy: str = "run `bash scripts/install-tools.sh` in the project venv") -> None:
    message = f"{tool} not found: {remedy}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _stages(text: str) -> list[list[str]]:
    """Dockerfile instructions per stage, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    stages: list[list[str]] = []
    for line in (raw.strip() for raw in joined.splitlines()):
        if not line:
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


# --- the Dockerfile, statically ------------------------------------------------------------------


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        _missing("hadolint")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_builds_on_a_pinned_base_and_runs_as_a_numeric_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.M), "base not pinned"
    builder, final = _stages(text)
    assert builder[0] == "FROM ${PYTHON_IMAGE} AS builder"
    assert final[0].startswith("FROM ${PYTHON_IMAGE}")
    assert "RUN python -m venv --without-pip /opt/venv" in builder
    assert any(" ".join(LOCK_INSTALL) in line for line in builder)
    assert f"RUN {BUILD_TOOLS_INSTALL}" in builder
    assert any(COMPILED_WHEEL in line and " ".join(WHEEL_INSTALL) in line for line in builder)
    copies = [line for line in final if line.startswith("COPY")]
    assert copies == ["COPY --from=builder /opt/venv /opt/venv"]
    assert not [line for line in final if line.startswith("RUN")], "the final stage installs nothing"
    assert "USER 65532:65532" in final
    assert "EXPOSE 8443 9090" in final
    assert 'ENTRYPOINT ["/opt/venv/bin/sidecar-injector"]' in final
    # serve alone would listen on 127.0.0.1 only (a local trial): the exposed ports would not answer.
    assert final[-1] == 'CMD ["serve", "--host", "0.0.0.0"]'


def test_the_docker_context_holds_what_the_dockerfile_copies() -> None:
    rules = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*", ".dockerignore is an allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    for line in _stages(DOCKERFILE.read_text())[0]:
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert source.rstrip("*") in allowed, f"{source} is excluded by .dockerignore"


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    text = LOCK.read_text()
    pinned = {
        m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, re.M)
    }
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")  # type: ignore[union-attr]
        assert name in pinned, f"{name} is in pyproject.toml but not in requirements.lock: regenerate it"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
    for block in blocks:
        if "==" in block:
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_build_tools_are_hash_locked_and_mypy_is_pinned() -> None:
    text = (REPO / "requirements-build.lock").read_text()
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if re.match(r"[A-Za-z0-9_.-]+==", b)]
    assert {b.split("==")[0] for b in blocks} >= {"mypy", "setuptools", "wheel"}
    for block in blocks:
        assert "--hash=sha256:" in block, block.splitlines()[0]


# --- the image's venv, built the Dockerfile's way ------------------------------------------------


def _pip(*args: str, compile_core: bool = False) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
        env={**os.environ, "SIDECAR_INJECTOR_COMPILE": "1" if compile_core else "0"},
    )
    assert result.returncode == 0, f"pip {' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which("cc") is None or not headers.exists():
        _missing("a C compiler (cc) or the Python headers", "install gcc and python3-dev (.ci/run does)")
    root = tmp_path_factory.mktemp("image")
    dist = root / "dist"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(REPO), compile_core=True)
    [wheel] = dist.glob("sidecar_injector-*.whl")
    venv = root / "opt-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    _pip("--python", python, *LOCK_INSTALL[:-1], str(LOCK))
    _pip("--python", python, *WHEEL_INSTALL, str(wheel))
    _pip("--python", python, "check")
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(image_venv: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    port, metrics_port = _free_port(), _free_port()
    # The image's environment: only the venv on PATH, an unrelated working directory, no HOME.
    env = {
        "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(image_venv / "bin" / "sidecar-injector"),
            "serve",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--drain-seconds",
            "1",
            "--log-format",
            "json",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, port, metrics_port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()
        print((tmp_path / "server.log").read_text(errors="replace")[-4000:])


def test_the_console_script_serves_https_and_stops_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[bytes], int, int],
) -> None:
    process, port, metrics_port = server
    deadline = time.monotonic() + 30
    status = None
    with httpx.Client(verify=False, timeout=2) as client:  # a self-signed certificate, generated at start
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the server exited early with {process.returncode}"
            try:
                status = client.get(f"https://127.0.0.1:{port}/healthz").status_code
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, "no 200 from /healthz within 30 s"
        assert client.get(f"https://127.0.0.1:{port}/readyz").status_code == 200
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
    assert metrics.status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_the_installed_console_script_reports_the_project_version(image_venv: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    result = subprocess.run(
        [str(image_venv / "bin" / "sidecar-injector"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert project["version"] in result.stdout
    # The wheel built the image's way carries the core as C extensions, and nothing else needs them.
    assert "core compiled by mypyc" in result.stdout


def test_the_wheel_compiles_every_module_on_the_compiled_list(image_venv: Path) -> None:
    """setup.py reads COMPILED_SOURCES from build_info.py: the image's wheel holds each as an extension."""
    probe = (
        "import importlib, importlib.machinery, sys\n"
        "for name in sys.argv[1:]:\n"
        "    loader = importlib.import_module(name).__spec__.loader\n"
        "    if not isinstance(loader, importlib.machinery.ExtensionFileLoader):\n"
        "        print('interpreted:', name)\n"
    )
    modules = compiled_modules(REPO)
    assert "webhook.server.handler" in modules
    result = subprocess.run(
        [str(image_venv / "bin" / "python"), "-c", probe, *modules],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",  # import the installed wheel, never the checkout
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", result.stdout
