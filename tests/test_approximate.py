"""Guarantees of sltheory.approximate on generated targets (hypothesis) and reference cases."""

import numpy as np
import pytest
import torch
from _tickets import RULE_WIDTH, SMALL_N, check_ticket, linears  # noqa: E402
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import sltheory
from sltheory import ApproximationFailedError, InvalidArgumentError, RandomNetworkError
from sltheory.testing import strategies as sst

CONSTRUCTIONS = sorted(sltheory.constructions())


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@given(target=sst.targets(), data=st.data(), seed=sst.seeds())
@settings(max_examples=100)
def test_best_ticket_invariants(construction, target, data, seed):
    n = data.draw(sst.samples_per_block(*SMALL_N[construction]), label="n")
    rand = sltheory.random_network(target, n=n, seed=seed, construction=construction)
    ticket = sltheory.approximate(target, rand)
    check_ticket(target, rand, ticket)
    if construction not in ("burkholz", "binary"):  # pair constructions: every first sub-layer is univariate and,
        for i, (first, _) in enumerate(rand.pairs):  # after a ReLU, keeps only positive weights
            kept_first = ticket.masks[first]
            assert int(kept_first.sum(dim=1).max()) <= 1
            if i > 0:
                assert torch.all(linears(rand)[first].weight[kept_first] > 0)


def test_subset_sum_invariants_ci_profile_examples():
    """The fast core property at the CI profile's full example count (≥ 200)."""
    @given(target=sst.targets(), n=sst.samples_per_block(1, 14), seed=sst.seeds())
    def inner(target, n, seed):
        rand = sltheory.random_network(target, n=n, seed=seed)
        check_ticket(target, rand, sltheory.approximate(target, rand))
    inner()


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@given(target=sst.targets(max_width=8), eps=sst.eps(1e-2, 0.5), delta=sst.delta(0.05, 0.5), seed=sst.seeds(),
       data=st.data())
@settings(max_examples=50)
def test_eps_contract(construction, target, eps, delta, seed, data):
    """A returned ticket certifies ≤ eps; otherwise a typed, informative failure. At the theorem's
    width for subset_sum and burkholz; at a drawn small n for malach/orseau (theirs is huge)."""
    n = None if construction in RULE_WIDTH else data.draw(sst.samples_per_block(
        *SMALL_N[construction]), label="n")
    rand = sltheory.random_network(target, eps=eps, delta=delta, seed=seed, construction=construction, n=n)
    try:
        ticket = sltheory.approximate(target, rand, eps=eps)
    except ApproximationFailedError as exc:
        assert exc.missed > 0 and exc.error_bound > eps
        assert all(nn_ >= n_ for nn_, n_ in zip(exc.n_needed, exc.n))
        return
    assert ticket.error_bound <= eps
    check_ticket(target, rand, ticket)


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@given(target=sst.targets(max_depth=2, max_width=8), seed=sst.seeds())
@settings(max_examples=25)
def test_same_seed_same_ticket(construction, target, seed):
    t1 = sltheory.approximate(target, sltheory.random_network(target, n=10, seed=seed, construction=construction))
    t2 = sltheory.approximate(target, sltheory.random_network(target, n=10, seed=seed, construction=construction))
    assert all(torch.equal(a, b) for a, b in zip(t1.masks, t2.masks))
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(linears(t1.network), linears(t2.network)))
    assert t1.error_bound == t2.error_bound


@given(sst.targets(max_depth=3, max_width=6), sst.samples_per_block(2, 12), sst.seeds())
@settings(max_examples=50)
def test_certificate_recomputed_independently(target, n, seed):
    """Layer errors from dense torch algebra on the ticket's own weights equal the certificate's."""
    rand = sltheory.random_network(target, n=n, seed=seed)
    ticket = sltheory.approximate(target, rand)
    lin = linears(ticket.pruned_network(prune_buffers=False))   # full width (ticket.network: the live units)
    tgt = sltheory.as_target(target)
    for i, W in enumerate(tgt.weights):
        A, B = lin[2 * i].weight, lin[2 * i + 1].weight
        P = B @ A.clamp(min=0)
        W = torch.as_tensor(W)
        if i == 0:
            E = torch.cat([P - W, B @ (-A).clamp(min=0) + W], dim=1)
        else:
            E = P - W
        e = float(torch.linalg.matrix_norm(E, 2))
        assert ticket.certificate.layer_errors[i] == pytest.approx(e, rel=1e-9, abs=1e-15)
    # and the bound is never below the error at random points of the unit sphere
    x = torch.randn(512, tgt.dims[0], dtype=torch.float64)
    x /= torch.linalg.vector_norm(x, dim=1, keepdim=True)
    assert float(torch.linalg.vector_norm(tgt(x) - ticket.network(x), dim=1).max()) <= ticket.error_bound


def test_issue_example_and_success_rate():
    """The README example; and at the theorem's width, success in ≥ 1 − δ of seeded trials."""
    gen = torch.Generator().manual_seed(0)
    failures = 0
    for seed in range(10):
        target = nn.Sequential(nn.Linear(20, 30, bias=False), nn.ReLU(), nn.Linear(30, 5, bias=False))
        with torch.no_grad():
            for m in linears(target):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                m.weight /= torch.linalg.matrix_norm(m.weight, 2)
        rand = sltheory.random_network(target, eps=0.01, delta=0.05, seed=seed)
        try:
            ticket = sltheory.approximate(target, rand, eps=0.01)
        except ApproximationFailedError:
            failures += 1
            continue
        assert ticket.error_bound <= 0.01
        if seed < 2:
            check_ticket(target, rand, ticket)
        assert ticket.stats["kept_per_target"] < 20
    assert failures <= 1  # δ = 0.05 over 10 seeds: at most one failure is plausible


def test_failure_is_typed_and_informative():
    rng = np.random.default_rng(0)
    W = [rng.standard_normal((6, 6))]
    W[0] /= np.linalg.norm(W[0], 2)
    rand = sltheory.random_network(W, n=3, seed=0)
    with pytest.raises(ApproximationFailedError, match="missed their per-weight tolerance") as info:
        sltheory.approximate(W, rand, eps=1e-4)
    exc = info.value
    assert 0 < exc.missed <= exc.total == 6 * 12
    assert exc.n == (3,) and exc.n_needed[0] > 3 and exc.error_bound > 1e-4


def test_eps_none_is_best_effort_and_tighter():
    rng = np.random.default_rng(1)
    W = [rng.standard_normal((8, 5)), rng.standard_normal((3, 8))]
    W = [w / np.linalg.norm(w, 2) for w in W]
    rand = sltheory.random_network(W, eps=0.05, seed=1)
    loose = sltheory.approximate(W, rand, eps=0.05)
    best = sltheory.approximate(W, rand)
    assert best.error_bound <= loose.error_bound <= 0.05
    assert loose.stats["kept_weights"] <= best.stats["kept_weights"]  # eps given: sparser


def test_rescaled_target_bound_covers_original():
    rng = np.random.default_rng(2)
    W = [3 * rng.standard_normal((6, 4)), 0.5 * rng.standard_normal((2, 6))]
    rand = sltheory.random_network(W, n=14, seed=0)
    ticket = sltheory.approximate(W, rand, rescale=True)
    assert ticket.stats["output_scale"] == pytest.approx(max(np.linalg.norm(W[0], 2), 1)
                                                         * max(np.linalg.norm(W[1], 2), 1))
    check_ticket(W, rand, ticket)


def test_negative_half_saving_is_reported():
    W = [np.eye(6) * 0.5, np.eye(6) * 0.5, np.ones((1, 6)) / 6]
    rand = sltheory.random_network(W, n=8, seed=0)
    full = sltheory.random_network(W, n=8, seed=0, spare_negative_half=False)
    ticket = sltheory.approximate(W, rand)
    saving = full.plan.num_random_weights - rand.plan.num_random_weights
    assert ticket.stats["negative_half_saving"] == saving > 0


@pytest.mark.parametrize("make, error", [
    (lambda t, r: sltheory.approximate(t, nn.Sequential(nn.Linear(2, 2))), RandomNetworkError),
    (lambda t, r: sltheory.approximate([np.zeros((3, 3))], r), RandomNetworkError),
    (lambda t, r: sltheory.approximate(t, r, eps=0), InvalidArgumentError),
    (lambda t, r: sltheory.approximate(t, r, rescale="yes"), InvalidArgumentError),
    (lambda t, r: sltheory.approximate(t, r, bogus=1), InvalidArgumentError),
    # a bias-free network cannot serve a target with biases (planned from the structure)
    (lambda t, r: sltheory.approximate([(np.eye(2) * 0.5, np.zeros(2))], r), RandomNetworkError),
])
def test_bad_approximate_arguments(make, error):
    target = [np.eye(2) * 0.5]
    rand = sltheory.random_network(target, n=4, seed=0)
    with pytest.raises(error):
        make(target, rand)
