"""The rolling updater: while this replica holds the Lease, the templates whose update policy is
``rolling`` are rolled out as ``sidecar-injector rollout -A`` would, with the same bound, every
``interval`` seconds and soon after the templates change.

A workload whose rollout failed is not tried again for that template revision (it would stop every
later run at the same place); a new revision tries it again. Leadership lost during a run stops it
between two polls: the new leader starts over from what it reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from webhook.core.model import InjectionPolicy, TemplateSet
from webhook.kube.client import KubeError
from webhook.kube.resources import Resources
from webhook.lifecycle.drift import drift_rows
from webhook.lifecycle.election import LeaseElector
from webhook.lifecycle.executor import Executor, Limits
from webhook.lifecycle.inventory import take_inventory
from webhook.lifecycle.planning import Step, plan

log = logging.getLogger(__name__)
CountAction = Callable[[str, str, str], None]
"""(template, action, result)."""
_TEMPLATE_POLL = 1.0


class RollingUpdater:
    def __init__(
        self,
        resources: Resources,
        templates: Callable[[], TemplateSet],
        policy: InjectionPolicy,
        limits: Limits,
        elector: LeaseElector,
        count: CountAction,
        *,
        interval: float,
    ) -> None:
        self._resources, self._templates, self._policy = resources, templates, policy
        self._limits, self._elector, self._count, self._interval = limits, elector, count, interval
        self._stopping = threading.Event()
        self._failed: set[tuple[str, str, str, str, str]] = set()
        """(template, revision, kind, namespace, name) of failed rollouts."""

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        seen: TemplateSet | None = None
        waited = self._interval
        while not self._stopping.is_set():
            templates = self._templates()
            # The store swaps in a new snapshot on every change, so identity says "changed".
            changed = seen is not None and templates is not seen
            if self._elector.leading.is_set() and (changed or waited >= self._interval):
                seen, waited = templates, 0.0
                try:
                    self.run_once(templates)
                except KubeError as exc:
                    log.warning("rolling updater: cannot read the cluster: %s", exc)
            elif seen is None:
                seen = templates
            self._stopping.wait(_TEMPLATE_POLL)
            waited += _TEMPLATE_POLL

    def run_once(self, templates: TemplateSet) -> None:
        rolling = sorted(
            {
                t.name: t
                for t in templates.templates.values()
                if self._policy.update_policy_of(t) == "rolling"
            }.items()
        )
        if not rolling:
            return
        inventory = take_inventory(self._resources, None, self._policy)
        rows = drift_rows(inventory, templates, self._policy)
        for name, template in rolling:
            if not self._leading():
                return
            steps = [
                s
                for s in plan(rows, inventory, templates, self._policy, name)
                if not self._gave_up(name, template.revision, s)
            ]
            if any(s.action != "list" for s in steps):
                log.info("rolling updater: template %s, %d workload(s) to roll out", name, len(steps))
                self._execute(name, template.revision, templates, steps)

    def _execute(self, name: str, revision: str, templates: TemplateSet, steps: list[Step]) -> None:
        def report(what: str, step: Step, message: str) -> None:
            log.info("rolling updater: %s %s: %s (template %s)", what, step, message, name)
            if what in ("done", "failed"):
                self._count(name, step.action, what)
            if what == "failed":
                self._failed.add((name, revision, step.kind, step.namespace, step.name))

        executor = Executor(
            self._resources, templates, self._policy, name, self._limits, report, proceed=self._leading
        )
        executor.run(steps)

    def _leading(self) -> bool:
        return self._elector.leading.is_set() and not self._stopping.is_set()

    def _gave_up(self, name: str, revision: str, step: Step) -> bool:
        return (name, revision, step.kind, step.namespace, step.name) in self._failed
