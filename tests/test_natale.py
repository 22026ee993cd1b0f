"""natale (Natale et al. 2024, fixed-size subsets): the fixed-size solver against brute force, the
rule's closed forms, Theorem 5's bound against its defining inequality, the sparsity bound."""

import itertools
import math

import numpy as np
import pytest
import sympy

import sltheory
from sltheory.bounds import counting_lower_bound, natale_lower_bound, natale_min_parameters
from sltheory.constructions.natale import (
    C_DEFAULT,
    CONSTRUCTION,
    N_STAR,
    binary_entropy,
    kept_per_target_bound,
    rfss_rhs,
    theorem3_rhs,
    theorem3_rhs_k,
    theorem3_samples,
    theorem3_samples_k,
)
from sltheory.errors import InvalidArgumentError
from sltheory.subset_sum import brute_force_fixed, popcount, solve, subset_sums
from sltheory.subset_sum._kernels import fixed_plan


# ------------------------------------------------------------------ the fixed-size solver
def test_fixed_mode_equals_brute_force():
    """Best subset of exactly k: same error as enumerating all C(m, k) subsets, exactly k bits,
    the error recomputed from the mask; k > m: none (inf)."""
    rng = np.random.default_rng(0)
    for m in range(0, 15):
        P = 12
        samples = np.abs(rng.uniform(-1, 1, (P, 14))) * rng.uniform(-1, 1, (P, 14))
        targets = rng.uniform(-1.5, 1.5, P)
        counts = np.full(P, m)
        for k in range(0, m + 2):
            res = solve(samples, targets, counts=counts, mode="fixed", k=k)
            for p in range(P):
                _, err = brute_force_fixed(samples[p, :m], targets[p], k)
                if k > m:
                    assert math.isinf(res.errors[p]) and res.masks[p] == 0
                    continue
                assert res.errors[p] == pytest.approx(err, abs=1e-12), (m, k, p)
                assert popcount(res.masks[p:p + 1])[0] == k
                assert int(res.masks[p]) >> m == 0
                assert abs(subset_sums(samples[p:p + 1], res.masks[p:p + 1])[0] - targets[p]) == \
                    pytest.approx(res.errors[p], abs=1e-12)


def test_fixed_mode_large_m_matches_enumeration_of_small_k():
    """m = 40 and 64 (beyond brute_force's 20): k = 1, 2, 3 (and m − 1, m − 2: complements) against a
    direct enumeration with itertools."""
    rng = np.random.default_rng(1)
    for m in (40, 64):
        c = rng.uniform(-1, 1, (3, m))
        t = rng.uniform(-1, 1, 3)
        for k in (1, 2, 3, m - 2, m - 1):
            res = solve(c, t, mode="fixed", k=k)
            for p in range(3):
                if k <= 3:
                    best = min(abs(sum(c[p, list(s)]) - t[p]) for s in itertools.combinations(range(m), k))
                else:
                    total = c[p].sum()
                    best = min(abs(total - sum(c[p, list(s)]) - t[p]) for s in itertools.combinations(range(m), m - k))
                assert res.errors[p] == pytest.approx(best, abs=1e-12)
                assert popcount(res.masks[p:p + 1])[0] == k


def test_fixed_mode_both_searches_match_vectorized_enumeration():
    """m = 24: k = 4, 5, 6 use the all-samples disjoint-pair search, k = 8 the halves' per-size
    lists (and 16, 18, 19, 20 their complements), against all C(24, k) subsets summed with numpy."""
    assert fixed_plan(24, 4)[0] == fixed_plan(24, 6)[0] == 2 and fixed_plan(24, 8)[0] == fixed_plan(14, 5)[0] == 1
    rng = np.random.default_rng(3)
    m = 24
    c = np.abs(rng.uniform(-1, 1, (3, m))) * rng.uniform(-1, 1, (3, m))
    t = rng.uniform(-1, 1, 3)
    for k in (4, 5, 6, 8, 16, 18, 19, 20):
        idx = np.array(list(itertools.combinations(range(m), min(k, m - k))))
        res = solve(c, t, mode="fixed", k=k)
        for p in range(3):
            sums = c[p, idx].sum(axis=1) if k <= m - k else c[p].sum() - c[p, idx].sum(axis=1)
            assert res.errors[p] == pytest.approx(np.abs(sums - t[p]).min(), abs=1e-12), (k, p)
            assert popcount(res.masks[p:p + 1])[0] == k


def test_fixed_mode_per_problem_k_and_bad_inputs():
    rng = np.random.default_rng(2)
    c = rng.uniform(-1, 1, (4, 10))
    t = rng.uniform(-1, 1, 4)
    ks = np.array([1, 2, 5, 9])
    res = solve(c, t, mode="fixed", k=ks)
    assert list(popcount(res.masks)) == list(ks)
    for bad in (-1, 65, 2.5, True, "3", [1, 2]):
        with pytest.raises(InvalidArgumentError, match="k"):
            solve(c, t, mode="fixed", k=bad)
    with pytest.raises(InvalidArgumentError, match="mode='fixed'"):
        solve(c, t, mode="fixed")
    with pytest.raises(InvalidArgumentError, match="mode='fixed'"):
        solve(c, t, tol=0.1, k=3)
    with pytest.raises(InvalidArgumentError, match="lists of"):
        solve(rng.uniform(-1, 1, (1, 64)), [0.0], mode="fixed", k=12)
    with pytest.raises(InvalidArgumentError, match="at most 20"):
        brute_force_fixed(np.zeros(21), 0.0, 2)


# ------------------------------------------------------------------ the rule (Theorem 3, restated)
def test_rule_closed_forms():
    d_in, d_out, l, eps, g, c = sympy.symbols("d_in d_out l epsilon gamma c", positive=True)
    H = -g * sympy.log(g, 2) - (1 - g) * sympy.log(1 - g, 2)
    expected = c * sympy.log(2 * l * d_in * d_out * g * N_STAR / eps, 2) ** 2 / H
    assert sympy.simplify(theorem3_rhs(d_in, d_out, l, eps, g, N_STAR, c) - expected) == 0
    assert binary_entropy(0.5) == pytest.approx(1.0) and binary_entropy(0.11) == pytest.approx(0.4999, abs=1e-3)
    # reference value: c = 1, 8×16 layer of a depth-2 target, ε = 0.01, k = 3: log₂(153600)² = 296.9...
    assert rfss_rhs(4, 0.01, 40, 1.0) == pytest.approx(math.log2(400) / binary_entropy(0.1))
    n = theorem3_samples(8, 16, 2, 0.01, 0.25, 1.0)
    assert n == pytest.approx(theorem3_rhs(8, 16, 2, 0.01, 0.25, n, 1.0), rel=1e-9)   # a fixed point
    assert n > theorem3_rhs(8, 16, 2, 0.01, 0.25, n * 0.999, 1.0) * 0.999              # and the largest
    for m in (1.01, 2, 10):
        assert m * n >= theorem3_rhs(8, 16, 2, 0.01, 0.25, m * n, 1.0)
    nk = theorem3_samples_k(8, 16, 2, 0.01, 4, C_DEFAULT)
    assert nk == pytest.approx(theorem3_rhs_k(8, 16, 2, 0.01, 4, nk, C_DEFAULT), rel=1e-6)
    assert nk * 0.99 < theorem3_rhs_k(8, 16, 2, 0.01, 4, nk * 0.99, C_DEFAULT)


def test_plan_follows_the_rule_and_k():
    shapes = ((16, 8), (4, 16))
    plan = CONSTRUCTION.plan(shapes, eps=0.01, delta=0.05, k=4)
    assert plan.n == tuple(math.ceil(theorem3_samples_k(a, b, 2, 0.01, 4, C_DEFAULT)) for a, b in ((8, 16), (16, 4)))
    assert plan.options["k"] == (4, 4) and plan.layer_shapes[0] == (2 * 8 * plan.n[0], 8)
    assert CONSTRUCTION.plan(shapes, eps=None, delta=0.05, n=20, gamma_prime=0.25).options["k"] == (5, 5)
    assert CONSTRUCTION.plan(shapes, eps=None, delta=0.05, n=2).options["k"] == (2, 2)      # min(K_DEFAULT, n)
    g_plan = CONSTRUCTION.plan(shapes, eps=0.1, delta=0.05, gamma_prime=0.2)
    assert g_plan.n[0] == math.ceil(theorem3_samples(8, 16, 2, 0.1, 0.2, C_DEFAULT))
    with pytest.raises(InvalidArgumentError, match="exceeds n"):
        CONSTRUCTION.plan(shapes, eps=None, delta=0.05, n=3, k=4)
    with pytest.raises(InvalidArgumentError, match="not both"):
        CONSTRUCTION.plan(shapes, eps=0.1, delta=0.05, k=2, gamma_prime=0.2)
    with pytest.raises(InvalidArgumentError, match="exceeds the supported 64"):
        CONSTRUCTION.plan(shapes, eps=0.01, delta=0.05, k=2)          # the k = 2 rule asks n = 146
    with pytest.raises(InvalidArgumentError, match="gamma_prime"):
        CONSTRUCTION.plan(shapes, eps=0.1, delta=0.05, gamma_prime=0.7)
    sym = CONSTRUCTION.width_bound(0, sympy.symbols("a b c", positive=True), sympy.Symbol("e", positive=True), 0.05)
    assert N_STAR in sym.free_symbols


def test_ticket_keeps_exactly_k_per_problem_and_the_sparsity_bound():
    W = sltheory.gaussian_target((3, 5, 2), 0)
    rand = sltheory.random_network(W, n=10, seed=1, construction="natale", k=3)
    ticket = sltheory.approximate(W, rand, eps=None)
    m = [t.numpy() for t in ticket.masks]
    assert (m[1].sum(axis=1) == 3 * 2 * 3).all()   # each output: 2·d_in slots × k
    assert (m[3].sum(axis=1) == 3 * 5).all()       # after a ReLU: d_in slots × k
    assert ticket.stats["short_problems"] == (0, 0)
    bound = sum(kept_per_target_bound(a, b, 10, 3, i == 0) * a * b for i, (a, b) in enumerate(((3, 5), (5, 2))))
    assert ticket.stats["kept_per_target"] <= bound / W_num(W) + 1e-12
    assert ticket.stats["kept_per_target_bound"] == pytest.approx(bound / W_num(W))


def W_num(W):
    return sltheory.as_target(W, check_norms=False).num_weights


# ------------------------------------------------------------------ Theorem 5 (restated)
def test_theorem5_closed_form_and_threshold():
    d, k, e, n = sympy.symbols("d k epsilon n", positive=True)
    p = k / n
    expected = d ** 2 / 2 * sympy.log(k / e, 2) / (-p * sympy.log(p, 2) - (1 - p) * sympy.log(1 - p, 2))
    assert sympy.simplify(natale_lower_bound(d, d, k, e, n) - expected) == 0
    assert natale_lower_bound(4, 4, 8, 0.01, 16) == pytest.approx(8 * math.log2(800))       # H₂(½) = 1
    for (a, b, kk, eps) in ((4, 4, 20, 0.01), (16, 16, 512, 0.01), (8, 16, 300, 0.001)):
        nmin = natale_min_parameters(a, b, kk, eps)
        assert nmin >= natale_lower_bound(a, b, kk, eps, nmin)
        assert nmin - 1 <= kk or nmin - 1 < natale_lower_bound(a, b, kk, eps, nmin - 1)
    # dense tickets (k = n/2): the bound is (d²/2) log₂(k/ε), the counting bound's order
    assert natale_lower_bound(16, 16, 1000, 0.01, 2000) == pytest.approx(128 * math.log2(1e5))
    assert counting_lower_bound(16, 16, 0.01) < natale_min_parameters(16, 16, 16 * 16 * 4, 0.01)
    for bad in ((0, 4, 2, 0.1, 5), (4, 4, 5, 0.1, 5), (4, 4, 2, 0.0, 5), (4, 4, 2, 3.0, 5)):
        with pytest.raises(InvalidArgumentError):
            natale_lower_bound(*bad)
