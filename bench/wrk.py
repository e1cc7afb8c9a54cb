"""wrk with bench/admission.lua, which checks every answer: timed runs, and load in the background.

admission.lua prints one ``BENCH key=value ...`` line: requests, good, shed and bad answers, socket
errors and wrk's latency percentiles (see bench/README.md). Shed answers are the server's designed
load shedding (a 503 with one of its overload refusals): bench/run.py's matrix reports them apart from
failures (``Run``); every other script counts them as failures (``failures``), as its load should
never be shed.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from dataclasses import dataclass

from bench.common import LUA, BenchError
from bench.environment import Env
from bench.reviews import Scenario
from bench.server import Server

COUNT_KEYS = ("requests", "good", "shed", "bad", "bad_status", "bad_uid", "bad_allowed", "bad_patch")
SOCKET_KEYS = ("connect", "read", "write", "status", "timeout")
# wrk's own "status" (answers with a status of 400 or more) counts shed and bad_status answers again.
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


@dataclass
class Run:
    values: dict[str, float]
    cpu_seconds: float
    rss_kib: int
    hwm_kib: int

    @property
    def failures(self) -> int:
        """Bad answers and socket errors; shed answers are not failures here (see ``shed``)."""
        return int(self.values["bad"]) + socket_errors(self.values)

    @property
    def shed(self) -> int:
        """503s with one of the server's overload refusals: designed load shedding."""
        return int(self.values["shed"])

    @property
    def rps(self) -> float:
        """Good admissions per second: shed and bad answers are not admissions served."""
        return self.values["good"] / (self.values["duration_us"] / 1e6)

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_seconds * 1000 / max(self.values["requests"], 1)


def wrk_command(
    env: Env,
    server: Server,
    scenario: Scenario,
    conns: int,
    threads: int,
    duration: float,
    pinned: bool,
    *,
    connection_close: bool = False,
) -> list[str]:
    """wrk posting ``scenario`` through admission.lua; ``connection_close``: a new connection per request."""
    command = [
        env.wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"https://127.0.0.1:{server.port}/mutate",
        "--",
        str(env.bodies[scenario.key]),
        scenario.uid,
        scenario.expect,
    ]
    if connection_close:
        command.append("close")
    return ["taskset", "-c", "1", *command] if pinned else command


def parse_bench_line(stdout: str) -> dict[str, float] | None:
    """The values of admission.lua's ``BENCH key=value ...`` line, or None if wrk printed none.

    A line without every count and socket key (an admission.lua of another version) is a BenchError:
    a missing counter must not read as zero answers of that kind."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        return None
    values = {key: float(value) for key, value in (pair.split("=") for pair in line.split()[1:])}
    missing = [key for key in (*COUNT_KEYS, *SOCKET_KEYS, "duration_us") if key not in values]
    if missing:
        raise BenchError(f"BENCH line without {', '.join(missing)}: {line}")
    return values


def run_wrk(
    env: Env, server: Server, scenario: Scenario, conns: int, threads: int, duration: float, pinned: bool
) -> Run:
    command = wrk_command(env, server, scenario, conns, threads, duration, pinned)
    cpu_before = server.cpu_seconds()
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    cpu_after = server.cpu_seconds()
    values = parse_bench_line(result.stdout)
    if result.returncode != 0 or values is None:
        raise BenchError(
            f"wrk failed ({result.returncode}): {shlex.join(command)}\n{result.stdout}{result.stderr}"
        )
    return Run(values, cpu_after - cpu_before, server.rss_kib(), server.hwm_kib())


class WrkLoad:
    """wrk with bench/admission.lua in the background until stopped: SIGINT makes wrk stop, report
    and print the BENCH line (requests in flight at that moment are neither good nor failed)."""

    def __init__(
        self,
        env: Env,
        server: Server,
        scenario: Scenario,
        conns: int,
        threads: int,
        *,
        close: bool = False,
        duration: float = 3600.0,
    ) -> None:
        self.command = wrk_command(
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
        values = parse_bench_line(out)
        if values is None:
            raise BenchError(f"wrk printed no result: {shlex.join(self.command)}\n{out}{err}")
        return values


def failures(values: dict[str, float]) -> int:
    """Every request of one wrk run not answered well: bad and shed answers (admission.lua) plus
    socket errors. The verdict of the scripts whose load the server should never shed (shutdown,
    rotation, slow clients, events, profile); bench/run.py's matrix counts shed apart (``Run``)."""
    return wrong_answers(values) + socket_errors(values)


def wrong_answers(values: dict[str, float]) -> int:
    """Answers that were not a good admission, shed ones included (see ``failures``)."""
    return int(values["bad"] + values["shed"])


def socket_errors(values: dict[str, float]) -> int:
    return int(sum(values[k] for k in SOCKET_ERRORS))
