"""What every bench/reliability.py scenario shares: the options, the report of checks (zero-failure
expectations and soft targets), and the check that the server survived."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.common import JsonObj, progress
from bench.server import Server, log_problems


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
            progress(f"{scenario}: {kind}: {expectation} (measured {measured})")

    @property
    def violations(self) -> list[Check]:
        return [c for c in self.checks if c.hard and not c.ok]


def check_alive(report: Report, scenario: str, server: Server) -> None:
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
