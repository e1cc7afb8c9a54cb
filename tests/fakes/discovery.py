"""Discovery, which kubectl reads before anything else: ``/api``, ``/apis`` and each group version.

The legacy documents (``APIVersions``, ``APIGroupList``, ``APIResourceList``), built from the
resources this fake serves. kube-apiserver also serves aggregated discovery (``Accept:
application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``); client-go asks for it
with plain JSON as its fallback and reads whichever ``Content-Type`` comes back, so answering plain
JSON is what an older server does, and kubectl copes. No OpenAPI documents: ``kubectl get``'s
server-side columns and ``kubectl explain`` are out of reach, ``kubectl describe`` and ``kubectl
events`` are not.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import resources as r

JsonObject = dict[str, Any]

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SHORT_NAMES = {
    "configmaps": ["cm"],
    "namespaces": ["ns"],
    "pods": ["po"],
    "events": ["ev"],
    "deployments": ["deploy"],
    "replicasets": ["rs"],
    "statefulsets": ["sts"],
    "daemonsets": ["ds"],
    "cronjobs": ["cj"],
}


def document(path: str) -> JsonObject | None:
    """The discovery document at ``path``, or None when it is not a discovery path."""
    path = "/" + path.strip("/")
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in _groups()]}
    served = [resource for resource in r.ALL if resource.prefix == path]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": served[0].api_version,
        "resources": [entry for resource in served for entry in _entries(resource)],
    }


def _groups() -> list[str]:
    return list(dict.fromkeys(resource.group for resource in r.ALL if resource.group))


def _group(group: str) -> JsonObject:
    version = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"name": group, "versions": [version], "preferredVersion": version}


def _entries(resource: r.ResourceType) -> list[JsonObject]:
    main = {
        "name": resource.plural,
        "singularName": resource.kind.lower(),
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": _VERBS,
    }
    if not resource.group or resource.group in ("apps", "batch"):
        main["shortNames"] = _SHORT_NAMES.get(resource.plural, [])
    statuses = [
        {
            "name": f"{resource.plural}/{subresource}",
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": ["get", "patch", "update"],
        }
        for subresource in sorted(r.subresources(resource))
    ]
    return [main, *statuses]
