from __future__ import annotations

import base64
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from tests.support.asgi import AsgiClient
from tests.support.reviews import opted_in_pod, review
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.metrics import Metrics
from webhook.server.app import Limits, Probes, create_app
from webhook.server.handler import ReviewHandler
from webhook.server.refusal import Refusal
from webhook.server.review import parse_review

SEED = (
    __import__("pathlib").Path(__file__).parents[3] / "examples" / "logging-agent-initializer.yaml"
).read_text()
TEMPLATES = template_set(SEED)


def make_client(
    max_body: int = 1024 * 1024, policy: InjectionPolicy | None = None
) -> tuple[AsgiClient, Metrics]:
    metrics = Metrics(CollectorRegistry())
    handler = ReviewHandler(lambda: TEMPLATES, policy or InjectionPolicy(), metrics)
    return AsgiClient(create_app(handler, Probes(), Limits(max_body_bytes=max_body))), metrics


def post(client: AsgiClient, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.post("/mutate", content=body, headers={"content-type": content_type})


def test_an_opted_in_pod_gets_a_base64_json_patch_and_its_uid_back() -> None:
    client, metrics = make_client()
    sent = review(opted_in_pod())
    answer = post(client, json.dumps(sent).encode())
    assert answer.status_code == 200
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    response = body["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(response["patch"]))
    assert ops[0] == {
        "op": "add",
        "path": "/spec/containers/-",
        "value": json.loads(json.dumps(ops[0]["value"])),
    }
    assert ops[0]["value"]["name"] == "logging-agent"
    assert metrics.reviews.labels("injected", "injected")._value.get() == 1


def test_a_denial_is_a_normal_review_with_status() -> None:
    client, _ = make_client(policy=InjectionPolicy(deny_missing_templates=True))
    answer = post(client, json.dumps(review(opted_in_pod("nope"))).encode())
    response = answer.json()["response"]
    assert answer.status_code == 200 and response["allowed"] is False
    assert response["status"]["code"] == 403 and "'nope' not found" in response["status"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1,2]", 400, "JSON object"),
        (
            b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{}}',
            400,
            "apiVersion",
        ),
        (b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}', 400, "request: missing"),
        (orjson.dumps(review(opted_in_pod(), uid=7)), 400, "request.uid: expected a string"),
        (orjson.dumps(review(opted_in_pod(), uid="")), 400, "request.uid: must not be empty"),
        (orjson.dumps(review(None)), 400, "request.object"),
        (orjson.dumps(review(opted_in_pod(), dryRun="yes")), 400, "request.dryRun"),
        (orjson.dumps(review(opted_in_pod(), kind={"kind": 3})), 400, "request.kind.kind"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "not valid JSON"),
        (b'{"a": 1e400}', 400, "out of range"),
        (b'{"kind": "AdmissionReview", "kind": "Other"}', 400, "duplicate key 'kind'"),
        (b'{"apiVersion": NaN}', 400, "NaN is not JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
        (b'"\xed\xa0\x80"', 400, "not valid JSON"),
        # A lone surrogate escape (found by tests/fuzz): orjson could not encode the answer, a 500.
        (orjson.dumps(review(opted_in_pod(), uid="u")).replace(b'"u"', b'"\\ud800"'), 400, "lone surrogate"),
        (orjson.dumps(review(opted_in_pod("\\udc00x"))).replace(b"\\\\", b"\\"), 400, "lone surrogate"),
        (b"x" * 2_000_000, 413, "exceeds"),
    ],
)
def test_bad_envelopes_get_a_4xx_with_a_json_message(body: bytes, status: int, fragment: str) -> None:
    client, _ = make_client()
    answer = post(client, body)
    assert answer.status_code == status
    assert fragment in answer.json()["message"]
    assert post(client, orjson.dumps(review(opted_in_pod()))).status_code == 200, "the next request is served"


def test_a_wrong_content_type_is_415() -> None:
    client, _ = make_client()
    answer = post(client, orjson.dumps(review(opted_in_pod())), "text/plain")
    assert answer.status_code == 415 and "Content-Type" in answer.json()["message"]


def test_unknown_paths_and_methods_are_json_4xx() -> None:
    client, _ = make_client()
    assert client.get("/mutate").status_code == 405
    assert client.get("/nope").json() == {"message": "Not Found"}


def test_delete_reviews_may_carry_no_object() -> None:
    parsed = parse_review(orjson.dumps(review(None, operation="DELETE")))
    assert parsed.facts.operation == "DELETE" and parsed.reviewed is None
    with pytest.raises(Refusal):
        parse_review(orjson.dumps(review(None, operation="CREATE")))


@pytest.mark.parametrize(
    ("operation", "kind", "sub_resource"),
    [("DELETE", "Pod", None), ("DELETE", "Deployment", None), ("CONNECT", "PodExecOptions", "exec")],
)
def test_delete_and_connect_without_an_object_are_admitted_unchanged(
    operation: str, kind: str, sub_resource: str | None
) -> None:
    """docs/design.md promises it, whatever the registration: the object is null, oldObject may be set."""
    client, metrics = make_client()
    sent = review(None, operation=operation, kind={"group": "", "version": "v1", "kind": kind})
    sent["request"]["oldObject"] = opted_in_pod()
    if sub_resource:
        sent["request"]["subResource"] = sub_resource
    answer = post(client, orjson.dumps(sent))
    assert answer.status_code == 200
    assert answer.json()["response"] == {"uid": sent["request"]["uid"], "allowed": True}
    assert metrics.reviews.labels("skipped", "operation-not-handled")._value.get() == 1


def opted_in_deployment() -> dict[str, object]:
    pod = opted_in_pod()
    template = {"metadata": {"labels": {"app": "web"}, **pod["metadata"]}, "spec": pod["spec"]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


@pytest.mark.parametrize(
    ("obj", "sub_resource"),
    [(opted_in_deployment(), "status"), (opted_in_pod(), "ephemeralcontainers"), (opted_in_pod(), "resize")],
)
def test_a_subresource_review_of_an_opted_in_object_is_admitted_unchanged(
    obj: dict[str, object], sub_resource: str
) -> None:
    """deployments/status carries the whole Deployment; a full injection patch was sent back."""
    client, metrics = make_client()
    sent = review(obj, operation="UPDATE", subResource=sub_resource)
    answer = post(client, orjson.dumps(sent))
    assert answer.status_code == 200
    assert answer.json()["response"] == {"uid": sent["request"]["uid"], "allowed": True}
    assert metrics.reviews.labels("skipped", "subresource")._value.get() == 1
    assert parse_review(orjson.dumps(sent)).facts.sub_resource == sub_resource


def test_the_subresource_must_be_a_string() -> None:
    sent = review(opted_in_pod(), subResource=["status"])
    with pytest.raises(Refusal, match=r"request\.subResource: expected a string"):
        parse_review(orjson.dumps(sent))
    assert parse_review(orjson.dumps(review(opted_in_pod(), subResource=""))).facts.sub_resource == ""


JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
ENVELOPE_FIELDS = st.dictionaries(
    st.sampled_from(["uid", "kind", "operation", "namespace", "object", "dryRun", "name"]), JSON, max_size=7
)


@given(
    junk=st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        ENVELOPE_FIELDS.map(
            lambda request: json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
            ).encode()
        ),
    )
)
def test_arbitrary_junk_gets_4xx_or_a_review_never_5xx(junk: bytes) -> None:
    client, _ = make_client()
    answer = post(client, junk)
    assert answer.status_code in (200, 400, 413)
    if answer.status_code == 200:
        assert answer.json()["kind"] == "AdmissionReview"
    else:
        assert isinstance(answer.json()["message"], str)


def test_escaped_surrogate_pairs_and_escaped_backslashes_are_ordinary_text() -> None:
    client, _ = make_client()
    body = orjson.dumps(review(opted_in_pod(), uid="u")).replace(b'"u"', b'"\\ud83d\\ude00 \\\\ud800"')
    answer = post(client, body)
    assert answer.status_code == 200
    assert answer.json()["response"]["uid"] == "\U0001f600 \\ud800"


def test_a_template_mount_without_its_volume_is_denied_403_naming_template_and_mount() -> None:
    needs_data = template_set(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: needs-data, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    volumeMounts: [{name: data, mountPath: /data}]
"""
    )
    metrics = Metrics(CollectorRegistry())
    handler = ReviewHandler(lambda: needs_data, InjectionPolicy(), metrics)
    client = AsgiClient(create_app(handler, Probes(), Limits()))
    pod = opted_in_pod()
    pod["metadata"]["annotations"] = {"sidecar-injector.io/inject": "needs-data"}
    response = post(client, orjson.dumps(review(pod))).json()["response"]
    assert response["allowed"] is False
    assert response["status"] == {
        "code": 403,
        "reason": "volume-not-found",
        "message": "template 'needs-data': volumeMount 'data' at '/data' in container 'helloworld' names a "
        "volume that neither the template nor the pod has",
    }
    assert metrics.reviews.labels("denied", "volume-not-found")._value.get() == 1


REQUEST_FIELDS = [  # in the order a bad one is named, each with a value of the wrong type
    ("uid", 7, "request.uid: expected a string, found a number"),
    ("kind", "Pod", "request.kind: expected an object, found a string"),
    ("operation", ["CREATE"], "request.operation: expected a string, found an array"),
    ("namespace", {}, "request.namespace: expected a string, found an object"),
    ("name", 1, "request.name: expected a string, found a number"),
    ("dryRun", "no", "request.dryRun: expected a boolean, found a string"),
    ("subResource", False, "request.subResource: expected a string, found a boolean"),
]


@pytest.mark.parametrize("first", range(len(REQUEST_FIELDS)))
def test_the_first_bad_request_field_is_named(first: int) -> None:
    """Well-typed fields are checked at once; any bad one sends the check field by field."""
    sent = review(opted_in_pod())
    for key, value, _ in REQUEST_FIELDS[first:]:
        sent["request"][key] = value
    with pytest.raises(Refusal) as refused:
        parse_review(orjson.dumps(sent))
    assert refused.value.message == REQUEST_FIELDS[first][2]


def test_absent_optional_fields_read_as_empty() -> None:
    sent = review(opted_in_pod())
    for key in ("namespace", "name", "dryRun", "subResource"):
        sent["request"].pop(key, None)
    facts = parse_review(orjson.dumps(sent)).facts
    assert (facts.name, facts.dry_run, facts.sub_resource) == ("", False, "")


def test_what_is_known_of_the_namespace_is_among_the_facts_asked_once() -> None:
    """The server's namespace lookups feed the envelope's facts, built once per review."""
    asked: list[str] = []
    metadata = NamespaceMetadata(labels={"team": "a"})

    def namespace_facts(namespace: str) -> tuple[PodSecurityLevel | None, NamespaceMetadata | None]:
        asked.append(namespace)
        return PodSecurityLevel.RESTRICTED, metadata

    facts = parse_review(orjson.dumps(review(opted_in_pod(), namespace="team-a")), namespace_facts).facts
    assert (facts.namespace, facts.pod_security_level, facts.namespace_metadata) == (
        "team-a",
        PodSecurityLevel.RESTRICTED,
        metadata,
    )
    # A review without request.namespace is asked about by the object's own namespace.
    pod = opted_in_pod()
    pod["metadata"]["namespace"] = "team-b"
    parse_review(orjson.dumps(review(pod, namespace="")), namespace_facts)
    assert asked == ["team-a", "team-b"]
    unknown = parse_review(orjson.dumps(review(opted_in_pod()))).facts
    assert (unknown.pod_security_level, unknown.namespace_metadata) == (None, None)
