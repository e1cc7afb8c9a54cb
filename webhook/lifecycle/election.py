"""Leader election on a ``coordination.k8s.io/v1`` Lease, so that one replica rolls workloads out.

The rules are client-go's (tools/leaderelection): a candidate takes a Lease that does not exist, has
no holder, or whose record has not changed for ``leaseDurationSeconds`` as measured on the
candidate's own clock from when it last saw the record change (never from the ``renewTime`` written
by another node's clock); the holder renews every ``retry`` seconds and gives leadership up when no
renewal succeeded for ``renew_deadline``; every write carries the resourceVersion it read, so two
candidates can never both win. On stop the holder releases the Lease (empty holder, a one-second
duration) so that another replica takes over at once rather than after the lease runs out.

Why not ``kubernetes.leaderelection`` from the official client: its ``LeaderElection.run()`` has no
way to stop (its loops sleep and retry forever), it never releases the Lease on shutdown, its
LeaseLock builds its own ``CoordinationV1Api()`` on the global default configuration (not the client
we were given), and a connection error (urllib3's, not an ApiException) escapes its ``get`` and ends
the election thread for good. This module is those rules on ``webhook.kube.resources``: stoppable,
releasing, and an API that cannot be reached is logged and retried, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from webhook.kube.client import KubeError
from webhook.kube.resources import Resources

log = logging.getLogger(__name__)
KIND = "Lease"


class LeaseElector:
    """Runs on its own thread (``run``) until ``stop()``; ``leading`` is set while this replica leads."""

    def __init__(
        self,
        resources: Resources,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_seconds: float,
        on_change: Callable[[bool], None] = lambda leading: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resources, self.namespace, self.name, self.identity = resources, namespace, name, identity
        self.lease_seconds = lease_seconds
        self.renew_deadline = lease_seconds * 2 / 3
        self.retry = lease_seconds / 7.5
        self._on_change, self._clock = on_change, clock
        self.leading = threading.Event()
        self._stopping = threading.Event()
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._last_renewal = 0.0

    def run(self) -> None:
        while not self._stopping.is_set():
            acquired = self._try()
            now = self._clock()
            if acquired:
                self._last_renewal = now
                self._set_leading(True)
            elif self.leading.is_set() and now - self._last_renewal >= self.renew_deadline:
                log.warning(
                    "lease %s/%s: not renewed for %.1f s; leadership given up",
                    self.namespace,
                    self.name,
                    now - self._last_renewal,
                )
                self._set_leading(False)
            self._stopping.wait(self.retry)
        self._release()

    def stop(self) -> None:
        """End ``run`` (which then releases the Lease if it holds it)."""
        self._stopping.set()

    def _set_leading(self, leading: bool) -> None:
        if leading != self.leading.is_set():
            (self.leading.set if leading else self.leading.clear)()
            log.info(
                "lease %s/%s: %s", self.namespace, self.name, "leading" if leading else "no longer leading"
            )
            self._on_change(leading)

    def _try(self) -> bool:
        """One round of client-go's tryAcquireOrRenew; False on any failure (logged)."""
        try:
            lease = self._resources.read(KIND, self.namespace, self.name)
        except KubeError as exc:
            if exc.status != 404:
                log.warning("lease %s/%s: cannot read it: %s", self.namespace, self.name, exc)
                return False
            return self._write(None)
        spec = lease.get("spec") or {}
        record = tuple(
            spec.get(k) for k in ("holderIdentity", "renewTime", "leaseDurationSeconds", "leaseTransitions")
        )
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        holder = spec.get("holderIdentity")
        duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder and holder != self.identity and self._clock() < self._observed_at + duration:
            self._set_leading(False)
            return False
        return self._write(lease)

    def _write(self, lease: dict[str, Any] | None) -> bool:
        spec = (lease or {}).get("spec") or {}
        now = micro_time()
        ours = spec.get("holderIdentity") == self.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if ours or lease is None else 1)
        new_spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_seconds)),
            "acquireTime": spec.get("acquireTime") if ours else now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        try:
            if lease is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": KIND,
                    "metadata": {"name": self.name},
                    "spec": new_spec,
                }
                written = self._resources.create(KIND, self.namespace, body)
            else:
                written = self._resources.replace(
                    KIND, self.namespace, self.name, {**lease, "spec": new_spec}
                )
        except KubeError as exc:
            level = logging.DEBUG if exc.status in (409,) else logging.WARNING
            log.log(level, "lease %s/%s: not taken: %s", self.namespace, self.name, exc)
            return False
        spec = written.get("spec") or {}
        self._observed = tuple(
            spec.get(k) for k in ("holderIdentity", "renewTime", "leaseDurationSeconds", "leaseTransitions")
        )
        self._observed_at = self._clock()
        return True

    def _release(self) -> None:
        if not self.leading.is_set():
            return
        self._set_leading(False)
        try:
            lease = self._resources.read(KIND, self.namespace, self.name)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            now = micro_time()
            spec = {
                **lease["spec"],
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
            }
            self._resources.replace(KIND, self.namespace, self.name, {**lease, "spec": spec})
            log.info("lease %s/%s: released", self.namespace, self.name)
        except KubeError as exc:
            log.warning(
                "lease %s/%s: not released (it runs out by itself): %s", self.namespace, self.name, exc
            )


def micro_time(moment: datetime | None = None) -> str:
    """A metav1.MicroTime: RFC 3339 with exactly six fractional digits."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
