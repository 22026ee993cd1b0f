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
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import ops
from .._checks import bound_args, depth_arg, nonnegative_int, plan_args, positive_float, rule_samples
from ..certificate.bound import METHODS, Certificate, _csr, certify_copies, pair_effective_map
from ..errors import ApproximationFailedError, CertificateError, InvalidArgumentError, NetworkTooLargeError
from ..network import Plan, RandomNetwork
from ..subset_sum import masks_to_bool, solve
from ..targets import Target
from ._pairs import MAX_RANDOM_WEIGHTS, PairLayer, masked_sparse
from .base import Construction, PruneResult, check_layout
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
                "first-layer slots and our width rule")
    whose = "ours"
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
             max_weights=MAX_RANDOM_WEIGHTS, first_layer_scale=FIRST_LAYER_SCALE, **options) -> Plan:
        """``first_layer_scale`` s: the univariate layer's weights are U[−s, s) (default 2, the
        official code's U(−2, 2)); every later layer U[−1, 1)."""
        if options:
            raise InvalidArgumentError(f"unknown options for burkholz: {sorted(options)}")
        shapes, eps, delta = plan_args(shapes, eps, delta)
        C = positive_float("C", C)
        first_layer_scale = positive_float("first_layer_scale", first_layer_scale, upper=1e6)
        n_reach = nonnegative_int("n_reach", n_reach, maximum=MAX_N)   # beyond it, n > MAX_N anyway
        max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
        dims = (shapes[0][1],) + tuple(o for o, _ in shapes)
        L = len(shapes)
        if n is None:
            if eps is None:
                raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
            factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
            ns = [rule_samples(v, factor) for v in self._ns(dims, eps, delta, C, n_reach)]
        else:
            if width_factor is not None:
                raise InvalidArgumentError("give either n= or width_factor=, not both")
            if isinstance(n, (list, tuple)):
                if len(n) != L:
                    raise InvalidArgumentError(f"n has {len(n)} entries for a target of depth {L}")
                ns = [nonnegative_int("n", v, minimum=1) for v in n]
            else:
                ns = [nonnegative_int("n", n, minimum=1)] * L
        if max(ns) > MAX_N:
            raise InvalidArgumentError(f"n = {max(ns)} exceeds the supported {MAX_N} samples per problem")
        layer_shapes, copies = layer_sizes(dims, ns)
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
        return Plan(self.name, tuple(tuple(s) for s in shapes), tuple(layer_shapes), pairs, tuple(ns),
                    (True,) + (False,) * (L - 1), eps, delta, C,
                    {"copies": tuple(copies), "n_reach": n_reach, "width_factor": width_factor,
                     "first_layer_scale": first_layer_scale}, layer_distributions=laws)

    def certify(self, target: Target, plan: Plan, matrices, *, method: str = "auto") -> Certificate:
        """:func:`sltheory.certificate.bound.certify_copies` of the masked random weights ``matrices`` (the
        univariate layer and the first copy layer as a pair, then one copy layer per target layer;
        ``method`` has no other choice here than the layer-wise recursion)."""
        if method not in METHODS:
            raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
        if len(plan.n) != target.depth:
            raise CertificateError(f"the plan has {len(plan.n)} sample counts for a target of depth {target.depth}")
        dims = target.dims
        shapes, copies = layer_sizes(dims, list(plan.n))
        stored = plan.options.get("copies") if isinstance(plan.options, dict) else None
        if not isinstance(stored, tuple) or tuple(stored) != tuple(copies) or \
                tuple(map(tuple, plan.pairs)) != ((0, 1),) + tuple((k + 1,) for k in range(1, target.depth)):
            raise CertificateError(f"the plan's copies {plan.options.get('copies')} / pairs {plan.pairs} are not the "
                                   f"burkholz layout {tuple(copies)} for n = {plan.n}")
        check_layout(self.name, target, plan, matrices, shapes)
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

    def prune(self, target: Target, rand: RandomNetwork, *, eps, tolerance=None, **options) -> PruneResult:
        """``tolerance``: prune at this per-weight tolerance only (no sweep)."""
        if options:
            raise InvalidArgumentError(f"unknown options for burkholz: {sorted(options)}")
        if tolerance is not None:
            tolerance = positive_float("tolerance", tolerance)
        plan = rand.plan
        copies = plan.options["copies"]
        lins = [lin.weight.detach().cpu().numpy() for lin in rand.linears()]
        first = PairLayer(lins[0], lins[1], np.repeat(target.weights[0], copies[0], axis=0), True,
                          plan.n[0], _select)
        later = [_CopyLayer(lins[k + 1], target.weights[k], copies[k - 1], copies[k])
                 for k in range(1, target.depth)]

        def finish():
            """Fresh masks and the certificate computed from exactly them (:meth:`certify`)."""
            mA, mB = first.pair_masks()
            masks = [mA, mB] + [layer.mask() for layer in later]
            mats = [masked_sparse(W, m) for W, m in zip(lins, masks)]
            return masks, self.certify(target, plan, mats)

        layers = [first] + later

        def stats(masks, tol):
            return {"copies": tuple(copies), "tolerance": tol,
                    "layers": [{"n": L.n, "mean_subset_size": float(L.chosen.sum(axis=1).mean()),
                                "max_weight_error": float(L.errors.max())} for L in layers]}

        # Copy errors are amplified by the kept random weights (‖M_ℓ‖ in the certificate), and
        # smaller tolerances mean larger subsets: sweep the tolerance down geometrically and keep
        # the first ticket that certifies ≤ eps (the loosest, hence sparsest), or the best one.
        best: tuple[list[np.ndarray], Certificate, float, dict] | None = None
        tol = 2.0 ** -3 if tolerance is None else tolerance
        while tol >= (TOL_MIN if tolerance is None else tolerance):
            for L in layers:
                L.solve(tol, only_above=tol)
            masks, cert = finish()
            if eps is not None and cert.error_bound <= eps:
                return PruneResult(masks, cert, stats(masks, tol))
            if best is None or cert.error_bound < best[1].error_bound:
                # the stats too are read now: later solving changes the layers' state
                best = (masks, cert, tol, stats(masks, tol))
            if eps is None and cert.error_bound > 4 * best[1].error_bound:
                break  # past the sweet spot: amplification dominates from here on
            tol /= 2
        if best is None:   # never: tol starts at or above its (finite, > 0) lower limit, so the sweep ran
            raise RuntimeError("the tolerance sweep tried no tolerance")
        masks, cert, tol, best_stats = best
        if eps is None or cert.error_bound <= eps:
            return PruneResult(masks, cert, best_stats)
        needed = tuple(n + math.ceil(math.log2(cert.error_bound / eps)) + 1 for n in plan.n)
        missed = sum(int(np.count_nonzero(L.errors > tol)) for L in layers)
        raise ApproximationFailedError(
            f"certified error {cert.error_bound:.4g} > eps = {eps:.4g} at every tolerance from 1/8 to "
            f"{TOL_MIN:.0e} (best at tolerance {tol:.3g}, where {missed} weight problems missed it) with "
            f"n = {plan.n}; n ≈ {needed} would be needed: sample a wider random network.",
            missed=max(1, missed), total=sum(L.targets.size for L in layers), error_bound=cert.error_bound,
            eps=eps, n=tuple(plan.n), n_needed=needed)


CONSTRUCTION = Burkholz()
