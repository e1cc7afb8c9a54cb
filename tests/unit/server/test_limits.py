"""The shared budget: a request that stopped making progress gives its share up to one that needs it."""

from __future__ import annotations

from dataclasses import dataclass

from webhook.server.limits import PROGRESS_GRACE_SECONDS, STALL_SECONDS, Budget, Limits

MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeConnection:
    """Stands for the connection guard's protocol: what the budget reads, and whether it was cut."""

    last_progress: float
    unread: bool = False
    was_cut: bool = False

    def waiting_on_client(self) -> bool:
        return not self.unread

    def cut(self) -> None:
        self.was_cut = True


def budget(clock: Clock, **limits: int) -> Budget:
    return Budget(Limits(**limits), clock=clock)


def test_a_stalled_upload_is_cut_when_a_newcomer_needs_its_bytes() -> None:
    clock = Clock()
    shared = budget(clock, max_body_bytes=MiB, max_buffered_bytes=4 * MiB)
    stalled = FakeConnection(last_progress=clock.now)
    hog = shared.claim(clock.now, stalled, declared=MiB)
    assert hog is not None and hog.take(3 * MiB - 10)  # large requests may fill three quarters
    other = shared.claim(clock.now, FakeConnection(clock.now), declared=MiB)
    assert other is not None and not other.take(MiB), "a large request cannot take the reserved quarter"
    clock.now += STALL_SECONDS
    newcomer = shared.claim(clock.now, FakeConnection(clock.now), declared=MiB)
    assert newcomer is not None and newcomer.take(MiB)
    assert stalled.was_cut and hog.released and shared.buffered == MiB
    assert not hog.take(1), "a cut request takes nothing more"


def test_small_requests_keep_a_quarter_for_themselves() -> None:
    clock = Clock()
    shared = budget(clock, max_buffered_bytes=4 * MiB)
    large = shared.claim(clock.now, FakeConnection(clock.now), declared=3 * MiB)
    assert large is not None and large.take(3 * MiB)
    small = shared.claim(clock.now, FakeConnection(clock.now), declared=4096)
    assert small is not None and small.take(4096), "the reserve is there even with no stalled request"


def test_an_upload_still_moving_within_its_grace_is_never_cut() -> None:
    clock = Clock()
    shared = budget(clock, max_inflight=1)
    moving = FakeConnection(last_progress=clock.now)
    assert shared.claim(clock.now, moving) is not None
    clock.now += STALL_SECONDS / 2
    assert shared.claim(clock.now, FakeConnection(clock.now)) is None
    assert not moving.was_cut


def test_a_trickle_is_cut_once_the_request_is_older_than_its_grace() -> None:
    clock = Clock()
    shared = budget(clock, max_inflight=1)
    trickle = FakeConnection(last_progress=clock.now)
    assert shared.claim(clock.now, trickle) is not None
    clock.now += PROGRESS_GRACE_SECONDS
    trickle.last_progress = clock.now  # one byte a moment ago
    assert shared.claim(clock.now, FakeConnection(clock.now)) is not None
    assert trickle.was_cut


def test_bytes_the_server_has_not_read_yet_are_not_the_clients_fault() -> None:
    clock = Clock()
    shared = budget(clock, max_inflight=1)
    behind = FakeConnection(last_progress=clock.now, unread=True)
    assert shared.claim(clock.now, behind) is not None
    clock.now += 10
    assert shared.claim(clock.now, FakeConnection(clock.now)) is None
    assert not behind.was_cut


def test_a_complete_request_being_decided_is_never_cut_and_release_is_idempotent() -> None:
    clock = Clock()
    shared = budget(clock, max_inflight=1)
    deciding = FakeConnection(last_progress=clock.now)
    claim = shared.claim(clock.now, deciding)
    assert claim is not None and claim.take(100)
    claim.finish_upload()
    clock.now += 10
    assert shared.claim(clock.now, FakeConnection(clock.now)) is None
    assert not deciding.was_cut
    claim.release()
    claim.release()
    assert shared.inflight == 0 and shared.buffered == 0
    assert shared.claim(clock.now, None) is not None
