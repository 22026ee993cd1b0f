"""Generated targets: random weight matrices from an explicit seed, normalised as the theorems assume."""

from __future__ import annotations

import numpy as np

from .._checks import dims_arg, nonnegative_int
from ..targets import MAX_TARGET_WEIGHTS

__all__ = ["gaussian_target"]


def gaussian_target(dims, seed: int) -> list[np.ndarray]:
    """A generated target: W_i (d_i × d_{i−1}) i.i.d. N(0, 1) from ``numpy.random.default_rng(seed)``,
    each divided by its spectral norm, so ‖W_i‖₂ = 1 (the theorems' boundary case)."""
    dims = dims_arg("dims", dims, max_weights=MAX_TARGET_WEIGHTS)
    seed = nonnegative_int("seed", seed)
    rng = np.random.default_rng(seed)
    mats = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        w = rng.standard_normal((d_out, d_in))
        mats.append(w / np.linalg.norm(w, 2))
    return mats
