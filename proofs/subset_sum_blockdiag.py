"""The block-diagonal variant of Pensia et al.'s Theorem 1 ("subset_sum_blockdiag"; ours).

Steps checked (the claim is in :mod:`sltheory.constructions.subset_sum_blockdiag`):

1. *Same slot law.* In the dense proof a unit of slot (j, s) keeps a weight a ~ U[−1, 1]
   conditioned on sign(a) = s, so P(|a| ≤ m | sign a = s) = m on [0, 1]; the variant's weight is
   s·|u|, u ~ U[−1, 1), with P(|u| ≤ m) = m: the same law (symbolic). Measured: the sampled
   magnitudes pass a Kolmogorov–Smirnov test against U[0, 1], and every slot holds exactly n units
   (the dense pair's slots hold a Binomial number, whose minimum the grid prints).
2. *Same rule.* The variant's samples per slot are Theorem 1's (the library's ``samples``, same
   function, symbolic), so steps 1–5 of ``proofs/subset_sum.py`` carry over unchanged.
3. *Size.* parameter_bound = Σ_i n_i d_in'_i (1 + d_out_i) (symbolic); the builder's plans have
   at least that many random weights and widths at least width_bound (grid); the plan counts one
   weight per first-sub-layer unit (measured on sampled networks: nonzeros = count).
4. *Against the dense pair and the counting bound.* For a square layer (d × d) with the same n,
   variant / dense → 1/2 on the signed layer and after a ReLU (limits d → ∞); variant / counting
   bound → n·k/log₂(1/(2ε)) (k = 2 signed, 1 after a ReLU), the floor this variant leaves to n.
5. *Balanced signs.* Each (output, slot) problem has ⌈n/2⌉ / ⌊n/2⌋ samples of either sign
   (measured on sampled networks); the same-sign samples have E e^{−λX} = Ein(λ)/λ (symbolic
   substitution, quadrature on a grid); AM–GM makes the balanced Chernoff reach bound with n/2
   same-sign samples ≤ the random-sign one with n (n even: the rules' n is rounded up to even under
   balanced signs, checked on plans); a Monte Carlo check of the bound.
   Lueker's resolution lemma for the fixed-sign halves is assumed, not checked (module docstring).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy import stats

import sltheory
from sltheory.bounds import counting_lower_bound
from sltheory.constructions import registry
from sltheory.constructions._pairs import random_parameters, slot_random_parameters

from ._check import Proof, builder_margin, ints

SPEC = registry.get("subset_sum_blockdiag")
DENSE = registry.get("subset_sum")


def run() -> Proof:
    P = Proof("blockdiag")
    m, a, u = sp.symbols("m a u", real=True)
    eps, delta = sp.symbols("epsilon delta", positive=True)
    d, n, d_in, d_out = sp.symbols("d n d_in d_out", positive=True, integer=True)

    # 1. The law of a slot's magnitudes.
    dens = sp.Rational(1, 2)                       # density of U[−1, 1]
    cond = sp.integrate(dens, (a, 0, m)) / sp.integrate(dens, (a, 0, 1))
    P.equal("1a. P(|a| ≤ m | a > 0) = m, a ~ U[−1, 1]", cond, m)
    cond_neg = sp.integrate(dens, (a, -m, 0)) / sp.integrate(dens, (a, -1, 0))
    P.equal("1b. P(|a| ≤ m | a < 0) = m", cond_neg, m)
    P.equal("1c. P(|u| ≤ m) = m, u ~ U[−1, 1) (the variant's |weight|)", sp.integrate(dens, (u, -m, m)), m)
    rand = sltheory.random_network([np.zeros((16, 12)), np.zeros((4, 16))], n=40, seed=0,
                                   construction="subset_sum_blockdiag")
    A = rand.linears()[0].weight.numpy()
    p_ks = stats.kstest(np.abs(A[A != 0]), "uniform").pvalue
    P.check("1d. sampled |a_k| ~ U[0, 1] (Kolmogorov–Smirnov)", "measured", p_ks > 1e-3,
            f"p = {p_ks:.3f}, {int((A != 0).sum())} weights")
    mins_dense, exact = [], True
    for seed in range(5):
        for dims in ((4, 8, 4), (12, 6, 3)):
            W = sltheory.gaussian_target(dims, seed)
            for name, out in (("subset_sum", mins_dense), ("subset_sum_blockdiag", None)):
                r = sltheory.random_network(W, n=10, seed=seed, construction=name)
                layers = sltheory.approximate(W, r).stats["layers"]
                if out is None:
                    exact &= all(L["slot_count_min"] == 10 == L["slot_count_mean"] for L in layers)
                else:
                    out += [L["slot_count_min"] for L in layers]
    P.check("1e. every slot holds exactly n units (dense pairs: Binomial)", "measured (10 networks)", exact,
            f"n = 10; smallest slot of the dense pairs: {min(mins_dense)}")

    # 2. Same width rule.
    dims = (d_in, d_out, d)
    for i in range(2):
        P.equal(f"2. samples per slot of layer {i + 1} = Theorem 1's (subset_sum)",
                SPEC.samples(i, dims, eps, delta), DENSE.samples(i, dims, eps, delta))

    # 3. Size.
    expected = sum(SPEC.samples(i, dims, eps, delta) * dims[i] * (2 if i == 0 else 1) * (1 + dims[i + 1])
                   for i in range(2))
    P.equal("3a. parameter_bound = Σ_i n_i d_in'_i (1 + d_out_i)", SPEC.parameter_bound(dims, eps, delta), expected)
    worst, count = builder_margin(SPEC, ints(1, 512, 7), (1, 2, 3), (1e-1, 1e-2, 1e-3), (0.5, 0.05))
    P.check("3b. built random weights ≥ parameter_bound, widths ≥ width_bound", f"grid ({count} points)",
            worst >= 0, f"min margin {worst:.3g}")
    nz_ok = all(r.plan.num_random_weights == sum(int((lin.weight != 0).sum()) for lin in r.linears())
                for r in (sltheory.random_network([np.zeros((o, i)) for i, o in ((5, 7), (7, 3))], n=nn, seed=s,
                                                  construction="subset_sum_blockdiag")
                          for nn in (1, 4, 9) for s in range(3)))
    P.check("3c. the plan's count = nonzero random weights of the sampled network", "measured (9 networks)", nz_ok)

    # 4. Against the dense pair (same n) and the counting bound, square layers.
    signed_ratio = slot_random_parameters(d, d, n, True) / random_parameters(d, d, n, True)
    relu_ratio = slot_random_parameters(d, d, n, False) / random_parameters(d, d, n, False)
    P.equal("4a. signed layer: variant / dense = (1 + d)/(2d)", signed_ratio, (1 + d) / (2 * d))
    P.equal("4b. after a ReLU: variant / dense (negative-half saving) = (1 + d)(1 − 2^−d)/(2d)",
            relu_ratio, (1 + d) * (1 - 2 ** (-d)) / (2 * d))
    for name, r in (("4c. signed", signed_ratio), ("4d. after a ReLU", relu_ratio)):
        lim = sp.limit(r, d, sp.oo)
        P.check(f"{name}: variant / dense → 1/2 (d → ∞)", "symbolic", lim == sp.Rational(1, 2), f"limit = {lim}")
    for signed, kk in ((True, 2), (False, 1)):
        ratio = slot_random_parameters(d, d, n, signed) / counting_lower_bound(d, d, eps)
        lim = sp.limit(ratio, d, sp.oo)
        P.equal(f"4e. variant / counting bound → {kk}·n/log₂(1/(2ε)) ({'signed' if signed else 'after a ReLU'})",
                lim, kk * n / sp.log(1 / (2 * eps), 2), grid={n: [8, 16, 24], eps: [0.1, 0.01, 0.001]})
    balanced(P)
    return P


def balanced(P: Proof) -> None:
    """Steps of the balanced-sign option (module docstring of sltheory.constructions.subset_sum_blockdiag)."""
    lam, mm, a, b = sp.symbols("lambda m a b", positive=True)
    # 5a. Every (output, slot) problem has ⌈n/2⌉ / ⌊n/2⌋ samples of either sign.
    ok = True
    for n in (1, 2, 5, 8):
        W = sltheory.gaussian_target((3, 5, 2), n)
        rand = sltheory.random_network(W, n=n, seed=n, construction="subset_sum_blockdiag", balanced_signs=True)
        for A, B in zip(rand.linears()[::2], rand.linears()[1::2]):
            A, B = A.weight.numpy(), B.weight.numpy()
            samples = (np.abs(A).sum(axis=1)[None, :] * B).reshape(B.shape[0], -1, n)   # (out, slot, n)
            pos = (samples > 0).sum(axis=2)
            ok &= bool(np.all((pos == (n + 1) // 2) | (pos == n // 2)) and np.all(samples != 0))
    P.check("5a. balanced: each (output, slot) has ⌈n/2⌉/⌊n/2⌋ samples of each sign", "measured (8 layers)", ok)
    # 5b. The moment generating functions of the same-sign samples.
    u = sp.Symbol("u", positive=True)
    inner = sp.integrate(sp.exp(-lam * a * b), (a, 0, 1))
    P.equal("5b. ∫₀¹ e^{−λab} da = (1 − e^{−λb})/(λb)", inner, (1 - sp.exp(-lam * b)) / (lam * b))
    ein_integrand = (1 - sp.exp(-u)) / u
    P.equal("5b'. u = λb: Ein'(λb)·d(λb)/λ = (1 − e^{−λb})/(λb) db, so E e^{−λ|a||b|} = Ein(λ)/λ",
            ein_integrand.subs(u, lam * b) * sp.diff(lam * b, b) / lam, inner)
    from scipy.integrate import quad
    from scipy.special import exp1

    gap = 0.0
    for lv in np.logspace(-3, 3, 25):   # ∫₀¹ (1 − e^{−λb})/(λb) db against Ein(λ)/λ = (E₁(λ) + ln λ + γ)/λ
        val, _ = quad(lambda bb: -np.expm1(-lv * bb) / (lv * bb), 0.0, 1.0, epsabs=0, epsrel=1e-12, limit=200)
        ein = (exp1(lv) + np.log(lv) + np.euler_gamma) / lv
        gap = max(gap, abs(val - ein) / ein)
    P.check("5b''. ∫₀¹ (1 − e^{−λb})/(λb) db = Ein(λ)/λ, Ein(λ) = E₁(λ) + ln λ + γ", "grid (25 λ in 1e-3…1e3, quad)",
            gap < 1e-9, f"max relative gap {gap:.2g}")
    # 5c. AM–GM per pair of samples: √m ≤ (1 + m)/2, so (Ein/λ)^{k} ≤ (½ + ½ Ein/λ)^{2k}.
    P.equal("5c. (1 + m)/2 − √m = (1 − √m)²/2", (1 + mm) / 2 - sp.sqrt(mm), (1 - sp.sqrt(mm)) ** 2 / 2)

    worst, count = math.inf, 0
    for lv in np.logspace(-3, 3, 61):
        M = (exp1(lv) + np.log(lv) + np.euler_gamma) / lv      # Ein(λ)/λ = E e^{−λX} ∈ (0, 1]
        for kk in range(1, 33):
            worst = min(worst, (0.5 + 0.5 * M) ** (2 * kk) - M ** kk, 1 - M, M)
            count += 1
    P.check("5c'. so (Ein/λ)^k ≤ (½ + ½Ein/λ)^{2k}: balanced reach bound (n = 2k) ≤ random-sign one",
            f"grid ({count} points)", worst >= 0, f"min of the gap (and of 1 − M, M) = {worst:.3g}")
    # 5c''. That comparison needs n even: the rules' n is rounded up to even under balanced signs.
    even = all(v % 2 == 0 and v >= SPEC.samples(i, dims, eps, delta)
               for dims, eps, delta in (((3, 5, 2), 0.1, 0.05), ((8, 8, 4), 0.01, 0.1), ((7, 9), 0.03, 0.2))
               for i, v in enumerate(sltheory.random_network(
                   [np.zeros((dims[j + 1], dims[j])) for j in range(len(dims) - 1)], eps=eps, delta=delta,
                   seed=0, construction="subset_sum_blockdiag", balanced_signs=True).plan.n))
    P.check("5c''. balanced signs: the rule's n is rounded up to even", "grid (3 targets)", even)
    # 5d. Monte Carlo: the balanced reach failure vs its Chernoff bound (B = 0.3, k = 4 same-sign samples).
    rng = np.random.default_rng(0)
    k, bound, trials = 4, 0.3, 200_000
    sums = (rng.random((trials, k)) * rng.random((trials, k))).sum(axis=1)
    rate = float(np.mean(sums <= bound))
    from scipy.optimize import minimize_scalar
    f = lambda x: x * bound + k * np.log((exp1(x) + np.log(x) + np.euler_gamma) / x)  # noqa: E731
    chern = float(np.exp(minimize_scalar(f, bounds=(1e-6, 1e3), method="bounded").fun))
    P.check("5d. balanced reach failure ≤ its Chernoff bound (k = 4, B = 0.3)", f"measured ({trials:,} draws)",
            rate <= chern, f"P(Σ ≤ B) = {rate:.4f} ≤ {chern:.4f}")
