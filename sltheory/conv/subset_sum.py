"""``conv_subset_sum`` (ours, after da Cunha, Natale & Viennot, ICLR 2022, and Burkholz, ICML 2022,
arXiv:2205.02343): the depth-2L subset-sum construction for convolutional and residual targets. The
papers build each target conv from a random 1×1 conv of univariate channels followed by a random
conv with the target's kernel; the pruning of each (out, in, kernel position) weight is a subset
sum over the univariate units of input channel ``in`` (Pensia et al. 2020's lemma per weight).
Ours: the network fixed before pruning (da Cunha et al.'s code simulates each weight by fresh
samples and builds no random CNN), the slot layout (n units per input channel and sign, signs fixed
by the slot, magnitudes random), the width rule's explicit constants, the bias channels at one
kernel position and the certificate.

Reduction to the MLP pair machinery (:class:`sltheory.constructions._pairs.PairLayer`): a conv
W (c_out, c_in, K) is the matrix W' (c_out·|K|, c_in), row (o, q) = W[o, :, q]; the dense random
layer B (c_out, H, K) is the matrix B' (c_out·|K|, H) in the same row order. Output (o, q) of the
pair "MLP" x ↦ B' σ(A x) is exactly the contribution of kernel position q to output channel o of
the conv pair (the univariate layer A acts per position), so the subset sums are the MLP ones
and their masks reshape back. A target bias b_o becomes a bias problem of row (o, q*) only
(rows (o, q ≠ q*) target 0 and keep nothing).

Width rule (ours, module docstring of :mod:`sltheory.constructions.subset_sum` for the MLP one):
per Affine layer i, n_i = max(C log₂(d'_in d'_out l / min(ε', δ)), log₂(1/min(ε', δ)) + n_reach)
with d'_in = (c_in + [bias]) · |K| and d'_out = c_out · Π_d ⌈k_d/s_d⌉ — the unrolled conv error E has
at most c_in'·|K| nonzeros per row and c_out·Π⌈k_d/s_d⌉ per column, so entries ≤ τ give
‖E‖₂ ≤ τ √(row · column) (Schur), which plays the role of √(d_in d_out) — and ε' = ε / (ρ g^l 2^r κ):
ρ = R + #biased layers (the domain's radius, biases' class bound ‖b‖ ≤ 1 over the feature map),
g ≥ 1 a declared bound on every layer's operator norm (option ``weight_norm``, default 1: the
class of the theorem), r the number of residual blocks (x + F(x) at most doubles a bound), κ the
product of the pools' Lipschitz constants above 1 (overlapping windows; 1 otherwise).
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import ops as sym_ops
from .._checks import nonnegative_int, positive_float
from ..bounds import layer_error_budget
from ..constructions._pairs import BIAS_BOUND, PairLayer, ladder
from ..constructions.subset_sum import C_DEFAULT, MAX_N, N_REACH, _choose_selector, _n_needed, samples_per_block
from ..errors import InvalidArgumentError, NetworkTooLargeError
from .base import ConvConstruction, ConvPruneResult, check_architecture, effective_maps, kept_counts
from .network import ConvPlan, ConvRandomNetwork, bias_position, count_residuals, input_signs, skeleton
from .ops import Pool, Residual

#: Default cap on the random weights a conv plan may hold (float64): 4·10⁸ ≈ 3.2 GB.
MAX_CONV_WEIGHTS = 400_000_000


def conv_dims(spec, bias: bool) -> tuple[int, int]:
    """(d'_in, d'_out) of the rule for one Affine layer (module docstring)."""
    P = spec.positions
    reach = math.prod(-(-k // s) for k, s in zip(spec.kernel, spec.stride)) if spec.kernel else 1
    return (spec.in_channels + (1 if bias else 0)) * P, spec.out_channels * reach


def rule_eps(eps, radius, n_biased, weight_norm, depth, residuals, pool_gain=1):
    """ε' = ε / (ρ g^l 2^r κ) (module docstring; κ = Π max(1, L) over the pools' Lipschitz constants L,
    1 unless a pool's windows overlap). Floats or sympy."""
    o = sym_ops(eps, radius, weight_norm)
    rho = radius + n_biased * BIAS_BOUND
    return eps / (rho * o.max(weight_norm, 1) ** depth * 2 ** residuals * pool_gain)


def pool_gain(ops) -> float:
    """Π L over the target's pools whose Lipschitz constant L exceeds 1 (:func:`sltheory.conv.norms.pool_lipschitz`,
    nested ones included; a non-overlapping pool's L = 1, rounded up for the certificate, counts as 1)."""
    from .norms import pool_lipschitz

    out = 1.0
    for op in ops:
        if isinstance(op, Pool):
            L = pool_lipschitz(op)
            out *= L if L > 1 + 1e-9 else 1.0
        elif isinstance(op, Residual):
            out *= pool_gain(op.body) * pool_gain(op.shortcut)
    return out


class ConvSubsetSum(ConvConstruction):
    name = "conv_subset_sum"
    citation = ("ours, after da Cunha, Natale, Viennot. Proving the lottery ticket hypothesis for convolutional "
                "neural networks. ICLR 2022, and Burkholz. Convolutional and residual networks provably contain "
                "lottery tickets. ICML 2022, arXiv:2205.02343 — their 2L design (1×1 univariate channels, then the "
                "target's kernel; a subset sum per (out, in, kernel position) weight) on a network fixed before "
                "pruning; the slot layout (n units per input channel and sign), the width rule's constants, the "
                "bias channels at one kernel position and the certificate are ours")
    #: The papers' 2L design; the slot layout with fixed signs, the rule's constants, the bias channels
    #: and the certificate are ours (module docstring).
    whose = "ours"

    def plan(self, target, *, eps, delta=0.05, n=None, width_factor=None, domain=None, C=C_DEFAULT,
             n_reach=N_REACH, weight_norm=1.0, max_weights=MAX_CONV_WEIGHTS, **options) -> ConvPlan:
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        return plan_conv_pairs(self.name, target, eps=eps, delta=delta, n=n, width_factor=width_factor,
                               domain=domain, C=C, n_reach=n_reach, weight_norm=weight_norm, max_weights=max_weights)

    def width_bound(self, spec, depth, eps, delta, *, bias=False, radius=1, n_biased=0, weight_norm=1,
                    residuals=0, C=C_DEFAULT, n_reach=N_REACH):
        """n for one layer of geometry ``spec`` (un-rounded; floats or sympy)."""
        d_in, d_out = conv_dims(spec, bias)
        return samples_per_block(d_in, d_out, depth, rule_eps(eps, radius, n_biased, weight_norm, depth, residuals),
                                 delta, C, n_reach)

    def prune(self, target, rand: ConvRandomNetwork, *, eps, min_cardinality=True, **options) -> ConvPruneResult:
        if options:
            raise InvalidArgumentError(f"unknown options for {self.name}: {sorted(options)}")
        select = _choose_selector("cpu", bool(min_cardinality), max(rand.plan.n))
        return prune_conv_pairs(self, target, rand, eps=eps, select=select)


def plan_conv_pairs(name, target, *, eps, delta, n, width_factor, domain, C, n_reach, weight_norm,
                    max_weights, first_distribution=("uniform",), distribution=("uniform",)) -> ConvPlan:
    from .._checks import delta_arg, eps_arg, explicit_samples, rule_samples
    from ..domains import as_domain, is_default

    eps = eps_arg("eps", eps, allow_none=True)
    delta = delta_arg("delta", delta)
    C = positive_float("C", C)
    n_reach = nonnegative_int("n_reach", n_reach, maximum=MAX_N)
    weight_norm = positive_float("weight_norm", weight_norm)
    max_weights = nonnegative_int("max_weights", max_weights, minimum=1)
    dom = as_domain(domain)
    dom.check_dim(target.input_dim)
    radius = dom.radius_for(target.input_dim)
    ops = target.ops
    specs = target.layers
    depth = len(specs)
    signed = input_signs(ops, not dom.nonnegative)
    flags = [s.bias is not None for s in specs]
    for s in specs:
        if s.bias is not None:
            bias_position(s)     # TargetError now if a biased conv cannot carry its bias
    residuals = count_residuals(ops)
    if n is None:
        if eps is None:
            raise InvalidArgumentError("give eps (and delta) for the width rule, or n=")
        factor = 1.0 if width_factor is None else positive_float("width_factor", width_factor)
        e_rule = rule_eps(eps, radius, sum(flags), weight_norm, depth, residuals, pool_gain(ops))
        ns = []
        for s, f in zip(specs, flags):
            d_in, d_out = conv_dims(s, f)
            ns.append(rule_samples(samples_per_block(d_in, d_out, depth, e_rule, delta, C, n_reach), factor))
    else:
        ns = explicit_samples(n, width_factor, depth, f"with {depth} conv/linear layers")
    for v in ns:
        if v > MAX_N:
            raise InvalidArgumentError(f"n = {v} samples per slot exceeds the supported {MAX_N}: raise eps/delta, "
                                       "lower C or width_factor, or pass n=")
    plan = ConvPlan(name, tuple(skeleton(ops)), tuple(target.input_shape), tuple(ns), tuple(signed),
                    tuple(v if f else 0 for v, f in zip(ns, flags)), eps, delta, C,
                    tuple(distribution), tuple(first_distribution),
                    None if is_default(dom) else dom.spec(),
                    {"n_reach": n_reach, "weight_norm": weight_norm, "width_factor": width_factor})
    if plan.num_random_weights > max_weights:
        raise NetworkTooLargeError(
            f"the {name} plan asks for {plan.num_random_weights:,} random weights (n = {tuple(ns)}), more than "
            f"max_weights = {max_weights:,} (~{8 * plan.num_random_weights / 2**30:.1f} GiB in float64): raise "
            "eps/delta, pass n= or a larger max_weights", required_weights=plan.num_random_weights, limit=max_weights)
    return plan


def _pair_layer(plan: ConvPlan, i: int, op, rand: ConvRandomNetwork, select) -> PairLayer:
    a, c, B = rand.pair_arrays(i)
    spec = plan.layers[i]
    H_w, nb = a.size, int(plan.bias_units[i])
    m = 2 if plan.signed[i] else 1
    channel = np.arange(H_w) // (m * plan.n[i])
    A = np.zeros((H_w + nb, spec.in_channels))
    A[np.arange(H_w), channel] = a
    Bmat = np.ascontiguousarray(np.moveaxis(B, 1, -1).reshape(-1, B.shape[1]))     # rows (o, q)
    bias = None
    if op.bias is not None:
        P = spec.positions
        q = bias_position(spec)
        qflat = int(np.ravel_multi_index(q, spec.kernel)) if q else 0
        bias = np.zeros(spec.out_channels * P)
        bias[np.arange(spec.out_channels) * P + qflat] = op.bias
    c_full = None if c is None else np.concatenate([np.zeros(H_w), c])   # PairLayer indexes c by unit
    layer = PairLayer(A, Bmat, op.matrix(), plan.signed[i], plan.n[i], select, None, bias=bias, c=c_full,
                      n_bias=nb)
    # the ladder's tolerance (sltheory.bounds.weight_tolerance(budget, d_in_eff, rows)) must give
    # ‖conv E‖₂ ≤ τ √(c_in'·|K| · c_out·Π⌈k/s⌉) (module docstring): rows = c_out·|K| already
    reach = math.prod(-(-k // s) for k, s in zip(spec.kernel, spec.stride)) if spec.kernel else 1
    layer.d_in_eff = spec.in_channels * m * reach
    return layer


def _masks_from(plan: ConvPlan, i: int, layer: PairLayer, B_shape) -> tuple:
    spec = plan.layers[i]
    mA, mB, mc = layer.pair_masks_biases()
    H_w = plan.units(i)
    mask_a = mA[:H_w].any(axis=1)
    K = tuple(spec.kernel)
    mask_B = np.moveaxis(mB.reshape((spec.out_channels,) + K + (B_shape[1],)), -1, 1).copy()
    mask_c = None
    if plan.bias_units[i] and mc is not None:
        mask_c = np.asarray(mc[H_w:], dtype=bool).copy()
        q = bias_position(spec)
        keep = np.zeros(K, dtype=bool) if K else np.ones((), dtype=bool)
        keep[q] = True
        mask_B[:, H_w:] &= keep          # a bias channel reaches outputs only through q*
        mask_c &= mask_B[:, H_w:].reshape(spec.out_channels, plan.bias_units[i], -1).any(axis=(0, 2))
    return mask_a, mask_c, mask_B


def prune_conv_pairs(spec_c, target, rand: ConvRandomNetwork, *, eps, select) -> ConvPruneResult:
    """Prune every pair with the MLP :class:`PairLayer` + :func:`ladder` machinery (module
    docstring), certifying with :func:`sltheory.conv.certify.certify_conv`."""
    from .certify import certify_conv
    from .norms import op_norm_bound

    plan = rand.plan
    check_architecture(target, plan)
    layers = [_pair_layer(plan, i, op, rand, select) for i, op in enumerate(target.layers)]
    shapes = [rand.pairs[i].B.shape for i in range(len(layers))]
    domain = None if plan.domain is None else plan.input_domain()
    radius = plan.input_domain().radius_for(target.input_dim)
    norms = [op_norm_bound(op) for op in target.layers]
    bias_norms = [0.0 if op.bias is None else float(np.linalg.norm(op.bias)) * math.sqrt(math.prod(op.out_shape[1:]))
                  for op in target.layers]
    for L, op, bn in zip(layers, target.layers, bias_norms):
        if op.bias is not None:    # entries ≤ τ_b over c_out·|positions| outputs give ‖p − b‖ ≤ e·s
            s = max(bn, BIAS_BOUND)
            L.set_bias_ratio(s * math.sqrt(L.d_in_eff * L.W.shape[0])
                             / math.sqrt(op.out_channels * math.prod(op.out_shape[1:])))
    gain = math.prod(max(1.0, g) for g in norms) * 2 ** count_residuals(target.ops) * pool_gain(target.ops)
    rho = radius + sum(max(b, BIAS_BOUND) for b, op in zip(bias_norms, target.layers) if op.bias is not None)

    def finish():
        masks = [_masks_from(plan, i, L, shapes[i]) for i, L in enumerate(layers)]
        maps = effective_maps(rand, masks)
        cert = certify_conv(target, maps, domain=domain)
        return masks, cert, maps, None

    def stats(masks, tol):
        st = kept_counts(masks)
        st.update(n=tuple(plan.n), random_weights=plan.num_random_weights, target_weights=target.num_weights,
                  max_weight_error=float(max(L.errors.max() for L in layers)),
                  tolerance=None if tol is None else tuple(float(t) for t in tol))
        return st

    budget = None
    if eps is not None:
        budget = layer_error_budget(eps / (rho * gain) * (1 - 1e-3), len(layers))
    res = ladder(layers, finish, eps=eps, budget=budget, n_needed=_n_needed, plan=plan, stats=stats)
    return ConvPruneResult(res.masks, res.certificate, res.stats)


CONSTRUCTION = ConvSubsetSum()
