"""Golden cases: one folder per case under tests/golden/, discovered automatically.

Each case checks the exact patch, the mutated object (which must pass strict schema validation),
the AdmissionReview response, and that mutating the result again changes nothing. Run
``pytest --update-golden`` to rewrite the expected files, then review the diff.

``case.yaml`` holds the request's facts under ``request``: ``operation`` (CREATE), ``namespace``,
``dryRun``, ``subResource``, ``podSecurityLevel``, and ``kind`` (the object's own by default; needed
when ``object.yaml`` is ``null``, as a DELETE or CONNECT review may send).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from tests.support.templates import template_set
from tests.support.validation import assert_valid
from webhook.core import AdmissionFacts, InjectionError, InjectionPolicy, InvalidObject, mutate
from webhook.core.engine import CONTAINER_NAME_TAKEN
from webhook.server.review import allow, deny

GOLDEN = Path(__file__).parents[2] / "golden"
INPUTS = {"case.yaml", "object.yaml", "templates.yaml"}
WITH_PATCH = {"patch.json", "mutated.yaml", "response.yaml"}
WITHOUT_PATCH = {"response.yaml"}
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def run_case(folder: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], Any]:
    case = yaml.safe_load((folder / "case.yaml").read_text())
    obj = yaml.safe_load((folder / "object.yaml").read_text())
    templates = template_set((folder / "templates.yaml").read_text())
    request = case.get("request", {})
    facts = AdmissionFacts(
        uid="golden",
        operation=request.get("operation", "CREATE"),
        kind=request.get("kind") or obj["kind"],
        namespace=request.get("namespace", "default"),
        name=(obj or {}).get("metadata", {}).get("name", ""),
        dry_run=request.get("dryRun", False),
        sub_resource=request.get("subResource", ""),
        pod_security_level=request.get("podSecurityLevel"),
    )
    policy = InjectionPolicy(**case.get("policy", {}))
    try:
        result = mutate(obj, facts, templates, policy)
    except InjectionError as exc:
        response = dict(deny("golden", exc, 400 if isinstance(exc, InvalidObject) else 403))
        return case, obj, [], response
    response = dict(allow("golden", result))
    response.pop("patch", None)
    response["skipReason"] = result.skip_reason
    response["injected"] = list(result.injected)
    return case, obj, [dict(op) for op in result.patch], response


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
    case, obj, patch, response = run_case(folder)
    mutated = jsonpatch.apply_patch(obj, patch) if patch else None

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
        return
    assert patch == json.loads((folder / "patch.json").read_text())
    assert mutated == yaml.safe_load((folder / "mutated.yaml").read_text())
    assert_valid(mutated)

    # Idempotency: the result, admitted again (reinvocation, or its pods), gains nothing.
    again = mutate(
        mutated,
        _facts_for(mutated, case),
        template_set((folder / "templates.yaml").read_text()),
        InjectionPolicy(**case.get("policy", {})),
    )
    assert again.patch == ()
    assert again.skip_reason in ("already-injected", "template-not-found", CONTAINER_NAME_TAKEN)


def _facts_for(obj: dict[str, Any], case: dict[str, Any]) -> AdmissionFacts:
    request = case.get("request", {})
    return AdmissionFacts(
        "again", request.get("operation", "CREATE"), obj["kind"], request.get("namespace", "default")
    )
