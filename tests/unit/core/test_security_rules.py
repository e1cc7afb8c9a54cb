"""Pod Security levels are an ordered type, and every finding names the rule a policy matches on."""

from __future__ import annotations

import pytest

from tests.unit.core.test_security import RESTRICTED_CONTEXT, template
from webhook.core.levels import PodSecurityLevel
from webhook.core.security import TemplateSecurityPolicy, policy_violations
from webhook.core.security_rules import CONTAINER_RULES, Rule, security_findings

PRIVILEGED, BASELINE, RESTRICTED = PodSecurityLevel


def test_levels_order_from_the_most_permissive_and_equal_their_names() -> None:
    assert PRIVILEGED < BASELINE < RESTRICTED
    assert max(PodSecurityLevel) is RESTRICTED and min(PodSecurityLevel) is PRIVILEGED
    assert sorted([RESTRICTED, PRIVILEGED, BASELINE]) == [PRIVILEGED, BASELINE, RESTRICTED]
    assert BASELINE == "baseline" and f"{BASELINE}" == "baseline"


def test_a_level_never_orders_against_a_plain_string() -> None:
    """String order would put baseline first; a level and a name are never compared that way."""
    with pytest.raises(TypeError):
        _ = RESTRICTED < "baseline"  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = RESTRICTED > "baseline"  # type: ignore[operator]


EVERYTHING = template(
    {
        "privileged": True,
        "capabilities": {"add": ["SYS_ADMIN"]},
        "seccompProfile": {"type": "Unconfined"},
        "procMount": "Unmasked",
        "windowsOptions": {"hostProcess": True},
        "appArmorProfile": {"type": "Unconfined"},
        "seLinuxOptions": {"user": "root"},
        "runAsUser": 0,
    },
    volumes=(
        {"name": "logs", "hostPath": {"path": "/var/log"}},
        {"name": "n", "nfs": {"server": "s", "path": "/"}},
    ),
    ports=[{"containerPort": 80, "hostPort": 80}],
)


def test_every_finding_names_its_rule() -> None:
    rules = {finding.rule for finding in security_findings(EVERYTHING)}
    assert rules == set(Rule) - {Rule.REGISTRY}


def test_the_rule_table_lists_each_container_rule_once() -> None:
    ids = [rule for rule, _ in CONTAINER_RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("flag", "rule"),
    [
        ("allow_privileged", Rule.PRIVILEGED),
        ("allow_host_ports", Rule.HOST_PORTS),
        ("allow_host_path", Rule.HOST_PATH),
        ("allow_added_capabilities", Rule.ADDED_CAPABILITIES),
    ],
)
def test_each_policy_flag_rejects_the_findings_of_its_rule_and_no_other(flag: str, rule: Rule) -> None:
    policy = TemplateSecurityPolicy(**{flag: False})
    assert policy.forbidden_rules == {rule}
    rejected = policy_violations(EVERYTHING, policy)
    assert rejected and {finding.rule for finding in rejected} == {rule}


def test_a_registry_outside_the_allowed_ones_is_its_own_rule() -> None:
    policy = TemplateSecurityPolicy(allowed_registries=("registry.internal",))
    [finding] = policy_violations(template(RESTRICTED_CONTEXT), policy)
    assert finding.rule is Rule.REGISTRY and finding.field == "containers[0].image"


@pytest.mark.parametrize("name", ["baseline", "strict"])
def test_the_maximum_level_is_a_level_never_its_name(name: str) -> None:
    # A name would not order against levels; compiled or not, the policy refuses it when built.
    with pytest.raises(TypeError, match="PodSecurityLevel"):
        TemplateSecurityPolicy(maximum_level=name)  # type: ignore[arg-type]
    assert TemplateSecurityPolicy(maximum_level=BASELINE).maximum_level is BASELINE
