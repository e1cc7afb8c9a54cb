from __future__ import annotations

from webhook.core import Template
from webhook.templates import TemplateError
from webhook.templates.store import TemplateStore, Transition


def template(name: str, revision: str = "r1", namespace: str | None = None) -> Template:
    return Template(
        name=name, revision=revision, containers=({"name": name, "image": "i"},), namespace=namespace
    )


def broken(doc: str) -> TemplateError:
    return TemplateError(doc, "template", "containers[0].image", "an injected container needs an image")


def test_a_broken_update_keeps_the_last_good_version_and_reports_it() -> None:
    store = TemplateStore()
    store.replace_source("s", {"doc-a": template("a", "r1")})
    store.replace_source("s", {"doc-a": broken("doc-a")})
    assert store.snapshot().resolve("a", "any").revision == "r1"
    [status] = store.statuses()
    assert status.serving is not None and status.error is not None
    store.replace_source("s", {"doc-a": template("a", "r2")})
    assert store.snapshot().resolve("a", "any").revision == "r2"
    assert store.statuses()[0].error is None


def test_a_broken_new_template_is_never_served() -> None:
    store = TemplateStore()
    store.replace_source("s", {"doc-a": broken("doc-a")})
    assert store.snapshot().resolve("a", "ns") is None


def test_documents_missing_from_a_full_sync_are_removed() -> None:
    store = TemplateStore()
    store.replace_source("s", {"doc-a": template("a"), "doc-b": template("b")})
    store.replace_source("s", {"doc-b": template("b")})
    assert store.snapshot().resolve("a", "ns") is None
    assert store.snapshot().resolve("b", "ns") is not None


def test_sources_do_not_remove_each_others_templates() -> None:
    store = TemplateStore()
    store.replace_source("one", {"doc": template("a")})
    store.replace_source("two", {"doc": template("b")})
    store.replace_source("two", {})
    assert store.snapshot().resolve("a", "ns") is not None


def test_a_batch_of_changes_is_published_in_one_swap_and_unchanged_data_in_none() -> None:
    store = TemplateStore()
    store.update_documents("s", {f"doc-{i}": template(f"t{i}") for i in range(50)})
    assert store.snapshot().generation == 1 and len(store.snapshot()) == 50
    store.update_documents("s", {"doc-1": template("t1")})
    assert store.snapshot().generation == 1
    store.update_documents("s", {"doc-1": None, "doc-2": None})
    assert store.snapshot().generation == 2 and len(store.snapshot()) == 48


def test_readiness_waits_for_every_expected_source_and_survives_later_outages() -> None:
    store = TemplateStore(expected_sources=["files", "kube"])
    store.replace_source("files", {})
    assert not store.ready()
    store.mark_synced("kube")
    assert store.ready()


def test_tenant_templates_resolve_only_in_their_namespace_and_cannot_shadow_cluster_ones() -> None:
    store = TemplateStore()
    store.replace_source(
        "s",
        {
            "cluster": template("agent", "cluster"),
            "tenant-agent": template("agent", "tenant", namespace="team-a"),
            "tenant-only": template("private", "tenant", namespace="team-a"),
        },
    )
    snapshot = store.snapshot()
    assert snapshot.resolve("agent", "team-a").revision == "cluster"
    assert snapshot.resolve("private", "team-a") is not None
    assert snapshot.resolve("private", "team-b") is None


def test_two_documents_serving_one_name_resolve_deterministically() -> None:
    store = TemplateStore()
    store.replace_source("s", {"b-doc": template("x", "from-b"), "a-doc": template("x", "from-a")})
    assert store.snapshot().resolve("x", "ns").revision == "from-a"


def test_rejections_and_recoveries_are_announced_once_each_after_publishing() -> None:
    heard: list[tuple[str, str | None, str | None, int]] = []
    store: TemplateStore

    def listen(transition: Transition) -> None:
        served = store.snapshot().resolve("a", "any")  # the new set is already published
        revision = transition.serving.revision if transition.serving else None
        heard.append(
            (transition.document, transition.error and transition.error.field, revision, served is not None)
        )

    store = TemplateStore(on_transition=listen)
    store.replace_source("s", {"doc-a": template("a", "r1")})
    assert heard == []  # a good first load is not news
    store.update_documents("s", {"doc-a": broken("doc-a")})
    store.replace_source("s", {"doc-a": broken("doc-a")})  # the same problem again (a re-list): no news
    assert heard == [("doc-a", "containers[0].image", "r1", True)]
    store.update_documents("s", {"doc-a": template("a", "r2")})
    assert heard[1:] == [("doc-a", None, "r2", True)]
    store.update_documents("s", {"doc-b": broken("doc-b")})  # never loaded: nothing stays in service
    assert heard[2][:3] == ("doc-b", "containers[0].image", None)


def test_a_failing_transition_listener_does_not_stop_template_updates() -> None:
    def listen(transition: Transition) -> None:
        raise RuntimeError("listener bug")

    store = TemplateStore(on_transition=listen)
    store.replace_source("s", {"doc-a": template("a", "r1")})
    store.update_documents("s", {"doc-a": broken("doc-a")})
    store.update_documents("s", {"doc-a": template("a", "r2")})
    assert store.snapshot().resolve("a", "any").revision == "r2"
