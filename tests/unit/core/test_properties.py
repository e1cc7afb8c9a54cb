"""Property tests: for generated workloads, mutate → apply → valid, and mutating again is a no-op."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.validation import assert_valid
from tests.support.workloads import TEMPLATES, injectable, pod_template_of, workloads
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, VolumeNotFound, mutate
from webhook.core.engine import CONTAINER_NAME_TAKEN

POLICY = InjectionPolicy()


def facts_for(obj: dict[str, Any]) -> AdmissionFacts:
    return AdmissionFacts("uid", "CREATE", obj["kind"], "default")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_mutation_applies_validates_keeps_the_app_and_is_idempotent(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    accepted, lacks_a_volume = injectable(obj)
    try:
        result = mutate(obj, facts_for(obj), TEMPLATES, POLICY)
    except VolumeNotFound as refused:
        assert lacks_a_volume and refused.templates == ("dangling",), refused.message
        return
    assert obj == before, "the engine must not modify its input"
    assert not lacks_a_volume, "a mount without its volume was injected"
    # A template naming a container the workload (or an earlier template) has is not injected at all.
    assert list(result.injected) == accepted, result.warnings
    if not accepted:
        assert (result.patch, result.skip_reason) == ((), CONTAINER_NAME_TAKEN), result
        return
    mutated = jsonpatch.apply_patch(obj, list(result.patch))
    assert_valid(mutated)  # also: every mount names a volume, no directory is mounted twice

    old_spec, new_spec = pod_template_of(obj)["spec"], pod_template_of(mutated)["spec"]
    # The workload's own containers keep their order, names and images; they only gain env/mounts.
    old_names = [c["name"] for c in old_spec["containers"]]
    assert [c["name"] for c in new_spec["containers"]][: len(old_names)] == old_names
    for old, new in zip(old_spec["containers"], new_spec["containers"], strict=False):
        assert {k: v for k, v in new.items() if k not in ("env", "volumeMounts")} == {
            k: v for k, v in old.items() if k not in ("env", "volumeMounts")
        }
        for field in ("env", "volumeMounts"):
            assert new.get(field, [])[: len(old.get(field, []))] == old.get(field, [])

    again = mutate(mutated, facts_for(mutated), TEMPLATES, POLICY)
    assert again.patch == ()


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
JUNK = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "metadata",
                    "spec",
                    "containers",
                    "annotations",
                    "template",
                    "volumes",
                    "initContainers",
                    "env",
                    "name",
                    "jobTemplate",
                    "sidecar-injector.io/inject",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=25,
)


@given(
    kind=st.sampled_from(["Pod", "Deployment", "CronJob", "Job", "Service"]),
    body=JUNK,
    annotations=st.sampled_from([None, {"sidecar-injector.io/inject": "agent"}, {"a": 1}, "junk"]),
)
def test_arbitrary_junk_objects_never_raise_anything_but_injection_errors(
    kind: str, body: Any, annotations: Any
) -> None:
    obj = {"kind": kind, "metadata": {"annotations": annotations}, "spec": body}
    if isinstance(body, dict) and isinstance(body.get("template"), dict):
        body["template"].setdefault("metadata", {"annotations": annotations})
    try:
        result = mutate(obj, facts_for(obj), TEMPLATES, POLICY)
    except InjectionError:
        return
    if result.patch:
        patched = jsonpatch.apply_patch(obj, list(result.patch))
        assert isinstance(patched, dict)
