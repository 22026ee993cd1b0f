"""Burkholz 2022 (arXiv:2205.02321) as built by sltheory's "burkholz": depth L+1 with ρ copies
of every hidden neuron; the copy-space certificate (sltheory.certificate.bound.certify_copies) and the
width rule.

Steps: ‖1_ρ⊗h‖ = √ρ‖h‖; M(1_ρ⊗h) = P h with P = M(1_ρ⊗I) (sum over copies); σ acts entrywise so
σ(1⊗v) = 1⊗σ(v); the chain ‖σ(Mĥ) − 1⊗σ(Wh)‖ ≤ ‖M‖Δ + ‖P − 1⊗W‖R end to end on random copy
networks; the rule is Pensia's with ρ·d_out outputs and reach + 2 log₂ ρ, its fixed point
n = rule(n); depth L+1; random weights quadratic in n.

With biases (ours): the affine copy step M(1⊗h) + p − 1⊗(Wh + b) = (P − 1⊗W)h + (p − 1⊗b)
(the bias error is charged as ‖p − 1⊗b‖, the weight error through R_ℓ = ‖W_ℓ‖R_{ℓ−1} + ‖b_ℓ‖);
the rule with biases is the bias-free one with d_in + 1 inputs, d_out + 1 outputs, ε / R_eff and
the reach n_reach·max(1, B/2) (one sympy expression); end to end, biased tickets on Ball and Box
domains stay below their certificate on sampled points.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from sltheory.certificate.bound import EffectiveMap, certify_copies
from sltheory.constructions.burkholz import CONSTRUCTION as SPEC
from sltheory.constructions.burkholz import (
    copies_rule,
    effective_radius,
    layer_sizes,
    samples_per_problem,
    samples_per_problem_biased,
)
from sltheory.constructions.subset_sum import samples_per_block
from sltheory.targets import as_target

from ._check import Proof, builder_margin, ints


def run() -> Proof:
    P = Proof("burkholz")
    rho, d = 3, 2
    h = sp.Matrix(sp.symbols(f"h0:{d}", real=True))
    rep = sp.Matrix.vstack(*([h] * rho))
    P.equal("‖1_ρ⊗h‖² = ρ‖h‖² (ρ=3, d=2)", (rep.T * rep)[0], rho * (h.T * h)[0])
    M = sp.Matrix(2, rho * d, sp.symbols(f"m0:{2 * rho * d}", real=True))
    # columns ordered (j, c) → j·ρ + c: the copies of input j are columns jρ … jρ+ρ−1
    rep_jc = sp.Matrix([h[j] for j in range(d) for _ in range(rho)])
    S = sp.Matrix(rho * d, d, lambda r, j: 1 if r // rho == j else 0)  # 1_ρ ⊗ I in that order
    P.equal("M(1⊗h) = (M(1⊗I)) h with the (j, c) column order", M * rep_jc, (M * S) * h)
    v = sp.Symbol("v", real=True)
    P.equal("σ applied entrywise to 1⊗v equals 1⊗σ(v)", sp.Matrix([v] * rho).applyfunc(lambda z: sp.Max(z, 0)),
            sp.kronecker_product(sp.ones(rho, 1), sp.Matrix([sp.Max(v, 0)])))

    # End to end: random copy networks; the bound dominates sampled errors.
    rng = np.random.default_rng(0)
    worst, count = 0.0, 0
    for _ in range(60):
        dims = rng.integers(1, 5, size=rng.integers(3, 5))
        L = len(dims) - 1
        copies = [int(rng.integers(1, 4)) for _ in range(L - 1)] + [1]
        tgt = as_target([rng.standard_normal((o, i)) for i, o in zip(dims[:-1], dims[1:])], rescale=True)
        W1 = np.repeat(tgt.weights[0], copies[0], axis=0)
        first = EffectiveMap(W1 + 1e-2 * rng.standard_normal(W1.shape), -W1 + 1e-2 * rng.standard_normal(W1.shape))
        later = []
        for k in range(1, L):
            Wk = tgt.weights[k]
            Mk = np.zeros((copies[k] * Wk.shape[0], copies[k - 1] * Wk.shape[1]))
            for row in range(Mk.shape[0]):  # random copy weights whose sums ≈ the target weight
                m = row // copies[k]
                for j in range(Wk.shape[1]):
                    parts = rng.dirichlet(np.ones(copies[k - 1])) * Wk[m, j]
                    rho = copies[k - 1]
                    Mk[row, j * rho:(j + 1) * rho] = parts + 1e-2 * rng.standard_normal(rho)
            Pk = Mk.reshape(Mk.shape[0], Wk.shape[1], copies[k - 1]).sum(axis=2)
            later.append((Pk, Mk))
        cert = certify_copies(tgt, first, later, copies)
        xs = rng.standard_normal((2000, dims[0]))
        xs /= np.linalg.norm(xs, axis=1, keepdims=True)
        hf = xs
        hg = np.maximum(xs, 0) @ first.P.T + np.maximum(-xs, 0) @ first.N.T
        for k, Wk in enumerate(tgt.weights):
            hf = hf @ Wk.T
            if k > 0:
                hg = hg @ later[k - 1][1].T
            if k < L - 1:
                hf, hg = np.maximum(hf, 0), np.maximum(hg, 0)
        err = np.linalg.norm(hf - hg, axis=1).max() * tgt.output_scale
        worst = max(worst, err / cert.error_bound)
        count += 1
    P.check("whole copy-space chain: sampled error ≤ certified bound", f"grid ({count}×2000 points)",
            worst <= 1.0, f"max sampled/bound = {worst:.3f}")

    # The width rule.
    dd_in, dd_out, ll, e, dl, r = sp.symbols("d_in d_out l epsilon delta rho", positive=True)
    P.equal("samples_per_problem = Pensia's rule with ρ d_out outputs and reach + 2 log₂ ρ",
            samples_per_problem(dd_in, dd_out, ll, e, dl, r, C=1, n_reach=16),
            samples_per_block(dd_in, r * dd_out, ll, e, dl, 1, 16 + 2 * sp.log(r, 2)))
    for dims in ((2, 3, 2), (8, 16, 16, 4), (784, 300, 100, 10)):
        nfix = copies_rule(dims, 0.05, 0.1)
        resid = max(samples_per_problem(dims[i], dims[i + 1], len(dims) - 1, 0.05, 0.1, nfix)
                    for i in range(len(dims) - 1)) - nfix
        P.check(f"fixed point n = rule(ρ = n) for {'-'.join(map(str, dims))}", "grid (1 point)",
                abs(resid) < 1e-6, f"n = {nfix:.3f}, residual {resid:.1e}")
    nn_ = sp.Symbol("n", positive=True)
    dims_s = sp.symbols("d0:4", positive=True)
    total = sum(o * i for o, i in layer_sizes(dims_s, [nn_] * 3)[0])
    P.check("random weights are quadratic in n (depth 3)", "symbolic", sp.Poly(sp.expand(total), nn_).degree() == 2,
            f"leading term ({sp.Poly(sp.expand(total), nn_).LC()})·n²")
    Ls = sp.Symbol("L", positive=True, integer=True)
    P.equal("depth of the random network = L + 1", SPEC.depth_bound(Ls), Ls + 1)
    worst, count = builder_margin(SPEC, ints(1, 128, 5), (1, 2, 3), (0.05,), (0.1,), pair_widths=False)
    P.check("built random weights ≥ the rule (plans only)", f"grid ({count} points)", worst >= 0,
            f"min margin {worst:.3g}")
    _biases(P)
    return P


def _biases(P: Proof) -> None:
    import torch

    import sltheory

    rho, d = 2, 2
    h = sp.Matrix(sp.symbols(f"h0:{d}", real=True))
    bvec = sp.Matrix(sp.symbols("b0:1", real=True))
    W = sp.Matrix(1, d, sp.symbols("w0:2", real=True))
    M = sp.Matrix(rho, rho * d, sp.symbols(f"m0:{rho * rho * d}", real=True))
    pv = sp.Matrix(sp.symbols(f"p0:{rho}", real=True))
    rep_jc = sp.Matrix([h[j] for j in range(d) for _ in range(rho)])
    S = sp.Matrix(rho * d, d, lambda r, j: 1 if r // rho == j else 0)
    ones = sp.ones(rho, 1)
    P.equal("affine copy step: M(1⊗h)+p−1⊗(Wh+b) = (P−1⊗W)h + (p−1⊗b)",
            M * rep_jc + pv - ones * (W * h + bvec), (M * S - ones * W) * h + (pv - ones * bvec))
    dd_in, dd_out, ll, e, dl, r, R, B = sp.symbols("d_in d_out l epsilon delta rho R B", positive=True)
    P.equal("bias rule = Pensia's at d_in+1, ρ(d_out+1), ε/R_eff, reach·max(1,B/2)",
            samples_per_problem_biased(dd_in, dd_out, ll, e, dl, r, R, B, C=1, n_reach=16),
            samples_per_block(dd_in + 1, r * (dd_out + 1), ll, e / R, dl, 1, 16 * sp.Max(1, B / 2) + 2 * sp.log(r, 2)))
    ds = sp.symbols("d0:4", positive=True)
    P.equal("R_eff = R + B Σ_{ℓ<L} √d_ℓ (biased hidden layers)", effective_radius(ds, R, B, (True, False, True)),
            R + B * sp.sqrt(ds[1]))
    # the bias-free unit-ball rule is the special case without the extra input/output
    P.nonneg("R_eff ≥ R (biases only widen the radius)", effective_radius(ds, R, B) - R,
             grid={}, assumptions=[sp.Q.positive(v) for v in (*ds, R, B)])

    rng = np.random.default_rng(1)
    worst, count = 0.0, 0
    doms = [sltheory.Ball(), sltheory.Ball(1.7), sltheory.Box(0, 1), sltheory.Box(-1, 0.5)]
    for trial in range(8):
        dims = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(3, 5)))]
        layers = []
        for i, o in zip(dims[:-1], dims[1:]):
            Wl = rng.standard_normal((o, i))
            layers.append((Wl / np.linalg.norm(Wl, 2), rng.uniform(-1.5, 1.5, o) if rng.random() < 0.8 else None))
        dom = doms[trial % len(doms)]
        rand = sltheory.random_network(layers, n=int(rng.integers(3, 7)), seed=trial, construction="burkholz",
                                       domain=dom)
        ticket = sltheory.approximate(layers, rand)
        X = dom.sample(4000, dims[0], torch.Generator().manual_seed(trial))
        with torch.no_grad():
            err = float((sltheory.as_target(layers).to_module()(X) - ticket.network(X)).norm(dim=1).max())
        worst = max(worst, err / ticket.error_bound)
        count += 1
    P.check("biased tickets, Ball and Box: sampled error ≤ certified bound", f"grid ({count}×4000 points)",
            worst <= 1.0, f"max sampled/bound = {worst:.3f}")
