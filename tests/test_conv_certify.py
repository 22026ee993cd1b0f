"""sltheory.conv.certify: the layer-wise conv certificate is ≥ every error found (random points and
the adversarial search) on synthetic tickets G(h) = P⋆σ(h) + N⋆σ(−h) + p, P ≈ W, N ≈ −W, p ≈ b."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sltheory.certificate import adversarial_error
from sltheory.conv.certify import ConvCertificate, ConvPairMap, certify_conv
from sltheory.conv.ops import Affine, ConvTarget, Flatten, Pool, ReLU, Residual, affine_layers, forward
from sltheory.domains import Ball, Box
from sltheory.errors import CertificateError


# ----------------------------------------------------------------- building targets by hand
def _shape_after(op_fn, shape):
    x = torch.zeros((1,) + tuple(shape), dtype=torch.float64)
    return tuple(op_fn(x).shape[1:])


def conv(rng, co, k, s=1, p=0, bias=True, scale=1.0):
    def make(shape):
        d = len(shape) - 1
        kk = (k,) * d
        W = rng.standard_normal((co, shape[0]) + kk) * scale / math.sqrt(shape[0] * k ** d)
        b = rng.standard_normal(co) * 0.3 if bias else None
        op = Affine(W, b, (s,) * d, (p,) * d, tuple(shape), ())
        out = _shape_after(lambda x: forward((op,), x), shape)
        return Affine(W, b, (s,) * d, (p,) * d, tuple(shape), out)
    return make


def linear(rng, out, bias=True, scale=1.0):
    def make(shape):
        W = rng.standard_normal((out, shape[0])) * scale / math.sqrt(shape[0])
        return Affine(W, rng.standard_normal(out) * 0.3 if bias else None, (), (), tuple(shape), (out,))
    return make


def relu():
    return lambda shape: ReLU(tuple(shape), tuple(shape))


def flatten():
    return lambda shape: Flatten(tuple(shape), (int(np.prod(shape)),))


def pool(kind, k, s, p=0, cip=True):
    def make(shape):
        d = len(shape) - 1
        op = Pool(kind, (k,) * d, (s,) * d, (p,) * d, cip, tuple(shape), ())
        out = _shape_after(lambda x: forward((op,), x), shape)
        return Pool(kind, (k,) * d, (s,) * d, (p,) * d, cip, tuple(shape), out)
    return make


def residual(body, shortcut=(), relu_=True):
    def make(shape):
        b_ops, s_ops = build_ops(body, shape), build_ops(shortcut, shape)
        out = b_ops[-1].out_shape
        return Residual(tuple(b_ops), tuple(s_ops), relu_, tuple(shape), out)
    return make


def build_ops(makers, shape):
    ops = []
    for m in makers:
        op = m(shape)
        ops.append(op)
        shape = op.out_shape
    return ops


def target_of(makers, input_shape) -> ConvTarget:
    ops = build_ops(makers, input_shape)
    return ConvTarget(tuple(ops), tuple(input_shape), ops[-1].out_shape)


# ----------------------------------------------------------------- synthetic tickets
def synthetic_maps(rng, target: ConvTarget, noise: float, nonneg_input: bool, drop_n: bool = True):
    """P = W + noise, N = −W + noise (None where the inputs are ≥ 0 and ``drop_n``), p = b + noise."""
    maps = []
    signs = _input_signed(target.ops, not nonneg_input)
    for op, signed in zip(affine_layers(target.ops), signs):
        W = op.weight
        P = W + noise * rng.standard_normal(W.shape) * np.abs(W).mean()
        N = -W + noise * rng.standard_normal(W.shape) * np.abs(W).mean() if (signed or not drop_n) else None
        p = None if op.bias is None else op.bias + noise * rng.standard_normal(op.bias.shape) * 0.3
        maps.append(ConvPairMap(P=P, N=N, p=p))
    return maps


def _input_signed(ops, signed):
    out = []

    def walk(seq, s):
        for op in seq:
            if isinstance(op, Affine):
                out.append(s)
                s = True
            elif isinstance(op, ReLU):
                s = False
            elif isinstance(op, Residual):
                sb = walk(op.body, s)
                ss = walk(op.shortcut, s) if op.shortcut else s
                s = False if op.relu else (sb or ss)
        return s

    walk(ops, signed)
    return out


def ticket_fn(target: ConvTarget, maps):
    index = {id(op): i for i, op in enumerate(affine_layers(target.ops))}

    def affine(op, h):
        m = maps[index[id(op)]]
        P = torch.from_numpy(m.P)
        if op.is_conv:
            fn = F.conv1d if P.dim() == 3 else F.conv2d

            def lin(x, K):
                return fn(x, K, stride=op.stride, padding=op.padding)
        else:
            def lin(x, K):
                return F.linear(x, K)
        y = lin(torch.relu(h), P)
        if m.N is not None:
            y = y + lin(torch.relu(-h), torch.from_numpy(m.N))
        if m.p is not None:
            y = y + torch.from_numpy(m.p).view((1, -1) + (1,) * (y.dim() - 2))
        return y

    def g(x):
        xb = x.to(torch.float64).reshape(x.shape[0], *target.input_shape)
        return forward(target.ops, xb, affine).reshape(x.shape[0], -1)
    return g


def target_fn(target: ConvTarget):
    def f(x):
        xb = x.to(torch.float64).reshape(x.shape[0], *target.input_shape)
        return forward(target.ops, xb).reshape(x.shape[0], -1)
    return f


def worst_error(target, maps, domain, n=2000, attack=True):
    f, g = target_fn(target), ticket_fn(target, maps)
    gen = torch.Generator().manual_seed(0)
    X = domain.sample(n, target.input_dim, gen)
    with torch.no_grad():
        sampled = float((f(X) - g(X)).norm(dim=1).max())
    adv = 0.0
    if attack:
        adv, x = adversarial_error(f, g, target.input_dim, starts=256, refine=6, steps=40, hops=1, domain=domain)
        assert bool(domain.contains(x.reshape(1, -1).numpy())[0])
    return max(sampled, adv)


CASES = {
    "conv2d-s1-pad": ([lambda r: conv(r, 4, 3, 1, 1), lambda r: relu(), lambda r: conv(r, 3, 3, 1, 1)], (2, 6, 6)),
    "conv2d-s2-pad": ([lambda r: conv(r, 4, 3, 2, 1), lambda r: relu(), lambda r: conv(r, 3, 2, 2, 0)], (2, 7, 7)),
    "conv1d": ([lambda r: conv(r, 4, 3, 1, 1), lambda r: relu(), lambda r: conv(r, 2, 5, 2, 2)], (3, 12)),
    "maxpool-flatten-linear": ([lambda r: conv(r, 4, 3, 1, 1), lambda r: relu(), lambda r: pool("max", 2, 2),
                                lambda r: flatten(), lambda r: linear(r, 3)], (1, 6, 6)),
    "avgpool-pad": ([lambda r: conv(r, 3, 3, 1, 1), lambda r: relu(), lambda r: pool("avg", 3, 2, 1, False),
                     lambda r: flatten(), lambda r: linear(r, 2)], (2, 6, 6)),
    "avgpool1d-incl": ([lambda r: conv(r, 3, 3, 1, 0), lambda r: pool("avg", 2, 1, 1, True), lambda r: relu(),
                        lambda r: flatten(), lambda r: linear(r, 2)], (2, 9)),
    "residual-identity": ([lambda r: conv(r, 3, 3, 1, 1), lambda r: relu(),
                           lambda r: residual([conv(r, 4, 3, 1, 1), relu(), conv(r, 3, 3, 1, 1)]),
                           lambda r: flatten(), lambda r: linear(r, 2)], (2, 5, 5)),
    "residual-conv-shortcut": ([lambda r: residual([conv(r, 4, 3, 2, 1), relu(), conv(r, 4, 3, 1, 1)],
                                                   [conv(r, 4, 1, 2, 0, bias=False)]),
                                lambda r: pool("max", 2, 1), lambda r: flatten(), lambda r: linear(r, 2)],
                               (2, 6, 6)),
    "residual-no-relu-nobias": ([lambda r: conv(r, 3, 3, 1, 1, bias=False), lambda r: relu(),
                                 lambda r: residual([conv(r, 3, 3, 1, 1, bias=False)], (), relu_=False),
                                 lambda r: flatten(), lambda r: linear(r, 2, bias=False)], (1, 5, 5)),
}

DOMAINS = {"box01": Box(0.0, 1.0), "box-11": Box(-1.0, 1.0), "ball": Ball(2.0)}


@pytest.mark.parametrize("domain_name", list(DOMAINS))
@pytest.mark.parametrize("case", list(CASES))
def test_bound_is_sound(case, domain_name):
    rng = np.random.default_rng(zlib.crc32(f"{case}/{domain_name}".encode()))
    makers, shape = CASES[case]
    target = target_of([m(rng) for m in makers], shape)
    domain = DOMAINS[domain_name]
    maps = synthetic_maps(rng, target, 0.05, domain.nonnegative)
    cert = certify_conv(target, maps, domain=domain)
    assert isinstance(cert, ConvCertificate) and cert.method == "layerwise-conv"
    assert len(cert.layers) == target.depth and 0 < cert.float_slack < 1e-9 * cert.error_bound + 1e-12
    err = worst_error(target, maps, domain)
    ratio = cert.error_bound / err
    print(f"{case:24s} {domain_name:7s} bound {cert.error_bound:.4g} attack {err:.4g} ratio {ratio:.2f}")
    assert err <= cert.error_bound
    assert ratio < 200        # loose sanity: the layer-wise bound is not absurdly loose at depth ≤ 4


def test_first_layer_needs_n_on_signed_domains_only():
    rng = np.random.default_rng(0)
    makers, shape = CASES["conv2d-s1-pad"]
    target = target_of([m(rng) for m in makers], shape)
    maps = synthetic_maps(rng, target, 0.05, nonneg_input=True)
    assert maps[0].N is None
    certify_conv(target, maps, domain=Box(0, 1))
    with pytest.raises(CertificateError, match="needs N"):
        certify_conv(target, maps, domain=Box(-1, 1))


def test_tightness_depth2_and_zero_noise():
    rng = np.random.default_rng(7)
    makers, shape = CASES["conv2d-s1-pad"]
    target = target_of([m(rng) for m in makers], shape)
    maps = synthetic_maps(rng, target, 0.02, nonneg_input=False)
    cert = certify_conv(target, maps, domain=Box(-1, 1))
    err = worst_error(target, maps, Box(-1, 1))
    print(f"depth-2 tightness: bound {cert.error_bound:.4g} attack {err:.4g} ratio {cert.error_bound / err:.2f}")
    assert err <= cert.error_bound <= 50 * err
    # exact maps: only the float slack remains
    exact = [ConvPairMap(P=op.weight.copy(), N=-op.weight, p=op.bias) for op in target.layers]
    c0 = certify_conv(target, exact, domain=Box(-1, 1))
    assert c0.propagated == 0.0 and 0 < c0.error_bound < 1e-10


def test_matches_mlp_layerwise_recursion():
    """On a Linear-only target the recursion is the MLP certificate's (same Δ), up to rounding."""
    from sltheory.certificate.bound import EffectiveMap, certify
    from sltheory.targets import as_target

    rng = np.random.default_rng(3)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(0.8)
    lin = [m for m in net if isinstance(m, nn.Linear)]
    ops, shape = [], (6,)
    for j, m in enumerate(lin):
        W, b = m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()
        ops.append(Affine(W, b, (), (), shape, (W.shape[0],)))
        shape = (W.shape[0],)
        if j < len(lin) - 1:
            ops.append(ReLU(shape, shape))
    target = ConvTarget(tuple(ops), (6,), shape)
    maps = synthetic_maps(rng, target, 0.05, nonneg_input=False)
    for dom in (Ball(1.5), Box(-1, 1), Box(0, 1)):
        mine = certify_conv(target, maps, domain=dom)
        mlp_maps = [EffectiveMap(m.P, m.N if i == 0 and not dom.nonnegative else None, m.p)
                    for i, m in enumerate(maps)]
        ref = certify(as_target(net, check_norms=False), mlp_maps, method="layerwise", domain=dom)
        assert mine.propagated == pytest.approx(ref.propagated[-1], rel=1e-9)
        assert np.allclose(mine.layer_errors, ref.layer_errors, rtol=1e-9)


def test_pair_rounding_terms_and_torch_parser_if_present():
    """abs_kernel / inner / bias_abs enter the ticket's float slack (monotone in them)."""
    rng = np.random.default_rng(11)
    makers, shape = CASES["residual-identity"]
    target = target_of([m(rng) for m in makers], shape)
    maps = synthetic_maps(rng, target, 0.05, nonneg_input=False)
    base = certify_conv(target, maps, domain=Box(-1, 1))
    big = [ConvPairMap(P=m.P, N=m.N, p=m.p, abs_kernel=10 * (np.abs(m.P) + np.abs(m.N if m.N is not None else 0)),
                       inner=10_000, bias_abs=None if m.p is None else 10 * np.abs(m.p)) for m in maps]
    c2 = certify_conv(target, big, domain=Box(-1, 1))
    assert c2.slack_parts["ticket"] > 100 * base.slack_parts["ticket"]
    assert c2.slack_parts["target"] == base.slack_parts["target"]
    assert c2.propagated == base.propagated


def test_bad_inputs():
    rng = np.random.default_rng(1)
    makers, shape = CASES["residual-conv-shortcut"]
    target = target_of([m(rng) for m in makers], shape)
    maps = synthetic_maps(rng, target, 0.05, nonneg_input=False)
    with pytest.raises(CertificateError, match="maps for a target"):
        certify_conv(target, maps[:-1])
    bad = list(maps)
    bad[1] = ConvPairMap(P=maps[1].P[:, :-1], N=maps[1].N, p=maps[1].p)
    with pytest.raises(CertificateError, match="shape"):
        certify_conv(target, bad)
    bad[1] = ConvPairMap(P=np.full_like(maps[1].P, np.nan), N=maps[1].N, p=maps[1].p)
    with pytest.raises(CertificateError, match="non-finite"):
        certify_conv(target, bad)
    bad[1] = ConvPairMap(P=maps[1].P, N=maps[1].N, p=np.ones(7))
    with pytest.raises(CertificateError, match="offset"):
        certify_conv(target, bad)
    bad[1] = ConvPairMap(P=maps[1].P, N=maps[1].N, p=maps[1].p, abs_kernel=-np.abs(maps[1].P), inner=3)
    with pytest.raises(CertificateError, match="negative"):
        certify_conv(target, bad)
    bad[1] = ConvPairMap(P=maps[1].P, N=maps[1].N, p=maps[1].p, abs_kernel=np.abs(maps[1].P), inner=0)
    with pytest.raises(CertificateError, match="inner"):
        certify_conv(target, bad)
    with pytest.raises(CertificateError, match="ConvTarget"):
        certify_conv("nope", maps)  # type: ignore[arg-type]


@pytest.mark.parametrize("stride", [1, 2])
def test_single_layer_bound_is_attained(stride):
    """One conv, N = −W, p = b, P − W = D ≥ 0: on the ball the error is ‖D⋆σ(x)‖, whose sup is ‖D⋆‖
    (a nonnegative top singular vector), so bound and attack agree to a few percent."""
    rng = np.random.default_rng(stride)
    target = target_of([conv(rng, 3, 3, stride, 1)], (2, 5, 5))
    op = target.layers[0]
    D = np.abs(rng.standard_normal(op.weight.shape)) * 0.01
    maps = [ConvPairMap(P=op.weight + D, N=-op.weight, p=op.bias)]
    cert = certify_conv(target, maps, domain=Ball(1.0))
    f, g = target_fn(target), ticket_fn(target, maps)
    adv, _ = adversarial_error(f, g, target.input_dim, starts=512, refine=8, steps=150, domain=Ball(1.0))
    print(f"single layer stride {stride}: bound {cert.error_bound:.6g} attack {adv:.6g}")
    assert adv <= cert.error_bound <= 1.05 * adv
