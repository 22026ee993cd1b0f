"""Sparse tickets: the minimum-cardinality solver and the per-weight mode (issue 6, point 1)."""

import math

import numpy as np
import pytest
import torch
from _tickets import check_ticket, linears  # noqa: E402
from hypothesis import given, settings
from hypothesis import strategies as st

import sltheory
from sltheory import ApproximationFailedError, InvalidArgumentError
from sltheory.constructions.subset_sum import num_problems, per_weight_samples, reach_failure, reach_samples_per_weight
from sltheory.subset_sum import brute_force, brute_force_sparsest, masks_to_bool, popcount, solve, subset_sums


# ------------------------------------------------------------------ minimum cardinality
@st.composite
def problems(draw, max_n=14):
    n = draw(st.integers(0, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    samples = rng.uniform(0, 1, n) * rng.uniform(-1, 1, n)
    target = draw(st.one_of(st.floats(-1.5, 1.5), st.sampled_from([-1.0, 0.0, 0.5, 1.0])))
    return samples, target


@given(problems(), st.floats(1e-4, 0.3))
def test_sparsest_is_minimum_cardinality(problem, tol):
    """Fewest elements among all subsets within tol, and the smallest error among those."""
    samples, target = problem
    res = solve(samples[None, :], np.array([target]), tol=tol)
    ref = brute_force_sparsest(samples, target, tol)
    recomputed = abs(subset_sums(samples[None, :], res.masks)[0] - target)
    assert res.errors[0] == pytest.approx(recomputed, abs=1e-12)
    if ref is None:  # nothing within tol: the optimum, as in exact mode
        assert res.errors[0] > tol
        assert res.errors[0] == pytest.approx(brute_force(samples, target)[1], abs=1e-12)
    else:
        size, err = ref
        assert popcount(res.masks)[0] == size
        assert res.errors[0] <= tol
        assert res.errors[0] == pytest.approx(err, abs=1e-12)


@given(problems(), st.floats(1e-4, 0.3))
def test_sparsest_never_larger_than_staged(problem, tol):
    samples, target = problem
    sparse = solve(samples[None, :], np.array([target]), tol=tol)
    staged = solve(samples[None, :], np.array([target]), tol=tol, mode="staged")
    assert (sparse.errors[0] <= tol) == (staged.errors[0] <= tol)
    if staged.errors[0] <= tol:
        assert popcount(sparse.masks)[0] <= popcount(staged.masks)[0]


def test_sparsest_searches_all_samples_not_a_prefix():
    """A two-element solution among samples 50 and 60 of 64, beyond the staged search's 40."""
    c = np.random.default_rng(0).uniform(0, 1e-3, 64)
    c[50], c[60] = 0.5, 0.25
    res = solve(c[None], np.array([0.75]), tol=1e-3)
    assert popcount(res.masks)[0] == 2 and res.errors[0] <= 1e-6
    assert set(np.flatnonzero(res.selected(64)[0])) == {50, 60}
    # within the first 40 (here: 20 of 30) too: a single sample beats the staged prefix's pairs
    c = np.full(30, 0.3)
    c[25] = 0.6
    res = solve(c[None], np.array([0.6]), tol=1e-9)
    assert popcount(res.masks)[0] == 1 and res.selected(30)[0, 25]


def test_sparsest_batched_counts():
    rng = np.random.default_rng(1)
    samples = rng.uniform(-1, 1, (200, 12)) * rng.uniform(0, 1, (200, 12))
    counts = rng.integers(0, 13, 200)
    targets = rng.uniform(-1, 1, 200)
    res = solve(samples, targets, counts=counts, tol=0.02)
    chosen = masks_to_bool(res.masks, 12)
    for p in range(200):
        assert not chosen[p, counts[p]:].any()
        ref = brute_force_sparsest(samples[p, :counts[p]], targets[p], 0.02)
        if ref is None:
            assert res.errors[p] > 0.02
        else:
            assert popcount(res.masks[p:p + 1])[0] == ref[0]


def test_bad_mode():
    with pytest.raises(InvalidArgumentError, match="mode"):
        solve(np.zeros((1, 3)), [0.0], tol=0.1, mode="fast")


# ------------------------------------------------------------------ the per-weight width rule
def test_reach_bound_dominates_monte_carlo():
    """The Chernoff bound on P(same-sign products sum ≤ B) is above the measured frequency."""
    rng = np.random.default_rng(2)
    for n, B in ((16, 1.0), (24, 1.0), (24, 2.0)):
        x = np.maximum(rng.uniform(0, 1, (20000, n)) * rng.uniform(-1, 1, (20000, n)), 0).sum(axis=1)
        assert np.mean(x <= B) <= reach_failure(n, B)
    assert reach_failure(0, 1.0) == 1.0


def test_per_weight_rule_monotone_and_stated():
    N = num_problems(((500, 64), (10, 500)))
    assert N == 500 * 128 + 10 * 500
    n = per_weight_samples(N, 0.01, 0.05, 1.0)
    assert n == max(reach_samples_per_weight(1.0, 0.05 / (2 * N)), math.ceil(math.log2(2 * N / (0.05 * 0.01))))
    assert reach_failure(reach_samples_per_weight(1.0, 1e-4), 1.0) <= 1e-4 < reach_failure(
        reach_samples_per_weight(1.0, 1e-4) - 1, 1.0)
    assert per_weight_samples(N, 1e-3, 0.05, 1.0) >= n
    assert per_weight_samples(N, 0.01, 0.05, 2.0) > n > per_weight_samples(N, 0.01, 0.05, 0.5)
    assert per_weight_samples(10 * N, 0.01, 0.05, 1.0) >= n


def test_per_weight_rule_measured_miss_rate():
    """At the rule's n for N = 10 problems, δ = 0.5 and |w| = B = 1 (the worst case), the measured
    miss rate of the solver is below the union bound's per-problem budget δ/N."""
    n = per_weight_samples(10, 0.01, 0.5, 1.0)
    rng = np.random.default_rng(3)
    samples = rng.uniform(0, 1, (4000, n)) * rng.uniform(-1, 1, (4000, n))
    targets = np.where(rng.random(4000) < 0.5, 1.0, -1.0)
    miss = np.mean(solve(samples, targets, tol=0.01).errors > 0.01)
    assert miss <= 0.5 / 10


def test_random_network_weight_tol_depends_on_shapes_only():
    rng = np.random.default_rng(4)
    a = [rng.standard_normal((5, 3)) * 3, rng.standard_normal((2, 5))]
    b = [rng.standard_normal((5, 3)) * 0.1, rng.standard_normal((2, 5)) * 7]
    ra = sltheory.random_network(a, weight_tol=0.02, seed=5)
    rb = sltheory.random_network(b, weight_tol=0.02, seed=5)
    assert ra.plan == rb.plan
    assert all(torch.equal(x.weight, y.weight) for x, y in zip(ra.linears(), rb.linears()))
    expected = per_weight_samples(num_problems(ra.plan.target_shapes), 0.02, 0.05, 1.0)
    assert ra.n == (expected, expected)
    assert ra.plan.options["weight_tol"] == 0.02 and ra.plan.options["weight_bound"] == 1.0
    wide = sltheory.random_network(a, weight_tol=0.02, weight_bound=1.5, seed=5)
    assert wide.n[0] == per_weight_samples(num_problems(ra.plan.target_shapes), 0.02, 0.05, 1.5) > ra.n[0]


# ------------------------------------------------------------------ the per-weight mode
def _effective_errors(target_mats, ticket):
    """max |P − W| (and |N + W| on the first layer) per layer, from the ticket's own weights."""
    lin = linears(ticket.pruned_network(prune_buffers=False))   # full width (ticket.network: the live units)
    out = []
    for i, W in enumerate(target_mats):
        A, B = lin[2 * i].weight, lin[2 * i + 1].weight
        W = torch.as_tensor(W)
        err = (B @ A.clamp(min=0) - W).abs()
        if i == 0:
            err = torch.maximum(err, (B @ (-A).clamp(min=0) + W).abs())
        out.append(float(err.max()))
    return out


@st.composite
def raw_targets(draw):
    """Targets outside the theorems' class: some ‖W_i‖₂ > 1 (up to 3), entries up to 1.5."""
    dims = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mats = [rng.uniform(-1.2, 1.2, (o, i)) for i, o in zip(dims[:-1], dims[1:])]
    mats[0] = mats[0] * draw(st.floats(1.05, 3.0)) / np.linalg.norm(mats[0], 2)  # ‖W₁‖₂ > 1
    # entries ≤ 1.5 (max entry ≤ norm, so the first layer keeps ‖W₁‖₂ ≥ 1.05)
    return [m * (1.5 / max(1.5, np.abs(m).max())) for m in mats]


@given(target=raw_targets(), tol=st.sampled_from([0.1, 0.03, 0.01]), seed=st.integers(0, 2**16))
@settings(max_examples=30)
def test_per_weight_guarantee(target, tol, seed):
    """Every target weight within tol in the ticket's effective maps (recomputed here with torch),
    no NormAssumptionError, and the certified bound ≥ the adversarial error."""
    rand = sltheory.random_network(target, n=32, seed=seed)
    try:
        ticket = sltheory.approximate(target, rand, weight_tol=tol)
    except ApproximationFailedError as exc:  # a weight beyond the slot's reach: the typed failure
        assert exc.missed > 0 and exc.total == sum(w.size for w in target)
        return
    errs = _effective_errors(target, ticket)
    assert max(errs) <= tol
    assert ticket.stats["mode"] == "per_weight" and ticket.stats["weight_tol"] == tol
    assert ticket.stats["max_weight_error"] == pytest.approx(max(errs), rel=1e-9, abs=1e-15)
    check_ticket(target, rand, ticket)  # includes error_bound ≥ adversarial error


def test_per_weight_on_norms_above_one_and_bound_uses_actual_norms():
    rng = np.random.default_rng(5)
    W = [rng.uniform(-1, 1, (8, 5)), rng.uniform(-1, 1, (3, 8))]
    norms = [np.linalg.norm(w, 2) for w in W]
    assert min(norms) > 1
    with pytest.raises(sltheory.NormAssumptionError):
        sltheory.approximate(W, sltheory.random_network(W, n=8, seed=0))
    rand = sltheory.random_network(W, weight_tol=0.01, seed=0)
    ticket = sltheory.approximate(W, rand, weight_tol=0.01)
    assert max(_effective_errors(W, ticket)) <= 0.01
    cert = ticket.certificate
    # the bound's first layer error is at most what every entry ≤ τ allows (Frobenius), and the
    # propagation uses ‖W₁‖ > 1: Δ₂ ≥ ‖W₂‖·0 + e₂·R₁ with R₁ = ‖W₁‖
    assert cert.layer_errors[0] <= 0.01 * math.sqrt(8 * 10) + 1e-12
    assert ticket.error_bound >= cert.propagated[0]
    assert ticket.stats["output_scale"] == 1.0
    err = check_ticket(W, rand, ticket)
    assert err <= ticket.error_bound


def test_per_weight_failure_is_typed():
    W = [np.array([[3.0, 0.5]])]  # |w| = 3 is beyond what n = 6 products can sum to
    rand = sltheory.random_network(W, n=6, seed=0)
    with pytest.raises(ApproximationFailedError, match="per-weight mode") as info:
        sltheory.approximate(W, rand, weight_tol=0.01)
    assert info.value.missed >= 1 and info.value.n_needed[0] > 6


def test_min_cardinality_makes_per_weight_tickets_sparser():
    rng = np.random.default_rng(6)
    W = [rng.uniform(-0.5, 0.5, (20, 10)), rng.uniform(-0.5, 0.5, (4, 20))]
    rand = sltheory.random_network(W, n=24, seed=1)
    sparse = sltheory.approximate(W, rand, weight_tol=0.01)
    staged = sltheory.approximate(W, rand, weight_tol=0.01, min_cardinality=False)
    size = [lay["mean_subset_size"] for lay in sparse.stats["layers"]]
    size_staged = [lay["mean_subset_size"] for lay in staged.stats["layers"]]
    assert all(a < b for a, b in zip(size, size_staged))
    assert sparse.stats["kept_weights"] < staged.stats["kept_weights"]


def test_min_cardinality_in_network_mode():
    W = sltheory.gaussian_target((8, 12, 4), 0)
    rand = sltheory.random_network(W, eps=0.05, seed=0)
    for flag in (True, False):
        ticket = sltheory.approximate(W, rand, eps=0.05, min_cardinality=flag)
        assert ticket.error_bound <= 0.05 and ticket.stats["mode"] == "network"


@pytest.mark.parametrize("call", [
    lambda W, r: sltheory.approximate(W, r, eps=0.1, weight_tol=0.01),
    lambda W, r: sltheory.approximate(W, r, weight_tol=0),
    lambda W, r: sltheory.approximate(W, r, weight_tol=-0.1),
    lambda W, r: sltheory.approximate(W, r, weight_tol=float("nan")),
    lambda W, r: sltheory.approximate(W, r, weight_tol="0.01"),
    lambda W, r: sltheory.approximate(W, r, weight_tol=0.01, rescale=True),
    lambda W, r: sltheory.approximate(W, r, weight_tol=0.01, min_cardinality="yes"),
    lambda W, r: sltheory.random_network(W, seed=0, eps=0.1, weight_tol=0.01),
    lambda W, r: sltheory.random_network(W, seed=0, weight_tol=0.0),
    lambda W, r: sltheory.random_network(W, seed=0, eps=0.1, weight_bound=2.0),
    lambda W, r: sltheory.random_network(W, seed=0, weight_tol=0.01, weight_bound=-1.0),
    lambda W, r: sltheory.random_network(W, seed=0, weight_tol=0.01, weight_bound=5.0),  # n > 64
])
def test_bad_per_weight_arguments(call):
    W = [np.eye(2) * 0.5]
    rand = sltheory.random_network(W, n=4, seed=0)
    with pytest.raises(InvalidArgumentError):
        call(W, rand)


@pytest.mark.parametrize("construction", ["malach", "orseau", "burkholz"])
def test_per_weight_mode_not_offered(construction):
    W = [np.eye(2) * 0.5]
    rand = sltheory.random_network(W, n=4, seed=0, construction=construction)
    with pytest.raises(InvalidArgumentError, match=f"not offered for the {construction}"):
        sltheory.approximate(W, rand, weight_tol=0.01)
    with pytest.raises(InvalidArgumentError, match=f"not offered for the {construction}"):
        sltheory.random_network(W, weight_tol=0.01, seed=0, construction=construction)
