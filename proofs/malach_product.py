"""malach_product — OUR variant of Malach et al. 2020 (arXiv:2002.00585): one random path per
target weight and sign, taken when the product |a|·b lies in a window (one event, not the paper's
two closeness events of ``malach``); width from an explicit-constant rule proven here.

Steps: X = |a|·b (a, b ~ U[−1, 1]) has density ½ ln(1/|x|), decreasing in |x|; so the least
probability of a ±τ window over |w| ≤ 1 is at w = 1: p(τ) = ½(τ + (1−τ) ln(1−τ)) = τ²/4 + O(τ³);
n = ln(l N/δ)/p(τ) candidates per slot miss with probability ≤ e^{−pn} = δ/(lN), so the union
bound over all l·N problems is ≤ δ; hits within τ = e/√N give the layer budget (as for
subset_sum). Orders: n ~ 8 l² d_in d_out ε⁻² ln(·) — polynomial in d, l and 1/ε.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from sltheory.constructions.malach_product import CONSTRUCTION as SPEC
from sltheory.constructions.malach_product import hit_probability, samples_per_block

from ._check import Proof, builder_margin, ints, logspace


def run() -> Proof:
    P = Proof("malach_product")
    t, x, tau = sp.symbols("t x tau", positive=True)
    u = sp.Symbol("u", positive=True)
    l, N, d = sp.symbols("l N d", positive=True, integer=True)
    eps, delta, p = sp.symbols("epsilon delta p", positive=True)

    # CDF of UV (U, V ~ U[0,1]): P(UV ≤ t) = ∫_0^1 min(1, t/u) du = t − t ln t.
    cdf = sp.integrate(1, (u, 0, t)) + sp.integrate(t / u, (u, t, 1))
    P.equal("P(UV ≤ t) = t − t ln t", cdf, t - t * sp.log(t))
    density = sp.diff(cdf, t)
    P.equal("density of UV = ln(1/t); of |a|·b: ½ ln(1/|x|)", density, sp.log(1 / t))
    P.nonneg("density decreasing: −d/dt ln(1/t) = 1/t ≥ 0", -sp.diff(sp.log(1 / t), t), grid={t: [0.1, 0.5, 1]})
    window = sp.integrate(sp.log(1 / x) / 2, (x, 1 - tau, 1))
    P.equal("p(τ) = ∫_{1−τ}^1 ½ ln(1/x) dx = library hit_probability", window, hit_probability(tau))
    P.equal("p(τ) = τ²/4 + O(τ³)", sp.series(hit_probability(tau), tau, 0, 3).removeO(), tau ** 2 / 4)
    # Window monotonicity: any window [w−τ, w+τ], |w| ≤ 1, has at least p(τ) (numeric, exact CDF).
    G = lambda v: 0.5 * (1 - v + v * math.log(v)) if v > 0 else 0.5  # P(X ≥ v), v ∈ [0, 1]
    worst = math.inf
    for tv in logspace(1e-4, 0.5, 12):
        for w in np.linspace(0, 1, 201):
            lo, hi = max(w - tv, 0.0), min(w + tv, 1.0)
            mass = G(lo) - G(hi) + (0.5 - G(min(tv - w, 1.0)) if w < tv else 0.0)
            worst = min(worst, mass - float(hit_probability(tv)))
    P.check("every window [w−τ, w+τ] ⊂ reach has mass ≥ p(τ)", "grid (2412 points)", worst >= -1e-12,
            f"min(mass − p(τ)) = {worst:.2e}")
    # Union bound.
    P.equal("e^{−p n} = δ/(l N) at n = ln(lN/δ)/p", sp.exp(-p * sp.log(l * N / delta) / p), delta / (l * N))
    P.nonneg("(1 − p)^n ≤ e^{−pn}: e^{−p} − (1 − p) ≥ 0", sp.exp(-p) - (1 - p), grid={p: logspace(1e-9, 1, 30)})
    # Orders.
    n_sym = samples_per_block(4, 4, 2, eps, sp.Rational(1, 10))
    P.limit_finite_positive("order in ε: n · ε² → finite > 0 (ε → 0)", n_sym * eps ** 2, eps, to=0)
    n_d = samples_per_block(d, d, 2, sp.Rational(1, 10), sp.Rational(1, 10))
    P.limit_finite_positive("order in d: n / (d² log d) → finite > 0 (polynomial width)", n_d / (d ** 2 * sp.log(d)), d)
    # Builder widths ≥ the rule on a grid.
    worst, count = builder_margin(SPEC, ints(1, 64, 5), (1, 2, 3), (0.3, 0.1), (0.1,))
    P.check("built widths ≥ the rule (plans only)", f"grid ({count} points)", worst >= 0, f"min margin {worst:.3g}")
    P.equal("depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)
    return P
