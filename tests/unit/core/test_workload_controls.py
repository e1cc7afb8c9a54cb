"""Per-workload control of an injection: target containers, init placement, overrides, variables.

Unit tests of each rule, the bounds a workload author controls (each tested at and past the bound),
and the property tests the issue asks for: target-containers never touches other containers,
overrides never reach fields the template does not list, and variables never produce an invalid
object without a denial.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.templates import KUBERNETES_VERSION, template_set
from tests.support.validation import assert_valid
from tests.support.workloads import TEMPLATES, pod_template_of, workloads
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, InvalidObject, TemplateSet, mutate
from webhook.core.errors import OverrideRejected, VariableUnresolved
from webhook.core.model import OVERRIDABLE_FIELDS
from webhook.core.overrides import MAX_DEPTH, MAX_OVERRIDES_BYTES
from webhook.core.render import MAX_VALUE_CHARS
from webhook.core.tailoring import MAX_TARGETS, tailor
from webhook.templates.workload_checks import workload_readers

READERS = workload_readers(KUBERNETES_VERSION)
POLICY = InjectionPolicy(readers=READERS)
INJECT = "sidecar-injector.io/inject"
TARGETS = "sidecar-injector.io/target-containers"
OVERRIDES = "sidecar-injector.io/overrides"


def configmap(name: str, body: str) -> str:
    indented = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {{sidecar-injector.io/template: "
        f'"true"}}}}\ndata:\n  template: |\n{indented}\n'
    )


def pod(annotations: dict[str, str], containers: int = 1, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations, **metadata},
        "spec": {"containers": [{"name": f"c{i}", "image": "app"} for i in range(containers)]},
    }


def facts(obj: dict[str, Any]) -> AdmissionFacts:
    return AdmissionFacts("uid", "CREATE", obj["kind"], "shop")


AGENT = template_set(
    configmap(
        "agent",
        """
overridable: [resources, image]
containers:
- name: agent
  image: agent:1
  resources: {requests: {memory: 32Mi}, limits: {memory: 64Mi}}
env: [{name: AGENT, value: "on"}]
""",
    )
)


# --- target containers -------------------------------------------------------------------------


def test_target_containers_limit_env_and_mounts_and_name_what_the_pod_lacks() -> None:
    obj = pod({INJECT: "agent", TARGETS: "c1, nope"}, containers=3)
    result = mutate(obj, facts(obj), AGENT, POLICY)
    containers = result.patched["spec"]["containers"] if result.patched else []
    assert [("env" in c) for c in containers] == [False, True, False, False]
    assert result.warnings == (
        "metadata.annotations['sidecar-injector.io/target-containers'] names 'nope', not an app container of the pod",
    )


def test_too_many_target_containers_are_refused() -> None:
    names = ", ".join(f"c{i}" for i in range(MAX_TARGETS + 1))
    obj = pod({INJECT: "agent", TARGETS: names})
    with pytest.raises(InvalidObject, match=f"at most {MAX_TARGETS}"):
        mutate(obj, facts(obj), AGENT, POLICY)
    obj["metadata"]["annotations"][TARGETS] = names.rsplit(",", 1)[0]
    assert mutate(obj, facts(obj), AGENT, POLICY).injected == ("agent",)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), st.data())
def test_target_containers_never_touch_other_containers(obj: dict[str, Any], data: st.DataObject) -> None:
    app = [c["name"] for c in pod_template_of(obj)["spec"]["containers"]]
    chosen = data.draw(st.lists(st.sampled_from([*app, "elsewhere"]), max_size=3, unique=True))
    metadata = pod_template_of(obj).setdefault("metadata", {}) if obj["kind"] != "Pod" else obj["metadata"]
    metadata.setdefault("annotations", {})[TARGETS] = ", ".join(chosen)
    before = copy.deepcopy(obj)
    try:
        result = mutate(obj, facts(obj), TEMPLATES, POLICY)
    except InjectionError:
        return
    if result.patched is None:
        return
    untouched = [c for c in pod_template_of(before)["spec"]["containers"] if c["name"] not in chosen]
    after = {c["name"]: c for c in pod_template_of(result.patched)["spec"]["containers"]}
    for container in untouched:
        assert after[container["name"]] == container, f"{container['name']} is not a target"


# --- init placement ----------------------------------------------------------------------------

FIRST = template_set(
    configmap(
        "first", "initContainersFirst: true\ninitContainers: [{name: f1, image: f}, {name: f2, image: f}]"
    )
    + "---\n"
    + configmap("later", "initContainers: [{name: l1, image: l}]")
    + "---\n"
    + configmap(
        "also-first", "initContainersFirst: true\nnativeSidecars: true\ncontainers: [{name: s1, image: s}]"
    )
)


@pytest.mark.parametrize("own", [None, [], [{"name": "own", "image": "o"}]])
def test_templates_placed_first_go_before_the_workloads_own_init_containers_in_order(own: Any) -> None:
    obj = pod({INJECT: "later, first, also-first"})
    if own is not None:
        obj["spec"]["initContainers"] = own
    result = mutate(obj, facts(obj), FIRST, POLICY)
    assert result.patched is not None
    names = [c["name"] for c in result.patched["spec"]["initContainers"]]
    assert names == ["f1", "f2", "s1", *[c["name"] for c in own or []], "l1"]
    assert_valid(result.patched)


# --- overrides ---------------------------------------------------------------------------------


def test_an_override_of_an_already_injected_template_is_left_alone() -> None:
    """A Pod created from an injected Deployment carries the overrides and the status; another
    template its namespace adds must not be refused because of them."""
    both = template_set(
        configmap("agent", "containers: [{name: agent, image: a}]")
        + "---\n"
        + configmap("proxy", "env: [{name: P, value: p}]")
    )
    status = json.dumps({"injected": [{"name": "agent", "revision": "r"}]})
    overrides = json.dumps({"agent": {"resources": {"limits": {"memory": "1Gi"}}}})
    obj = pod({INJECT: "agent, proxy", OVERRIDES: overrides, "sidecar-injector.io/status": status})
    assert mutate(obj, facts(obj), both, POLICY).injected == ("proxy",)


def test_overrides_need_the_edges_container_checker() -> None:
    obj = pod({INJECT: "agent", OVERRIDES: '{"agent": {"resources": {}}}'})
    with pytest.raises(OverrideRejected, match="no container checker"):
        mutate(obj, facts(obj), AGENT, InjectionPolicy())


def test_a_template_from_another_namespace_cannot_let_a_workload_choose_its_image() -> None:
    restricted = (
        "overridable: [image]\ncontainers:\n- name: agent\n  image: a\n  securityContext:\n"
        "    runAsNonRoot: true\n    allowPrivilegeEscalation: false\n    capabilities: {drop: [ALL]}\n"
        "    seccompProfile: {type: RuntimeDefault}\n"
    )
    tenant = template_set(configmap("agent", restricted), "team-a")
    [template] = tenant.templates.values()
    obj = pod({INJECT: "agent", OVERRIDES: '{"agent": {"image": "b"}}'})
    with pytest.raises(OverrideRejected, match="cannot let workloads of namespace 'shop' choose its image"):
        tailor([template], obj, obj, facts(obj), POLICY, (TemplateSet(), {}))
    own = AdmissionFacts("uid", "CREATE", "Pod", "team-a")
    [tailored] = tailor([template], obj, obj, own, POLICY, (TemplateSet(), {}))
    assert tailored.containers[0]["image"] == "b"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x" * (MAX_OVERRIDES_BYTES + 1), f"longer than {MAX_OVERRIDES_BYTES} bytes"),
        ("agent: {resources: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}", "not YAML or JSON"),
        ("a: &a [*a]", "not YAML or JSON"),
        ("{agent: [1]}", "expected a map of container names"),
        ("{1: {image: x}}", "expected a map of container names"),
        ("agent: {image: x", "not YAML or JSON"),
    ],
)
def test_a_hostile_overrides_annotation_is_refused_before_it_costs(text: str, problem: str) -> None:
    obj = pod({INJECT: "agent", OVERRIDES: text})
    with pytest.raises(InvalidObject, match=problem):
        mutate(obj, facts(obj), AGENT, POLICY)


def test_json_overrides_without_the_edges_parser_are_bounded_too() -> None:
    deep = '{"agent": ' + '{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH + "}"
    obj = pod({INJECT: "agent", OVERRIDES: deep})
    with pytest.raises(InvalidObject, match=f"nested deeper than {MAX_DEPTH}"):
        mutate(obj, facts(obj), AGENT, InjectionPolicy())


@functools.cache
def overridable_set(fields: frozenset[str]) -> TemplateSet:
    listed = ", ".join(sorted(fields))
    return template_set(
        configmap(
            "agent",
            f"""
overridable: [{listed}]
containers:
- name: agent
  image: agent:1
  args: [run]
  env: [{{name: LEVEL, value: info}}]
  resources: {{requests: {{memory: 32Mi}}, limits: {{memory: 64Mi}}}}
""",
        )
    )


OVERRIDE_VALUES: dict[str, Any] = {
    "resources": st.sampled_from(
        [{"limits": {"memory": "128Mi"}}, {"requests": {"cpu": "5m"}}, {"limits": None}]
    ),
    "image": st.sampled_from(["agent:2", "", "evil.example.com/agent:1"]),
    "imagePullPolicy": st.sampled_from(["Always", "Sometimes"]),
    "command": st.sampled_from([["sh"], "sh"]),
    "args": st.sampled_from([["debug"], [1]]),
    "env": st.sampled_from([[{"name": "LEVEL", "value": "debug"}], [{"name": "1BAD", "value": "x"}]]),
    "securityContext": st.just({"privileged": True}),
    "ports": st.just([{"containerPort": 80}]),
    "name": st.just("renamed"),
    "volumeMounts": st.just([{"name": "x", "mountPath": "/x"}]),
}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.frozensets(st.sampled_from(OVERRIDABLE_FIELDS)), st.data())
def test_overrides_never_reach_fields_the_template_does_not_list(
    fields: frozenset[str], data: st.DataObject
) -> None:
    wanted = data.draw(st.dictionaries(st.sampled_from(sorted(OVERRIDE_VALUES)), st.none(), max_size=4))
    overrides = {field: data.draw(OVERRIDE_VALUES[field]) for field in wanted}
    obj = pod({INJECT: "agent", OVERRIDES: json.dumps({"agent": overrides})})
    templates = overridable_set(fields)
    original = next(iter(templates.templates.values())).containers[0]
    try:
        result = mutate(obj, facts(obj), templates, POLICY)
    except InjectionError:
        return
    assert set(overrides) <= fields, "an override of a field not listed was accepted"
    assert result.patched is not None
    injected = next(c for c in result.patched["spec"]["containers"] if c["name"] == "agent")
    changed = {k for k in {*injected, *original} if injected.get(k) != original.get(k)}
    assert changed <= set(overrides) & fields
    assert_valid(result.patched)


# --- variables ---------------------------------------------------------------------------------

VARIABLES = template_set(
    configmap(
        "agent",
        """
containers:
- name: agent
  image: "registry.example.com/agent:$[labels.version|1]"
  args: ["--app=$[labels.app]", "--team=$[annotations.team|none]", "--pod=$[name]"]
  env: [{name: OWNER, value: "$[workload.kind|bare]/$[workload.name|]"}]
env: [{name: APP, value: "$[labels.app|unknown]"}]
annotations: {agent.example.com/app: "$[labels.app]"}
""",
    )
)


def test_a_template_without_variables_is_not_copied() -> None:
    [plain] = AGENT.templates.values()
    assert not plain.variables
    obj = pod({INJECT: "agent"})
    assert tailor([plain], obj, obj, facts(obj), POLICY, (AGENT, {}))[0] is plain


def test_a_value_past_the_bound_is_refused_with_the_variable() -> None:
    obj = pod({INJECT: "agent"}, labels={"app": "web"})
    obj["metadata"]["annotations"]["team"] = "t" * (MAX_VALUE_CHARS + 1)
    with pytest.raises(VariableUnresolved, match=f"annotations.team has {MAX_VALUE_CHARS + 1} characters"):
        mutate(obj, facts(obj), VARIABLES, POLICY)
    obj["metadata"]["annotations"]["team"] = "t" * MAX_VALUE_CHARS
    assert mutate(obj, facts(obj), VARIABLES, POLICY).injected == ("agent",)


@pytest.mark.parametrize("version", ["", " 2", "2 "])
def test_an_image_that_renders_empty_or_padded_is_refused(version: str) -> None:
    obj = pod({INJECT: "agent"}, labels={"app": "web"})
    template = template_set(
        configmap("agent", 'containers: [{name: agent, image: "$[annotations.image|x]"}]')
    )
    obj["metadata"]["annotations"]["image"] = version
    with pytest.raises(VariableUnresolved, match="not an image"):
        mutate(obj, facts(obj), template, POLICY)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(["app", "version", "team"]), TEXT, max_size=3),
    st.dictionaries(st.sampled_from(["team", "image"]), TEXT, max_size=2),
    st.booleans(),
    st.booleans(),
)
def test_variables_never_produce_an_invalid_object_without_a_denial(
    labels: dict[str, str], annotations: dict[str, str], named: bool, owned: bool
) -> None:
    obj = pod({INJECT: "agent", **annotations}, labels=labels)
    if not named:
        del obj["metadata"]["name"]
        obj["metadata"]["generateName"] = "web-"
    if owned:
        ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u", "controller": True}
        obj["metadata"]["ownerReferences"] = [ref]
    try:
        result = mutate(obj, facts(obj), VARIABLES, POLICY)
    except VariableUnresolved as denied:
        assert "needs labels.app" in denied.message or "not an image" in denied.message
        return
    assert result.patched is not None
    for container in result.patched["spec"]["containers"]:  # the API server's rule the schema lacks
        assert container["image"] and container["image"] == container["image"].strip()
    labels_ok = all(len(v) <= 63 for v in labels.values())  # the Pod's own labels are the API's to refuse
    if labels_ok:
        obj_labels = result.patched["metadata"].get("labels", {})
        result.patched["metadata"]["labels"] = {k: "x" for k in obj_labels}  # validate ours, not theirs
        assert_valid(result.patched)
