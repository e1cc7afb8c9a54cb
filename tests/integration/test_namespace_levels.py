"""The namespace Pod Security mirror against the fake API server, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.integration.test_kube_source import FAST, eventually
from webhook.core.pod_security import ENFORCE_LABEL
from webhook.kube.namespaces import NamespaceSecurityLevels

pytestmark = pytest.mark.integration

Start = Callable[..., NamespaceSecurityLevels]


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.3) as fake:
        yield fake


@pytest.fixture
def start(apiserver: FakeApiServer) -> Iterator[Start]:
    started: list[NamespaceSecurityLevels] = []

    def start(**options: Any) -> NamespaceSecurityLevels:
        options.setdefault("timings", FAST)
        configuration = kubernetes.client.Configuration(host=apiserver.host)
        levels = NamespaceSecurityLevels(configuration=configuration, **options)
        started.append(levels)
        levels.start()
        return levels

    yield start
    for levels in started:
        levels.stop()
    assert not [t.name for t in threading.enumerate() if t.name == "watch-namespaces"]


def test_levels_follow_the_enforce_label_through_the_watch(apiserver: FakeApiServer, start: Start) -> None:
    apiserver.create_namespace("team-a", {ENFORCE_LABEL: "restricted"})
    apiserver.create_namespace("plain")
    levels = start(default_level="baseline")
    assert levels.wait_synced(5)
    assert levels.level("team-a") == "restricted"
    assert levels.level("plain") == "baseline"  # unlabelled: the cluster default
    assert levels.level("not-created-yet") == "baseline"
    eventually(lambda: levels.watcher.watches >= 1, what="first watch")

    apiserver.label_namespace("plain", {ENFORCE_LABEL: "privileged"})
    eventually(lambda: levels.level("plain") == "privileged", what="label added")
    apiserver.label_namespace("team-a", {ENFORCE_LABEL: "baseline"})
    eventually(lambda: levels.level("team-a") == "baseline", what="level lowered")
    apiserver.label_namespace("team-a", {ENFORCE_LABEL: "strict"})
    eventually(lambda: levels.level("team-a") == "restricted", what="invalid level read as restricted")
    # Removing the label takes the namespace out of the selector: the server sends DELETED.
    apiserver.label_namespace("team-a", {})
    eventually(lambda: levels.level("team-a") == "baseline", what="label removed")
    apiserver.create_namespace("team-b", {ENFORCE_LABEL: "restricted"})
    eventually(lambda: levels.level("team-b") == "restricted", what="namespace created")
    apiserver.delete_namespace("team-b")
    eventually(lambda: levels.level("team-b") == "baseline", what="namespace deleted")
    assert levels.watcher.lists == 1


def test_only_labelled_namespaces_are_requested(apiserver: FakeApiServer, start: Start) -> None:
    levels = start()
    assert levels.wait_synced(5)
    eventually(lambda: levels.watcher.watches >= 1, what="first watch")
    requests = [r for r in apiserver.requests if r.path == "/api/v1/namespaces"]
    assert requests
    assert {r.params.get("labelSelector") for r in requests} == {ENFORCE_LABEL}


def test_nothing_is_known_before_the_first_list(apiserver: FakeApiServer, start: Start) -> None:
    apiserver.create_namespace("team-a", {ENFORCE_LABEL: "restricted"})
    apiserver.refuse_connections(1.0)
    syncs: list[float] = []
    levels = start(default_level="restricted", on_sync=syncs.append)
    assert levels.level("team-a") is None  # unknown: the check is skipped, not guessed
    assert not levels.synced
    assert levels.wait_synced(10)
    assert levels.level("team-a") == "restricted"
    assert syncs


def test_a_compacted_history_relists_and_a_dropped_stream_resumes(
    apiserver: FakeApiServer, start: Start
) -> None:
    levels = start()
    assert levels.wait_synced(5)
    eventually(lambda: levels.watcher.watches >= 1, what="first watch")
    apiserver.drop_watches()
    apiserver.create_namespace("team-a", {ENFORCE_LABEL: "baseline"})
    eventually(lambda: levels.level("team-a") == "baseline", what="change after a dropped stream")
    assert levels.watcher.lists == 1  # resumed from the last resourceVersion

    # Cut off while a change happens and the history is compacted away: the resumed watch asks for a
    # version the server no longer has (410), and only a re-list can bring the change.
    apiserver.refuse_connections(0.3)
    apiserver.label_namespace("team-a", {ENFORCE_LABEL: "restricted"})
    apiserver.compact()
    eventually(lambda: levels.level("team-a") == "restricted", what="change after 410 Gone")
    eventually(lambda: levels.watcher.lists == 2, what="one re-list")
