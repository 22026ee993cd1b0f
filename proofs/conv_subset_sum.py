"""``conv_subset_sum`` (da Cunha, Natale & Viennot 2022; Burkholz 2022's 2L design; the rule's
constants ours): the steps of :mod:`sltheory.conv.subset_sum`'s reduction and width rule.

1. *Reduction.* A conv pair (univariate 1×1 units, ReLU, the target's kernel) computes exactly
   P⋆σ(h) + N⋆σ(−h) + p with P, N read off the (c_out·|K|, c_in) matrices B'A'^± of the MLP pair
   in the (o, q) row order: measured on random geometries (strides, paddings, 1-D and 2-D, bias
   channels) against the pair module evaluated by torch.
2. *Geometry.* The unrolled conv has at most c_in·|K| nonzeros per row and c_out·Π⌈k_d/s_d⌉ per
   column (checked exactly on a grid of geometries by unrolling), so |E| ≤ τ entrywise gives
   ‖E⋆‖₂ ≤ τ√(row·column) (Schur: ‖M‖₂² ≤ ‖M‖₁‖M‖_∞); the sound FFT bound of the worst sign
   pattern never exceeds it (measured).
3. *Rule.* The library's ``width_bound`` is Pensia's rule at d'_in = (c_in + [bias])·|K|,
   d'_out = c_out·Π⌈k/s⌉ and ε' = ε/(ρ g^l 2^r) (symbolic).
4. *Residual factor.* For g ≥ 1, 1 + g² ≤ 2g²: a block x + F(x) whose two-layer body has
   Lipschitz constant ≤ g² amplifies an error by ≤ 2g², which ε/(g^l 2^r) accounts for (symbolic).
5. *Bias position.* The kernel position q* chosen for bias channels meets no padding at any output
   position, and where none is chosen none exists (exhaustive over a grid of geometries).
6. *Soundness, measured.* Certified bound ≥ the adversarial error on random small conv / residual
   targets.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

import sltheory
from sltheory.constructions.subset_sum import samples_per_block
from sltheory.conv import approximate, random_network
from sltheory.conv import ops as O
from sltheory.conv.base import effective_maps
from sltheory.conv.network import AffineSpec, ConvRandomNetwork, bias_position
from sltheory.conv.norms import conv_norm_bound
from sltheory.conv.subset_sum import CONSTRUCTION, conv_dims, rule_eps
from sltheory.errors import TargetError

from ._check import Proof


def _one_layer(seed, d, c_in, c_out, k, s, p, n_in, bias):
    rng = np.random.default_rng(seed)
    kern = (k,) * d
    out = tuple((n_in + 2 * p - k) // s + 1 for _ in range(d))
    W = rng.normal(size=(c_out, c_in) + kern) * 0.3
    op = O.Affine(W, rng.normal(size=c_out) * 0.1 if bias else None, (s,) * d, (p,) * d,
                  (c_in,) + (n_in,) * d, (c_out,) + out)
    flat = c_out * int(np.prod(out))
    return O.ConvTarget((op, O.Flatten(op.out_shape, (flat,))), op.in_shape, (flat,))


def _unrolled(kernel, in_shape, stride, padding) -> np.ndarray:
    eye = torch.eye(int(np.prod(in_shape)), dtype=torch.float64).reshape(-1, *in_shape)
    fn = F.conv1d if len(in_shape) == 2 else F.conv2d
    return fn(eye, torch.from_numpy(kernel), None, stride, padding).reshape(eye.shape[0], -1).T.numpy()


def run() -> Proof:
    P = Proof("conv_subset_sum")

    # 1. the reduction, measured
    worst, cases = 0.0, 0
    for seed, (d, c_in, c_out, k, s, p, n_in, bias) in enumerate(itertools.product(
            (1, 2), (1, 2), (2,), (1, 3), (1, 2), (0, 1), (5,), (False, True))):
        if bias and p >= k:
            continue
        tgt = _one_layer(seed, d, c_in, c_out, k, s, p, n_in, bias)
        rand = random_network(tgt, seed=seed, n=4, domain=sltheory.Box(-1, 1))
        g = np.random.default_rng(seed)
        masks = []
        for i in range(len(rand.plan.n)):
            a, c, B = rand.pair_arrays(i)
            mb = g.random(B.shape) < 0.5
            if c is not None:       # bias channels reach outputs only at q* (what the pruner keeps)
                q = bias_position(rand.plan.layers[i])
                keep = np.zeros(B.shape[2:], dtype=bool) if B.ndim > 2 else np.ones((), dtype=bool)
                keep[q] = True
                mb[:, a.size:] &= keep
            masks.append((g.random(a.shape) < 0.8, None if c is None else g.random(c.shape) < 0.8, mb))
        m = effective_maps(rand, masks)[0]
        full = ConvRandomNetwork(rand.plan, rand.seed, pairs=[
            (np.where(ma, a, 0), None if c is None else np.where(mc, c, 0), np.where(mb, B, 0))
            for (ma, mc, mb), (a, c, B) in zip(masks, [rand.pair_arrays(0)])])
        x = torch.randn(16, tgt.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        h = x.reshape(-1, *tgt.input_shape)
        conv = F.conv1d if d == 1 else F.conv2d
        op = tgt.layers[0]
        y = conv(torch.relu(h), torch.from_numpy(m.P), None, op.stride, op.padding) \
            + conv(torch.relu(-h), torch.from_numpy(m.N), None, op.stride, op.padding)
        if m.p is not None:
            y = y + torch.from_numpy(m.p).view((1, -1) + (1,) * d)
        worst = max(worst, float((full(x) - y.reshape(16, -1)).abs().max()))
        cases += 1
    P.check("1. conv pair = P⋆σ(h) + N⋆σ(−h) + p (the MLP pair's maps, reshaped)", f"measured ({cases} geometries)",
            worst < 1e-12, f"max |difference| = {worst:.2e}")

    # 2. geometry: nonzeros per row / column of the unrolled conv, and the Schur bound
    ok_counts, ok_schur, n_geo = True, True, 0
    rng = np.random.default_rng(0)
    for d, c_in, c_out, k, s, p, n_in in itertools.product((1, 2), (1, 3), (2,), (1, 3, 5), (1, 2, 3), (0, 2), (7,)):
        if (n_in + 2 * p - k) < 0:
            continue
        kern = (k,) * d
        ones = np.ones((c_out, c_in) + kern)
        M = _unrolled(ones, (c_in,) + (n_in,) * d, (s,) * d, (p,) * d)
        row, col = int((M != 0).sum(axis=1).max()), int((M != 0).sum(axis=0).max())
        spec = AffineSpec(c_out, c_in, kern, (s,) * d, (p,) * d)
        d_in, d_out = conv_dims(spec, False)
        ok_counts &= row <= d_in and col <= d_out
        E = rng.choice([-1.0, 1.0], size=(c_out, c_in) + kern)     # |E| = τ = 1, worst signs are data
        bound = conv_norm_bound(E, (c_in,) + (n_in,) * d, (s,) * d, (p,) * d)
        ok_schur &= bound <= math.sqrt(d_in * d_out) * (1 + 1e-9)
        n_geo += 1
    P.check("2a. unrolled conv: ≤ c_in|K| nonzeros per row, ≤ c_out Π⌈k/s⌉ per column",
            f"grid ({n_geo} geometries, exact)", ok_counts)
    P.check("2b. |E| ≤ τ ⇒ ‖E⋆‖ ≤ τ√(c_in|K| · c_out Π⌈k/s⌉) (Schur), FFT bound below it",
            f"measured ({n_geo} geometries)", ok_schur)

    # 3. the rule is Pensia's at the conv dims, symbolic
    eps, delta, R, g, C = sp.symbols("epsilon delta R g C", positive=True)
    l, r, nb = sp.symbols("l r n_b", positive=True, integer=True)
    lib = CONSTRUCTION.width_bound(AffineSpec(3, 2, (3, 3), (2, 2), (1, 1)), l, eps, delta, radius=R, n_biased=nb,
                                   weight_norm=g, residuals=r, C=C)
    ref = samples_per_block(2 * 9, 3 * 4, l, eps / ((R + nb) * sp.Max(g, 1) ** l * 2 ** r), delta, C, 16)
    P.equal("3. width_bound (3×2×3×3, stride 2) = samples_per_block(2·9, 3·2², l, ε/(ρ g^l 2^r), δ)", lib, ref)
    P.equal("3b. ε' of the rule", rule_eps(eps, R, nb, g, l, r), eps / ((R + nb) * sp.Max(g, 1) ** l * 2 ** r))

    # 4. the residual factor
    t = sp.Symbol("t", nonnegative=True)          # g = 1 + t ≥ 1
    P.nonneg("4. 2g² − (1 + g²) ≥ 0 for g ≥ 1", sp.expand(2 * (1 + t) ** 2 - (1 + (1 + t) ** 2)),
             grid={t: [0, 0.5, 1, 10]})

    # 5. the bias position
    ok5, n5 = True, 0
    for d, k, s, p, n_in in itertools.product((1, 2), (1, 2, 3, 4, 5), (1, 2, 3), (0, 1, 2, 3), (3, 5, 8)):
        if n_in + 2 * p - k < 0:
            continue
        out = (n_in + 2 * p - k) // s + 1
        spec = AffineSpec(2, 1, (k,) * d, (s,) * d, (p,) * d, True, (1,) + (n_in,) * d, (2,) + (out,) * d)
        valid = [j for j in range(k) if all(0 <= i * s - p + j <= n_in - 1 for i in range(out))]
        try:
            q = bias_position(spec)
            ok5 &= bool(valid) and all(qq in valid for qq in q)
        except TargetError:
            ok5 &= not valid
        n5 += 1
    P.check("5. q* meets no padding at any output; refused exactly when no such q exists",
            f"grid ({n5} geometries, exhaustive)", ok5)

    # 6. soundness, measured
    ratios, sound = [], True
    for seed in range(4):
        tgt = _one_layer(seed, 2, 2, 3, 3, 1 + seed % 2, 1, 6, seed % 2 == 0)
        dom = sltheory.Box(0, 1) if seed % 2 else sltheory.Box(-1, 1)
        t = approximate(tgt, random_network(tgt, seed=seed, n=8, domain=dom))
        adv, _ = sltheory.adversarial_error(tgt, t.network, tgt.input_dim, domain=dom, starts=64, steps=25)
        sound &= adv <= t.error_bound
        ratios.append(t.error_bound / max(adv, 1e-300))
    P.check("6. certified bound ≥ adversarial error", "measured (4 tickets)", sound,
            f"bound/adversarial {min(ratios):.2f}–{max(ratios):.2f}")
    return P
