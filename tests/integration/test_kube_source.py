"""The kube template source with the REAL kubernetes client, over HTTP, against the fake apiserver."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml

from tests.fakes import FakeApiServer
from webhook.core.model import Template
from webhook.templates.errors import TemplateError
from webhook.templates.kube_source import KubeTemplateSource, Timings
from webhook.templates.parsing import TEMPLATE_LABEL
from webhook.templates.store import TemplateStore

pytestmark = pytest.mark.integration

OWN = "injector"
LABELS = {TEMPLATE_LABEL: "true"}
FAST = Timings(
    backoff_initial=0.05,
    backoff_cap=0.5,
    coalesce_quiet=0.1,
    coalesce_max=1.0,
    watch_timeout=30,
    healthy_watch=0.5,
    sync_interval=0.2,
)


RESTRICTED = (
    "  securityContext:\n"
    "    runAsNonRoot: true\n"
    "    allowPrivilegeEscalation: false\n"
    "    capabilities: {drop: [ALL]}\n"
    "    seccompProfile: {type: RuntimeDefault}\n"
)


def template(image: str, *, restricted: bool = False) -> dict[str, str]:
    """A one-container template; tenant namespaces only accept the ``restricted`` kind."""
    body = f"containers:\n- name: sidecar\n  image: {image}\n"
    return {"template": body + (RESTRICTED if restricted else "")}


def legacy(image: str) -> dict[str, str]:
    return {"config": f"containers:\n- name: agent\n  image: {image}\n"}


def eventually(predicate: Callable[[], object], within: float = 5.0, what: str = "condition") -> None:
    """Bounded polling: functional waits, never a claim about speed."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        time.sleep(0.02)


def image_of(store: TemplateStore, name: str, namespace: str = "anywhere") -> str | None:
    found = store.snapshot().resolve(name, namespace)
    return None if found is None else str(found.containers[0]["image"])


@pytest.fixture
def apiserver(request: pytest.FixtureRequest) -> Iterator[FakeApiServer]:
    options: dict[str, Any] = getattr(request, "param", {})
    with FakeApiServer(bookmark_interval=0.3, **options) as fake:
        yield fake


SourceFactory = Callable[..., tuple[TemplateStore, KubeTemplateSource]]


@pytest.fixture
def start_source(apiserver: FakeApiServer) -> Iterator[SourceFactory]:
    sources: list[KubeTemplateSource] = []

    def start(**options: Any) -> tuple[TemplateStore, KubeTemplateSource]:
        store = TemplateStore()
        options.setdefault("own_namespace", OWN)
        options.setdefault("timings", FAST)
        configuration = kubernetes.client.Configuration(host=apiserver.host)
        source = KubeTemplateSource(store, configuration=configuration, **options)
        sources.append(source)
        source.start()
        return store, source

    yield start
    for source in sources:
        source.stop()
    # stop() cuts open streams itself: no reader may outlive it (they would hold sockets open).
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("kube-source", "watch-"))]


def started(store: TemplateStore, source: KubeTemplateSource) -> None:
    eventually(store.ready, what="first list")
    eventually(lambda: source.watches >= 1, what="first watch")


# ---------------------------------------------------------------------------------------------------
# Propagation


def test_create_update_and_delete_propagate_to_the_snapshot(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    assert image_of(store, "mesh") == "envoy:1"

    apiserver.update(OWN, "mesh", data=template("envoy:2"))
    eventually(lambda: image_of(store, "mesh") == "envoy:2", what="update")
    apiserver.create(OWN, "cache", template("redis:7"), LABELS)
    eventually(lambda: image_of(store, "cache") == "redis:7", what="create")
    apiserver.delete(OWN, "mesh")
    eventually(lambda: image_of(store, "mesh") is None, what="delete")
    assert image_of(store, "cache") == "redis:7"
    assert source.lists == 1


def test_the_watch_starts_at_the_lists_version_and_asks_for_bookmarks(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    listed, watched = apiserver.requests[:2]
    assert not listed.watch and watched.watch
    assert watched.params["resourceVersion"] == str(apiserver.resource_version)
    assert watched.params["allowWatchBookmarks"] == "true"
    assert watched.params["timeoutSeconds"] == str(FAST.watch_timeout)


def test_a_broken_update_keeps_the_last_good_template_and_reports_the_error(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    good = store.snapshot().resolve("mesh", "x")

    apiserver.update(OWN, "mesh", data={"template": "containers: [ {name: sidecar"})

    def rejected() -> bool:
        return any(isinstance(s.error, TemplateError) for s in store.statuses())

    eventually(rejected, what="the error to be recorded")
    (status,) = store.statuses()
    assert status.document == f"ConfigMap {OWN}/mesh key template"
    assert "not valid YAML" in str(status.error)
    assert store.snapshot().resolve("mesh", "x") == good

    apiserver.update(OWN, "mesh", data=template("envoy:3"))
    eventually(lambda: image_of(store, "mesh") == "envoy:3", what="the fix")
    assert store.statuses()[0].error is None


def test_a_labelled_configmap_without_a_template_key_is_reported(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "typo", {"templates": "containers: []"}, LABELS)
    store, source = start_source()
    started(store, source)
    (status,) = store.statuses()
    assert status.serving is None
    assert "no string key 'template'" in str(status.error)


def test_a_configmap_named_like_a_legacy_template_without_its_config_key_is_reported(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "agent-initializer", {"conf": "containers: []"})
    store, source = start_source()
    started(store, source)
    (status,) = store.statuses()
    assert status.serving is None
    assert "no string key 'config'" in str(status.error)


EXAMPLES = Path(__file__).parents[2] / "examples"


def example_configmap(file: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / file).read_text())
    return manifest


def create_example(apiserver: FakeApiServer, file: str) -> str:
    """Create an example template ConfigMap at the API exactly as ``kubectl apply`` would; its name."""
    manifest = example_configmap(file)
    metadata = manifest["metadata"]
    apiserver.create(OWN, metadata["name"], manifest["data"], metadata.get("labels"))
    return str(metadata["name"])


@pytest.mark.parametrize("legacy_support", [True, False], ids=["unlabelled-watch", "label-selector-watch"])
def test_templates_of_both_formats_created_before_the_start_are_served_from_the_first_list(
    apiserver: FakeApiServer, start_source: SourceFactory, legacy_support: bool
) -> None:
    # kube-apiserver lists items without kind: the source must not need it (it once dropped them all).
    create_example(apiserver, "logging-agent-initializer.yaml")
    create_example(apiserver, "log-shipper.yaml")
    store, source = start_source(legacy=legacy_support)
    eventually(store.ready, what="first list")
    expected = {"logging-agent", "log-shipper"} if legacy_support else {"log-shipper"}
    assert {name for _, name in store.snapshot().templates} == expected
    assert all(s.serving is not None and s.error is None for s in store.statuses())
    assert source.watches <= 1  # served from the list itself, not from later watch events

    # After the history is compacted the source re-lists; the templates must survive that too.
    apiserver.refuse_connections(0.3)
    apiserver.create(OWN, "unrelated", {"k": "v"})
    apiserver.compact()
    eventually(lambda: source.lists == 2, what="the re-list after 410")
    eventually(lambda: apiserver.open_watches >= 1, what="the watch after the re-list")
    assert {name for _, name in store.snapshot().templates} == expected
    assert all(s.serving is not None and s.error is None for s in store.statuses())


# 700 bytes: aliases 8 levels deep and 9 wide, used where the schema refuses them, so the old schema
# error quoted all 9^7 strings (35 MB per error, 20 s to ready, 241 MiB; one level more: gigabytes).
BILLION_LAUGHS = "\n".join(
    ["initContainers:", "- {name: l0, image: i, args: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]}"]
    + [f"- {{name: l{n}, image: i, args: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]}}" for n in range(1, 8)]
    + ["containers: [{name: c, image: i, args: *l7}]"]
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (BILLION_LAUGHS, "expands to more than"),  # issue 16: 3 GiB of RSS and a 525 MB log line
        ("", "expected a mapping"),  # an emptied key is a broken edit, not a removal
        (
            "containers: [{name: sidecar, image: i, ports: [{containerPort: 18446744073709551616}]}]",
            "64 bits",
        ),
    ],
    ids=["billion-laughs", "emptied", "int-past-64-bits"],
)
def test_the_api_source_keeps_the_last_good_template_over_a_hostile_or_emptied_one(
    apiserver: FakeApiServer, start_source: SourceFactory, text: str, problem: str
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    apiserver.update(OWN, "mesh", data={"template": text})
    eventually(lambda: store.statuses()[0].error is not None, what="the error to be recorded")
    (status,) = store.statuses()
    assert problem in str(status.error)
    assert len(str(status.error)) < 1000, "the error quotes a bounded part of the template"
    assert image_of(store, "mesh") == "envoy:1"


@pytest.mark.parametrize("legacy_support", [True, False], ids=["unlabelled-watch", "label-selector-watch"])
def test_removing_the_template_label_removes_the_template(
    apiserver: FakeApiServer, start_source: SourceFactory, legacy_support: bool
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source(legacy=legacy_support)
    started(store, source)
    assert image_of(store, "mesh") == "envoy:1"

    apiserver.update(OWN, "mesh", labels={})
    eventually(lambda: image_of(store, "mesh") is None, what="label removal")
    apiserver.update(OWN, "mesh", labels=LABELS)
    eventually(lambda: image_of(store, "mesh") == "envoy:1", what="label restored")
    assert source.lists == 1
    selector = [r.params.get("labelSelector") for r in apiserver.requests]
    assert all(s == (None if legacy_support else TEMPLATE_LABEL) for s in selector)


def test_a_legacy_initializer_configmap_serves_its_template(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "logging-agent-initializer", legacy("fluent-bit:3"))
    apiserver.create(OWN, "unrelated", {"config": "containers: []"})
    store, source = start_source()
    started(store, source)
    assert image_of(store, "logging-agent") == "fluent-bit:3"
    assert [s.document for s in store.statuses()] == [f"ConfigMap {OWN}/logging-agent-initializer key config"]

    apiserver.update(OWN, "logging-agent-initializer", data=legacy("fluent-bit:4"))
    eventually(lambda: image_of(store, "logging-agent") == "fluent-bit:4", what="legacy update")


@pytest.mark.parametrize("all_namespaces", [False, True], ids=["listed-namespaces", "all-namespaces"])
def test_tenant_templates_resolve_only_in_their_own_namespace(
    apiserver: FakeApiServer, start_source: SourceFactory, all_namespaces: bool
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    apiserver.create("platform", "common", template("otel:1"), LABELS)
    apiserver.create("team-a", "tenant-agent", template("agent:a", restricted=True), LABELS)
    apiserver.create("team-a", "mesh", template("evil:1", restricted=True), LABELS)  # cannot shadow
    apiserver.create("team-b", "loose", template("root:1"), LABELS)  # tenants are held to restricted
    namespaces = None if all_namespaces else [OWN, "platform", "team-a", "team-b"]
    store, source = start_source(namespaces=namespaces, shared_namespaces=frozenset({"platform"}))
    started(store, source)
    eventually(lambda: len(store.snapshot()) == 4, what="all four templates")

    snapshot = store.snapshot()
    tenant = snapshot.resolve("tenant-agent", "team-a")
    assert tenant is not None and tenant.namespace == "team-a"
    assert snapshot.resolve("tenant-agent", "team-b") is None
    (loose,) = [s for s in store.statuses() if "team-b/loose" in s.document]
    assert loose.serving is None and "security policy" in str(loose.error)
    for namespace in ("team-a", "team-b", OWN):
        assert image_of(store, "mesh", namespace) == "envoy:1"
        assert image_of(store, "common", namespace) == "otel:1"
    expected = {"kube:*"} if all_namespaces else {f"kube:{ns}" for ns in namespaces or ()}
    assert set(source.source_ids) == expected == set(store.last_sync())


# ---------------------------------------------------------------------------------------------------
# Watch lifecycle


@pytest.mark.parametrize(
    "apiserver", [{}, {"gone_as_http_status": True}], ids=["error-event", "http-410"], indirect=True
)
def test_a_410_triggers_exactly_one_relist(apiserver: FakeApiServer, start_source: SourceFactory) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    assert apiserver.list_requests == 1

    # While the client is cut off, a change happens and the history is compacted away: the resumed
    # watch asks for a version the server no longer has.
    apiserver.refuse_connections(0.3)
    apiserver.update(OWN, "mesh", data=template("envoy:2"))
    apiserver.compact()
    eventually(lambda: image_of(store, "mesh") == "envoy:2", what="the missed change, via the re-list")
    assert apiserver.list_requests == source.lists == 2

    apiserver.update(OWN, "mesh", data=template("envoy:3"))
    eventually(lambda: image_of(store, "mesh") == "envoy:3", what="changes after the re-list")
    time.sleep(0.3)  # room for a spurious extra re-list to show up
    assert apiserver.list_requests == 2


def test_a_dropped_connection_resumes_from_the_last_version_without_a_relist(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source()
    started(store, source)
    apiserver.update(OWN, "mesh", data=template("envoy:2"))
    eventually(lambda: image_of(store, "mesh") == "envoy:2", what="update before the cut")
    last_seen = str(apiserver.resource_version)

    apiserver.drop_watches()
    eventually(lambda: apiserver.watch_requests >= 2, what="a new watch")
    assert apiserver.requests[-1].params["resourceVersion"] == last_seen
    apiserver.update(OWN, "mesh", data=template("envoy:3"))
    eventually(lambda: image_of(store, "mesh") == "envoy:3", what="update after the cut")
    assert apiserver.list_requests == source.lists == 1


def test_a_server_side_timeout_resumes_without_a_relist(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    store, source = start_source(timings=replace(FAST, watch_timeout=1))
    started(store, source)
    eventually(lambda: apiserver.watch_requests >= 3, what="two server-side timeouts")
    apiserver.update(OWN, "mesh", data=template("envoy:2"))
    eventually(lambda: image_of(store, "mesh") == "envoy:2", what="update after timeouts")
    assert apiserver.list_requests == source.lists == 1
    assert source.failures == 0


def test_bookmarks_move_the_version_a_watch_resumes_from(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    store, source = start_source()
    started(store, source)
    # A change the watch does not select (another namespace) still moves the global version; only a
    # BOOKMARK can tell the client about it.
    apiserver.create("elsewhere", "noise", {"k": "v"})
    current = str(apiserver.resource_version)
    time.sleep(3 * apiserver.bookmark_interval)  # let a few bookmarks arrive
    apiserver.drop_watches()
    eventually(lambda: apiserver.watch_requests >= 2, what="a new watch")
    assert apiserver.requests[-1].params["resourceVersion"] == current


def test_watch_activity_keeps_the_sync_time_fresh(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    store, source = start_source()
    started(store, source)
    first = store.last_sync()[f"kube:{OWN}"]
    eventually(lambda: store.last_sync()[f"kube:{OWN}"] > first, what="a later sync mark from bookmarks")
    assert source.lists == 1


def test_fifty_configmaps_at_once_cause_a_bounded_number_of_swaps(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    store, source = start_source()
    started(store, source)
    before = store.snapshot().generation
    for index in range(50):
        apiserver.create(OWN, f"tpl-{index}", template(f"img:{index}"), LABELS)
    eventually(lambda: len(store.snapshot()) == 50, what="fifty templates")
    assert store.snapshot().generation - before <= 5


# ---------------------------------------------------------------------------------------------------
# Outages and readiness


def test_readiness_waits_for_the_first_list(apiserver: FakeApiServer, start_source: SourceFactory) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    apiserver.refuse_connections(1.0)
    store, source = start_source()
    eventually(lambda: source.failures >= 2, what="failed attempts while refused")
    assert not store.ready()
    assert len(store.snapshot()) == 0
    eventually(store.ready, what="readiness once the API is back")
    assert image_of(store, "mesh") == "envoy:1"


def test_an_api_outage_of_ten_seconds_recovers_without_a_restart(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    apiserver.create(OWN, "mesh", template("envoy:1"), LABELS)
    timings = replace(FAST, backoff_initial=0.2, backoff_cap=1.0)
    store, source = start_source(timings=timings)
    started(store, source)

    apiserver.refuse_connections(10.0)
    outage_end = time.monotonic() + 10.0
    while time.monotonic() < outage_end - 0.5:
        assert store.ready(), "readiness must survive an API outage"
        assert image_of(store, "mesh") == "envoy:1", "templates stay in service during an outage"
        time.sleep(0.25)
    # Exponential backoff: about a dozen attempts in 10 s, not a spin.
    assert 3 <= source.failures <= 25

    assert apiserver.accepting.wait(5.0)
    apiserver.update(OWN, "mesh", data=template("envoy:2"))
    eventually(lambda: image_of(store, "mesh") == "envoy:2", what="updates after the outage")
    assert source.lists == 1  # resumed from the last version: the server still had the history


# ---------------------------------------------------------------------------------------------------
# Concurrency


def _revisions(templates: dict[Any, Template]) -> frozenset[tuple[str, str]]:
    return frozenset((t.name, t.revision) for t in templates.values())


def _hammer(
    store: TemplateStore, count: int, writer: Callable[[], None], check: Callable[[Any], None]
) -> int:
    """Readers check every snapshot they take while ``writer`` runs; returns how many were checked."""
    done = threading.Event()
    errors: list[BaseException] = []
    seen: dict[int, frozenset[tuple[str, str]]] = {}
    lock = threading.Lock()
    checked = [0]

    def read() -> None:
        last_generation = -1
        try:
            while not done.is_set():
                snapshot = store.snapshot()
                assert snapshot.generation >= last_generation, "generations only move forward"
                last_generation = snapshot.generation
                assert len(snapshot) == count, f"partial set: {len(snapshot)} of {count}"
                content = _revisions(dict(snapshot.templates))
                with lock:
                    # One generation is one published set: whoever sees it sees the same content.
                    assert seen.setdefault(snapshot.generation, content) == content
                    checked[0] += 1
                check(snapshot)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        writer()
    finally:
        done.set()
        for thread in readers:
            thread.join()
    if errors:
        raise errors[0]
    return checked[0]


def test_concurrent_readers_never_see_a_partial_set_during_store_swaps() -> None:
    store = TemplateStore()

    def batch(version: int) -> dict[str, Template | TemplateError]:
        return {f"doc-{i}": Template(name=f"t{i}", revision=f"v{version}") for i in range(20)}

    store.replace_source("src", batch(0))

    def write() -> None:
        for version in range(1, 300):
            store.update_documents("src", batch(version))

    def one_batch_only(snapshot: Any) -> None:
        assert len({t.revision for t in snapshot.templates.values()}) == 1, "a snapshot mixes two batches"

    assert _hammer(store, 20, write, one_batch_only) > 0


def test_concurrent_readers_never_see_a_partial_set_while_the_source_applies_watch_batches(
    apiserver: FakeApiServer, start_source: SourceFactory
) -> None:
    for index in range(20):
        apiserver.create(OWN, f"t{index}", template("img:0"), LABELS)
    store, source = start_source(timings=replace(FAST, coalesce_quiet=0.01))
    started(store, source)
    assert len(store.snapshot()) == 20
    last_image: dict[str, int] = {}

    def write() -> None:
        for version in range(1, 15):
            for index in range(20):
                apiserver.update(OWN, f"t{index}", data=template(f"img:{version}"))
            time.sleep(0.03)
        eventually(lambda: {image_of(store, f"t{i}") for i in range(20)} == {"img:14"}, what="last batch")

    def monotonic(snapshot: Any) -> None:
        for template_ in snapshot.templates.values():
            version = int(str(template_.containers[0]["image"]).split(":")[1])
            # Per reader thread the image versions never go backwards (no stale set is republished).
            key = f"{threading.get_ident()}:{template_.name}"
            assert version >= last_image.get(key, 0)
            last_image[key] = version

    assert _hammer(store, 20, write, monotonic) > 0
    assert source.lists == 1


# ---------------------------------------------------------------------------------------------------
# The fake itself: the protocol details the source relies on


def _watch_lines(fake: FakeApiServer, query: str) -> list[dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    try:
        connection.request("GET", f"/api/v1/namespaces/ns/configmaps?{query}")
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        return [json.loads(line) for line in response.read().splitlines() if line]
    finally:
        connection.close()


def test_the_fake_sends_deleted_and_added_when_an_object_leaves_and_joins_a_label_selector(
    apiserver: FakeApiServer,
) -> None:
    apiserver.create("ns", "cm", {"k": "v"}, {"app": "x"})
    start = apiserver.resource_version
    apiserver.update("ns", "cm", labels={"app": "y"})
    apiserver.update("ns", "cm", labels={"app": "x"})
    apiserver.update("ns", "cm", data={"k": "w"})
    events = _watch_lines(
        apiserver, f"watch=true&resourceVersion={start}&labelSelector=app%3Dx&timeoutSeconds=1"
    )
    assert [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in events] == [
        ("DELETED", str(start + 1)),
        ("ADDED", str(start + 2)),
        ("MODIFIED", str(start + 3)),
    ]
    assert events[0]["object"]["metadata"]["labels"] == {"app": "x"}  # the previous content


def test_the_fake_answers_a_compacted_version_with_an_expired_error_event(apiserver: FakeApiServer) -> None:
    apiserver.create("ns", "cm", {"k": "v"})
    start = apiserver.resource_version
    apiserver.update("ns", "cm", data={"k": "w"})
    apiserver.compact()
    (event,) = _watch_lines(apiserver, f"watch=1&resourceVersion={start}")
    assert event["type"] == "ERROR"
    assert (event["object"]["kind"], event["object"]["code"], event["object"]["reason"]) == (
        "Status",
        410,
        "Expired",
    )


def test_the_fake_sends_bookmarks_with_only_a_resource_version(apiserver: FakeApiServer) -> None:
    start = apiserver.resource_version
    events = _watch_lines(
        apiserver, f"watch=true&resourceVersion={start}&allowWatchBookmarks=true&timeoutSeconds=1"
    )
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(start)},
    }


def test_the_fake_lists_items_without_kind_but_watch_events_and_gets_carry_it(
    apiserver: FakeApiServer,
) -> None:
    apiserver.create("ns", "cm", {"k": "v"})
    connection = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=5)
    try:
        connection.request("GET", "/api/v1/namespaces/ns/configmaps")
        listed = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert (listed["kind"], listed["apiVersion"]) == ("ConfigMapList", "v1")
    (item,) = listed["items"]
    assert "kind" not in item and "apiVersion" not in item
    (event,) = _watch_lines(apiserver, "watch=true&timeoutSeconds=1")
    assert (event["type"], event["object"]["kind"], event["object"]["apiVersion"]) == (
        "ADDED",
        "ConfigMap",
        "v1",
    )
