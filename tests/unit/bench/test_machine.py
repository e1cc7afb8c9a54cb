"""bench/machine.py: the share of time a core spent in slow stretches, from timed units of work."""

from __future__ import annotations

import shutil

import pytest

from bench.machine import slow_share, slow_shares, time_units


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
