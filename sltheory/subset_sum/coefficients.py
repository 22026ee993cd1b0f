"""Pensia et al.'s experiment, reproduced faithfully, solved by this package's solver.

What the official code (acnagle/optimal-lottery-tickets, ``subset-sum/main.py``, ``utils.py``,
``run.sh``; read for its facts) does to a bias-free MLP — here :func:`pensia_coefficient_mode`:

* n = c·round(log₂(1/ε)) coefficients, c = 3 and ε = 0.01 in ``run.sh``: n = 21
  (:func:`pensia_n`);
* the coefficients are U[low, high) with low = min(0, min w) and high = max(0, max w) over ALL
  target weights of all layers (:func:`coefficient_range`);
* they are drawn once per ROW of each weight matrix (one output neuron's incoming weights) and
  reused by every weight of that row — the code comment says "every w is approximated with a
  unique set of random values", the code draws per row (``per="row"``, the default here;
  ``per="weight"`` draws fresh coefficients for every weight, what that comment and the paper's
  text describe);
* per weight, one Gurobi MIP: minimise |w − Σ a_i x_i| subject to |w − Σ a_i x_i| ≤ ε, x binary,
  MIPGap 0.01; the weight is replaced by the subset sum and the subset's size is counted
  ("coefficients used"). Their 9.39 is coefficients used / target weights (3.73M / 397k);
* a weight with no feasible subset makes the code call ``sys.exit(0)``: a failed run exits with
  status 0. Here a failure is counted (``failures``) and the run goes on;
* no random network is built and no product of two random weights appears: the "pruned network"
  is the target with each weight replaced by its subset sum (``approximations``). Until commit
  aa40dbd (2022) the code evaluated the *target* model where it meant the approximated one, so the
  published accuracy is the target's.

Solved here by :func:`sltheory.subset_sum.solve`: ``select="closest"`` (default) takes the
optimum subset (exact mode, smallest |w − Σ|; their MIP's objective, without its 1% gap);
``select="sparsest"`` (ours) a subset of minimum cardinality within ε. With ``threshold=True`` a
weight with |w| ≤ ε is set to 0 with no coefficient (their ``--check_w_lt_eps``, off in
``run.sh``). Pure array code: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._checks import eps_arg, nonnegative_int, strict_bool
from ..errors import InvalidArgumentError
from ._kernels import MAX_SAMPLES
from .solver import popcount, solve, subset_sums

#: How the coefficients are shared: one set per row (their code) or per weight (their comment).
PER = ("row", "weight")
#: Which subset: the optimum (their MIP's objective) or a minimum-cardinality one within ε (ours).
SELECT = ("closest", "sparsest")


@dataclass(frozen=True)
class CoefficientResult:
    """Per layer (shaped like the target's matrices): ``approximations`` (the subset sums that
    replace the weights), ``used`` (coefficients in each subset), ``errors`` (|w − Σ|)."""

    approximations: tuple[np.ndarray, ...]
    used: tuple[np.ndarray, ...]
    errors: tuple[np.ndarray, ...]
    n: int
    tol: float
    per: str
    select: str
    low: float
    high: float

    @property
    def num_weights(self) -> int:
        return int(sum(u.size for u in self.used))

    @property
    def coefficients_used(self) -> int:
        """Σ over all weights of the subset sizes (their "weights remaining")."""
        return int(sum(int(u.sum()) for u in self.used))

    @property
    def coefficients_per_weight(self) -> float:
        """coefficients used / target weights: the unit of their 9.39."""
        return self.coefficients_used / self.num_weights

    @property
    def coefficients_drawn(self) -> int:
        """n per weight, as their code counts the "approximated network" (whatever ``per``)."""
        return self.n * self.num_weights

    @property
    def failures(self) -> int:
        """Weights with no subset within ε (where their code calls sys.exit(0))."""
        return int(sum(int(np.count_nonzero(e > self.tol)) for e in self.errors))

    @property
    def max_error(self) -> float:
        return float(max(float(e.max()) for e in self.errors))


def pensia_n(eps, c=3) -> int:
    """n = int(c · round(log₂(1/ε))) as their code computes it (round half to even): 21 at ε = 0.01,
    c = 3."""
    eps = eps_arg("eps", eps)
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c <= 0:
        raise InvalidArgumentError(f"c must be a finite real > 0, got {c!r}")
    return int(c * round(math.log2(1 / eps)))


def _weights(W) -> list[np.ndarray]:
    """One matrix (a 2-D array, or nested sequences of numbers) or a sequence of matrices."""
    mats = W
    if isinstance(W, np.ndarray) and W.ndim == 2:
        mats = [W]
    elif isinstance(W, Sequence) and not isinstance(W, (str, bytes)):
        try:
            whole = np.asarray(W, dtype=np.float64)
        except (TypeError, ValueError):
            whole = None   # layers of different shapes (or not numbers: refused below, per layer)
        if whole is not None and whole.ndim == 2:
            mats = [whole]
    if not isinstance(mats, (Sequence, np.ndarray)) or isinstance(mats, (str, bytes)) or len(mats) == 0:
        raise InvalidArgumentError("W must be a 2-D array or a non-empty sequence of 2-D arrays")
    out = []
    for i, m in enumerate(mats):
        try:
            a = np.asarray(m, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"W[{i}] is not a real array: {exc}") from None
        if a.ndim != 2 or a.size == 0:
            raise InvalidArgumentError(f"W[{i}] must be a non-empty 2-D array, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise InvalidArgumentError(f"W[{i}] has non-finite entries")
        out.append(a)
    return out


def coefficient_range(W) -> tuple[float, float]:
    """(min(0, min w), max(0, max w)) over all weights of all layers: their coefficients' law."""
    mats = _weights(W)
    return min(0.0, min(float(m.min()) for m in mats)), max(0.0, max(float(m.max()) for m in mats))


def pensia_coefficient_mode(W, *, n: int, tol: float, seed: int, per: str = "row", select: str = "closest",
                            threshold: bool = False) -> CoefficientResult:
    """Their experiment on the matrices ``W`` (one 2-D array, or one per layer, rows = output
    neurons): per row (or per weight, ``per``) n coefficients ~ U[low, high) from
    :func:`coefficient_range`, drawn layer by layer, row by row from ``numpy.random.default_rng(seed)``,
    and one subset-sum problem per weight at tolerance ``tol`` (module docstring).
    n ≤ :data:`~sltheory.subset_sum.MAX_SAMPLES` (exact search)."""
    mats = _weights(W)
    n = nonnegative_int("n", n, minimum=1, maximum=MAX_SAMPLES)
    tol = eps_arg("tol", tol)
    seed = nonnegative_int("seed", seed)
    if per not in PER:
        raise InvalidArgumentError(f"per must be one of {PER}, got {per!r}")
    if select not in SELECT:
        raise InvalidArgumentError(f"select must be one of {SELECT}, got {select!r}")
    threshold = strict_bool("threshold", threshold)
    low, high = coefficient_range(mats)
    if high <= low:
        raise InvalidArgumentError("W is all zeros: the coefficients' range [min(0, min w), max(0, max w)] is empty")
    rng = np.random.default_rng(seed)
    approx, used, errors = [], [], []
    for m in mats:
        d_out, d_in = m.shape
        if per == "row":
            coef = rng.uniform(low, high, size=(d_out, 1, n))
            samples = np.broadcast_to(coef, (d_out, d_in, n)).reshape(-1, n)
        else:
            samples = rng.uniform(low, high, size=(d_out, d_in, n)).reshape(-1, n)
        targets = m.reshape(-1)
        # sparsest: within tol·(1 − 2⁻²⁰), so that the recomputed sums (another order) stay ≤ tol
        res = solve(samples, targets, tol=0.0 if select == "closest" else tol * (1 - 2.0 ** -20), mode="sparsest")
        masks = res.masks.copy()
        if threshold:
            masks[np.abs(targets) <= tol] = 0
        sums = subset_sums(samples, masks)
        approx.append(sums.reshape(d_out, d_in))
        used.append(popcount(masks).reshape(d_out, d_in).astype(np.int64))
        errors.append(np.abs(targets - sums).reshape(d_out, d_in))
    return CoefficientResult(tuple(approx), tuple(used), tuple(errors), n, tol, per, select, low, high)
