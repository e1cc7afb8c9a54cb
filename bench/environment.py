"""What a benchmark run needs before it measures: the console script, wrk, a work folder with a
certificate from ``certs generate`` and the review bodies on disk, and the machine's description."""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO, BenchError, JsonObj
from bench.machine import idle_policy
from bench.reviews import Scenario, scenario_bodies


def code_fingerprint() -> str:
    """Hash of webhook/'s sources: tells whether every server of a run executed the same code."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "webhook").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".json"):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:8]


def find_entrypoint() -> Path:
    """The ``sidecar-injector`` console script of this environment, installed editable if absent."""
    candidates = [Path(sys.executable).parent / "sidecar-injector"]
    which = shutil.which("sidecar-injector")
    if which:
        candidates.append(Path(which))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    if sys.prefix == sys.base_prefix:
        raise BenchError("sidecar-injector is not installed: activate the venv and `pip install -e .`")
    print("bench: installing the project into this venv (pip install -e .)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", str(REPO)], check=True)
    return candidates[0]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("wrk is missing: install it (apt-get install -y wrk) or run this script as root")
    print("bench: wrk not found; running apt-get install -y wrk", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get did not provide wrk")
    return found


@dataclass
class Env:
    entrypoint: Path
    wrk: str
    work: Path
    certs: Path
    can_pin: bool
    bodies: dict[str, Path] = field(default_factory=dict)
    _logs: int = 0

    def log_path(self) -> Path:
        self._logs += 1
        return self.work / f"server-{self._logs}.log"


def prepare() -> tuple[Env, dict[str, Scenario]]:
    """Tools, a work folder, a certificate from ``certs generate`` and the review bodies on disk."""
    entrypoint = find_entrypoint()
    wrk = ensure_wrk()
    cores = os.cpu_count() or 1
    can_pin = cores >= 2 and shutil.which("taskset") is not None
    if not can_pin:
        print("bench: fewer than 2 cores or no taskset: running unpinned only", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-"))
    env = Env(entrypoint, wrk, work, work / "certs", can_pin)
    certs = f"certs generate --service sidecar-injector --namespace bench --out {env.certs}"
    subprocess.run(
        [str(entrypoint), *shlex.split(certs), "--extra-name", "localhost", "--extra-name", "127.0.0.1"],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    scenarios = {s.key: s for s in scenario_bodies()}
    for scenario in scenarios.values():
        path = work / f"{scenario.key}.json"
        path.write_bytes(scenario.body)
        env.bodies[scenario.key] = path
    return env, scenarios


def machine_meta(env: Env, argv: Sequence[str]) -> JsonObj:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    interpreter = env.entrypoint.read_text().splitlines()[0].removeprefix("#!").strip()
    probe = (
        "import importlib.metadata as m, platform\n"
        "names = ['uvicorn', 'uvloop', 'httptools', 'orjson', 'prometheus_client']\n"
        "def v(n):\n"
        "    try:\n        return m.version(n)\n    except m.PackageNotFoundError:\n        return 'absent'\n"
        "print(platform.python_version()); print(', '.join(f'{n} {v(n)}' for n in names))\n"
        "from webhook.build_info import core_build\nprint(core_build())\n"
    )
    found = subprocess.run([interpreter, "-c", probe], capture_output=True, text=True, timeout=60)
    python_version, versions, core = [*found.stdout.splitlines(), "?", "?", "?"][:3]
    wrk_version = subprocess.run([env.wrk, "-v"], capture_output=True, text=True).stdout.splitlines()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "webhook"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + shlex.join(argv),
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "idle": idle_policy(),
        "python": python_version,
        "core": core,  # compiled by mypyc (scripts/compile-core) or interpreted
        "versions": versions,
        "wrk_version": " ".join(wrk_version[0].split()[:2]) if wrk_version else "wrk",
        "commit": (commit or "?")
        + (" (webhook/ modified)" if dirty else "")
        + f", webhook/ source fingerprint {code_fingerprint()}",
        "server_command": "sidecar-injector serve --cert tls.crt --key tls.key --templates examples "
        "--log-format json --host 127.0.0.1 --port P --metrics-port M",
    }
