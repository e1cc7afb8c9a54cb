"""The exported opt-in condition decides as ``core.optin.decide`` does, for any mix of signals.

Signals are drawn on the object, its pod template and the namespace, as annotations, labels and
legacy annotations, with values that ask for the template, for another, for both, or opt out in the
spellings the engine accepts; the CEL condition (evaluated by ``policy_evaluation``) must agree.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.convert.policy_evaluation import Request, evaluate
from webhook.convert.policy_match import opted_in
from webhook.core import InjectionPolicy
from webhook.core.model import NamespaceMetadata
from webhook.core.optin import decide

NAME = "agent"
KEY = "sidecar-injector.io/inject"
LEGACY = f"initializer.kubernetes.io/{NAME}"
VALUES = st.sampled_from(
    ["agent", " agent ", "other", "agent, other", "other,agent", "false", "FALSE", "none", "", "agent-v2"]
)
LEGACY_VALUES = st.sampled_from(["true", " True ", "false", "yes"])
ANNOTATIONS = st.dictionaries(
    st.sampled_from([KEY, LEGACY, "initializer.kubernetes.io/other"]),
    st.one_of(VALUES, LEGACY_VALUES),
    max_size=3,
)
LABELS = st.dictionaries(st.just(KEY), VALUES, max_size=1)


def metadata(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    return {**({"annotations": annotations} if annotations else {}), **({"labels": labels} if labels else {})}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["Pod", "Deployment", "CronJob"]),
    own=st.tuples(ANNOTATIONS, LABELS),
    pod=st.tuples(ANNOTATIONS, LABELS),
    namespace=st.tuples(st.dictionaries(st.just(KEY), VALUES, max_size=1), LABELS),
    legacy=st.booleans(),
    namespace_opt_in=st.booleans(),
)
def test_the_condition_agrees_with_the_engine(
    kind: str,
    own: tuple[dict[str, str], dict[str, str]],
    pod: tuple[dict[str, str], dict[str, str]],
    namespace: tuple[dict[str, str], dict[str, str]],
    legacy: bool,
    namespace_opt_in: bool,
) -> None:
    spec = {"containers": [{"name": "app", "image": "app:1"}]}
    template = {"metadata": metadata(*pod), "spec": spec}
    body = {
        "Pod": spec,
        "Deployment": {"template": template},
        "CronJob": {"jobTemplate": {"spec": {"template": template}}},
    }[kind]
    obj = {"kind": kind, "metadata": {"name": "w", **metadata(*own)}, "spec": body}
    policy = InjectionPolicy(legacy_annotations=legacy, namespace_opt_in=namespace_opt_in)
    engine = NAME in decide(obj, kind, NamespaceMetadata(namespace[1], namespace[0]), policy).templates
    request = Request(obj, "CREATE", "shop", namespace[1], namespace[0])
    assert evaluate(opted_in(NAME, policy), request.context()) is engine
