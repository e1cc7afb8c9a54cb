"""Leader election on a Lease over real HTTP: one leader, a released Lease taken at once, a dead
holder's Lease taken once it runs out, and an API that cannot be reached survived."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.fakes import FakeApiServer
from tests.fakes.builders import lease
from tests.unit.lifecycle.conftest import NS
from webhook.kube.resources import Resources
from webhook.lifecycle.election import LeaseElector

LEASE_SECONDS = 1.5


def eventually(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def candidate(
    resources: Resources, identity: str, changes: list[bool] | None = None
) -> Iterator[LeaseElector]:
    elector = LeaseElector(
        resources,
        NS,
        "rollout",
        identity,
        lease_seconds=LEASE_SECONDS,
        on_change=(changes if changes is not None else []).append,
    )
    thread = threading.Thread(target=elector.run, daemon=True)
    thread.start()
    try:
        yield elector
    finally:
        elector.stop()
        thread.join(10)
        assert not thread.is_alive()


def holder(fake: FakeApiServer) -> str:
    return str(fake.get_object("leases.coordination.k8s.io", NS, "rollout")["spec"]["holderIdentity"])


def test_one_of_two_candidates_leads_and_the_other_takes_over_when_it_releases(
    fake: FakeApiServer, resources: Resources
) -> None:
    changes: list[bool] = []
    with candidate(resources, "a", changes) as a:
        assert eventually(a.leading.is_set)
        with candidate(resources, "b") as b:
            time.sleep(LEASE_SECONDS * 1.5)  # long enough for b to take an abandoned lease: it must not
            assert a.leading.is_set() and not b.leading.is_set()
            assert holder(fake) == "a"
            a.stop()
            assert eventually(b.leading.is_set, within=LEASE_SECONDS), "a released lease is taken at once"
            assert holder(fake) == "b"
            assert (
                fake.get_object("leases.coordination.k8s.io", NS, "rollout")["spec"]["leaseTransitions"] == 1
            )
    assert changes == [True, False]
    assert holder(fake) == "", "released on stop"


def test_the_lease_of_a_holder_that_died_is_taken_once_it_runs_out(
    fake: FakeApiServer, resources: Resources
) -> None:
    fake.create_object(lease("rollout", NS, "dead-replica", duration=1))
    with candidate(resources, "b") as b:
        started = time.monotonic()
        assert eventually(b.leading.is_set)
        waited = time.monotonic() - started
    assert waited >= 1.0, "a live-looking lease is respected for its whole duration, on our own clock"


def test_an_unreachable_api_costs_leadership_but_never_the_election(
    fake: FakeApiServer, resources: Resources
) -> None:
    with candidate(resources, "a") as a:
        assert eventually(a.leading.is_set)
        fake.refuse_connections(LEASE_SECONDS * 2)
        assert eventually(lambda: not a.leading.is_set()), "no renewal within the deadline: not leading"
        assert eventually(a.leading.is_set, within=LEASE_SECONDS * 6), "back once the API is"


def test_a_conflicting_write_loses_rather_than_overwrites(fake: FakeApiServer, resources: Resources) -> None:
    """Two candidates that read the same free Lease: the resourceVersion lets one write win."""
    fake.create_object(lease("rollout", NS, "", duration=1))
    fake.hang_requests(0.3, verb="update", resource="leases.coordination.k8s.io", times=2)
    with candidate(resources, "a") as a, candidate(resources, "b") as b:
        assert eventually(lambda: a.leading.is_set() or b.leading.is_set())
        time.sleep(0.5)
        assert a.leading.is_set() != b.leading.is_set()
