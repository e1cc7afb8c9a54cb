"""Numbers as the reports print them, and the percentile every benchmark uses (nearest rank)."""

from __future__ import annotations

from collections.abc import Sequence


def pct(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def ms(seconds: float | None, digits: int = 1) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.{digits}f} ms"


def secs(seconds: float | None, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds:.{digits}f} s"


def fmt(value: float | None, digits: int = 1, thousands: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"
