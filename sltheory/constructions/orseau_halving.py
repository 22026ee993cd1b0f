"""orseau_halving — OURS, a weaker construction after Orseau, Hutter, Rivasplata (NeurIPS 2020,
arXiv:2006.12156, "Logarithmic pruning is all you need"). It is not the paper's construction
(that one is :mod:`sltheory.constructions.orseau`): it keeps the paper's hyperbolic weights and a
"binary" decomposition of each weight, but in base 2 with *disjoint batches* of samples per halving
step, which costs O(log³) samples per target weight where the paper's covering argument gives
O(log 1/ε). It is kept as a baseline for that difference (``benchmarks/orseau_order.py``). Its
width rule is ours, proven in proofs/orseau_halving.py.

Random network: depth 2l, the pair structure of ``_pairs.py`` (one kept input per hidden unit,
units shared by all outputs of a layer), every weight i.i.d. symmetric hyperbolic: |w|
log-uniform on [γ, 1], sign ±1 with probability ½.

Decomposition (per output o and slot (j, s), target t = s·W[o, j], tolerance τ): the slot's n
units are split into K = ⌈log₂(1/τ)⌉ batches; at step k, from batch k take the sample
c = |a_k|·B[o, k] of the residual's sign with the largest |c| ≤ |r| and set r ← r − c. If batch
k holds such a sample in [|r|/2, |r|], the residual halves; after K halvings |r| ≤ 2^{−K} ≤ τ.
At most K paths (kept neurons) per weight and sign: 2 log₂(1/τ) per weight on the signed layer.

Width rule (ours). For products of two log-uniform magnitudes on [γ, 1], log|ab| has the
triangular density (−s)/L² on [L, 0] (L = ln γ), so any interval [x/2, x] ⊂ [γ, 1] has
probability ≥ (ln 2)²/(2L²); with the sign, q = (ln 2)²/(4L²) per sample. Batches of
b = ln(K l N_i / δ)/q samples all succeed with probability ≥ 1 − δ (union bound over steps,
problems and layers), given γ ≤ τ_i/2. So n_i = K_i b_i = O(log(1/τ) log³(...)): poly-logarithmic,
a factor ~log² above the paper's O(log 1/ε).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._backend import ops
from .._checks import plan_args, positive_float
from ..bounds import layer_error_budget, weight_tolerance
from ..errors import InvalidArgumentError
from ..network import Plan, RandomNetwork
from ..targets import Target
from ._pairs import MAX_RANDOM_WEIGHTS, PairConstruction, plan_pairs, prune_pairs
from .base import PruneResult

#: γ when no eps is given (n= set by hand): the decomposition then resolves down to ~2^-20.
GAMMA_DEFAULT = 2.0 ** -21


def layer_tolerance(d_in, d_out, depth, eps, signed=True):
    """τ_i = e/√N_i: the per-weight tolerance that guarantees the layer budget (Frobenius)."""
    return weight_tolerance(layer_error_budget(eps, depth), (2 if signed else 1) * d_in * d_out, 1)


def batches(tau):
    """K = log₂(1/τ) halvings take |t| ≤ 1 below τ (un-rounded)."""
    return ops(tau).log2(1 / tau)


def step_probability(gamma):
    """q = (ln 2)² / (4 (ln γ)²): a sample lands in a given [x/2, x] ⊂ [γ, 1] with the right sign."""
    o = ops(gamma)
    return o.log(2) ** 2 / (4 * o.log(gamma) ** 2)


def samples_per_block(d_in, d_out, depth, eps, delta, gamma, signed=True, C=1):
    """n_i = C · K_i · ln(K_i l N_i / δ) / q(γ), K_i = log₂(1/τ_i). Un-rounded; floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, gamma, C)
    N = (2 if signed else 1) * d_in * d_out
    K = batches(layer_tolerance(d_in, d_out, depth, eps, signed))
    return C * K * o.log(K * depth * N / delta) / step_probability(gamma)


def network_gamma(shapes, eps):
    """γ = min_i τ_i / 2, so every interval the proof needs lies in [γ, 1]."""
    return min(layer_tolerance(d_in, d_out, len(shapes), eps, i == 0)
               for i, (d_out, d_in) in enumerate(shapes)) / 2


@njit(cache=True)
def _halving(samples, counts, targets, tol, K, chosen, errors):
    for p in range(samples.shape[0]):
        m = counts[p]
        b = max(1, m // K)
        r = targets[p]
        for k in range(K):
            if abs(r) <= tol or k * b >= m:
                break
            best = -1
            best_abs = 0.0
            for i in range(k * b, min((k + 1) * b, m)):
                c = samples[p, i]
                if c * r > 0.0 and abs(c) <= abs(r) and abs(c) > best_abs:
                    best_abs = abs(c)
                    best = i
            if best >= 0:
                chosen[p, best] = True
                r -= samples[p, best]
        errors[p] = abs(r)


def _selector(K: int):
    def select(samples, targets, counts, tol):
        chosen = np.zeros(samples.shape, dtype=bool)
        errors = np.empty(samples.shape[0])
        _halving(np.ascontiguousarray(samples), np.asarray(counts, dtype=np.int64),
                 np.ascontiguousarray(targets), float(tol), int(K), chosen, errors)
        return chosen, errors
    return select


def _n_needed(n: int, worst: float, tol: float) -> int:
    """Each batch of n/K samples buys one halving: add log₂(worst/tol) batches."""
    return math.ceil(n * (1 + math.log2(worst / tol) / max(1.0, math.log2(1 / tol))))


class OrseauHalving(PairConstruction):
    name = "orseau_halving"
    citation = ("ours, after Orseau, Hutter, Rivasplata. Logarithmic pruning is all you need. NeurIPS 2020, "
                "arXiv:2006.12156: hyperbolic weights, a base-2 halving decomposition with disjoint batches "
                "per step (O(log³) samples per weight; not the paper's construction)")
    whose = "ours"
    soundness_n = (10, 150)
    soundness_n_eps = (150, 400)
    #: its tickets at n ≤ 400 rarely certify below 0.3 on the benchmark's targets
    soundness_eps = (0.3, 0.9)
    soundness_small = True

    def samples(self, i, dims, eps, delta, C=1):
        shapes = [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)]
        return samples_per_block(dims[i], dims[i + 1], len(dims) - 1, eps, delta, network_gamma(shapes, eps),
                                 i == 0, C)

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=1, gamma=None,
             spare_negative_half=True, max_weights=MAX_RANDOM_WEIGHTS, **options) -> Plan:
        if options:
            raise InvalidArgumentError(f"unknown options for orseau_halving: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        C = positive_float("C", C)
        if gamma is None:
            gamma = network_gamma(shapes, eps) if eps is not None else GAMMA_DEFAULT
        gamma = positive_float("gamma", gamma, upper=1.0)
        depth = len(shapes)
        if eps is not None:
            K = [max(1, math.ceil(batches(layer_tolerance(d_in, d_out, depth, eps, i == 0))))
                 for i, (d_out, d_in) in enumerate(shapes)]
        else:
            K = [max(1, math.floor(math.log2(1 / gamma)))] * depth
        return plan_pairs(
            self.name, shapes, eps=eps, delta=delta, n=n, width_factor=width_factor,
            rule=lambda i, d_in, d_out: samples_per_block(d_in, d_out, depth, eps, delta, gamma, i == 0, C),
            spare_negative_half=spare_negative_half, constant=C, max_weights=max_weights,
            distribution=("hyperbolic", gamma), options={"batches": tuple(K), "gamma": gamma})

    def prune(self, target: Target, rand: RandomNetwork, *, eps, **options) -> PruneResult:
        if options:
            raise InvalidArgumentError(f"unknown options for orseau_halving: {sorted(options)}")
        selectors = [_selector(K) for K in rand.plan.options["batches"]]
        return prune_pairs(target, rand, eps=eps, select=selectors, n_needed=_n_needed)


CONSTRUCTION = OrseauHalving()
