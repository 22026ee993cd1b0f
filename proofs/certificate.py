"""The certified bound of ``ticket.error_bound`` (sltheory/certificate/bound.py) as an inequality chain.

Each step of the module docstring of :mod:`sltheory.certificate.bound` is checked: the identities with
sympy (symbolic), the inequalities sympy cannot decide on grids, and the whole chain end to end
on random pruned-like networks (the bound must dominate every sampled error). The recursion is
checked through :func:`sltheory.bounds.propagate`, the very function ``certify`` calls.

The S-procedure bound (``method="sdp"``, :mod:`sltheory.certificate.sprocedure`): the constraints (c1)–(c4) hold
on every reachable state, the Lagrangian identity vᵀS v = t‖z‖² − ‖Lv‖² − Σ y_k (p_k·v)(q_k·v),
the κ shift that turns an almost-feasible S into a bound, the whole bound end to end (random
networks, errors sampled and searched), and the per-pair float slack against exact rationals.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from sltheory.bounds import propagate
from sltheory.certificate import sprocedure as _sdp
from sltheory.certificate.bound import EffectiveMap, certify, float_slack, pair_effective_map, pair_float_slack
from sltheory.targets import as_target

from ._check import Proof


def relu(v):
    return sp.Max(v, 0)


def run() -> Proof:
    P = Proof("certificate")
    x, a, b = sp.symbols("x a b", real=True)
    ap = sp.symbols("a_p", positive=True)
    grid1 = {x: np.linspace(-2, 2, 41).tolist(), a: np.linspace(-2, 2, 41).tolist()}

    P.equal("x = σ(x) − σ(−x)", relu(x) - relu(-x), x, grid={x: np.linspace(-3, 3, 61).tolist()})
    P.equal("x² = σ(x)² + σ(−x)² (so ‖x⁺‖² + ‖x⁻‖² = ‖x‖²)", relu(x) ** 2 + relu(-x) ** 2, x ** 2,
            grid={x: np.linspace(-3, 3, 61).tolist()})
    P.equal("σ(a x) = a σ(x) for a > 0 (positive homogeneity)", relu(ap * x), ap * relu(x),
            grid={ap: [0.1, 0.5, 1, 3], x: np.linspace(-3, 3, 61).tolist()})
    P.equal("σ(a x) = a⁺ σ(x) + a⁻ σ(−x) (one kept weight per unit)", relu(a * x),
            relu(a) * relu(x) + relu(-a) * relu(-x), grid=grid1)
    P.nonneg("ReLU is 1-Lipschitz: |a − b| − |σ(a) − σ(b)| ≥ 0",
             sp.Abs(a - b) - sp.Abs(relu(a) - relu(b)),
             grid={a: np.linspace(-2, 2, 41).tolist(), b: np.linspace(-2, 2, 41).tolist()})

    # Matrix identities behind the two splits (noncommutative matrix symbols).
    n = sp.Symbol("n")
    Pm, Nm, W, G = (sp.MatrixSymbol(s, n, n) for s in ("P", "N", "W", "G"))
    xp, xm, h, hh = (sp.MatrixSymbol(s, n, 1) for s in ("x_p", "x_m", "h", "hh"))
    P.equal("G₁(x) − W₁x = (P−W)x⁺ + (N+W)x⁻",
            sp.expand(Pm * xp + Nm * xm - W * (xp - xm)), sp.expand((Pm - W) * xp + (Nm + W) * xm))
    P.equal("split 1: Gĥ − Wh = (G−W)ĥ + W(ĥ−h)", sp.expand(G * hh - W * h),
            sp.expand((G - W) * hh + W * (hh - h)))
    P.equal("split 2: Gĥ − Wh = (G−W)h + G(ĥ−h)", sp.expand(G * hh - W * h),
            sp.expand((G - W) * h + G * (hh - h)))

    # The recursion, through the library's own propagate(): with ‖W‖ ≤ 1, 1 + Δ_i ≤ (1+e)(1+Δ_{i−1}).
    e, g, d, s, t = sp.symbols("e g Delta s t", nonnegative=True)
    # r ≤ 1 + Δ and ‖W‖ ≤ 1 written as r = 1 + Δ − s, ‖W‖ = 1 − t with s, t ≥ 0; R ≤ 1 likewise.
    first_split = e * (1 + d - s) + (1 - t) * d
    P.nonneg("(1+e)(1+Δ) − (1 + first split) ≥ 0 when r ≤ 1+Δ, ‖W‖ ≤ 1",
             sp.expand((1 + e) * (1 + d) - (1 + first_split)), grid={})
    new_delta, _, _ = propagate(e, g, 1 - t, d, 1 + d - s, 1)
    P.nonneg("propagate(): Δ_i ≤ first split (min of the two)", sp.expand(first_split - new_delta),
             grid={e: [0, 0.1, 1], g: [0, 0.5, 2], t: [0, 0.5], d: [0, 0.3], s: [0, 0.2, 0.5]})
    P.equal("propagate() on numbers equals its sympy form",
            sp.Float(propagate(0.1, 1.2, 0.9, 0.05, 1.1, 0.8)[0]),
            propagate(sp.Rational(1, 10), sp.Rational(6, 5), sp.Rational(9, 10), sp.Rational(1, 20),
                      sp.Rational(11, 10), sp.Rational(4, 5))[0], grid={})

    # End to end: random pruned-like networks, the bound dominates sampled errors.
    rng = np.random.default_rng(0)
    worst_ratio, count = 0.0, 0
    for _ in range(100):
        dims = rng.integers(1, 7, size=rng.integers(2, 5))
        Ws = [rng.standard_normal((o, i)) for i, o in zip(dims[:-1], dims[1:])]
        tgt = as_target(Ws, rescale=True)
        maps = []
        for k, Wk in enumerate(tgt.weights):
            E = 1e-2 * rng.standard_normal(Wk.shape)
            maps.append(EffectiveMap(Wk + E, -Wk + 1e-2 * rng.standard_normal(Wk.shape) if k == 0 else None))
        cert = certify(tgt, maps)
        xs = rng.standard_normal((2000, dims[0]))
        xs /= np.linalg.norm(xs, axis=1, keepdims=True)
        hf, hg = xs, xs
        for k, (Wk, m) in enumerate(zip(tgt.weights, maps)):
            hf = hf @ Wk.T
            hg = np.maximum(hg, 0) @ m.P.T + (np.maximum(-hg, 0) @ m.N.T if m.N is not None else 0)
            if k < len(maps) - 1:
                hf, hg = np.maximum(hf, 0), np.maximum(hg, 0)
        err = np.linalg.norm(hf - hg, axis=1).max() * tgt.output_scale
        worst_ratio = max(worst_ratio, err / cert.error_bound)
        count += 1
    P.check("whole chain: sampled error ≤ certified bound (random nets)", f"grid ({count}×2000 points)",
            worst_ratio <= 1.0, f"max sampled/bound = {worst_ratio:.3f}")

    _sprocedure(P, rng)

    # Float slack: exact rational arithmetic vs float64 on a small chain.
    mats = [rng.uniform(-1, 1, (6, 4)), rng.uniform(-1, 1, (5, 6)), rng.uniform(-1, 1, (2, 5))]
    slack = float_slack(mats)
    worst = 0.0
    for _ in range(50):
        v = rng.standard_normal(4)
        v /= np.linalg.norm(v)
        fl, ex = v.copy(), [Fraction(float(c)) for c in v]
        for k, M in enumerate(mats):
            fl = M @ fl
            ex = [sum(Fraction(float(M[i, j])) * ex[j] for j in range(M.shape[1])) for i in range(M.shape[0])]
            if k < len(mats) - 1:
                fl = np.maximum(fl, 0)
                ex = [max(c, Fraction(0)) for c in ex]
        worst = max(worst, float(np.linalg.norm(fl - np.array([float(c) for c in ex]))))
    P.check("float slack ≥ |float64 − exact rational| (Higham Thm 3.5)", "grid (50 points)",
            worst <= slack, f"max deviation {worst:.2e} ≤ slack {slack:.2e}")
    return P


def _sprocedure(P: Proof, rng) -> None:
    """Steps of the S-procedure bound (module docstring of sltheory.certificate.bound)."""
    s, t, a, lam = sp.symbols("s t a lambda", real=True)
    dsig = relu(s) - relu(t)
    grid = {s: np.linspace(-2, 2, 41).tolist(), t: np.linspace(-2, 2, 41).tolist()}
    P.equal("(c2) σ(a)(σ(a) − a) = 0", relu(a) * (relu(a) - a), 0, grid={a: np.linspace(-3, 3, 61).tolist()})
    P.nonneg("(c4) δ(Δ − δ) ≥ 0 for δ = σ(s) − σ(t), Δ = s − t", dsig * ((s - t) - dsig), grid=grid)
    lp = sp.symbols("l_p", nonnegative=True)
    P.nonneg("(c4) via δ = λΔ, λ ∈ [0, 1]: λ(1−λ)Δ² ≥ 0 (λ = l/(1+l))",
             sp.simplify((lp / (1 + lp)) * (1 - lp / (1 + lp)) * a ** 2), grid={})
    # Δ_i = E_i h + P_i δ (the expansion the lifted forms use), noncommutative matrix symbols
    n = sp.Symbol("n")
    Pm, W = (sp.MatrixSymbol(x, n, n) for x in ("P", "W"))
    h, hh = (sp.MatrixSymbol(x, n, 1) for x in ("h", "hh"))
    P.equal("Δ_i = P ĥ − W h = (P − W) h + P (ĥ − h)", sp.expand(Pm * hh - W * h),
            sp.expand((Pm - W) * h + Pm * (hh - h)))
    # Lagrangian identity on a 3-dimensional lifted vector (symbols), one constraint of each kind
    v = sp.Matrix(sp.symbols("v0:3", real=True))
    p1, q1, p2, q2, Lr = (sp.Matrix(sp.symbols(f"{nm}0:3", real=True)).T for nm in ("p", "q", "pp", "qq", "L"))
    y1, y2, tt = sp.symbols("y1 y2 t", real=True)
    Zm = sp.diag(1, 0, 0)
    sym = lambda x, y: (x.T * y + y.T * x) / 2  # noqa: E731
    S = tt * Zm - Lr.T * Lr - y1 * sym(p1, q1) - y2 * sym(p2, q2)
    lhs = (v.T * S * v)[0]
    rhs = tt * v[0] ** 2 - (Lr * v)[0] ** 2 - y1 * (p1 * v)[0] * (q1 * v)[0] - y2 * (p2 * v)[0] * (q2 * v)[0]
    P.equal("vᵀS(t, y)v = t‖z‖² − ‖Lv‖² − Σ y_k (p_k·v)(q_k·v)", sp.expand(lhs), sp.expand(rhs))
    # κ shift: vᵀ(S + κI)v ≥ 0, ‖z‖² = 1 − α ≤ 1, ‖w‖² = R²‖z‖² − β ≤ R²‖z‖²  ⇒  ‖Lv‖² ≤ t + κ(1 + R²)
    kap, R, al, be, T = sp.symbols("kappa R alpha beta T", nonnegative=True)
    z2 = 1 - al
    w2 = R ** 2 * z2 - be
    # from vᵀSv ≥ −κ‖v‖²: ‖Lv‖² + Σ y g ≤ t‖z‖² + κ(‖z‖² + ‖w‖²), Σ y g ≥ 0 on reachable v
    P.nonneg("κ shift: t + κ(1 + R²) − (t‖z‖² + κ(‖z‖² + ‖w‖²)) ≥ 0  (t = T ≥ 0)",
             sp.expand(T + kap * (1 + R ** 2) - (T * z2 + kap * (z2 + w2))), grid={},
             assumptions=[sp.Q.nonnegative(x) for x in (T, kap, R, al, be)])

    # End to end: random pruned-like networks; the S-procedure bound dominates every sampled and
    # searched error and never exceeds the layer-wise bound.
    import torch

    from sltheory.certificate import adversarial_error

    worst, not_below, count = 0.0, 0, 0
    for k in range(40):
        dims = rng.integers(1, 7, size=rng.integers(2, 5))
        Ws = [rng.standard_normal((o, i)) for i, o in zip(dims[:-1], dims[1:])]
        tgt = as_target(Ws, rescale=True)
        scale = 10.0 ** -rng.integers(1, 6)
        maps = [EffectiveMap(W + scale * rng.standard_normal(W.shape),
                             -W + scale * rng.standard_normal(W.shape) if j == 0 else None)
                for j, W in enumerate(tgt.weights)]
        old, new = certify(tgt, maps, method="layerwise"), certify(tgt, maps, method="sdp")
        not_below += new.error_bound > old.error_bound
        mats = [torch.as_tensor(m.P) for m in maps]
        N1 = torch.as_tensor(maps[0].N)

        def net(x, mats=mats, N1=N1, scale=tgt.output_scale):
            h = torch.relu(x) @ mats[0].T + torch.relu(-x) @ N1.T
            for M in mats[1:]:
                h = torch.relu(h) @ M.T
            return h * scale
        xs = torch.as_tensor(rng.standard_normal((2000, dims[0])))
        xs /= torch.linalg.vector_norm(xs, dim=1, keepdim=True)
        f = lambda x, tgt=tgt: tgt(x) * tgt.output_scale  # noqa: E731
        sampled = float(torch.linalg.vector_norm(f(xs) - net(xs), dim=1).max())
        searched, _ = adversarial_error(f, net, int(dims[0]), starts=256, refine=8, steps=40, seed=k)
        worst = max(worst, max(sampled, searched) / new.error_bound)
        count += 1
    P.check("S-procedure bound ≥ sampled and searched errors (random nets)",
            f"grid ({count} nets × 2000 points + search)", worst <= 1.0, f"max error/bound = {worst:.3f}")
    P.check("S-procedure bound ≤ layer-wise bound", f"grid ({count} nets)", not_below == 0,
            f"{not_below} above")

    # The κ shift in floating point: an infeasible (t = 0) point is repaired, never trusted.
    Ws = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    tgt = as_target(Ws, rescale=True)
    maps = [EffectiveMap(tgt.weights[0] + 1e-2 * rng.standard_normal((4, 3)),
                         -tgt.weights[0] + 1e-2 * rng.standard_normal((4, 3))),
            EffectiveMap(tgt.weights[1] + 1e-2 * rng.standard_normal((2, 4)), None)]
    old = certify(tgt, maps, method="layerwise")
    F, Fa = _sdp.build(list(tgt.weights), maps[0].P, maps[0].N, [maps[1].P], [old.propagated[0]],
                       old.propagated[1], [tgt.norms[0], 1.0])
    t_opt, y = _sdp.solve(F)
    lam_min = float(np.linalg.eigvalsh(_sdp.assemble(F, 0.0, y))[0])
    repaired = _sdp.verified_value(F, Fa, 0.0, y)
    P.check("κ shift: S(0, y) has λ_min < 0 and the repaired value is > t* (never trusts S)",
            "grid (1 instance)", lam_min < 0 and repaired >= t_opt,
            f"λ_min = {lam_min:.2e}, repaired {repaired:.3g} ≥ t* {t_opt:.3g}")

    # Per-pair float slack vs exact rational arithmetic (evaluation) and vs the exact maps.
    A, B, slack, worst = pair_slack_and_deviation(rng, 10, 30)
    m = pair_effective_map(A, B, signed=True)
    Pe = [[sum(Fraction(float(B[o, k])) * Fraction(float(max(A[k, j], 0))) for k in range(10)) for j in range(3)]
          for o in range(4)]
    worst_map = max(abs(float(Fraction(float(m.P[o, j])) - Pe[o][j])) for o in range(4) for j in range(3))
    P.check("pair float slack ≥ |float64 − exact| (evaluation and map entries)", "grid (30 points)",
            worst <= slack and worst_map * np.sqrt(12) <= slack,
            f"eval {worst:.2e}, map {worst_map:.2e} ≤ slack {slack:.2e}")


def pair_slack_and_deviation(rng, units: int, points: int):
    """A random signed pair 3 → ``units`` → 4 (one weight per unit): its per-pair float slack and
    the largest ‖float64 pair(x) − exact rational pair(x)‖ over ``points`` unit inputs.
    Returns (A, B, slack, deviation)."""
    A = np.zeros((units, 3))
    A[np.arange(units), rng.integers(0, 3, units)] = rng.uniform(-1, 1, units)
    B = rng.uniform(-1, 1, (4, units))
    m = pair_effective_map(A, B, signed=True)
    slack = pair_float_slack([A, B], [np.linalg.norm(np.hstack([m.P, m.N]), 2) * (1 + 1e-12)])
    worst = 0.0
    for _ in range(points):
        x = rng.standard_normal(3)
        x /= np.linalg.norm(x)
        fl = B @ np.maximum(A @ x, 0)
        xe = [Fraction(float(c)) for c in x]
        h = [max(sum(Fraction(float(A[k, j])) * xe[j] for j in range(3)), Fraction(0)) for k in range(units)]
        ex = [sum(Fraction(float(B[o, k])) * h[k] for k in range(units)) for o in range(4)]
        worst = max(worst, float(np.linalg.norm(fl - np.array([float(c) for c in ex]))))
    return A, B, slack, worst
