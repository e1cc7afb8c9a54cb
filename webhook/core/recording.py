"""The status annotation an injection writes: what the templates added, and what the patch created.

See core/status.py for the format. The engine merges the templates, then calls ``record_status``
last, so that the maps and lists the status annotation itself creates are recorded too.
"""

from __future__ import annotations

from webhook.core.jsontypes import JsonObject
from webhook.core.model import InjectionPolicy, Template
from webhook.core.patching import PatchBuilder, Tokens
from webhook.core.status import Added, InjectionStatus, StatusEntry, status_text

INCOMPLETE_STATUS = (
    "the injection status is too large to record what was added: uninject and the workload "
    "upgrade will only work while the templates keep this revision"
)


def record_status(
    builder: PatchBuilder,
    root: Tokens,
    pod_template: JsonObject,
    already: InjectionStatus,
    injected: list[tuple[Template, Added]],
    copied: tuple[tuple[str, str | None], ...],
    policy: InjectionPolicy,
) -> tuple[str, ...]:
    """Put the status annotation (the earlier entries plus these); returns the warnings."""
    target = (*root, "metadata", "annotations")
    creations = [*builder.created, *builder.would_create(target)]
    created: list[str] = []
    was_null: list[str] = []
    if creations:  # most pods have the maps and lists a template adds to
        names = _app_container_names(pod_template)
        for creation in creations:
            created.append(_relative(creation.tokens, root, names))
            if creation.was_null:
                was_null.append(created[-1])
    text, complete = status_text(
        (*already.entries, *[StatusEntry(t.name, t.revision, added) for t, added in injected]),
        _unique(already.created, created),
        _unique(already.was_null, was_null),
        (*already.copied, *copied),
    )
    builder.put(target, policy.status_annotation, text)
    return () if complete else (INCOMPLETE_STATUS,)


def _unique(earlier: tuple[str, ...], paths: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*earlier, *paths))) if earlier or paths else ()


def path_tokens(path: str) -> tuple[str, ...]:
    """A recorded path (``spec/containers/web/env``) as its parts."""
    return tuple(path.split("/"))


def _relative(tokens: Tokens, root: Tokens, container_names: list[str]) -> str:
    """The path from the pod template, app containers by name (indexes shift, names do not)."""
    parts = list(tokens[len(root) :])
    if len(parts) > 2 and parts[:2] == ["spec", "containers"] and parts[2].isdigit():
        parts[2] = container_names[int(parts[2])]
    return "/".join(parts)


def _app_container_names(pod_template: JsonObject) -> list[str]:
    spec = pod_template.get("spec") or {}
    return [str(c.get("name")) for c in spec.get("containers") or []]
