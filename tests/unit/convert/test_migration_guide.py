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
