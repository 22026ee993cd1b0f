"""conv_burkholz (issue 15): Burkholz's depth-(L+1) construction for CNNs — depth L+1, masks only,
the ticket is the model its certificate describes, the certificate is ≥ every measured and
adversarial error, ε is met when asked, seeds are deterministic, files reload bit for bit, and the
targets it does not cover are refused with a TargetError."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import sltheory
from sltheory import Ball, Box
from sltheory.conv import approximate, construction, constructions, load_conv_ticket, random_network
from sltheory.conv import ops as O
from sltheory.conv.burkholz import (
    BurkholzConvNetwork,
    copies_of,
    num_random_weights,
    op_norm,
    pool_lipschitz,
    sample_layer,
    unrolled,
)
from sltheory.errors import ApproximationFailedError, InvalidArgumentError, TargetError

NAME = "conv_burkholz"


def conv1d_model(seed=0, scale=0.5):
    """Conv1d(1→2, 3, pad 1) → ReLU → MaxPool(2) → Conv1d(2→2, 3, stride 2, pad 1) → ReLU →
    Flatten → Linear(4→2), no biases, on inputs (1, 8)."""
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool1d(2),
                      nn.Conv1d(2, 2, 3, stride=2, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m.double(), (1, 8)


def conv2d_model(seed=0, scale=0.5):
    """Conv2d(2→2, 3, stride 2, pad 1) → ReLU → AvgPool(2, stride 1) → Flatten → Linear(8→2) on (2, 5, 5)."""
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(2, 2, 3, stride=2, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2, stride=1),
                      nn.Flatten(), nn.Linear(8, 2, bias=False))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m.double(), (2, 5, 5)


def conv2d_deep_model(seed=0, scale=0.5):
    """Conv2d(1→2, 3, pad 1) → ReLU → MaxPool(2) → Conv2d(2→3, 2, stride 2, pad 1) → ReLU → Flatten →
    Linear(12→2) on (1, 4, 4): a copy-space conv with stride and padding."""
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(2, 3, 2, stride=2, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                      nn.Linear(12, 2, bias=False))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m.double(), (1, 4, 4)


def target_of(model, shape):
    from sltheory.conv.target import conv_target

    return conv_target(model, shape)


def points(domain, n, d, seed):
    return domain.sample(n, d, torch.Generator().manual_seed(seed))


def test_registered():
    assert NAME in constructions()
    spec = construction(NAME)
    assert spec.name == NAME and spec.whose == "ours" and "ICML 2022" in spec.citation
    assert "Burkholz" in spec.citation and spec.depth_bound(3) == 4


@pytest.mark.parametrize("make,domain", [(conv1d_model, Ball(1.0)), (conv1d_model, Box(0, 1)),
                                         (conv2d_model, Box(-1, 1)), (conv2d_model, Box(0, 1)),
                                         (conv2d_deep_model, Ball(2.0))])
def test_depth_masks_only_and_sound(make, domain):
    model, shape = make(1)
    tgt = target_of(model, shape)
    rand = random_network(model, input_shape=shape, seed=3, n=10, domain=domain, construction=NAME)
    assert isinstance(rand, BurkholzConvNetwork)
    a, mats = rand.arrays()
    assert len(mats) + 1 == tgt.depth + 1          # depth L+1: the univariate layer and one per target layer
    assert copies_of(rand.plan) == (10,) * (tgt.depth - 1) + (1,)
    assert rand.plan.signed[0] == (not domain.nonnegative)
    assert a.size + sum(M.size for M in mats) == num_random_weights(rand.plan) == rand.plan.options["random_weights"]
    ticket = approximate(model, rand, eps=None)
    # masks only: every weight of the ticket is the random one or 0
    ta, tmats = ticket.network.arrays()
    assert np.all((ta == a) | (ta == 0)) and np.array_equal(ta != 0, ticket.masks[0][0] & (a != 0))
    for M, T, (_, mc, mb) in zip(mats, tmats, ticket.masks):
        assert mc is None
        assert np.all((T == M) | (T == 0)) and np.array_equal(T != 0, mb & (M != 0))
    # sound on random inputs of the domain and against the adversarial search
    x = points(domain, 2000, tgt.input_dim, 1)
    err = float((tgt(x) - ticket(x)).norm(dim=1).max())
    assert err <= ticket.error_bound
    adv, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.input_dim, domain=domain, starts=64, steps=30)
    assert adv <= ticket.error_bound
    cert = ticket.certificate
    assert len(cert.layer_errors) == tgt.depth and cert.float_slack > 0


def _first_layer_effective(rand, ticket, x):
    """conv(P, σ(x)) + conv(N, σ(−x)) from the masked weights (the certificate's step 1)."""
    plan = rand.plan
    a, mats = ticket.network.arrays()
    spec = plan.layers[0]
    c0 = spec.in_channels
    m = 2 if plan.signed[0] else 1
    M = mats[0].reshape((mats[0].shape[0], c0, m, plan.n[0]) + mats[0].shape[2:])
    aw = np.abs(a).reshape(c0, m, plan.n[0])
    P = torch.from_numpy(np.einsum("rjn...,jn->rj...", M[:, :, 0], aw[:, 0]))
    conv = F.conv1d if P.dim() == 3 else F.conv2d
    y = conv(torch.relu(x), P, stride=spec.stride, padding=spec.padding)
    if m == 2:
        N = torch.from_numpy(np.einsum("rjn...,jn->rj...", M[:, :, 1], aw[:, 1]))
        y = y + conv(torch.relu(-x), N, stride=spec.stride, padding=spec.padding)
    return y


def test_ticket_is_what_the_certificate_models():
    model, shape = conv1d_model(2)
    dom = Ball(1.0)
    rand = random_network(model, input_shape=shape, seed=0, n=8, domain=dom, construction=NAME)
    ticket = approximate(model, rand, eps=None)
    x = points(dom, 64, 8, 0).reshape(64, *shape)
    net = ticket.network
    # layer 1: the univariate layer and random layer 1 are the effective pair map
    h1 = net._affine(0, x)
    assert torch.allclose(h1, _first_layer_effective(rand, ticket, x), atol=1e-12, rtol=0)
    # copy layers: conv(M, E_ρ h) = conv(P, h), P the sums over the input copies (copy-major channels)
    tgt = target_of(model, shape)
    spec = tgt.layers[1]
    h = torch.relu(torch.randn(5, *spec.in_shape, dtype=torch.float64))
    rho = copies_of(rand.plan)[0]
    M = net.weight(2)
    lifted = F.conv1d(h.repeat(1, rho, 1), M, stride=spec.stride, padding=spec.padding)
    P = M.reshape(M.shape[0], rho, spec.in_channels, -1).sum(dim=1)
    assert torch.allclose(lifted, F.conv1d(h, P, stride=spec.stride, padding=spec.padding), atol=1e-12, rtol=0)
    # Flatten in copy space = the copies of the flattened features (copy k of feature f at k·D + f)
    z = torch.randn(3, 2, 4, dtype=torch.float64)
    assert torch.equal(z.repeat(1, 3, 1).flatten(1), z.flatten(1).repeat(1, 3))
    # the ticket equals the random network with the pruned weights zeroed, evaluated afresh
    full = BurkholzConvNetwork(rand.plan, rand.seed, weights=construction(NAME).masked_weights(rand, ticket.masks))
    xf = x.reshape(64, -1)
    assert torch.equal(full(xf), ticket(xf))


@pytest.mark.parametrize("dense_max", [4_000_000, 0])
def test_unrolled_and_norm_bounds(dense_max, monkeypatch):
    import sltheory.conv.burkholz as cb

    monkeypatch.setattr(cb, "DENSE_NORM_MAX", dense_max)     # 0: the large-operator path (DFT / Schur)
    rng = np.random.default_rng(0)
    cases = [((3, 2, 3), (2, 7), (2,), (1,)), ((2, 3, 3, 2), (3, 5, 4), (1, 2), (1, 0)), ((4, 6), (6,), (), ())]
    for kernel, in_shape, stride, padding in cases:
        K = rng.normal(size=kernel)
        x = torch.from_numpy(rng.normal(size=(3,) + in_shape))
        U = unrolled(K, in_shape, stride, padding)
        if len(kernel) == 2:
            ref = F.linear(x, torch.from_numpy(K))
        else:
            conv = F.conv1d if len(kernel) == 3 else F.conv2d
            ref = conv(x, torch.from_numpy(K), stride=stride, padding=padding)
        got = torch.from_numpy(np.asarray(U @ x.reshape(3, -1).numpy().T).T)
        assert torch.allclose(got, ref.reshape(3, -1), atol=1e-12)
        assert op_norm(K, in_shape, stride, padding) >= np.linalg.norm(U.toarray(), 2)
    # pools: the Lipschitz bound holds on random pairs
    for op in [O.Pool("max", (3,), (2,), (1,), True, (2, 9), (2, 5)), O.Pool("avg", (2, 2), (1, 1), (1, 1), False,
                                                                              (1, 4, 4), (1, 5, 5))]:
        lip = pool_lipschitz(op)
        for _ in range(50):
            u, v = (torch.from_numpy(rng.normal(size=(1,) + op.in_shape)) for _ in range(2))
            du = O.apply_op(op, u) - O.apply_op(op, v)
            assert float(du.norm()) <= lip * float((u - v).norm()) + 1e-12


def test_eps_met_deterministic_and_file(tmp_path):
    model, shape = conv2d_model(3, scale=0.4)
    tgt = target_of(model, shape)
    dom = Box(0, 1)
    eps = 0.08
    rand = random_network(model, input_shape=shape, seed=5, n=16, domain=dom, construction=NAME)
    t1 = approximate(model, rand, eps=eps)
    assert t1.error_bound <= eps
    x = points(dom, 1000, tgt.input_dim, 2)
    assert float((tgt(x) - t1(x)).norm(dim=1).max()) <= eps
    again = random_network(model, input_shape=shape, seed=5, n=16, domain=dom, construction=NAME)
    for M1, M2 in zip(rand.arrays()[1], again.arrays()[1]):
        assert np.array_equal(M1, M2)
    t2 = approximate(model, again, eps=eps)
    for e1, e2 in zip(t1.masks, t2.masks):
        for m1, m2 in zip(e1, e2):
            assert (m1 is None and m2 is None) or np.array_equal(m1, m2)
    path = t1.save(tmp_path / "t.npz")
    back = load_conv_ticket(path, target=model)
    assert torch.equal(back(x), t1(x))
    assert back.error_bound == t1.error_bound
    assert load_conv_ticket(path).error_bound == t1.error_bound
    # rows regenerate alone from their own streams
    assert np.array_equal(sample_layer(rand.plan, 5, 1, rows=[3, 0]), rand.arrays()[1][0][[3, 0]])


def test_plan_reads_shapes_only_and_rule():
    m1, shape = conv1d_model(4)
    m2, _ = conv1d_model(5)
    p1 = random_network(m1, input_shape=shape, seed=1, eps=0.1, construction=NAME).plan
    p2 = random_network(m2, input_shape=shape, seed=1, eps=0.1, construction=NAME).plan
    assert p1 == p2
    spec = construction(NAME)
    n = p1.n[0]
    assert p1.n == (n,) * 3 and copies_of(p1) == (n, n, 1)
    # the rule's n is the fixed point n = max_ℓ width_bound(ℓ, ρ = n) at ε' = ε / Lip(pool)
    gain = pool_lipschitz(target_of(m1, shape).ops[2])
    raw = max(spec.width_bound(s, 3, 0.1, 0.05, n, pool_gain=gain) for s in target_of(m1, shape).layers)
    assert n - 1 < raw <= n + 1e-6
    # sympy-compatible
    import sympy

    e = sympy.Symbol("epsilon", positive=True)
    assert spec.width_bound(target_of(m1, shape).layers[0], 3, e, sympy.Rational(1, 20), 8).has(e)


def residual_target(seed=0, *, c=2, hw=4, shortcut=False):
    """Conv1d stem → ReLU → Residual(conv, ReLU, conv; identity or 1×1-conv shortcut) → AvgPool →
    Flatten → Linear, no biases, inputs (1, hw)."""
    rng = np.random.default_rng(seed)
    K = lambda o, i, k: rng.normal(size=(o, i, k)) * 0.25 / np.sqrt(i * k)  # noqa: E731
    s = (c, hw)
    body = (O.Affine(K(c, c, 3), None, (1,), (1,), s, s), O.ReLU(s, s), O.Affine(K(c, c, 3), None, (1,), (1,), s, s))
    short = (O.Affine(K(c, c, 1), None, (1,), (0,), s, s),) if shortcut else ()
    ops = (O.Affine(K(c, 1, 3), None, (1,), (1,), (1, hw), s), O.ReLU(s, s), O.Residual(body, short, True, s, s),
           O.Pool("avg", (2,), (2,), (0,), True, s, (c, hw // 2)), O.Flatten((c, hw // 2), (c * hw // 2,)),
           O.Affine(rng.normal(size=(2, c * hw // 2)) * 0.3, None, (), (), (c * hw // 2,), (2,)))
    return O.ConvTarget(ops, (1, hw), (2,))


@pytest.mark.parametrize("shortcut", [False, True])
def test_residual_identity_skip_in_copy_space(shortcut, tmp_path):
    tgt = residual_target(0, shortcut=shortcut)
    dom = Box(-1, 1)
    rand = random_network(tgt, seed=2, n=9, domain=dom, construction=NAME)
    _, mats = rand.arrays()
    assert len(mats) == tgt.depth                   # + the univariate layer: L + 1
    assert mats[2].shape[0] == 9 * 2 and mats[1].shape[1] == 9 * 2   # the body keeps ρ copies for the skip
    ticket = approximate(tgt, rand, eps=None)
    x = points(dom, 1000, tgt.input_dim, 3)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= ticket.error_bound
    adv, _ = sltheory.adversarial_error(tgt, ticket.network, tgt.input_dim, domain=dom, starts=64, steps=30)
    assert adv <= ticket.error_bound
    back = load_conv_ticket(ticket.save(tmp_path / "r.npz"), target=tgt)
    assert torch.equal(back(x), ticket(x)) and back.error_bound == ticket.error_bound
    # copies must agree across the addition: the body's last layer writes what the skip carries
    with pytest.raises(InvalidArgumentError, match="residual"):
        random_network(tgt, seed=2, n=(9, 9, 9, 8) + (9,) * (tgt.depth - 4), domain=dom, construction=NAME)


def biased_residual_target(seed=0, *, c=2, hw=4):
    """:func:`residual_target` with a bias on every layer (Conv1d, identity skip)."""
    rng = np.random.default_rng(seed)
    K = lambda o, i, k: rng.normal(size=(o, i, k)) * 0.25 / np.sqrt(i * k)  # noqa: E731
    b = lambda o: rng.normal(size=o) * 0.2  # noqa: E731
    s = (c, hw)
    body = (O.Affine(K(c, c, 3), b(c), (1,), (1,), s, s), O.ReLU(s, s), O.Affine(K(c, c, 3), b(c), (1,), (1,), s, s))
    ops = (O.Affine(K(c, 1, 3), b(c), (1,), (1,), (1, hw), s), O.ReLU(s, s), O.Residual(body, (), True, s, s),
           O.Pool("max", (2,), (2,), (0,), True, s, (c, hw // 2)), O.Flatten((c, hw // 2), (c * hw // 2,)),
           O.Affine(rng.normal(size=(2, c * hw // 2)) * 0.3, b(2), (), (), (c * hw // 2,), (2,)))
    return O.ConvTarget(ops, (1, hw), (2,))


def biased_conv1d_model(seed=0, scale=0.5):
    """:func:`conv1d_model` with biases on every layer."""
    torch.manual_seed(seed + 100)
    m = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                      nn.Conv1d(2, 2, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m, (1, 8)


@pytest.mark.parametrize("case,domain", [("conv1d", Ball(1.0)), ("conv1d", Box(0, 1)), ("residual", Box(-1, 1))])
def test_biases_through_constant_channels(case, domain, tmp_path):
    if case == "conv1d":
        model, shape = biased_conv1d_model(1)
        tgt = target_of(model, shape)
    else:
        tgt = model = biased_residual_target(2)
        shape = tgt.input_shape
    rand = random_network(model, input_shape=shape, seed=4, n=10, domain=domain, construction=NAME)
    a, mats = rand.arrays()
    beta = rand.bias_array()
    assert beta is not None and beta.shape == (10,) and np.all((beta >= 0) & (beta < 2))
    assert len(mats) == tgt.depth and mats[0].shape[1] == a.size + 10       # univariate units + bias units
    assert mats[0].shape[0] == 10 * tgt.layers[0].out_channels + 10         # copies + constant channels
    assert mats[-1].shape[0] == tgt.layers[-1].out_channels                 # the last layer: one copy, no constants
    ticket = approximate(model, rand, eps=None)
    ma, mbeta, _ = ticket.masks[0]
    assert mbeta is not None and mbeta.any()
    net = ticket.network
    assert np.array_equal(net.bias_array(), np.where(mbeta, beta, 0.0))     # masks only, biases too
    for M, T in zip(mats, net.arrays()[1]):
        assert np.all((T == M) | (T == 0))
    x = points(domain, 2000, tgt.input_dim, 5)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= ticket.error_bound
    adv, _ = sltheory.adversarial_error(tgt, net, tgt.input_dim, domain=domain, starts=64, steps=30)
    assert adv <= ticket.error_bound
    back = load_conv_ticket(ticket.save(tmp_path / "b.npz"), target=tgt)
    assert torch.equal(back(x), ticket(x)) and back.error_bound == ticket.error_bound
    # a constant channel that keeps a weight at another kernel position is refused by the certificate
    bad = [tuple(None if m is None else m.copy() for m in e) for e in ticket.masks]
    H0 = a.size
    bad[0][2][:, H0:, :] = True
    with pytest.raises(sltheory.errors.CertificateError):
        construction(NAME).certify(tgt, rand, bad)


def test_biased_eps_met():
    model, shape = biased_conv1d_model(3, scale=0.4)
    tgt = target_of(model, shape)
    dom = Box(0, 1)
    rand = random_network(model, input_shape=shape, seed=1, n=18, domain=dom, construction=NAME)
    ticket = approximate(model, rand, eps=0.1)
    assert ticket.error_bound <= 0.1
    x = points(dom, 1000, tgt.input_dim, 2)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= 0.1


def test_refusals():
    rng = np.random.default_rng(0)
    s = (2, 4)
    body = (O.Affine(rng.normal(size=(2, 2, 3)) * 0.2, None, (1,), (1,), s, s),)
    last_inside = O.ConvTarget((O.Affine(rng.normal(size=(2, 1, 3)) * 0.2, None, (1,), (1,), (1, 4), s),
                                O.ReLU(s, s), O.Residual(body, (), True, s, s)), (1, 4), s)
    with pytest.raises(TargetError, match="outside residual"):
        random_network(last_inside, seed=0, n=4, construction=NAME)
    # biases ride on constant channels: a padded count_include_pad avg pool or a conv without a kernel
    # position clear of the padding would make them non-constant
    padded_avg = O.ConvTarget((O.Affine(rng.normal(size=(2, 1, 3)), np.ones(2), (1,), (1,), (1, 4), s), O.ReLU(s, s),
                               O.Pool("avg", (2,), (2,), (1,), True, s, (2, 3))), (1, 4), (2, 3))
    with pytest.raises(TargetError, match="count_include_pad"):
        random_network(padded_avg, seed=0, n=4, construction=NAME)
    wide_pad = O.ConvTarget((O.Affine(rng.normal(size=(2, 1, 3)), np.ones(2), (1,), (2,), (1, 4), (2, 6)),),
                            (1, 4), (2, 6))
    with pytest.raises(TargetError, match="bias"):
        random_network(wide_pad, seed=0, n=4, construction=NAME)
    pooled_first = O.ConvTarget((O.Pool("max", (2,), (2,), (0,), True, (1, 4), (1, 2)),
                                 O.Affine(rng.normal(size=(1, 1, 1)), None, (1,), (0,), (1, 2), (1, 2))),
                                (1, 4), (1, 2))
    with pytest.raises(TargetError, match="start with"):
        random_network(pooled_first, seed=0, n=4, construction=NAME)
    model, shape = conv1d_model(0)
    with pytest.raises(InvalidArgumentError):
        random_network(model, input_shape=shape, seed=0, n=4, construction=NAME, bogus=1)
    rand = random_network(model, input_shape=shape, seed=0, n=4, construction=NAME)
    with pytest.raises(ValueError):
        construction(NAME).check_masks(rand, [(np.zeros(1, bool), None, np.zeros(1, bool))])


def test_failure_is_typed():
    model, shape = conv1d_model(6, scale=1.5)
    rand = random_network(model, input_shape=shape, seed=0, n=4, construction=NAME)
    with pytest.raises(ApproximationFailedError, match="n ≈") as info:
        approximate(model, rand, eps=1e-4)
    assert all(v > 4 for v in info.value.n_needed)


@st.composite
def small_conv1d(draw):
    c0 = draw(st.integers(1, 2))
    c1 = draw(st.integers(1, 2))
    length = draw(st.integers(4, 7))
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2))
    pad = draw(st.integers(0, k // 2))
    pool = draw(st.sampled_from([None, "max", "avg"]))
    seed = draw(st.integers(0, 2**16))
    bias = draw(st.booleans())
    layers: list[nn.Module] = [nn.Conv1d(c0, c1, k, stride=stride, padding=pad, bias=bias), nn.ReLU()]
    out = (length + 2 * pad - k) // stride + 1
    if pool is not None and out >= 2:
        layers.append(nn.MaxPool1d(2) if pool == "max" else nn.AvgPool1d(2, stride=1))
        out = out // 2 if pool == "max" else out - 1
    layers += [nn.Flatten(), nn.Linear(c1 * out, 2, bias=bias)]
    torch.manual_seed(seed)
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.6)
    return model, (c0, length), draw(st.sampled_from([Ball(1.0), Box(0, 1), Box(-1, 1)])), seed


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_conv1d())
def test_property_sound_on_small_architectures(case):
    model, shape, domain, seed = case
    tgt = target_of(model, shape)
    try:
        rand = random_network(model, input_shape=shape, seed=seed, n=7, domain=domain, construction=NAME)
    except TargetError:
        assert tgt.has_biases     # a biased conv whose every kernel position meets the padding
        return
    ticket = approximate(model, rand, eps=None)
    x = points(domain, 500, tgt.input_dim, seed)
    assert float((tgt(x) - ticket(x)).norm(dim=1).max()) <= ticket.error_bound
    a, mats = rand.arrays()
    ta, tmats = ticket.network.arrays()
    assert np.all((ta == a) | (ta == 0))
    assert all(np.all((T == M) | (T == 0)) for T, M in zip(tmats, mats))
    beta, tbeta = rand.bias_array(), ticket.network.bias_array()
    assert (beta is None) == (not tgt.has_biases) and (beta is None or np.all((tbeta == beta) | (tbeta == 0)))
