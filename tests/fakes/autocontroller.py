"""A controller thread that ends every rollout by itself, like a cluster whose Pods start quickly.

It completes each Deployment, StatefulSet and DaemonSet rollout (``controllers.RolloutController``)
``delay`` seconds after it first sees the new generation, or fails it for the workloads a test named.
"""

from __future__ import annotations

import threading
import time

from tests.fakes.controllers import WORKLOADS, RolloutController
from tests.fakes.status import ApiError


class AutoController:
    """Completes (or fails) every workload rollout ``delay`` seconds after its new generation appears."""

    def __init__(self, rollouts: RolloutController, delay: float) -> None:
        self.rollouts = rollouts
        self.delay = delay
        self.failing: set[tuple[str, str, str]] = set()
        self._seen: dict[tuple[str, str, str], tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-apiserver-controller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        store = self.rollouts.fake.store
        with store.lock:
            store.lock.notify_all()
        self._thread.join()

    def _run(self) -> None:
        store = self.rollouts.fake.store
        while not self._stop.is_set():
            due = []
            with store.lock:
                now = time.monotonic()
                for resource in WORKLOADS:
                    for obj in store.items(resource.storage):
                        meta = obj["metadata"]
                        key = (resource.qualified, meta["namespace"], meta["name"])
                        generation = meta.get("generation", 0)
                        if (obj.get("status") or {}).get("observedGeneration") == generation:
                            continue
                        seen = self._seen.setdefault(key, (generation, now))
                        if seen[0] != generation:
                            self._seen[key] = (generation, now)
                        elif now - seen[1] >= self.delay:
                            due.append((resource, key))
                if not due:
                    store.lock.wait(timeout=min(0.05, self.delay or 0.05))
            for resource, key in due:
                try:
                    if key in self.failing:
                        self.rollouts.fail(resource, key[1], key[2])
                    else:
                        self.rollouts.complete(resource, key[1], key[2])
                except ApiError:
                    pass  # deleted or changed meanwhile: the next round sees it again
