"""TemplateStore: the one place templates live, swapped whole so a request never sees half an update.

Sources report their complete current state; the store keeps, per template document, the last good
version when a new one is broken, and publishes a new immutable TemplateSet in one reference write.
Readers (the request path) never lock: ``snapshot()`` is a plain attribute read.

``on_transition`` hears when a document's edit is rejected (a new problem; its last good version, if
any, stays in service) and when a rejected document loads again; the runtime turns those into
Events on the template's ConfigMap. Called once the new set is published, outside the lock, on the
source's thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from webhook.core.model import Template, TemplateKey, TemplateSet
from webhook.metrics import Metrics
from webhook.templates.errors import TemplateError

log = logging.getLogger(__name__)

DocumentResult = Template | TemplateError


@dataclass(slots=True)
class DocumentStatus:
    """What the store knows of one template document: the version served and the latest problem."""

    source: str
    document: str
    serving: Template | None = None
    error: TemplateError | None = None
    updated: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Transition:
    """A document was rejected (``error`` set; ``serving`` is what stays in service) or recovered."""

    source: str
    document: str
    error: TemplateError | None
    serving: Template | None


@dataclass(frozen=True, slots=True)
class NameConflict:
    """Two documents serving one template name: the first (by source, then document) is served."""

    name: str
    served: str
    ignored: str

    def __str__(self) -> str:
        return (
            f"template {self.name!r} is defined twice: {self.served} is served, {self.ignored} is ignored "
            "(the first by source, then file or ConfigMap name, wins)"
        )


def resolve_names(
    documents: Iterable[tuple[str, str, Template]],
) -> tuple[dict[TemplateKey, Template], list[NameConflict]]:
    """Templates by (namespace, name) from (source, document id, template); deterministic on conflicts."""
    templates: dict[TemplateKey, Template] = {}
    served_by: dict[TemplateKey, str] = {}
    conflicts: list[NameConflict] = []
    for _, document, template in sorted(documents, key=lambda item: (item[0], item[1])):
        key = (template.namespace, template.name)
        if key in templates:
            conflicts.append(NameConflict(template.name, served_by[key], document))
            continue
        templates[key], served_by[key] = template, document
    return templates, conflicts


class TemplateStore:
    def __init__(
        self,
        expected_sources: Iterable[str] = (),
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self._snapshot = TemplateSet()
        self._documents: dict[tuple[str, str], DocumentStatus] = {}
        self._synced: dict[str, float] = {}
        self._expected = set(expected_sources)
        self._write_lock = threading.Lock()
        self._metrics = metrics
        self._clock = clock
        self._on_transition = on_transition
        self._transitions: list[Transition] = []

    def snapshot(self) -> TemplateSet:
        return self._snapshot

    def expect_source(self, source: str) -> None:
        self._expected.add(source)

    def ready(self) -> bool:
        """True once every configured source has completed one full sync; outages later keep it true."""
        return self._expected.issubset(self._synced)

    def last_sync(self) -> Mapping[str, float]:
        return dict(self._synced)

    def replace_source(self, source: str, results: Mapping[str, DocumentResult]) -> None:
        """Take ``results`` as the source's whole state: documents not in it are gone."""
        with self._write_lock:
            changed = False
            for document, result in results.items():
                changed |= self._record(source, document, result)
            for key in [k for k in self._documents if k[0] == source and k[1] not in results]:
                log.info("template document removed: %s", key[1])
                del self._documents[key]
                changed = True
            self._mark_synced(source)
            if changed:
                self._publish()
            transitions, self._transitions = self._transitions, []
        self._announce(transitions)

    def update_documents(self, source: str, results: Mapping[str, DocumentResult | None]) -> None:
        """Apply a batch of changes from a watch: None removes a document."""
        with self._write_lock:
            changed = False
            for document, result in results.items():
                if result is None:
                    if self._documents.pop((source, document), None) is not None:
                        log.info("template document removed: %s", document)
                        changed = True
                else:
                    changed |= self._record(source, document, result)
            if changed:
                self._publish()
            transitions, self._transitions = self._transitions, []
        self._announce(transitions)

    def mark_synced(self, source: str) -> None:
        with self._write_lock:
            self._mark_synced(source)

    def statuses(self) -> list[DocumentStatus]:
        return sorted(self._documents.values(), key=lambda s: (s.source, s.document))

    def _mark_synced(self, source: str) -> None:
        now = self._clock()
        self._synced[source] = now
        if self._metrics is not None:
            self._metrics.template_source_last_sync.labels(source).set(now)

    def _record(self, source: str, document: str, result: DocumentResult) -> bool:
        status = self._documents.get((source, document))
        if status is None:
            status = self._documents[(source, document)] = DocumentStatus(source, document)
        if isinstance(result, TemplateError):
            if self._metrics is not None:
                self._metrics.template_loads.labels(source, "error").inc()
            if status.error is not None and str(status.error) == str(result):
                return False
            status.error, status.updated = result, self._clock()
            kept = f"keeping revision {status.serving.revision}" if status.serving else "nothing to keep"
            log.warning("template rejected (%s): %s", kept, result)
            self._transitions.append(Transition(source, document, result, status.serving))
            return True
        if self._metrics is not None:
            self._metrics.template_loads.labels(source, "ok").inc()
        if status.serving == result and status.error is None:
            return False
        if status.error is not None:
            self._transitions.append(Transition(source, document, None, result))
        status.serving, status.error, status.updated = result, None, self._clock()
        log.info("template loaded: %s revision %s from %s", result.name, result.revision, document)
        return True

    def _announce(self, transitions: list[Transition]) -> None:
        if self._on_transition is None:
            return
        for transition in transitions:
            try:
                self._on_transition(transition)
            except Exception:  # a listener must not stop template updates
                log.exception("template transition listener failed on %s", transition.document)

    def _publish(self) -> None:
        templates, conflicts = resolve_names(
            (status.source, status.document, status.serving)
            for status in self._documents.values()
            if status.serving is not None
        )
        for conflict in conflicts:
            log.warning("%s", conflict)
        self._snapshot = TemplateSet(templates, self._snapshot.generation + 1)
        if self._metrics is not None:
            self._metrics.templates_served.set(len(templates))
            self._metrics.export_templates(self._documents.values())
