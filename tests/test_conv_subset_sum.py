"""conv_subset_sum (issue 15): the 2L construction for conv / residual targets — masks only, the
ticket network equals the masked random network, the certificate is ≥ every measured error, the
plan reads shapes only, files reload bit for bit, bad input is refused with a typed error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sltheory
from sltheory import Ball, Box
from sltheory.conv import approximate, construction, constructions, random_network
from sltheory.conv import ops as O
from sltheory.conv.api import load_conv_ticket
from sltheory.conv.network import ConvRandomNetwork, sample_second
from sltheory.errors import ApproximationFailedError, InvalidArgumentError, SltheoryError, TargetError


def conv2d_target(seed=0, *, bias=True, c=(2, 3), hw=5, stride=2, scale=0.3):
    """Conv2d(c0→c1, 3, stride, pad 1) → ReLU → MaxPool? no → Flatten → Linear(→ 3)."""
    rng = np.random.default_rng(seed)
    c0, c1 = c
    out_hw = (hw + 2 - 3) // stride + 1
    W1 = rng.normal(size=(c1, c0, 3, 3)) * scale / 3
    W2 = rng.normal(size=(3, c1 * out_hw * out_hw)) * scale / np.sqrt(c1 * out_hw * out_hw)
    b1 = rng.normal(size=c1) * 0.1 if bias else None
    b2 = rng.normal(size=3) * 0.1 if bias else None
    s1 = (c1, out_hw, out_hw)
    ops = (O.Affine(W1, b1, (stride, stride), (1, 1), (c0, hw, hw), s1), O.ReLU(s1, s1),
           O.Flatten(s1, (int(np.prod(s1)),)), O.Affine(W2, b2, (), (), (int(np.prod(s1)),), (3,)))
    return O.ConvTarget(ops, (c0, hw, hw), (3,))


def residual_target(seed=0, *, c=3, hw=4):
    """Conv1×... a Residual block (identity shortcut) between a stem conv and a Linear head, Conv1d."""
    rng = np.random.default_rng(seed)
    K = lambda o, i, k: rng.normal(size=(o, i, k)) * 0.25 / np.sqrt(i * k)  # noqa: E731
    s = (c, hw)
    body = (O.Affine(K(c, c, 3), None, (1,), (1,), s, s), O.ReLU(s, s), O.Affine(K(c, c, 3), None, (1,), (1,), s, s))
    ops = (O.Affine(K(c, 1, 3), None, (1,), (1,), (1, hw), s), O.ReLU(s, s), O.Residual(body, (), True, s, s),
           O.Pool("avg", (2,), (2,), (0,), True, s, (c, hw // 2)), O.Flatten((c, hw // 2), (c * hw // 2,)),
           O.Affine(rng.normal(size=(2, c * hw // 2)) * 0.3, None, (), (), (c * hw // 2,), (2,)))
    return O.ConvTarget(ops, (1, hw), (2,))


def masked_full(rand, masks):
    pairs = []
    for i in range(len(rand.plan.n)):
        a, c, B = rand.pair_arrays(i)
        ma, mc, mb = masks[i]
        pairs.append((np.where(ma, a, 0.0), None if c is None else np.where(mc, c, 0.0), np.where(mb, B, 0.0)))
    return ConvRandomNetwork(rand.plan, rand.seed, pairs=pairs)


def points(domain, n, d, seed):
    return domain.sample(n, d, torch.Generator().manual_seed(seed))


def test_registered():
    assert "conv_subset_sum" in constructions()
    assert construction("conv_subset_sum").name == "conv_subset_sum"
    with pytest.raises(InvalidArgumentError):
        construction("nope")


@pytest.mark.parametrize("domain", [Box(0, 1), Box(-1, 1), Ball(2.0)])
def test_ticket_sound_and_masks_only(domain):
    tgt = conv2d_target(1)
    rand = random_network(tgt, seed=3, n=14, domain=domain)
    ticket = approximate(tgt, rand, eps=None)
    # masks only: the live network is the masked random network, bit for bit up to summation order
    x = points(domain, 256, tgt.input_dim, 1)
    full = masked_full(rand, ticket.masks)
    assert torch.allclose(full(x), ticket(x), atol=1e-12, rtol=0)
    for i, (ma, mc, mb) in enumerate(ticket.masks):
        live = ticket.network.pairs[i]
        a, c, B = rand.pair_arrays(i)
        assert set(live.a.numpy().tolist()) <= set(a[ma].tolist())
        assert set(live.B.numpy()[live.B.numpy() != 0].tolist()) <= set(B[mb].tolist())
    err = float((tgt(x) - ticket(x)).norm(dim=1).max())
    assert err <= ticket.error_bound
    adv, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.input_dim, domain=domain, starts=64, steps=30)
    assert adv <= ticket.error_bound
    assert ticket.error_bound < 50 * max(adv, 1e-12)     # a sanity ratio, not a tightness claim


def test_eps_reached_and_deterministic(tmp_path):
    tgt = conv2d_target(2, c=(1, 2), hw=4)
    dom = Box(0, 1)
    rand = random_network(tgt, seed=0, eps=0.05, domain=dom)
    t1 = approximate(tgt, rand, eps=0.05)
    assert t1.error_bound <= 0.05
    t2 = approximate(tgt, random_network(tgt, seed=0, eps=0.05, domain=dom), eps=0.05)
    for m1, m2 in zip(t1.masks, t2.masks):
        for a, b in zip(m1, m2):
            assert (a is None and b is None) or np.array_equal(a, b)
    path = t1.save(tmp_path / "t.npz")
    back = load_conv_ticket(path, target=tgt)
    x = torch.rand(64, tgt.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(back(x), t1(x))
    assert back.error_bound == t1.error_bound


def test_plan_reads_shapes_only():
    a, b = conv2d_target(5), conv2d_target(6)
    ra = random_network(a, seed=1, eps=0.1, domain=Box(0, 1))
    rb = random_network(b, seed=1, eps=0.1, domain=Box(0, 1))
    assert ra.plan == rb.plan
    for i in range(len(ra.plan.n)):
        assert np.array_equal(ra.pair_arrays(i)[2], rb.pair_arrays(i)[2])


def test_blocks_regenerate_alone():
    tgt = conv2d_target(0)
    rand = random_network(tgt, seed=7, n=5)
    full = sample_second(rand.plan, 7, 0)
    part = sample_second(rand.plan, 7, 0, channels=[2, 0])
    assert np.array_equal(part, full[[2, 0]])


def test_residual_and_conv1d():
    tgt = residual_target(0)
    dom = Box(-1, 1)
    rand = random_network(tgt, seed=2, n=12, domain=dom)
    assert rand.plan.signed == (True, False, False, False)
    ticket = approximate(tgt, rand, eps=None)
    x = points(dom, 400, tgt.input_dim, 3)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= ticket.error_bound
    adv, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.input_dim, domain=dom, starts=64, steps=30)
    assert adv <= ticket.error_bound


def test_failure_is_typed():
    tgt = conv2d_target(3, scale=2.0)
    rand = random_network(tgt, seed=0, n=3, domain=Box(0, 1))
    with pytest.raises(ApproximationFailedError, match="n ≈"):
        approximate(tgt, rand, eps=1e-4)


@pytest.mark.parametrize("kwargs, err", [
    ({"eps": -1.0}, InvalidArgumentError), ({"n": 0}, InvalidArgumentError), ({"n": 65}, InvalidArgumentError),
    ({"eps": 0.1, "bogus": 1}, InvalidArgumentError), ({}, InvalidArgumentError),
    ({"n": 4, "domain": "cube"}, SltheoryError),
])
def test_bad_arguments(kwargs, err):
    with pytest.raises(err):
        random_network(conv2d_target(0), seed=0, **kwargs)


def test_bias_that_cannot_be_carried():
    rng = np.random.default_rng(0)
    s_in, s_out = (1, 2, 2), (1, 4, 4)      # padding 2 with a 3×3 kernel: every position meets the padding
    ops = (O.Affine(rng.normal(size=(1, 1, 3, 3)) * 0.1, np.ones(1) * 0.1, (1, 1), (2, 2), s_in, s_out),
           O.Flatten(s_out, (16,)), O.Affine(rng.normal(size=(1, 16)) * 0.1, None, (), (), (16,), (1,)))
    with pytest.raises(TargetError, match="bias"):
        random_network(O.ConvTarget(ops, s_in, (1,)), seed=0, n=4)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), c0=st.integers(1, 2), c1=st.integers(1, 3), hw=st.integers(3, 6),
       stride=st.integers(1, 2), bias=st.booleans(), nonneg=st.booleans())
def test_property_sound(seed, c0, c1, hw, stride, bias, nonneg):
    tgt = conv2d_target(seed, c=(c0, c1), hw=hw, stride=stride, bias=bias)
    dom = Box(0, 1) if nonneg else Box(-1, 1)
    rand = random_network(tgt, seed=seed, n=8, domain=dom)
    ticket = approximate(tgt, rand, eps=None)
    x = points(dom, 256, tgt.input_dim, seed)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= ticket.error_bound


def test_torch_model_digits_agreement():
    """A trained Conv2d (digits, MaxPool, AvgPool, biases) through sltheory.random_network /
    approximate (dispatched to sltheory.conv) and sltheory.certified_agreement."""
    tr = sltheory.data.digits_conv_target(seed=0, epochs=4)
    X = np.concatenate([tr.x_train, tr.x_test]).reshape(-1, 64)
    dom = Box.of(X)
    rand = sltheory.random_network(tr.model, input_shape=(1, 8, 8), n=10, seed=0, domain=dom)
    ticket = sltheory.approximate(tr.model, rand)
    Xt = torch.as_tensor(tr.x_test.reshape(-1, 64))
    assert float((sltheory.conv.target.conv_target(tr.model, (1, 8, 8))(Xt) - ticket(Xt)).norm(dim=1).max()) \
        <= ticket.error_bound
    a = sltheory.certified_agreement(tr.model, ticket, tr.x_test, tr.y_test)
    assert a.n == len(tr.y_test) and 0 <= a.certified <= a.agreement <= 1
    assert a.contradictions == 0
    with pytest.raises(sltheory.DomainError):
        sltheory.certified_agreement(tr.model, ticket, tr.x_test + 5.0, tr.y_test)


def test_architecture_and_mask_checks(tmp_path):
    """The certificate is computed on the target's ops while the ticket runs the plan's: a target of
    another architecture (same shapes, other stride) is refused; so are bias-channel weights kept
    off the kernel position q* (the ticket file edited)."""
    a = conv2d_target(0, stride=1)
    rand = random_network(a, seed=0, n=6, domain=Box(0, 1))
    ticket = approximate(a, rand)
    b = conv2d_target(0, stride=1)
    ops = list(b.ops)
    op0 = ops[0]
    ops[0] = O.Affine(op0.weight[:, :, ::-1].copy(), op0.bias, op0.stride, op0.padding, op0.in_shape, op0.out_shape)
    ok = O.ConvTarget(tuple(ops), b.input_shape, b.output_shape)
    sltheory.conv.recertify(ticket, ok)                     # same architecture, other values: fine
    other = conv2d_target(0, stride=2)
    with pytest.raises(TargetError, match="architecture"):
        approximate(other, rand)
    with pytest.raises(TargetError, match="architecture"):
        sltheory.conv.recertify(ticket, other)
    ma, mc, mb = ticket.masks[0]
    mb = mb.copy()
    mb[:, ma.size:] = True                                   # bias channels at every kernel position
    bad = [(ma, mc, mb)] + list(ticket.masks[1:])
    with pytest.raises(sltheory.CertificateError, match="bias channel"):
        construction("conv_subset_sum").certify(a, rand, bad)


def test_empty_pairs_deepcopy_and_inputs():
    import copy

    tgt = conv2d_target(4, c=(1, 2), hw=4)
    op0 = tgt.ops[0]       # an all-zero conv: n = 1 keeps no unit of its pair
    zero = O.ConvTarget((O.Affine(np.zeros_like(op0.weight), None, op0.stride, op0.padding, op0.in_shape,
                                  op0.out_shape),) + tgt.ops[1:], tgt.input_shape, tgt.output_shape)
    rand = random_network(zero, seed=1, n=1, domain=Box(0, 1))
    ticket = approximate(zero, rand)
    x = torch.rand(3, tgt.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = ticket(x)
    assert y.shape == (3, 3)
    assert torch.equal(copy.deepcopy(ticket.network)(x), y)
    assert torch.equal(copy.deepcopy(rand)(x), rand(x))
    with pytest.raises(InvalidArgumentError, match="shape"):
        ticket(torch.rand(3, 5, dtype=torch.float64))
    with pytest.raises(InvalidArgumentError, match="floating"):
        ticket(np.zeros((3, tgt.input_dim)))


def test_rule_counts_overlapping_pools():
    """A max pool with overlapping windows (kernel 3, stride 1: each input in up to 9 windows, L = 3)
    enters the rule's ε′ as a factor; non-overlapping pools (L ≤ 1) do not."""
    from torch import nn

    from sltheory.conv.subset_sum import pool_gain, rule_eps

    def net(pool):
        return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.ReLU(), pool, nn.Flatten(),
                             nn.Linear(2 * 4 * 4, 2, bias=False)).double()
    over = sltheory.conv_target(net(nn.MaxPool2d(3, 1)), (1, 6, 6))
    disjoint = sltheory.conv_target(net(nn.AvgPool2d(2, 1, padding=0)), (1, 5, 5))
    assert pool_gain(over.ops) == pytest.approx(3.0, rel=1e-9)
    assert pool_gain(disjoint.ops) == 1.0 and pool_gain(conv2d_target(0).ops) == 1.0
    assert rule_eps(0.1, 2.0, 1, 1.0, 3, 1, 3.0) == pytest.approx(rule_eps(0.1, 2.0, 1, 1.0, 3, 1) / 3)
