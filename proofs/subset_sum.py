"""Pensia et al. 2020 (arXiv:2006.07990), Theorem 1, as built by sltheory's "subset_sum".

Proof steps checked (l = depth, N_i = d_in'·d_out subset-sum problems in layer i, d_in' = 2 d_in
on the signed first layer, d_in after a ReLU):

1. Budget: e = (1+ε)^{1/l} − 1 satisfies (1+e)^l = 1+ε, and with ‖W_i‖ ≤ 1 the certificate's
   recursion gives 1 + Δ_i ≤ (1+e)(1+Δ_{i−1}) (proofs/certificate.py), so Δ_l ≤ ε.
2. Per-weight tolerance: entries |E_jk| ≤ τ = e/√N_i give ‖E‖₂ ≤ ‖E‖_F ≤ e.
3. Lemma (random subset sum, Lueker 1998; constant C_L): n ≥ C_L log₂(1/τ') samples reach every
   target in [−1, 1] within τ' with probability ≥ 1 − τ'. Apply it per problem with
   τ' = min(τ, δ/(l N_i)); the union bound over Σ_i N_i problems fails with probability ≤ δ.
4. τ' ≥ min(ε, δ)/(2 l N_i) (uses e ≥ ε/(l(1+ε)) and 2√N ≥ 1+ε for ε ≤ 1), so
   n = C_L log₂(2 l N_i / min(ε, δ)) = C_L (log₂(d_in d_out l / min(ε, δ)) + 1 + [signed]):
   the theorem's C log(d_{i−1} d_i l / min(ε, δ)).
5. Orders: n = Θ(log d) in d, width = O(d log(d l / min(ε, δ))); the builder's actual widths
   dominate the theorem's on a grid of (d, l, ε, δ).
7. Biases and domains (ours, after Fischer, Gadhikar & Burkholz 2021): with ‖G_i − W_i‖ ≤ e, bias
   errors ‖p_i − b_i‖ ≤ e·s_i (s_i = max(‖b_i‖, 1)) and inputs of norm ≤ R, ρ_i + Δ_i ≤ (1+e)^i ρ_i
   with ρ_i = R + Σ_{k≤i} s_k (induction; the certificate's affine recursion on random instances);
   bias entries within e·s/√d_out give ‖p − b‖ ≤ e·s; the rule at d_{i−1} + 1 and ε/ρ is the
   library's width_bound (symbolic); the bias units' biases are U(0, 1) (KS), so c·b has |a|·b's law.
6. Constants: C_L is not explicit in the papers. We state the one a *measured tail* supports (the
   smallest n whose measured per-problem failure rate, 95% Clopper–Pearson upper limit, passes
   the union bound of step 3), and measure the *empirical* constant (the smallest n at which the
   construction succeeds in ≥ 1 − δ of seeded trials), printing both beside the formula's n.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy.stats import beta as beta_dist

import sltheory
from sltheory.bounds import layer_error_budget, weight_tolerance
from sltheory.constructions import registry
from sltheory.constructions.subset_sum import reach_samples, samples_per_block, theorem_samples
from sltheory.subset_sum import solve

from ._check import Proof, builder_margin, ints, logspace

SPEC = registry.get("subset_sum")


def _tail_upper(n: int, tau: float, problems: int, rng) -> float:
    """95% upper confidence limit on P(optimal subset error > τ), measured with the exact solver
    on ``problems`` problems of n products |a|·b (a, b ~ U[−1, 1]), targets ~ U[−1, 1]."""
    samples = np.abs(rng.uniform(-1, 1, (problems, n))) * rng.uniform(-1, 1, (problems, n))
    targets = rng.uniform(-1, 1, problems)
    # staged mode returns a subset within τ whenever one exists (else the optimum): same indicator
    k = int(np.count_nonzero(solve(samples, targets, tol=tau).errors > tau))
    return 1.0 if k == problems else float(beta_dist.ppf(0.95, k + 1, problems - k))


def _success_rate(dims, n, eps, trials, rng) -> float:
    ok = 0
    for seed in range(trials):
        Ws = sltheory.gaussian_target(dims, int(rng.integers(2**31)))
        try:
            sltheory.approximate(Ws, sltheory.random_network(Ws, n=n, seed=seed), eps=eps)
            ok += 1
        except sltheory.ApproximationFailedError:
            pass
    return ok / trials


def _biases_and_domains(P: Proof) -> None:
    """Step 7 (module docstring)."""
    from scipy.stats import kstest

    from sltheory.certificate.bound import EffectiveMap, certify
    from sltheory.constructions._pairs import hidden_width
    from sltheory.targets import as_target

    e, s, rho, D, X = sp.symbols("e s rho Delta X", nonnegative=True)
    i = sp.Symbol("i", positive=True, integer=True)
    # one step: Δ_i ≤ e(ρ_{i−1} + Δ_{i−1}) + Δ_{i−1} + e s (r ≤ R + Δ, R ≤ ρ, ‖W‖ ≤ 1, ‖p − b‖ ≤ e s)
    step = (rho + s) + (e * (rho + D) + D + e * s)
    P.equal("7a. ρ_i + Δ_i ≤ (ρ_{i−1} + s) + e(ρ_{i−1} + Δ_{i−1}) + Δ_{i−1} + e s = (1+e)(ρ_{i−1} + Δ_{i−1} + s)",
            step, (1 + e) * (rho + D + s))
    P.nonneg("7a. induction: (1+e)^i (ρ + s) − ((1+e)^i ρ + (1+e) s) ≥ 0 (i ≥ 1, e ≥ 0)",
             (1 + e) ** i * (rho + s) - ((1 + e) ** i * rho + (1 + e) * s),
             grid={e: logspace(1e-6, 1.0, 12), i: [1, 2, 3, 5, 10], rho: [0.5, 1, 3, 10], s: [1, 2, 5]})
    d_out = sp.Symbol("d_out", positive=True, integer=True)
    P.equal("7b. bias entries e·s/√d_out: ‖p − b‖ ≤ √(d_out (e s/√d_out)²) = e s",
            sp.sqrt(d_out * (e * s / sp.sqrt(d_out)) ** 2), e * s)
    # the certificate's affine recursion on random instances satisfying the hypotheses
    rng = np.random.default_rng(7)
    worst, count = 0.0, 0
    for _ in range(60):
        depth = int(rng.integers(1, 4))
        dims = [int(v) for v in rng.integers(1, 6, depth + 1)]
        ev = float(10 ** rng.uniform(-4, -1))
        layers, maps, flags = [], [], []
        for d_in, d_o in zip(dims[:-1], dims[1:]):
            W = rng.standard_normal((d_o, d_in))
            W /= np.linalg.norm(W, 2)
            b = rng.standard_normal(d_o) * float(rng.uniform(0, 2)) if rng.random() < 0.7 else None
            E = rng.standard_normal((d_o, d_in))
            E *= ev * rng.uniform(0, 1) / np.linalg.norm(E, 2)
            p = None
            if b is not None:
                beta = rng.standard_normal(d_o)
                p = b + beta * ev * max(np.linalg.norm(b), 1.0) * rng.uniform(0, 1) / np.linalg.norm(beta)
            layers.append((W, b) if b is not None else W)
            maps.append(EffectiveMap(W + E, None if maps else -W, p))
            flags.append(b is not None)
        tgt = as_target(layers)
        domain = sltheory.Box(0, 1) if rng.random() < 0.5 else sltheory.Ball(float(rng.uniform(0.5, 3)))
        R = domain.radius_for(dims[0])
        norms = [np.linalg.norm(tgt.bias(k)) if flags[k] else 0.0 for k in range(depth)]
        ρ = R + sum(max(nb, 1.0) for nb, f in zip(norms, flags) if f)
        cert = certify(tgt, maps, domain=domain)
        worst = max(worst, cert.propagated[-1] / (((1 + ev) ** depth - 1) * ρ))
        count += 1
    P.check("7a. certify's affine recursion: Δ_l ≤ ((1+e)^l − 1) ρ (random instances)", f"grid ({count} nets)",
            worst <= 1 + 1e-9, f"max Δ_l / (((1+e)^l − 1) ρ) = {worst:.3f}")
    # the rule: Theorem 1's at (d_in + 1, ε/ρ), ρ = R + #(layers with a bias); plus n bias units
    eps, delta, Rs = sp.symbols("epsilon delta R", positive=True)
    d0, d1, d2 = sp.symbols("d0 d1 d2", positive=True, integer=True)
    flags2 = (True, False)
    n0 = samples_per_block(d0 + 1, d1, 2, eps / (Rs + 1), delta)
    P.equal("7c. width_bound(biases, R) = 2 d_0 n_0 + n_0, n_0 = rule(d_0 + 1, d_1, ε/(R + 1))",
            SPEC.width_bound(0, (d0, d1, d2), eps, delta, biases=flags2, radius=Rs), 2 * d0 * n0 + n0)
    n1 = samples_per_block(d1, d2, 2, eps / (Rs + 1), delta)
    P.equal("7c. nonnegative domain, layer without bias: width n d/(1 − 2^{−d}) at ε/ρ",
            SPEC.width_bound(1, (d0, d1, d2), eps, delta, biases=flags2, radius=Rs, nonnegative=True),
            hidden_width(d1, n1, False))
    P.equal("7c. bias-free, unit ball: the old width_bound",
            SPEC.width_bound(0, (d0, d1, d2), eps, delta, biases=(False, False), radius=1),
            SPEC.width_bound(0, (d0, d1, d2), eps, delta))
    m = sp.Symbol("m", positive=True)
    P.nonneg("7d. union over d_out(2 d_in + 1) ≤ 2 d_out(d_in + 1) problems: log term ≤ C(log₂((d_in+1)d_out l/m) + 2)",
             sp.log(2 * (d0 + 1) * d1 * 3 / m, 2) + 1 - sp.log(2 * 3 * d1 * (2 * d0 + 1) / m, 2),
             grid={d0: ints(1, 4096, 12), d1: ints(1, 4096, 6), m: logspace(1e-6, 0.5, 5)})
    rand = sltheory.random_network([(np.eye(3) / 2, np.zeros(3))], n=64, seed=0)
    c = rand.linears()[0].bias.numpy()
    pv = kstest(c, "uniform").pvalue
    P.check("7e. bias units' biases ~ U(0, 1), so c·b has the law of |a|·b (KS)", "measured", pv > 1e-3,
            f"{c.size} biases, KS p = {pv:.3f}")


def run() -> Proof:
    P = Proof("subset_sum")
    eps, delta, e, tau = sp.symbols("epsilon delta e tau", positive=True)
    l, N, d, d_in, d_out = sp.symbols("l N d d_in d_out", positive=True, integer=True)
    C = sp.Symbol("C", positive=True)

    # 1. Budget.
    P.equal("1. (1 + e)^l = 1 + ε for e = layer_error_budget(ε, l)", (1 + layer_error_budget(eps, l)) ** l,
            1 + eps)
    # 2. Frobenius tolerance.
    P.equal("2. ‖E‖_F at entries τ = e/√N: √(N τ²) = e", sp.sqrt(N * weight_tolerance(e, N, 1) ** 2), e)
    rng = np.random.default_rng(0)
    worst = max(np.linalg.norm(M, 2) - np.linalg.norm(M, "fro")
                for M in (rng.standard_normal(rng.integers(1, 9, 2)) for _ in range(300)))
    P.check("2. ‖E‖₂ ≤ ‖E‖_F (random matrices)", "grid (300 points)", worst <= 1e-12, f"max gap {worst:.1e}")
    # 3. Union bound.
    i = sp.Symbol("i", integer=True)
    Ni = sp.Function("N")(i)
    union = sp.Sum(Ni * delta / (l * Ni), (i, 1, l)).doit()
    P.equal("3. union bound Σ_{i≤l} N_i · δ/(l N_i) = δ", union, delta)
    # 4. The log term.
    P.nonneg("4a. e = (1+ε)^{1/l} − 1 ≥ ε/(l(1+ε))", layer_error_budget(eps, l) - eps / (l * (1 + eps)),
             grid={eps: logspace(1e-6, 1.0, 25), l: [1, 2, 3, 5, 10, 30]})
    P.nonneg("4b. 2√N − (1+ε) ≥ 0 for N ≥ 1, ε ≤ 1", 2 * sp.sqrt(N) - (1 + eps),
             grid={N: ints(1, 10**6, 20), eps: logspace(1e-6, 1.0, 12)})
    tau_prime = sp.Min(eps / (l * (1 + eps) * sp.sqrt(N)), delta / (l * N))
    P.nonneg("4c. τ' ≥ min(ε, δ)/(2 l N)", tau_prime - sp.Min(eps, delta) / (2 * l * N),
             grid={eps: logspace(1e-4, 1.0, 8), delta: logspace(1e-4, 0.5, 6), l: [1, 3, 10], N: ints(1, 10**5, 8)})
    m = sp.Symbol("m", positive=True)  # min(ε, δ)
    for signed, extra in ((True, 2), (False, 1)):
        n_proof = C * sp.log(2 * l * ((2 if signed else 1) * d_in) * d_out / m, 2)
        P.equal(f"4d. C log₂(2 l N/m) = C(log₂(d_in d_out l/m) + {extra})  [{'signed' if signed else 'after ReLU'}]",
                n_proof, C * (sp.log(d_in * d_out * l / m, 2) + extra))
    P.equal("4e. library theorem_samples is C log₂(d_in d_out l / min(ε, δ))",
            theorem_samples(d_in, d_out, l, eps, delta, C), C * sp.log(d_in * d_out * l / sp.Min(eps, delta), 2))
    # 5. Orders.
    P.limit_finite_positive("5a. theorem n / log d → 2C/ln 2 (d_in = d_out = d → ∞)",
                            theorem_samples(d, d, l, eps, delta, C) / sp.log(d), d)
    # The rule is max(theorem term, reach floor); beyond d* the theorem term is the max.
    e_v, dl_v = sp.Rational(1, 100), sp.Rational(1, 20)
    x = sp.Symbol("x", positive=True)  # d as a real variable, for solve
    gap = sp.simplify(sp.expand_log(theorem_samples(x, x, 3, e_v, dl_v) - reach_samples(e_v, dl_v), force=True))
    d_star = max(sp.solve(sp.Eq(gap, 0), x))
    P.check("5b. theorem term ≥ reach floor for d ≥ d* (ε=1e-2, δ=5e-2, l=3)", "symbolic",
            bool(sp.diff(gap, x).is_positive) and abs(float(gap.subs(x, d_star))) < 1e-9,
            f"gap = {gap}, increasing, zero at d* = {float(d_star):.1f}")
    P.limit_finite_positive("5c. beyond d*: width / (d log(d l/min(ε,δ))) → finite > 0",
                            2 * d * theorem_samples(d, d, 3, e_v, dl_v) / (d * sp.log(d * 3 / e_v)), d)
    P.equal("5c. and that width is the library's width_bound for d ≥ d*",
            SPEC.width_bound(0, (d, d, d, d), e_v, dl_v).subs(d, 4 * sp.ceiling(d_star)),
            (2 * d * theorem_samples(d, d, 3, e_v, dl_v)).subs(d, 4 * sp.ceiling(d_star)), grid={})
    # Builder widths ≥ the theorem's (C d log₂(...)) and ≥ the rule's un-rounded bound, on a grid.
    worst, count = builder_margin(
        SPEC, ints(1, 1024, 8), (1, 2, 3, 5), (1e-1, 1e-2, 1e-3), (0.5, 0.05, 0.005),
        extra=lambda plan, dims, e, dl: min(plan.layer_shapes[2 * k][0] - dims[k] * theorem_samples(
            dims[k], dims[k + 1], len(dims) - 1, e, dl) for k in range(len(dims) - 1)))
    P.check("5d. built widths ≥ theorem width C d log₂(d²l/min(ε,δ)) and ≥ rule", f"grid ({count} points)",
            worst >= 0, f"min margin {worst:.3g}")
    P.equal("5e. depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)

    _biases_and_domains(P)

    # 6. Constants: formula n vs measured-tail union bound vs empirical success (ε = 0.05, δ = 0.1).
    eps_v, delta_v, trials = 0.05, 0.1, 20
    rng = np.random.default_rng(1)
    tails: dict[tuple[int, float], float] = {}
    for dims in ((2, 2), (4, 4, 2), (8, 8, 8, 4)):
        depth = len(dims) - 1
        shapes = [(o, i) for i, o in zip(dims[:-1], dims[1:])]
        n_formula = max(math.ceil(samples_per_block(i, o, depth, eps_v, delta_v)) for o, i in shapes)
        budget = layer_error_budget(eps_v, depth)
        # measured-tail union bound: smallest n with Σ_i N_i · p̂_upper(n, τ_i) ≤ δ
        n_tail = None
        for n in range(8, 33, 2):
            total = 0.0
            for k, (o, i) in enumerate(shapes):
                Nk = (2 if k == 0 else 1) * i * o
                t = weight_tolerance(budget, (2 if k == 0 else 1) * i, o)
                key = (n, round(t, 12))
                if key not in tails:
                    tails[key] = _tail_upper(n, t, 20000, rng)
                total += Nk * tails[key]
            if total <= delta_v:
                n_tail = n
                break
        n_emp = None
        for n in range(6, 33, 2):
            if _success_rate(dims, n, eps_v, trials, np.random.default_rng(n)) >= 1 - delta_v:
                n_emp = n
                break
        detail = (f"formula n = {n_formula}, measured-tail union bound n = {n_tail}, empirical n = {n_emp} "
                  f"(≥{1 - delta_v:.0%} of {trials} seeds)")
        ok = n_tail is not None and n_emp is not None and n_emp <= n_formula and n_emp <= n_tail
        P.check(f"6. constants for {'-'.join(map(str, dims))} at ε={eps_v}, δ={delta_v}", "measured", ok, detail)
    return P
