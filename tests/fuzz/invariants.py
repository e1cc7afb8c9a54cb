"""What every fuzz input must satisfy: one plain function per target, bytes in, AssertionError out.

The atheris harnesses (``fuzz_*.py``) and the pytest replay (``test_regressions.py``) call these very
functions, so a reproducer that crashed a fuzz run fails ``pytest`` in the same way, without atheris.

- ``check_review``: the ``/mutate`` ASGI path. Any body gets HTTP 200 or a 4xx (never a 5xx, never an
  exception), 4xx exactly when ``parse_review`` refuses the body, a JSON answer, and for a 200 an
  AdmissionReview with the request's uid that is never an internal error; a subresource, a DELETE
  or a CONNECT is admitted without a patch; an allowed patch applies with jsonpatch, and the review of
  the patched object gets no patch.
- ``check_engine``: ``mutate()`` over a JSON case (object, facts, Pod Security level, policy, extra
  templates). Only InjectionError subclasses escape; the input is left unchanged; a subresource, a
  DELETE or a CONNECT gets no patch, nor does an UPDATE of a Pod or a Job, and an UPDATE's ops stay
  under the pod template (the only part the API server lets change); the patch is ``add`` ops that
  apply with jsonpatch and survive JSON encoding; verifying changes nothing; mutating the patched
  object again is a no-op.
- ``check_templates``: a manifest file (YAML) as the folder source parses it (``parse_folder``), then
  as a tenant's namespaced template. Only TemplateError results, of bounded size; a template that
  loads is plain JSON data (it ends up in patches encoded by orjson) with DNS-1123 names and a
  16-hex-digit revision.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonpatch
import orjson
from prometheus_client import CollectorRegistry

from tests.support.templates import KUBERNETES_VERSION, template_set
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, Template, TemplateSet, mutate
from webhook.core.levels import LEVEL_NAMES, PodSecurityLevel
from webhook.core.model import POD_SECURITY_CHECKS
from webhook.core.patching import pointer
from webhook.core.workloads import locate_pod_template
from webhook.metrics import Metrics
from webhook.server.app import AdmissionApp, Limits, Probes, create_app
from webhook.server.handler import ReviewHandler
from webhook.server.refusal import Refusal
from webhook.server.review import decode_json, parse_review
from webhook.templates import TemplateError
from webhook.templates.file_source import parse_folder
from webhook.templates.parsing import (
    TemplateDocument,
    load_manifests,
    parse_template,
    template_documents,
)

TARGETS = ("review", "engine", "templates")

# A varied fixed set: legacy and native formats, native sidecars, env, mounts, pull secrets, pod
# annotations and labels whose keys need JSON-pointer escaping, and a namespaced template.
TEMPLATE_MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: logging-agent-initializer}
data:
  config: |
    containers:
    - name: logging-agent
      image: gcr.io/google_containers/fluentd:1.30
      env: [{name: FLUENTD_ARGS, value: -c /etc/fluentd-config/fluentd.conf}]
      volumeMounts: [{name: varlog, mountPath: /var/log}, {name: config-volume, mountPath: /etc/fluentd-config}]
    volumes: [{name: varlog, emptyDir: {}}, {name: config-volume, configMap: {name: fluentd-config}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers: [{name: agent, image: "agent:1", volumeMounts: [{name: shared, mountPath: /shared}]}]
    initContainers: [{name: setup, image: "setup:1"}]
    volumes: [{name: shared, emptyDir: {}}]
    volumeMounts: [{name: shared, mountPath: /shared}]
    env: [{name: AGENT, value: "on"}]
    imagePullSecrets: [{name: pull}]
    annotations: {"example.com/agent": "on", "agent.example.com/mode": "x", "a.b/c-d": "y"}
    labels: {agent: "on"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: log-shipper, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    nativeSidecars: true
    containers:
    - name: log-shipper
      image: docker.io/fluent/fluent-bit:3.2.4
      volumeMounts: [{name: app-logs, mountPath: /var/log/app, readOnly: true}]
    volumes: [{name: app-logs, emptyDir: {}}]
    volumeMounts: [{name: app-logs, mountPath: /var/log/app}]
    env: [{name: LOG_DIR, value: /var/log/app}]
    annotations: {sidecar-injector.io/log-shipper: enabled}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: env-only, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    env: [{name: TZ, value: UTC}, {name: AGENT, value: "env-only"}]
    labels: {"team": "platform"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: node-agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers:
    - name: node-agent
      image: node-agent:1
      securityContext: {privileged: true, capabilities: {add: [NET_ADMIN]}}
      volumeMounts: [{name: host-logs, mountPath: /host/logs}]
    volumes: [{name: host-logs, hostPath: {path: /var/log}}]
"""
TENANT_MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: tenant, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    nativeSidecars: true
    containers:
    - name: tenant
      image: tenant:1
      securityContext:
        runAsNonRoot: true
        allowPrivilegeEscalation: false
        capabilities: {drop: ["ALL"]}
        seccompProfile: {type: RuntimeDefault}
"""


@functools.cache
def fixed_templates() -> TemplateSet:
    shared = template_set(TEMPLATE_MANIFESTS)
    tenant = template_set(TENANT_MANIFESTS, namespace="shop")
    return TemplateSet({**shared.templates, **tenant.templates})


# ---------------------------------------------------------------------------------------------------
# review: the /mutate ASGI path


NESTED_TOO_DEEPLY = "request body is not valid JSON: nested too deeply"
# What the server's namespace watch would report: the namespace named like a level enforces it.
NAMESPACE_LEVELS = {level: PodSecurityLevel(level) for level in LEVEL_NAMES} | {
    "shop": PodSecurityLevel.BASELINE
}


@functools.cache
def review_app() -> AdmissionApp:
    handler = ReviewHandler(
        fixed_templates,
        InjectionPolicy(),
        Metrics(CollectorRegistry()),
        namespace_levels=NAMESPACE_LEVELS.get,
    )
    return create_app(handler, Probes(), Limits(max_body_bytes=1024 * 1024))


def post_mutate(app: AdmissionApp, body: bytes) -> tuple[int, bytes]:
    """POST /mutate without an event loop: the lean path never really awaits, so one send() runs it.

    The body arrives in two chunks, as it may from a real server, to cover the joining code.
    """
    half = len(body) // 2
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mutate",
        "query_string": b"timeout=10s",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    _run_to_completion(app(scope, receive, send))
    start, done = sent
    assert start["type"] == "http.response.start" and done["type"] == "http.response.body", sent
    return start["status"], done["body"]


def _run_to_completion(awaitable: Awaitable[None]) -> None:
    coroutine: Any = awaitable
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise AssertionError("the /mutate path suspended on something other than receive/send")


def check_review(body: bytes) -> None:
    app = review_app()
    status, payload = post_mutate(app, body)
    if status == 400 and json.loads(payload) == {"message": NESTED_TOO_DEEPLY}:
        # The nesting bound is Python's recursion limit, so where it falls depends on the caller's
        # stack depth: a parse from here, a few frames up, may succeed or fail differently.
        return
    try:
        parsed = parse_review(body)
    except Refusal as exc:
        assert status == exc.status and 400 <= status < 500, (status, exc.message)
        answer = json.loads(payload)
        assert answer == {"message": exc.message}, answer
        return
    assert status == 200, (status, payload[:300])
    answer = json.loads(payload)
    facts = parsed.facts
    if facts.sub_resource or facts.operation in ("DELETE", "CONNECT"):
        assert answer["response"] == {"uid": facts.uid, "allowed": True}, ("never ours to change", answer)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview", answer
    response = answer["response"]
    assert response["uid"] == parsed.facts.uid, (response, parsed.facts.uid)
    assert isinstance(response["allowed"], bool), response
    assert all(isinstance(w, str) for w in response.get("warnings", [])), response
    if not response["allowed"]:
        status_field = response["status"]
        assert status_field.get("reason") != "internal-error", "the handler failed internally"
        assert status_field["code"] in (400, 403), status_field
        assert "patch" not in response, response
        return
    assert not any("failed internally" in w for w in response.get("warnings", [])), response
    if "patch" not in response:
        assert "patchType" not in response, response
        return
    assert response["patchType"] == "JSONPatch", response
    ops = json.loads(base64.b64decode(response["patch"], validate=True))
    patched = jsonpatch.apply_patch(parsed.reviewed, ops, in_place=True)  # no deepcopy: deep objects are fine
    envelope = json.loads(body)
    envelope["request"]["object"] = patched
    again_status, again_payload = post_mutate(app, json.dumps(envelope).encode())
    assert again_status == 200, again_payload
    again = json.loads(again_payload)["response"]
    assert again["allowed"] and "patch" not in again, ("a second review of the patched object", again)


# ---------------------------------------------------------------------------------------------------
# engine: mutate() over a JSON case

POLICIES = {
    (legacy, deny, check): InjectionPolicy(
        legacy_annotations=legacy, deny_missing_templates=deny, pod_security_check=check
    )
    for legacy in (True, False)
    for deny in (True, False)
    for check in POD_SECURITY_CHECKS
}


def decode_case(data: bytes) -> tuple[Any, AdmissionFacts, InjectionPolicy, TemplateSet] | None:
    """The engine case a fuzz input describes; None when it is not a JSON object (nothing to test).

    ``{"object": {...}, "operation": "CREATE", "kind": "Deployment", "namespace": "default",
    "subResource": "status", "podSecurityLevel": "restricted", "policy": {"legacy_annotations": true,
    "deny_missing_templates": false, "pod_security_check": "deny"},
    "templates": [{"name": "extra", "namespace": null, "body": {...}}]}``; every field is optional.
    Extra templates go through parse_template first: the engine trusts only validated templates.
    """
    try:
        case = decode_json(data)  # the objects the engine sees are the ones the review parser makes
    except Refusal:
        return None
    if not isinstance(case, dict):
        return None
    obj = case.get("object")
    kind = case.get("kind")
    if not isinstance(kind, str):
        kind = obj.get("kind") if isinstance(obj, dict) and isinstance(obj.get("kind"), str) else "Pod"
    operation = case.get("operation") if isinstance(case.get("operation"), str) else "CREATE"
    namespace = case.get("namespace") if isinstance(case.get("namespace"), str) else "default"
    named = case.get("podSecurityLevel")
    level = PodSecurityLevel(named) if named in LEVEL_NAMES else None
    sub_resource = case.get("subResource") if isinstance(case.get("subResource"), str) else ""
    facts = AdmissionFacts("fuzz", operation, kind, namespace, dry_run=case.get("dryRun") is True)
    facts = dataclasses.replace(facts, pod_security_level=level, sub_resource=sub_resource)
    policy_fields = case.get("policy") if isinstance(case.get("policy"), dict) else {}
    check = policy_fields.get("pod_security_check")
    policy = POLICIES[
        policy_fields.get("legacy_annotations", True) is not False,
        policy_fields.get("deny_missing_templates") is True,
        check if check in POD_SECURITY_CHECKS else "warn",
    ]
    templates = fixed_templates()
    extra = case.get("templates")
    if isinstance(extra, list) and extra:
        loaded = dict(templates.templates)
        for entry in extra[:4]:
            template = _extra_template(json.dumps(entry, sort_keys=True))
            if template is not None:
                loaded[(template.namespace, template.name)] = template
        templates = TemplateSet(loaded)
    return obj, facts, policy, templates


@functools.lru_cache(maxsize=4096)
def _extra_template(entry_json: str) -> Template | None:
    entry = json.loads(entry_json)
    if not isinstance(entry, dict):
        return None
    name = entry.get("name") if isinstance(entry.get("name"), str) else "extra"
    namespace = entry.get("namespace") if isinstance(entry.get("namespace"), str) else None
    text = json.dumps(entry.get("body"))
    try:
        return parse_template(TemplateDocument(name, namespace, "fuzz", "template", text), KUBERNETES_VERSION)
    except TemplateError:
        return None


def json_copy(value: Any) -> Any:
    """A deep copy through the C JSON codec: copy.deepcopy recurses in Python and runs out of stack
    on nesting that json.loads accepted."""
    return json.loads(json.dumps(value))


def check_engine(data: bytes) -> None:
    case = decode_case(data)
    if case is None:
        return
    obj, facts, policy, templates = case
    before = json_copy(obj)
    try:
        result = mutate(obj, facts, templates, policy)
    except InjectionError as exc:
        assert isinstance(exc.message, str) and isinstance(exc.reason, str)
        assert obj == before, "mutate() changed its input"
        return
    assert obj == before, "mutate() changed its input"
    assert all(isinstance(w, str) for w in result.warnings), result.warnings
    assert bool(result.patch) == bool(result.injected), result
    assert (result.skip_reason is None) == bool(result.injected), result
    if facts.sub_resource or facts.operation not in ("CREATE", "UPDATE"):
        assert result.patch == (), ("a subresource, DELETE or CONNECT got a patch", facts)
    if facts.operation == "UPDATE" and result.patch:
        assert facts.kind not in ("Pod", "Job"), ("an immutable pod template got a patch", facts)
        root = pointer(locate_pod_template(facts.kind) or ())
        assert all(op["path"].startswith(root + "/") for op in result.patch), ("outside", result.patch)
    if not result.patch:
        return
    assert all(op["op"] == "add" for op in result.patch), result.patch
    encoded = orjson.dumps(list(result.patch))
    assert orjson.loads(encoded) == list(result.patch), "the patch does not survive JSON encoding"
    patched = jsonpatch.apply_patch(json_copy(obj), list(result.patch), in_place=True)
    assert result.patched == patched, "the verified object differs from the patch applied apart"
    unverified = mutate(obj, facts, templates, policy, verify=False)
    assert unverified.patched is None
    assert dataclasses.replace(unverified, patched=result.patched) == result, (
        "verification changed the answer"
    )
    again = mutate(patched, facts, templates, policy)
    assert again.patch == (), ("mutating the patched object again is not a no-op", again)


# ---------------------------------------------------------------------------------------------------
# templates: manifest text in, templates or TemplateErrors out

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REVISION = re.compile(r"^[0-9a-f]{16}$")


def check_templates(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # the sources decode files and API strings first; not our input
    # As the folder source reads it: every document becomes a Template or a TemplateError.
    per_file = parse_folder(Path("/templates"), {"fuzz.yaml": text}, KUBERNETES_VERSION)
    assert set(per_file) <= {"fuzz.yaml"}, per_file
    for result in per_file.get("fuzz.yaml", {}).values():
        if isinstance(result, TemplateError):
            _check_error(result)
        else:
            _check_loaded(result)
    # As a tenant's template (namespaced): it must also meet the restricted Pod Security level.
    try:
        manifests = load_manifests(text, "fuzz.yaml")
    except TemplateError:
        return
    for index, manifest in enumerate(manifests):
        assert isinstance(manifest, dict), manifest
        for document in template_documents(manifest, f"fuzz.yaml#{index}", "tenant"):
            try:
                template = parse_template(document, KUBERNETES_VERSION)
            except TemplateError as exc:
                _check_error(exc)
                continue
            assert template.namespace == "tenant"
            _check_loaded(template)


# However hostile the template, its error stays a readable size (50 problems of bounded parts).
MAX_ERROR_CHARS = 64 * 1024


def _check_error(error: TemplateError) -> None:
    assert isinstance(error.message, str) and str(error)
    assert len(str(error)) <= MAX_ERROR_CHARS, len(str(error))
    assert all(len(line) <= MAX_ERROR_CHARS for line in error.lines())


def _check_loaded(template: Template) -> None:
    assert _DNS_LABEL.match(template.name) and len(template.name) <= 63, template.name
    assert _REVISION.match(template.revision), template.revision
    parts = {
        "containers": list(template.containers),
        "initContainers": list(template.init_containers),
        "volumes": list(template.volumes),
        "volumeMounts": list(template.volume_mounts),
        "env": list(template.env),
        "imagePullSecrets": list(template.image_pull_secrets),
        "annotations": dict(template.annotations),
        "labels": dict(template.labels),
    }
    # The items are put into patches verbatim: they must be JSON that encodes and reads back equal.
    assert orjson.loads(orjson.dumps(parts)) == parts, "a loaded template is not plain JSON data"
    names = [c["name"] for c in (*template.containers, *template.init_containers)]
    assert len(set(names)) == len(names), names
    volumes = [v["name"] for v in template.volumes]
    assert len(set(volumes)) == len(volumes), volumes
    assert all(_DNS_LABEL.match(n) for n in (*names, *volumes)), (names, volumes)
    assert any(parts.values()), "a loaded template injects nothing"


CHECKS: dict[str, Callable[[bytes], None]] = {
    "review": check_review,
    "engine": check_engine,
    "templates": check_templates,
}
