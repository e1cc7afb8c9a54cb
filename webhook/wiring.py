"""The review handler the server decides with, put together from Settings.

The runtime builds its handler here, and so do the in-process benchmarks (``bench/around_engine.py``,
``bench/profile.py --only-handler``), so they time what the server runs: the policy with the
workload readers, and the namespace's Pod Security level among every review's facts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from webhook.core.levels import PodSecurityLevel
from webhook.metrics import Metrics
from webhook.server.decision import NamespaceLevelLookup, NamespaceLookup, Outcome, TemplateSnapshotProvider
from webhook.server.handler import ReviewHandler
from webhook.settings import Settings
from webhook.templates.workload_checks import workload_readers


def review_handler(
    settings: Settings,
    templates: TemplateSnapshotProvider,
    metrics: Metrics,
    *,
    namespace_levels: NamespaceLevelLookup | None = None,
    namespaces: NamespaceLookup | None = None,
    on_decided: Callable[[Outcome], None] | None = None,
    verify_patches: bool = True,
) -> ReviewHandler:
    """The handler the server decides reviews with. ``namespace_levels`` is the namespace watch's
    lookup; without one (no API access) every namespace has ``--pod-security-default-level``."""
    policy = dataclasses.replace(settings.policy, readers=workload_readers(settings.kubernetes_version))

    def default_level(namespace: str) -> PodSecurityLevel | None:
        return settings.pod_security_default_level

    levels: NamespaceLevelLookup | None
    if settings.policy.pod_security_check == "off":
        levels = None  # nothing reads the level: skip the lookup on every review
    else:
        levels = namespace_levels if namespace_levels is not None else default_level
    return ReviewHandler(
        templates,
        policy,
        metrics,
        allow_on_internal_error=settings.allow_on_internal_error,
        verify_patches=verify_patches,
        namespace_levels=levels,
        namespaces=namespaces,
        on_decided=on_decided,
    )
