"""How one template merges into a pod template: the workload's own items always win.

Rules (also in docs/design.md):
- containers, initContainers and volumes are added by name; a name the pod already has (including one
  added by an earlier template in the same request) is skipped with a warning;
- env and volumeMounts go into each of the workload's own app containers; an env name or mount path
  (compared normalised) the container already has is left as the application set it;
- imagePullSecrets are added by name; pod annotations and labels only add keys that are absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from webhook.core.jsontypes import JsonObject
from webhook.core.model import Template
from webhook.core.mounts import normalise_mount_path
from webhook.core.patching import PatchBuilder, Tokens

NATIVE_SIDECAR_RESTART_POLICY = "Always"


# How keys compare when an item is added only if absent: mount paths name directories.
_KEY_FORMS: dict[str, Callable[[str], str]] = {"mountPath": normalise_mount_path}


def names_in(items: object) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)}


class PodTemplateMerger:
    """Merges templates one after another into the pod template found at ``root``."""

    def __init__(self, builder: PatchBuilder, root: Tokens) -> None:
        self.builder = builder
        self.metadata = (*root, "metadata")
        self.spec = (*root, "spec")
        pod_spec = builder.lookup(self.spec)
        self.app_container_count = len(pod_spec.get("containers") or []) if isinstance(pod_spec, dict) else 0
        self.container_names = names_in(builder.lookup((*self.spec, "containers"))) | names_in(
            builder.lookup((*self.spec, "initContainers"))
        )
        self.volume_names = names_in(builder.lookup((*self.spec, "volumes")))
        self.warnings: list[str] = []
        self._keys: dict[Tokens, set[object]] = {}

    def merge(self, template: Template) -> None:
        self._add_named(template, (*self.spec, "initContainers"), template.init_containers, "init container")
        if template.native_sidecars:
            sidecars = (_as_native_sidecar(c) for c in template.containers)
            self._add_named(template, (*self.spec, "initContainers"), sidecars, "native sidecar")
        else:
            self._add_named(template, (*self.spec, "containers"), template.containers, "container")
        self._add_volumes(template)
        for index in range(self.app_container_count):
            container = (*self.spec, "containers", str(index))
            self._add_keyed(container, "env", "name", template.env)
            self._add_keyed(container, "volumeMounts", "mountPath", template.volume_mounts)
        self._add_keyed(self.spec, "imagePullSecrets", "name", template.image_pull_secrets)
        self._add_entries((*self.metadata, "annotations"), template.annotations)
        self._add_entries((*self.metadata, "labels"), template.labels)

    def _add_named(self, template: Template, target: Tokens, items: Iterable[JsonObject], what: str) -> None:
        self._add_unique(template, target, items, what, self.container_names, "container", "")

    def _add_volumes(self, template: Template) -> None:
        volumes = (*self.spec, "volumes")
        suffix = "; the pod's own volume is used"
        self._add_unique(template, volumes, template.volumes, "volume", self.volume_names, "volume", suffix)

    def _add_unique(
        self,
        template: Template,
        target: Tokens,
        items: Iterable[JsonObject],
        what: str,
        taken: set[str],
        kind: str,
        suffix: str,
    ) -> None:
        """Append items whose name is free; a taken name keeps the pod's item and says so."""
        for item in items:
            name = item["name"]
            if name in taken:
                self.warnings.append(
                    f"template {template.name!r}: {what} {name!r} not injected, "
                    f"the pod already has a {kind} named {name!r}{suffix}"
                )
                continue
            taken.add(name)
            self.builder.append(target, item)

    def _add_keyed(self, owner: Tokens, field: str, key: str, items: tuple[JsonObject, ...]) -> None:
        if not items:
            return
        taken = self._taken((*owner, field), key)
        form = _KEY_FORMS.get(key, _as_is)
        for item in items:
            if form(item[key]) in taken:
                continue
            taken.add(form(item[key]))
            self.builder.append((*owner, field), item)

    def _add_entries(self, target: Tokens, entries: Mapping[str, str]) -> None:
        if not entries:
            return
        taken = self._taken(target, None)
        for key, value in entries.items():
            if key in taken:
                continue
            taken.add(key)
            self.builder.put(target, key, value)

    def _taken(self, target: Tokens, key: str | None) -> set[object]:
        """Keys already present at ``target``: read once from the object, then kept up to date here."""
        if target not in self._keys:
            present = self.builder.lookup(target)
            if key is None:
                self._keys[target] = set(present) if isinstance(present, dict) else set()
            else:
                items = present if isinstance(present, list) else []
                # Only a string can equal a template's key; a map or a list there is not even hashable.
                keys = (i.get(key) for i in items if isinstance(i, dict))
                form = _KEY_FORMS.get(key, _as_is)
                self._keys[target] = {form(k) for k in keys if isinstance(k, str)}
        return self._keys[target]


def _as_is(key: str) -> str:
    return key


def _as_native_sidecar(container: JsonObject) -> JsonObject:
    """Kubernetes 1.29+: an init container that keeps running starts before, and stops after, the app."""
    if container.get("restartPolicy") == NATIVE_SIDECAR_RESTART_POLICY:
        return container
    return {**container, "restartPolicy": NATIVE_SIDECAR_RESTART_POLICY}
