"""Medians over seeds, for the experiments' console summaries and the reports' figures and tables.

A value is *finite* when it was measured and is a real number (not None, nan or ±inf); a few
summaries also keep the infinite ones (:func:`measured`: a ratio over a zero error is +inf).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable

__all__ = ["finite", "measured", "median"]


def finite(v) -> bool:
    """Not None, nan or ±inf."""
    return v is not None and not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


def measured(v) -> bool:
    """Not None or nan (±inf counts)."""
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def median(vals: Iterable, *, keep: Callable = finite) -> float:
    """The median of the values ``keep`` accepts (default :func:`finite`); nan when there are none."""
    vals = [v for v in vals if keep(v)]
    return statistics.median(vals) if vals else float("nan")
