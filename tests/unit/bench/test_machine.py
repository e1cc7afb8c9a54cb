"""bench/machine.py: the share of time a core spent in slow stretches, from timed units of work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.machine import idle_policy, slow_share, slow_shares, time_units


def test_a_steady_core_spent_no_time_in_slow_stretches() -> None:
    assert slow_share([10e-6] * 1000) == 0.0


def test_slow_units_count_by_the_time_they_took_not_by_their_number() -> None:
    # 990 units of 10 µs and 10 of 100 µs: 1 % of the units, but 1,000 of 10,900 µs.
    durations = [10e-6] * 990 + [100e-6] * 10
    assert slow_share(durations) == pytest.approx(1000 / 10900)


def test_slow_begins_at_three_times_the_median_unit() -> None:
    assert slow_share([10e-6] * 99 + [29e-6]) == 0.0
    assert slow_share([10e-6] * 99 + [31e-6]) == pytest.approx(31 / 1021)


def test_no_units_is_no_slow_time() -> None:
    assert slow_share([]) == 0.0


def test_the_timed_loop_runs_for_the_time_asked() -> None:
    durations = time_units(0.05)
    assert len(durations) > 10
    assert all(d > 0 for d in durations)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_each_core_is_probed_by_a_pinned_process() -> None:
    shares = slow_shares((0,), 0.2)
    assert len(shares) == 1
    assert 0.0 <= shares[0] <= 1.0


def _sysfs(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


CPUIDLE = "devices/system/cpu/cpuidle"
POLL_NS = "module/haltpoll/parameters/guest_halt_poll_ns"


def test_a_guest_that_halts_at_once_says_so(tmp_path: Path) -> None:
    root = _sysfs(
        tmp_path,
        {f"{CPUIDLE}/current_driver": "haltpoll", f"{CPUIDLE}/current_governor": "haltpoll", POLL_NS: "0"},
    )
    assert idle_policy(root) == "cpuidle haltpoll (governor haltpoll), guest_halt_poll_ns 0 (halts at once)"


def test_a_guest_that_polls_first_gives_how_long(tmp_path: Path) -> None:
    root = _sysfs(
        tmp_path,
        {
            f"{CPUIDLE}/current_driver": "haltpoll",
            f"{CPUIDLE}/current_governor_ro": "haltpoll",
            POLL_NS: "200000",
        },
    )
    assert idle_policy(root) == "cpuidle haltpoll (governor haltpoll), guest_halt_poll_ns 200000"


def test_other_drivers_have_no_halt_polling_to_report(tmp_path: Path) -> None:
    root = _sysfs(
        tmp_path, {f"{CPUIDLE}/current_driver": "intel_idle", f"{CPUIDLE}/current_governor": "menu"}
    )
    assert idle_policy(root) == "cpuidle intel_idle (governor menu)"


@pytest.mark.parametrize("files", [{}, {f"{CPUIDLE}/current_driver": "none"}])
def test_a_machine_without_cpuidle_says_so(tmp_path: Path, files: dict[str, str]) -> None:
    assert idle_policy(_sysfs(tmp_path, files)) == "no cpuidle driver"
