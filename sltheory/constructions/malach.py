"""Malach, Yehudai, Shalev-Shwartz, Shamir (ICML 2020, arXiv:2002.00585): "Proving the lottery
ticket hypothesis: pruning is all you need" — weight-subnetworks of a random network of depth 2l
with i.i.d. U[−1, 1] weights approximate any bias-free ReLU target with bounded weights, at
polynomial width.

What was read (the theorem's text and its lemmas were not available to us, only the abstract and
restatements): depth 2l, i.i.d. U[−1, 1] weights, a factor O(d⁴l²) wider than the target
(Pensia et al.'s abstract, arXiv:2006.07990); "the target weight w* is simulated in the pruned
network by 2 intermediate neurons, requiring 1/ε² sampled neurons" (Orseau et al., arXiv:2006.12156,
Figure 1 caption, "previous work"); over-parameterization Õ(m_t²/ε²) for m_t target weights
(Natale et al. 2024, arXiv:2410.14754); Natale's 2023 talk slides (slides.com/natema/intro-2023)
summarise Malach et al. as "find a random weight close to w" (Pensia et al.: "a combination").

What is inferred from that (the restated reading implemented here): the 2 intermediate neurons
are the two halves of w·x = w σ(x) − w σ(−x), one unit with a positive and one with a negative
first-layer weight; a sampled neuron serves a half when TWO closeness events hold — its kept
first-layer weight is close to ±1 AND its second-layer weight is close to ±w — each of
probability ~ε, hence ~1/ε² sampled neurons per weight. The values the weights are close to
(|a| near 1, b near s·w) and the split of the tolerance between the two events are ours.

Construction (the pair structure of ``_pairs.py``; units shared by the outputs of a layer, one
kept input per unit): for output o and slot (j, s), target t = s·W[o, j], the unit k of the slot
is a hit at tolerance τ when

    1 − |a_k| ≤ τ/2   and   |B[o, k] − t| ≤ τ/2,

and then | |a_k| B[o, k] − t | ≤ (1 − |a_k|)|B[o, k]| + |B[o, k] − t| ≤ τ/2 + τ/2 = τ. The
selector reads both factors (:meth:`PairLayer.factors`) and keeps the unit with the smallest such
τ, i.e. the least 2·max(1 − |a_k|, |B[o, k] − t|) — or no unit when 0 is closer to t than its
product (ours).

Width rule (ours, proven in proofs/malach.py). Given the slot assignment (which reads only signs),
|a| ~ U[0, 1] and b ~ U[−1, 1] are independent, P(1 − |a| ≤ α) = α, and for every |t| ≤ 1
P(|b − t| ≤ β) ≥ β/2 (β ≤ 2, least at t = ±1); with α = β = τ/2 one unit hits with probability

    q(τ) ≥ αβ/2 = τ²/8          (the best split of α + β = τ).

With τ_i = e/√N_i (e = (1+ε)^{1/l} − 1, N_i = d_in'·d_out problems), n_i = ln(l N_i/δ)/q(τ_i)
units per slot miss some problem with probability ≤ δ (union bound, (1 − q)^n ≤ e^{−qn}), and
then the certificate is ≤ ε. So n = 8 l² d_in' d_out ε⁻² ln(l N/δ)(1 + o(1)): about twice the
n of our one-product variant ``malach_product`` (whose event has probability ≈ τ²/4).
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import ops
from .._checks import plan_args, positive_float
from ..bounds import layer_error_budget, weight_tolerance
from ..errors import InvalidArgumentError
from ..network import Plan, RandomNetwork
from ..targets import Target
from ._pairs import MAX_RANDOM_WEIGHTS, PairConstruction, PairLayer, plan_pairs, prune_pairs
from .base import PruneResult


def event_probability(alpha, beta):
    """αβ/2: the least probability, over |t| ≤ 1, that one unit has 1 − |a| ≤ α (probability α,
    |a| ~ U[0, 1]) and |b − t| ≤ β (probability ≥ β/2, b ~ U[−1, 1]); α ≤ 1, β ≤ 2. Floats or sympy."""
    return alpha * beta / 2


def hit_probability(tau):
    """q(τ) = τ²/8: :func:`event_probability` at the split α = β = τ/2 (whose errors add to ≤ τ).
    Floats or sympy; τ ∈ (0, 2]."""
    return event_probability(tau / 2, tau / 2)


def samples_per_block(d_in, d_out, depth, eps, delta, signed=True, C=1):
    """n_i = C · ln(l N_i / δ) / q(τ_i), τ_i = e/√N_i, N_i = d_in' d_out (d_in' = 2 d_in if signed).
    C = 1 is what the proof needs. Un-rounded; floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, C)
    N = (2 if signed else 1) * d_in * d_out
    tau = weight_tolerance(layer_error_budget(eps, depth), N, 1)
    if isinstance(tau, float) and not tau <= 2:
        raise InvalidArgumentError(f"eps = {eps:g} gives malach's per-weight tolerance τ = e/√N = {tau:.3g} > 2 "
                                   f"on a {d_out}×{d_in} layer; the rule's two closeness events need τ/2 ≤ 1: "
                                   "use a smaller eps, or n=")
    return C * o.log(depth * N / delta) / hit_probability(tau)


def event_tolerance(a_abs: np.ndarray, b: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per unit, the least τ at which both closeness events hold: 2·max(1 − |a|, |b − t|)."""
    return 2 * np.maximum(1 - a_abs, np.abs(b - targets[:, None]))


def _select(layer: PairLayer, idx: np.ndarray, tol: float):
    """Two closeness events per unit: keep the unit of the slot with the least event tolerance
    (both factors read separately), or none if 0 is closer to the target than its product. The
    choice does not depend on ``tol`` (a hit at tol is a unit whose event tolerance is ≤ tol)."""
    a_abs, b = layer.factors(idx)
    targets = layer.targets[idx]
    P, n = a_abs.shape
    chosen = np.zeros((P, n), dtype=bool)
    if n == 0:
        return chosen, np.abs(targets)
    valid = np.arange(n)[None, :] < layer.counts[idx][:, None]
    key = np.where(valid, event_tolerance(a_abs, b, targets), np.inf)
    best = np.argmin(key, axis=1)
    rows = np.arange(P)
    err = np.abs(b[rows, best] * a_abs[rows, best] - targets)   # the product as PairLayer.samples has it
    take = np.isfinite(key[rows, best]) & (err < np.abs(targets))
    chosen[rows[take], best[take]] = True
    return chosen, np.where(take, err, np.abs(targets))


_select.per_layer = True   # type: ignore[attr-defined]


def _n_needed(n: int, worst: float, tol: float) -> int:
    """A unit's hit probability scales like τ²: n (worst/tol)²."""
    return math.ceil(n * (worst / tol) ** 2)


class Malach(PairConstruction):
    name = "malach"
    whose = "paper"
    citation = ("Malach, Yehudai, Shalev-Shwartz, Shamir. Proving the lottery ticket hypothesis: pruning is all "
                "you need. ICML 2020, arXiv:2002.00585 (weight-subnetworks; per-weight mechanism as restated by "
                "Orseau et al. 2020, Figure 1: 2 intermediate neurons per weight, ~1/ε² sampled; the two "
                "closeness events are our reading of those restatements, the width rule ours)")
    soundness_n = (10, 150)
    soundness_n_eps = (60, 300)
    soundness_small = True

    def samples(self, i, dims, eps, delta, C=1):
        return samples_per_block(dims[i], dims[i + 1], len(dims) - 1, eps, delta, i == 0, C)

    def selector(self):
        """The per-weight selection (here: two closeness events; a variant overrides it)."""
        return _select

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=1, spare_negative_half=True,
             max_weights=MAX_RANDOM_WEIGHTS, **options) -> Plan:
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        C = positive_float("C", C)
        dims = (shapes[0][1],) + tuple(d_out for d_out, _ in shapes)
        return plan_pairs(
            self.name, shapes, eps=eps, delta=delta, n=n, width_factor=width_factor,
            rule=lambda i, d_in, d_out: self.samples(i, dims, eps, delta, C),
            spare_negative_half=spare_negative_half, constant=C, max_weights=max_weights)

    def prune(self, target: Target, rand: RandomNetwork, *, eps, **options) -> PruneResult:
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        return prune_pairs(target, rand, eps=eps, select=self.selector(), n_needed=_n_needed)


CONSTRUCTION = Malach()
