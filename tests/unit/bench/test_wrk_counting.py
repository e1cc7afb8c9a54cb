"""What the benchmarks make of admission.lua's BENCH line: shed answers (the server's designed 503
overload refusals) are reported apart by bench/run.py and stay failures for every other script."""

from __future__ import annotations

import re

import pytest

from bench.common import LUA, BenchError
from bench.run import parse_options, verdict
from bench.throughput import Point, Report, point_name
from bench.throughput_report import render
from bench.wrk import COUNT_KEYS, SOCKET_KEYS, Run, failures, parse_bench_line, wrong_answers

# Lines as admission.lua prints them (format in its done()): 2 s runs.
SHEDDING = (
    "BENCH requests=1000 good=600 shed=400 bad=0 bad_status=0 bad_uid=0 bad_allowed=0 bad_patch=0"
    " connect=0 read=0 write=0 status=400 timeout=0 duration_us=2000000"
    " mean_us=120.5 p50_us=100 p90_us=200 p99_us=900 max_us=1500"
)
CLEAN = (
    "BENCH requests=800 good=800 shed=0 bad=0 bad_status=0 bad_uid=0 bad_allowed=0 bad_patch=0"
    " connect=0 read=0 write=0 status=0 timeout=0 duration_us=2000000"
    " mean_us=80.0 p50_us=70 p90_us=90 p99_us=300 max_us=700"
)
BAD = CLEAN.replace("good=800 shed=0 bad=0 bad_status=0", "good=797 shed=0 bad=3 bad_status=3").replace(
    "status=0 timeout", "status=3 timeout"
)
SOCKET = CLEAN.replace("read=0", "read=2")


def run(line: str) -> Run:
    values = parse_bench_line(f"Running 2s test @ https://127.0.0.1:1/mutate\n{line}\n")
    assert values is not None
    return Run(values, 1.0, 50 * 1024, 60 * 1024)


def test_the_keys_checked_are_the_keys_admission_lua_prints() -> None:
    found = re.search(r'"BENCH (.*?)\\n"', LUA.read_text(), re.S)
    assert found is not None
    printed = re.findall(r"(\w+)=%", found[1])
    assert printed[: len(COUNT_KEYS)] == list(COUNT_KEYS)
    assert set(SOCKET_KEYS) <= set(printed)
    assert printed == [pair.split("=")[0] for pair in SHEDDING.split()[1:]]


def test_a_line_without_the_shed_count_is_refused_not_read_as_zero() -> None:
    with pytest.raises(BenchError, match="without shed"):
        parse_bench_line(SHEDDING.replace(" shed=400", ""))
    assert parse_bench_line("wrk: no line") is None


def test_shed_answers_are_neither_failures_nor_admissions_in_the_throughput_matrix() -> None:
    shedding = run(SHEDDING)
    assert (shedding.shed, shedding.failures) == (400, 0)
    assert shedding.rps == 300  # 600 good answers in 2 s, not 1,000 requests
    assert (run(BAD).failures, run(BAD).shed) == (3, 0)  # wrk's status=3 is not counted twice
    assert run(SOCKET).failures == 2


def test_every_other_script_still_fails_on_shed_answers() -> None:
    assert failures(run(SHEDDING).values) == 400
    assert failures(run(BAD).values) == 3
    assert failures(run(SOCKET).values) == 2
    assert failures(run(CLEAN).values) == 0
    # shutdown.py's "bad" field: shed and bad answers, socket errors apart.
    assert (wrong_answers(run(SHEDDING).values), wrong_answers(run(SOCKET).values)) == (400, 0)


def report(*points: tuple[str, int, str]) -> Report:
    return Report(
        meta={
            "date": "2026-12-02 12:00 UTC",
            "command": "python bench/run.py",
            "cores": 2,
            "cpu_model": "cpu",
            "kernel": "6",
            "python": "3.11",
            "versions": "v",
            "wrk_version": "wrk 4",
            "commit": "abc",
            "server_command": "sidecar-injector serve",
        },
        points=[Point("main", key, "pinned", conns, 1, runs=[run(line)]) for key, conns, line in points],
    )


def test_shedding_exits_0_and_names_the_points_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    measured = report(("2-pod-large", 64, SHEDDING), ("2-pod-large", 8, CLEAN))
    measured.warmup_shed[f"{point_name('main', '1-pod-rs', 'pinned', 1, 8)} warm-up"] = (5, 900)
    assert verdict(measured) == 0
    err = capsys.readouterr().err
    assert "shed load" in err
    assert "2-pod-large pinned c64 (400 of 1,000)" in err
    assert "1-pod-rs pinned c8 warm-up (5 of 900)" in err
    assert "c8 (" not in err  # the clean point at 8 connections is not named


def test_a_point_that_admitted_nothing_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """All shed is no failure by count, but nothing was measured there."""
    all_shed = SHEDDING.replace("good=600 shed=400", "good=0 shed=1000")
    assert verdict(report(("2-pod-large", 64, all_shed), ("2-pod-large", 8, CLEAN))) == 1
    err = capsys.readouterr().err
    assert "no review admitted at: 2-pod-large pinned c64" in err
    assert "c8" not in err.partition("no review admitted")[2]


def test_no_shedding_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(report(("0-reference", 8, CLEAN))) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("line", [BAD, SOCKET])
def test_bad_answers_and_socket_errors_still_exit_1(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert verdict(report(("2-pod-large", 64, SHEDDING), ("1-pod-rs", 8, line))) == 1
    assert "bad answers or socket errors under load" in capsys.readouterr().err


def test_the_report_shows_good_admissions_per_second_and_shed_per_point() -> None:
    opts = parse_options(["--scenarios", "2-pod-large", "--conns", "8,64", "--load-only"])
    text = render(report(("2-pod-large", 8, CLEAN), ("2-pod-large", 64, SHEDDING)), opts, {})
    assert "good/s and admissions/s count good admissions only" in text
    header = next(line for line in text.splitlines() if line.startswith("| scenario | pinning"))
    assert "| good/s |" in header and header.endswith("| good / total | shed |")
    rows = [line for line in text.splitlines() if line.startswith("| 2-pod-large | pinned")]
    assert rows[0].startswith("| 2-pod-large | pinned | 1 | 8 | 1 | 400 |")
    assert rows[0].endswith("| 800 / 800 | 0 |")
    assert rows[1].startswith("| 2-pod-large | pinned | 1 | 64 | 1 | 300 |")  # good/s, not 500 req/s
    assert rows[1].endswith("| 600 / 1,000 | 400 |")
    assert "Bad answers or socket errors across all wrk runs: 0." in text
    assert "designed load shedding, not failures): 400, at 2-pod-large pinned c64: 400 of 1,000." in text
    assert "Shed answers (503 overload refusals): none." in render(report(("1-pod-rs", 8, CLEAN)), opts, {})
