"""The verdict of one decision and its reason token: what the server logs and counts, and what
``explain`` prints, written once.

- ``admitted(result)``: an admitted object was ``injected`` (reason ``injected``) or ``skipped``
  (reason: the engine's skip reason, ``nothing-to-do`` when it gave none);
- ``refused(error)``: a ``denied`` object, its reason the error's token and its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from webhook.core.errors import InjectionError
from webhook.core.model import MutationResult

Outcome = Literal["injected", "skipped", "denied"]
INJECTED = "injected"
NOTHING_TO_DO = "nothing-to-do"


@dataclass(frozen=True, slots=True, init=False)
class Verdict:
    outcome: Outcome
    reason: str
    message: str = ""

    def __init__(self, outcome: Outcome, reason: str, message: str = "") -> None:
        # Written out, not generated: docs/design.md, "Records built per review".
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "message", message)


def admitted(result: MutationResult) -> Verdict:
    if result.injected:
        return Verdict("injected", INJECTED)
    return Verdict("skipped", result.skip_reason or NOTHING_TO_DO)


def refused(error: InjectionError) -> Verdict:
    return Verdict("denied", error.reason, error.message)
