"""Mutating admission webhooks, called as kube-apiserver calls them (admission.k8s.io/v1, over HTTPS).

A test registers a webhook (``FakeApiServer.add_mutating_webhook``) for some resources; every create,
and every update of the object itself (not of a subresource), of a matching resource is then sent
to it as an AdmissionReview before it is stored, with what kube-apiserver puts in a request: uid,
kind, resource, requestKind, name (empty for a generateName create, as the name is not yet set),
namespace, operation, userInfo, object, oldObject, dryRun and options. The answer's JSONPatch is
applied and the object defaulted again; ``allowed: false`` is the request's failure with the
webhook's status code and the apiserver's wording (``admission webhook "<name>" denied the request:
<message>``). A webhook that cannot be reached, times out or answers garbage fails the request
(``failurePolicy: Fail``, 500 ``failed calling webhook``) or is skipped (``Ignore``), as configured.

Only what the injector's tests need: no ``matchConditions``, selectors or reinvocation, one call per
webhook per request. The call is made while the fake holds its store lock (the write is one atomic
step here), so a webhook must not call back into the fake while it decides, which a mutating webhook
with no I/O on its request path never does.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jsonpatch

from tests.fakes import resources as r
from tests.fakes.status import ApiError

JsonObject = dict[str, Any]


@dataclass
class MutatingWebhook:
    name: str
    url: str
    context: ssl.SSLContext
    resources: frozenset[str]
    """Qualified resource names: ``pods``, ``deployments.apps``..."""
    failure_policy: str = "Fail"
    timeout: float = 10.0
    operations: frozenset[str] = frozenset({"CREATE", "UPDATE"})
    calls: int = 0
    failures: list[str] = field(default_factory=list)


class Admission:
    def __init__(self) -> None:
        self.webhooks: list[MutatingWebhook] = []

    def admit(
        self,
        resource: r.ResourceType,
        operation: str,
        obj: JsonObject,
        old: JsonObject | None,
        user: str,
        dry_run: bool,
    ) -> JsonObject:
        """``obj`` as every matching webhook leaves it; raises ApiError as kube-apiserver answers."""
        for hook in self.webhooks:
            if resource.qualified in hook.resources and operation in hook.operations:
                obj = self._call(hook, resource, operation, obj, old, user, dry_run)
        return obj

    def _call(
        self,
        hook: MutatingWebhook,
        resource: r.ResourceType,
        operation: str,
        obj: JsonObject,
        old: JsonObject | None,
        user: str,
        dry_run: bool,
    ) -> JsonObject:
        hook.calls += 1
        uid = str(uuid.uuid4())
        review = _review(uid, resource, operation, obj, old, user, dry_run)
        try:
            response = _post(hook, review)
            if response.get("uid") != uid:
                raise ValueError(f"expected response.uid={uid!r}, got {response.get('uid')!r}")
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            hook.failures.append(str(exc))
            if hook.failure_policy == "Ignore":
                return obj
            raise ApiError(
                500, "InternalError", f'Internal error occurred: failed calling webhook "{hook.name}": {exc}'
            ) from exc
        if not response.get("allowed"):
            status = response.get("status") or {}
            message = f'admission webhook "{hook.name}" denied the request: {status.get("message", "")}'
            raise ApiError(int(status.get("code") or 403), str(status.get("reason") or "Forbidden"), message)
        if "patch" not in response:
            return obj
        try:
            ops = json.loads(base64.b64decode(response["patch"]))
            patched: JsonObject = jsonpatch.apply_patch(copy.deepcopy(obj), ops)
        except (ValueError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(500, "InternalError", f"Internal error occurred: {exc}") from exc
        return patched


def _review(
    uid: str,
    resource: r.ResourceType,
    operation: str,
    obj: JsonObject,
    old: JsonObject | None,
    user: str,
    dry_run: bool,
) -> JsonObject:
    meta = obj.get("metadata") or {}
    kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    typed = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": kind,
            "resource": {"group": resource.group, "version": resource.version, "resource": resource.plural},
            "requestKind": kind,
            "requestResource": {
                "group": resource.group,
                "version": resource.version,
                "resource": resource.plural,
            },
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": user},
            "object": typed,
            "oldObject": {"apiVersion": resource.api_version, "kind": resource.kind, **old} if old else None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
        },
    }


def _post(hook: MutatingWebhook, review: JsonObject) -> JsonObject:
    parts = urlsplit(hook.url)
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port or 443, timeout=hook.timeout, context=hook.context
    )
    try:
        body = json.dumps(review).encode()
        connection.request(
            "POST", f"{parts.path}?timeout={int(hook.timeout)}s", body, {"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    if answer.status != 200:
        raise ValueError(f"the webhook answered HTTP {answer.status}: {data[:200]!r}")
    response = json.loads(data)["response"]
    if not isinstance(response, dict):
        raise ValueError("the answer holds no response")
    return response
