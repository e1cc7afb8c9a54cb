from __future__ import annotations

from typing import Any

import pytest

from webhook.core import Template
from webhook.core.levels import PodSecurityLevel
from webhook.core.security import TemplateSecurityPolicy, policy_violations, required_level

RESTRICTED_CONTEXT = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def template(
    context: dict[str, Any] | None = None, volumes: tuple[dict[str, Any], ...] = (), **container: Any
) -> Template:
    sidecar = {
        "name": "s",
        "image": "registry.example.com/s:1",
        "securityContext": RESTRICTED_CONTEXT if context is None else context,
        **container,
    }
    return Template(name="t", revision="r", containers=(sidecar,), volumes=volumes)


@pytest.mark.parametrize(
    ("candidate", "level"),
    [
        (template(), "restricted"),
        (template(volumes=({"name": "v", "emptyDir": {}},)), "restricted"),
        (template({}), "baseline"),
        (template({**RESTRICTED_CONTEXT, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}), "baseline"),
        (template(volumes=({"name": "v", "nfs": {"server": "s", "path": "/"}},)), "baseline"),
        (template({**RESTRICTED_CONTEXT, "privileged": True}), "privileged"),
        (
            template({**RESTRICTED_CONTEXT, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}),
            "privileged",
        ),
        (template(volumes=({"name": "v", "hostPath": {"path": "/var/log"}},)), "privileged"),
        (template(ports=[{"containerPort": 80, "hostPort": 80}]), "privileged"),
    ],
)
def test_the_pod_security_level_a_template_needs(candidate: Template, level: str) -> None:
    assert required_level(candidate) == level


def test_each_forbidden_feature_is_rejected_with_its_field() -> None:
    bad = template(
        {**RESTRICTED_CONTEXT, "privileged": True, "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}},
        volumes=({"name": "logs", "hostPath": {"path": "/var/log"}},),
        ports=[{"containerPort": 80, "hostPort": 80}],
    )
    fields = {v.field for v in policy_violations(bad, TemplateSecurityPolicy(False, False, False, False))}
    assert fields == {
        "containers[0].securityContext.privileged",
        "containers[0].securityContext.capabilities.add",
        "containers[0].ports[0].hostPort",
        "volumes[0].hostPath",
    }
    assert policy_violations(bad, TemplateSecurityPolicy()) == [], "the default policy allows everything"


def test_images_must_come_from_an_allowed_registry() -> None:
    policy = TemplateSecurityPolicy(allowed_registries=("registry.example.com",))
    assert policy_violations(template(), policy) == []
    evil = template(image="registry.example.com.evil.io/s:1")
    assert [v.field for v in policy_violations(evil, policy)] == ["containers[0].image"]


def test_a_maximum_level_rejects_templates_that_need_more() -> None:
    assert policy_violations(template(), TemplateSecurityPolicy.restricted()) == []
    assert (
        policy_violations(template({}), TemplateSecurityPolicy(maximum_level=PodSecurityLevel.BASELINE)) == []
    )
    assert policy_violations(template({}), TemplateSecurityPolicy.restricted())
