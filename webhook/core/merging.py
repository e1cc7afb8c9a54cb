"""How one template merges into a pod template: the workload's own items always win.

Rules (also in docs/design.md):
- a template with a container or init container named like one the pod already has (including one
  added by an earlier template in the same request) is not injected at all: that container is the
  workload's, and half a template (its env and mounts without its sidecar) is not what was asked for;
- volumes are added by name; a name the pod already has is skipped with a warning (the pod's own
  volume is used, so a workload can give a template's volume another source);
- env and volumeMounts go into each of the workload's own app containers (or only those the
  target containers name); an env name or mount path (compared normalised) the container already
  has is left as the application set it;
- init containers (and native sidecars) are appended after the workload's own init containers, or,
  with ``initContainersFirst``, placed before them (after those of earlier templates placed first);
- imagePullSecrets are added by name; pod annotations and labels only add keys that are absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from webhook.core.jsontypes import JsonObject
from webhook.core.model import Template
from webhook.core.mounts import AddedMount, normalise_mount_path
from webhook.core.patching import PatchBuilder, Tokens
from webhook.core.status import Added, PerContainer

NATIVE_SIDECAR_RESTART_POLICY = "Always"


# How keys compare when an item is added only if absent: mount paths name directories.
_KEY_FORMS: dict[str, Callable[[str], str]] = {"mountPath": normalise_mount_path}


def names_in(items: object) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)}


def container_names_of(template: Template) -> list[str]:
    return [c["name"] for c in (*template.init_containers, *template.containers)]


def without_container_collisions(
    templates: Iterable[Template], pod_spec: JsonObject
) -> tuple[list[Template], list[str]]:
    """The templates whose containers' names are all free, in order, and a warning per other one.

    A name is taken by the pod (containers and init containers share one name space) or by a
    template accepted before in the same request.
    """
    owners: dict[str, str | None] = dict.fromkeys(
        names_in(pod_spec.get("containers")) | names_in(pod_spec.get("initContainers"))
    )
    accepted: list[Template] = []
    warnings: list[str] = []
    for template in templates:
        names = container_names_of(template)
        taken = next((name for name in names if name in owners), None)
        if taken is None:
            accepted.append(template)
            owners.update(dict.fromkeys(names, template.name))
            continue
        owner = owners[taken]
        holder = "the workload already has" if owner is None else f"template {owner!r}, listed first, adds"
        warnings.append(
            f"template {template.name!r} not injected: {holder} a container named {taken!r}, "
            "which is left as it is"
        )
    return accepted, warnings


class PodTemplateMerger:
    """Merges templates one after another into the pod template found at ``root``.

    The templates must have been through without_container_collisions(): their containers are
    appended as they are.
    """

    def __init__(self, builder: PatchBuilder, root: Tokens, claim_names: Iterable[str] = ()) -> None:
        self.builder = builder
        self.metadata = (*root, "metadata")
        self.spec = (*root, "spec")
        # The paths every merge writes to, built once per object rather than once per item.
        self._init_containers = (*self.spec, "initContainers")
        self._containers = (*self.spec, "containers")
        self._volumes = (*self.spec, "volumes")
        self._annotations = (*self.metadata, "annotations")
        self._labels = (*self.metadata, "labels")
        pod_spec = builder.lookup(self.spec)
        self.app_container_count = len(pod_spec.get("containers") or []) if isinstance(pod_spec, dict) else 0
        # A StatefulSet's claim templates become volumes of its pods: they count as the pod's own.
        self.claim_names = set(claim_names)
        self.volume_names = names_in(builder.lookup((*self.spec, "volumes"))) | self.claim_names
        self.warnings: list[str] = []
        self.added_mounts: list[AddedMount] = []
        self._keys: dict[Tokens, set[object]] = {}
        self._placed_first = 0

    def merge(self, template: Template, targets: frozenset[str] | None = None) -> Added:
        """Merge one template; returns the names of what it added (see core/status.py).
        ``targets``: the app containers that get the template's env and mounts (None: all)."""
        inits = self._init_containers
        first = template.init_containers_first
        init = self._add_containers(template, inits, template.init_containers, first)
        if template.native_sidecars:
            sidecars = (_as_native_sidecar(c) for c in template.containers)
            init += self._add_containers(template, inits, sidecars, first)
            containers: list[str] = []
        else:
            containers = self._add_containers(template, self._containers, template.containers)
        volumes = self._add_volumes(template)
        # Most templates add no env, mounts, secrets, annotations or labels: those cost nothing then.
        env: PerContainer = ()
        mounts: PerContainer = ()
        if template.env or template.volume_mounts:
            env, mounts = self._add_to_app_containers(template, targets)
        secrets = self._add_keyed(self.spec, "imagePullSecrets", "name", template.image_pull_secrets)
        return Added(
            containers=tuple(containers),
            init_containers=tuple(init),
            volumes=tuple(volumes),
            image_pull_secrets=tuple(item["name"] for item in secrets) if secrets else (),
            annotations=tuple(self._add_entries(self._annotations, template.annotations))
            if template.annotations
            else (),
            labels=tuple(self._add_entries(self._labels, template.labels)) if template.labels else (),
            env=env,
            volume_mounts=mounts,
        )

    def _add_to_app_containers(
        self, template: Template, targets: frozenset[str] | None
    ) -> tuple[PerContainer, PerContainer]:
        """The template's env and mounts into each targeted app container that lacks them."""
        env: list[tuple[str, tuple[str, ...]]] = []
        mounts: list[tuple[str, tuple[str, ...]]] = []
        for index in range(self.app_container_count):
            container = (*self.spec, "containers", str(index))
            name = str(self.builder.lookup((*container, "name")))
            if targets is not None and name not in targets:
                continue
            added_env = self._add_keyed(container, "env", "name", template.env)
            added_mounts = self._add_keyed(container, "volumeMounts", "mountPath", template.volume_mounts)
            for mount in added_mounts:
                self._record_mount(template, name, "volumeMount", mount)
            if added_env:
                env.append((name, tuple(item["name"] for item in added_env)))
            if added_mounts:
                mounts.append((name, tuple(item["mountPath"] for item in added_mounts)))
        return tuple(env), tuple(mounts)

    def _add_containers(
        self, template: Template, target: Tokens, containers: Iterable[JsonObject], first: bool = False
    ) -> list[str]:
        names = []
        for container in containers:
            if first:
                self.builder.insert(target, self._placed_first, container)
                self._placed_first += 1
            else:
                self.builder.append(target, container)
            name = container["name"]
            names.append(name)
            for mount in container.get("volumeMounts") or ():
                self._record_mount(template, name, "volumeMount", mount)
            for device in container.get("volumeDevices") or ():
                self._record_mount(template, name, "volumeDevice", device)
        return names

    def _record_mount(self, template: Template, container: str, what: str, mount: JsonObject) -> None:
        path = mount.get("mountPath", mount.get("devicePath"))
        self.added_mounts.append(AddedMount(template.name, container, what, mount.get("name"), path))

    def _add_volumes(self, template: Template) -> list[str]:
        """Append volumes whose name is free; a taken name keeps the pod's volume and says so."""
        added = []
        for volume in template.volumes:
            name = volume["name"]
            if name in self.volume_names:
                owner = "volumeClaimTemplate" if name in self.claim_names else "volume"
                self.warnings.append(
                    f"template {template.name!r}: volume {name!r} not injected, the pod already has a "
                    f"{owner} named {name!r}; the pod's own volume is used"
                )
                continue
            self.volume_names.add(name)
            self.builder.append(self._volumes, volume)
            added.append(name)
        return added

    def _add_keyed(
        self, owner: Tokens, field: str, key: str, items: tuple[JsonObject, ...]
    ) -> list[JsonObject]:
        """Append the items whose key is absent at ``owner``; returns the ones appended."""
        if not items:
            return []
        taken = self._taken((*owner, field), key)
        form = _KEY_FORMS.get(key, _as_is)
        added = []
        for item in items:
            if form(item[key]) in taken:
                continue
            taken.add(form(item[key]))
            self.builder.append((*owner, field), item)
            added.append(item)
        return added

    def _add_entries(self, target: Tokens, entries: Mapping[str, str]) -> list[str]:
        if not entries:
            return []
        taken = self._taken(target, None)
        added = []
        for key, value in entries.items():
            if key in taken:
                continue
            taken.add(key)
            self.builder.put(target, key, value)
            added.append(key)
        return added

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
                strings = {k for k in keys if isinstance(k, str)}
                form = _KEY_FORMS.get(key)
                self._keys[target] = {form(k) for k in strings} if form else set(strings)
        return self._keys[target]


def _as_is(key: str) -> str:
    return key


def _as_native_sidecar(container: JsonObject) -> JsonObject:
    """Kubernetes 1.29+: an init container that keeps running starts before, and stops after, the app."""
    if container.get("restartPolicy") == NATIVE_SIDECAR_RESTART_POLICY:
        return container
    return {**container, "restartPolicy": NATIVE_SIDECAR_RESTART_POLICY}
