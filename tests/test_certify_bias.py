"""The certificate with biases and input domains, against independent lower bounds.

Targets with biases and pruned pair networks are built here directly as matrices (hidden units
with one input weight, bias units with only a bias, B dense), not through the constructions; both
networks are evaluated by code of this file (numpy / torch, float64), and the lower bounds are the
largest errors found on dense grids of the domain (d_0 = 1, 2) or by a projected gradient attack
written here (d_0 = 3–5). A sound certificate is ≥ every lower bound; the tests also fail on a
bound more than LOOSE times the lower bound of a ticket far from its target.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sltheory
from sltheory.certificate.bound import (
    EffectiveMap,
    certify,
    float_slack,
    float_slack_affine,
    pair_effective_map,
    pair_float_slack,
)
from sltheory.domains import Ball, Box
from sltheory.errors import CertificateError

#: Largest accepted bound / lower bound on tickets far from their target (the layer-wise recursion
#: multiplies worst cases; measured ≤ ~10 at depth ≤ 3).
LOOSE = 50.0
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- building blocks
def make_target(rng, dims, *, biases=True, norm=0.9, rescale=False):
    """Layers (W_i, b_i) with ‖W_i‖₂ = norm (rescale: norms up to 2, as_target divides)."""
    layers = []
    for i in range(len(dims) - 1):
        W = rng.standard_normal((dims[i + 1], dims[i]))
        W *= (rng.uniform(1.1, 2.0) if rescale else norm) / np.linalg.norm(W, 2)
        b = rng.normal(0, 0.4, dims[i + 1]) if biases else None
        layers.append((W, b) if b is not None else W)
    return layers


def make_pairs(rng, tgt, *, n=3, bias_units=3, noise=0.0, far=False, signed_first=True):
    """Masked random pair matrices [A_1, B_1, …] and biases [c_1, d_1 (None), …] for ``tgt``.

    Hidden layer of pair i: n units per input with one weight (signs alternate; only positive ones
    when not ``signed_first`` on the first layer), then ``bias_units`` units with a bias only (one of
    them negative: it outputs σ(c) = 0). ``far``: B uniform(−1, 1) (a ticket far from the target);
    else B reproduces (W_i, b_i) exactly with one unit per input and sign, plus ``noise`` × N(0, 1)
    on every kept entry of B."""
    mats, biases = [], []
    for i, W in enumerate(tgt.weights):
        d_out, d_in = W.shape
        b = tgt.bias(i)
        nu = n * d_in
        H = nu + bias_units
        A = np.zeros((H, d_in))
        j = np.arange(nu) % d_in
        mag = rng.uniform(0.2, 1.0, nu)
        sign = np.where((np.arange(nu) // d_in) % 2 == 0, 1.0, -1.0)
        if i == 0 and not signed_first:
            sign[:] = 1.0
        A[np.arange(nu), j] = mag * sign
        c = np.zeros(H)
        c[nu:] = rng.uniform(0.3, 1.0, bias_units)
        if bias_units:
            c[-1] = -0.5
        B = np.zeros((d_out, H))
        if far:
            B[:] = rng.uniform(-1, 1, (d_out, H))
        else:
            for col in range(d_in):
                kp = col                          # first unit of input col: positive weight
                B[:, kp] = W[:, col] / A[kp, col]
                if n >= 2 and (i > 0 or signed_first):
                    kn = d_in + col               # second unit: negative weight, copies −W on σ(−x)
                    B[:, kn] = W[:, col] / A[kn, col]
            if b is not None and bias_units:
                B[:, nu] = b / c[nu]
            B += noise * rng.standard_normal(B.shape) * (B != 0)
        mats += [A, B]
        biases += [c if bias_units else None, None]
    return mats, biases


def maps_of(mats, biases, signed_first=True):
    return [pair_effective_map(mats[2 * i], mats[2 * i + 1], i == 0 and signed_first, biases[2 * i])
            for i in range(len(mats) // 2)]


def target_fn(layers):
    """The ORIGINAL target (before any rescaling) as a float64 torch function."""
    Ws = [torch.as_tensor(L[0] if isinstance(L, tuple) else L) for L in layers]
    bs = [torch.as_tensor(L[1]) if isinstance(L, tuple) else None for L in layers]

    def f(x):
        h = x
        for i, (W, b) in enumerate(zip(Ws, bs)):
            h = h @ W.T
            if b is not None:
                h = h + b
            if i < len(Ws) - 1:
                h = torch.relu(h)
        return h
    return f


def ticket_fn(mats, biases, scale=1.0):
    """The pruned random network (ReLU after every linear but the last), times the output scale."""
    Ms = [torch.as_tensor(M) for M in mats]
    cs = [None if c is None else torch.as_tensor(c) for c in biases]

    def g(x):
        h = x
        for t, (M, c) in enumerate(zip(Ms, cs)):
            h = h @ M.T
            if c is not None:
                h = h + c
            if t < len(Ms) - 1:
                h = torch.relu(h)
        return h * scale if scale != 1.0 else h
    return g


def err(f, g, X):
    with torch.no_grad():
        return torch.linalg.vector_norm(f(X) - g(X), dim=1)


# ----------------------------------------------------------------------------- lower bounds
def inside(domain, X):
    """Points of the domain: a ball's are shrunk by 1 − 1e-12, so that rounding keeps them inside."""
    if isinstance(domain, Ball):
        nrm = torch.linalg.vector_norm(X, dim=1, keepdim=True)
        return X * torch.clamp(domain.radius * (1 - 1e-12) / nrm.clamp_min(1e-300), max=1.0)
    return domain.project(X)


def grid_points(domain, d, m):
    """A dense grid of the domain in dimension d ∈ {1, 2} (m points per axis)."""
    if isinstance(domain, Box):
        lo = np.broadcast_to(domain.lo, (d,))
        hi = np.broadcast_to(domain.hi, (d,))
        axes = [np.linspace(lo[k], hi[k], m) for k in range(d)]
    else:
        r = domain.radius
        axes = [np.linspace(-r, r, m)] * d
    X = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    if isinstance(domain, Ball) and d == 2:   # the disc, plus its boundary circle
        t = np.linspace(0, 2 * np.pi, 8 * m)
        X = np.concatenate([X, domain.radius * np.stack([np.cos(t), np.sin(t)], 1)])
    return inside(domain, torch.as_tensor(X))


def grid_lower_bound(f, g, domain, d):
    X = grid_points(domain, d, 4001 if d == 1 else 301)
    return float(err(f, g, X).max())


def attack_lower_bound(f, g, domain, d, *, starts=192, steps=120, seed=0):
    """Multi-start projected gradient ascent of ‖f − g‖ (normalized steps, shrinking), from random
    points of the domain and, for a box, its corners."""
    gen = torch.Generator().manual_seed(seed)
    X = domain.sample(starts, d, gen)
    if isinstance(domain, Box):
        lo = torch.as_tensor(np.broadcast_to(domain.lo, (d,)).copy())
        hi = torch.as_tensor(np.broadcast_to(domain.hi, (d,)).copy())
        corners = torch.tensor(list(np.ndindex(*(2,) * d)), dtype=torch.float64)
        X = torch.cat([X, lo + corners * (hi - lo)])
        size = float(torch.linalg.vector_norm(hi - lo))
    else:
        size = 2 * domain.radius
    X = inside(domain, X)
    best = float(err(f, g, X).max())
    step = 0.1 * size
    for _ in range(steps):
        X = X.detach().requires_grad_(True)
        loss = (f(X) - g(X)).pow(2).sum()
        (grad,) = torch.autograd.grad(loss, X)
        gn = torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min(1e-300)
        X = inside(domain, (X + step * grad / gn).detach())
        best = max(best, float(err(f, g, X).max()))
        step *= 0.96
    return best


def lower_bound(f, g, domain, d):
    return grid_lower_bound(f, g, domain, d) if d <= 2 else attack_lower_bound(f, g, domain, d)


def domains(d):
    return st.sampled_from([Ball(1.0), Ball(2.5), Ball(0.3), Box(-1, 1), Box(0, 1), Box(-0.5, 2.0),
                            Box(np.linspace(-1, 0, d), np.linspace(0.5, 2, d)), Box(0.2, 0.7)])


# ----------------------------------------------------------------------------- (i) soundness
@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), d0=st.integers(1, 2), depth=st.integers(1, 3), far=st.booleans(),
       data=st.data())
def test_bound_dominates_the_grid_maximum_in_one_and_two_dimensions(seed, d0, depth, far, data):
    rng = np.random.default_rng(seed)
    dims = [d0] + [int(v) for v in rng.integers(1, 5, depth)]
    rescale = bool(rng.random() < 0.3)
    layers = make_target(rng, dims, biases=bool(rng.random() < 0.85), rescale=rescale)
    tgt = sltheory.as_target(layers, rescale=rescale)
    mats, biases = make_pairs(rng, tgt, bias_units=int(rng.integers(0, 4)), far=far,
                              noise=0.0 if far else float(rng.choice([0.0, 1e-3, 0.05])))
    domain = data.draw(domains(d0))
    cert = certify(tgt, maps_of(mats, biases), mats, domain=domain, ticket_biases=biases)
    lb = lower_bound(target_fn(layers), ticket_fn(mats, biases, tgt.output_scale), domain, d0)
    assert cert.error_bound >= lb, (cert, lb)
    if far and lb > 1e-3:
        assert cert.error_bound <= LOOSE * lb, (cert.error_bound, lb)
    assert (cert.domain is None) == (domain == Ball(1.0))


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), d0=st.integers(3, 5), depth=st.integers(1, 3), far=st.booleans(),
       data=st.data())
def test_bound_dominates_a_projected_attack_in_three_to_five_dimensions(seed, d0, depth, far, data):
    rng = np.random.default_rng(seed)
    dims = [d0] + [int(v) for v in rng.integers(2, 6, depth)]
    layers = make_target(rng, dims)
    tgt = sltheory.as_target(layers)
    mats, biases = make_pairs(rng, tgt, far=far, noise=0.0 if far else 0.02)
    domain = data.draw(domains(d0))
    cert = certify(tgt, maps_of(mats, biases), mats, domain=domain, ticket_biases=biases)
    lb = attack_lower_bound(target_fn(layers), ticket_fn(mats, biases), domain, d0, seed=seed % 1000)
    assert cert.error_bound >= lb, (cert, lb)
    if far and lb > 1e-3:
        assert cert.error_bound <= LOOSE * lb, (cert.error_bound, lb)


def test_exact_ticket_with_biases_is_certified_at_the_float_slack():
    """P = W, N = −W, p = b exactly (all weights powers of two): Δ = 0, the bound is the float slack."""
    layers = [(np.diag([0.5, -0.25, 0.5]), np.array([0.125, -0.5, 0.25])),
              (np.array([[0.5, 0.25, -0.5]]), np.array([0.75]))]
    tgt = sltheory.as_target(layers)
    mats, biases = [], []
    for i, W in enumerate(tgt.weights):
        d_out, d_in = W.shape
        A = np.zeros((2 * d_in + 1, d_in))
        A[np.arange(d_in), np.arange(d_in)] = 0.5
        A[d_in + np.arange(d_in), np.arange(d_in)] = -0.5
        c = np.zeros(2 * d_in + 1)
        c[-1] = 0.5
        B = np.zeros((d_out, 2 * d_in + 1))
        B[:, :d_in] = W / 0.5
        if i == 0:
            B[:, d_in:2 * d_in] = W / -0.5
        B[:, -1] = tgt.bias(i) / 0.5
        mats += [A, B]
        biases += [c, None]
    maps = maps_of(mats, biases)
    for dom in (None, Box(-1, 1), Box(0, 3), Ball(5.0)):
        cert = certify(tgt, maps, mats, domain=dom, ticket_biases=biases)
        assert cert.layer_errors == (0.0, 0.0)
        assert 0 < cert.error_bound < 1e-13
        lb = attack_lower_bound(target_fn(layers), ticket_fn(mats, biases), dom or Ball(1.0), 3, starts=32, steps=20)
        assert lb <= cert.error_bound


def test_recursion_pieces_with_biases_by_hand():
    """Depth 1, nonnegative box: the bound is ‖P − W‖ R + ‖p − b‖ (+ slack), and the layer-wise
    pieces read as documented."""
    W = np.array([[0.6, 0.0], [0.0, -0.3]])
    b = np.array([0.2, -0.1])
    tgt = sltheory.as_target([(W, b)])
    E = np.array([[0.01, 0.02], [0.0, -0.01]])
    p = np.array([0.25, -0.1])
    cert = certify(tgt, [EffectiveMap(W + E, None, p)], domain=Box(0, 1))
    R = math.sqrt(2)
    expect = np.linalg.norm(E, 2) * R + 0.05
    assert cert.error_bound == pytest.approx(expect, rel=1e-9)
    assert cert.error_bound >= expect
    assert cert.method == "layerwise" and cert.domain == {"kind": "box", "lo": 0.0, "hi": 1.0}


# ----------------------------------------------------------------------------- (ii) nonnegative domains
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), d0=st.integers(1, 2), depth=st.integers(1, 3), far=st.booleans())
def test_nonnegative_domain_needs_no_negative_half(seed, d0, depth, far):
    """A bias-free ticket whose first layer keeps only positive weights (N = None) is certified on
    Box(0, hi), soundly; on a domain with negative inputs it is refused."""
    rng = np.random.default_rng(seed)
    dims = [d0] + [int(v) for v in rng.integers(1, 5, depth)]
    layers = make_target(rng, dims, biases=False)
    tgt = sltheory.as_target(layers)
    mats, biases = make_pairs(rng, tgt, bias_units=0, far=far, noise=0.0 if far else 0.01, signed_first=False)
    maps = maps_of(mats, biases, signed_first=False)
    assert maps[0].N is None and all(m.p is None for m in maps)
    domain = Box(0, float(rng.choice([0.5, 1.0, 2.0])))
    cert = certify(tgt, maps, mats, domain=domain)
    lb = grid_lower_bound(target_fn(layers), ticket_fn(mats, biases), domain, d0)
    assert cert.error_bound >= lb
    if far and lb > 1e-3:
        assert cert.error_bound <= LOOSE * lb
    with pytest.raises(CertificateError, match="needs N"):
        certify(tgt, maps, mats, domain=Box(-0.1, 1))
    with pytest.raises(CertificateError, match="needs N"):
        certify(tgt, maps, mats)


def test_nonnegative_domain_is_never_worse_than_the_signed_certificate():
    """With N given, a nonnegative box is certified at most R times the unit-ball bound (N := −W₁
    only removes error columns), and strictly less when N is far from −W₁."""
    rng = np.random.default_rng(11)
    layers = make_target(rng, [3, 4, 2], biases=False)
    tgt = sltheory.as_target(layers)
    mats, biases = make_pairs(rng, tgt, bias_units=0, noise=0.05)
    maps = maps_of(mats, biases)
    maps[0] = EffectiveMap(maps[0].P, maps[0].N + 0.3, None)    # a poor negative half
    R = Box(0, 1).radius_for(3)
    for method in ("layerwise", "auto"):
        ball = certify(tgt, maps, mats, method=method)
        box = certify(tgt, maps, mats, method=method, domain=Box(0, 1))
        assert box.error_bound < ball.error_bound * R
    lb = attack_lower_bound(target_fn(layers), ticket_fn(mats, biases), Box(0, 1), 3)
    assert box.error_bound >= lb


# ----------------------------------------------------------------------------- (iii) refused structures
def test_a_unit_with_a_weight_and_a_bias_is_refused():
    A = np.array([[0.5, 0.0], [0.0, 0.0], [0.0, -0.7]])
    B = np.ones((1, 3))
    with pytest.raises(CertificateError, match="hidden unit 0 keeps an input weight and a nonzero bias"):
        pair_effective_map(A, B, True, np.array([0.3, 0.4, 0.0]))
    m = pair_effective_map(A, B, True, np.array([0.0, 0.4, 0.0]))      # a bias unit only
    assert m.p == pytest.approx([0.4])
    assert pair_effective_map(A, B, True, np.array([0.0, -0.4, 0.0])).p == pytest.approx([0.0])
    assert pair_effective_map(A, B, True, np.zeros(3)).p is None
    assert pair_effective_map(A, B, True).p is None
    # through certify: the ticket's biases are checked against the maps
    tgt = sltheory.as_target([(np.array([[0.5, 0.7]]), np.array([0.4]))])
    good = [m]
    certify(tgt, good, [A, B], ticket_biases=[np.array([0.0, 0.4, 0.0]), None])
    with pytest.raises(CertificateError, match="keeps an input weight and a nonzero bias"):
        certify(tgt, good, [A, B], ticket_biases=[np.array([0.1, 0.4, 0.0]), None])
    with pytest.raises(CertificateError, match="offset p is not"):
        certify(tgt, good, [A, B], ticket_biases=[np.array([0.0, 0.5, 0.0]), None])
    with pytest.raises(CertificateError, match="pass ticket_biases"):
        certify(tgt, good, [A, B])
    with pytest.raises(CertificateError, match="entries"):
        pair_effective_map(A, B, True, np.zeros(2))


def test_the_output_bias_of_the_pair_enters_the_offset():
    rng = np.random.default_rng(5)
    A = np.zeros((4, 2))
    A[[0, 1, 2], [0, 1, 0]] = [0.5, -0.8, -0.3]
    B = rng.uniform(-1, 1, (3, 4))
    c = np.array([0.0, 0.0, 0.0, 0.6])
    d = np.array([0.1, -0.2, 0.3])
    m = pair_effective_map(A, B, True, c, d)
    x = torch.as_tensor(rng.uniform(-1, 1, (50, 2)))
    direct = ticket_fn([A, B], [c, d])(x).numpy()
    x = x.numpy()
    assert np.allclose(direct, np.maximum(x, 0) @ m.P.T + np.maximum(-x, 0) @ m.N.T + m.p, atol=1e-14)


# ----------------------------------------------------------------------------- (iv) bias-free regression
def _fixed_case():
    rng = np.random.default_rng(3)
    layers = make_target(rng, [3, 5, 2], biases=False)
    tgt = sltheory.as_target(layers)
    mats, biases = make_pairs(rng, tgt, bias_units=0, noise=0.03)
    return layers, tgt, mats, maps_of(mats, biases)


def test_bias_free_unit_ball_is_bit_identical():
    _, tgt, mats, maps = _fixed_case()
    for method in ("auto", "layerwise", "sdp"):
        base = certify(tgt, maps, mats, method=method)
        for kw in ({"domain": None}, {"domain": Ball(1.0)}, {"domain": Ball(), "ticket_biases": [None] * 4}):
            same = certify(tgt, maps, mats, method=method, **kw)
            assert same == base
            assert same.error_bound.hex() == base.error_bound.hex()
        assert base.domain is None and base.precision == "float64"


def test_bias_free_unit_ball_values_are_pinned():
    """The values computed before biases and domains existed (commit d1a486a's bound.py)."""
    rng = np.random.default_rng(0)
    W = [rng.standard_normal((4, 3)) * 0.4, rng.standard_normal((2, 4)) * 0.4]
    tgt = sltheory.as_target(W, rescale=True)
    mats, maps = [], []
    for i, (d_out, d_in) in enumerate(tgt.shapes):
        H = 6 * d_in
        A = np.zeros((H, d_in))
        A[np.arange(H), np.arange(H) % d_in] = rng.uniform(-1, 1, H)
        B = rng.uniform(-1, 1, (d_out, H)) * (rng.random((d_out, H)) < 0.4)
        mats += [A, B]
        maps.append(pair_effective_map(A, B, i == 0))
    got = {m: certify(tgt, maps, mats, method=m).error_bound.hex() for m in ("auto", "layerwise")}
    assert got == PINNED


PINNED = {"auto": "0x1.639422faf3225p-1", "layerwise": "0x1.25254c0e14e55p+1"}   # from d1a486a's code


def test_bias_free_ball_of_radius_r_is_r_times_the_unit_ball():
    layers, tgt, mats, maps = _fixed_case()
    for method in ("auto", "layerwise"):
        one = certify(tgt, maps, mats, method=method)
        for r in (2.0, 0.25, 3.7):
            big = certify(tgt, maps, mats, method=method, domain=Ball(r))
            assert r * one.error_bound <= big.error_bound <= r * one.error_bound * (1 + 1e-14)
            assert big.float_slack >= r * one.float_slack
            assert big.domain == {"kind": "ball", "radius": r} and big.method == one.method
        box = certify(tgt, maps, mats, method=method, domain=Box(-1, 1))
        R = Box(-1, 1).radius_for(3)
        assert R * one.error_bound <= box.error_bound <= R * one.error_bound * (1 + 1e-14)
    lb = attack_lower_bound(target_fn(layers), ticket_fn(mats, [None] * 4), Ball(2.0), 3)
    assert certify(tgt, maps, mats, domain=Ball(2.0)).error_bound >= lb


# ----------------------------------------------------------------------------- float slack with biases
def test_float_slack_affine_reduces_to_the_bias_free_slack():
    rng = np.random.default_rng(9)
    mats = [rng.uniform(-1, 1, (30, 10)), rng.uniform(-1, 1, (4, 30))]
    assert float_slack_affine(mats) == pytest.approx(float_slack(mats), rel=1e-6)
    assert float_slack_affine(mats, None, 3.0) == pytest.approx(3 * float_slack(mats), rel=1e-6)
    with_b = float_slack_affine(mats, [rng.uniform(-1, 1, 30), None], 1.0)
    assert float_slack_affine(mats) < with_b < 1e-10


def test_pair_float_slack_with_biases_covers_measured_rounding():
    """The pair slack with bias units bounds |fl(net) − exact net| (exact: the same net in
    longdouble-free exact rational arithmetic is out of reach; float64 against a float128-free
    reference: we compare against an evaluation with Python fractions on a few points)."""
    from fractions import Fraction

    rng = np.random.default_rng(13)
    tgt = sltheory.as_target(make_target(rng, [2, 3, 2]))
    mats, biases = make_pairs(rng, tgt, far=True, bias_units=3)
    maps = maps_of(mats, biases)
    gs = [np.linalg.norm(np.hstack([maps[0].P, maps[0].N]), 2), np.linalg.norm(maps[1].P, 2)]
    slack = pair_float_slack(mats, gs, biases=biases, radius=2.0)
    assert slack is not None and 0 < slack < 1e-12
    assert pair_float_slack(mats, gs) is not None
    g = ticket_fn(mats, biases)
    worst = 0.0
    for x in rng.uniform(-1.4, 1.4, (5, 2)):
        h = [Fraction(float(v)) for v in x]
        for t, (M, c) in enumerate(zip(mats, biases)):
            h = [sum((Fraction(float(M[o, k])) * h[k] for k in range(M.shape[1])), Fraction(0))
                 + (Fraction(float(c[o])) if c is not None else 0) for o in range(M.shape[0])]
            if t < len(mats) - 1:
                h = [max(v, Fraction(0)) for v in h]
        fl = g(torch.as_tensor(x[None])).numpy()[0]
        worst = max(worst, math.sqrt(sum(float(Fraction(float(a)) - e) ** 2 for a, e in zip(fl, h))))
    assert worst <= slack
