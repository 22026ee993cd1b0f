"""The fast subset-sum solver against the brute-force reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sltheory.errors import InvalidArgumentError
from sltheory.subset_sum import brute_force, brute_force_min_size, masks_to_bool, popcount, solve, subset_sums


@st.composite
def problems(draw, max_n=12):
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    samples = rng.uniform(-1, 1, n) * rng.uniform(-1, 1, n)
    target = draw(st.one_of(st.floats(-1, 1), st.sampled_from([-1.0, 0.0, 1.0])))
    return samples, target


@given(problems())
def test_exact_solver_equals_brute_force(problem):
    samples, target = problem
    result = solve(samples[None, :], np.array([target]))
    _, best = brute_force(samples, target)
    assert result.errors[0] == pytest.approx(best, abs=1e-12)
    # the reported error is the error of the reported subset, recomputed independently
    recomputed = abs(subset_sums(samples[None, :], result.masks)[0] - target)
    assert result.errors[0] == pytest.approx(recomputed, abs=1e-12)


@given(problems(), st.floats(1e-4, 0.3))
def test_staged_mode_within_tolerance_or_optimal(problem, tol):
    samples, target = problem
    staged = solve(samples[None, :], np.array([target]), tol=tol)
    _, best = brute_force(samples, target)
    if best <= tol:
        assert staged.errors[0] <= tol
        # never smaller than the smallest subset that reaches tol
        assert popcount(staged.masks)[0] >= brute_force_min_size(samples, target, tol)
    else:
        assert staged.errors[0] == pytest.approx(best, abs=1e-12)


def test_batched_counts_restrict_the_samples():
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, (300, 14))
    counts = rng.integers(0, 15, 300)
    targets = rng.uniform(-1, 1, 300)
    result = solve(samples, targets, counts=counts)
    chosen = masks_to_bool(result.masks, 14)
    for p in range(300):
        assert not chosen[p, counts[p]:].any()
        _, best = brute_force(samples[p, :counts[p]], targets[p])
        assert result.errors[p] == pytest.approx(best, abs=1e-12)


def test_error_halves_per_sample_on_median():
    """Closed-form expectation: the optimal error over n samples falls like 2^-n (≈ 1 bit/sample)."""
    rng = np.random.default_rng(1)
    med = {}
    for n in (12, 16, 20):
        samples = rng.uniform(-1, 1, (2000, n)) * rng.uniform(-1, 1, (2000, n))
        med[n] = np.median(solve(samples, rng.uniform(-0.5, 0.5, 2000)).errors)
    assert 0.5 < med[12] * 2**12 < 8
    assert 0.5 < med[20] * 2**20 < 8
    assert med[20] < med[16] < med[12]


@pytest.mark.parametrize("kwargs, match", [
    (dict(samples=np.zeros(3), targets=[0.0]), "2-D"),
    (dict(samples=np.zeros((2, 65)), targets=[0.0, 0.0]), "64"),
    (dict(samples=np.zeros((1, 3)), targets=[0.0], tol=-1.0), "tol"),
    (dict(samples=np.full((1, 3), np.nan), targets=[0.0]), "finite"),
    (dict(samples=np.zeros((1, 3)), targets=[0.0], counts=[4]), "counts"),
])
def test_bad_input_raises(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        solve(**kwargs)
