"""The chart's webhook routing: which objects of which namespaces the API server sends to the webhook.

Each webhook entry is evaluated as kube-apiserver does: its namespaceSelector against the namespace's
labels (with ``kubernetes.io/metadata.name``, which the API server sets), its objectSelector against
the object's own labels, and its matchConditions with a CEL implementation. Over a matrix of objects
(every kind, every opt-in signal in every place, alone and against each other) and namespaces, the
objects sent are exactly those the server's own opt-in decision (``core.optin.decide``) injects
given the namespace's labels, and each is sent by one entry at most. A namespace's annotation is
invisible to selectors: it can only narrow what its label routes (the server then skips what was
sent), never route anything itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.integration.chart_helpers import NAMESPACE, one, render, require_helm
from webhook.convert.accept import accepted_annotations
from webhook.core.model import InjectionPolicy, NamespaceMetadata
from webhook.core.optin import decide
from webhook.core.workloads import POD_TEMPLATE_TOKENS

pytestmark = pytest.mark.integration
cel = pytest.importorskip("cel", reason="pip package common-expression-language evaluates CEL")

INJECT = "sidecar-injector.io/inject"
LEGACY = "initializer.kubernetes.io/logging-agent"
POLICY = InjectionPolicy()
# (labels, annotations) of the namespaces; the excluded ones carry an opt-in that must not count.
NAMESPACES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "kube-system": ({INJECT: "agent"}, {}),
    NAMESPACE: ({INJECT: "agent"}, {}),
    "plain": ({}, {}),
    "labelled": ({INJECT: "agent"}, {}),
    "labelled-and-annotated": ({INJECT: "agent"}, {INJECT: "agent, proxy"}),
    "labelled-false": ({INJECT: "false"}, {}),
    "labelled-but-annotated-false": ({INJECT: "agent"}, {INJECT: "false"}),
}
EXCLUDED = {"kube-system", NAMESPACE}
ANNOTATIONS: list[dict[str, str] | None] = [
    None,
    {"app.kubernetes.io/name": "x"},
    {INJECT: "agent"},
    {INJECT: "false"},
    {INJECT: "none"},
    {LEGACY: "true"},
    {INJECT: "false", LEGACY: "true"},
]
LABELS: list[dict[str, str] | None] = [None, {"app": "x"}, {INJECT: "agent"}, {INJECT: "false"}]


@pytest.fixture(scope="module")
def helm() -> str:
    return require_helm()


def entries(helm: str, *sets: str) -> list[dict[str, Any]]:
    webhooks: list[dict[str, Any]] = one(render(helm, sets=sets), "MutatingWebhookConfiguration")["webhooks"]
    return webhooks


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector, as the API server evaluates it (an absent one matches everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if not {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]:
            return False
    return True


class Router:
    """The API server's side: which entries send an object of a namespace."""

    def __init__(self, webhooks: list[dict[str, Any]]) -> None:
        self.webhooks = webhooks
        self.programs = [
            [cel.compile(c["expression"]) for c in w.get("matchConditions", [])] for w in webhooks
        ]

    def sending(self, obj: dict[str, Any], namespace: str, labels: Mapping[str, str]) -> list[str]:
        namespace_labels = {**labels, "kubernetes.io/metadata.name": namespace}
        object_labels = (obj.get("metadata") or {}).get("labels") or {}
        sent = []
        for webhook, programs in zip(self.webhooks, self.programs, strict=True):
            if not matches(webhook["namespaceSelector"], namespace_labels):
                continue
            if not matches(webhook.get("objectSelector"), object_labels):
                continue
            results = [program.execute(cel.Context({"object": obj})) for program in programs]
            assert all(result in (True, False) for result in results), results  # an error would fail the call
            if all(results):
                sent.append(webhook["name"])
        return sent


def metadata(annotations: dict[str, str] | None, labels: dict[str, str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": "x"}
    if annotations is not None:
        found["annotations"] = dict(annotations)
    if labels is not None:
        found["labels"] = dict(labels)
    return found


def objects(annotations: list[dict[str, str] | None] = ANNOTATIONS) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every kind with every signal on its own metadata and (workloads) on its pod template's."""
    signals = list(itertools.product(annotations, LABELS))
    for kind, tokens in POD_TEMPLATE_TOKENS.items():
        spec = {"containers": [{"name": "a", "image": "a"}]}
        for own_annotations, own_labels in signals:
            obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": metadata(own_annotations, own_labels),
            }
            if not tokens:
                yield kind, {**obj, "spec": spec}
                continue
            for template_annotations, template_labels in signals[:: 1 if kind == "Deployment" else 5]:
                workload = {**obj, "spec": {}}
                node = workload["spec"]
                for token in tokens[1:-1]:
                    node = node.setdefault(token, {})
                node[tokens[-1]] = {"metadata": metadata(template_annotations, template_labels), "spec": spec}
                yield kind, workload
        yield kind, {"apiVersion": "v1", "kind": kind, "metadata": {}}  # no spec, no metadata fields


def wanted(
    obj: dict[str, Any],
    kind: str,
    namespace: str,
    policy: InjectionPolicy = POLICY,
    annotations: bool = False,
) -> bool:
    """The server's own answer for an object of a namespace the chart does not exclude, knowing the
    namespace's labels (and, with ``annotations``, its annotations too)."""
    labels, notes = NAMESPACES[namespace]
    known = NamespaceMetadata(labels, notes if annotations else {})
    return namespace not in EXCLUDED and decide(obj, kind, known, policy).opted_in


def test_exactly_the_objects_that_opted_in_are_sent_each_by_one_entry(helm: str) -> None:
    router = Router(entries(helm))
    assert [w["name"] for w in router.webhooks] == [
        "namespace.inject.sidecar-injector.io",
        "label.inject.sidecar-injector.io",
        "annotation.inject.sidecar-injector.io",
        "namespace-opted-out.inject.sidecar-injector.io",
    ]
    seen = {"sent": 0, "not sent": 0}
    for (kind, obj), namespace in itertools.product(list(objects()), NAMESPACES):
        sent = router.sending(obj, namespace, NAMESPACES[namespace][0])
        assert len(sent) <= 1, f"{kind} in {namespace} sent twice: {sent}: {obj}"
        expected = wanted(obj, kind, namespace)
        assert bool(sent) == expected, f"{kind} in {namespace}: sent {sent}, opted in {expected}: {obj}"
        if wanted(obj, kind, namespace, annotations=True):
            assert sent, f"{kind} in {namespace} would be injected but is not sent: {obj}"
        seen["sent" if sent else "not sent"] += 1
    assert min(seen.values()) > 1000, seen  # the matrix really has both answers, many times


def test_a_namespace_annotated_but_not_labelled_is_not_routed(helm: str) -> None:
    """Selectors see labels only: the annotation's list counts once the namespace has the label too
    (README, and `inject` warns). The server itself would inject."""
    router = Router(entries(helm))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}
    annotated = NamespaceMetadata({}, {INJECT: "agent"})
    assert decide(pod, "Pod", annotated, POLICY).opted_in
    assert router.sending(pod, "annotated-only", {}) == []
    assert router.sending(pod, "labelled", {INJECT: "agent"}) == ["namespace.inject.sidecar-injector.io"]


def test_without_namespace_opt_in_namespace_labels_route_nothing(helm: str) -> None:
    router = Router(entries(helm, "server.namespaceOptIn=false"))
    assert [w["name"] for w in router.webhooks] == [
        "label.inject.sidecar-injector.io",
        "annotation.inject.sidecar-injector.io",
    ]
    policy = InjectionPolicy(namespace_opt_in=False)
    for (kind, obj), namespace in itertools.product(list(objects())[::7], NAMESPACES):
        sent = router.sending(obj, namespace, NAMESPACES[namespace][0])
        assert len(sent) <= 1 and bool(sent) == wanted(obj, kind, namespace, policy), (kind, namespace, obj)


def test_without_match_conditions_one_entry_sends_everything_not_excluded(helm: str) -> None:
    router = Router(entries(helm, "webhook.matchConditions.enabled=false"))
    assert [w["name"] for w in router.webhooks] == ["inject.sidecar-injector.io"]
    for (_, obj), namespace in itertools.product(list(objects())[::50], NAMESPACES):
        assert bool(router.sending(obj, namespace, NAMESPACES[namespace][0])) is (namespace not in EXCLUDED)


def test_the_values_object_selector_narrows_every_entry(helm: str) -> None:
    router = Router(entries(helm, "webhook.objectSelector.matchLabels.team=a"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {INJECT: "agent"}}, "spec": {}}
    assert router.sending(pod, "plain", {}) == []
    pod["metadata"]["labels"]["team"] = "a"
    assert router.sending(pod, "plain", {}) == ["label.inject.sidecar-injector.io"]
    assert router.sending({**pod, "metadata": {"labels": {"team": "a"}}}, "labelled", {INJECT: "agent"})


def test_the_has_guards_in_match_conditions_are_needed() -> None:
    """A Pod has no spec.template: without has() guards the expression errors, and with
    failurePolicy Fail an error rejects the object."""
    pod = {"object": {"metadata": {"name": "p"}, "spec": {"containers": []}}}
    with pytest.raises(KeyError):  # "no such key: template", as cel-go says
        cel.evaluate("has(object.spec.template.metadata.annotations)", pod)


TUMBLR, EXPEDIA = "injector.tumblr.com/request", "sidecar-injector.expedia.com/inject"
FOREIGN: list[dict[str, str] | None] = [
    {TUMBLR: "agent"},
    {EXPEDIA: "agent, proxy"},
    {INJECT: "false", TUMBLR: "agent"},
    {INJECT: "false", EXPEDIA: "agent"},
]


def test_accepted_annotations_are_routed_where_the_server_reads_them_and_only_there(helm: str) -> None:
    """On a Pod's own metadata and a pod template's, not on a workload's own metadata; with the same
    precedence as our annotation (an object label still outranks a pod template's request)."""
    router = Router(entries(helm, "server.acceptAnnotations={tumblr,expedia}"))
    policy = InjectionPolicy(accepted_annotations=accepted_annotations(["tumblr", "expedia"]))
    plain = Router(entries(helm))
    differs = 0
    for (kind, obj), namespace in itertools.product(list(objects([*ANNOTATIONS, *FOREIGN]))[::3], NAMESPACES):
        sent = router.sending(obj, namespace, NAMESPACES[namespace][0])
        assert len(sent) <= 1, f"{kind} in {namespace} sent twice: {sent}: {obj}"
        expected = wanted(obj, kind, namespace, policy)
        assert bool(sent) == expected, f"{kind} in {namespace}: sent {sent}, opted in {expected}: {obj}"
        differs += bool(sent) != bool(plain.sending(obj, namespace, NAMESPACES[namespace][0]))
    assert differs > 100  # the accepted annotations really change the routing
