"""How much of an opted-in pod the engine agrees to work on.

The API server sets no limit on the number of containers or volumes in a pod (kubernetes/kubernetes
issue 98450 was closed without one): the 3 MiB request size is the only bound, and a Pod of 88,000
minimal containers fits in it. The engine's work grows with the containers, each of which gets the
template's env and mounts: such a pod took 8.7 s with the log-shipper example template, while real
pods have a handful of containers and the largest (CI steps, batch fan-outs) tens. These bounds sit
far above any real pod and keep the costliest review near 60 ms; an opted-in object beyond them is
refused at once (400, invalid-object) before any work is done.
"""

from __future__ import annotations

from webhook.core.errors import InvalidObject
from webhook.core.jsontypes import JsonObject

MAX_CONTAINERS = 1000
"""containers, initContainers and ephemeralContainers together."""
MAX_VOLUMES = 1000


def check_item_counts(spec: JsonObject, where: str) -> None:
    containers = sum(
        len(items)
        for items in (spec.get(field) for field in ("containers", "initContainers", "ephemeralContainers"))
        if isinstance(items, list)
    )
    if containers > MAX_CONTAINERS:
        raise InvalidObject(
            f"{where}.containers", f"{containers} containers in one pod; at most {MAX_CONTAINERS} are handled"
        )
    volumes = spec.get("volumes")
    if isinstance(volumes, list) and len(volumes) > MAX_VOLUMES:
        raise InvalidObject(
            f"{where}.volumes", f"{len(volumes)} volumes in one pod; at most {MAX_VOLUMES} are handled"
        )
