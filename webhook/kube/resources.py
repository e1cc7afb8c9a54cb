"""The API calls the day-2 code makes (``drift``, ``rollout``, the pod watch, leader election), raw JSON
in and out, through one client: list (whole or metadata-only, paged, projected), read, patch, create
and replace, for Pods, the workload kinds and Leases.

Objects stay untyped JSON (``_preload_content=False``): a client model would drop fields it does not
know. Metadata-only requests ask for ``PartialObjectMetadata`` (``Accept: application/json;as=
PartialObjectMetadataList;g=meta.k8s.io;v=v1`` for a list, ``as=PartialObjectMetadata`` for a watch),
so a Pod costs its metadata on the wire and in memory, never its spec and status; no fallback to whole
objects is offered, as a server that cannot convert would otherwise flood us with them
(kube-apiserver converts since 1.15). Every failure is a ``KubeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import kubernetes.client
import urllib3

from webhook.kube.client import KubeError, as_kube_error
from webhook.kube.paging import DEFAULT_PAGE_SIZE, read_list
from webhook.kube.reflector import ItemType, JsonObject, ProtocolViolation, Reflector
from webhook.kube.watch import CollectionRequest

PARTIAL_OBJECT = ItemType("PartialObjectMetadata", "meta.k8s.io/v1")
_PARTIAL = "application/json;as={};g=meta.k8s.io;v=v1"
PatchType = Literal["json", "merge", "strategic"]
_PATCH_CONTENT = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    api_version: str
    api_class: str
    """The client's API class (``CoreV1Api``...), looked up when first called: touching one loads
    its module, the largest of the client (half a second and megabytes at every start otherwise)."""
    suffix: str
    """The client's method suffix: ``list_namespaced_<suffix>``, ``read_namespaced_<suffix>``..."""

    def api(self, client: kubernetes.client.ApiClient) -> Any:
        return getattr(kubernetes.client, self.api_class)(client)

    @property
    def item_type(self) -> ItemType:
        return ItemType(self.kind, self.api_version)


RESOURCES = {
    resource.kind: resource
    for resource in (
        Resource("Pod", "v1", "CoreV1Api", "pod"),
        Resource("Deployment", "apps/v1", "AppsV1Api", "deployment"),
        Resource("StatefulSet", "apps/v1", "AppsV1Api", "stateful_set"),
        Resource("DaemonSet", "apps/v1", "AppsV1Api", "daemon_set"),
        Resource("ReplicaSet", "apps/v1", "AppsV1Api", "replica_set"),
        Resource("Job", "batch/v1", "BatchV1Api", "job"),
        Resource("CronJob", "batch/v1", "BatchV1Api", "cron_job"),
        Resource("Lease", "coordination.k8s.io/v1", "CoordinationV1Api", "lease"),
    )
}


@contextmanager
def api_errors() -> Iterator[None]:
    """Every failure of a request as a KubeError."""
    try:
        yield
    except KubeError:
        raise
    except (kubernetes.client.exceptions.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise as_kube_error(exc) from exc
    except (ValueError, ProtocolViolation) as exc:
        raise KubeError(None, "bad-response", str(exc)) from exc


class Resources:
    """One API client's calls for the resources above; ``timeout`` (connect, read) for every request."""

    def __init__(self, api_client: kubernetes.client.ApiClient, timeout: tuple[float, float] = (5.0, 60.0)):
        self.api_client = api_client
        self._timeout = timeout

    def collection(
        self, kind: str, namespace: str | None, *, metadata_only: bool = False
    ) -> CollectionRequest:
        """The list/watch request of ``kind`` in ``namespace`` (None: all namespaces), unparsed."""
        resource = RESOURCES[kind]
        api = resource.api(self.api_client)
        if namespace is None:
            method = getattr(api, f"list_{resource.suffix}_for_all_namespaces")
        else:
            method = getattr(api, f"list_namespaced_{resource.suffix}")

        def request(**kwargs: Any) -> urllib3.BaseHTTPResponse:
            if metadata_only:
                kwargs["_headers"] = {
                    "Accept": _PARTIAL.format(
                        "PartialObjectMetadata" + ("" if kwargs.get("watch") else "List")
                    )
                }
            args = () if namespace is None else (namespace,)
            response = method(*args, _preload_content=False, **kwargs)
            assert isinstance(response, urllib3.BaseHTTPResponse)
            return response

        return request

    def list_all(
        self,
        kind: str,
        namespace: str | None,
        *,
        metadata_only: bool = False,
        transform: Callable[[JsonObject], JsonObject] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[JsonObject]:
        """Every object of ``kind`` (projected by ``transform``), read in pages."""
        item_type = PARTIAL_OBJECT if metadata_only else RESOURCES[kind].item_type
        reflector = Reflector(item_type=item_type, transform=transform)
        request = self.collection(kind, namespace, metadata_only=metadata_only)
        with api_errors():
            return list(read_list(request, reflector, page_size=page_size, timeout=self._timeout).values())

    def read(self, kind: str, namespace: str, name: str) -> JsonObject:
        return self._call(kind, "read", namespace, name)

    def list_namespaces(self, name: str | None = None) -> list[JsonObject]:
        """Every Namespace, metadata only; ``name``: that one alone (``get``, so that a user allowed
        one namespace can ask), or nothing when it does not exist."""
        api = kubernetes.client.CoreV1Api(self.api_client)
        if name is not None:
            headers = {"Accept": _PARTIAL.format("PartialObjectMetadata")}
            try:
                with api_errors():
                    response = api.read_namespace(
                        name, _preload_content=False, _request_timeout=self._timeout, _headers=headers
                    )
                    assert isinstance(response, urllib3.BaseHTTPResponse)
                    try:
                        return [json.loads(response.data)]
                    finally:
                        response.release_conn()
            except KubeError as exc:
                if exc.status == 404:
                    return []
                raise
        reflector = Reflector(item_type=PARTIAL_OBJECT)

        def request(**kwargs: Any) -> urllib3.BaseHTTPResponse:
            kwargs["_headers"] = {"Accept": _PARTIAL.format("PartialObjectMetadataList")}
            response = api.list_namespace(_preload_content=False, **kwargs)
            assert isinstance(response, urllib3.BaseHTTPResponse)
            return response

        with api_errors():
            return list(read_list(request, reflector, timeout=self._timeout).values())

    def patch(self, kind: str, namespace: str, name: str, patch: Any, patch_type: PatchType) -> JsonObject:
        return self._call(kind, "patch", namespace, name, patch, _content_type=_PATCH_CONTENT[patch_type])

    def create(self, kind: str, namespace: str, body: JsonObject) -> JsonObject:
        return self._call(kind, "create", namespace, body)

    def replace(self, kind: str, namespace: str, name: str, body: JsonObject) -> JsonObject:
        return self._call(kind, "replace", namespace, name, body)

    def _call(self, kind: str, verb: str, namespace: str, *args: Any, **kwargs: Any) -> JsonObject:
        resource = RESOURCES[kind]
        method = getattr(resource.api(self.api_client), f"{verb}_namespaced_{resource.suffix}")
        with api_errors():
            # Positional order of the client's methods: name, namespace[, body].
            ordered = (args[0], namespace, *args[1:]) if verb != "create" else (namespace, *args)
            response = method(*ordered, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            try:
                decoded = json.loads(response.data)
            finally:
                response.release_conn()
        if not isinstance(decoded, dict):
            raise KubeError(None, "bad-response", f"{verb} {kind}: the answer is not a JSON object")
        return decoded
