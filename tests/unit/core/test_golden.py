"""Golden cases: one folder per case under tests/golden/, discovered automatically.

Each case goes through the server's admission decision as kube-apiserver would send it, bytes in
and bytes out: an AdmissionReview body is built from the case, and the encoded answer is checked.
So the golden files cover the envelope, the HTTP code and the denial codes too, not only the engine.
Each case checks the exact patch, the mutated object (the one the engine verified, which must pass
strict schema validation and equal the patch applied independently), the AdmissionReview response,
and that the result, admitted again, changes nothing. Run ``pytest --update-golden`` to rewrite the
expected files, then review the diff.

``case.yaml`` holds the request's facts under ``request``: ``operation`` (CREATE), ``namespace``,
``dryRun``, ``subResource``, ``podSecurityLevel``, ``namespaceLabels`` and ``namespaceAnnotations``
(what the namespace watch would report; without either, the namespace is unknown), and ``kind``
(the object's own by default; needed when ``object.yaml`` is ``null``, as a DELETE or CONNECT
review may send). The policy is ``case.yaml``'s ``policy`` with the readers ``serve`` gives it. ``response.yaml`` is the AdmissionReview response without its patch (in
patch.json), plus ``skipReason`` and ``injected`` for an admitted object.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonpatch
import orjson
import pytest
import yaml

from tests.support.reviews import review
from tests.support.templates import KUBERNETES_VERSION, template_set
from tests.support.validation import assert_valid
from webhook.core import InjectionPolicy
from webhook.core.engine import CONTAINER_NAME_TAKEN
from webhook.core.levels import PodSecurityLevel
from webhook.core.model import NamespaceMetadata
from webhook.core.placement import IN_PODS
from webhook.server.decision import AdmissionDecision, Outcome
from webhook.templates.workload_checks import workload_readers

GOLDEN = Path(__file__).parents[2] / "golden"
INPUTS = {"case.yaml", "object.yaml", "templates.yaml"}
WITH_PATCH = {"patch.json", "mutated.yaml", "response.yaml"}
WITHOUT_PATCH = {"response.yaml"}
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
READERS = workload_readers(KUBERNETES_VERSION)


def review_body(case: dict[str, Any], obj: Any, uid: str = "golden") -> bytes:
    """The AdmissionReview kube-apiserver would send for the case."""
    request = case.get("request", {})
    kind = request.get("kind") or obj["kind"]
    facts = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": kind},
        "dryRun": request.get("dryRun", False),
        "subResource": request.get("subResource", ""),
        "name": ((obj or {}).get("metadata") or {}).get("name", ""),
    }
    envelope = review(obj, request.get("operation", "CREATE"), request.get("namespace", "default"), **facts)
    return orjson.dumps(envelope)


def decide(
    case: dict[str, Any], obj: Any, folder: Path, uid: str = "golden"
) -> tuple[Outcome, dict[str, Any]]:
    """The decision's outcome for the case, and the AdmissionReview response it encoded."""
    request = case.get("request", {})
    level = request.get("podSecurityLevel")
    namespace = None
    if "namespaceLabels" in request or "namespaceAnnotations" in request:
        namespace = NamespaceMetadata(
            request.get("namespaceLabels", {}), request.get("namespaceAnnotations", {})
        )
    decision = AdmissionDecision(
        lambda: template_set((folder / "templates.yaml").read_text()),
        InjectionPolicy(**case.get("policy", {}), readers=READERS),
        namespace_levels=lambda _namespace: None if level is None else PodSecurityLevel(level),
        namespaces=lambda _namespace: namespace,
    )
    outcome = decision.answer(review_body(case, obj, uid))
    assert outcome.status == 200, outcome.body
    answer = json.loads(outcome.body)
    assert (answer["apiVersion"], answer["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert answer["response"]["uid"] == uid
    return outcome, answer["response"]


def run_case(folder: Path) -> tuple[dict[str, Any], Any, list[dict[str, Any]], dict[str, Any], Outcome]:
    case = yaml.safe_load((folder / "case.yaml").read_text())
    obj = yaml.safe_load((folder / "object.yaml").read_text())
    outcome, response = decide(case, obj, folder)
    encoded = response.pop("patch", None)
    patch = json.loads(base64.b64decode(encoded)) if encoded is not None else []
    if outcome.outcome == "denied":
        assert response["status"]["reason"] == outcome.reason
        return case, obj, patch, response, outcome
    assert outcome.result is not None
    assert outcome.outcome == ("injected" if outcome.result.injected else "skipped")
    response["skipReason"] = outcome.result.skip_reason
    response["injected"] = list(outcome.result.injected)
    return case, obj, patch, response, outcome


def test_every_case_has_exactly_its_expected_files() -> None:
    for name in CASES:
        folder = GOLDEN / name
        present = {p.name for p in folder.iterdir()}
        assert present >= INPUTS, f"{name}: missing inputs {INPUTS - present}"
        expected = INPUTS | (WITH_PATCH if (folder / "patch.json").exists() else WITHOUT_PATCH)
        assert present == expected, f"{name}: unexpected or missing files {present ^ expected}"


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str, request: pytest.FixtureRequest) -> None:
    folder = GOLDEN / name
    case, obj, patch, response, outcome = run_case(folder)
    mutated = outcome.result.patched if outcome.result is not None else None

    if request.config.getoption("--update-golden"):
        for stale in WITH_PATCH:
            (folder / stale).unlink(missing_ok=True)
        (folder / "response.yaml").write_text(yaml.safe_dump(response, sort_keys=False))
        if patch:
            (folder / "patch.json").write_text(json.dumps(patch, indent=2) + "\n")
            (folder / "mutated.yaml").write_text(yaml.safe_dump(mutated, sort_keys=False))

    assert response == yaml.safe_load((folder / "response.yaml").read_text())
    if not patch:
        assert not (folder / "patch.json").exists(), "no ops expected, but patch.json exists"
        assert mutated is None
        return
    assert patch == json.loads((folder / "patch.json").read_text())
    assert mutated == yaml.safe_load((folder / "mutated.yaml").read_text())
    assert jsonpatch.apply_patch(obj, patch) == mutated, "the patch, applied apart, gives the verified object"
    assert_valid(mutated)

    # Idempotency: the result, admitted again (reinvocation, or its pods), gains nothing.
    again, again_response = decide(case, mutated, folder, uid="again")
    assert "patch" not in again_response
    assert again.result is not None
    assert again.result.skip_reason in (
        "already-injected",
        "template-not-found",
        CONTAINER_NAME_TAKEN,
        IN_PODS,
    )
