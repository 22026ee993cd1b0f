"""The torch meet-in-the-middle solver (used on CUDA) against the numba solver and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sltheory.errors import InvalidArgumentError
from sltheory.subset_sum import solve
from sltheory.subset_sum.reference import brute_force
from sltheory.subset_sum.torch_solver import solve_torch


def _problems(n, P, seed):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1, 1, (P, n)) * rng.uniform(-1, 1, (P, n))
    return c, rng.uniform(-1, 1, P), rng.integers(0, n + 1, P)


@given(n=st.integers(0, 10), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_exact_equals_brute_force(n, seed):
    c, t, cnt = _problems(n, 6, seed)
    masks, errors = solve_torch(c, t, counts=cnt, device="cpu")
    for p in range(len(t)):
        _, best = brute_force(c[p, :cnt[p]], float(t[p]))
        assert errors[p] == pytest.approx(best, abs=1e-12)
        assert int(masks[p]) >> int(cnt[p]) == 0                 # only usable samples
        sel = [k for k in range(n) if int(masks[p]) >> k & 1]
        assert abs(sum(c[p, k] for k in sel) - t[p]) == pytest.approx(errors[p], abs=1e-15)


@pytest.mark.parametrize("n", [16, 23, 26])
def test_exact_equals_numba_solver(n):
    c, t, cnt = _problems(n, 200, n)
    ref = solve(c, t, counts=cnt, tol=0.0)
    _, errors = solve_torch(c, t, counts=cnt, device="cpu", max_elements=1 << 16)   # several chunks
    np.testing.assert_allclose(errors, ref.errors, rtol=0, atol=1e-14)


def test_prefix_mode_within_tolerance_or_optimal():
    c, t, cnt = _problems(24, 300, 7)
    tol = 1e-4
    opt = solve(c, t, counts=cnt, tol=0.0).errors
    _, errors = solve_torch(c, t, counts=cnt, tol=tol, device="cpu")
    assert np.all((errors <= tol) | (np.abs(errors - opt) <= 1e-14))


def test_bad_input_is_refused():
    with pytest.raises(InvalidArgumentError):
        solve_torch(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(InvalidArgumentError):
        solve_torch(np.zeros((2, 3)), np.zeros(2), counts=[4, 0])
    with pytest.raises(InvalidArgumentError):
        solve_torch(np.zeros((2, 3)), np.zeros(2), tol=-1.0)
    with pytest.raises(InvalidArgumentError):
        solve_torch(np.zeros((1, 50)), np.zeros(1))


def test_construction_with_the_torch_selector_matches_numba():
    """What ``approximate`` runs on CUDA, run here on the CPU: same optimal subsets, same bound."""
    import sltheory
    from sltheory.constructions import subset_sum as ss
    from sltheory.constructions._pairs import prune_pairs
    from sltheory.targets import as_target

    W = sltheory.gaussian_target((4, 8, 4), 0)
    rand = sltheory.random_network(W, n=14, seed=0)
    tgt = as_target(W)
    best_torch = prune_pairs(tgt, rand, eps=None, select=ss._torch_selector("cpu"), n_needed=ss._n_needed)
    best_numba = prune_pairs(tgt, rand, eps=None, select=ss._selector("staged"), n_needed=ss._n_needed)
    assert best_torch.certificate.error_bound == pytest.approx(best_numba.certificate.error_bound, rel=1e-9)
    eps = 4 * best_torch.certificate.error_bound
    sparse = prune_pairs(tgt, rand, eps=eps, select=ss._torch_selector("cpu"), n_needed=ss._n_needed)
    assert sparse.certificate.error_bound <= eps


def test_selector_choice_keeps_the_sparsest_mode_on_every_device():
    """On CUDA only the staged search runs on the torch solver (n ≤ its MAX_N); the default
    sparsest mode, and larger n, keep the numba solver, so no option is silently ignored."""
    from sltheory.constructions import subset_sum as ss
    from sltheory.subset_sum.torch_solver import MAX_N

    assert ss._choose_selector("cuda", False, MAX_N).solver == "torch staged"
    assert ss._choose_selector("cuda", False, MAX_N + 1).solver == "numba staged"
    assert ss._choose_selector("cuda", True, 20).solver == "numba sparsest"
    assert ss._choose_selector("cpu", False, 20).solver == "numba staged"
    assert ss._choose_selector("cpu", True, 20).solver == "numba sparsest"
