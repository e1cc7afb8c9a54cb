"""wiring.review_handler: the handler the server (and the in-process benchmarks) decide with."""

from __future__ import annotations

from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from tests.support.reviews import opted_in_pod, review
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.metrics import Metrics
from webhook.server.review import ParsedReview
from webhook.settings import Settings
from webhook.wiring import review_handler

TEMPLATES = template_set(
    (Path(__file__).parents[3] / "examples" / "logging-agent-initializer.yaml").read_text()
)
BODY = orjson.dumps(review(opted_in_pod(), namespace="team-a"))


def facts_read_by(settings: Settings, **lookups: object):  # type: ignore[no-untyped-def]
    handler = review_handler(settings, lambda: TEMPLATES, Metrics(CollectorRegistry()), **lookups)  # type: ignore[arg-type]
    parsed = handler.decision.read(BODY)
    assert isinstance(parsed, ParsedReview), parsed
    return parsed.facts


def test_without_a_namespace_watch_every_namespace_has_the_default_level() -> None:
    facts = facts_read_by(Settings(pod_security_default_level=PodSecurityLevel.BASELINE))
    assert facts.pod_security_level == PodSecurityLevel.BASELINE
    assert facts.namespace_metadata is None


def test_the_watch_answers_for_the_namespace_when_there_is_one() -> None:
    metadata = NamespaceMetadata(labels={"team": "a"})
    facts = facts_read_by(
        Settings(pod_security_default_level=PodSecurityLevel.BASELINE),
        namespace_levels={"team-a": PodSecurityLevel.RESTRICTED}.get,
        namespaces={"team-a": metadata}.get,
    )
    assert (facts.pod_security_level, facts.namespace_metadata) == (PodSecurityLevel.RESTRICTED, metadata)


def test_with_the_check_off_no_level_is_looked_up() -> None:
    settings = Settings(
        policy=InjectionPolicy(pod_security_check="off"),
        pod_security_default_level=PodSecurityLevel.RESTRICTED,
    )
    assert facts_read_by(settings).pod_security_level is None
    answer = review_handler(settings, lambda: TEMPLATES, Metrics(CollectorRegistry())).handle(BODY)
    assert orjson.loads(answer.body)["response"]["allowed"] is True


def test_the_decision_carries_the_settings_policy_with_the_workload_readers() -> None:
    """What bench/around_engine.py hands mutate() when it times the engine apart: the server's own
    policy, not a default one."""
    settings = Settings(policy=InjectionPolicy(pod_security_check="warn"))
    policy = review_handler(settings, lambda: TEMPLATES, Metrics(CollectorRegistry())).decision.policy
    assert policy.pod_security_check == "warn"
    assert policy.readers is not None and policy.readers != InjectionPolicy().readers
