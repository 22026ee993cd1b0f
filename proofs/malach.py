"""Malach et al. 2020 (arXiv:2002.00585) as built by sltheory's "malach": the per-weight mechanism
as restated (2 intermediate neurons per weight, one per half of w·x = wσ(x) − wσ(−x); ~1/ε²
sampled neurons: two closeness events per neuron), with our explicit width rule proven here.

Steps: a unit of slot (j, s) hits target t = s·w at tolerance τ when 1 − |a| ≤ τ/2 and
|b − t| ≤ τ/2; then | |a|b − t | ≤ (1 − |a|)|b| + |b − t| ≤ τ. With |a| ~ U[0, 1] and b ~ U[−1, 1]
independent, P(1 − |a| ≤ α) = α and P(|b − t| ≤ β) ≥ β/2 for every |t| ≤ 1, so one unit hits
with probability ≥ αβ/2, at best (α + β = τ) τ²/8; n = ln(l N/δ)/(τ²/8) units per slot miss with
probability ≤ δ/(l N) per problem, ≤ δ over all l·N problems (union bound); hits within
τ = e/√N give the layer budget (as for subset_sum). Orders: n ~ 8 l² d_in' d_out ε⁻² ln(·), about
twice our one-product variant malach_product (whose window has probability ≈ τ²/4).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from sltheory.constructions.malach import CONSTRUCTION as SPEC
from sltheory.constructions.malach import event_probability, event_tolerance, hit_probability, samples_per_block
from sltheory.constructions.malach_product import hit_probability as product_hit_probability

from ._check import Proof, builder_margin, ints, logspace


def run() -> Proof:
    P = Proof("malach")
    u, alpha, beta, tau, t = sp.symbols("u alpha beta tau t", positive=True)
    a, b, w = sp.symbols("a b w", real=True)
    l, N, d = sp.symbols("l N d", positive=True, integer=True)
    eps, delta, p = sp.symbols("epsilon delta p", positive=True)

    # Event 1: |a| ~ U[0, 1] (given the slot assignment, which reads only signs).
    P.equal("P(1 − |a| ≤ α) = ∫_{1−α}^1 du = α  (|a| ~ U[0,1], α ≤ 1)", sp.integrate(1, (u, 1 - alpha, 1)), alpha)
    # Event 2: b ~ U[−1, 1]; the window [t − β, t + β] ∩ [−1, 1] has mass ≥ β/2 for |t| ≤ 1, β ≤ 2.
    P.equal("P(|b − t| ≤ β) at t = 1: ∫_{1−β}^1 ½ db = β/2", sp.integrate(sp.Rational(1, 2), (u, 1 - beta, 1)),
            beta / 2)
    worst = np.inf
    for tv in np.linspace(-1, 1, 201):
        for bv in logspace(1e-4, 2, 40):
            mass = (min(tv + bv, 1.0) - max(tv - bv, -1.0)) / 2
            worst = min(worst, mass - bv / 2)
    P.check("every window [t−β, t+β] (|t| ≤ 1, β ≤ 2) has mass ≥ β/2 under U[−1,1]", "grid (8040 points)",
            worst >= -1e-12, f"min(mass − β/2) = {worst:.2e}")
    P.equal("both events (independent layers): library event_probability = αβ/2",
            event_probability(alpha, beta), alpha * beta / 2)
    # The product is within α + β of t when both events hold.
    P.equal("|a|b − t = (|a| − 1)·b + (b − t)  (identity)", (sp.Abs(a) - 1) * b + (b - w), sp.Abs(a) * b - w)
    P.nonneg("so | |a|b − t | ≤ α|b| + β ≤ α + β  (|b| ≤ 1): α + β − α|b| − β ≥ 0", alpha * (1 - sp.Abs(b)),
             grid={alpha: [0.01, 0.5, 1], b: list(np.linspace(-1, 1, 21))})
    rng = np.random.default_rng(0)
    av, bv, tv = rng.uniform(0, 1, 10 ** 6), rng.uniform(-1, 1, 10 ** 6), rng.uniform(-1, 1, 10 ** 6)
    gap = event_tolerance(av[:, None], bv[:, None], tv)[:, 0] - np.abs(av * bv - tv)
    P.check("library event_tolerance 2·max(1−|a|, |b−t|) ≥ the product's error", "grid (10⁶ random points)",
            bool(gap.min() >= 0), f"min(event tolerance − error) = {gap.min():.2e}")
    # The best split of α + β = τ.
    f = alpha * (tau - alpha) / 2
    P.equal("d/dα αβ/2 on α + β = τ vanishes at α = τ/2", sp.diff(f, alpha).subs(alpha, tau / 2), 0)
    P.equal("and is concave there: d²/dα² = −1", sp.diff(f, alpha, 2), -1)
    P.equal("q(τ) = αβ/2 at α = β = τ/2 = τ²/8 = library hit_probability", hit_probability(tau), tau ** 2 / 8)
    emp = float(np.mean((av >= 1 - 0.1) & (np.abs(bv - 1.0) <= 0.1)))
    P.check("Monte-Carlo: both events at τ = 0.2, t = 1 (10⁶ units) ≈ q = 0.005 (exact at t = 1; ±5%)",
            "measured", abs(emp - 0.005) <= 0.05 * 0.005, f"frequency {emp:.5f} (sampling sd ≈ 0.00007)")
    # Union bound.
    P.equal("e^{−q n} = δ/(l N) at n = ln(lN/δ)/q", sp.exp(-p * sp.log(l * N / delta) / p), delta / (l * N))
    P.nonneg("(1 − q)^n ≤ e^{−qn}: e^{−q} − (1 − q) ≥ 0", sp.exp(-p) - (1 - p), grid={p: logspace(1e-9, 1, 30)})
    # Orders and the comparison with the one-product variant.
    n_sym = samples_per_block(4, 4, 2, eps, sp.Rational(1, 10))
    P.limit_finite_positive("order in ε: n · ε² → finite > 0 (ε → 0)", n_sym * eps ** 2, eps, to=0)
    n_d = samples_per_block(d, d, 2, sp.Rational(1, 10), sp.Rational(1, 10))
    P.limit_finite_positive("order in d: n / (d² log d) → finite > 0 (polynomial width)", n_d / (d ** 2 * sp.log(d)), d)
    ratio = sp.limit(product_hit_probability(tau) / hit_probability(tau), tau, 0)
    P.check("n(malach) / n(malach_product) → p(τ)/q(τ) → 2 (τ → 0): two events cost twice one window",
            "symbolic", ratio == 2, f"limit = {ratio}")
    # Builder widths ≥ the rule on a grid.
    worst_b, count = builder_margin(SPEC, ints(1, 64, 5), (1, 2, 3), (0.3, 0.1), (0.1,))
    P.check("built widths ≥ the rule (plans only)", f"grid ({count} points)", worst_b >= 0, f"min margin {worst_b:.3g}")
    P.equal("depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)
    return P
