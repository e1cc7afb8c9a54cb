"""The opt-in decision: every signal, the precedence table, opt-out, disagreements and bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.core import AdmissionFacts, InjectionPolicy, InvalidObject, TemplateSet, mutate
from webhook.core.model import NamespaceMetadata
from webhook.core.optin import MAX_TEMPLATES, PRECEDENCE, Source, decide, precedence_table

POLICY = InjectionPolicy()
INJECT = "sidecar-injector.io/inject"
README = (Path(__file__).parents[3] / "README.md").read_text()


def metadata(
    annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"name": "x"}
    if annotations is not None:
        found["annotations"] = annotations
    if labels is not None:
        found["labels"] = labels
    return found


def deployment(own: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": own, "spec": {"template": {"metadata": template, "spec": {}}}}


def test_the_first_source_with_a_signal_decides_alone() -> None:
    obj = deployment(metadata({INJECT: "a"}, {INJECT: "b"}), metadata({INJECT: "c"}, {INJECT: "d"}))
    namespace = NamespaceMetadata({INJECT: "f"}, {INJECT: "e"})
    decision = decide(obj, "Deployment", namespace, POLICY)
    assert decision.templates == ("a",)
    assert [s.source for s in decision.signals] == list(Source)  # every signal found, in table order
    assert decision.decided_by is not None and decision.decided_by.source is Source.OBJECT_ANNOTATION


@pytest.mark.parametrize("rank", range(len(Source)))
def test_each_row_decides_when_the_rows_above_are_silent(rank: int) -> None:
    values = [f"t{i}" for i in range(len(Source))]
    own = metadata({INJECT: values[0]} if rank <= 0 else None, {INJECT: values[1]} if rank <= 1 else None)
    template = metadata(
        {INJECT: values[2]} if rank <= 2 else None, {INJECT: values[3]} if rank <= 3 else None
    )
    namespace = NamespaceMetadata({INJECT: values[5]}, {INJECT: values[4]} if rank <= 4 else {})
    decision = decide(deployment(own, template), "Deployment", namespace, POLICY)
    assert decision.templates == (values[rank],)
    assert decision.decided_by is not None and decision.decided_by.source is list(Source)[rank]


def test_a_pod_is_its_own_pod_template() -> None:
    pod = {"kind": "Pod", "metadata": metadata(None, {INJECT: "a"}), "spec": {}}
    decision = decide(pod, "Pod", NamespaceMetadata({INJECT: "b"}), POLICY)
    assert [s.source for s in decision.signals] == [Source.OBJECT_LABEL, Source.NAMESPACE_LABEL]
    assert decision.templates == ("a",)


@pytest.mark.parametrize("value", ["false", "False", " none ", ""])
def test_opt_out_values_opt_out_wherever_they_decide(value: str) -> None:
    obj = deployment(metadata(), metadata(None, {INJECT: value}))
    decision = decide(obj, "Deployment", NamespaceMetadata({INJECT: "agent"}), POLICY)
    assert decision.opted_out and not decision.opted_in and decision.templates == ()
    assert decision.disagreements() == (
        f"pod-template label {INJECT}={value} (opt out) overrides namespace label {INJECT}=agent (agent)",
    )


def test_annotations_list_several_templates_in_order_then_legacy_ones() -> None:
    annotations = {INJECT: " b, a ,,c,a", "initializer.kubernetes.io/logging-agent": "True"}
    pod = {"kind": "Pod", "metadata": metadata(annotations)}
    assert decide(pod, "Pod", None, POLICY).templates == ("b", "a", "c", "logging-agent")
    legacy_off = InjectionPolicy(legacy_annotations=False)
    assert decide(pod, "Pod", None, legacy_off).templates == ("b", "a", "c")


def test_a_legacy_annotation_asks_even_beside_an_opt_out() -> None:
    pod = {"kind": "Pod", "metadata": metadata({INJECT: "false", "initializer.kubernetes.io/agent": "true"})}
    assert decide(pod, "Pod", None, POLICY).templates == ("agent",)
    only_false = {"kind": "Pod", "metadata": metadata({"initializer.kubernetes.io/agent": "false"})}
    assert decide(only_false, "Pod", None, POLICY).signals == ()  # not a signal at all


def test_namespaces_count_only_when_known_enabled_and_the_kind_has_pods() -> None:
    pod = {"kind": "Pod", "metadata": metadata()}
    namespace = NamespaceMetadata({INJECT: "agent"})
    assert decide(pod, "Pod", namespace, POLICY).templates == ("agent",)
    assert decide(pod, "Pod", None, POLICY).templates == ()
    assert decide(pod, "Pod", namespace, InjectionPolicy(namespace_opt_in=False)).templates == ()
    assert decide({"kind": "Service", "metadata": metadata()}, "Service", namespace, POLICY).templates == ()


def test_a_namespace_ignores_legacy_annotations() -> None:
    pod = {"kind": "Pod", "metadata": metadata()}
    namespace = NamespaceMetadata({}, {"initializer.kubernetes.io/agent": "true"})
    assert decide(pod, "Pod", namespace, POLICY).signals == ()


def test_agreeing_sources_are_no_disagreement() -> None:
    obj = deployment(metadata({INJECT: "agent"}), metadata(None, {INJECT: "agent"}))
    assert decide(obj, "Deployment", NamespaceMetadata({INJECT: "agent"}), POLICY).disagreements() == ()


@pytest.mark.parametrize("where", ["annotation", "namespace"])
def test_a_list_longer_than_the_bound_is_refused(where: str) -> None:
    names = ", ".join(f"t{i}" for i in range(MAX_TEMPLATES + 1))
    pod: dict[str, Any] = {
        "kind": "Pod",
        "metadata": metadata({INJECT: names} if where == "annotation" else None),
    }
    namespace = NamespaceMetadata({}, {INJECT: names})
    with pytest.raises(InvalidObject, match=f"at most {MAX_TEMPLATES}"):
        decide(pod, "Pod", namespace, POLICY)
    at_bound = ", ".join(f"t{i}" for i in range(MAX_TEMPLATES))
    assert (
        len(decide({"kind": "Pod", "metadata": metadata({INJECT: at_bound})}, "Pod", None, POLICY).templates)
        == 64
    )


def test_junk_metadata_is_no_signal() -> None:
    for obj in (
        {},
        {"metadata": None},
        {"metadata": {"annotations": [INJECT]}},
        {"metadata": {"labels": {INJECT: 1}}},
        {"metadata": {"annotations": {INJECT: ["a"], "initializer.kubernetes.io/a": True, 5: "true"}}},
        {"spec": {"template": {"metadata": {"annotations": {INJECT: None}, "labels": {INJECT: {}}}}}},
    ):
        assert decide(obj, "Deployment", None, POLICY).signals == ()
    broken_template = {"metadata": {}, "spec": {"template": "x"}}
    assert decide(broken_template, "Deployment", None, POLICY).signals == ()


def test_the_readme_shows_the_precedence_table_as_the_code_holds_it() -> None:
    assert len(PRECEDENCE) == len(Source) and [row.source for row in PRECEDENCE] == list(Source)
    assert precedence_table() in README, "paste webhook.core.optin.precedence_table() into the README"


SIGNAL_VALUES = st.sampled_from(["agent", "proxy", "false", "none", "", "agent, proxy"])
MAYBE = st.one_of(st.none(), SIGNAL_VALUES)
OPT_OUTS = st.sampled_from(["false", "False", " none ", ""])


def annotated(value: str | None) -> dict[str, str] | None:
    return None if value is None else {INJECT: value}


def labelled(value: str | None) -> dict[str, str] | None:
    return None if value is None else {INJECT: value.split(",")[0]}  # a label holds one name


@given(MAYBE, MAYBE, MAYBE, MAYBE, MAYBE, OPT_OUTS, st.booleans())
def test_an_opt_out_on_the_object_always_wins_over_what_ranks_below(
    own_label: str | None,
    template_annotation: str | None,
    template_label: str | None,
    namespace_annotation: str | None,
    namespace_label: str | None,
    opt_out: str,
    by_label: bool,
) -> None:
    """Property: an opt-out annotation on the object, or an opt-out label on an object without the
    annotation, means no injection whatever its pod template and namespace say."""
    own = metadata(None, {INJECT: opt_out}) if by_label else metadata({INJECT: opt_out}, labelled(own_label))
    template = metadata(annotated(template_annotation), labelled(template_label))
    namespace = NamespaceMetadata(labelled(namespace_label) or {}, annotated(namespace_annotation) or {})
    obj = deployment(own, template)
    decision = decide(obj, "Deployment", namespace, POLICY)
    assert decision.opted_out and decision.templates == ()
    obj["spec"]["template"]["spec"] = {"containers": [{"name": "app", "image": "app"}]}
    facts = AdmissionFacts("uid", "CREATE", "Deployment", "shop", namespace_metadata=namespace)
    result = mutate(obj, facts, TemplateSet(), POLICY)
    assert (result.patch, result.skip_reason) == ((), "opted-out")


class RecordingAcceptedAnnotations:
    """Another injector's annotation, ``other.io/inject: <name>``, read as a request for ``name``."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], dict[str, str]]] = []

    def read(self, annotations: Any, labels: Any) -> tuple[str, tuple[str, ...]] | None:
        self.seen.append((dict(annotations), dict(labels)))
        value = annotations.get("other.io/inject")
        return None if value is None else (f"other.io/inject: {value!r}", (value,))


def test_accepted_annotations_see_only_the_string_entries() -> None:
    accepted = RecordingAcceptedAnnotations()
    policy = InjectionPolicy(accepted_annotations=(accepted,))
    metadata = {"annotations": {"other.io/inject": "agent", "n": 1}, "labels": {"app": "web", "x": None}}
    decision = decide({"metadata": metadata}, "Pod", None, policy)
    assert decision.templates == ("agent",)
    assert accepted.seen == [({"other.io/inject": "agent"}, {"app": "web"})]
