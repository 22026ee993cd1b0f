"""Pensia et al.'s experiment reproduced faithfully (sltheory.subset_sum.coefficients) and the
weight_scale option of subset_sum (random weights U[−s, s), the per-weight rule on B/s², τ/s²)."""

import numpy as np
import pytest
import torch

import sltheory
from sltheory import InvalidArgumentError
from sltheory.constructions.subset_sum import num_problems, per_weight_samples, reach_failure
from sltheory.subset_sum.coefficients import (
    CoefficientResult,
    coefficient_range,
    pensia_coefficient_mode,
    pensia_n,
)


# ------------------------------------------------------------------ the coefficient mode
def all_subset_sums(c):
    """Σ of every subset of c (1-D, small) and its size, by enumeration of the 2^n bit patterns."""
    n = c.size
    bits = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
    return bits @ c, bits.sum(axis=1)


def drawn(W, n, seed, per):
    """The coefficients as the module docstring specifies them: U[low, high) from
    default_rng(seed), layer by layer, row by row (one set per row, or one per weight)."""
    low = min(0.0, min(float(m.min()) for m in W))
    high = max(0.0, max(float(m.max()) for m in W))
    rng = np.random.default_rng(seed)
    out = []
    for m in W:
        d_out, d_in = m.shape
        if per == "row":
            c = rng.uniform(low, high, size=(d_out, 1, n))
            out.append(np.broadcast_to(c, (d_out, d_in, n)))
        else:
            out.append(rng.uniform(low, high, size=(d_out, d_in, n)))
    return out


def tiny_target(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.4, (3, 4)), rng.normal(0.1, 0.3, (2, 3))]


@pytest.mark.parametrize("per", ["row", "weight"])
@pytest.mark.parametrize("select", ["closest", "sparsest"])
def test_coefficient_mode_against_brute_force(per, select):
    W, n, tol = tiny_target(), 9, 0.02
    res = pensia_coefficient_mode(W, n=n, tol=tol, seed=3, per=per, select=select)
    coefs = drawn(W, n, 3, per)
    for m, c, approx, used, err in zip(W, coefs, res.approximations, res.used, res.errors):
        for o in range(m.shape[0]):
            for j in range(m.shape[1]):
                sums, sizes = all_subset_sums(np.array(c[o, j]))
                gaps = np.abs(sums - m[o, j])
                assert err[o, j] == pytest.approx(abs(approx[o, j] - m[o, j]), abs=1e-15)
                # the approximation is a subset sum of this weight's (or this row's) coefficients, of size `used`
                hit = np.isclose(sums, approx[o, j], rtol=0, atol=1e-12) & (sizes == used[o, j])
                assert hit.any()
                if select == "closest":                  # the optimum, as their MIP's objective
                    assert err[o, j] == pytest.approx(gaps.min(), abs=1e-12)
                elif (gaps <= tol).any():                # the fewest coefficients within tol
                    assert used[o, j] == sizes[gaps <= tol].min() and err[o, j] <= tol
                else:
                    assert err[o, j] == pytest.approx(gaps.min(), abs=1e-12)
    assert res.coefficients_used == sum(int(u.sum()) for u in res.used)
    assert res.coefficients_per_weight == res.coefficients_used / 18
    assert res.coefficients_drawn == 18 * n
    assert res.failures == sum(int((e > tol).sum()) for e in res.errors)


def test_row_mode_reuses_one_set_per_row():
    """Two equal weights of one row get the same subset sum; per weight, fresh sets differ."""
    W = [np.full((2, 5), 0.3), np.array([[-0.7, 0.2]])]
    row = pensia_coefficient_mode(W, n=12, tol=0.01, seed=1, per="row")
    assert np.all(row.approximations[0] == row.approximations[0][:, :1])
    weight = pensia_coefficient_mode(W, n=12, tol=0.01, seed=1, per="weight")
    assert len(np.unique(weight.approximations[0])) > 1


def test_range_counts_zero_and_every_layer():
    assert coefficient_range([np.array([[0.2, 0.5]]), np.array([[0.1], [1.5]])]) == (0.0, 1.5)
    assert coefficient_range(np.array([[-0.3, -0.1]])) == (-0.3, 0.0)
    res = pensia_coefficient_mode([np.array([[0.2, 0.5]]), np.array([[-0.4], [1.5]])], n=6, tol=0.05, seed=0)
    assert (res.low, res.high) == (-0.4, 1.5)


def test_n_as_their_code_computes_it():
    assert pensia_n(0.01) == 21 and pensia_n(0.01, c=1) == 7 and pensia_n(0.1, c=3) == 9


def test_threshold_sets_small_weights_to_zero():
    W = [np.array([[0.005, -0.008, 0.4], [0.0, 0.3, -0.6]])]
    res = pensia_coefficient_mode(W, n=10, tol=0.01, seed=0, threshold=True)
    small = np.abs(W[0]) <= 0.01
    assert np.all(res.used[0][small] == 0) and np.all(res.approximations[0][small] == 0)


def test_failures_are_counted_not_fatal():
    """n = 1 cannot meet most weights: the run goes on and counts them (their code exits)."""
    res = pensia_coefficient_mode([np.linspace(-1, 1, 12).reshape(3, 4)], n=1, tol=0.001, seed=0)
    assert isinstance(res, CoefficientResult) and res.failures > 0 and res.max_error > 0.001


@pytest.mark.parametrize("kwargs", [
    {"n": 0}, {"n": 41}, {"n": 2.5}, {"tol": 0}, {"tol": float("nan")}, {"seed": -1}, {"per": "column"},
    {"select": "best"}, {"threshold": 1},
])
def test_bad_arguments(kwargs):
    args = {"n": 5, "tol": 0.01, "seed": 0} | kwargs
    with pytest.raises(InvalidArgumentError):
        pensia_coefficient_mode([np.ones((2, 2))], **args)


@pytest.mark.parametrize("W", [[], np.ones(3), [np.ones((2, 2)), np.ones((0, 2))], [np.array([[np.inf]])],
                               [np.zeros((2, 2))], "ab"])
def test_bad_weights(W):
    with pytest.raises(InvalidArgumentError):
        pensia_coefficient_mode(W, n=5, tol=0.01, seed=0)


# ------------------------------------------------------------------ weight_scale
def test_weight_scale_law_is_scaled_uniform():
    """U[−s, s): s times the default network's weights, bit for bit (same seed and shapes)."""
    t = sltheory.gaussian_target((5, 7, 3), 0)
    base = sltheory.random_network(t, n=6, seed=4)
    scaled = sltheory.random_network(t, n=6, seed=4, weight_scale=1.7)
    assert scaled.plan.distribution == ("uniform", 1.7) and scaled.plan.options["weight_scale"] == 1.7
    for a, b in zip(base.linears(), scaled.linears()):
        assert torch.equal(b.weight, 1.7 * a.weight)
        assert float(b.weight.abs().max()) < 1.7
    w = torch.cat([lin.weight.reshape(-1) for lin in scaled.linears()])
    assert abs(float((w.abs() < 0.85).double().mean()) - 0.5) < 0.05
    same = sltheory.random_network(t, n=6, seed=4, weight_scale=1.0)
    assert same.plan == base.plan      # s = 1 is the default law exactly


@pytest.mark.parametrize("N,tol,B,s", [(1000, 0.01, 1.6, 1.26), (69_000, 0.01, 1.6, 2.0), (500, 0.05, 0.3, 0.5)])
def test_per_weight_rule_scales_by_s_squared(N, tol, B, s):
    """Samples s² × products of U[−1, 1]: the problem (B, τ) is the unscaled (B/s², τ/s²)."""
    assert per_weight_samples(N, tol, 0.05, B, s) == per_weight_samples(N, tol / s**2, 0.05, B / s**2)
    assert per_weight_samples(N, tol, 0.05, B, 1.0) == per_weight_samples(N, tol, 0.05, B)


def test_plan_uses_the_scaled_rule():
    t = sltheory.gaussian_target((4, 6, 3), 0)
    rand = sltheory.random_network(t, weight_tol=0.01, weight_bound=3.0, weight_scale=2.0, seed=0)
    n = per_weight_samples(num_problems([(6, 4), (3, 6)]), 0.01, 0.05, 3.0, 2.0)
    assert rand.plan.n == (n, n) and rand.plan.options["weight_bound"] == 3.0
    assert n < per_weight_samples(num_problems([(6, 4), (3, 6)]), 0.01, 0.05, 3.0)


def test_scaled_reach_bound_covers_monte_carlo():
    """P(Σ of n same-sign products s²X⁺ ≤ B) ≤ reach_failure(n, B/s²), measured on 40,000 slots."""
    n, s, B = 8, 1.5, 1.8
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-s, s, (2, 40_000, n))
    measured = float((np.maximum(np.abs(a) * b, 0).sum(axis=1) <= B).mean())
    bound = reach_failure(n, B / s**2)
    assert 0.01 < measured <= bound


def test_weight_scale_lets_small_n_reach_large_weights():
    """Weights up to 1.9: out of reach at n = 16 with U[−1, 1), met with s = 2 (per-weight mode; measured
    on seeds 0–5: all six fail unscaled, all six succeed scaled)."""
    rng = np.random.default_rng(1)
    W = [rng.uniform(-1.9, 1.9, (3, 3)), rng.uniform(-1.9, 1.9, (2, 3))]
    W[0][0, 0], W[1][1, 2] = 1.9, -1.9
    base = sltheory.random_network(W, n=16, seed=0)
    with pytest.raises(sltheory.ApproximationFailedError):
        sltheory.approximate(W, base, weight_tol=0.05)
    rand = sltheory.random_network(W, n=16, seed=0, weight_scale=2.0)
    ticket = sltheory.approximate(W, rand, weight_tol=0.05)
    assert ticket.stats["max_weight_error"] <= 0.05
    full = ticket.pruned_network(prune_buffers=False)   # full width (ticket.network: the live units)
    for lin, kept in zip(rand.linears(), [m for m in full if isinstance(m, torch.nn.Linear)]):
        nz = kept.weight != 0
        assert torch.equal(kept.weight[nz], lin.weight[nz])     # masks only, never a changed weight


@pytest.mark.parametrize("kwargs,match", [
    ({"n": 6, "weight_scale": 0}, "weight_scale"), ({"n": 6, "weight_scale": -2}, "weight_scale"),
    ({"n": 6, "weight_scale": float("nan")}, "weight_scale"), ({"n": 6, "weight_scale": True}, "weight_scale"),
    ({"n": 6, "weight_scale": "2"}, "weight_scale"), ({"n": 6, "weight_scale": 1e4}, "weight_scale"),
    ({"eps": 0.1, "weight_scale": 2.0}, "Theorem 1"),
    ({"weight_tol": 0.01, "weight_scale": 1.0, "weight_bound": 64.0}, "weight_bound"),
])
def test_weight_scale_bad_inputs(kwargs, match):
    t = sltheory.gaussian_target((3, 4, 2), 0)
    with pytest.raises(InvalidArgumentError, match=match):
        sltheory.random_network(t, seed=0, **kwargs)


def test_weight_bound_may_reach_64_s_squared():
    t = sltheory.gaussian_target((3, 4, 2), 0)
    plan = sltheory.random_network(t, seed=0, weight_tol=0.01, weight_scale=10.0, weight_bound=80.0).plan
    assert plan.options["weight_bound"] == 80.0 and plan.n[0] <= 64
