"""Orseau, Hutter, Rivasplata (NeurIPS 2020, arXiv:2006.12156): "Logarithmic pruning is all you
need" — with hyperbolic random weights, O(log 1/ε) sampled neurons per target weight suffice.

What we read (the theorem's text and constants were not available; cite these as restatements):
NeurIPS 2020 Review 1 — each weight is written in a bitwise representation in **base 3/2**; the
product b·a of two sampled weights acts through b·a·x = b·ReLU(a·x) − b·ReLU(−a·x); a covering
argument over a categorical distribution lets **one sampling pass serve every neuron of a layer**;
a union bound over layers. Figure 1's caption — 2·log(1/ε) intermediate neurons and O(log 1/ε)
sampled neurons per target weight, hyperbolic weights (density ∝ 1/|w| on a bounded range).
Everything below that those texts do not say is **ours**: the range of the law, the greedy, the
constants of the width rule and its proof (proofs/orseau.py).

Random network (depth 2l, the pair structure of ``_pairs.py``). Per target layer W (d_out × d_in):
A (H × d_in) slot-structured (layer kind ("slots", n, signed)): n units per slot (j, s), unit k
of slot (j, s) has the single weight A[k, j] = s·|a_k|; slots (j, ±) on the signed first layer,
(j, +) after a ReLU; B (d_out × H) dense. Every weight of the pair i.i.d. symmetric hyperbolic,
|w| log-uniform on [γ_i, Γ_i] (ours: see the law below). A slot's units serve all d_out outputs:
the ONE sampling pass per layer.

Decomposition (per output o and slot (j, s): samples v_k = |a_k|·B[o, k], target t = s·W[o, j]).
Base 3/2 levels: ρ = 2/3, level windows I_τ = (ρ^{τ+1}, ρ^τ], τ = 0, 1, … Greedy, r = |t|: for each
level in turn, among the samples of t's sign with |v| ∈ I_τ take the largest with |v| ≤ r (if any),
r ← r − |v|; stop once r ≤ tol. Invariant (ours, from c = ρ/(1 − ρ) = 2): 0 ≤ r ≤ 2ρ^τ before
level τ, as long as each level's window holds ONE sample of the right sign, anywhere in it:
taking v ≥ ρ^{τ+1} leaves r ≤ 2ρ^τ − ρ^{τ+1} = 2ρ^{τ+1}; finding none ≤ r means r < ρ^τ ≤ 2ρ^{τ+1}.
After K levels, r ≤ 2ρ^K: K = ⌈log_{3/2}(2/τ_w)⌉ levels reach a tolerance τ_w, with at most one
kept path per level — K per weight and sign, 2K on the signed first layer (the caption's
2·log(1/ε) intermediate neurons, in base 3/2). Any unit may serve any level (no disjoint batches).

Width rule (ours). log|a|, log|b| ~ U[ln γ, ln Γ] with ln Γ − ln γ = Kλ (λ = ln 3/2) and
ln γ + ln Γ = −Kλ/2, i.e. γ = (3/2)^{−3K/4}, Γ = (3/2)^{K/4} (> 1: needed, since with Γ ≤ 1 the
density of log|ab| vanishes at 0 and the top levels get probability ~1/K²). Then log|ab| has the
triangular density (Kλ − |s + Kλ/2|)/(Kλ)², ≥ 1/(2Kλ) on [−Kλ, 0], so each of the K level windows
has probability ≥ 1/(2K), and with B's sign p = 1/(4K) (:func:`level_probability`). A slot of
n_i = C·ln(K_i l N_i / δ)/p = 4 C K_i ln(K_i l N_i / δ) units (C = 1) leaves a level of one of
the N_i = d_in'·d_out problems empty with probability ≤ K_i N_i e^{−p n_i} = δ/l (coupon collector,
union bound over levels and problems), so all l layers succeed with probability ≥ 1 − δ; with
per-weight tolerance τ_i = e/√N_i (e = (1+ε)^{1/l} − 1) the certificate is then ≤ ε. So
n_i = O(log(1/ε)·log(log(1/ε)·l d²/δ)) units per slot, and one slot serves d_out target weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from .._backend import ops
from .._checks import nonnegative_int, plan_args, positive_float
from ..bounds import layer_error_budget, weight_tolerance
from ..errors import InvalidArgumentError
from ..network import Plan, RandomNetwork
from ..targets import Target
from ._pairs import (
    MAX_RANDOM_WEIGHTS,
    PairConstruction,
    plan_pairs,
    prune_pairs,
)
from .base import PruneResult

#: The base of the decomposition (NeurIPS 2020 Review 1): levels are powers of ρ = 2/3.
BASE = 1.5
#: Levels when no eps is given (n= set by hand): 2ρ^36 ≈ 9·10⁻⁷.
LEVELS_DEFAULT = 36
#: Most levels accepted (2ρ^100 ≈ 5·10⁻¹⁸, below float64's resolution of a weight ≤ 1).
MAX_LEVELS = 100


def layer_tolerance(d_in, d_out, depth, eps, signed=True):
    """τ_i = e/√N_i, N_i = d_in'·d_out: the per-weight tolerance that guarantees the layer budget."""
    return weight_tolerance(layer_error_budget(eps, depth), (2 if signed else 1) * d_in * d_out, 1)


def levels(tol):
    """log_{3/2}(2/τ): the base-3/2 levels after which the greedy's residual 2ρ^K is ≤ τ (un-rounded)."""
    o = ops(tol)
    return o.log(2 / tol) / o.log(3 * o.one / 2)


def level_probability(K):
    """p = 1/(4K): the least probability that one sample |a|·b lands in a given level window
    (ρ^{τ+1}, ρ^τ], τ < K, with a given sign, under :func:`law` (floats or sympy)."""
    return 1 / (4 * K)


def law(K) -> tuple:
    """The hyperbolic law of a pair with K levels: |w| log-uniform on [(3/2)^{−3K/4}, (3/2)^{K/4}]
    (ours: centres log|ab|'s triangular density on the K windows)."""
    return ("hyperbolic", BASE ** (-0.75 * K), BASE ** (0.25 * K))


def layer_levels(d_in, d_out, depth, eps, signed=True):
    """K_i = ⌈log_{3/2}(2/τ_i)⌉ (at least 1)."""
    o = ops(d_in, d_out, depth, eps)
    return o.max(1, o.ceil(levels(layer_tolerance(d_in, d_out, depth, eps, signed))))


def samples_per_block(d_in, d_out, depth, eps, delta, signed=True, C=1, K=None):
    """n_i = C · ln(K_i l N_i / δ) / p(K_i) = 4 C K_i ln(K_i l N_i / δ), N_i = d_in'·d_out, K_i
    from eps (:func:`layer_levels`) unless given. C = 1 is what the proof needs. Floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, C)
    N = (2 if signed else 1) * d_in * d_out
    if K is None:
        K = layer_levels(d_in, d_out, depth, eps, signed)
    return C * o.log(K * depth * N / delta) / level_probability(K)


@njit(cache=True)
def _base32_greedy(samples, counts, targets, tol, chosen, errors):
    lam = math.log(1.5)
    for p in range(samples.shape[0]):
        t = targets[p]
        r = abs(t)
        if r <= tol or t == 0.0:
            errors[p] = r
            continue
        sgn = 1.0 if t > 0.0 else -1.0
        m = counts[p]
        mags = np.empty(m)
        idx = np.empty(m, dtype=np.int64)
        c = 0
        for i in range(m):
            v = samples[p, i] * sgn
            if v > 0.0:
                mags[c] = v
                idx[c] = i
                c += 1
        order = np.argsort(-mags[:c])
        taken_level = -(2 ** 62)
        for q in range(c):
            v = mags[order[q]]
            level = math.floor(-math.log(v) / lam)
            if level == taken_level:
                continue          # one path per level: this window is spent
            if v <= r:
                chosen[p, idx[order[q]]] = True
                r -= v
                taken_level = level
                if r <= tol:
                    break
        errors[p] = r


def _select(samples, targets, counts, tol):
    """The base-3/2 greedy, one kept sample per level window (module docstring)."""
    chosen = np.zeros(samples.shape, dtype=bool)
    errors = np.empty(samples.shape[0])
    _base32_greedy(np.ascontiguousarray(samples, dtype=np.float64), np.asarray(counts, dtype=np.int64),
                   np.ascontiguousarray(targets, dtype=np.float64), float(tol), chosen, errors)
    return chosen, errors


def _n_needed(n: int, worst: float, tol: float) -> int:
    """n grows about linearly with the levels: add log_{3/2}(worst/tol) levels to log_{3/2}(2/tol)."""
    return math.ceil(n * (1 + math.log(worst / tol, BASE) / max(1.0, math.log(2 / tol, BASE))))


def _levels_arg(value, depth: int) -> list[int]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != depth:
            raise InvalidArgumentError(f"levels has {len(value)} entries for a target of depth {depth}")
        return [nonnegative_int("levels", v, minimum=1, maximum=MAX_LEVELS) for v in value]
    return [nonnegative_int("levels", value, minimum=1, maximum=MAX_LEVELS)] * depth


class Orseau(PairConstruction):
    name = "orseau"
    citation = ("Orseau, Hutter, Rivasplata. Logarithmic pruning is all you need. NeurIPS 2020, "
                "arXiv:2006.12156 (hyperbolic weights, base-3/2 decomposition, one sampling pass per layer, "
                "as NeurIPS Review 1 and Figure 1 restate them; law range and width constants ours)")
    whose = "paper"
    soundness_n = (10, 150)
    soundness_n_eps = (150, 400)
    soundness_small = True
    #: its theorem width is small (about 10³ random weights per target weight at ε = 0.1 on 4-4-2)
    soundness_rule = True
    #: first sub-layers hold n units per (input, sign) by design: the one sampling pass per layer
    slot_first = True

    def samples(self, i, dims, eps, delta, C=1):
        return samples_per_block(dims[i], dims[i + 1], len(dims) - 1, eps, delta, i == 0, C)

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=1, levels=None,
             max_weights=MAX_RANDOM_WEIGHTS, **options) -> Plan:
        if options:
            raise InvalidArgumentError(f"unknown options for orseau: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        C = positive_float("C", C)
        depth = len(shapes)
        if levels is not None:
            Ks = _levels_arg(levels, depth)
        elif eps is not None:
            Ks = [int(layer_levels(d_in, d_out, depth, eps, i == 0)) for i, (d_out, d_in) in enumerate(shapes)]
            if max(Ks) > MAX_LEVELS:
                raise InvalidArgumentError(f"eps = {eps:g} needs {max(Ks)} base-3/2 levels, more than the "
                                           f"supported {MAX_LEVELS}: raise eps")
        else:
            Ks = [LEVELS_DEFAULT] * depth
        plan = plan_pairs(
            self.name, shapes, eps=eps, delta=delta, n=n, width_factor=width_factor,
            rule=lambda i, d_in, d_out: samples_per_block(d_in, d_out, depth, eps, delta, i == 0, C, Ks[i]),
            constant=C, max_weights=max_weights, distribution=law(Ks[0]), options={"levels": tuple(Ks)},
            slot_first=self.slot_first)
        laws = tuple(law(K) for K in Ks for _ in range(2))
        return dataclasses.replace(plan, layer_distributions=laws)

    def prune(self, target: Target, rand: RandomNetwork, *, eps, **options) -> PruneResult:
        if options:
            raise InvalidArgumentError(f"unknown options for orseau: {sorted(options)}")
        return prune_pairs(target, rand, eps=eps, select=_select, n_needed=_n_needed)


CONSTRUCTION = Orseau()
