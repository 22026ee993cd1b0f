"""Pensia et al. 2020 (arXiv:2006.07990), Theorem 1 with its fixed-block construction ("pensia").

Read from restatements (Natale et al. 2024, arXiv:2410.14754; Otsuka et al. 2025,
arXiv:2511.04217): the theorem's own text was not available. Proof steps checked (l = depth,
N_i = d_in'·d_out subset-sum problems of layer i, d_in' = 2 d_in on the signed first layer):

1. Budget and tolerance, as in ``subset_sum``: (1+e)^l = 1+ε; entries ≤ e/√N give ‖E‖₂ ≤ e.
2. The law of a slot's samples. A unit of a fixed block B_j contributes a_k⁺·B[o, k]: 0 with
   probability ½, else X·Y (X ~ U[0, 1], Y ~ U[−1, 1]) whose density is ½ ln(1/|z|). It vanishes at
   ±1 (no U[−1, 1] component); it is ≥ ½ ln 2 on [−½, ½], so the per-unit law ½δ₀ + ½ X·Y contains
   **U[−½, ½]** with weight ln2/4 (Corollary 1 as restated). Measured: the library's fixed blocks
   produce that law (Kolmogorov–Smirnov distance).
   For output o, the 2n* per-unit samples of a block are i.i.d. (distinct units share no weight)
   and a subset sum over P_j is a subset sum over all 2n* of them (the zeros add nothing), so the
   lemma applies to the 2n* samples of the block directly (N_j alike, with a_k⁻).
3. Slot sizes (informative; step 2 needs no bound on them): |P_j| ~ Binomial(2n*, ½); Hoeffding
   P(|P_j| ≤ (1 − t) n*) ≤ e^{−t² n*}, checked against the exact binomial tail on a grid.
4. Union bound and log term: per problem a tolerance τ' = min(τ, δ/(l N_i)) ≥ min(ε, δ)/(2 l N_i);
   Lueker's lemma for the law ½δ₀ + ½X·Y, with a constant C_L not explicit anywhere, needs
   2n* ≥ C_L log₂(2 l N_i / min(ε, δ)), and that is ≤ 2 C_L log₂(2 l d_in d_out / min(ε, δ))
   (N_i ≤ 2 d_in d_out): the restated n* = C·log(2l d_{i−1} d_i / min(ε, δ)) with C = C_L.
5. Sizes: width 2 d_{i−1} n* in every layer, random weights Σ_i 2 d_{i−1} n*_i (d_{i−1} + d_i),
   depth 2l, n* = Θ(log d); the builder's widths ≥ the rule's on a grid.
6. The constant: C = ``C_DEFAULT`` is ours, calibrated by measurement (:func:`calibrate`, run by
   hand; its table is in docs/constructions/pensia.md). Here: at C_DEFAULT the rule succeeds in
   ≥ 1 − δ of 10 seeds on the small targets where the calibration found C binding.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from scipy.stats import binom, kstest

import sltheory
from sltheory.bounds import layer_error_budget, weight_tolerance
from sltheory.constructions import registry
from sltheory.constructions.pensia import C_DEFAULT, MAX_N, fixed_blocks, samples_per_half

from ._check import Proof, ints, logspace

SPEC = registry.get("pensia")


def _success(dims, eps, delta, trials, C=C_DEFAULT, construction="pensia") -> tuple[int, tuple]:
    """Successes of random_network(rule) + approximate(eps) over seeds 0..trials−1, targets
    gaussian_target(dims, 10 000 + seed) (the fidelity experiment's convention)."""
    ok, n = 0, ()
    for seed in range(trials):
        Ws = sltheory.gaussian_target(dims, 10_000 + seed)
        opts = {"C": C} if construction == "pensia" else {}
        rand = sltheory.random_network(Ws, eps=eps, delta=delta, seed=seed, construction=construction, **opts)
        n = rand.plan.n
        try:
            sltheory.approximate(Ws, rand, eps=eps)
            ok += 1
        except sltheory.ApproximationFailedError:
            pass
    return ok, n


#: (dims, ε) of the calibration, δ = 0.1: from a 1×1 target (|w| = 1) to the fidelity targets.
CALIBRATION = (((1, 1), 0.1), ((1, 1), 0.01), ((2, 2), 0.1), ((2, 2), 0.01), ((4, 4, 2), 0.05),
               ((8, 16, 16, 4), 0.05), ((32, 64, 10), 0.01))
C_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)


def calibrate(cases=CALIBRATION, delta=0.1, trials=10, grid=C_GRID) -> dict:
    """The measurement behind C_DEFAULT: per case, the smallest C of ``grid`` whose rule succeeds
    in ≥ ⌈(1 − δ)·trials⌉ seeds (printed with the successes at each C tried). A few minutes on
    2 cores: ``python -c "from proofs.pensia import calibrate; calibrate()"``."""
    need = math.ceil((1 - delta) * trials)
    found = {}
    for dims, eps in cases:
        for C in grid:
            ok, n = _success(dims, eps, delta, trials, C)
            print(f"{'-'.join(map(str, dims)):<12} eps={eps:<5} C={C:<5} n*={n}  {ok}/{trials}", flush=True)
            if ok >= need:
                found[(dims, eps)] = C
                break
        else:
            found[(dims, eps)] = None
    print("smallest C per case:", {f"{'-'.join(map(str, d))}@{e}": c for (d, e), c in found.items()})
    return found


def run() -> Proof:
    P = Proof("pensia")
    eps, delta, e = sp.symbols("epsilon delta e", positive=True)
    l, N, d, d_in, d_out = sp.symbols("l N d d_in d_out", positive=True, integer=True)
    C = sp.Symbol("C", positive=True)

    # 1. Budget and per-weight tolerance.
    P.equal("1a. (1 + e)^l = 1 + ε for e = layer_error_budget(ε, l)", (1 + layer_error_budget(eps, l)) ** l,
            1 + eps)
    P.equal("1b. ‖E‖_F at entries τ = e/√N: √(N τ²) = e", sp.sqrt(N * weight_tolerance(e, N, 1) ** 2), e)

    # 2. The law of a slot's samples.
    x, z = sp.symbols("x z", positive=True)
    # z in (0, 1): P(XY ∈ dz) = ∫_z^1 f_X(x) f_Y(z/x) / x dx, f_X = 1 on [0,1], f_Y = ½ on [−1,1]
    density = sp.integrate(sp.Rational(1, 2) / x, (x, z, 1))
    P.equal("2a. density of X·Y (X ~ U[0,1], Y ~ U[−1,1]) is ½ ln(1/|z|)", density, sp.log(1 / z) / 2)
    P.equal("2b. it integrates to ½ on (0, 1] (symmetric: 1 on [−1, 1])", sp.integrate(density, (z, 0, 1)),
            sp.Rational(1, 2))
    lim = sp.limit(density, z, 1, "-")
    P.check("2c. density → 0 at |z| → 1: U[−1, 1] is NOT a mixture component", "symbolic", lim == 0,
            f"lim = {lim}")
    P.check("2d. density decreasing in |z|, = ½ ln 2 at |z| = ½", "symbolic",
            bool(sp.diff(density, z).is_negative) and sp.simplify(density.subs(z, sp.Rational(1, 2))
                                                                    - sp.log(2) / 2) == 0,
            f"d/dz = {sp.diff(density, z)}")
    weight_xy = sp.integrate(sp.log(2) / 2, (z, -sp.Rational(1, 2), sp.Rational(1, 2)))
    P.equal("2e. U[−½, ½] component: weight ln2/2 in X·Y, ln2/4 in ½δ₀ + ½X·Y", weight_xy / 2, sp.log(2) / 4)
    # measured: the library's fixed blocks produce samples of the law ½δ₀ + ½ X·Y
    rng = np.random.default_rng(0)
    n_star, d_in_v = 32, 40   # one output row: 2560 independent units
    A = rng.uniform(-1, 1, (2 * n_star * d_in_v, d_in_v))
    B = rng.uniform(-1, 1, (1, 2 * n_star * d_in_v))
    block = np.arange(A.shape[0]) // (2 * n_star)
    a_plus = np.maximum(A[np.arange(A.shape[0]), block], 0.0)
    per_unit = (B[0] * a_plus)
    zeros = float(np.mean(per_unit == 0))
    nonzero = per_unit[per_unit != 0]
    F = lambda v: np.where(v < 0, 0.5 - _cdf_abs(-v) / 2, 0.5 + _cdf_abs(v) / 2)  # noqa: E731
    ks = kstest(nonzero, F)
    unit_slot, slot_units, counts = fixed_blocks(A, True, n_star)
    pos = [slot_units[2 * j, :counts[2 * j]] for j in range(d_in_v)]
    agree = all(np.array_equal(np.sort(p), np.flatnonzero((block == j) & (A[:, j] > 0))) for j, p in enumerate(pos))
    P.check("2f. fixed blocks: zeros ≈ ½, nonzero part ~ X·Y (KS), P_j = {k ∈ B_j: a_k > 0}",
            "measured", abs(zeros - 0.5) < 4 * 0.5 / math.sqrt(per_unit.size) and ks.pvalue > 1e-3 and agree,
            f"{per_unit.size} samples: zeros {zeros:.3f}, KS p = {ks.pvalue:.2f}, P_j match: {agree}")

    # 3. Slot sizes: Hoeffding against the exact binomial tail.
    worst = min(math.exp(-t * t * n) - binom.cdf(math.floor((1 - t) * n), 2 * n, 0.5)
                for n in range(1, MAX_N + 1) for t in np.linspace(0.05, 1.0, 20))
    P.check("3. P(|P_j| ≤ (1−t)n*) ≤ exp(−t² n*), |P_j| ~ Bin(2n*, ½)", f"grid ({MAX_N * 20} points)",
            worst >= -1e-15, f"min(bound − exact) = {worst:.3g}")

    # 4. Union bound and log term.
    i = sp.Symbol("i", integer=True)
    Ni = sp.Function("N")(i)
    P.equal("4a. union bound Σ_{i≤l} N_i · δ/(l N_i) = δ", sp.Sum(Ni * delta / (l * Ni), (i, 1, l)).doit(), delta)
    P.nonneg("4b. e = (1+ε)^{1/l} − 1 ≥ ε/(l(1+ε))", layer_error_budget(eps, l) - eps / (l * (1 + eps)),
             grid={eps: logspace(1e-6, 1.0, 25), l: [1, 2, 3, 5, 10, 30]})
    tau_prime = sp.Min(eps / (l * (1 + eps) * sp.sqrt(N)), delta / (l * N))
    P.nonneg("4c. τ' = min(e/√N, δ/(lN)) ≥ min(ε, δ)/(2 l N)", tau_prime - sp.Min(eps, delta) / (2 * l * N),
             grid={eps: logspace(1e-4, 1.0, 8), delta: logspace(1e-4, 0.5, 6), l: [1, 3, 10], N: ints(1, 10**5, 8)})
    X = sp.Symbol("X", positive=True)   # X = 2 l d_in d_out / min(ε, δ) ≥ 2
    P.nonneg("4d. log₂(2l·2d_in d_out/m) ≤ 2 log₂(2l d_in d_out/m): 2n* suffices at C = C_L (X ≥ 2)",
             2 * sp.log(X, 2) - sp.log(2 * X, 2), grid={X: logspace(2.0, 1e12, 60)})
    P.equal("4e. library n* = C log₂(2 l d_in d_out / min(ε, δ))", samples_per_half(d_in, d_out, l, eps, delta, C),
            C * sp.log(2 * l * d_in * d_out / sp.Min(eps, delta), 2))

    # 5. Sizes.
    n_s = samples_per_half(d_in, d_out, l, eps, delta, C_DEFAULT)
    P.equal("5a. width_bound = 2 d_in n* in every layer (no negative-half saving)",
            SPEC.width_bound(1, (d, d_in, d_out), eps, delta) - 2 * d_in * samples_per_half(d_in, d_out, 2, eps,
                                                                                        delta), 0)
    P.equal("5b. parameter_bound = Σ 2 d_in n* (d_in + d_out)",
            SPEC.parameter_bound((d_in, d_out), eps, delta), 2 * d_in * n_s.subs(l, 1) * (d_in + d_out))
    P.limit_finite_positive("5c. n*/log d → 2C/ln 2 (d_in = d_out = d → ∞)",
                            samples_per_half(d, d, l, eps, delta, C) / sp.log(d), d)
    P.equal("5d. depth of the random network = 2l", SPEC.depth_bound(l), 2 * l)
    worst, count = math.inf, 0
    for dv in ints(1, 256, 7):
        for depth in (1, 2, 3):
            for ev in (0.3, 0.05, 0.01):
                for dl in (0.3, 0.05):
                    plan = SPEC.plan(tuple((dv, dv) for _ in range(depth)), eps=ev, delta=dl, max_weights=10**18)
                    dims = (dv,) * (depth + 1)
                    blocks = [plan.layer_shapes[2 * k][0] == 2 * dv * plan.n[k] for k in range(depth)]
                    margins = [plan.num_random_weights - SPEC.parameter_bound(dims, ev, dl)]
                    margins += [plan.layer_shapes[2 * k][0] - SPEC.width_bound(k, dims, ev, dl) for k in range(depth)]
                    worst = min(worst, *margins) if all(blocks) else -math.inf
                    count += 1
    P.check("5e. built widths = 2 d_in ⌈n*⌉ ≥ width_bound, weights ≥ parameter_bound", f"grid ({count} points)",
            worst >= 0, f"min margin {worst:.3g}")

    # 6. The constant (ours): at C_DEFAULT the rule holds where the calibration found C binding.
    for dims, ev in (((1, 1), 0.1), ((2, 2), 0.1), ((4, 4, 2), 0.05)):
        ok, n = _success(dims, ev, 0.1, 10)
        P.check(f"6. C = {C_DEFAULT:g}: rule succeeds ≥ 9/10 on {'-'.join(map(str, dims))} at ε={ev}, δ=0.1",
                "measured", ok >= 9, f"n* = {n}: {ok}/10 seeds (calibrate() for the full table)")
    return P


def _cdf_abs(v):
    """P(|X·Y| ≤ v) = v(1 + ln(1/v)) for v in (0, 1] (the integral of ln(1/|z|) over [0, v])."""
    v = np.clip(np.asarray(v, dtype=float), 1e-300, 1.0)
    return v * (1 - np.log(v))
