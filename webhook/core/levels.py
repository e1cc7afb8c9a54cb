"""Pod Security Standards levels, as an ordered type: no comparison of strings or list positions."""

from __future__ import annotations

import enum


class PodSecurityLevel(enum.StrEnum):
    """A Pod Security Standards level, ordered from the most permissive: ``a < b`` when ``b``
    forbids more. A str, so it equals its name as labels and flags write it; levels order only
    among themselves (comparing one with a plain string is a TypeError, never string order)."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    def __lt__(self, other: object) -> bool:
        return _RANK[self] < _rank(other)

    def __le__(self, other: object) -> bool:
        return _RANK[self] <= _rank(other)

    def __gt__(self, other: object) -> bool:
        return _RANK[self] > _rank(other)

    def __ge__(self, other: object) -> bool:
        return _RANK[self] >= _rank(other)


_RANK = {level: rank for rank, level in enumerate(PodSecurityLevel)}
LEVEL_NAMES = tuple(level.value for level in PodSecurityLevel)


def require_level(value: object, field: str) -> None:
    """A TypeError unless ``value`` is a level. Compiled (mypyc) the constructor's type check refuses
    a name before this runs; interpreted, this keeps the same contract."""
    if not isinstance(value, PodSecurityLevel):
        raise TypeError(f"{field} must be a PodSecurityLevel, not {value!r}")


def _rank(other: object) -> int:
    if not isinstance(other, PodSecurityLevel):
        raise TypeError(f"a Pod Security level orders only against another, not {other!r}")
    return _RANK[other]
