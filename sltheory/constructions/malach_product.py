"""malach_product — OUR variant of the one-path construction of Malach, Yehudai, Shalev-Shwartz,
Shamir (ICML 2020, arXiv:2002.00585, "Proving the lottery ticket hypothesis: pruning is all you
need"). The paper's own per-weight mechanism, as restated by later papers (2 intermediate neurons
per weight, ~1/ε² sampled neurons: two closeness events, one on each factor), is
``sltheory.constructions.malach``; this module replaces those two events by ONE event on the
product: a unit is taken when |a_k|·B[o, k] lies in a window around the target weight. The
selection rule, the width rule and its constant are ours (complete proof in
proofs/malach_product.py).

Construction (same pair structure as Pensia et al., see ``_pairs.py``): each target weight is
copied by ONE random path per sign: for output o and slot (j, s) keep the single unit k whose
product |a_k| B[o, k] is closest to s·W[o, j] (a candidate per unit; no subset sums).

Width rule (ours). Let X = |a|·b with a, b ~ U[−1, 1] independent. Its density is
f(x) = ½ ln(1/|x|) on [−1, 1], decreasing in |x|, so for every |w| ≤ 1 the window [w − τ, w + τ]
has probability at least the window at w = 1:

    p(τ) = P(X ≥ 1 − τ) = ½ (τ + (1 − τ) ln(1 − τ)) = τ²/4 + O(τ³).

With per-weight tolerance τ_i = e/√N_i (e = (1+ε)^{1/l} − 1, N_i = d_in'·d_out problems, as in
Pensia's case), n_i = ln(l N_i / δ)/p(τ_i) candidates per slot make every problem hit with
probability ≥ 1 − δ (union bound, (1 − p)^n ≤ e^{−pn}), and then the certificate is ≤ ε.
So n = Θ(l² d_in d_out ε⁻² log(l d² / δ)) and the width 2n·d_in is polynomial — the ε⁻²
comes from weights near ±1, where a single product is rarely close. The one product event has
about twice the probability of the paper's two events (τ²/4 against τ²/8 in
``malach.hit_probability``), so this variant needs about half the width.
"""

from __future__ import annotations

import numpy as np

from .._backend import ops
from ..bounds import layer_error_budget, weight_tolerance
from ..errors import InvalidArgumentError
from .malach import Malach


def hit_probability(tau):
    """p(τ) = ½(τ + (1−τ) ln(1−τ)): the least probability, over |w| ≤ 1, that |a|·b (a, b ~
    U[−1, 1]) lands within τ of w (attained at w = ±1). Floats or sympy; τ ∈ (0, 1)."""
    o = ops(tau)
    return (tau + (1 - tau) * o.log(1 - tau)) / 2


def samples_per_block(d_in, d_out, depth, eps, delta, signed=True, C=1):
    """n_i = C · ln(l N_i / δ) / p(τ_i), τ_i = e/√N_i, N_i = d_in' d_out (d_in' = 2 d_in if signed).
    C = 1 is what the proof needs. Un-rounded; floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, C)
    N = (2 if signed else 1) * d_in * d_out
    tau = weight_tolerance(layer_error_budget(eps, depth), N, 1)
    if isinstance(tau, float) and not tau < 1:
        raise InvalidArgumentError(f"eps = {eps:g} gives malach_product's per-weight tolerance τ = e/√N = "
                                   f"{tau:.3g} ≥ 1 on a {d_out}×{d_in} layer; the rule's hit probability p(τ) needs "
                                   "τ < 1: use a smaller eps, or n=")
    return C * o.log(depth * N / delta) / hit_probability(tau)


def _select(samples, targets, counts, tol):
    """One path: the single sample closest to the target (or none, if |t| is closer)."""
    P, n = samples.shape
    valid = np.arange(n)[None, :] < counts[:, None]
    dist = np.where(valid, np.abs(samples - targets[:, None]), np.inf)
    best = np.argmin(dist, axis=1) if n else np.zeros(P, dtype=np.int64)
    best_err = dist[np.arange(P), best] if n else np.full(P, np.inf)
    take = best_err < np.abs(targets)
    chosen = np.zeros((P, n), dtype=bool)
    chosen[np.flatnonzero(take), best[take]] = True
    return chosen, np.where(take, best_err, np.abs(targets))


class MalachProduct(Malach):
    """The plan, width-rule shape and pruning machinery of :class:`~.malach.Malach`, with this
    module's window rule (:func:`samples_per_block`) and selector (:func:`_select`)."""

    name = "malach_product"
    whose = "ours"
    citation = ("ours: a variant of Malach, Yehudai, Shalev-Shwartz, Shamir. Proving the lottery ticket "
                "hypothesis: pruning is all you need. ICML 2020, arXiv:2002.00585 (weight-subnetworks): one "
                "product |a|·b in a window per weight instead of the paper's two closeness events")

    def samples(self, i, dims, eps, delta, C=1):
        return samples_per_block(dims[i], dims[i + 1], len(dims) - 1, eps, delta, i == 0, C)

    def selector(self):
        return _select


CONSTRUCTION = MalachProduct()
