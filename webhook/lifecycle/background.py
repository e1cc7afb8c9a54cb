"""The server's day-2 work, built from Settings and started with the template sources: the Pod watch
behind ``sidecar_injector_pods`` (``--watch-pods``) and the rolling updater behind its Lease
(``--rollout-updater``). Neither is on the request path: they run on threads of their own and only
ever publish metrics or write to the API.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from webhook.core.model import TemplateSet
from webhook.kube.client import build_client
from webhook.kube.namespaces import NamespaceMirror
from webhook.kube.resources import Resources
from webhook.lifecycle.election import LeaseElector
from webhook.lifecycle.executor import Limits
from webhook.lifecycle.podwatch import PodWatch, no_namespaces
from webhook.lifecycle.updater import RollingUpdater
from webhook.metrics import Metrics
from webhook.settings import Settings

log = logging.getLogger(__name__)


def identity() -> str:
    """Unique per process, readable in the Lease: the pod's name (its hostname) and a random part."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _pod_watch(
    resources: Resources,
    settings: Settings,
    templates: Callable[[], TemplateSet],
    metrics: Metrics,
    namespaces: NamespaceMirror | None,
) -> PodWatch:
    opt_in = namespaces.metadata if namespaces and settings.policy.namespace_opt_in else None
    return PodWatch(
        resources,
        templates,
        settings.policy,
        metrics.export_pods,
        namespaces=opt_in or no_namespaces,
        on_sync=metrics.pod_watch_last_sync.set,
    )


class Background:
    def __init__(
        self,
        settings: Settings,
        templates: Callable[[], TemplateSet],
        metrics: Metrics,
        namespaces: NamespaceMirror | None = None,
    ) -> None:
        """``namespaces``: the server's namespace watch (Pods opted in by their namespace alone)."""
        api_client, self._owns_client = build_client(
            None, None, str(settings.kubeconfig) if settings.kubeconfig else None
        )
        self._api_client = api_client
        resources = Resources(api_client)
        self.pod_watch: PodWatch | None = None
        self.elector: LeaseElector | None = None
        self.updater: RollingUpdater | None = None
        if settings.watch_pods:
            self.pod_watch = _pod_watch(resources, settings, templates, metrics, namespaces)
        if settings.rollout_updater:
            self.elector = LeaseElector(
                resources,
                settings.namespace,
                settings.leader_election_lease_name,
                identity(),
                lease_seconds=settings.leader_election_lease_seconds,
                on_change=lambda leading: metrics.rollout_leader.set(1 if leading else 0),
            )
            limits = Limits(
                settings.rollout_max_in_flight, settings.rollout_timeout, settings.rollout_poll_seconds
            )
            self.updater = RollingUpdater(
                resources,
                templates,
                settings.policy,
                limits,
                self.elector,
                lambda template, action, result: metrics.rollout_actions.labels(
                    template, action, result
                ).inc(),
                interval=settings.rollout_interval,
            )
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.pod_watch is not None:
            self.pod_watch.start()
        for name, target in (("lease", self.elector), ("rolling-updater", self.updater)):
            if target is not None:
                thread = threading.Thread(target=target.run, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop everything; the Lease is released (a follower takes over at once)."""
        if self.updater is not None:
            self.updater.stop()
        if self.elector is not None:
            self.elector.stop()
        if self.pod_watch is not None:
            self.pod_watch.stop(timeout)
        for thread in self._threads:
            thread.join(timeout)
        if self._owns_client:
            self._api_client.close()  # type: ignore[no-untyped-call]  # the client leaves it unannotated
