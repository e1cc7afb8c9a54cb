"""The templates a one-shot command (``drift``, ``rollout``) compares against: read from the API
exactly as the server reads them (the same source, parser and scoping rules), then let go.

A revision is a digest of the template's content, so reading the ConfigMaps here gives the same
revisions the server serves, as long as the command is given the server's template flags.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from webhook.core.model import TemplateSet
from webhook.core.security import TemplateSecurityPolicy
from webhook.kube.client import KubeError
from webhook.kube.resources import Resources
from webhook.templates.kube_source import KubeTemplateSource
from webhook.templates.store import TemplateStore

_POLL = 0.05


@dataclass(frozen=True, slots=True)
class TemplateScope:
    """Which namespaces' template ConfigMaps are read, as ``serve --kube`` reads them."""

    own_namespace: str
    namespaces: Sequence[str] | None = ()
    """Other namespaces read (tenant templates); None: every namespace."""
    shared: frozenset[str] = field(default_factory=frozenset)


def cluster_templates(
    resources: Resources,
    scope: TemplateScope,
    *,
    kubernetes_version: str,
    security: TemplateSecurityPolicy,
    legacy: bool = True,
    timeout: float = 30.0,
) -> TemplateSet:
    """Every template the server would serve; raises KubeError when they cannot be read in time."""
    store = TemplateStore()
    namespaces = None if scope.namespaces is None else [scope.own_namespace, *scope.namespaces]
    source = KubeTemplateSource(
        store,
        own_namespace=scope.own_namespace,
        namespaces=namespaces,
        shared_namespaces=scope.shared,
        legacy=legacy,
        api_client=resources.api_client,
        kubernetes_version=kubernetes_version,
        security=security,
    )
    source.start()
    try:
        deadline = time.monotonic() + timeout
        while not store.ready():
            if time.monotonic() >= deadline:
                raise KubeError(None, "timeout", f"template ConfigMaps not read within {timeout:g} s")
            time.sleep(_POLL)
        return store.snapshot()
    finally:
        source.stop()
