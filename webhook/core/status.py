"""The injection status annotation: what the injector added to an object, and the one parser of it.

``sidecar-injector.io/status`` sits on the pod template (a Pod's own metadata). Version 1 listed
``{"injected": [{"name", "revision"}]}``; version 2 (``"v": 2``) adds what each template actually
added, as names (never values), so that uninject and the workload-mode upgrade remove exactly the
injector's items and never the workload's own (an item the workload already had was skipped at
injection, so it is not listed)::

    {"v": 2,
     "injected": [{"name": "log-shipper", "revision": "390bfc8dc47ff85a",
                   "added": {"containers": ["log-shipper"], "initContainers": [...],
                             "volumes": [...], "imagePullSecrets": [...],
                             "env": {"web": ["LOG_DIR"]}, "volumeMounts": {"web": ["/var/log/app"]},
                             "annotations": [...], "labels": [...]}}],
     "created": ["spec/volumes", "spec/containers/web/volumeMounts", "metadata/annotations"],
     "wasNull": ["spec/volumes"],
     "copied": {"sidecar-injector.io/inject": null}}

- ``added`` lists per template the names it added (empty lists are left out); env names and mount
  paths per app container, by the container's name;
- ``created`` the maps and lists the injections created (paths from the pod template, containers by
  name), so that removing the last item removes the map or list again; ``wasNull`` those that were
  ``null`` before (restored as ``null``);
- ``copied`` the pod template annotations pod injection wrote (the opt-in a workload carried on its
  own metadata), with the value each had before (``null``: absent).

Old (version 1) entries still parse, without ``added``: the injector cannot know what they added.
The rendered annotation is bounded (``MAX_STATUS_CHARS``); past it the ``added`` records are left
out (the entries keep name and revision) and ``render_status`` says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from json.encoder import encode_basestring_ascii
from typing import Any

STATUS_VERSION = 2
MAX_STATUS_CHARS = 32 * 1024
"""Kubernetes allows 256 KiB of annotations per object; the status takes at most an eighth."""

_NAME_LISTS = ("containers", "initContainers", "volumes", "imagePullSecrets", "annotations", "labels")
_PER_CONTAINER = ("env", "volumeMounts")

PerContainer = tuple[tuple[str, tuple[str, ...]], ...]
"""(container name, names or mount paths added to it), in the pod's container order."""


@dataclass(frozen=True, slots=True, init=False)
class Added:
    """What one template added to one object: names, never values."""

    containers: tuple[str, ...] = ()
    init_containers: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    image_pull_secrets: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    env: PerContainer = ()
    volume_mounts: PerContainer = ()

    def __init__(
        self,
        containers: tuple[str, ...] = (),
        init_containers: tuple[str, ...] = (),
        volumes: tuple[str, ...] = (),
        image_pull_secrets: tuple[str, ...] = (),
        annotations: tuple[str, ...] = (),
        labels: tuple[str, ...] = (),
        env: PerContainer = (),
        volume_mounts: PerContainer = (),
    ) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "containers", containers)
        object.__setattr__(self, "init_containers", init_containers)
        object.__setattr__(self, "volumes", volumes)
        object.__setattr__(self, "image_pull_secrets", image_pull_secrets)
        object.__setattr__(self, "annotations", annotations)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "env", env)
        object.__setattr__(self, "volume_mounts", volume_mounts)

    def names(self, field_name: str) -> tuple[str, ...]:
        """The names added to a list or map by its JSON field name (``initContainers``...)."""
        value: tuple[str, ...] = getattr(self, _ATTRIBUTES[field_name])
        return value

    def per_container(self, field_name: str) -> PerContainer:
        value: PerContainer = getattr(self, _ATTRIBUTES[field_name])
        return value


_ATTRIBUTES = {
    "containers": "containers",
    "initContainers": "init_containers",
    "volumes": "volumes",
    "imagePullSecrets": "image_pull_secrets",
    "annotations": "annotations",
    "labels": "labels",
    "env": "env",
    "volumeMounts": "volume_mounts",
}


_NAME_LIST_ATTRIBUTES = tuple((name, _ATTRIBUTES[name]) for name in _NAME_LISTS)
_PER_CONTAINER_ATTRIBUTES = tuple((name, _ATTRIBUTES[name]) for name in _PER_CONTAINER)


@dataclass(frozen=True, slots=True, init=False)
class StatusEntry:
    name: str
    revision: str
    added: Added | None = None
    """None when not recorded: a version 1 annotation, or one too large to record it."""

    def __init__(self, name: str, revision: str, added: Added | None = None) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "revision", revision)
        object.__setattr__(self, "added", added)


@dataclass(frozen=True, slots=True)
class InjectionStatus:
    entries: tuple[StatusEntry, ...] = ()
    created: tuple[str, ...] = ()
    was_null: tuple[str, ...] = ()
    copied: tuple[tuple[str, str | None], ...] = ()
    """(annotation key, its value before pod injection copied an opt-in into it; None: absent)."""
    version: int = STATUS_VERSION

    @property
    def revisions(self) -> dict[str, str]:
        return {entry.name: entry.revision for entry in self.entries}

    def entry(self, name: str) -> StatusEntry | None:
        return next((entry for entry in self.entries if entry.name == name), None)

    def without(self, names: frozenset[str]) -> InjectionStatus:
        return replace(self, entries=tuple(e for e in self.entries if e.name not in names))

    @property
    def empty(self) -> bool:
        return not (self.entries or self.created or self.copied)


NO_STATUS = InjectionStatus()
"""The status of an object without the annotation (shared: frozen, and built once)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    complete: bool = True
    """False when the added records were left out to keep the annotation within its bound."""


@dataclass(frozen=True, slots=True)
class StatusProblem:
    message: str


def parse_status(value: str | None) -> InjectionStatus | StatusProblem:
    """The annotation's value as an InjectionStatus (empty when absent); a mangled one is a problem."""
    if value is None:
        return NO_STATUS
    try:
        decoded = json.loads(value)
        return _decode(decoded)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):  # nested too deeply
        return StatusProblem(f"ignoring unreadable injection status annotation {value[:80]!r}")


def render_status(status: InjectionStatus) -> Rendered:
    """The annotation's value; the ``added`` records are dropped when they would pass the bound."""
    return Rendered(*status_text(status.entries, status.created, status.was_null, status.copied))


def status_text(
    entries: tuple[StatusEntry, ...],
    created: tuple[str, ...],
    was_null: tuple[str, ...],
    copied: tuple[tuple[str, str | None], ...],
) -> tuple[str, bool]:
    """render_status() of the InjectionStatus with these fields, as (text, complete): the engine
    writes one per injection without building the status first."""
    text = _written(entries, created, was_null, copied, with_added=True)
    if len(text) <= MAX_STATUS_CHARS:
        return text, True
    return _written(entries, created, was_null, copied, with_added=False), False


# The value is written here rather than built as a dict for json.dumps (which also builds an encoder
# per call): one is written per injection. Strings go through json's own escaping, so the text is
# byte for byte json.dumps(..., separators=(",", ":")) of the documented shape (a test compares).
_quoted = encode_basestring_ascii


def _written(
    entries: tuple[StatusEntry, ...],
    created: tuple[str, ...],
    was_null: tuple[str, ...],
    copied: tuple[tuple[str, str | None], ...],
    *,
    with_added: bool,
) -> str:
    written = []
    for entry in entries:
        text = f'{{"name":{_quoted(entry.name)},"revision":{_quoted(entry.revision)}'
        if with_added and entry.added is not None:
            text += f',"added":{_written_added(entry.added)}'
        written.append(text + "}")
    text = f'{{"v":{STATUS_VERSION},"injected":[{",".join(written)}]'
    if created:
        text += f',"created":{_strings_written(created)}'
    if was_null:
        text += f',"wasNull":{_strings_written(was_null)}'
    if copied:
        by_key = dict(copied)  # as a JSON object: a key given twice is written once, last value
        pairs = (f"{_quoted(k)}:{'null' if v is None else _quoted(v)}" for k, v in by_key.items())
        text += f',"copied":{{{",".join(pairs)}}}'
    return text + "}"


def _written_added(added: Added) -> str:
    members = []
    for name, attribute in _NAME_LIST_ATTRIBUTES:
        names = getattr(added, attribute)
        if names:
            members.append(f'"{name}":{_strings_written(names)}')
    for name, attribute in _PER_CONTAINER_ATTRIBUTES:
        per_container = getattr(added, attribute)
        if per_container:
            by_container = dict(per_container)  # a JSON object: a container given twice, last wins
            items = (f"{_quoted(c)}:{_strings_written(names)}" for c, names in by_container.items())
            members.append(f'"{name}":{{{",".join(items)}}}')
    return f"{{{','.join(members)}}}"


def _strings_written(strings: tuple[str, ...]) -> str:
    return f"[{','.join(map(_quoted, strings))}]"


def _decode(decoded: Any) -> InjectionStatus:
    """Raises (ValueError, TypeError, KeyError, AttributeError) on anything not shaped as written."""
    version = decoded.get("v", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("version")
    entries = tuple(_decode_entry(entry) for entry in _list(decoded["injected"]))
    copied = decoded.get("copied") or {}
    if not isinstance(copied, dict) or not all(v is None or isinstance(v, str) for v in copied.values()):
        raise ValueError("copied")
    return InjectionStatus(
        entries,
        _strings(decoded.get("created") or []),
        _strings(decoded.get("wasNull") or []),
        tuple(copied.items()),
        version,
    )


def _decode_entry(entry: Any) -> StatusEntry:
    name, revision = entry["name"], entry.get("revision", "")
    if not isinstance(name, str) or not isinstance(revision, str):
        raise ValueError("entry")
    added = entry.get("added")
    if added is None:
        return StatusEntry(name, revision)
    if not isinstance(added, dict):
        raise ValueError("added")
    return StatusEntry(
        name,
        revision,
        Added(
            containers=_strings(added.get("containers") or []),
            init_containers=_strings(added.get("initContainers") or []),
            volumes=_strings(added.get("volumes") or []),
            image_pull_secrets=_strings(added.get("imagePullSecrets") or []),
            annotations=_strings(added.get("annotations") or []),
            labels=_strings(added.get("labels") or []),
            env=_per_container(added.get("env") or {}),
            volume_mounts=_per_container(added.get("volumeMounts") or {}),
        ),
    )


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("list")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not all(isinstance(item, str) for item in _list(value)):
        raise ValueError("strings")
    return tuple(value)


def _per_container(value: Any) -> PerContainer:
    if not isinstance(value, dict):
        raise ValueError("per container")
    return tuple((str(container), _strings(items)) for container, items in value.items())
