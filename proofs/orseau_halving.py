"""sltheory's "orseau_halving" (ours, after Orseau et al. 2020, arXiv:2006.12156; not the paper's
construction): hyperbolic weights, batched halving decomposition, width from a rule proven here.

Steps: |w| = γ^{|u|} (u ~ U[−1, 1]) has density 1/(|w| ln(1/γ)) on [γ, 1]; log|ab| for two such
magnitudes has the triangular density (−s)/L² on [L, 0] (L = ln γ), so any [x/2, x] ⊂ [γ, 1]
has probability ≥ (ln 2)²/(2L²), and with the sign q = (ln 2)²/(4L²); a pick in [|r|/2, |r|]
halves the residual; K = log₂(1/τ) halvings reach τ; batches of b = ln(KlN/δ)/q all succeed
with probability ≥ 1 − δ. Orders: n = K b is polylogarithmic in 1/τ.
"""

from __future__ import annotations

import sympy as sp

from sltheory.constructions.orseau_halving import CONSTRUCTION as SPEC
from sltheory.constructions.orseau_halving import batches, samples_per_block, step_probability

from ._check import Proof, builder_margin, ints


def run() -> Proof:
    P = Proof("orseau_halving")
    x, s, y, tau, q = sp.symbols("x s y tau q", positive=True)
    g = sp.Symbol("gamma", positive=True)
    L = sp.Symbol("L", negative=True)
    K, l, N = sp.symbols("K l N", positive=True, integer=True)
    delta = sp.Symbol("delta", positive=True)

    cdf = 1 - sp.log(x) / sp.log(g)  # P(|w| ≤ x) for |w| = γ^U, U ~ U[0, 1]
    P.equal("density of γ^U is 1/(x ln(1/γ)) ∝ 1/x (hyperbolic)", sp.diff(cdf, x), 1 / (x * sp.log(1 / g)))
    # density of Y1 + Y2 (Y_i ~ U[L, 0], density 1/(−L)) at s ∈ [L, 0]: ∫_s^0 (1/L²) dy1
    sv = sp.Symbol("sv", real=True)
    conv = sp.integrate(1 / L ** 2, (sv, s, 0))
    P.equal("log|ab| has density (−s)/L² on [L, 0] (convolution of two U[L, 0])", conv, -s / L ** 2)
    mass = sp.integrate(-s / L ** 2, (s, y - sp.log(2), y))
    P.equal("mass of [y − ln 2, y] = ((ln 2)² − 2 y ln 2)/(2L²)", mass,
            (sp.log(2) ** 2 - 2 * y * sp.log(2)) / (2 * L ** 2))
    yn = sp.Symbol("y_n", nonpositive=True)  # the interval's top end, y ≤ 0
    P.nonneg("… minus its value at y = 0 is −y ln 2/L² ≥ 0 for y ≤ 0",
             sp.simplify(mass.subs(y, yn) - mass.subs(y, 0)), grid={yn: [0, -0.5, -5], L: [-1, -5, -20]})
    P.equal("q = ½ (ln 2)²/(2 (ln γ)²) = library step_probability", sp.log(2) ** 2 / (4 * sp.log(g) ** 2),
            step_probability(g))
    # Halving and the number of steps.
    r = sp.Symbol("r", positive=True)
    frac = sp.Symbol("theta", nonnegative=True)  # c = r/2 + θ r/2 with θ ∈ [0, 1] spans [r/2, r]
    P.nonneg("c ∈ [r/2, r] ⇒ new residual r − c ≤ r/2: r/2 − (r − c) = θ r/2 ≥ 0",
             sp.simplify(r / 2 - (r - (r / 2 + frac * r / 2))), grid={r: [0.01, 1], frac: [0, 1]})
    P.equal("2^{−K} = τ at K = log₂(1/τ) (library batches)", 2 ** (-batches(tau)), tau)
    # Union bound over steps, problems and layers.
    P.equal("e^{−q b} = δ/(K l N) at b = ln(KlN/δ)/q", sp.exp(-q * sp.log(K * l * N / delta) / q), delta / (K * l * N))
    # Orders: polylogarithmic in 1/τ (γ = τ/2, K, l, N fixed).
    n_tau = batches(tau) * sp.log(8 * 2 * 32 / sp.Rational(1, 10)) / step_probability(tau / 2)
    P.limit_finite_positive("n / log(1/τ)³ → finite > 0 as τ → 0 (poly-log per weight)",
                            n_tau / sp.log(1 / tau) ** 3, tau, to=0)
    n_lib = samples_per_block(4, 4, 2, sp.Rational(1, 10), sp.Rational(1, 10), sp.Rational(1, 400))
    P.check("library samples_per_block evaluates (4×4, l=2, ε=δ=0.1, γ=1/400)", "symbolic",
            bool(sp.N(n_lib) > 0), f"n = {float(n_lib):.4g}")
    worst, count = builder_margin(SPEC, ints(1, 256, 6), (1, 2, 3), (0.3, 0.1, 0.01), (0.1,))
    P.check("built widths ≥ the rule (plans only)", f"grid ({count} points)", worst >= 0, f"min margin {worst:.3g}")
    P.equal("depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)
    return P
