"""Pensia, Rajput, Nagle, Vishwakarma, Papailiopoulos (NeurIPS 2020, arXiv:2006.07990):
"Optimal lottery tickets via SubsetSum: logarithmic over-parameterization is sufficient".

Theorem 1 there: a random network of depth 2l whose layers M_{2i−1} (width × d_{i−1}) and M_{2i}
(d_i × width) have width C·d_{i−1}·log(d_{i−1} d_i l / min(ε, δ)) and i.i.d. U[−1, 1] entries
contains, with probability ≥ 1 − δ, for every target f (‖W_i‖₂ ≤ 1) a subnetwork with
sup_{‖x‖≤1} ‖f(x) − g(x)‖ < ε. C is a universal constant the paper does not make explicit.

The construction, per target layer W (d_out × d_in), pair (A = M_{2i−1}, B = M_{2i}):

1. *Blocks.* Each hidden unit k keeps a single first-layer weight a_k = A[k, j(k)] (block-
   diagonal first sub-layer). A unit with a_k > 0 outputs a_k σ(x_j), one with a_k < 0 outputs
   |a_k| σ(−x_j). The paper fixes the blocks in advance (:mod:`.pensia`); here — ours — a unit is assigned to a *slot*
   (j, sign) by looking only at the signs of its row of A, greedily to the least-filled slot it
   can serve (capacity n), so slots hold n samples each and no unit is wasted on a dead sign.
2. *Halves.* Where inputs can be negative (the first layer) both slots (j, +) and (j, −) exist,
   since x = σ(x) − σ(−x). After a ReLU inputs are ≥ 0, σ(−x_j) = 0: only (j, +) slots exist
   and the layer needs n·d_in/(1 − 2^{−d_in}) hidden units instead of 2n·d_in (a unit is useless
   only if its whole row is negative) — the *negative-half saving*.
3. *Subset sum.* For each output o and slot (j, s): choose S ⊆ slot with
   Σ_{k∈S} |a_k| B[o, k] ≈ s·W[o, j]; keep B[o, k] for k ∈ S. The random subset-sum lemma of
   Lueker 1998 is stated for U[−1, 1] samples and extends to any law containing a uniform law as a
   mixture component: the law of the product of two U[−1, 1] (mixed with δ₀) contains
   **U[−½, ½]** with weight ln 2/4 (Pensia et al.'s Corollary 1 as restated by Natale et al.
   2024, arXiv:2410.14754; the primary text was not read) — not U[−1, 1], since the product
   density ½ ln(1/|x|) vanishes at ±1. Weights near ±1 are what the reach floor covers.
4. *Tolerances.* Layer budget e = (1+ε)^{1/l} − 1 in spectral norm (then the certificate's
   recursion gives ≤ ε when ‖W_i‖ ≤ 1). A per-weight error ≤ e/√(d_in' d_out) (d_in' = 2 d_in
   on the signed layer) guarantees ‖E‖₂ ≤ ‖E‖_F ≤ e; the solver starts from the looser random-
   matrix tolerance e/(√d_in' + √d_out) times 4, certifies, and shrinks it (by the predicted
   factor 0.95 ε / bound, at most 0.8) until the certificate holds: a loose tolerance that
   certifies, hence sparse subsets.
5. *Sparsest subsets.* Among the subsets within the tolerance the solver returns one of minimum
   cardinality (``sltheory.subset_sum.solve``, mode "sparsest"; Natale et al., NeurIPS 2024,
   fixed-size subset sum). Any subset within the tolerance serves the proof, so this changes
   the ticket's size, not the theorem. ``approximate(..., min_cardinality=False)`` keeps the
   faster staged choice (fewest elements among those its prefix sweep visits).

**Per-weight mode** — a variant, not Theorem 1 (its own claim and its own width rule, ours).
Pensia et al.'s experiment approximated a raw trained MNIST network weight by weight, each weight
to within ε = 0.01, with no norm assumption — by subset sums of coefficients drawn over the
target's range, one set per row, with no random network built and no products
(:mod:`sltheory.subset_sum.coefficients` reproduces it). ``approximate(target, rand, weight_tol=τ)``
does it on a real random network: every problem at tolerance τ, so every entry of the effective
maps satisfies |P − W| ≤ τ and (first layer) |N + W| ≤ τ, checked from the masked weights; the
claim is this per-weight bound, and the network-level error is whatever the certificate
(sltheory.certificate, actual norms ‖W_i‖₂, which may exceed 1) then gives — reported, not
promised. Width rule (:func:`per_weight_samples`):
each of the N problems (N = Σ_i d_in'·d_out) must succeed with probability ≥ 1 − δ/N, for every
target |w| ≤ B (``weight_bound``, an explicit argument since the random network may not read
the weights). Two terms, each budgeted δ/(2N):

* *reach*: a subset sum can reach w = B only if the same-sign samples sum past it. With
  X⁺ = max(|a| b, 0) (a, b ~ U[−1, 1]), M(λ) = E e^{−λX⁺} = ½ + ½ Ein(λ)/λ
  (Ein(λ) = ∫₀^λ (1 − e^{−u})/u du), the Chernoff bound P(Σ_{k≤n} X⁺_k ≤ B) ≤ e^{λB} M(λ)^n,
  minimized over λ > 0, gives the smallest n_R with failure ≤ δ/(2N) (:func:`reach_tail_bound`);
* *resolution*: n ≥ log₂(2N/δ) + log₂(1/τ), the form of Lueker's lemma with constant 1.

n = ⌈max(n_R, log₂(2N/(δτ)))⌉. The reach term is a rigorous bound on a necessary event only;
the sum is a rule, not a theorem — measured here (1,000s of problems per point) the miss rate at
w = ±B tracks the reach failure within a factor 2, below the Chernoff value; benchmarks/
sparse_tickets.py prints success at and below the rule's n. The rule is large for
trained-network worst cases (B = 1: n ≈ 55 at N/δ ≈ 10⁶), because it covers *every* weight
being ±B; real weights are mostly small, and the benchmark reports what smaller n achieve.

**Weight scale** (``weight_scale=s``, ours; with the per-weight rule or ``n=``): the random
network's law is U[−s, s) instead of U[−1, 1) (``Plan.distribution`` ("uniform", s)), so every
sample |a_k|·B[o, k] is s² times a product of two U[−1, 1]. A problem (w, τ) on the scaled
samples is the problem (w/s², τ/s²) on unscaled ones, so the per-weight rule becomes
n = ⌈max(n_R(B/s²), log₂(2N s²/(δτ)))⌉ (:func:`per_weight_samples`) and ``weight_bound`` may go up
to 64·s². A trained network's weights exceed 1 (Pensia et al.'s coefficients were drawn over the
target's own range, [min(0, min w), max(0, max w)]); s > 1 moves the products' range towards them,
so fewer samples per slot reach the largest weights. s is an explicit argument: the random network
still reads only the target's shapes (choosing s from the weights is the caller's act, as choosing
``weight_bound`` is). Theorem 1's network-level rule (eps, n not given) is stated for U[−1, 1] and
refuses a weight scale ≠ 1; s = 1 is the default law exactly.

**Biases and domains** (Fischer, Gadhikar & Burkholz 2021, arXiv:2110.11150, read through its
official code RelationalML/NonZeroBiases, Construction/prune_2layers.py; the rule's changes ours).
A target ``h_i = σ(W_i h_{i−1} + b_i)``; the class assumes ‖W_i‖₂ ≤ 1 and ‖b_i‖₂ ≤ 1.

* *Bias units.* A pair whose target layer has a bias gets n more hidden units after the others
  (``options["bias_units"]``); the first linear of the pair has a random bias, every unit's i.i.d.
  U(0, 1) (``Plan.layer_biases`` ("interval", 0, 1), sampled on its own stream); B has none. A bias
  unit's input weights are all pruned and its bias kept when chosen, so it outputs σ(c_k) = c_k
  and adds c_k·B[o, k] to output o; every other unit's bias is pruned. b_o is a subset sum over
  the bias units' samples c_k·B[o, k] — the law of |a|·b (c ~ U(0, 1) is |a| given a's sign), so
  the same n serves: the bias is one more "input column", a positive-only slot (like a slot
  after a ReLU), d_out more problems per layer. The effective map is G(h) = P σ(h) + N σ(−h) + p
  with p = B σ(c) (``certificate.bound.pair_effective_map(c=)``).
* *Domains.* The certificate is a sup over the plan's domain (``Ball(r)``, ``Box(lo, hi)``) of
  radius R = sup‖x‖₂. On a nonnegative domain σ(−x) = 0 on the first layer too, so its slots are
  (j, +) only and it needs n·d_0/(1 − 2^{−d_0}) units instead of 2n·d_0 (stats
  ``first_layer_negative_half_saving``: the random weights saved, as ``negative_half_saving``
  after each ReLU).
* *Error budget.* With every ‖G_i − W_i‖ ≤ e (on the layer's inputs), ‖W_i‖₂ ≤ 1 and every bias
  error ‖p_i − b_i‖ ≤ e·s_i, s_i = max(‖b_i‖₂, 1), the certificate's recursion Δ_i ≤ e(R_{i−1} +
  Δ_{i−1}) + Δ_{i−1} + ‖p_i − b_i‖ with R_i ≤ ρ_i = R + Σ_{k≤i} s_k gives ρ_i + Δ_i ≤ (1 + e)^i ρ_i,
  so Δ_l ≤ ((1 + e)^l − 1)·ρ_l: the unit-ball budget at ε/ρ, ρ = R + Σ_{i with a bias} s_i
  (``_pairs.bias_radius``; ``proofs/subset_sum.py``, step 7). Bias-free, ρ = R, and the rule at
  ε/R is exact by positive homogeneity. Per-entry tolerances: weights e/√(d_in' d_out) as before,
  biases e·s_i/√d_out (``_pairs.bias_tolerance_ratio``).
* *Width rule (ours).* n_i = the bias-free rule with d_{i−1} → d_{i−1} + [layer i has a bias]
  (the union bound over d_out·(d_in' + 1) problems; the bias tolerance is the larger one) and
  ε → ε/ρ with the class bound s_i = 1, ρ = R + #{layers with a bias} (``_pairs.rule_inputs``):

      n_i = max(C log₂((d_{i−1} + [b_i]) d_i l / min(ε/ρ, δ)), log₂(1/min(ε/ρ, δ)) + n_reach),

  width_bound = the bias-free width + n_i bias units, parameter_bound + n_i (d_{i−1} + d_i)
  random weights per layer with a bias (random biases, one per hidden unit of such a pair, are
  not counted). A bias-free target on the unit ball gets every plan, network, mask and bound
  exactly as before. The per-weight mode counts a bias as one more weight (|p_o − b_o| ≤ τ).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import exp1

from .._backend import ops
from .._checks import eps_arg, nonnegative_int, plan_args, positive_float, strict_bool
from ..errors import DomainError, InvalidArgumentError, TargetError
from ..network import Plan, RandomNetwork
from ..subset_sum import masks_to_bool, solve
from ..targets import Target
from ._pairs import MAX_RANDOM_WEIGHTS, PairConstruction, plan_pairs, prune_pairs, rule_inputs
from .base import PruneResult

#: Default value of the theorem's universal constant C (with log base 2). Calibrated here: on a
#: 784-300-100-10 target at ε = 0.01, n = 24 succeeded in 3/3 seeds and n = 22 in 1/3; C = 1 gives 26.
C_DEFAULT = 1
#: Reachability floor: n ≥ log₂(1/min(ε, δ)) + N_REACH. When d is small a weight can be ±1 under
#: ‖W‖₂ ≤ 1, and the positive products |a|·b (mean 1/8 each) must sum past it; measured here on
#: 1×1 … 12-12-12-12 targets (40 seeds each), n ≈ 20 / 24 / 28 succeed in ≥ 95% at
#: ε = 0.1 / 0.01 / 0.001 whatever d, while the theorem's term alone gives 5 … 19.
N_REACH = 16
#: Largest samples-per-block supported (subset masks are uint64).
MAX_N = 64
#: Range of the ``weight_scale`` option (random weights U[−s, s)): products s² stay far from
#: float64's limits, and B/s², τ/s² in the per-weight rule stay finite.
MIN_WEIGHT_SCALE = 1e-3
MAX_WEIGHT_SCALE = 1e3


# ---------------------------------------------------------------- bounds (floats or sympy)
def theorem_samples(d_in, d_out, depth, eps, delta, C=C_DEFAULT):
    """C · log₂(d_{i−1} d_i l / min(ε, δ)): Pensia et al. 2020, Theorem 1 (M_{2i−1} has
    C d_{i−1} log(d_{i−1} d_i l / min(ε, δ)) rows). Un-rounded; floats or sympy."""
    o = ops(d_in, d_out, depth, eps, delta, C)
    return C * o.log2(d_in * d_out * depth / o.min(eps, delta))


def reach_samples(eps, delta, n_reach=N_REACH):
    """log₂(1/min(ε, δ)) + n_reach: the floor that lets subset sums reach weights of size 1."""
    o = ops(eps, delta, n_reach)
    return o.log2(1 / o.min(eps, delta)) + n_reach


def samples_per_block(d_in, d_out, depth, eps, delta, C=C_DEFAULT, n_reach=N_REACH):
    """n_i = max(C log₂(d_{i−1} d_i l / min(ε, δ)), log₂(1/min(ε, δ)) + n_reach), un-rounded.

    Both terms are O(log(d_{i−1} d_i l / min(ε, δ))), so this is the theorem's width rule with
    an explicit constant; the builder takes ⌈·⌉. Floats or sympy.
    """
    o = ops(d_in, d_out, depth, eps, delta, C, n_reach)
    return o.max(theorem_samples(d_in, d_out, depth, eps, delta, C), reach_samples(eps, delta, n_reach))


# ---------------------------------------------------------------- per-weight mode (floats only)
def reach_tail_bound(n, bound, lam):
    """Chernoff bound e^{λB} M(λ)^n on P(Σ_{k≤n} X⁺_k ≤ B), X⁺ = max(|a| b, 0), a, b ~ U[−1, 1]:
    M(λ) = E e^{−λX⁺} = ½ + ½ Ein(λ)/λ, Ein(λ) = E₁(λ) + ln λ + γ (the entire exponential
    integral ∫₀^λ (1 − e^{−u})/u du). Valid for every λ > 0; floats."""
    ein = exp1(lam) + math.log(lam) + np.euler_gamma
    return math.exp(lam * bound + n * math.log(0.5 + 0.5 * ein / lam))


def reach_failure(n, bound) -> float:
    """min over λ of :func:`reach_tail_bound`: an upper bound on the probability that the n
    same-sign products of a slot sum to ≤ B (then no subset reaches a weight of size B)."""
    if n <= 0:
        return 1.0
    res = minimize_scalar(lambda lam: lam * bound + n * math.log(0.5 + 0.5 * (exp1(lam) + math.log(lam)
                                                                            + np.euler_gamma) / lam),
                          bounds=(1e-9, 1e4), method="bounded", options={"xatol": 1e-10})
    return min(1.0, math.exp(res.fun))


def reach_samples_per_weight(bound, failure) -> int:
    """Smallest n with :func:`reach_failure`(n, B) ≤ failure."""
    lo, hi = 1, 8
    while reach_failure(hi, bound) > failure:
        lo, hi = hi, 2 * hi
        if hi > 1 << 16:
            raise InvalidArgumentError(f"no n ≤ 65536 reaches weight_bound {bound} with failure {failure:.3g}")
    while lo < hi:
        mid = (lo + hi) // 2
        if reach_failure(mid, bound) <= failure:
            hi = mid
        else:
            lo = mid + 1
    return hi


def per_weight_samples(num_problems, weight_tol, delta, weight_bound=1.0, weight_scale=1.0) -> int:
    """Samples per slot for the per-weight mode (module docstring): ⌈max(n_R, log₂(2N s²/(δτ)))⌉,
    n_R the smallest n whose reach failure (:func:`reach_failure`, weight size B/s²) is ≤ δ/(2N),
    N = ``num_problems``, τ = ``weight_tol``, B = ``weight_bound``, s = ``weight_scale`` (random
    weights U[−s, s), so the samples are s² times products of two U[−1, 1]: the problem (B, τ) is
    the unscaled problem (B/s², τ/s²)). Floats only (n_R comes from a one-dimensional
    minimization)."""
    N = float(num_problems)
    s2 = float(weight_scale) ** 2
    n_reach = reach_samples_per_weight(weight_bound / s2, delta / (2 * N))
    return max(n_reach, math.ceil(math.log2(2 * N * s2 / (delta * weight_tol))))


def num_problems(shapes, biases=(), first_signed: bool = True) -> int:
    """Subset-sum problems of a pair network: d_out·d_in' per layer, d_in' = 2 d_in on the signed
    first layer (slots for σ(x_j) and σ(−x_j); d_in on a nonnegative domain, ``first_signed``
    False), d_in after a ReLU; plus d_out (the bias slot) per layer with a bias (``biases``)."""
    flags = tuple(biases or ()) or (False,) * len(shapes)
    return int(sum(d_out * (d_in * (2 if i == 0 and first_signed else 1) + (1 if flags[i] else 0))
                   for i, (d_out, d_in) in enumerate(shapes)))


def domain_nonnegative(domain) -> bool:
    """Whether ``domain`` (a Domain or None: the unit ball) is nonnegative."""
    return domain is not None and bool(domain.nonnegative)


def pair_structure_args(spec, shapes, biases, domain):
    """(bias flags, domain or None, radius R) of a pair plan: ``biases`` one bool per target layer
    (None: a bias-free target; TargetError when the construction covers none), ``domain`` a
    Domain (None: the unit ball, R = 1)."""
    from ..domains import Domain, is_default

    flags: tuple = ()
    if biases is not None:
        if not isinstance(biases, (tuple, list)) or len(biases) != len(shapes) or \
                not all(isinstance(b, (bool, np.bool_)) for b in biases):
            raise InvalidArgumentError(f"biases must be one bool per target layer ({len(shapes)}), got {biases!r}")
        flags = tuple(bool(b) for b in biases) if any(biases) else ()
    if flags and not spec.supports_biases:
        raise TargetError(f"the {spec.name} construction covers bias-free targets only (layers with a bias: "
                          f"{[i for i, f in enumerate(flags) if f]})")
    if domain is not None and not isinstance(domain, Domain):
        raise DomainError(f"domain must be sltheory.Ball(radius) or sltheory.Box(lo, hi), got {type(domain).__name__}")
    if domain is not None and is_default(domain):
        domain = None
    radius = 1.0
    if domain is not None:
        domain.check_dim(shapes[0][1])
        radius = domain.radius_for(shapes[0][1])
    return flags, domain, radius


class SubsetSum(PairConstruction):
    name = "subset_sum"
    citation = ("ours: a variant of Pensia, Rajput, Nagle, Vishwakarma, Papailiopoulos. Optimal lottery tickets "
                "via SubsetSum: logarithmic over-parameterization is sufficient. NeurIPS 2020, arXiv:2006.07990, "
                "Theorem 1 — its width rule (explicit constants ours) and pruning, with hidden units assigned to "
                "slots greedily by sign and the negative half spared after each ReLU (ours; the paper's fixed "
                "blocks: 'pensia')")
    #: Theorem 1's rule and pruning, but the greedy slot assignment and the negative-half saving are
    #: ours (the paper fixes blocks in advance: :mod:`sltheory.constructions.pensia`).
    whose = "ours"
    soundness_rule = True
    #: Targets with biases (Fischer, Gadhikar & Burkholz's bias units) and input domains (module
    #: docstring, *Biases and domains*).
    supports_biases = True
    domain_aware = True

    #: Offers the per-weight mode: random_network(weight_tol=) and approximate(weight_tol=).
    per_weight_rule = True
    per_weight_mode = True
    #: Whether each pair's first sub-layer is slot-structured by design (the variant
    #: :mod:`sltheory.constructions.subset_sum_blockdiag`); False: dense, as Theorem 1 states.
    slot_first = False

    def samples(self, i, dims, eps, delta, C=C_DEFAULT, n_reach=N_REACH):
        return samples_per_block(dims[i], dims[i + 1], len(dims) - 1, eps, delta, C, n_reach)

    def plan(self, shapes, *, eps, delta, n=None, width_factor=None, C=C_DEFAULT, n_reach=N_REACH,
             spare_negative_half=True, max_weights=MAX_RANDOM_WEIGHTS, weight_tol=None, weight_bound=None,
             weight_scale=None, biases=None, domain=None, **options) -> Plan:
        """``weight_tol`` (with optional ``weight_bound``, default 1): n from the per-weight rule
        :func:`per_weight_samples` instead of Theorem 1's rule (module docstring). ``weight_scale``
        s (ours; with ``weight_tol`` or ``n=``): random weights U[−s, s) (module docstring).
        ``biases`` (per target layer, whether it has one) and ``domain``: module docstring, *Biases
        and domains*."""
        return self._plan(shapes, eps=eps, delta=delta, n=n, width_factor=width_factor, C=C, n_reach=n_reach,
                          spare_negative_half=spare_negative_half, max_weights=max_weights, weight_tol=weight_tol,
                          weight_bound=weight_bound, weight_scale=weight_scale, biases=biases, domain=domain,
                          **options)

    def _plan(self, shapes, *, eps, delta, n, width_factor, C, n_reach, spare_negative_half, max_weights,
              weight_tol, weight_bound, weight_scale=None, balanced_signs=False, biases=None, domain=None,
              **options) -> Plan:
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        flags, domain, radius = pair_structure_args(self, shapes, biases, domain)
        balanced_signs = strict_bool("balanced_signs", balanced_signs)
        C = positive_float("C", C)
        n_reach = nonnegative_int("n_reach", n_reach, maximum=MAX_N)   # beyond it, n > MAX_N anyway
        depth = len(shapes)
        extra = {"n_reach": n_reach}
        scale = 1.0 if weight_scale is None else positive_float("weight_scale", weight_scale, lower=MIN_WEIGHT_SCALE,
                                                                upper=MAX_WEIGHT_SCALE)
        distribution: tuple = ("uniform",)
        if scale != 1.0:
            if weight_tol is None and n is None:
                raise InvalidArgumentError(f"weight_scale = {scale:g}: Theorem 1's width rule is stated for "
                                           "U[−1, 1] weights; give weight_tol= (the per-weight rule, scaled) or n=")
            distribution = ("uniform", scale)
            extra["weight_scale"] = scale
        if weight_tol is None:
            if weight_bound is not None:
                raise InvalidArgumentError("weight_bound belongs to the per-weight rule: give weight_tol too")
            dims = (shapes[0][1],) + tuple(d_out for d_out, _ in shapes)

            def rule(i, d_in, d_out):
                rdims, reps = rule_inputs(i, dims, eps, flags, radius)
                return samples_per_block(rdims[i], rdims[i + 1], depth, reps, delta, C, n_reach)
        else:
            if eps is not None:
                raise InvalidArgumentError("give eps (network-level rule) or weight_tol (per-weight rule), not both")
            weight_tol = eps_arg("weight_tol", weight_tol)
            weight_bound = positive_float("weight_bound", 1.0 if weight_bound is None else weight_bound,
                                          # n ≤ MAX_N products of size ≤ s² never sum past it
                                          upper=MAX_N if scale == 1.0 else MAX_N * scale ** 2)
            n_pw = (per_weight_samples(num_problems(shapes, flags, first_signed=not domain_nonnegative(domain)),
                                       weight_tol, delta, weight_bound, scale)
                    if n is None else None)
            rule = lambda i, d_in, d_out: n_pw  # noqa: E731
            extra.update(weight_tol=weight_tol, weight_bound=weight_bound)
        if balanced_signs:   # the reach comparison with random signs needs n/2 samples of each sign
            unrounded = rule
            rule = lambda i, d_in, d_out: 2 * math.ceil(unrounded(i, d_in, d_out) / 2)  # noqa: E731
        return plan_pairs(
            self.name, shapes, eps=eps, delta=delta, n=n, width_factor=width_factor, rule=rule,
            spare_negative_half=spare_negative_half, constant=C, max_n=MAX_N, max_weights=max_weights,
            distribution=distribution, options=extra, per_weight=weight_tol is not None, slot_first=self.slot_first,
            balanced_signs=balanced_signs, biases=flags, domain=domain)

    def prune(self, target: Target, rand: RandomNetwork, *, eps, weight_tol=None, min_cardinality=True,
              **options) -> PruneResult:
        """``min_cardinality``: the solver's "sparsest" mode (default) or its faster "staged" one."""
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        if not isinstance(min_cardinality, bool):
            raise InvalidArgumentError(f"min_cardinality must be a bool, got {min_cardinality!r}")
        select = _choose_selector(rand.linears()[0].weight.device, min_cardinality, max(rand.plan.n))
        return prune_pairs(target, rand, eps=eps, select=select, n_needed=_n_needed, weight_tol=weight_tol)


def _choose_selector(device, min_cardinality: bool, n_max: int):
    """The staged search runs where the random network lives: on CUDA the torch solver (n ≤ its
    MAX_N). The sparsest mode (the default), and n beyond the torch solver's reach, run the numba
    solver on the CPU, so the default ticket is the same wherever its network lives."""
    from ..subset_sum.torch_solver import MAX_N as TORCH_MAX_N

    if torch.device(device).type == "cuda" and not min_cardinality and n_max <= TORCH_MAX_N:
        return _torch_selector(device)
    return _selector("sparsest" if min_cardinality else "staged")


def _selector(mode: str):
    def select(samples, targets, counts, tol):
        res = solve(samples, targets, counts=counts, tol=tol, mode=mode)
        return masks_to_bool(res.masks, samples.shape[1]), res.errors
    select.solver = f"numba {mode}"  # type: ignore[attr-defined]  # a function attribute mypy cannot declare
    return select


def _torch_selector(device):
    """The torch meet-in-the-middle solver on ``device`` (see :mod:`sltheory.subset_sum.torch_solver`):
    the optimum for tol = 0, the optimum of the shortest prefix within tol otherwise."""
    from ..subset_sum.torch_solver import solve_torch

    def select(samples, targets, counts, tol):
        masks, errors = solve_torch(samples, targets, counts=counts, tol=tol, device=device)
        return masks_to_bool(masks, samples.shape[1]), errors
    select.solver = "torch staged"  # type: ignore[attr-defined]  # a function attribute mypy cannot declare
    return select


def _n_needed(n: int, worst: float, tol: float) -> int:
    """Each extra sample roughly halves the optimal subset-sum error (≈ 1 bit per sample)."""
    return n + math.ceil(math.log2(worst / tol)) + 1


CONSTRUCTION = SubsetSum()
