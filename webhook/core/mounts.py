"""Volume mounts as the container runtime sees them: paths compared normalised, volumes that must exist."""

from __future__ import annotations

from dataclasses import dataclass

from webhook.core.errors import VolumeNotFound
from webhook.core.jsontypes import JsonValue


def normalise_mount_path(path: str) -> str:
    """The directory a mount path names: ``/var/log/app/``, ``//var/log/./app`` and ``/var/log/app``
    are one mount point to the runtime, although the API server only refuses exact duplicates.

    ``..`` is resolved lexically, as the runtime joins the path inside the container's root. A path
    that is not absolute (Windows, ``C:\\logs``) is compared as written.
    """
    if not path.startswith("/"):
        return path
    if "//" not in path and "/." not in path and not path.endswith("/"):
        return path  # already the canonical form: most paths, and the check costs a tenth of a split
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


@dataclass(frozen=True, slots=True, init=False)
class AddedMount:
    """A volumeMount (or volumeDevice) the patch adds, and who it came from (one per mount per review)."""

    template: str
    container: str
    what: str  # "volumeMount" or "volumeDevice"
    volume: JsonValue
    path: JsonValue

    def __init__(self, template: str, container: str, what: str, volume: JsonValue, path: JsonValue) -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "container", container)
        object.__setattr__(self, "what", what)
        object.__setattr__(self, "volume", volume)
        object.__setattr__(self, "path", path)


def check_volumes_exist(added: list[AddedMount], volumes: set[str]) -> None:
    """Refuse the injection when a mount it adds names a volume the final pod does not have: the API
    server would refuse the workload with a message about fields its author never wrote."""
    missing = [mount for mount in added if mount.volume not in volumes]
    if not missing:
        return
    problems = "; ".join(
        f"template {m.template!r}: {m.what} {m.volume!r} at {m.path!r} in container {m.container!r} "
        "names a volume that neither the template nor the pod has"
        for m in missing
    )
    raise VolumeNotFound(problems, tuple(dict.fromkeys(m.template for m in missing)))
