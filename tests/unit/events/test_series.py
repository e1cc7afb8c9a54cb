"""Aggregation as state: identical occurrences become one Event with a count, within a window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from webhook.events.occurrences import Occurrence, Regarding
from webhook.events.series import EventTimings, SeriesTable

TIMINGS = EventTimings(window=60.0, update_interval=5.0, lookup_delays=(0.5, 1.0), max_series=8)
WEB = Regarding("apps/v1", "Deployment", "shop", "web", "uid-1")


def occurrence(
    note: str = "Injected log-shipper", regarding: Regarding = WEB, find_uid: bool = False
) -> Occurrence:
    return Occurrence(regarding, "Normal", "Injected", "Inject", note, find_uid)


def test_the_first_occurrence_is_created_at_once_and_repeats_are_counted() -> None:
    table = SeriesTable(TIMINGS)
    assert not table.observe(occurrence(), wall=1000.0, now=0.0).aggregated
    series = table.pop_due(0.0)
    assert series is not None and table.work(series) == "create"
    table.sent(series, series.count, 0.0, name="web.abcde")
    assert table.work(series) is None
    for second in (1.0, 2.0, 3.0):
        assert table.observe(occurrence(), wall=1000.0 + second, now=second).aggregated
    assert (series.count, series.last, table.work(series)) == (4, 1003.0, "patch")
    assert table.pop_due(4.9) is None  # a growing count is patched at most every update_interval
    assert table.pop_due(5.0) is series
    table.sent(series, 4, 5.0)
    assert table.work(series) is None and len(table) == 1


def test_a_different_note_or_object_is_another_event() -> None:
    table = SeriesTable(TIMINGS)
    table.observe(occurrence(), 0.0, 0.0)
    assert not table.observe(occurrence("Not injected: already-injected"), 0.0, 0.0).aggregated
    other = Regarding("apps/v1", "Deployment", "shop", "api", "uid-2")
    assert not table.observe(occurrence(regarding=other), 0.0, 0.0).aggregated
    assert len(table) == 3


def test_after_the_window_the_same_occurrence_starts_a_new_event() -> None:
    table = SeriesTable(TIMINGS)
    table.observe(occurrence(), 0.0, 0.0)
    first = table.pop_due(0.0)
    assert first is not None
    table.sent(first, 1, 0.0, name="web.1")
    table.expire(30.0)
    assert len(table) == 1  # still within the window
    assert not table.observe(occurrence(), 61.0, 61.0).aggregated
    second = table.pop_due(61.0)
    assert second is not None and second is not first and table.work(second) == "create"


def test_expiry_keeps_series_that_still_have_something_to_send() -> None:
    table = SeriesTable(TIMINGS)
    table.observe(occurrence(), 0.0, 0.0)  # never created (the API was down)
    table.expire(1000.0)
    assert len(table) == 1
    series = table.pop_due(1000.0)
    assert series is not None
    table.sent(series, 1, 1000.0, name="web.1")
    table.expire(2000.0)
    assert len(table) == 0


def test_an_object_being_created_is_looked_up_then_created_without_uid_after_the_last_try() -> None:
    table = SeriesTable(TIMINGS)
    pending = Regarding("apps/v1", "Deployment", "shop", "web")
    table.observe(occurrence(regarding=pending, find_uid=True), 0.0, 0.0)
    assert table.pop_due(0.4) is None
    series = table.pop_due(0.5)
    assert series is not None and table.work(series) == "lookup"
    table.looked_up(series, None, 0.5)
    assert table.pop_due(1.4) is None and table.pop_due(1.5) is series
    table.looked_up(series, None, 1.5)
    assert table.work(series) == "create" and series.regarding.uid == ""
    assert table.pop_due(1.5) is series


def test_a_found_uid_goes_into_the_event() -> None:
    table = SeriesTable(TIMINGS)
    table.observe(occurrence(regarding=Regarding("v1", "Pod", "shop", "p"), find_uid=True), 0.0, 0.0)
    series = table.pop_due(0.5)
    assert series is not None
    table.looked_up(series, "pod-uid", 0.5)
    assert table.work(series) == "create" and series.regarding.uid == "pod-uid"
    assert table.pop_due(0.5) is series


def test_failures_back_off_then_drop_after_the_last_attempt() -> None:
    timings = EventTimings(max_attempts=3)
    table = SeriesTable(timings)
    table.observe(occurrence(), 0.0, 0.0)
    series = table.pop_due(0.0)
    assert series is not None
    assert table.failed(series, retry_at=2.0)
    assert table.pop_due(1.9) is None and table.pop_due(2.0) is series
    assert table.failed(series, retry_at=6.0)
    assert not table.failed(series, retry_at=14.0)
    assert len(table) == 0 and table.pop_due(100.0) is None


def test_a_patch_of_an_expired_event_creates_it_again_with_its_count() -> None:
    table = SeriesTable(TIMINGS)
    table.observe(occurrence(), 0.0, 0.0)
    series = table.pop_due(0.0)
    assert series is not None
    table.sent(series, 1, 0.0, name="web.1")
    table.observe(occurrence(), 1.0, 1.0)
    assert table.pop_due(5.0) is series
    table.gone(series, 5.0)
    assert table.work(series) == "create" and series.count == 2
    assert table.pop_due(5.0) is series


def test_the_table_is_bounded_and_says_when_an_unsent_event_was_forgotten() -> None:
    table = SeriesTable(TIMINGS)
    lost = [table.observe(occurrence(f"note {i}"), 0.0, float(i)).lost for i in range(100)]
    assert len(table) == TIMINGS.max_series
    assert lost.count(True) == 100 - TIMINGS.max_series
    assert {s.occurrence.note for s in table.pending()} == {f"note {i}" for i in range(92, 100)}


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 5)), max_size=200))
def test_every_occurrence_is_counted_once_in_exactly_one_series(steps: list[tuple[int, float]]) -> None:
    """Property: whatever the interleaving of occurrences and sends, the counts add up."""
    table = SeriesTable(EventTimings(window=1e9, update_interval=1.0, max_series=1000))
    now = 0.0
    for note, advance in steps:
        now += advance
        table.observe(occurrence(f"note {note}"), now, now)
        series = table.pop_due(now)
        if series is not None:
            table.sent(series, series.count, now, name=series.name or "event")
    notes = [note for note, _ in steps]
    counts = {s.occurrence.note: s.count for s in table._series.values()}
    assert counts == {f"note {n}": notes.count(n) for n in set(notes)}
