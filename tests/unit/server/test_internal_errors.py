"""Whatever fails inside the server is an ordinary internal error: logged, counted once, and answered
as ``--on-internal-error`` says, never a bare 500 from the framework."""

from __future__ import annotations

import logging

import orjson
import pytest
from prometheus_client import CollectorRegistry

from tests.support.asgi import AsgiClient
from tests.support.reviews import opted_in_pod, review
from webhook.core import InjectionPolicy, Template, TemplateSet
from webhook.metrics import Metrics
from webhook.server.app import Probes, create_app
from webhook.server.handler import Answer, Prepared, ReviewHandler
from webhook.server.refusal import Refusal

# A value no encoder of JSON for Kubernetes can write: orjson refuses integers beyond 64 bits. The
# template loader refuses it too; the server must not depend on that.
UNENCODABLE = Template(
    name="logging-agent",
    revision="0123456789abcdef",
    containers=({"name": "agent", "image": "agent:1", "ports": [{"containerPort": 18446744073709551616}]},),
)
TEMPLATES = TemplateSet({(None, "logging-agent"): UNENCODABLE})


def client(
    *, allow: bool, templates: object = None, probes: Probes | None = None
) -> tuple[AsgiClient, Metrics]:
    metrics = Metrics(CollectorRegistry())
    provider = templates if templates is not None else (lambda: TEMPLATES)
    handler = ReviewHandler(provider, InjectionPolicy(), metrics, allow_on_internal_error=allow)  # type: ignore[arg-type]
    return AsgiClient(create_app(handler, probes or Probes())), metrics


def post_review(asgi: AsgiClient) -> tuple[int, dict[str, object], str]:
    body = review(opted_in_pod())
    answer = asgi.post("/mutate", content=orjson.dumps(body), headers={"content-type": "application/json"})
    return answer.status_code, answer.json(), body["request"]["uid"]


def counted(metrics: Metrics, outcome: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "sidecar_injector_reviews_total", {"outcome": outcome, "reason": reason}
    )
    return value or 0.0


def test_an_answer_the_encoder_refuses_is_a_denial_by_default(caplog: pytest.LogCaptureFixture) -> None:
    asgi, metrics = client(allow=False)
    with caplog.at_level(logging.ERROR, logger="webhook.server.handler"):
        status, answer, uid = post_review(asgi)
    assert status == 200
    response = answer["response"]
    assert response["uid"] == uid and response["allowed"] is False
    assert response["status"]["code"] == 500 and response["status"]["reason"] == "internal-error"
    assert counted(metrics, "error", "internal-error") == 1
    assert counted(metrics, "injected", "injected") == 0, "a review that failed late counts as an error only"
    assert (
        metrics.registry.get_sample_value("sidecar_injector_injections_total", {"template": "logging-agent"})
        is None
    )
    errors = [r for r in caplog.records if r.exc_info and uid in r.getMessage()]
    assert errors, "the failure is logged with its traceback and the review's uid"


def test_an_answer_the_encoder_refuses_is_admitted_with_a_warning_when_the_policy_allows() -> None:
    asgi, metrics = client(allow=True)
    status, answer, uid = post_review(asgi)
    response = answer["response"]
    assert status == 200 and response["uid"] == uid and response["allowed"] is True
    assert "patch" not in response
    assert any("failed internally" in warning for warning in response["warnings"])
    assert counted(metrics, "error", "internal-error") == 1


def test_a_failing_template_provider_is_an_internal_error_answered_by_the_policy() -> None:
    def broken() -> TemplateSet:
        raise RuntimeError("the store is broken")

    asgi, metrics = client(allow=True, templates=broken)
    status, answer, _uid = post_review(asgi)
    assert status == 200 and answer["response"]["allowed"] is True
    assert counted(metrics, "error", "internal-error") == 1


def test_a_failing_probe_is_a_json_answer_not_the_frameworks_plain_text_500() -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("readiness check crashed")

    asgi, _metrics = client(allow=False, probes=Probes(readiness=broken))
    answer = asgi.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    assert "readiness" in answer.json()["message"]


class BrokenHandler:
    """A bug outside the handler's own guard: the app must still answer by the policy. A wrapper, not
    a subclass: the compiled build's ReviewHandler is a native class, which Python cannot extend."""

    def __init__(self, handler: ReviewHandler) -> None:
        self._handler = handler

    def prepare(self, body: bytes) -> Prepared | Answer:
        raise RuntimeError("a bug in the request path")

    def handle(self, body: bytes) -> Answer:
        return self._handler.handle(body)

    def finish(self, prepared: Prepared) -> Answer:
        return self._handler.finish(prepared)

    def refuse(self, refusal: Refusal) -> Answer:
        return self._handler.refuse(refusal)

    def failed_unread(self, body: bytes, failure: BaseException | None = None, failed: str = "") -> Answer:
        return self._handler.failed_unread(body, failure, failed)


def test_an_exception_escaping_the_handler_is_answered_by_the_policy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(CollectorRegistry())
    handler = BrokenHandler(
        ReviewHandler(lambda: TEMPLATES, InjectionPolicy(), metrics, allow_on_internal_error=True)
    )
    asgi = AsgiClient(create_app(handler, Probes()))
    with caplog.at_level(logging.ERROR):
        status, answer, uid = post_review(asgi)
    assert status == 200 and answer["response"]["uid"] == uid and answer["response"]["allowed"] is True
    assert counted(metrics, "error", "internal-error") == 1
    assert any(record.exc_info for record in caplog.records)
