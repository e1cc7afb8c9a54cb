"""Property tests of what the request alone decides: a subresource, an UPDATE of an immutable pod
template, a DELETE or CONNECT. The workloads are opted in and would be injected on CREATE."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.workloads import TEMPLATES, workloads
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, mutate

POLICY = InjectionPolicy()
SUBRESOURCES = st.sampled_from(["status", "scale", "ephemeralcontainers", "resize", "binding", "eviction"])
# Where the API server lets an UPDATE change each kind (pkg/apis/{apps,batch,core}/validation),
# restricted to what an injection could touch. Pods and Jobs: nothing of their pod template.
MUTABLE_ON_UPDATE = {
    "Pod": (),
    "Job": (),
    "Deployment": ("/spec/template/",),
    "ReplicaSet": ("/spec/template/",),
    "StatefulSet": ("/spec/template/",),
    "DaemonSet": ("/spec/template/",),
    "ReplicationController": ("/spec/template/",),
    "CronJob": ("/spec/jobTemplate/",),
}


def _mutate(obj: Any, kind: str, operation: str, sub_resource: str = "") -> Any:
    facts = AdmissionFacts("uid", operation, kind, "default", sub_resource=sub_resource)
    try:
        return mutate(obj, facts, TEMPLATES, POLICY)
    except InjectionError as refused:  # a refusal changes nothing either; it must not be a crash
        return refused


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), SUBRESOURCES, st.sampled_from(["CREATE", "UPDATE"]))
def test_a_subresource_request_never_gets_a_patch(
    obj: dict[str, Any], sub_resource: str, operation: str
) -> None:
    result = _mutate(obj, obj["kind"], operation, sub_resource)
    assert not isinstance(result, InjectionError), result
    assert (result.patch, result.skip_reason) == ((), "subresource")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_an_update_touches_only_fields_the_api_server_lets_change(obj: dict[str, Any]) -> None:
    result = _mutate(obj, obj["kind"], "UPDATE")
    if isinstance(result, InjectionError):
        return
    allowed = MUTABLE_ON_UPDATE[obj["kind"]]
    for op in result.patch:
        assert op["path"].startswith(allowed) if allowed else False, (obj["kind"], op["path"])
    if not allowed:
        assert result.skip_reason == f"{obj['kind'].lower()}-update"


@given(
    st.one_of(st.none(), workloads(), st.integers(), st.text(max_size=3), st.lists(st.none(), max_size=2)),
    st.sampled_from(["DELETE", "CONNECT"]),
    st.sampled_from(["Pod", "Deployment", "Job", "PodExecOptions", "DeleteOptions"]),
)
def test_delete_and_connect_are_admitted_unchanged_whatever_the_object(
    obj: Any, operation: str, kind: str
) -> None:
    result = _mutate(obj, kind, operation)
    assert not isinstance(result, InjectionError), result
    assert (result.patch, result.skip_reason) == ((), "operation-not-handled")
