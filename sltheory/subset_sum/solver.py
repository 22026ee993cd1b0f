"""Batched random subset sum: for each problem p find S ⊆ {0..m_p-1} with Σ_{k∈S} c[p,k] ≈ t[p].

Modes, one kernel family (meet in the middle, see ``_kernels.py``):

* **exact** (``tol=0``): the optimal subset of all samples (up to :data:`MAX_SAMPLES`).
* **sparsest** (``tol>0``, the default): a subset within ``tol`` with the *fewest elements*
  among all subsets of all samples within ``tol`` (minimum cardinality; among those, the smallest
  error). The staged search below finds some subset within ``tol`` of size p cheaply; sizes
  1 … p are then searched exactly over all samples, smallest first (per-size meet in the
  middle), and the first size that reaches ``tol`` is returned. This is the fixed-size subset
  sum of Natale et al. (NeurIPS 2024, "On the sparsity of the strong lottery ticket
  hypothesis"): few elements per target suffice once n is a little above log₂(1/ε).
* **staged** (``tol>0``, ``mode="staged"``): solve on growing prefixes of the samples (8, 12,
  16, … elements) and stop at the first prefix where some subset is within ``tol``; among the
  pairs the sweep visits there within ``tol``, keep the one with the fewest elements. Fast, and
  sparse, but not minimum cardinality: only a prefix is searched and the sweep visits only some
  pairs.

In both tolerance modes, when no subset is within ``tol`` the result is the optimum, as in
exact mode.

* **fixed** (``mode="fixed", k=k``): the subset of *exactly* k elements with the smallest error
  (the random fixed-size subset sum, RFSS, of Natale et al. 2024, arXiv:2410.14754), over all
  samples of the problem (up to 64). ``tol`` plays no part: the optimum among the k-subsets is
  within ``tol`` whenever any k-subset is. A problem with fewer than k samples has no k-subset:
  mask 0, error ``inf``. Exact, by the cheaper of two searches (``_kernels.py``): per-size meet in
  the middle over two halves, or the sorted ⌊k/2⌋- and ⌈k/2⌉-subsets of all samples searched for
  the closest disjoint pair (sizes ≤ 3 from the sorted samples); k and m − k are searched alike
  (complements), and a (k, m) whose lists would exceed :data:`MAX_FIXED_ENTRIES` is refused
  before any work.

Exact and staged search the first :data:`MAX_SAMPLES` (40) samples of a problem. Sparsest
searches all of them (up to 64): exactly when there are at most 40; beyond 40, the sizes whose
per-size lists fit 2^20 entries per half are searched over all samples (sizes ≤ 5 for 64
samples), and a larger minimum only among the first 40 (then the subset returned is within
``tol`` but its size is an upper bound on the minimum).

The solver knows nothing about networks: it takes arrays and returns bit masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgumentError
from ._kernels import MAX_SAMPLES, fixed_capacity, solve_batch, solve_fixed_batch

#: Prefix sizes tried in staged mode (the last stage is always "all samples").
STAGES = np.array([8, 12, 16, 20, 24, 28, 32, 36, MAX_SAMPLES], dtype=np.int64)


@dataclass(frozen=True)
class SubsetSumResult:
    """``masks[p]``: bit k set ⇔ sample k of problem p is in the subset; ``errors[p]`` = |Σ − t|."""

    masks: np.ndarray   # uint64, shape (P,)
    errors: np.ndarray  # float64, shape (P,)

    def selected(self, width: int) -> np.ndarray:
        """The masks as a bool array of shape (P, width)."""
        return masks_to_bool(self.masks, width)

    @property
    def sizes(self) -> np.ndarray:
        """Number of elements in each chosen subset."""
        return popcount(self.masks)


def masks_to_bool(masks: np.ndarray, width: int) -> np.ndarray:
    bits = np.arange(width, dtype=np.uint64)
    return ((masks[:, None] >> bits[None, :]) & np.uint64(1)).astype(bool)


def popcount(masks: np.ndarray) -> np.ndarray:
    return np.unpackbits(masks.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


#: Modes for ``tol > 0`` (see the module docstring).
MODES = ("sparsest", "staged")
#: The fixed-size mode (``mode="fixed"`` with ``k``): exactly k elements, whatever ``tol``.
FIXED = "fixed"
#: Largest list (entries) of the fixed-size search: 2^22 (64 MiB of sums and masks per list, two
#: lists per thread); e.g. k ≤ 8 (or ≥ 56) of 64 samples, any k of ≤ 44.
MAX_FIXED_ENTRIES = 1 << 22


def solve(samples, targets, *, counts=None, tol=0.0, mode: str = "sparsest", k=None,
          chunk: int = 64) -> SubsetSumResult:
    """Solve a batch of subset-sum problems.

    Parameters:

    * ``samples``: array (P, m) of float64 — problem p uses ``samples[p, :counts[p]]``.
    * ``targets``: array (P,) of float64.
    * ``counts``: array (P,) of ints ≤ m (default: all m samples). Exact and staged search only the
      first ``min(count, MAX_SAMPLES)`` samples; sparsest all of them (module docstring).
    * ``tol``: float or array (P,) ≥ 0. ``0`` = exact optimum; ``> 0`` = ``mode`` (see module doc).
    * ``mode``: ``"sparsest"`` (minimum cardinality within ``tol``), ``"staged"``, or ``"fixed"``
      (exactly ``k`` elements, the best such subset; ``tol`` unused).
    * ``k``: with ``mode="fixed"`` only: an int ≥ 0 or one per problem.
    * ``chunk``: problems per parallel task (each task allocates its buffers once).
    """
    if mode not in MODES + (FIXED,):
        raise InvalidArgumentError(f"mode must be one of {MODES + (FIXED,)}, got {mode!r}")
    if (k is None) != (mode != FIXED):
        raise InvalidArgumentError("k (the subset size) goes with mode='fixed', and mode='fixed' needs k")
    samples = np.ascontiguousarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise InvalidArgumentError(f"samples must be 2-D (problems, samples), got shape {samples.shape}")
    n_prob, width = samples.shape
    targets = np.ascontiguousarray(np.broadcast_to(np.asarray(targets, dtype=np.float64), (n_prob,)))
    if counts is None:
        counts = np.full(n_prob, width, dtype=np.int64)
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    if counts.shape != (n_prob,) or (n_prob and (counts.min() < 0 or counts.max() > width)):
        raise InvalidArgumentError("counts must have one entry per problem, each in [0, samples.shape[1]]")
    if width > 64:
        raise InvalidArgumentError(f"at most 64 samples per problem are supported (masks are uint64), got {width}")
    tols = np.ascontiguousarray(np.broadcast_to(np.asarray(tol, dtype=np.float64), (n_prob,)))
    if n_prob and (not np.all(np.isfinite(tols)) or tols.min() < 0):
        raise InvalidArgumentError("tol must be finite and ≥ 0")
    if not (np.all(np.isfinite(samples)) and np.all(np.isfinite(targets))):
        raise InvalidArgumentError("samples and targets must be finite")
    out_mask = np.zeros(n_prob, dtype=np.uint64)
    out_err = np.abs(targets).copy()
    if mode == FIXED:
        ks = _sizes_arg(k, n_prob)
        need = max((int(fixed_capacity(int(m), int(kk))) for m, kk in zip(counts, ks)), default=0)
        if need > MAX_FIXED_ENTRIES:
            raise InvalidArgumentError(f"the fixed-size search of k = {ks.max()} among up to {counts.max()} samples "
                                       f"needs lists of {need:,} entries, more than {MAX_FIXED_ENTRIES:,}: "
                                       "use fewer samples or a k nearer 0 or the sample count")
        if n_prob:
            solve_fixed_batch(samples, counts, targets, ks, int(chunk), out_mask, out_err)
        return SubsetSumResult(out_mask, out_err)
    if n_prob:
        solve_batch(samples, counts, targets, tols, STAGES, mode == "sparsest", int(chunk), out_mask, out_err)
    return SubsetSumResult(out_mask, out_err)


def _sizes_arg(k, n_prob: int) -> np.ndarray:
    """``k`` as one int64 per problem (each an integer ≥ 0), or InvalidArgumentError."""
    arr = np.asarray(k)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or (arr.dtype == object and all(isinstance(v, int) for v in arr.ravel()))):
        raise InvalidArgumentError(f"k must be an int ≥ 0 or one int per problem, got {k!r}")
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n_prob,)):
        raise InvalidArgumentError(f"k must be an int or have one entry per problem ({n_prob}), got shape {arr.shape}")
    ks = np.ascontiguousarray(np.broadcast_to(arr.astype(np.int64), (n_prob,)))
    if n_prob and (ks.min() < 0 or ks.max() > 64):
        raise InvalidArgumentError(f"k must be in [0, 64], got {k!r}")
    return ks


def subset_sums(samples: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Σ of the selected samples per problem, recomputed from the masks (independent check)."""
    width = samples.shape[1]
    return np.where(masks_to_bool(masks, width), samples, 0.0).sum(axis=1)
