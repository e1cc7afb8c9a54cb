"""Mutating admission webhooks: the fake sends creates and updates to them over HTTPS, as
kube-apiserver does, and applies their patch or their denial."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import pod
from tests.fakes.conftest import NS
from tests.fakes.wire import Wire
from tests.support.processes import IssuedCertificate, free_port, issue_certificate


class StubWebhook:
    """Records each review and answers with ``answer(request)``."""

    def __init__(self, certificate: IssuedCertificate) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.answer: Any = lambda request: {"allowed": True}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.reviews.append(review)
                response = {"uid": review["request"]["uid"], **stub.answer(review["request"])}
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.directory / "tls.crt", certificate.directory / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/mutate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> IssuedCertificate:
    return issue_certificate(Path(tmp_path_factory.mktemp("certs")))


@pytest.fixture
def stub(certificate: IssuedCertificate) -> Iterator[StubWebhook]:
    webhook = StubWebhook(certificate)
    yield webhook
    webhook.server.shutdown()
    webhook.server.server_close()


def patch_of(*ops: dict[str, Any]) -> dict[str, Any]:
    return {
        "allowed": True,
        "patchType": "JSONPatch",
        "patch": base64.b64encode(json.dumps(list(ops)).encode()).decode(),
    }


def test_a_create_is_reviewed_and_stored_as_the_webhook_patched_it(
    fake: FakeApiServer, wire: Wire, stub: StubWebhook, certificate: IssuedCertificate
) -> None:
    fake.add_mutating_webhook(stub.url, certificate.client_context(), ["pods"])
    stub.answer = lambda request: patch_of(
        {"op": "add", "path": "/metadata/labels", "value": {"injected": "yes"}}
    )
    created = pod("", NS)
    created["metadata"] = {"generateName": "web-", "namespace": NS}

    answer = wire.request("POST", f"/api/v1/namespaces/{NS}/pods", created)

    assert answer.status == 201, answer.body
    assert answer.body["metadata"]["labels"] == {"injected": "yes"}
    [review] = stub.reviews
    request = review["request"]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert (request["operation"], request["namespace"], request["oldObject"]) == ("CREATE", NS, None)
    assert request["object"]["metadata"]["generateName"] == "web-"
    assert request["object"]["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_updates_of_the_object_are_reviewed_but_not_of_its_status(
    fake: FakeApiServer, stub: StubWebhook, certificate: IssuedCertificate
) -> None:
    stored = fake.create_object(pod("p", NS))
    fake.add_mutating_webhook(stub.url, certificate.client_context(), ["pods"])
    fake.patch_object("pods", NS, "p", {"metadata": {"labels": {"a": "1"}}})
    stored["status"] = {"phase": "Running"}
    fake.update_object(
        {**fake.get_object("pods", NS, "p"), "status": {"phase": "Running"}}, subresource="status"
    )

    [review] = stub.reviews
    assert review["request"]["operation"] == "UPDATE"
    assert review["request"]["oldObject"]["metadata"]["name"] == "p"


def test_a_denial_fails_the_request_with_the_webhooks_code(
    fake: FakeApiServer, wire: Wire, stub: StubWebhook, certificate: IssuedCertificate
) -> None:
    fake.add_mutating_webhook(stub.url, certificate.client_context(), ["pods"])
    stub.answer = lambda request: {
        "allowed": False,
        "status": {"code": 403, "reason": "volume-not-found", "message": "no"},
    }

    answer = wire.request("POST", f"/api/v1/namespaces/{NS}/pods", pod("p", NS))

    assert answer.status == 403
    assert answer.body["message"] == 'admission webhook "inject.sidecar-injector.io" denied the request: no'
    assert fake.list_objects("pods", NS) == []


def test_an_unreachable_webhook_fails_or_is_ignored_as_its_policy_says(
    fake: FakeApiServer, wire: Wire, certificate: IssuedCertificate
) -> None:
    nowhere = f"https://127.0.0.1:{free_port()}/mutate"
    fake.add_mutating_webhook(nowhere, certificate.client_context(), ["pods"], timeout=1)
    failed = wire.request("POST", f"/api/v1/namespaces/{NS}/pods", pod("p", NS))
    fake.remove_webhooks()
    fake.add_mutating_webhook(
        nowhere, certificate.client_context(), ["pods"], failure_policy="Ignore", timeout=1
    )
    ignored = wire.request("POST", f"/api/v1/namespaces/{NS}/pods", pod("p", NS))

    assert failed.status == 500
    assert 'failed calling webhook "inject.sidecar-injector.io"' in failed.body["message"]
    assert ignored.status == 201
