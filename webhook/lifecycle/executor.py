"""Carrying out a rollout plan: at most ``max_in_flight`` workloads rolling at once, each waited for
until its controller reports it done, and no new one started after the first that fails.

Each step reads its workload, computes its change from what it read (``planning.prepare``) and sends
it; a guarded upgrade patch that lost a race (the object changed in between: 409, or 422 from the
failed resourceVersion test) is computed again from a fresh read, a few times. It then polls the
workload (``progress``) until done, failed, or ``timeout`` seconds without finishing. Once a step
fails, the steps not started are left alone and those in flight are reported as still rolling: the
controller goes on with them, and nothing is undone. Listed steps (bare Pods...) are only reported.

Single-threaded on purpose: the bound is a count in one loop, and the reports come in order.
``proceed`` lets the server's updater stop between polls when its replica stops leading.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from webhook.core import InjectionPolicy, TemplateSet
from webhook.kube.client import KubeError
from webhook.kube.resources import Resources
from webhook.lifecycle.planning import Change, Step, prepare
from webhook.lifecycle.progress import rollout_progress
from webhook.settings import DEFAULTS

RACES = 3
"""Fresh reads before a step whose guarded patch keeps losing to other writers fails."""

Report = Callable[[str, Step, str], None]
"""(what happened: started, done, failed, listed, rolling, would; the step; a message)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_in_flight: int = DEFAULTS.rollout_max_in_flight
    timeout: float = DEFAULTS.rollout_timeout
    """Seconds a workload may take to finish its rollout."""
    poll: float = DEFAULTS.rollout_poll_seconds


@dataclass(slots=True)
class Result:
    done: list[Step] = field(default_factory=list)
    listed: list[Step] = field(default_factory=list)
    failed: tuple[Step, str] | None = None
    rolling: list[Step] = field(default_factory=list)
    """In flight when the rollout stopped: their controllers go on with them."""
    not_started: list[Step] = field(default_factory=list)


@dataclass(slots=True)
class _InFlight:
    step: Step
    generation: int
    deadline: float


class Executor:
    def __init__(
        self,
        resources: Resources,
        templates: TemplateSet,
        policy: InjectionPolicy,
        template: str,
        limits: Limits,
        report: Report,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        proceed: Callable[[], bool] = lambda: True,
    ) -> None:
        self._resources, self._templates, self._policy = resources, templates, policy
        self._template, self._limits, self._report = template, limits, report
        self._clock, self._sleep, self._proceed = clock, sleep, proceed

    def run(self, steps: list[Step]) -> Result:
        result = Result()
        pending = [s for s in steps if s.action != "list"]
        for step in steps:
            if step.action == "list":
                result.listed.append(step)
                self._report("listed", step, step.why)
        in_flight: list[_InFlight] = []
        while (pending or in_flight) and result.failed is None and self._proceed():
            while pending and len(in_flight) < self._limits.max_in_flight and result.failed is None:
                self._start(pending.pop(0), in_flight, result)
            if in_flight and result.failed is None:
                self._sleep(self._limits.poll)
                self._poll(in_flight, result)
        result.rolling = [f.step for f in in_flight]
        result.not_started = pending
        for step in result.rolling:
            self._report("rolling", step, "left to its controller: the rollout stopped")
        return result

    def _start(self, step: Step, in_flight: list[_InFlight], result: Result) -> None:
        try:
            generation = self._apply(step)
        except (KubeError, _Refused) as exc:
            result.failed = (step, str(exc))
            self._report("failed", step, str(exc))
            return
        self._report("started", step, step.why)
        if step.wait:
            in_flight.append(_InFlight(step, generation, self._clock() + self._limits.timeout))
        else:
            result.done.append(step)
            self._report("done", step, "patched; nothing to wait for")

    def _apply(self, step: Step) -> int:
        """Send the step's change; the generation it produced."""
        for attempt in range(RACES):
            obj = self._resources.read(step.kind, step.namespace, step.name)
            change = prepare(step, obj, self._templates, self._policy, self._template)
            if isinstance(change, str):
                raise _Refused(change)
            try:
                return _generation(self._send(step, change))
            except KubeError as exc:
                if exc.status not in (409, 422) or attempt == RACES - 1 or change.patch_type != "json":
                    raise
        raise AssertionError("unreachable")

    def _send(self, step: Step, change: Change) -> dict[str, object]:
        return self._resources.patch(step.kind, step.namespace, step.name, change.patch, change.patch_type)

    def _poll(self, in_flight: list[_InFlight], result: Result) -> None:
        for flight in list(in_flight):
            step = flight.step
            try:
                obj = self._resources.read(step.kind, step.namespace, step.name)
            except KubeError as exc:
                self._report("waiting", step, f"cannot read it: {exc}")
                continue
            progress = rollout_progress(step.kind, obj, flight.generation)
            if progress.phase == "progressing" and self._clock() >= flight.deadline:
                progress = type(progress)(
                    "failed", f"not done within {self._limits.timeout:g} s: {progress.message}"
                )
            if progress.phase == "done":
                in_flight.remove(flight)
                result.done.append(step)
                self._report("done", step, progress.message)
            elif progress.phase == "failed":
                in_flight.remove(flight)
                result.failed = (step, progress.message)
                self._report("failed", step, progress.message)
                return


class _Refused(Exception):
    """The change cannot be made (the template cannot be applied, the status is unreadable...)."""


def _generation(obj: dict[str, object]) -> int:
    metadata = obj.get("metadata")
    generation = metadata.get("generation") if isinstance(metadata, dict) else None
    return int(generation) if isinstance(generation, int) else 0
