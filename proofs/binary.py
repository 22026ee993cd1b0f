"""sltheory's "binary" construction (ours): ±1 random weights, one scale per layer, Horner
doubling ladders over depth. The width/depth rule and every constant are ours; Sreenivasan et al.
(AISTATS 2022)'s orders (depth Θ(l log(dl/ε)), width Θ(d log²(dl/ε)), as restated) are compared.

Steps: (1) Horner: K doublings of a ladder fed its bits most significant first give Σ_b bit_b 2^b;
ReLU is the identity on the nonnegative values of the levels; x = σ(x) − σ(−x) with the P / N
ladders gives the quantised weight q(w) = sign(w)·round(|w| 2^K) 2^{−K} exactly. (2) A unit's
requirement fails with probability 2^{−r}, (r+1)2^{−r} or (3/4)^{2r}, all ≤ (r+1)(9/16)^r;
r·M unit requirements (M per copy) all hold with probability ≥ 1 − δ when r(r+1)M(9/16)^r ≤ δ,
true for every r ≥ r* = (Λ + 2 log₂(2Λ + 32))/log₂(16/9), Λ = log₂(M/δ). (3) Bits K ≥ K* make
every layer's error ≤ e/2, and then the layer-wise certificate is ≤ (1 + e/2)^l − 1 ≤ ε/2.
(4) Orders and sizes.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

import sltheory
from sltheory.constructions.binary import CONSTRUCTION as SPEC
from sltheory.constructions.binary import LOG2_BASE, bits_rule, copies_rule, failure_bound, requirements

from ._check import Proof, builder_margin, ints, logspace


def _horner(bits):
    v = 0
    for b in bits:                    # most significant first: V ← 2V + b
        v = 2 * v + b
    return v


def run() -> Proof:
    P = Proof("binary")
    r, lam, x, a, b = sp.symbols("r Lambda x a b", positive=True)
    eps, e = sp.symbols("epsilon e", positive=True)
    l = sp.Symbol("l", positive=True, integer=True)

    # (1) the arithmetic of a block
    bs = sp.symbols("b0:5")
    P.equal("Horner over 5 bits (4 doublings): V = Σ_b bit_b 2^b", _horner(list(reversed(bs))),
            sum(bs[k] * 2 ** k for k in range(5)))
    ok = all(_horner([(m >> k) & 1 for k in range(K, -1, -1)]) == m for K in range(0, 12) for m in range(2 ** (K + 1)))
    P.check("every m < 2^{K+1} is rebuilt by its K+1 bits (K = 0 … 11)", "grid (8190 points)", ok)
    P.equal("σ(a + b) = a + b for a, b ≥ 0: ReLU is the identity on the levels",
            sp.Max(a + b, 0), a + b)
    P.equal("output P − N with P ← m σ(x), N ← m σ(−x) (w > 0): m(σ(x) − σ(−x)) = m x",
            sp.Max(x, 0) - sp.Max(-x, 0), x)
    P.equal("w < 0: P ← m σ(−x) (slot (j, −), coefficient −w > 0), N ← m σ(x): P − N = −m x",
            sp.Max(-x, 0) - sp.Max(x, 0), -x)
    worst_q = max(abs(np.rint(abs(v) * 2 ** K) / 2 ** K * np.sign(v) - v) * 2 ** (K + 1)
                  for K in range(0, 20) for v in np.linspace(-1, 1, 401))
    P.check("|q(w) − w| ≤ 2^{−K−1} for |w| ≤ 1 (q(w) = sign(w) round(|w| 2^K) 2^{−K})", "grid (8020 points)",
            worst_q <= 1 + 1e-9, f"max |q − w|·2^(K+1) = {worst_q:.6f}")
    # measured end to end: the exact maps of a ticket of a 2-3-2 target at the rule equal q(W)
    W = [0.6 * M for M in sltheory.gaussian_target((2, 3, 2), 11)]
    rand = sltheory.random_network(W, eps=0.1, delta=0.1, seed=0, construction="binary")
    ticket = sltheory.approximate(W, rand, eps=0.1)
    K = ticket.stats["resolution_bits"]      # the coarsest resolution that certifies ≤ ε
    eff = _effective(ticket, rand, 2)
    q = [np.sign(M) * np.rint(np.abs(M) * 2 ** K) / 2 ** K for M in W]
    read = [np.any(q[1] != 0, axis=0), np.ones(2, bool)]   # unread hidden neurons are pruned away
    gap = max(float(np.abs(E[m] - Q[m]).max()) for E, Q, m in zip(eff, q, read))
    P.check(f"a rule ticket (2-3-2, ε = 0.1, resolution K' = {K}): effective weights by unit vectors = q(W)",
            "measured", gap == 0.0 and ticket.stats["dead_units"] == 0, f"max |eff − q(W)| = {gap:.1e}")

    # (2) failure probabilities and the copies rule
    def pb(rv):
        return (rv + 1) * sp.Rational(9, 16) ** rv
    worst = min(min(float(pb(k) - sp.Rational(1, 2) ** k), float(pb(k) - (k + 1) * sp.Rational(1, 2) ** k),
                    float(pb(k) - sp.Rational(3, 4) ** (2 * k))) for k in range(1, 201))
    P.check("2^{−r}, (r+1)2^{−r}, (3/4)^{2r} ≤ (r+1)(9/16)^r (r = 1 … 200)", "grid (200 points)", worst >= 0,
            f"min margin {worst:.2e}")
    P.equal("(3/4)^{2r} = (9/16)^r", (sp.Rational(3, 4)) ** (2 * r), sp.Rational(9, 16) ** r)
    rng = np.random.default_rng(0)
    trials, rv = 200_000, 4
    signs = rng.random((trials, rv)) < 0.5
    emp1, emp2 = float(np.mean(~signs.any(axis=1))), float(np.mean(signs.sum(axis=1) <= 1))
    grp = (rng.random((trials, 2 * rv)) < 0.5) & (rng.random((trials, 2 * rv)) < 0.5)
    emp3 = float(np.mean(~grp.any(axis=1)))
    exact = (2.0 ** -rv, (rv + 1) * 2.0 ** -rv, 0.75 ** (2 * rv))
    close = all(abs(m - v) <= 4 * math.sqrt(v / trials) for m, v in zip((emp1, emp2, emp3), exact))
    P.check("Monte-Carlo (r = 4, 2·10⁵ units): miss one + / two + / a group's (sign, +) ≈ the formulas (±4 sd)",
            "measured", close, f"{emp1:.4f}/{exact[0]:.4f}, {emp2:.4f}/{exact[1]:.4f}, {emp3:.4f}/{exact[2]:.4f}")
    # r* = (Λ + a)/β with a = 2 log₂(2Λ + 32): then rβ − log₂(r(r+1)) ≥ Λ, because r + 1 ≤ 2Λ + 32.
    beta = sp.log(sp.Rational(16, 9), 2)
    astar = 2 * sp.log(2 * lam + 32, 2)
    rstar = (lam + astar) / beta
    P.equal("library copies_rule = (Λ + 2 log₂(2Λ + 32))/log₂(16/9) (M = 2^Λ δ)",
            copies_rule((1, 1), sp.Symbol("delta", positive=True), 0).subs(sp.Symbol("delta", positive=True),
                                                                            requirements((1, 1), 0) / 2 ** lam),
            rstar, grid={lam: [1, 5, 20, 80]})
    P.nonneg("r* + 1 ≤ 2Λ + 32 (Λ ≥ 0)", 2 * lam + 32 - rstar - 1, grid={lam: list(np.linspace(0, 400, 801))})
    P.nonneg("then r*·log₂(16/9) − log₂(r*(r*+1)) − Λ = a − log₂(r*(r*+1)) ≥ 0",
             astar - sp.log(rstar * (rstar + 1), 2), grid={lam: list(np.linspace(0, 400, 801))})
    grid_ok = all(failure_bound((d, d, d), K_, math.ceil(copies_rule((d, d, d), dl, K_))) <= dl
                  for d in (1, 4, 16, 64) for K_ in (0, 3, 10, 30) for dl in (0.5, 0.05, 1e-6))
    P.check("r(r+1)M(9/16)^r ≤ δ at r = ⌈r*⌉ (library failure_bound)", "grid (48 points)", grid_ok)
    mono = all((k + 1) * LOG2_BASE - math.log2((k + 1) * (k + 2)) >= k * LOG2_BASE - math.log2(k * (k + 1))
               for k in range(4, 10_000))
    P.check("rβ − log₂(r(r+1)) increases for r ≥ 4 (so every r ≥ r* ≥ 12 works)", "grid (r = 4 … 10⁴)", mono)
    P.nonneg("r* ≥ 12 (Λ ≥ 0)", rstar - 12, grid={lam: list(np.linspace(0, 50, 101))})
    _success(P)

    # (3) bits: per-layer error ≤ e/2, then the layer-wise certificate ≤ ε/2
    d_in, d_out = sp.symbols("d_i d_o", positive=True)
    Kst = sp.log(sp.sqrt(2 * d_in * d_out) / e, 2)
    P.equal("at K = K*: √(2 d_in d_out)·2^{−K−1} = e/2", sp.sqrt(2 * d_in * d_out) * 2 ** (-Kst - 1), e / 2)
    P.equal("library bits_rule on one layer = log₂(√(2 d_0 d_1)/e) with e = ε (l = 1)",
            bits_rule((d_in, d_out), eps), sp.log(sp.sqrt(2 * d_in * d_out) / eps, 2), grid={d_in: [1, 3, 8],
                                                                                          d_out: [1, 5],
                                                                                          eps: [0.1, 0.01]})
    P.nonneg("(1 + e/2)^l − 1 ≤ ((1 + e)^l − 1)/2 (convexity)", ((1 + e) ** l - 1) / 2 - ((1 + e / 2) ** l - 1),
             grid={e: list(logspace(1e-6, 1, 25)), l: [1, 2, 3, 5, 10, 30]})

    # (4) orders, sizes, the builder
    dsym = sp.Symbol("d", positive=True)
    # (l = 1: sympy takes no limit through the Max over layers of bits_rule)
    dep = SPEC.depth_bound(1, dims=(4, 4), eps=eps)
    P.limit_finite_positive("depth / (l log(dl/ε)) → finite > 0 as ε → 0 (l = 1, d = 4)",
                            dep / sp.log(4 / eps), eps, to=0)
    wid = SPEC.width_bound(0, (4, 4), eps, sp.Rational(1, 20))
    P.check("width / (d log²(dl/ε)) → 0 as ε → 0 (ours: log(l d² log(1/ε)/δ) copies; theirs log²)", "symbolic",
            sp.limit(wid / (4 * sp.log(4 / eps) ** 2), eps, 0) == 0)
    wd = SPEC.width_bound(1, (dsym, dsym, dsym), sp.Rational(1, 10), sp.Rational(1, 20))
    vals = [float(wd.subs(dsym, v) / (v * math.log2(v))) for v in (2 ** 8, 2 ** 16, 2 ** 32, 2 ** 64)]
    P.check("width / (d log₂ d) at d = 2^8 … 2^64 (ε = 0.1, δ = 0.05): bounded, tends to 3·2/log₂(16/9)",
            "grid (4 points)", max(vals) < 30 and abs(vals[-1] - vals[-2]) < abs(vals[1] - vals[0]),
            " ".join(f"{v:.2f}" for v in vals))

    def extra(plan, dims, e_, dl):
        K_ = plan.options["bits"]
        _, blocks = plan.layer_shapes, plan.pairs
        widths = [plan.layer_shapes[blocks[i][1 if i == 0 else 0]][0] - SPEC.width_bound(i, dims, e_, dl)
                  for i in range(len(dims) - 1)]
        return min(*widths, len(plan.layer_shapes) - SPEC.depth_bound(len(dims) - 1, dims=dims, eps=e_),
                   len(plan.layer_shapes) - SPEC.depth_bound(len(dims) - 1, K_))
    worst_b, count = builder_margin(SPEC, ints(1, 64, 5), (1, 2, 3), (0.3, 0.1, 0.01), (0.1, 1e-3),
                                    pair_widths=False, extra=extra)
    P.check("built weights, level widths and depth ≥ the rule (plans only)", f"grid ({count} points)", worst_b >= 0,
            f"min margin {worst_b:.3g}")
    Ks = sp.Symbol("K")
    P.equal("depth of the random network = 1 + l(K + 2)", SPEC.depth_bound(l, Ks), 1 + l * (Ks + 2))
    return P


def _effective(ticket, rand, d0):
    """Effective maps of a binary ticket by propagating unit vectors through each block's masked
    layers (torch, independent of the library's certificate code): block 0 on x = e_j (≥ 0, so the
    P column), block i ≥ 1 with every copy of input neuron j set to 1; per output neuron the copy
    with the largest row (unread copies were pruned to 0; the read ones are equal)."""
    import torch
    lins = [m for m in ticket.pruned_network(prune_buffers=False) if isinstance(m, torch.nn.Linear)]
    out = []
    plan = rand.plan
    for i, idx in enumerate(plan.pairs):
        d_out, d_in = plan.target_shapes[i]
        cols = lins[idx[0]].weight.shape[1]
        rho = 1 if i == 0 else cols // d_in
        v = torch.zeros(d_in, cols, dtype=torch.float64)
        for j in range(d_in):
            v[j, j * rho:(j + 1) * rho] = 1.0
        h = v
        for k, t in enumerate(idx):
            h = h @ lins[t].weight.T
            if k < len(idx) - 1:
                h = torch.relu(h)
        rows = h.T.numpy().reshape(d_out, -1, d_in)
        pick = np.abs(rows).sum(axis=2).argmax(axis=1)
        out.append(rows[np.arange(d_out), pick])
    return out


def _success(P: Proof):
    """Measured: at the rule's width, the fraction of seeds where no unit missed a requirement and the
    ticket certifies ≤ ε (the rule promises ≥ 1 − δ)."""
    ok, total = 0, 0
    for dims in ((2, 3, 2), (3, 4)):
        W = [0.5 * M for M in sltheory.gaussian_target(dims, 5)]
        for seed in range(4):
            rand = sltheory.random_network(W, eps=0.1, delta=0.1, seed=seed, construction="binary")
            t = sltheory.approximate(W, rand, eps=0.1)
            ok += t.stats["dead_units"] == 0 and t.error_bound <= 0.1
            total += 1
    P.check("at the rule (ε = 0.1, δ = 0.1; 2-3-2 and 3-4, 4 seeds each): no unit misses, bound ≤ ε",
            "measured", ok == total, f"{ok}/{total}")
    return ok
