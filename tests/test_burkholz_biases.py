"""Burkholz's L+1 construction on targets with biases and on input domains (issue 14, point 1):
the certified bound is never below an independent lower bound (a dense grid for d_0 ≤ 2, a
multi-start projected attack otherwise, both written here, not the library's search), it is ≤ eps
when eps is given, the ticket only masks the random network (weights and biases untouched), and
bias-free targets on the unit ball are exactly as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sltheory
from sltheory.constructions import registry
from sltheory.constructions.burkholz import affine_float_slack, biased_layer_sizes, constant_counts
from sltheory.errors import CertificateError
from sltheory.network import masked_copy


def _target(dims, seed, bias_scale=0.5, flags=None):
    rng = np.random.default_rng(seed)
    layers = []
    for t, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
        W = rng.standard_normal((o, i))
        W /= np.linalg.norm(W, 2)
        has = True if flags is None else flags[t]
        layers.append((W, bias_scale * rng.uniform(-1, 1, o)) if has else W)
    return layers


def _points(domain, d0, k):
    """A dense grid of the domain (d_0 ≤ 2): the box's lattice, or the ball's polar grid."""
    if isinstance(domain, sltheory.Box):
        lo, hi = np.broadcast_to(domain.lo, (d0,)), np.broadcast_to(domain.hi, (d0,))
        axes = [np.linspace(lo[j], hi[j], k) for j in range(d0)]
        return np.stack(np.meshgrid(*axes), -1).reshape(-1, d0)
    r = domain.radius
    if d0 == 1:
        return np.linspace(-r, r, k)[:, None]
    th = np.linspace(0, 2 * np.pi, 4 * k)
    rr = np.linspace(0, r, k // 2)
    return (rr[:, None, None] * np.stack([np.cos(th), np.sin(th)], -1)[None]).reshape(-1, 2)


def _project(X, domain):
    if isinstance(domain, sltheory.Box):
        lo = torch.as_tensor(np.broadcast_to(domain.lo, (X.shape[1],)).copy())
        hi = torch.as_tensor(np.broadcast_to(domain.hi, (X.shape[1],)).copy())
        return torch.maximum(torch.minimum(X, hi), lo)
    nrm = X.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return X * torch.clamp(domain.radius / nrm, max=1.0)


def lower_bound(f, g, domain, d0, seed=0):
    """max ‖f(x) − g(x)‖ over sampled points of the domain: the grid (d_0 ≤ 2), else 512 random
    starts (and the box's corners) refined by 60 projected signed-gradient steps of shrinking size."""
    with torch.no_grad():
        if d0 <= 2:
            X = torch.as_tensor(_points(domain, d0, 301))
            return float((f(X) - g(X)).norm(dim=1).max())
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(512, d0, generator=gen, dtype=torch.float64)
    if isinstance(domain, sltheory.Box):
        lo = torch.as_tensor(np.broadcast_to(domain.lo, (d0,)).copy())
        hi = torch.as_tensor(np.broadcast_to(domain.hi, (d0,)).copy())
        u = torch.rand(512, d0, generator=gen, dtype=torch.float64)
        u[256:] = (u[256:] < 0.5).double()
        X = lo + u * (hi - lo)
        scale = float((hi - lo).max())
    else:
        X = _project(X * domain.radius, domain)
        scale = domain.radius
    best = 0.0
    for step in range(60):
        X = X.detach().requires_grad_(True)
        err = (f(X) - g(X)).norm(dim=1)
        best = max(best, float(err.detach().max()))
        (grad,) = torch.autograd.grad(err.sum(), X)
        X = _project(X + 0.05 * scale * 0.93 ** step * grad.sign(), domain)
    with torch.no_grad():
        return max(best, float((f(X) - g(X)).norm(dim=1).max()))


def _check_masks_only(rand, ticket):
    """The ticket is the random network with entries zeroed: its masked copy (weights where the
    mask is True, biases where the bias mask is, 0 elsewhere) computes what ticket.network does."""
    bms = ticket.bias_masks
    for t, m in enumerate(rand.linears()):
        if m.bias is None:
            assert bms is None or bms[t] is None
    masked = masked_copy(rand, list(ticket.masks), None if bms is None else list(bms))
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, rand.linears()[0].weight.shape[1], dtype=torch.float64, generator=gen)
    with torch.no_grad():
        assert torch.allclose(masked(X), ticket.network(X), rtol=1e-12, atol=1e-12)
    return masked


CASES = [  # dims, domain, eps, seed
    ((2, 3, 2), sltheory.Ball(), 0.1, 0),
    ((2, 4, 3, 2), sltheory.Ball(1.5), 0.25, 1),
    ((2, 3, 2), sltheory.Box(0, 1), 0.1, 2),
    ((2, 3, 3, 1), sltheory.Box(-1, 0.5), 0.2, 3),
    ((5, 4, 2), sltheory.Box(-0.4, 0.4), 0.2, 4),
]


@pytest.mark.parametrize("dims,domain,eps,seed", CASES)
def test_biased_ticket_is_sound_and_within_eps(dims, domain, eps, seed):
    T = _target(dims, seed)
    rand = sltheory.random_network(T, eps=eps, delta=0.1, seed=seed, construction="burkholz", domain=domain)
    snapshot = [(m.weight.clone(), None if m.bias is None else m.bias.clone()) for m in rand.linears()]
    ticket = sltheory.approximate(T, rand, eps=eps)
    assert ticket.error_bound <= eps
    lb = lower_bound(sltheory.as_target(T).to_module(), ticket.network, domain, dims[0], seed)
    assert 0 < lb <= ticket.error_bound
    _check_masks_only(rand, ticket)
    for m, (w, b) in zip(rand.linears(), snapshot):   # the random network itself is untouched
        assert torch.equal(m.weight, w) and (b is None or torch.equal(m.bias, b))
    assert ticket.stats["kept_biases"] > 0 and ticket.stats["max_bias_error"] < eps


@pytest.mark.parametrize("dims,domain,n,seed,flags", [
    ((2, 3, 2), sltheory.Box(-1, 1), 5, 5, None),
    ((1, 4, 3, 1), sltheory.Ball(2.0), 4, 6, (False, True, True)),
    ((2, 3, 3, 2), sltheory.Box(0, 2), 3, 7, (True, False, True)),
    ((4, 3, 3, 2), sltheory.Ball(), 4, 8, None),
])
def test_best_effort_narrow_tickets_stay_sound(dims, domain, n, seed, flags):
    """Narrow networks (n given, eps=None): large errors, where a wrong bias term would show."""
    T = _target(dims, seed, bias_scale=1.0, flags=flags)
    rand = sltheory.random_network(T, n=n, seed=seed, construction="burkholz", domain=domain)
    ticket = sltheory.approximate(T, rand)
    lb = lower_bound(sltheory.as_target(T).to_module(), ticket.network, domain, dims[0], seed)
    assert lb <= ticket.error_bound
    # the bound is not vacuous: at most 100× the error found
    assert ticket.error_bound <= 100 * max(lb, 1e-3)
    _check_masks_only(rand, ticket)


def test_layout_bias_units_and_constant_units():
    """Bias units after the univariate units (biases U[0, 2), the only random biases), ρ constant
    units per later layer up to the last biased target layer, none after it."""
    T = _target((2, 3, 4, 2), 0, flags=(False, True, False))
    rand = sltheory.random_network(T, n=4, seed=0, construction="burkholz")
    plan = rand.plan
    assert plan.options["constants"] == (4, 4, 0, 0) == constant_counts((False, True, False), [4, 4, 4])
    assert plan.layer_shapes == tuple(biased_layer_sizes((2, 3, 4, 2), [4] * 3, (4, 4, 0, 0))[0])
    assert plan.layer_shapes[0] == (2 * 4 * 2 + 4, 2) and plan.layer_shapes[1] == (4 * 3 + 4, 20)
    lins = rand.linears()
    assert lins[0].bias is not None and all(m.bias is None for m in lins[1:])
    b = lins[0].bias.detach()
    assert bool(((b >= 0) & (b < 2)).all())
    ticket = sltheory.approximate(T, rand)
    kept_b = ticket.bias_masks[0]
    assert not torch.any(kept_b[:16]) and torch.any(kept_b[16:])        # univariate units keep no bias
    assert not torch.any(ticket.masks[0][16:])                          # bias units keep no weight
    assert not torch.any(ticket.masks[1][12:, :16])                     # constants read constants only
    assert not torch.any(ticket.masks[1][:12, 16:])                     # target layer 1 has no bias
    assert torch.any(ticket.masks[2][:, 12:]) and ticket.masks[3].shape == (2, 16)   # layer 2 has one


def test_bias_free_unit_ball_unchanged():
    """Bias-free targets on the unit ball: the plan has no bias field, no constants, and the bound
    is the copy certificate's (certify_copies)."""
    W = sltheory.gaussian_target((2, 3, 2), 0)
    rand = sltheory.random_network(W, eps=0.2, delta=0.1, seed=0, construction="burkholz")
    plan = rand.plan
    assert plan.biases == () and plan.layer_biases == () and plan.domain is None
    assert set(plan.options) == {"copies", "n_reach", "width_factor", "first_layer_scale"}
    assert all(m.bias is None for m in rand.linears())
    ticket = sltheory.approximate(W, rand, eps=0.2)
    from sltheory.certificate.bound import certify_copies, pair_effective_map
    from sltheory.constructions._pairs import masked_sparse
    mats = [masked_sparse(m.weight.detach().numpy(), k.numpy()) for m, k in zip(rand.linears(), ticket.masks)]
    copies = plan.options["copies"]
    P = mats[2].toarray().reshape(2, 3, copies[0]).sum(axis=2)
    cert = certify_copies(sltheory.as_target(W), pair_effective_map(mats[0], mats[1], True), [(P, mats[2])],
                          copies, mats)
    assert ticket.error_bound == cert.error_bound


def test_bias_free_domain_is_radius_times_unit_ball():
    W = sltheory.gaussian_target((3, 4, 2), 1)
    unit = sltheory.random_network(W, n=5, seed=1, construction="burkholz")
    big = sltheory.random_network(W, n=5, seed=1, construction="burkholz", domain=sltheory.Ball(3.0))
    t1, t3 = sltheory.approximate(W, unit), sltheory.approximate(W, big)
    assert [torch.equal(a, b) for a, b in zip(t1.masks, t3.masks)] == [True] * 3
    assert t3.error_bound == pytest.approx(3 * t1.error_bound, rel=1e-12) and t3.error_bound >= 3 * t1.error_bound


def test_nonnegative_domain_spares_the_negative_half():
    W = sltheory.gaussian_target((4, 5, 2), 2)
    signed = sltheory.random_network(W, n=6, seed=2, construction="burkholz", domain=sltheory.Box(-1, 1))
    spared = sltheory.random_network(W, n=6, seed=2, construction="burkholz", domain=sltheory.Box(0, 1))
    assert spared.plan.layer_shapes[0][0] < 0.6 * signed.plan.layer_shapes[0][0]
    assert spared.plan.signed[0] is False
    ticket = sltheory.approximate(W, spared)
    lb = lower_bound(sltheory.as_target(W).to_module(), ticket.network, sltheory.Box(0, 1), 4)
    assert lb <= ticket.error_bound


def test_rescaled_target_with_biases():
    T = [(w * 3, b * 2) for w, b in _target((2, 3, 2), 9)]
    rand = sltheory.random_network(T, n=8, seed=9, construction="burkholz")
    ticket = sltheory.approximate(T, rand, rescale=True)
    lb = lower_bound(sltheory.as_target(T, rescale=False, check_norms=False).to_module(), ticket.network,
                     sltheory.Ball(), 2)
    assert lb <= ticket.error_bound


def test_certificate_refuses_a_unit_with_weight_and_bias():
    """σ(a x + c) is not what the certificate models: a ticket keeping both is refused, as is a
    constant unit reading a non-constant one."""
    T = _target((2, 3, 2), 0)
    rand = sltheory.random_network(T, n=4, seed=0, construction="burkholz")
    ticket = sltheory.approximate(T, rand)
    spec = registry.get("burkholz")
    tgt = sltheory.as_target(T)
    lins = rand.linears()
    mats = [(m.weight.detach().numpy() * k.numpy()) for m, k in zip(lins, ticket.masks)]
    bias = np.where(ticket.bias_masks[0].numpy(), lins[0].bias.detach().numpy(), 0.0)
    spec.certify(tgt, rand.plan, mats, biases=[bias, None, None])          # as shipped: fine
    bad = bias.copy()
    unit = int(np.flatnonzero(ticket.masks[0].numpy().any(axis=1))[0])
    bad[unit] = 0.5
    with pytest.raises(CertificateError):
        spec.certify(tgt, rand.plan, mats, biases=[bad, None, None])
    m1 = mats[1].copy()
    m1[-1, 0] = 0.3        # a constant unit (last row) reads a univariate unit
    with pytest.raises(CertificateError):
        spec.certify(tgt, rand.plan, [mats[0], m1, mats[2]], biases=[bias, None, None])


def test_affine_float_slack_covers_float32_evaluation_scale():
    """The float-slack recursion is monotone in the radius and the biases, and 0-free."""
    rng = np.random.default_rng(0)
    Ms = [rng.standard_normal((5, 3)), rng.standard_normal((2, 5))]
    base = affine_float_slack(Ms, [None, None], 1.0)
    assert 0 < base < affine_float_slack(Ms, [None, None], 2.0) < affine_float_slack(Ms, [np.ones(5), None], 2.0)


def _certified_and_found(T, rand, masks, bias_masks, domain):
    """(certificate of these masks, lower bound on their network's error) for doctored masks."""
    spec = registry.get("burkholz")
    lins = rand.linears()
    mats = [m.weight.detach().numpy() * k for m, k in zip(lins, masks)]
    biases = [None if m.bias is None else np.where(bm, m.bias.detach().numpy(), 0.0)
              for m, bm in zip(lins, bias_masks)]
    cert = spec.certify(sltheory.as_target(T), rand.plan, mats, biases=biases)
    net = masked_copy(rand, [torch.as_tensor(k) for k in masks],
                      [None if b is None else torch.as_tensor(b) for b in bias_masks])
    lb = lower_bound(sltheory.as_target(T).to_module(), net, domain, rand.plan.target_shapes[0][1])
    return cert.error_bound, lb


@pytest.mark.parametrize("domain", [sltheory.Ball(), sltheory.Box(0, 1)])
def test_bias_terms_are_charged(domain):
    """Doctored tickets where a bias term dominates, each bound within 1.5× of the error found:
    (a) the output layer's bias weights pruned (the ticket misses b_2 entirely: charged by
    ‖p_2 − b_2‖), (b) the output layer's copy weights pruned on a target whose hidden layer is
    ≈ b_1 = 1.5·1 (the error ‖W_2 h_1‖ ≈ ‖b_1‖ is charged only through R_1 = ‖W_1‖R + ‖b_1‖)."""
    rng = np.random.default_rng(12)
    W1 = rng.standard_normal((3, 2))
    W1 /= np.linalg.norm(W1, 2)
    W2 = np.outer([0.6, 0.8], np.ones(3) / np.sqrt(3))          # ‖W_2‖ = 1, along 1/√3
    T = [(W1, np.full(3, 1.5)), (W2, np.array([1.5, -1.0]))]
    rand = sltheory.random_network(T, n=24, seed=12, construction="burkholz", domain=domain, bias_bound=2)
    ticket = sltheory.approximate(T, rand)
    assert ticket.error_bound < 0.3
    masks = [k.numpy().copy() for k in ticket.masks]
    bms = [None if b is None else b.numpy().copy() for b in ticket.bias_masks]
    rows1 = 3 * 24
    a = [m.copy() for m in masks]
    a[2][:, rows1:] = False
    bound, lb = _certified_and_found(T, rand, a, bms, domain)
    assert 1.6 < lb <= bound <= 1.5 * lb
    b = [m.copy() for m in masks]
    b[2][:, :rows1] = False
    bound, lb = _certified_and_found(T, rand, b, bms, domain)
    assert 2.2 < lb <= bound <= 1.5 * lb
