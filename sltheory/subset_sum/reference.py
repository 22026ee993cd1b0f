"""Brute-force subset sum: the independent reference the fast solver is tested against."""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import InvalidArgumentError


def brute_force(samples, target: float) -> tuple[int, float]:
    """Optimal subset of ``samples`` (1-D, at most 20) for ``target``: (bit mask, |Σ − target|).

    Enumerates all 2^m subsets with itertools; ties go to the first subset found in that order.
    """
    c = np.asarray(samples, dtype=np.float64)
    if c.ndim != 1 or c.size > 20:
        raise InvalidArgumentError("brute_force takes a 1-D array of at most 20 samples")
    best_mask, best_err = 0, abs(float(target))
    for size in range(1, c.size + 1):
        for subset in itertools.combinations(range(c.size), size):
            err = abs(float(sum(c[k] for k in subset)) - target)
            if err < best_err:
                best_err = err
                best_mask = sum(1 << k for k in subset)
    return best_mask, best_err


def brute_force_min_size(samples, target: float, tol: float) -> int | None:
    """Smallest size of a subset within ``tol`` of ``target`` (None if there is none)."""
    c = np.asarray(samples, dtype=np.float64)
    if abs(target) <= tol:
        return 0
    for size in range(1, c.size + 1):
        for subset in itertools.combinations(range(c.size), size):
            if abs(float(sum(c[k] for k in subset)) - target) <= tol:
                return size
    return None


def brute_force_sparsest(samples, target: float, tol: float) -> tuple[int, float] | None:
    """Minimum cardinality within ``tol`` and the smallest error among subsets of that size:
    (size, error), or None when no subset (the empty one included) is within ``tol``."""
    c = np.asarray(samples, dtype=np.float64)
    if c.ndim != 1 or c.size > 20:
        raise InvalidArgumentError("brute_force_sparsest takes a 1-D array of at most 20 samples")
    if abs(target) <= tol:
        return 0, abs(float(target))
    for size in range(1, c.size + 1):
        errs = [abs(float(sum(c[k] for k in subset)) - target)
                for subset in itertools.combinations(range(c.size), size)]
        if min(errs) <= tol:
            return size, min(errs)
    return None


def brute_force_fixed(samples, target: float, k: int) -> tuple[int, float]:
    """Best subset of exactly ``k`` of ``samples`` (1-D, at most 20) for ``target``: (bit mask,
    |Σ − target|) over all C(m, k) subsets enumerated by itertools (ties: the first in that order);
    (0, inf) when k > m."""
    c = np.asarray(samples, dtype=np.float64)
    if c.ndim != 1 or c.size > 20:
        raise InvalidArgumentError("brute_force_fixed takes a 1-D array of at most 20 samples")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InvalidArgumentError(f"k must be an int ≥ 0, got {k!r}")
    best_mask, best_err = 0, float("inf")
    for subset in itertools.combinations(range(c.size), int(k)):
        err = abs(float(sum(c[i] for i in subset)) - target)
        if err < best_err:
            best_err = err
            best_mask = sum(1 << i for i in subset)
    return best_mask, best_err
