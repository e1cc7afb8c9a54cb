from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.core.test_security import RESTRICTED_CONTEXT, template
from webhook.core import AdmissionFacts, InjectionPolicy, PodSecurityConflict, Template, TemplateSet, mutate
from webhook.core.levels import PodSecurityLevel
from webhook.core.pod_security import ENFORCE_LABEL, enforced_level, pod_security_gaps
from webhook.core.security import required_level

RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
PER_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


@pytest.mark.parametrize(
    ("labels", "default", "level"),
    [
        (None, "privileged", "privileged"),
        ({}, "baseline", "baseline"),
        ({ENFORCE_LABEL: "restricted"}, "privileged", "restricted"),
        ({ENFORCE_LABEL: "baseline"}, "restricted", "baseline"),
        ({ENFORCE_LABEL: "privileged"}, "restricted", "privileged"),
        # Pod Security admission evaluates a level it does not know as restricted; so do we.
        ({ENFORCE_LABEL: "Restricted"}, "privileged", "restricted"),
        ({ENFORCE_LABEL: ""}, "privileged", "restricted"),
    ],
)
def test_the_enforced_level_comes_from_the_namespace_label_or_the_cluster_default(
    labels: dict[str, str] | None, default: str, level: str
) -> None:
    assert enforced_level(labels, PodSecurityLevel(default)) == level


def test_a_privileged_namespace_accepts_everything() -> None:
    privileged = template({"privileged": True})
    assert pod_security_gaps([privileged], {}, "ns", PodSecurityLevel.PRIVILEGED) == []


def test_a_gap_names_the_template_the_level_and_only_the_forbidden_fields() -> None:
    needs_baseline = template({**RESTRICTED_CONTEXT, "runAsNonRoot": None})
    hostpath = template(volumes=({"name": "logs", "hostPath": {"path": "/var/log"}},))
    [gap] = pod_security_gaps([needs_baseline], {}, "team-a", PodSecurityLevel.RESTRICTED)
    assert (gap.template, gap.needs, gap.enforced) == ("t", "baseline", "restricted")
    assert gap.fields == "containers[0]: runAsNonRoot"
    assert pod_security_gaps([needs_baseline], {}, "team-a", PodSecurityLevel.BASELINE) == []
    [gap] = pod_security_gaps([hostpath], {}, "team-a", PodSecurityLevel.BASELINE)
    assert (gap.needs, gap.fields) == ("privileged", "volumes[0]: hostPath")


def test_pod_level_settings_are_inherited_by_injected_containers() -> None:
    sidecar = template(PER_CONTAINER)
    assert required_level(sidecar) == "baseline"  # judged alone, as when templates load
    assert (
        pod_security_gaps([sidecar], {"securityContext": RESTRICTED_POD}, "ns", PodSecurityLevel.RESTRICTED)
        == []
    )
    # ...but a container's own setting wins over the pod's.
    refuses = template({**PER_CONTAINER, "runAsNonRoot": False})
    [gap] = pod_security_gaps(
        [refuses], {"securityContext": RESTRICTED_POD}, "ns", PodSecurityLevel.RESTRICTED
    )
    assert gap.fields == "containers[0]: runAsNonRoot"


def test_a_pods_own_unconfined_seccomp_is_not_blamed_on_the_template() -> None:
    pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}}
    [gap] = pod_security_gaps([template(PER_CONTAINER)], pod, "ns", PodSecurityLevel.RESTRICTED)
    assert (gap.needs, gap.fields) == ("baseline", "containers[0]: seccompProfile")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"seLinuxOptions": {"type": "spc_t"}}, "seLinuxOptions"),
        ({"seLinuxOptions": {"user": "system_u"}}, "seLinuxOptions"),
        ({"appArmorProfile": {"type": "Unconfined"}}, "appArmorProfile"),
        ({"windowsOptions": {"hostProcess": True}}, "windowsOptions.hostProcess"),
        ({"procMount": "Unmasked"}, "procMount"),
    ],
)
def test_baseline_forbids_what_the_pod_security_standards_list(extra: dict[str, Any], field: str) -> None:
    [gap] = pod_security_gaps(
        [template({**RESTRICTED_CONTEXT, **extra})], {}, "ns", PodSecurityLevel.BASELINE
    )
    assert gap.fields == f"containers[0]: {field}"
    allowed = template({**RESTRICTED_CONTEXT, "seLinuxOptions": {"type": "container_init_t", "level": "s0"}})
    assert required_level(allowed) == "restricted"


def test_an_unconfined_apparmor_annotation_needs_privileged() -> None:
    annotated = Template(
        name="t",
        revision="r",
        containers=(template().containers[0],),
        annotations={"container.apparmor.security.beta.kubernetes.io/s": "unconfined"},
    )
    assert required_level(annotated) == "privileged"
    confined = Template(
        name="t",
        revision="r",
        annotations={"container.apparmor.security.beta.kubernetes.io/s": "localhost/p"},
    )
    assert required_level(confined) == "restricted"


def pod(annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }


@pytest.mark.parametrize("check", ["warn", "deny"])
def test_the_engine_warns_or_denies_by_policy_and_only_when_the_level_is_known(check: str) -> None:
    templates = TemplateSet({(None, "t"): template({})})
    obj = pod({"sidecar-injector.io/inject": "t"})
    policy = InjectionPolicy(pod_security_check=check)
    unknown = AdmissionFacts("u", "CREATE", "Pod", "team-a")
    assert mutate(obj, unknown, templates, policy).warnings == ()
    known = AdmissionFacts("u", "CREATE", "Pod", "team-a", pod_security_level=PodSecurityLevel.RESTRICTED)
    if check == "deny":
        with pytest.raises(PodSecurityConflict, match="the pod will be rejected"):
            mutate(obj, known, templates, policy)
    else:
        result = mutate(obj, known, templates, policy)
        assert result.injected == ("t",)
        assert result.warnings[0].endswith("enforces 'restricted': the pod will be rejected")
        assert all(len(w) <= 120 for w in result.warnings)


def test_an_unknown_check_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="pod_security_check"):
        InjectionPolicy(pod_security_check="audit")


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["seccompProfile", "type", "runAsNonRoot", "x"]), inner, max_size=3),
    ),
    max_leaves=10,
)


@given(pod_context=JSON, level=st.sampled_from(["privileged", "baseline", "restricted"]))
def test_any_pod_security_context_is_judged_without_crashing(pod_context: Any, level: str) -> None:
    obj = pod({"sidecar-injector.io/inject": "t"})
    obj["spec"]["securityContext"] = pod_context
    facts = AdmissionFacts("u", "CREATE", "Pod", "ns", pod_security_level=PodSecurityLevel(level))
    result = mutate(obj, facts, TemplateSet({(None, "t"): template({})}), InjectionPolicy())
    assert result.injected == ("t",)
    assert bool(result.pod_security_gaps) == (level == "restricted")


def test_the_facts_take_a_level_never_its_name() -> None:
    # "restricted" as a string would not order against levels; refused when the facts are built.
    with pytest.raises(TypeError, match="PodSecurityLevel"):
        AdmissionFacts("u", "CREATE", "Pod", "ns", pod_security_level="restricted")  # type: ignore[arg-type]
