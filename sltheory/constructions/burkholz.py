"""Burkholz (NeurIPS 2022, arXiv:2205.02321): "Most activation functions can win the lottery
without excessive depth" — a random network of depth L+1 (instead of 2L) contains strong tickets
for depth-L targets, at about a quadratic-in-log overhead in width over Pensia et al. What was
read: the abstract, restatements by later work (Natale et al. 2024) and the official code; the
theorem's own text and constants were not available. The structure below is the one of the
official code (RelationalML/LT-existence, ``Utils/pruning.py``: univariate input copies, then ρ
copies of every target neuron, each copy solving subset sums over the copies of the previous
layer), with departures of ours — hence ``whose = "ours"``: a fixed random network (the official
code redraws on failure), the first layer's units assigned to (input, sign) slots greedily by the
signs of their rows (as in ``subset_sum``; the code fixes ρ units per input), and our width rule.

Random network, for a target with widths d_0 … d_L (weights i.i.d.; layer 1 U[−2, 2) as in the
official code's ``prune_conv`` — its univariate units draw U(−2, 2) — every later layer U[−1, 1);
``first_layer_scale=1`` gives U[−1, 1) everywhere, the law of earlier sltheory versions and of ticket files
that record no per-layer law):

* layer 1: 2·n_0·d_0 univariate units (one kept input each, slots (j, ±), as in ``_pairs.py``);
* layer 2: ρ_1 copies of each neuron of target layer 1 — a Pensia pair for the target 1⊗W₁;
* layer ℓ+1 (ℓ = 2 … L): ρ_ℓ copies of each neuron of target layer ℓ (ρ_L = 1), dense over the
  ρ_{ℓ−1}·d_{ℓ−1} copies of layer ℓ−1. Copy k of neuron m keeps, for each input neuron j, a
  subset S of j's copies with Σ_{c∈S} M[(m,k), (j,c)] ≈ W_ℓ[m, j]: since every copy of j carries
  ≈ h_j, the copy computes ≈ σ(Σ_j W_ℓ[m, j] h_j).

Width rule: every subset-sum problem is one of Pensia's (n products at layer 2 — with the
U[−2, 2) first layer the products are 2·|a′|·b, a′ ~ U[0, 1], so a weight w is met as w/2 by the
U[−1, 1] products at tolerance τ/2: half the reach needed, one more bit of resolution; the rule is
kept and its success measured in the fidelity table — ρ uniform samples later), but each target
weight now has ρ copies, so the union bound runs over ρ× more problems:
n = max(C log₂(d_in ρ d_out l / min(ε, δ)), log₂(1/min(ε, δ)) + n_reach + 2 log₂ ρ)
(``samples_per_problem``; the 2 log₂ ρ was measured: on 2-3-2 and 8-16-16-4 targets at ε = 0.05
the construction succeeded in 4/6 seeds at n = 24 and 6/6 at n = 28, where the single-copy
rule gives 21). We take one n for every layer and ρ = n copies of each hidden neuron, solving
n = rule(ρ = n) by fixed-point iteration. The random weights are
2nd_0² + n d_1·2n d_0 + Σ_ℓ n d_ℓ·n d_{ℓ−1}: quadratic in the log factor.
The certificate is :func:`sltheory.certificate.bound.certify_copies`.

**Targets with biases** (h_ℓ = σ(W_ℓ h_{ℓ−1} + b_ℓ)) and **input domains** (``domain=``: a Ball
or Box, radius R = sup‖x‖₂). The paper covers biases with bias blocks (its Figure 1, as restated);
the official code (``prune_layer_first`` / ``prune_layer``, read, not copied) adds ρ *bias units*
to the univariate layer (biases U(0, 2), no weights), takes each first-layer bias as a subset sum
over them, and carries ρ copies of a constant neuron through every later layer (each copy a subset
sum ≈ 1 over the previous constant copies) whose outputs pool the next layer's biases. Ours, on a
network fixed before pruning (``biased_layer_sizes``):

* random linear 0 gets n_0 bias units after its univariate units: every unit of that layer has a
  bias U[0, 2) (``Plan.layer_biases``); the univariate units' biases and the bias units' weights
  are pruned (a unit keeps one weight or its bias, never both);
* random linear t = 1 … ℓ*−1 (ℓ* the last target layer with a bias) gets ρ_t *constant units*
  after its copies: dense like the rest, they keep only weights from the previous constant units
  (a subset sum ≈ 1, solved once before the tolerance sweep), so their outputs κ_t are constants;
* copy (m, k) of target layer ℓ takes b_ℓ[m] as a subset sum over the previous layer's constant
  outputs: Σ_{c∈S} M[(m, k), c] κ_{ℓ−1, c} ≈ b_ℓ[m] (at ℓ = 1 the bias units' σ(β_c) = β_c); the
  random network has no other biases. A layer without bias keeps no constant weight.
* On a nonnegative domain (``Box(0, 1)``, say) σ(−x) = 0, so the first layer spares the negative
  half (n_0 d_0/(1 − 2^{−d_0}) univariate units with one positive weight each, as after a ReLU).

The certificate (:meth:`Burkholz.certify`) is the copy-space recursion with affine terms: with
R_0 = R, R_ℓ = ‖W_ℓ‖R_{ℓ−1} + ‖b_ℓ‖ ≥ sup‖h_ℓ‖ and p_ℓ = M_ℓ[copies, constants] κ_{ℓ−1} the
copies' exact constant offset, Δ_1 = e_1 R + ‖p_1 − 1⊗b_1‖ and
Δ_ℓ = ‖M_ℓ[copies, copies]‖ Δ_{ℓ−1} + e_ℓ R_{ℓ−1} + ‖p_ℓ − 1⊗b_ℓ‖, plus the float rounding of both
networks, |fl(Mh + b) − (Mh + b)| ≤ γ_{K+1}(|M||h| + |b|) per layer (:func:`affine_float_slack`), and
of the constants κ computed here (an entrywise interval). Bias-free targets on the unit ball get
exactly the construction and certificate above; on another domain R × that certificate (positive
homogeneity), or the affine recursion where the first layer is unsigned.

Width rule with biases (ours, :func:`samples_per_problem_biased`): each copy's bias is one more
subset-sum problem (d_in + 1 "inputs") and the constant units are one more output (d_out + 1),
the tolerance is taken at ε / R_eff with R_eff = R + B Σ_{ℓ<L, b_ℓ} √d_ℓ ≥ sup‖h_ℓ‖ for biases
|b_ℓ[m]| ≤ B (``bias_bound``, default 1: the rule reads shapes only, never values), and the reach
term n_reach grows to n_reach·max(1, B/2) (a bias sample's positive part has mean 1/4, twice a
weight product's 1/8). Checked symbolically in ``proofs/burkholz.py``; bias-free targets on a
domain of radius R get the bias-free rule at ε/R.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from .._backend import ops
from .._checks import bound_args, depth_arg, explicit_samples, nonnegative_int, plan_args, positive_float, rule_samples
from .._linalg import UNIT_ROUNDOFF, gamma
from ..certificate.bound import (
    METHODS,
    Certificate,
    _abs_norm_bound,
    _csr,
    certify_copies,
    matrix_norm_bound,
    pair_effective_map,
)
from ..domains import as_domain, is_default
from ..errors import ApproximationFailedError, CertificateError, InvalidArgumentError, NetworkTooLargeError
from ..network import Plan, RandomNetwork
from ..subset_sum import masks_to_bool, solve
from ..targets import Target, spectral_norm
from ._pairs import MAX_RANDOM_WEIGHTS, PairLayer, hidden_width, masked_sparse
from .base import Construction, PruneResult, check_layout, scale_certificate
from .subset_sum import C_DEFAULT, MAX_N, N_REACH, samples_per_block

#: The univariate first layer's weights are U[−s, s) with this s: the official code's U(−2, 2)
#: (RelationalML/LT-existence, Utils/pruning.py ``prune_conv``).
FIRST_LAYER_SCALE = 2.0
#: Smallest per-weight tolerance the sweep tries (float64 sums resolve ~1e-16 of their size).
TOL_MIN = 2.0 ** -40


def _select(samples, targets, counts, tol):
    # staged: this construction's tolerance sweep calls the solver ~16 times per layer, and the
    # minimum-cardinality mode made it 10-100× slower here (measured in the width sweep)
    res = solve(samples, targets, counts=counts, tol=tol, mode="staged")
    return masks_to_bool(res.masks, samples.shape[1]), res.errors


def layer_sizes(dims, ns):
    """(out, in) of the L+1 random layers for target widths ``dims`` and samples ``ns``
    (ns[0] per univariate slot; ns[ℓ] = copies of target layer ℓ's neurons, ℓ = 1 … L−1)."""
    L = len(dims) - 1
    copies = [ns[i + 1] if i + 1 < L else 1 for i in range(L)]
    H0 = 2 * ns[0] * dims[0]
    shapes = [(H0, dims[0]), (copies[0] * dims[1], H0)]
    for ell in range(1, L):
        shapes.append((copies[ell] * dims[ell + 1], copies[ell - 1] * dims[ell]))
    return shapes, copies


def samples_per_problem(d_in, d_out, depth, eps, delta, rho, C=C_DEFAULT, n_reach=N_REACH):
    """max(C log₂(d_in ρ d_out l / min(ε, δ)), log₂(1/min(ε, δ)) + n_reach + 2 log₂ ρ): Pensia's
    rule (``subset_sum.samples_per_block``) with ρ copies of every output. Floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, rho, C, n_reach)
    return samples_per_block(d_in, rho * d_out, depth, eps, delta, C, n_reach + 2 * o.log2(rho))


def copies_rule(dims, eps, delta, C=C_DEFAULT, n_reach=N_REACH) -> float:
    """The n (= ρ) solving n = max_i samples_per_problem(d_i, d_{i+1}, L, ε, δ, ρ = n) (numeric)."""
    L = len(dims) - 1
    n = 1.0
    for _ in range(50):
        new = max(samples_per_problem(dims[i], dims[i + 1], L, eps, delta, max(n, 1.0), C, n_reach)
                  for i in range(L))
        if abs(new - n) < 1e-9:
            break
        n = new
    return n


#: Law of the first layer's biases (the official code's bias units draw U(0, 2)).
BIAS_LAW = ("interval", 0.0, 2.0)
#: Value each constant unit's subset sum aims at (the official code's target 1), and the tolerance
#: it is solved at once, before the sweep (its exact value is what the certificate uses).
CONSTANT_TARGET = 1.0
CONSTANT_TOL = 2.0 ** -20


def effective_radius(dims, radius=1, bias_bound=1, flags=None):
    """R_eff = R + B Σ_{ℓ<L, b_ℓ} √d_ℓ ≥ sup‖h_ℓ‖ over the hidden layers for ‖W_ℓ‖₂ ≤ 1 and biases
    |b_ℓ[m]| ≤ B (``flags[ℓ−1]``: whether target layer ℓ has a bias; None: every layer). Floats or sympy."""
    L = len(dims) - 1
    o = ops(radius, bias_bound, *dims)
    total = 0 * o.one
    for ell in range(1, L):
        if flags is None or flags[ell - 1]:
            total = total + o.sqrt(dims[ell])
    return radius + bias_bound * total


def samples_per_problem_biased(d_in, d_out, depth, eps, delta, rho, radius_eff=1, bias_bound=1, C=C_DEFAULT,
                               n_reach=N_REACH):
    """The rule with biases (ours): :func:`samples_per_problem` with one more input (the bias
    pool) and one more output (the constant units), at ε / R_eff (:func:`effective_radius`), and
    the reach n_reach·max(1, B/2) for biases up to B. Floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, rho, radius_eff, bias_bound, C, n_reach)
    return samples_per_problem(d_in + 1, d_out + 1, depth, eps / radius_eff, delta, rho, C,
                               n_reach * o.max(1, bias_bound / 2))


def copies_rule_biased(dims, eps, delta, radius_eff, bias_bound=1.0, C=C_DEFAULT, n_reach=N_REACH) -> float:
    """The n (= ρ) solving n = max_i samples_per_problem_biased(…, ρ = n) (numeric)."""
    L = len(dims) - 1
    n = 1.0
    for _ in range(50):
        new = max(samples_per_problem_biased(dims[i], dims[i + 1], L, eps, delta, max(n, 1.0), radius_eff,
                                             bias_bound, C, n_reach) for i in range(L))
        if abs(new - n) < 1e-9:
            break
        n = new
    return n


def biased_layer_sizes(dims, ns, constants, signed_first=True):
    """(out, in) of the L+1 random layers with bias units and constant units, and the copies.
    ``constants[t]`` (t = 0 … L): the constant rows appended to random linear t's outputs (t = 0:
    the bias units; the last is 0). The univariate part of random linear 0 has 2 n_0 d_0 units,
    or ⌈n_0 d_0/(1 − 2^{−d_0})⌉ when ``signed_first`` is False (a nonnegative domain). With no
    constants and a signed first layer: exactly :func:`layer_sizes`."""
    L = len(dims) - 1
    copies = [ns[i + 1] if i + 1 < L else 1 for i in range(L)]
    H0 = first_width(dims[0], ns[0], signed_first)
    outs = [H0 + constants[0]] + [copies[t - 1] * dims[t] + constants[t] for t in range(1, L + 1)]
    shapes = [(outs[0], dims[0])] + [(outs[t], outs[t - 1]) for t in range(1, L + 1)]
    return shapes, copies


def first_width(d0, n0, signed_first=True):
    """Univariate units of random linear 0: 2 n_0 d_0 (signed inputs), ⌈n_0 d_0/(1 − 2^{−d_0})⌉ else."""
    return 2 * n0 * d0 if signed_first else math.ceil(hidden_width(d0, n0, False))


def constant_counts(flags, ns) -> tuple[int, ...]:
    """Constant rows per random linear output (t = 0 … L): n_0 bias units and ρ_t constant units
    for t < ℓ* (ℓ* the last target layer with a bias, 1-based), 0 elsewhere; all 0 without biases."""
    L = len(flags)
    last = max((i + 1 for i, f in enumerate(flags) if f), default=0)
    copies = [ns[i + 1] if i + 1 < L else 1 for i in range(L)]
    return tuple((ns[0] if t == 0 else copies[t - 1]) if t < last else 0 for t in range(L + 1))


def affine_float_slack(matrices, biases, radius: float) -> float:
    """Bound on sup ‖fl-net(x) − net(x)‖₂ over ‖x‖₂ ≤ ``radius`` for the ReLU chain h_t =
    σ(M_t h_{t−1} + b_t) (no σ after the last) evaluated in float64: per layer
    |fl(Mh + b) − (Mh + b)| ≤ γ_{K+1}(|M||h| + |b|) (Higham; the bias as one more term, K the most
    nonzeros in a row), so with ν_t ≥ ‖|M_t|‖₂, s_t = ν_t s_{t−1} + ‖b_t‖ ≥ ‖h_t‖ (s_0 = R):
    E_t = (1 + γ) ν_t E_{t−1} + γ (ν_t s_{t−1} + ‖b_t‖), E_0 = 0 (σ is 1-Lipschitz and exact)."""
    E, s = 0.0, float(radius)
    for M, b in zip(matrices, biases):
        bv = None if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if bv is not None and not np.any(bv):
            bv = None
        K = 0
        if M.shape[0] and M.shape[1]:
            K = int(M.getnnz(axis=1).max()) if sp.issparse(M) else int(np.count_nonzero(np.asarray(M), axis=1).max())
        g = gamma(K + (1 if bv is not None else 0))
        nu = _abs_norm_bound(M)
        bn = 0.0 if bv is None else float(np.linalg.norm(bv)) * (1 + 1e-12)
        E = (1 + g) * nu * E + g * (nu * s + bn)
        s = nu * s + bn
    return E * (1 + 1e-6) + 1e-300


def _rescale_slack_affine(target: Target, radii, inner: float) -> float:
    """With an output scale S ≠ 1 and biases: the stored W̃_i = fl(W_i/s_i) (within u|W̃_i|) and
    b̃_i = fl(b_i/Π_{k≤i} s_k) (within γ_{i+1}|b̃_i|) against the exact rescaled target, propagated
    with the norms rounded up, plus the ticket's fl(S·y) and S = fl(Π s_i): γ_{l+1}(R_l + inner)."""
    if target.output_scale == 1.0:
        return 0.0
    D = 0.0
    for i, (W, nrm) in enumerate(zip(target.weights, target.norms)):
        nu = _abs_norm_bound(np.asarray(W))
        b = target.bias(i)
        bn = 0.0 if b is None else float(np.linalg.norm(b))
        D = (nrm + 2 * UNIT_ROUNDOFF * nu) * D + 2 * UNIT_ROUNDOFF * nu * radii[i] + gamma(i + 2) * bn
    return (D + gamma(target.depth + 1) * (radii[-1] + D + inner)) * (1 + 1e-6)


class _BiasLayer:
    """Subset-sum problems over a pool of constant outputs: row r aims at ``targets[r]`` with the
    samples M[rows[r], pool] · κ (κ ≥ 0 the pool's exact constant outputs)."""

    def __init__(self, samples: np.ndarray, targets: np.ndarray):
        self.samples, self.targets = samples, targets
        self.n = samples.shape[1]
        self.counts = np.full(targets.size, self.n, dtype=np.int64)
        self.chosen = np.zeros(samples.shape, dtype=bool)
        self.errors = np.abs(targets).astype(np.float64)

    def solve(self, tol: float, only_above: float | None = None):
        idx = np.arange(self.targets.size) if only_above is None else np.flatnonzero(self.errors > only_above)
        if idx.size and self.n:
            self.chosen[idx], self.errors[idx] = _select(self.samples[idx], self.targets[idx], self.counts[idx], tol)


class _CopyLayer:
    """Target layer ℓ ≥ 2: problems (row (m, k), input neuron j) over the copies of j."""

    def __init__(self, M: np.ndarray, W: np.ndarray, rho_in: int, rho_out: int):
        d_out, d_in = W.shape
        self.M, self.W, self.rho_in, self.rho_out = M, W, rho_in, rho_out
        self.n = rho_in
        # samples[(m,k), j, c] = M[(m,k), (j,c)]
        self.samples = M.reshape(d_out * rho_out, d_in, rho_in).reshape(-1, rho_in)
        self.targets = np.repeat(W, rho_out, axis=0).reshape(-1)
        self.counts = np.full(self.targets.size, rho_in, dtype=np.int64)
        self.chosen = np.zeros(self.samples.shape, dtype=bool)
        self.errors = np.abs(self.targets)
        self.d_in_eff = d_in
        self.W_eff = np.repeat(W, rho_out, axis=0)

    def solve(self, tol: float, only_above: float | None = None):
        idx = np.arange(self.targets.size) if only_above is None else np.flatnonzero(self.errors > only_above)
        if idx.size:
            self.chosen[idx], self.errors[idx] = _select(self.samples[idx], self.targets[idx],
                                                         self.counts[idx], tol)

    def mask(self) -> np.ndarray:
        """A fresh array: later solving rewrites ``chosen`` in place, and a ticket (or the best one
        kept during the tolerance sweep) must keep the mask its certificate was computed from."""
        return self.chosen.reshape(self.M.shape).copy()


class Burkholz(Construction):
    name = "burkholz"
    citation = ("ours, after Burkholz. Most activation functions can win the lottery without excessive depth. "
                "NeurIPS 2022, arXiv:2205.02321: depth L+1 with the structure of the official code "
                "RelationalML/LT-existence (its U(-2, 2) first layer), a fixed random network, greedy "
                "first-layer slots and our width rule; targets with biases through the official code's bias "
                "units (U(0, 2)) and constant-unit copies, made fixed (bias units and constant units in the "
                "sampled network, constants solved once) with our rule and our affine copy certificate")
    whose = "ours"
    supports_biases = True
    domain_aware = True
    soundness_n = (2, 9)
    soundness_n_eps = (4, 10)
    #: its tolerance sweep is slow at small ε
    soundness_eps = (0.05, 0.6)
    soundness_small = True
    soundness_rule = True

    def _ns(self, dims, eps, delta, C, n_reach):
        return [copies_rule(dims, eps, delta, C, n_reach)] * (len(dims) - 1)

    def width_bound(self, i, dims, eps, delta, C=C_DEFAULT, n_reach=N_REACH):
        """Width of random layer i+1 (i = 0: the univariate layer; i ≥ 1: ρ_i d_i copies)."""
        bound_args(dims, eps, delta, i)
        ns = self._ns(dims, eps, delta, C, n_reach)
        return 2 * ns[0] * dims[0] if i == 0 else ns[i] * dims[i]

    def depth_bound(self, depth):
        return depth_arg(depth) + 1

    def parameter_bound(self, dims, eps, delta, C=C_DEFAULT, n_reach=N_REACH):
        bound_args(dims, eps, delta)
        ns = self._ns(dims, eps, delta, C, n_reach)
        L = len(dims) - 1
        ns_copies = [ns[i + 1] if i + 1 < L else 1 for i in range(L)]
        total = 2 * ns[0] * dims[0] * dims[0] + ns_copies[0] * dims[1] * 2 * ns[0] * dims[0]
        for ell in range(1, L):
            total += ns_copies[ell] * dims[ell + 1] * ns_copies[ell - 1] * dims[ell]
        return total

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=C_DEFAULT, n_reach=N_REACH,
             max_weights=MAX_RANDOM_WEIGHTS, first_layer_scale=FIRST_LAYER_SCALE, biases=None, domain=None,
             bias_bound=None, **options) -> Plan:
        """``first_layer_scale`` s: the univariate layer's weights are U[−s, s) (default 2, the
        official code's U(−2, 2)); every later layer U[−1, 1). ``biases`` (per target layer,
        whether it has a bias) and ``domain`` (a Ball or Box; None: the unit ball) come from
        :func:`sltheory.random_network`; ``bias_bound`` B (default 1, with biases only): the width
        rule covers biases |b_ℓ[m]| ≤ B (module docstring)."""
        if options:
            raise InvalidArgumentError(f"unknown options for burkholz: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        C = positive_float("C", C)
        first_layer_scale = positive_float("first_layer_scale", first_layer_scale, upper=1e6)
        n_reach = nonnegative_int("n_reach", n_reach, maximum=MAX_N)   # beyond it, n > MAX_N anyway
        max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
        dims = (shapes[0][1],) + tuple(o for o, _ in shapes)
        L = len(shapes)
        flags = tuple(bool(f) for f in biases) if biases is not None else (False,) * L
        if len(flags) != L or (biases is not None and not all(isinstance(f, (bool, np.bool_)) for f in biases)):
            raise InvalidArgumentError(f"biases must be one bool per target layer ({L}), got {biases!r}")
        dom = as_domain(domain)
        dom.check_dim(dims[0])
        radius = dom.radius_for(dims[0])
        has_bias = any(flags)
        if bias_bound is not None and not has_bias:
            raise InvalidArgumentError("bias_bound belongs to targets with biases")
        B = positive_float("bias_bound", 1.0 if bias_bound is None else bias_bound, upper=MAX_N)
        signed_first = not dom.nonnegative
        if n is None:
            if eps is None:
                raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
            factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
            if has_bias:
                r_eff = effective_radius(dims, radius, B, flags)
                raw = [copies_rule_biased(dims, eps, delta, r_eff, B, C, n_reach)] * L
            else:   # positive homogeneity: the bias-free rule at ε / R (R = 1: the rule as before)
                raw = self._ns(dims, eps if radius == 1.0 else eps / radius, delta, C, n_reach)
            ns = [rule_samples(v, factor) for v in raw]
        else:
            ns = explicit_samples(n, width_factor, L, f"of depth {L}")
        if max(ns) > MAX_N:
            raise InvalidArgumentError(f"n = {max(ns)} exceeds the supported {MAX_N} samples per problem")
        constants = constant_counts(flags, ns)
        layer_shapes, copies = biased_layer_sizes(dims, ns, constants, signed_first)
        total = sum(o * i for o, i in layer_shapes)
        if total > max_weights:
            raise NetworkTooLargeError(
                f"the burkholz rule asks for {total:,} random weights (n = {tuple(ns)}), more than "
                f"max_weights = {max_weights:,}: raise eps/delta, use a smaller target or n=, or raise "
                "max_weights", required_weights=total, limit=max_weights)
        pairs = ((0, 1),) + tuple((k + 1,) for k in range(1, L))
        laws: tuple = ()
        if first_layer_scale != 1.0:
            laws = (("uniform", first_layer_scale),) + (("uniform",),) * (len(layer_shapes) - 1)
        opts = {"copies": tuple(copies), "n_reach": n_reach, "width_factor": width_factor,
                "first_layer_scale": first_layer_scale}
        extra: dict = {}
        if has_bias or not is_default(dom):
            opts.update(constants=constants, first_width=first_width(dims[0], ns[0], signed_first),
                        domain_radius=radius)
            if has_bias:
                opts["bias_bound"] = B
                extra["biases"] = flags
                extra["layer_biases"] = (BIAS_LAW,) + (None,) * L
            if not is_default(dom):
                extra["domain"] = dom.spec()
        return Plan(self.name, tuple(tuple(s) for s in shapes), tuple(layer_shapes), pairs, tuple(ns),
                    (signed_first,) + (False,) * (L - 1), eps, delta, C, opts, layer_distributions=laws, **extra)

    def _layout(self, target: Target, plan: Plan):
        """(layer shapes, copies, constants, first width, signed first) of ``plan`` for ``target``,
        CertificateError unless the plan is this construction's layout for it."""
        if len(plan.n) != target.depth:
            raise CertificateError(f"the plan has {len(plan.n)} sample counts for a target of depth {target.depth}")
        dims = target.dims
        L = target.depth
        flags = tuple(plan.target_bias_flags)
        if flags != tuple(target.bias_flags):
            raise CertificateError(f"the plan is for a target with biases {flags}, the target has {target.bias_flags}")
        dom = plan.input_domain()
        signed_first = not dom.nonnegative
        constants = constant_counts(flags, list(plan.n))
        shapes, copies = biased_layer_sizes(dims, list(plan.n), constants, signed_first)
        opts = plan.options if isinstance(plan.options, dict) else {}
        stored = opts.get("copies")
        if not isinstance(stored, tuple) or tuple(stored) != tuple(copies) or \
                tuple(map(tuple, plan.pairs)) != ((0, 1),) + tuple((k + 1,) for k in range(1, L)) or \
                tuple(plan.signed) != (signed_first,) + (False,) * (L - 1):
            raise CertificateError(f"the plan's copies {opts.get('copies')} / pairs {plan.pairs} / signed "
                                   f"{plan.signed} are not the burkholz layout {tuple(copies)} for n = {plan.n}")
        if any(flags) or plan.domain is not None:
            if tuple(opts.get("constants", ())) != constants or \
                    opts.get("first_width") != first_width(dims[0], plan.n[0], signed_first):
                raise CertificateError(f"the plan's constants {opts.get('constants')} / first width "
                                       f"{opts.get('first_width')} are not the burkholz layout {constants}")
        law = (BIAS_LAW,) + (None,) * L if any(flags) else None
        if law is not None and tuple(plan.layer_biases) != law:
            raise CertificateError(f"the plan's bias laws {plan.layer_biases} are not the burkholz layout {law}")
        if law is None and any(b is not None for b in plan.layer_biases):
            raise CertificateError("the plan samples biases for a bias-free target")
        return shapes, copies, constants, first_width(dims[0], plan.n[0], signed_first), signed_first

    def certify(self, target: Target, plan: Plan, matrices, *, method: str = "auto", biases=None) -> Certificate:
        """The certified bound on sup over the plan's domain of ‖target(x) − ticket(x)‖₂ from the masked
        random weights ``matrices`` and masked biases ``biases[t]`` (None: no bias) only. Bias-free on
        the unit ball: :func:`sltheory.certificate.bound.certify_copies` (the univariate layer and the
        first copy layer as a pair, then one copy layer per target layer); bias-free on a domain of
        radius R with a signed first layer: R times it; otherwise the affine copy recursion
        (:meth:`_certify_affine`, module docstring). ``method`` has no other choice here than the
        layer-wise recursion."""
        if method not in METHODS:
            raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
        shapes, copies, constants, H0, signed_first = self._layout(target, plan)
        check_layout(self.name, target, plan, matrices, shapes)
        if biases is not None and len(biases) != len(shapes):
            raise CertificateError(f"{len(biases)} biases for {len(shapes)} random layers")
        kept_bias = biases is not None and any(b is not None and np.any(np.asarray(b)) for b in biases)
        dom = plan.input_domain()
        if not target.has_biases and not kept_bias and signed_first:
            cert = self._certify_bias_free(target, matrices, copies)
            if plan.domain is None:
                return cert
            return dataclasses.replace(scale_certificate(cert, dom.radius_for(target.dims[0])), domain=dom.spec())
        return self._certify_affine(target, plan, matrices, biases, copies, constants, H0, signed_first)

    def _certify_bias_free(self, target: Target, matrices, copies) -> Certificate:
        mats = [_csr(M) for M in matrices]
        maps = []
        for k in range(1, target.depth):
            sM = mats[k + 1]
            # P = M (1_ρ ⊗ I): sum each row's kept weights over the copies of every input
            d_in = target.weights[k].shape[1]
            rho_in = copies[k - 1]     # (check_layout: layer k + 1 has d_in · ρ_in inputs)
            P = np.asarray(sM.toarray().reshape(sM.shape[0], d_in, rho_in).sum(axis=2))
            maps.append((P, sM))
        return certify_copies(target, pair_effective_map(mats[0], mats[1], True), maps, copies, mats)

    def _certify_affine(self, target: Target, plan: Plan, matrices, biases, copies, constants, H0,
                        signed_first) -> Certificate:
        """The copy-space recursion with affine terms over the plan's domain (module docstring):
        Δ_1 = e_1 R + eb_1, Δ_ℓ = g_ℓ Δ_{ℓ−1} + e_ℓ R_{ℓ−1} + eb_ℓ, R_ℓ = ‖W_ℓ‖ R_{ℓ−1} + ‖b_ℓ‖, where
        eb_ℓ ≥ ‖p_ℓ − 1⊗b_ℓ‖ with p_ℓ the copies' exact constant offset. The constants κ are
        computed here in float64 with an entrywise bound η on their distance to the exact ones."""
        L = target.depth
        dims = target.dims
        dom = plan.input_domain()
        R0 = dom.radius_for(dims[0])
        mats = [_csr(M) for M in matrices]
        for M in mats:
            M.eliminate_zeros()
        bvec = []
        for t, M in enumerate(mats):
            b = None if biases is None else biases[t]
            if b is not None:
                b = np.asarray(b, dtype=np.float64).reshape(-1)
                if b.shape != (M.shape[0],) or not np.all(np.isfinite(b)):
                    raise CertificateError(f"bias {t} is not a finite vector of length {M.shape[0]}")
                if not np.any(b):
                    b = None
            if b is not None and t > 0:
                raise CertificateError(f"random linear {t} keeps a bias; burkholz keeps biases on the first layer only")
            bvec.append(b)
        A = mats[0]
        c = np.zeros(A.shape[0]) if bvec[0] is None else bvec[0]
        per_row = A.getnnz(axis=1)
        if per_row.size and per_row.max() > 1:
            raise CertificateError(f"first-layer unit {int(np.argmax(per_row))} keeps {per_row.max()} input weights")
        if np.any(per_row[H0:] > 0):
            raise CertificateError("a bias unit of the first layer keeps an input weight")
        if np.any(c[:H0] != 0):
            raise CertificateError("a univariate unit of the first layer keeps a bias (σ(a x_j + c) is not covered)")
        # the constants: κ_0 = σ(c) on the bias units (exact), then κ_t = σ(M_t[const, const] κ_{t−1})
        kappa = np.maximum(c[H0:], 0.0)
        eta = np.zeros_like(kappa)
        starts = [H0] + [copies[t - 1] * dims[t] for t in range(1, L + 1)]   # first constant row per output
        R = R0
        e_list, g_list, deltas, eb_list = [], [], [], []
        delta = 0.0
        for ell in range(1, L + 1):
            M = mats[ell]
            rows_c, cols_c = starts[ell], starts[ell - 1]       # copy rows / copy (or univariate) columns
            n_rows, n_cols = M.shape
            Mcc, Mcb = M[:rows_c, :cols_c], M[:rows_c, cols_c:]
            if rows_c < n_rows and M[rows_c:, :cols_c].nnz:
                raise CertificateError(f"a constant unit of random linear {ell} keeps a weight from a "
                                       "non-constant unit")
            if Mcb.shape[1] != kappa.size:   # (never: check_layout fixed the shapes)
                raise CertificateError("constant pool size mismatch")
            # offsets p = Mcb κ (float) and their distance to the exact ones
            p_hat = np.asarray(Mcb @ kappa).reshape(-1)
            absb = abs(Mcb)
            Kb = int(Mcb.getnnz(axis=1).max()) if Mcb.shape[0] and Mcb.shape[1] else 0
            p_err = (gamma(Kb) * np.asarray(absb @ kappa).reshape(-1) + np.asarray(absb @ eta).reshape(-1)) * (1 + 1e-6)
            b_t = target.bias(ell - 1)
            bbar = np.zeros(rows_c) if b_t is None else np.repeat(b_t, copies[ell - 1])
            eb = (float(np.linalg.norm(p_hat - bbar)) + float(np.linalg.norm(p_err))) * (1 + 1e-12)
            Wbar = np.repeat(target.weights[ell - 1], copies[ell - 1], axis=0)
            if ell == 1:
                m = pair_effective_map(A[:H0], Mcc, signed_first)
                if m.P.shape != Wbar.shape:
                    raise CertificateError(f"first map has shape {m.P.shape}, expected {Wbar.shape}")
                E = m.P - Wbar if m.N is None else np.hstack([m.P - Wbar, m.N + Wbar])
                e = spectral_norm(E)
                Kf = int(Mcc.getnnz(axis=1).max()) if Mcc.shape[0] and Mcc.shape[1] else 0
                # P, N = B A^± computed in float: each entry within γ_K (|B||A|) of the exact one
                e += (2 if signed_first else 1) * gamma(Kf) * _abs_norm_bound(abs(Mcc) @ abs(A[:H0])) * (1 + 1e-6)
                g = spectral_norm(m.P if m.N is None else np.hstack([m.P, m.N]))
                delta = e * R + eb
            else:
                d_in = dims[ell - 1]
                rho = copies[ell - 2]
                dense = Mcc.toarray()
                P = dense.reshape(rows_c, d_in, rho).sum(axis=2)
                Pabs = np.abs(dense).reshape(rows_c, d_in, rho).sum(axis=2)
                e = spectral_norm(P - Wbar) + gamma(rho) * _abs_norm_bound(Pabs) * (1 + 1e-6)
                g = matrix_norm_bound(Mcc)
                delta = g * delta + e * R + eb
            bn = 0.0 if b_t is None else float(np.linalg.norm(b_t)) * (1 + 1e-12)
            R = target.norms[ell - 1] * R + bn
            e_list.append(e)
            g_list.append(g)
            eb_list.append(eb)
            deltas.append(delta)
            # the next constants
            if constants[ell]:
                Mbb = M[rows_c:, cols_c:]
                Kc = int(Mbb.getnnz(axis=1).max()) if Mbb.shape[1] else 0
                absc = abs(Mbb)
                new_eta = (np.asarray(absc @ eta).reshape(-1)
                           + gamma(Kc) * np.asarray(absc @ kappa).reshape(-1)) * (1 + 1e-6)
                kappa = np.maximum(np.asarray(Mbb @ kappa).reshape(-1), 0.0)
                eta = new_eta
            else:
                kappa = np.zeros(0)
                eta = np.zeros(0)
        radii = [R0]
        for i in range(L):
            b = target.bias(i)
            radii.append(target.norms[i] * radii[-1] + (0.0 if b is None else float(np.linalg.norm(b)) * (1 + 1e-12)))
        slack = affine_float_slack([np.asarray(W) for W in target.weights],
                                   [target.bias(i) for i in range(L)], R0)
        slack += affine_float_slack(mats, bvec, R0)
        slack += _rescale_slack_affine(target, radii, deltas[-1] + slack)
        scale = target.output_scale
        bound = (deltas[-1] + slack) * scale
        if not math.isfinite(bound):
            raise CertificateError(f"the certified bound is not finite ({bound}): the ticket's weights or the "
                                   "domain are too large")
        return Certificate(error_bound=bound, layer_errors=tuple(e_list), map_norms=tuple(g_list),
                           propagated=tuple(deltas), float_slack=slack * scale, method="layerwise",
                           layerwise_bound=bound, domain=plan.domain)

    def prune(self, target: Target, rand: RandomNetwork, *, eps, tolerance=None, **options) -> PruneResult:
        """``tolerance``: prune at this per-weight tolerance only (no sweep)."""
        if options:
            raise InvalidArgumentError(f"unknown options for burkholz: {sorted(options)}")
        if tolerance is not None:
            tolerance = positive_float("tolerance", tolerance)
        plan = rand.plan
        shapes, copies, constants, H0, signed_first = self._layout(target, plan)
        L = target.depth
        dims = target.dims
        linears = rand.linears()
        lins = [lin.weight.detach().cpu().numpy() for lin in linears]
        starts = [H0] + [copies[t - 1] * dims[t] for t in range(1, L + 1)]
        first = PairLayer(lins[0][:H0], lins[1][:starts[1], :H0], np.repeat(target.weights[0], copies[0], axis=0),
                          signed_first, plan.n[0], _select)
        later = [_CopyLayer(lins[k + 1][:starts[k + 1], :starts[k]], target.weights[k], copies[k - 1], copies[k])
                 for k in range(1, L)]
        biased = any(constants)
        # bias pools: the constants' values κ_t (t = 0: the bias units' σ(β)), the constant units'
        # subset sums (≈ 1, solved once), and every copy's bias problem over the previous pool
        const_chosen: list[np.ndarray | None] = [None] * (L + 1)
        bias_layers: list[_BiasLayer | None] = [None] * (L + 1)
        if biased:
            beta = linears[0].bias.detach().cpu().numpy()
            kappa = np.maximum(beta[H0:], 0.0)
            for t in range(1, L + 1):
                if kappa.size == 0:
                    break
                M = lins[t]
                b_t = target.bias(t - 1)
                if b_t is not None:
                    bias_layers[t] = _BiasLayer(M[:starts[t], starts[t - 1]:] * kappa[None, :],
                                                np.repeat(b_t, copies[t - 1]))
                if constants[t]:
                    samples = M[starts[t]:, starts[t - 1]:] * kappa[None, :]
                    chosen, _ = _select(samples, np.full(constants[t], CONSTANT_TARGET),
                                        np.full(constants[t], kappa.size, dtype=np.int64), CONSTANT_TOL)
                    const_chosen[t] = chosen
                    kappa = np.maximum((samples * chosen).sum(axis=1), 0.0)
                else:
                    kappa = np.zeros(0)

        def full_masks():
            mA, mB = first.pair_masks()
            parts = [mA, mB] + [layer.mask() for layer in later]
            if not biased and signed_first:
                return parts, None
            masks = [np.zeros(lin.shape, dtype=bool) for lin in lins]
            masks[0][:H0] = parts[0]
            for t in range(1, L + 1):
                masks[t][:starts[t], :starts[t - 1]] = parts[t]
                bl = bias_layers[t]
                if bl is not None:
                    masks[t][:starts[t], starts[t - 1]:] = bl.chosen
                if const_chosen[t] is not None:
                    masks[t][starts[t]:, starts[t - 1]:] = const_chosen[t]
            if not biased:
                return masks, None
            bias_masks: list[np.ndarray | None] = [None] * (L + 1)
            bm = np.zeros(shapes[0][0], dtype=bool)
            bm[H0:] = masks[1][:, H0:].any(axis=0)
            bias_masks[0] = bm
            return masks, bias_masks

        def finish():
            """Fresh masks and the certificate computed from exactly them (:meth:`certify`)."""
            masks, bias_masks = full_masks()
            mats = [masked_sparse(W, m) for W, m in zip(lins, masks)]
            biases = None
            if bias_masks is not None:
                biases = [None if bm is None else np.where(bm, lin.bias.detach().cpu().numpy(), 0.0)
                          for lin, bm in zip(linears, bias_masks)]
            return masks, bias_masks, self.certify(target, plan, mats, biases=biases)

        layers = [first] + later
        solving = layers + [b for b in bias_layers if b is not None]

        def stats(masks, tol):
            out = {"copies": tuple(copies), "tolerance": tol,
                   "layers": [{"n": lay.n, "mean_subset_size": float(lay.chosen.sum(axis=1).mean()),
                               "max_weight_error": float(lay.errors.max())} for lay in layers]}
            if biased:
                out["bias_units"] = constants[0]
                out["constants"] = tuple(constants)
                out["max_bias_error"] = max((float(b.errors.max()) for b in bias_layers
                                             if b is not None and b.errors.size), default=0.0)
            return out

        # Copy errors are amplified by the kept random weights (‖M_ℓ‖ in the certificate), and
        # smaller tolerances mean larger subsets: sweep the tolerance down geometrically and keep
        # the first ticket that certifies ≤ eps (the loosest, hence sparsest), or the best one.
        best: tuple[list[np.ndarray], list | None, Certificate, float, dict] | None = None
        tol = 2.0 ** -3 if tolerance is None else tolerance
        while tol >= (TOL_MIN if tolerance is None else tolerance):
            for layer in solving:
                layer.solve(tol, only_above=tol)
            masks, bias_masks, cert = finish()
            if eps is not None and cert.error_bound <= eps:
                return PruneResult(masks, cert, stats(masks, tol), bias_masks=bias_masks)
            if best is None or cert.error_bound < best[2].error_bound:
                # the stats too are read now: later solving changes the layers' state
                best = (masks, bias_masks, cert, tol, stats(masks, tol))
            if eps is None and cert.error_bound > 4 * best[2].error_bound:
                break  # past the sweet spot: amplification dominates from here on
            tol /= 2
        if best is None:   # never: tol starts at or above its (finite, > 0) lower limit, so the sweep ran
            raise RuntimeError("the tolerance sweep tried no tolerance")
        masks, bias_masks, cert, tol, best_stats = best
        if eps is None or cert.error_bound <= eps:
            return PruneResult(masks, cert, best_stats, bias_masks=bias_masks)
        needed = tuple(n + math.ceil(math.log2(cert.error_bound / eps)) + 1 for n in plan.n)
        missed = sum(int(np.count_nonzero(layer.errors > tol)) for layer in solving)
        raise ApproximationFailedError(
            f"certified error {cert.error_bound:.4g} > eps = {eps:.4g} at every tolerance from 1/8 to "
            f"{TOL_MIN:.0e} (best at tolerance {tol:.3g}, where {missed} weight problems missed it) with "
            f"n = {plan.n}; n ≈ {needed} would be needed: sample a wider random network.",
            missed=max(1, missed), total=sum(layer.targets.size for layer in solving), error_bound=cert.error_bound,
            eps=eps, n=tuple(plan.n), n_needed=needed)


CONSTRUCTION = Burkholz()
