from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Property tests take their example counts from a profile, never from their own @settings (an explicit
# max_examples there would override every profile). "default" keeps local and CI check runs fast;
# HYPOTHESIS_PROFILE=ci searches ten times longer, for the bounded CI run next to scripts/fuzz.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected files of tests/golden/* from the current engine (review the diff!)",
    )
