"""The requests Events need: create and patch an ``events.k8s.io/v1`` Event, and read an object's uid.

Bodies are sent exactly as built (raw JSON through the client's ``param_serialize``/``call_api``),
not through the generated ``EventsV1Api`` methods: those validate a dict into the ``EventsV1Event``
model and serialize its ``eventTime`` with ``datetime.isoformat()``, which drops the fraction on a
whole second. kube-apiserver parses a MicroTime with exactly six fractional digits
(``metav1.RFC3339Micro``), so one Event in a million would be refused. Answers are parsed here and
failures become :class:`EventApiError`, so the callers (``webhook.events``) never see the client.

Every request has a timeout: the sender that calls these runs on a thread of its own and must come
back from a hanging API server to count, drop and back off.
"""

from __future__ import annotations

import json
from typing import Any

import kubernetes.client
import urllib3

from webhook.kube.client import build_client

JsonObject = dict[str, Any]

EVENTS_PATH = "/apis/events.k8s.io/v1/namespaces/{namespace}/events"
MERGE_PATCH = "application/merge-patch+json"
# Only the metadata of an object travels when its uid is looked up (kube-apiserver's
# PartialObjectMetadata; plain JSON as the fallback a server without it would answer).
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"

# The collections of the kinds the webhook reviews, by kind: where their objects are read.
RESOURCES = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "ConfigMap": "configmaps",
}


class EventApiError(Exception):
    """A request that failed: ``status`` 0 when no HTTP answer came (connection refused, timeout)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """Worth another try later: no answer, throttling, a conflict or a server-side failure.

        Anything else (400, 403, 404, 422…) would be refused again, as client-go's event sink decides.
        """
        return self.status in (0, 409, 429) or self.status >= 500


class EventsClient:
    """Synchronous, for one thread; built like every other client (``build_client``)."""

    def __init__(
        self,
        *,
        timeout: float,
        api_client: kubernetes.client.ApiClient | None = None,
        configuration: kubernetes.client.Configuration | None = None,
        kubeconfig: str | None = None,
    ) -> None:
        self._api_client, self._owns_client = build_client(api_client, configuration, kubeconfig)
        self._timeout = timeout

    def create(self, namespace: str, event: JsonObject) -> JsonObject:
        path = EVENTS_PATH.format(namespace=namespace)
        return self._request("POST", path, body=event, content_type="application/json")

    def patch(self, namespace: str, name: str, patch: JsonObject) -> JsonObject:
        """A JSON merge patch (the only mutable field of an events.k8s.io Event is ``series``)."""
        path = f"{EVENTS_PATH.format(namespace=namespace)}/{name}"
        return self._request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def uid_of(self, api_version: str, kind: str, namespace: str, name: str) -> str | None:
        """The uid of the named object, None when it does not exist (yet) or its kind is not known."""
        resource = RESOURCES.get(kind)
        if resource is None or not name:
            return None
        prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        path = f"{prefix}/namespaces/{namespace}/{resource}/{name}"
        try:
            found = self._request("GET", path, accept=METADATA_ONLY)
        except EventApiError as exc:
            if exc.status == 404:
                return None
            raise
        uid = (found.get("metadata") or {}).get("uid")
        return uid if isinstance(uid, str) and uid else None

    def close(self) -> None:
        if self._owns_client:
            self._api_client.close()  # type: ignore[no-untyped-call]  # the client leaves it unannotated

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: JsonObject | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> JsonObject:
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        client = self._api_client
        try:
            request = client.param_serialize(
                method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = client.call_api(*request, _request_timeout=self._timeout)
            data = response.read()  # type: ignore[no-untyped-call]  # the client leaves it unannotated
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise EventApiError(0, f"{type(exc).__name__}: {exc}") from exc
        except kubernetes.client.ApiException as exc:  # the client's own transport failures (status 0)
            raise EventApiError(exc.status or 0, str(exc.reason)) from exc
        if not 200 <= response.status < 300:
            raise EventApiError(response.status, _status_message(data) or str(response.reason))
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise EventApiError(response.status, "the answer is not JSON") from exc
        return answer if isinstance(answer, dict) else {}


def _status_message(data: bytes | None) -> str:
    """The ``message`` of a kube-apiserver Status body, if the answer is one."""
    try:
        status = json.loads(data or b"")
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return message[:300] if isinstance(message, str) else ""
