"""Burkholz 2022 (ICML, arXiv:2205.02343) as built by sltheory's "conv_burkholz": a depth-(L+1)
random CNN with ρ copies of every channel (copy-major: copy k of channel j is channel k·c + j), its
copy-space certificate and its width rule (sltheory/conv/burkholz.py, module docstring).

Steps: the univariate identity σ(a x) = |a| σ(±x) and ‖[σ(x); σ(−x)]‖ = ‖x‖ (entrywise, symbolic);
the copy-major order makes Flatten commute with the lift E_ρ (symbolic); conv(M, E_ρ h) = conv(P, h)
with P the sums over input copies, through the exact unrolled matrices (measured on random layers);
the max-pool step |max u − max v| ≤ max |u − v| (grid); the rule is Pensia's with ρ·d'_out outputs
and reach + 2 log₂ ρ at ε' (symbolic) and its fixed point n = rule(n); depth L+1; end to end, tickets
of random small conv targets (with and without biases, with residual blocks) stay below their
certificate on sampled points.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ._check import Proof


def run() -> Proof:
    from sltheory.constructions.subset_sum import samples_per_block
    from sltheory.conv.burkholz import CONSTRUCTION as SPEC
    from sltheory.conv.burkholz import copies_rule, rule_eps, samples_per_problem, unrolled

    P = Proof("conv_burkholz")
    x = sp.Symbol("x", real=True)
    relu = lambda z: sp.Max(z, 0)  # noqa: E731
    pa = sp.Symbol("p", positive=True)
    grid = {pa: [0.01, 0.5, 1.0, 1.7, 2.0], x: [-3.0, -1.0, -0.2, 0.0, 0.3, 1.0, 2.5]}
    P.equal("σ(a x) = a σ(x) for a > 0", relu(pa * x), pa * relu(x), grid=grid)
    P.equal("σ(a x) = |a| σ(−x) for a < 0", relu(-pa * x), pa * relu(-x), grid=grid)
    P.equal("x = σ(x) − σ(−x)", relu(x) - relu(-x), x)
    P.equal("σ(x)² + σ(−x)² = x² (so ‖[σ(x); σ(−x)]‖ = ‖x‖)", relu(x) ** 2 + relu(-x) ** 2, x ** 2)

    # copy-major Flatten: (h; h; …; h) on the channel axis, flattened = ρ copies of flatten(h)
    rho, c, n = 3, 2, 2
    h = sp.Matrix(c, n, sp.symbols(f"h0:{c * n}", real=True))
    lifted = sp.Matrix.vstack(*([h] * rho))                     # (ρc, n), channel k·c + j
    flat_lifted = sp.Matrix(list(lifted))                         # row-major flatten
    P.equal("Flatten(E_ρ h) = E_ρ Flatten(h) (copy-major channels)", flat_lifted,
            sp.Matrix.vstack(*([sp.Matrix(list(h))] * rho)))

    # conv(M, E_ρ h) = conv(P, h), P[(k,o), j, q] = Σ_c M[(k,o), (c,j), q], through unrolled matrices
    rng = np.random.default_rng(0)
    worst = 0.0
    cases = 0
    for kernel, spatial, stride, pad in [((3,), (7,), (2,), (1,)), ((2, 3), (4, 5), (1, 2), (1, 1)), ((), (), (), ())]:
        c_in, c_out, r_in, r_out = 2, 3, 4, 2
        M = rng.standard_normal((r_out * c_out, r_in * c_in) + kernel)
        Pk = M.reshape((r_out * c_out, r_in, c_in) + kernel).sum(axis=1)
        in_shape = (c_in,) + spatial if kernel else (c_in,)
        hv = rng.standard_normal((c_in,) + spatial)
        lift = np.concatenate([hv] * r_in, axis=0)
        U = unrolled(M, (r_in * c_in,) + spatial if kernel else (r_in * c_in,), stride, pad)
        V = unrolled(Pk, in_shape, stride, pad)
        worst = max(worst, float(np.abs(U @ lift.reshape(-1) - V @ hv.reshape(-1)).max()))
        cases += 1
    P.check("conv(M, E_ρ h) = conv(P, h) with P the sums over copies", f"measured ({cases} layers)",
            worst <= 1e-12, f"max |difference| = {worst:.1e}")

    # max pool: |max u − max v| ≤ max |u − v|
    worst_pool = -np.inf
    for u in itertools.product((-1.0, -0.3, 0.0, 0.4, 1.0), repeat=2):
        for v in itertools.product((-0.7, 0.0, 0.2, 0.9), repeat=2):
            worst_pool = max(worst_pool, abs(max(u) - max(v)) - max(abs(p - q) for p, q in zip(u, v)))
    P.check("|max u − max v| ≤ max |u − v| (max pools are √κ-Lipschitz)", "grid (400 points)", worst_pool <= 0,
            f"max excess {worst_pool:.2g}")

    # the width rule
    di, do, ll, e, dl, r = sp.symbols("d_in d_out l epsilon delta rho", positive=True)
    R0, g, G, nb = sp.symbols("R_0 g G n_b", positive=True)
    P.equal("rule = Pensia's with ρ d'_out outputs and reach + 2 log₂ ρ",
            samples_per_problem(di, do, ll, e, dl, r, C=1, n_reach=16),
            samples_per_block(di, r * do, ll, e, dl, 1, 16 + 2 * sp.log(r, 2)))
    P.equal("ε' = ε / ((R_0 + #biased) g^L Π Lip 2^r)", rule_eps(e, R0, g, ll, G, nb),
            e / ((R0 + nb) * sp.Max(g, 1) ** ll * G))
    for dims in (((9, 6), (6, 4), (4, 2)), ((27, 16), (144, 32), (512, 10))):
        nfix = copies_rule(dims, len(dims), 0.05, 0.1)
        resid = max(samples_per_problem(di_, do_, len(dims), 0.05, 0.1, nfix) for di_, do_ in dims) - nfix
        P.check(f"fixed point n = rule(ρ = n), {len(dims)} layers", "grid (1 point)", abs(resid) < 1e-6,
                f"n = {nfix:.3f}, residual {resid:.1e}")
    Ls = sp.Symbol("L", positive=True, integer=True)
    P.equal("depth of the random network = L + 1", SPEC.depth_bound(Ls), Ls + 1)
    _end_to_end(P)
    return P


def _end_to_end(P: Proof) -> None:
    import torch
    from torch import nn

    import sltheory
    from sltheory.conv import approximate, random_network
    from sltheory.conv.modules import ResidualBlock
    from sltheory.conv.target import conv_target

    worst, count = 0.0, 0
    doms = [sltheory.Ball(), sltheory.Box(0, 1), sltheory.Box(-1, 1), sltheory.Ball(1.5)]
    for trial in range(6):
        torch.manual_seed(trial)
        bias = trial % 2 == 1
        if trial % 4 < 2:
            model = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool1d(2),
                                  nn.Conv1d(2, 2, 3, stride=2, padding=1, bias=bias), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(4, 2, bias=bias))
            shape: tuple = (1, 8)
        else:
            model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=bias), nn.ReLU(),
                                  ResidualBlock(2, 2, 1, dims=2, bias=bias), nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(8, 2, bias=bias))
            shape = (1, 4, 4)
        model = model.double()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(0.5)
        dom = doms[trial % len(doms)]
        rand = random_network(model, input_shape=shape, seed=trial, n=6, domain=dom, construction="conv_burkholz")
        ticket = approximate(model, rand, eps=None)
        tgt = conv_target(model, shape)
        X = dom.sample(3000, tgt.input_dim, torch.Generator().manual_seed(trial))
        err = float((tgt(X) - ticket(X)).norm(dim=1).max())
        worst = max(worst, err / ticket.error_bound)
        count += 1
    P.check("conv tickets (biases, residual blocks, Ball and Box): sampled error ≤ bound",
            f"grid ({count}×3000 points)", worst <= 1.0, f"max sampled/bound = {worst:.3f}")
