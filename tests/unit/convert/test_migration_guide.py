"""The migration guide keeps up with the code: every field each importer knows has its row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from webhook.convert import expedia, salesforce, salesforce_items, tumblr

REPO = Path(__file__).parents[3]
GUIDE = (REPO / "docs" / "migration.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", GUIDE, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


@pytest.mark.parametrize(
    "title, fields",
    [
        ("From tumblr/k8s-sidecar-injector", tumblr.FIELDS),
        (
            "From salesforce/generic-sidecar-injector",
            salesforce.MUTATION_FIELDS | set(salesforce_items.FIELDS),
        ),
        ("From ExpediaGroup/kubernetes-sidecar-injector", set(expedia.SIDECAR_FIELDS)),
    ],
)
def test_every_field_of_each_format_is_in_its_section(title: str, fields: set[str]) -> None:
    text = section(title)
    missing = sorted(f for f in fields if not re.search(rf"\b{re.escape(f)}\b", text))
    assert not missing, f"{title}: no row for {missing}"


def test_the_readme_links_the_guide_and_the_guide_keeps_a_place_for_mutating_admission_policy() -> None:
    assert "(docs/migration.md)" in (REPO / "README.md").read_text()
    assert section("To and from MutatingAdmissionPolicy")
    assert section("From Initializers")


def test_the_policy_section_names_every_refusal_and_loss_and_the_cases_not_evaluated() -> None:
    from tests.unit.convert.test_export_policies import NOT_EVALUATED, STATED_LOSSES, STATUS_LOSSES
    from webhook.convert.policy_mutations import MAX_APP_CONTAINERS

    text = " ".join(section("To and from MutatingAdmissionPolicy").split())
    for term in ("variables", "overridable", "Pod Security", "warning", "overrides", "target-containers"):
        assert term in text, term
    assert f"first {MAX_APP_CONTAINERS} app containers" in text
    assert "the three cases whose templates are refused" in text
    assert sum(reason.startswith("its template is refused") for reason in NOT_EVALUATED.values()) == 3
    assert len(STATED_LOSSES) == 4 and "Four cases differ" in text
    assert len(STATUS_LOSSES) == 2 and all(f"`{case}`" in text for case in STATUS_LOSSES)
    for term in ("wasNull", "`added`", "`copied`", "pod injection", "--injection-mode"):
        assert term in text, term


def test_the_side_by_side_table_has_a_column_per_path() -> None:
    header = next(line for line in GUIDE.splitlines() if line.startswith("| | webhook"))
    for path in (
        "from Initializers",
        "from tumblr",
        "from salesforce",
        "from Expedia",
        "to MutatingAdmissionPolicy",
    ):
        assert path in header
