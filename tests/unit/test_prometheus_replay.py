"""The replay clock of tests/support/prometheus.py, which the alert tests depend on."""

from __future__ import annotations

import pytest

from tests.support.prometheus import Recorder, TimeWarp, parse_exposition, series_selector


def test_ticks_land_on_the_step_grid_and_times_between_them_in_proportion() -> None:
    warp = TimeWarp([1000.0, 1001.0, 1003.0], step=30)
    assert [warp(t) for t in (1000.0, 1001.0, 1003.0)] == [0.0, 30.0, 60.0]
    assert warp(1000.5) == 15.0
    assert warp(1002.0) == 45.0


def test_times_outside_the_ticks_keep_their_real_distance() -> None:
    warp = TimeWarp([1000.0, 1001.0], step=30)
    assert warp(1001.0 + 10 * 86400) == 30.0 + 10 * 86400  # a certificate 10 days from the last tick
    assert warp(990.0) == -10.0


def test_tick_times_must_increase() -> None:
    with pytest.raises(ValueError):
        TimeWarp([2.0, 1.0])
    with pytest.raises(ValueError):
        TimeWarp([])


def test_exposition_samples_become_promtool_series_with_gaps_for_failed_scrapes() -> None:
    text = (
        '# TYPE x_total counter\nx_total{a="1"} 3.0\n'
        "# TYPE t_timestamp_seconds gauge\nt_timestamp_seconds 1001.0\n"
    )
    recorder = Recorder([])
    recorder.ticks = [
        (1000.0, parse_exposition(text, {"pod": "p"})),
        (1002.0, {}),  # the scrape failed
        (1004.0, parse_exposition(text.replace("3.0", "5.0"), {"pod": "p"})),
    ]
    assert recorder.end == "60s"
    assert recorder.input_series() == [
        {"series": 't_timestamp_seconds{pod="p"}', "values": "15.0 _ 15.0"},
        {"series": 'x_total{a="1",pod="p"}', "values": "3.0 _ 5.0"},
    ]


def test_label_values_are_quoted_and_escaped() -> None:
    assert series_selector("m", [("doc", 'a"b\\c')]) == 'm{doc="a\\"b\\\\c"}'
