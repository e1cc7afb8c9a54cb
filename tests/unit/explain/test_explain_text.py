"""The human report, as snapshots of a few golden cases (``pytest --update-golden`` rewrites them;
review the diff): a skip for a collision, an injection with Pod Security warnings, precedence with
a disagreement, and a denial."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.explain.test_explain_golden import GOLDEN, explain_report
from webhook.explain import as_text

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = (
    "container-name-collision-skips-the-template",
    "deployment-baseline-sidecar-in-restricted-namespace-warns",
    "precedence-object-annotation-decides-deployment",
    "missing-template-denied-by-policy",
)


@pytest.mark.parametrize("name", CASES)
def test_the_human_report_of_a_golden_case(name: str, request: pytest.FixtureRequest) -> None:
    folder = GOLDEN / name
    case = yaml.safe_load((folder / "case.yaml").read_text())
    obj = yaml.safe_load((folder / "object.yaml").read_text())
    text = as_text(explain_report(folder, case, obj))
    snapshot = SNAPSHOTS / f"{name}.txt"
    if request.config.getoption("--update-golden"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(text)
    assert text == snapshot.read_text()
