"""Volume mounts as the container runtime sees them: paths compared by the directory they name."""

from __future__ import annotations


def normalise_mount_path(path: str) -> str:
    """The directory a mount path names: ``/var/log/app/``, ``//var/log/./app`` and ``/var/log/app``
    are one mount point to the runtime, although the API server only refuses exact duplicates.

    ``..`` is resolved lexically, as the runtime joins the path inside the container's root. A path
    that is not absolute (Windows, ``C:\\logs``) is compared as written.
    """
    if not path.startswith("/"):
        return path
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
