"""bench/run.py's plan: every throughput and latency point, startup, memory, churn and workers.

Each scenario gets a fresh server, a warm-up that is not reported, then every connection count
``--repeat`` times, interleaved (a point's runs are the repeats; the median is reported).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import EXAMPLES, LEGACY_TEMPLATE, REPO, BenchError, JsonObj, progress
from bench.environment import Env
from bench.reviews import Scenario, write_native_templates
from bench.server import Server, check_answer, running
from bench.wrk import Run, run_wrk


def point_name(section: str, scenario: str, pinning: str, workers: int, conns: int) -> str:
    """Where a point is, as the report names it: ``0-reference pinned c8``,
    ``workers 1-pod-rs unpinned w2 c8``."""
    where = "" if section == "main" else f"{section} "
    with_workers = f" w{workers}" if section == "workers" else ""
    return f"{where}{scenario} {pinning}{with_workers} c{conns}"


@dataclass
class Point:
    section: str
    scenario: str
    pinning: str
    conns: int
    threads: int
    runs: list[Run] = field(default_factory=list)
    workers: int = 1
    code: str = ""

    def median(self, metric: Callable[[Run], float]) -> float:
        return statistics.median(metric(run) for run in self.runs)

    @property
    def failures(self) -> int:
        """Bad answers and socket errors over the point's runs (shed answers are not failures)."""
        return sum(run.failures for run in self.runs)

    @property
    def shed(self) -> int:
        """Answers that were the server's designed load shedding (503 overload refusals)."""
        return sum(run.shed for run in self.runs)

    @property
    def name(self) -> str:
        return point_name(self.section, self.scenario, self.pinning, self.workers, self.conns)

    def summary(self) -> JsonObj:
        return {
            "section": self.section,
            "scenario": self.scenario,
            "pinning": self.pinning,
            "workers": self.workers,
            "code": self.code,
            "conns": self.conns,
            "wrk_threads": self.threads,
            "rps": self.median(lambda r: r.rps),
            "p50_ms": self.median(lambda r: r.values["p50_us"]) / 1000,
            "p90_ms": self.median(lambda r: r.values["p90_us"]) / 1000,
            "p99_ms": self.median(lambda r: r.values["p99_us"]) / 1000,
            "cpu_s_per_1k": self.median(lambda r: r.cpu_per_1k),
            "rss_mib": self.median(lambda r: r.rss_kib) / 1024,
            "hwm_mib": max(run.hwm_kib for run in self.runs) / 1024,
            "requests": sum(int(run.values["requests"]) for run in self.runs),
            "good": sum(int(run.values["good"]) for run in self.runs),
            "shed": self.shed,
            "failures": self.failures,
            "runs": [asdict(run) for run in self.runs],
        }


# The scenario that idle memory, connection churn, 1,000 templates and workers are measured with,
# as they were before the reference scenario came (so their figures stay comparable across runs).
BASELINE_KEY = "1-pod-rs"


@dataclass
class Options:
    duration: float
    repeat: int
    warmup: float
    conns: list[int]
    starts: int
    idle_seconds: float
    quick: bool
    scenarios: list[str]
    unpinned_scenarios: list[str]
    template_conns: list[int]
    worker_conns: list[int]
    churn: int
    load_only: bool = False
    """Only the scenarios under load, pinned when the machine can pin: no startup, memory, churn,
    1,000 templates or workers (for iterating on one scenario)."""

    def scenarios_keys(self) -> tuple[str, str, str]:
        """Scenario keys for the targets: the small pod, the 200 KiB pod, the pod not opted in."""
        return BASELINE_KEY, "2-pod-large", "4-pod-not-opted-in"


@dataclass
class Report:
    meta: JsonObj = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    answers: dict[str, JsonObj] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    churn: JsonObj = field(default_factory=dict)
    warmup_shed: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Warm-ups that shed load: (shed answers, requests) by where."""

    def shedding(self) -> list[tuple[str, int, int]]:
        """(point, shed answers, requests) of every point and warm-up where the server shed load."""
        points = [
            (p.name, p.shed, sum(int(r.values["requests"]) for r in p.runs)) for p in self.points if p.shed
        ]
        return points + [(where, shed, total) for where, (shed, total) in self.warmup_shed.items()]

    def find(self, section: str, scenario: str, pinning: str, conns: int, workers: int = 1) -> Point | None:
        for point in self.points:
            if (point.section, point.scenario, point.pinning, point.conns, point.workers) == (
                section,
                scenario,
                pinning,
                conns,
                workers,
            ):
                return point
        return None


def measure_points(
    env: Env,
    opts: Options,
    report: Report,
    server: Server,
    scenario: Scenario,
    *,
    section: str,
    pinned: bool,
    conns_list: Sequence[int],
    workers: int = 1,
) -> None:
    pinning = "pinned" if pinned else "unpinned"
    points = []
    for conns in conns_list:
        threads = 1 if pinned else min(conns, 2)
        points.append(
            Point(section, scenario.key, pinning, conns, threads, workers=workers, code=server.code)
        )
    report.points.extend(points)
    if opts.warmup > 0:
        warm = run_wrk(env, server, scenario, 8, 1 if pinned else 2, opts.warmup, pinned)
        if warm.failures:
            print(
                f"bench: {scenario.key} warm-up: bad answers or socket errors: {warm.values}", file=sys.stderr
            )
            report.scalars["warmup_failures"] = report.scalars.get("warmup_failures", 0) + warm.failures
        if warm.shed:
            where = f"{point_name(section, scenario.key, pinning, workers, 8)} warm-up"
            report.warmup_shed[where] = (warm.shed, int(warm.values["requests"]))
    for repeat in range(opts.repeat):
        for point in points:
            run = run_wrk(env, server, scenario, point.conns, point.threads, opts.duration, pinned)
            point.runs.append(run)
            progress(
                f"{section} {scenario.key} {pinning} w{workers} c{point.conns} #{repeat + 1}: "
                f"{run.rps:,.0f}/s p50 {run.values['p50_us'] / 1000:.2f} "
                f"p99 {run.values['p99_us'] / 1000:.2f} ms "
                f"cpu {run.cpu_per_1k:.2f} s/1k rss {run.rss_kib / 1024:.0f} MiB"
                + (f"  shed {run.shed:,} of {int(run.values['requests']):,}" if run.shed else "")
                + (f"  FAILURES {run.failures}: {run.values}" if run.failures else "")
            )


def connection_churn(server: Server, scenario: Scenario, batch: int) -> JsonObj:
    """Two batches of ``batch`` fresh TLS connections with one review each: RSS and CPU per connection.

    Growth that repeats in the second batch is retained per connection (a leak), not a one-off pool.
    """
    rss = [server.rss_kib()]
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    for _ in range(2):
        for _ in range(batch):
            status, _body = server.post(scenario.body)
            if status != 200:
                raise BenchError(f"connection churn: HTTP {status}")
        rss.append(server.rss_kib())
    elapsed = time.perf_counter() - started
    return {
        "connections": 2 * batch,
        "rss_mib": [r / 1024 for r in rss],
        "kib_per_conn_1": (rss[1] - rss[0]) / batch,
        "kib_per_conn_2": (rss[2] - rss[1]) / batch,
        "server_cpu_ms_per_conn": (server.cpu_seconds() - cpu) * 1000 / (2 * batch),
        "conns_per_s": 2 * batch / elapsed,
    }


def idle_snapshot(server: Server, seconds: float) -> tuple[float, float]:
    """(RSS MiB, CPU %) while idle for ``seconds``."""
    cpu = server.cpu_seconds()
    time.sleep(seconds)
    return server.rss_kib() / 1024, (server.cpu_seconds() - cpu) * 100 / seconds


def median_start(env: Env, templates: Sequence[Path], starts: int) -> float:
    times = []
    for _ in range(starts):
        with running(env, templates, pinned=env.can_pin) as (_server, ready):
            times.append(ready)
    return statistics.median(times)


def workers_supported(env: Env) -> bool:
    result = subprocess.run(
        [str(env.entrypoint), "serve", "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    return result.returncode == 0 and "--workers" in result.stdout


def measure_scenarios(
    env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario], *, pinned: bool
) -> None:
    """Each chosen scenario on a fresh server: idle memory, its answer, then every connection count."""
    chosen = opts.scenarios if pinned or not env.can_pin else opts.unpinned_scenarios
    for key in chosen:
        scenario = scenarios[key]
        with running(env, scenario.templates, pinned=pinned) as (server, _ready):
            rss, cpu = idle_snapshot(server, opts.idle_seconds)
            if pinned == env.can_pin and key == BASELINE_KEY:
                report.scalars["idle_rss_mib"] = rss
                report.scalars["idle_cpu_pct"] = cpu
            ops, size = check_answer(server, scenario)
            report.answers[key] = {
                "title": scenario.title,
                "object_bytes": scenario.object_bytes,
                "review_bytes": len(scenario.body),
                "response_bytes": size,
                "ops": ops,
            }
            measure_points(
                env, opts, report, server, scenario, section="main", pinned=pinned, conns_list=opts.conns
            )


def run_plan(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    if opts.load_only:
        measure_scenarios(env, opts, report, scenarios, pinned=env.can_pin)
        return
    examples = [EXAMPLES]
    one = env.work / "templates-1"
    one.mkdir()
    shutil.copy(LEGACY_TEMPLATE, one / LEGACY_TEMPLATE.name)
    thousand = env.work / "templates-1000"
    write_native_templates(thousand, 1000)

    progress(f"startup: {opts.starts} starts with --templates examples")
    report.scalars["ready_s"] = median_start(env, examples, opts.starts)
    progress(f"startup: {opts.starts} starts with 1,000 templates")
    report.scalars["ready_1000_s"] = median_start(env, [thousand, EXAMPLES], opts.starts)

    with running(env, [one], pinned=env.can_pin) as (server, _):
        report.scalars["idle_rss_1_template_mib"], _cpu = idle_snapshot(server, opts.idle_seconds)

    for pinned in [True, False] if env.can_pin else [False]:
        measure_scenarios(env, opts, report, scenarios, pinned=pinned)

    progress(f"connection churn: 2 x {opts.churn} new TLS connections, one review each")
    with running(env, examples, pinned=env.can_pin) as (server, _ready):
        time.sleep(1.0)
        report.churn = connection_churn(server, scenarios[BASELINE_KEY], opts.churn)

    progress("1,000 templates: memory, idle CPU and scenario 1 latency")
    first = scenarios[BASELINE_KEY]
    with running(env, [thousand, EXAMPLES], pinned=env.can_pin) as (server, _ready):
        rss, cpu = idle_snapshot(server, opts.idle_seconds)
        report.scalars["idle_rss_1000_mib"] = rss
        report.scalars["idle_cpu_1000_pct"] = cpu
        check_answer(server, first)
        measure_points(
            env,
            opts,
            report,
            server,
            first,
            section="templates-1000",
            pinned=env.can_pin,
            conns_list=opts.template_conns,
        )
        report.scalars["hwm_1000_mib"] = server.hwm_kib() / 1024

    if not workers_supported(env):
        report.notes.append("workers: not supported")
        print("workers: not supported", file=sys.stderr)
        return
    for workers in (1, 2):
        try:
            with running(env, examples, pinned=False, workers=workers) as (server, _ready):
                time.sleep(1.0)
                processes = len(server.pids())
                report.scalars[f"workers_{workers}_processes"] = processes
                check_answer(server, first)
                measure_points(
                    env,
                    opts,
                    report,
                    server,
                    first,
                    section="workers",
                    pinned=False,
                    conns_list=opts.worker_conns,
                    workers=workers,
                )
        except BenchError as exc:
            report.notes.append(f"workers: not supported (--workers {workers} failed: {exc})")
            print("workers: not supported", file=sys.stderr)
            return
    if report.scalars.get("workers_2_processes", 0) < 2:
        report.notes.append(
            "workers: `--workers 2` is accepted but only one server process runs (the flag is parsed into "
            "Settings.workers and not used), so the two columns measure the same single process"
        )
