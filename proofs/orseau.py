"""Orseau et al. 2020 (arXiv:2006.12156) as built by sltheory's "orseau": hyperbolic weights, a
base-3/2 decomposition of each target weight (NeurIPS 2020 Review 1), one sampling pass per layer;
the law's range, the greedy's invariant and the width rule's constants are ours, proven here.

Steps: (1) log|w| is uniform for the hyperbolic law; (2) log|ab| is triangular; (3) with the
library's range it is ≥ 1/(2Kλ) on the K level windows, so each window (with the sign) has
probability ≥ p = 1/(4K); (4) the greedy keeps r ≤ 2ρ^τ with ONE sample per window, for any base
up to the golden ratio (3/2 included, 2 not); (5) K = log_{3/2}(2/τ) levels reach τ; (6) n =
ln(K l N/δ)/p units per slot cover every window of every problem with probability ≥ 1 − δ
(coupon collector + union bound); (7) orders: n = Θ(log(1/τ)·log log(1/τ)), below the halving
construction's log³.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from sltheory.constructions.orseau import BASE, _select, law, level_probability, levels, samples_per_block
from sltheory.constructions.orseau import CONSTRUCTION as SPEC

from ._check import Proof, builder_margin, ints, logspace


def run() -> Proof:
    P = Proof("orseau")
    x, g, G, L, lam = sp.symbols("x gamma Gamma L lambda", positive=True)
    s, a, y = sp.symbols("s a y", real=True)
    K, l, N = sp.symbols("K l N", positive=True, integer=True)
    delta, p, tau = sp.symbols("delta p tau", positive=True)
    rho = sp.Rational(2, 3)

    # (1) The hyperbolic law: |w| = Γ (γ/Γ)^U, U ~ U[0, 1] (sltheory.network.sample_layer).
    cdf = 1 - sp.log(x / G) / sp.log(g / G)                      # P(|w| ≤ x), x ∈ [γ, Γ]
    P.equal("density of Γ(γ/Γ)^U is 1/(x ln(Γ/γ)) ∝ 1/x (hyperbolic)", sp.diff(cdf, x), 1 / (x * sp.log(G / g)))
    # (2) Convolution of two U[a, a + L] (log|a|, log|b|): triangular about m = 2a + L.
    rising = sp.integrate(1 / L ** 2, (y, a, s - a))            # s ∈ [2a, 2a + L]
    falling = sp.integrate(1 / L ** 2, (y, s - a - L, a + L))   # s ∈ [2a + L, 2a + 2L]
    P.equal("log|ab| rising side: (s − 2a)/L² = (L − (m − s))/L²", rising, (L - (2 * a + L - s)) / L ** 2)
    P.equal("log|ab| falling side: (2a + 2L − s)/L² = (L − (s − m))/L²", falling, (L - (s - 2 * a - L)) / L ** 2)
    # (3) The library's range: L = Kλ, m = −Kλ/2, i.e. ln γ = −3Kλ/4, ln Γ = Kλ/4.
    lo, hi = -3 * K * lam / 4, K * lam / 4
    P.equal("width ln Γ − ln γ = Kλ", hi - lo, K * lam)
    P.equal("centre ln γ + ln Γ = −Kλ/2", hi + lo, -K * lam / 2)
    lb = math.log(BASE)
    worst = max(abs(math.log(law(k)[1]) + 0.75 * k * lb) + abs(math.log(law(k)[2]) - 0.25 * k * lb)
                for k in range(1, 101))
    P.check("library law(K) = ('hyperbolic', (3/2)^{−3K/4}, (3/2)^{K/4})", "grid (100 points)", worst < 1e-9,
            f"max log error {worst:.1e}")
    tri = lambda v: (K * lam - sp.Abs(v + K * lam / 2)) / (K * lam) ** 2  # noqa: E731
    P.equal("density at the ends s = 0 and s = −Kλ is 1/(2Kλ)", tri(0) + tri(-K * lam), 1 / (K * lam))
    P.equal("  (each end)", tri(0), 1 / (2 * K * lam))
    P.nonneg("support [2 ln γ, 2 ln Γ] ⊃ [−Kλ, 0]: −Kλ − 2 ln γ ≥ 0", -K * lam - 2 * lo, grid={})
    P.nonneg("  and 2 ln Γ − 0 ≥ 0 (the triangle is concave there: its minimum is at an end)", 2 * hi, grid={})
    P.equal("window mass ≥ λ/(2Kλ) = 1/(2K); with B's sign p = 1/(4K) = library level_probability",
            lam / (2 * K * lam) / 2, level_probability(K))
    # exact window masses from the CDF of the triangle, every window of K = 1 … 60
    worst_ratio = math.inf
    for k in range(1, 61):
        Lk, mk = k * math.log(BASE), -k * math.log(BASE) / 2
        F = lambda v: (0.0 if v <= mk - Lk else 1.0 if v >= mk + Lk else  # noqa: E731
                       (v - mk + Lk) ** 2 / (2 * Lk ** 2) if v <= mk else 1 - (mk + Lk - v) ** 2 / (2 * Lk ** 2))
        for t in range(k):
            mass = F(-t * math.log(BASE)) - F(-(t + 1) * math.log(BASE))
            worst_ratio = min(worst_ratio, mass * 2 * k)
    P.check("every window τ < K has mass ≥ 1/(2K) (exact triangle CDF)", "grid (1830 windows, K ≤ 60)",
            worst_ratio >= 1 - 1e-12, f"min mass·2K = {worst_ratio:.4f}")
    # (4) The greedy's invariant r ≤ c ρ^τ with one sample per window (ρ^{τ+1}, ρ^τ].
    R, c, t = sp.symbols("rho c t", positive=True)
    take = c * R ** t - R ** (t + 1)     # worst residual after taking v ≥ ρ^{τ+1} from r ≤ cρ^τ
    skip = R ** t                        # residual bound when every window sample exceeds r
    P.equal("take: c ρ^τ − ρ^{τ+1} ≤ c ρ^{τ+1} ⟺ c ≤ ρ/(1−ρ) (slack (ρ − c(1−ρ)) ρ^τ)",
            c * R ** (t + 1) - take, (R - c * (1 - R)) * R ** t)
    P.equal("skip: r < ρ^τ ≤ c ρ^{τ+1} ⟺ c ≥ 1/ρ (slack (cρ − 1) ρ^τ)", c * R ** (t + 1) - skip, (c * R - 1) * R ** t)
    P.equal("both for some c ⟺ 1/ρ ≤ ρ/(1−ρ) ⟺ ρ² + ρ − 1 ≥ 0: ρ ≥ (√5 − 1)/2 (base ≤ golden ratio)",
            sp.solve(sp.Eq(R ** 2 + R - 1, 0), R)[0], (sp.sqrt(5) - 1) / 2)
    P.nonneg("base 3/2: ρ = 2/3, c = 2 = ρ/(1−ρ): take slack 0", (rho - 2 * (1 - rho)), grid={})
    P.nonneg("base 3/2: skip slack cρ − 1 = 1/3 ≥ 0", 2 * rho - 1, grid={})
    P.check("base 2 (ρ = ½) fails: 1/ρ = 2 > ρ/(1−ρ) = 1 (windows would need exact values)", "symbolic",
            bool(sp.Rational(1, 1) / sp.Rational(1, 2) > sp.Rational(1, 2) / (1 - sp.Rational(1, 2))), "2 > 1")
    # (5) Levels: r ≤ 2ρ^K after K windows; K = log_{3/2}(2/τ) reaches τ.
    P.equal("2ρ^K = τ at K = log_{3/2}(2/τ) (library levels)", 2 * rho ** levels(tau), tau,
            grid={tau: logspace(1e-12, 1, 25)})
    P.nonneg("start: |w| ≤ 1 ≤ 2ρ⁰ = 2", 2 - 1, grid={})
    # the library greedy (the njit kernel) against this invariant, on random problems
    rng = np.random.default_rng(0)
    bad, probs = 0, 0
    for k in (4, 8, 16):
        lw, hw = law(k)[1], law(k)[2]
        for _ in range(200):
            n = 3 * k
            mag = hw * (lw / hw) ** rng.random(n) * (hw * (lw / hw) ** rng.random(n))
            samples = (mag * np.where(rng.random(n) < 0.5, -1.0, 1.0))[None, :]
            target = np.array([rng.uniform(-1, 1)])
            chosen, err = _select(samples, target, np.array([n]), 0.0)
            v = np.abs(samples[0][np.sign(samples[0]) == np.sign(target[0])])
            lev = np.floor(-np.log(v) / math.log(BASE)).astype(int)
            covered = 0
            while covered in set(lev.tolist()):
                covered += 1         # windows 0 … covered−1 all hold a right-signed sample
            probs += 1
            levels_taken = np.floor(-np.log(np.abs(samples[0][chosen[0]])) / math.log(BASE))
            bad += (err[0] > 2 * (2 / 3) ** covered + 1e-12) or len(set(levels_taken.tolist())) < len(levels_taken)
    P.check("library greedy: error ≤ 2ρ^{levels covered}, one kept sample per level", f"measured ({probs} problems)",
            bad == 0, f"{bad} violations")
    # (6) Coupon collector over the K windows, union bound over problems and layers.
    n_rule = sp.log(K * l * N / delta) / p
    P.equal("K N e^{−p n} = δ/l at n = ln(K l N/δ)/p", K * N * sp.exp(-p * n_rule), delta / l)
    P.nonneg("(1 − p)^n ≤ e^{−pn}: e^{−p} − (1 − p) ≥ 0", sp.exp(-p) - (1 - p), grid={p: logspace(1e-9, 1, 30)})
    P.equal("n = 4K ln(KlN/δ) at p = 1/(4K) (library samples_per_block, N = d_in' d_out)",
            samples_per_block(3, 5, l, sp.Rational(1, 10), delta, True, 1, K), 4 * K * sp.log(K * l * 30 / delta))
    # measured: the rule's n covers every window of K = 12 in ≥ 1 − δ of slots
    k, dl, Np = 12, 0.1, 1
    n = math.ceil(float(samples_per_block(1, 1, 1, 0.5, dl, False, 1, k)))
    lw, hw = law(k)[1], law(k)[2]
    trials, miss = 2000, 0
    for _ in range(trials):
        v = hw * (lw / hw) ** rng.random(n) * (hw * (lw / hw) ** rng.random(n))
        v = v[rng.random(n) < 0.5]
        lev = set(np.floor(-np.log(v) / math.log(BASE)).astype(int).tolist())
        miss += not all(t in lev for t in range(k))
    P.check(f"rule's n = {n} (K = {k}, N = {Np}, δ = {dl}) covers all K windows", f"measured ({trials} slots)",
            miss / trials <= dl, f"missed {miss / trials:.4f} ≤ δ")
    # (7) Orders: K = log_{3/2}(2/τ); n = 4K ln(K l N/δ) = Θ(log(1/τ) log log(1/τ)).
    Kt = levels(tau)
    n_tau = 4 * Kt * sp.log(Kt * 2 * 32 / sp.Rational(1, 10))
    P.limit_finite_positive("n / (log(1/τ) · log log(1/τ)) → finite > 0 as τ → 0",
                            n_tau / (sp.log(1 / tau) * sp.log(sp.log(1 / tau))), tau, to=0)
    P.equal("n / log(1/τ)² → 0 (below the halving's log³)", sp.limit(n_tau / sp.log(1 / tau) ** 2, tau, 0), 0)
    worst, count = builder_margin(SPEC, ints(1, 256, 6), (1, 2, 3), (0.3, 0.1, 0.01), (0.1,))
    P.check("built widths ≥ the rule (plans only)", f"grid ({count} points)", worst >= 0, f"min margin {worst:.3g}")
    P.equal("depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)
    return P
