"""The namespace mirror (Pod Security levels, namespace opt-in) against the fake API server, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.integration.test_kube_source import FAST, eventually
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.core.pod_security import ENFORCE_LABEL
from webhook.kube.namespaces import NamespaceMirror

pytestmark = pytest.mark.integration

Start = Callable[..., NamespaceMirror]


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.3) as fake:
        yield fake


@pytest.fixture
def start(apiserver: FakeApiServer) -> Iterator[Start]:
    started: list[NamespaceMirror] = []

    def start(**options: Any) -> NamespaceMirror:
        options.setdefault("timings", FAST)
        configuration = kubernetes.client.Configuration(host=apiserver.host)
        levels = NamespaceMirror(configuration=configuration, **options)
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
    levels = start(default_level=PodSecurityLevel.BASELINE)
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


@pytest.mark.parametrize(("opt_in", "selector"), [(False, ENFORCE_LABEL), (True, None)])
def test_only_labelled_namespaces_are_requested_unless_namespaces_opt_in(
    apiserver: FakeApiServer, start: Start, opt_in: bool, selector: str | None
) -> None:
    """Annotations cannot be selected on: namespace opt-in needs every namespace to travel."""
    levels = start(opt_in=opt_in)
    assert levels.wait_synced(5)
    eventually(lambda: levels.watcher.watches >= 1, what="first watch")
    requests = [r for r in apiserver.requests if r.path == "/api/v1/namespaces"]
    assert requests
    assert {r.params.get("labelSelector") for r in requests} == {selector}


INJECT = "sidecar-injector.io/inject"


def test_opt_in_labels_and_annotations_follow_the_watch(apiserver: FakeApiServer, start: Start) -> None:
    apiserver.create_namespace("team-a", {INJECT: "agent", "team": "a"})
    apiserver.create_namespace("plain", {"team": "b"})
    mirror = start()
    assert mirror.wait_synced(5)
    assert mirror.metadata("team-a") == NamespaceMetadata({INJECT: "agent"}, {})
    assert mirror.metadata("plain") == NamespaceMetadata()
    eventually(lambda: mirror.watcher.watches >= 1, what="first watch")

    apiserver.patch_object("namespaces", None, "plain", {"metadata": {"annotations": {INJECT: "a, b"}}})
    eventually(lambda: mirror.metadata("plain") == NamespaceMetadata({}, {INJECT: "a, b"}), what="annotated")
    apiserver.label_namespace("team-a", {ENFORCE_LABEL: "baseline"})
    eventually(lambda: mirror.metadata("team-a") == NamespaceMetadata(), what="opt-in label removed")
    assert mirror.level("team-a") == "baseline"
    apiserver.label_namespace("team-a", {})
    eventually(lambda: mirror.level("team-a") == "privileged", what="every key removed")
    apiserver.delete_namespace("plain")
    eventually(lambda: mirror.metadata("plain") == NamespaceMetadata(), what="namespace deleted")


def test_only_the_keys_read_are_kept_of_the_namespaces_that_have_one(
    apiserver: FakeApiServer, start: Start
) -> None:
    """Every namespace travels, but memory holds three keys of the few that carry one."""
    for index in range(50):
        apiserver.create_namespace(f"plain-{index}", {"team": "x" * 60, "cost-center": "y" * 60})
    apiserver.create_namespace("team-a", {INJECT: "agent", ENFORCE_LABEL: "restricted", "team": "a"})
    apiserver.patch_object(
        "namespaces", None, "team-a", {"metadata": {"annotations": {INJECT: "a, b", "note": "z" * 1000}}}
    )
    mirror = start()
    assert mirror.wait_synced(5)
    kept = dict(mirror.watcher.reflector.objects)
    assert kept == {
        ("", "team-a"): {
            "metadata": {
                "name": "team-a",
                "labels": {INJECT: "agent", ENFORCE_LABEL: "restricted"},
                "annotations": {INJECT: "a, b"},
            }
        }
    }
    assert mirror.metadata("team-a") == NamespaceMetadata({INJECT: "agent"}, {INJECT: "a, b"})
    assert mirror.level("team-a") == "restricted"


def test_nothing_is_known_before_the_first_list(apiserver: FakeApiServer, start: Start) -> None:
    apiserver.create_namespace("team-a", {ENFORCE_LABEL: "restricted"})
    apiserver.refuse_connections(1.0)
    syncs: list[float] = []
    levels = start(default_level=PodSecurityLevel.RESTRICTED, on_sync=syncs.append)
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
