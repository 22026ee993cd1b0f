"""certify_networks: the certified distance of two arbitrary ReLU MLPs, against independent references.

The references are computed here, not by the module under test: both networks evaluated by numpy
(and by torch ``nn.Sequential`` in float64) on dense grids of 1-D and 2-D domains, on a box's corners
and random points, and by :func:`sltheory.adversarial_error` (projected gradient ascent). A sound
certificate is ≥ every one of them; where the maximum is known in closed form (two affine maps) the
bound must equal it, and on 1-D/2-D inputs input splitting must make it tight.

Box bounds are dyadic (multiples of 1/64) so that ``Box.sample``'s corners lo + (hi − lo) are exact.
"""

import dataclasses
import itertools
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import sltheory
from sltheory.certificate.bound import float_slack_affine
from sltheory.certificate.networks import NetworksCertificate, certify_networks
from sltheory.domains import Ball, Box
from sltheory.errors import CertificateError, DomainError, InvalidArgumentError

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- references
def layers(rng, dims, *, bias=True, scale=1.0):
    """Random (W, b) layers for widths ``dims`` (W ~ N(0, scale²/fan_in))."""
    return [(rng.standard_normal((o, i)) * scale / math.sqrt(i), rng.standard_normal(o) * 0.3 if bias else None)
            for i, o in zip(dims[:-1], dims[1:])]


def run(net, X):
    """The network on the rows of X, numpy float64 (ReLU after every layer but the last)."""
    h = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(net):
        h = h @ W.T + (0.0 if b is None else b)
        if i < len(net) - 1:
            h = np.maximum(h, 0.0)
    return h


def module(net):
    """The network as a float64 torch nn.Sequential."""
    mods = []
    for i, (W, b) in enumerate(net):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(net) - 1:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def errors(f, g, X):
    """‖f(x) − g(x)‖₂ per row, numpy and torch evaluations (the larger of the two)."""
    X = np.asarray(X, dtype=np.float64)
    a = np.linalg.norm(run(f, X) - run(g, X), axis=1)
    with torch.no_grad():
        Xt = torch.from_numpy(X)
        b = torch.linalg.vector_norm(module(f)(Xt) - module(g)(Xt), dim=1).numpy()
    return np.maximum(a, b)


def grid(domain, d, n=None):
    """A dense grid of the domain (d = 1 or 2): 4001 points in 1-D, 301² (plus the circle) in 2-D."""
    if isinstance(domain, Ball):
        r = domain.radius
        lo, hi = np.full(d, -r), np.full(d, r)
    else:
        lo, hi = (np.array(v) for v in domain._bounds(d))
    if d == 1:
        return np.linspace(lo[0], hi[0], n or 4001)[:, None]
    t = [np.linspace(lo[j], hi[j], n or 301) for j in range(2)]
    X = np.array(np.meshgrid(*t)).reshape(2, -1).T
    if isinstance(domain, Ball):
        X = X[np.linalg.norm(X, axis=1) <= domain.radius]
        th = np.linspace(0.0, 2 * np.pi, 2001)
        X = np.concatenate([X, domain.radius * (1 - 1e-12) * np.c_[np.cos(th), np.sin(th)]])
    return X


def grid_max(f, g, domain, d):
    return float(errors(f, g, grid(domain, d)).max())


def adversarial(f, g, d, domain, **kw):
    return sltheory.adversarial_error(module(f), module(g), d, domain=domain, **kw)[0]


def dyadic(v):
    return np.round(np.asarray(v, dtype=np.float64) * 64) / 64


# ----------------------------------------------------------------------------- soundness
LOW_DIM_CASES = [
    # (seed, target widths, ticket widths, domain)
    (0, (1, 8, 1), (1, 30, 1), Box(-1, 1)),
    (1, (1, 8, 8, 2), (1, 20, 20, 20, 2), Ball(1.5)),
    (2, (1, 6, 1), (1, 12, 12, 1), Box(0.25, 2)),
    (3, (2, 8, 8, 1), (2, 40, 40, 1), Box(-1, 1)),
    (4, (2, 8, 3), (2, 30, 30, 3), Ball(1.0)),
    (5, (2, 10, 10, 10, 2), (2, 16, 2), Box([-0.5, 0.25], [1.0, 1.5])),
    (6, (2, 4), (2, 12, 12, 4), Ball(0.5)),
]


@pytest.mark.parametrize("seed, df, dg, domain", LOW_DIM_CASES)
def test_sound_against_dense_grid_and_search(seed, df, dg, domain):
    rng = np.random.default_rng(seed)
    f = layers(rng, df, bias=seed % 3 != 2)
    g = layers(rng, dg, bias=seed % 2 == 0)
    cert = certify_networks(f, g, domain, time_budget=0.5)
    d = df[0]
    assert cert.error_bound >= grid_max(f, g, domain, d)
    assert cert.error_bound >= adversarial(f, g, d, domain)
    assert cert.error_bound >= cert.sampled_error
    # without splitting: larger (or equal), and still sound
    root = certify_networks(f, g, domain, max_splits=1)
    assert root.splits == 1
    assert root.error_bound >= cert.error_bound * (1 - 1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_sound_against_search_in_higher_dimension(seed):
    rng = np.random.default_rng(100 + seed)
    d = int(rng.integers(3, 9))
    k = int(rng.integers(1, 5))
    df = [d] + list(rng.integers(3, 16, size=int(rng.integers(1, 4)))) + [k]
    dg = [d] + list(rng.integers(8, 40, size=int(rng.integers(1, 4)))) + [k]
    f = layers(rng, df, bias=bool(seed % 2))
    if seed % 3 == 0:       # a ticket close to its target, same architecture
        g = [(W + 0.05 * rng.standard_normal(W.shape), b) for W, b in f]
    else:
        g = layers(rng, dg, bias=True)
    c = rng.uniform(-1, 1, d)
    w = rng.uniform(0.2, 1, d)
    domain = Ball(0.75 + 0.25 * seed) if seed % 2 else Box(dyadic(c - w), dyadic(c + w))
    cert = certify_networks(f, g, domain, time_budget=0.3)
    assert cert.error_bound >= adversarial(f, g, d, domain)
    corners = None
    if isinstance(domain, Box):
        lo, hi = domain._bounds(d)
        corners = np.array(list(itertools.product(*zip(lo, hi))))
        assert cert.error_bound >= errors(f, g, corners).max()
    assert cert.error_bound >= errors(f, g, domain.sample(2000, d, torch.Generator().manual_seed(seed)).numpy()).max()


def test_large_weights_and_offsets_stay_sound():
    rng = np.random.default_rng(7)
    f = layers(rng, (2, 12, 12, 3), scale=300.0)
    g = [(W * (1 + 1e-3), None if b is None else b * 50) for W, b in layers(rng, (2, 20, 3), scale=300.0)]
    for domain in (Box(-1, 3), Ball(2.0)):
        cert = certify_networks(f, g, domain, time_budget=0.3)
        assert cert.error_bound >= grid_max(f, g, domain, 2)


def test_bound_includes_both_float_slacks():
    rng = np.random.default_rng(8)
    f = layers(rng, (3, 10, 10, 2))
    g = layers(rng, (3, 25, 2), bias=False)
    domain = Box(-0.5, 1)
    cert = certify_networks(f, g, domain, max_splits=1)
    radius = domain.radius_for(3)
    slack = (float_slack_affine([W for W, _ in f], [b for _, b in f], radius)
             + float_slack_affine([W for W, _ in g], [b for _, b in g], radius))
    assert cert.float_slack >= slack
    assert cert.error_bound >= cert.relaxation_bound + slack
    assert cert.error_bound <= (cert.relaxation_bound + slack) * (1 + 1e-12)


@PROPERTY
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(1, 3), k=st.integers(1, 3),
       depth_f=st.integers(1, 3), depth_g=st.integers(1, 3), ball=st.booleans(), splits=st.sampled_from([1, 8, 64]))
def test_property_sound_on_tiny_networks(seed, d, k, depth_f, depth_g, ball, splits):
    rng = np.random.default_rng(seed)
    f = layers(rng, [d] + list(rng.integers(1, 7, size=depth_f - 1)) + [k], bias=bool(rng.integers(0, 2)),
               scale=float(rng.uniform(0.3, 3)))
    g = layers(rng, [d] + list(rng.integers(1, 7, size=depth_g - 1)) + [k], bias=bool(rng.integers(0, 2)),
               scale=float(rng.uniform(0.3, 3)))
    if ball:
        domain = Ball(float(rng.uniform(0.1, 3)))
    else:
        lo = rng.uniform(-2, 1, d)
        domain = Box(lo, lo + rng.uniform(0, 2, d))
    cert = certify_networks(f, g, domain, time_budget=0.2, max_splits=splits)
    X = domain.sample(3000, d, torch.Generator().manual_seed(seed % 1000)).numpy()
    if d <= 2:
        X = np.concatenate([X, grid(domain, d, n=201 if d == 1 else 61)])
    if not ball:
        lo, hi = domain._bounds(d)
        X = np.concatenate([X, np.array(list(itertools.product(*zip(lo, hi))))])
    assert cert.error_bound >= errors(f, g, X).max()
    assert cert.error_bound >= cert.relaxation_bound >= 0.0
    lower = np.array([lo for lo, _ in cert.output_bounds])
    upper = np.array([hi for _, hi in cert.output_bounds])
    D = run(f, X) - run(g, X)
    assert np.all(D >= lower - cert.float_slack) and np.all(D <= upper + cert.float_slack)


# ----------------------------------------------------------------------------- exactness
def test_identical_networks_leave_only_the_float_slack():
    rng = np.random.default_rng(9)
    f = layers(rng, (5, 30, 30, 3))
    g = [(W.copy(), None if b is None else b.copy()) for W, b in f]
    for domain in (Ball(2.0), Box(-1, 1)):
        cert = certify_networks(f, g, domain)
        assert cert.relaxation_bound == 0.0
        assert cert.error_bound <= cert.float_slack * (1 + 1e-12) + 1e-300
        assert cert.error_bound < 1e-10


def test_shared_first_layers_cancel():
    """A ticket that keeps the target's first layer and changes only the head: the part both share
    cancels before its ReLUs are relaxed, so the bound equals the exact max of the affine heads'
    difference when the shared layer feeds them directly (here checked against a dense grid)."""
    rng = np.random.default_rng(10)
    f = layers(rng, (1, 20, 2))
    g = [f[0], (f[1][0] + 0.01 * rng.standard_normal(f[1][0].shape), f[1][1])]
    domain = Box(-1, 1)
    cert = certify_networks(f, g, domain, time_budget=5.0)
    exact = grid_max(f, g, domain, 1)
    assert exact <= cert.error_bound <= exact * 1.01


@pytest.mark.parametrize("seed", range(4))
def test_one_dimensional_inputs_become_tight(seed):
    rng = np.random.default_rng(20 + seed)
    f = layers(rng, (1, 8, 8, 1 + seed % 2))
    g = layers(rng, (1, 40, 40, 1 + seed % 2))
    domain = Box(-1, 1) if seed % 2 else Ball(1.0)
    cert = certify_networks(f, g, domain, time_budget=10.0)
    exact = grid_max(f, g, domain, 1)
    assert exact <= cert.error_bound <= 1.05 * exact


def test_two_dimensional_small_vs_wide_becomes_tight():
    rng = np.random.default_rng(30)
    f = layers(rng, (2, 16, 16, 1))
    g = layers(rng, (2, 200, 200, 1))
    domain = Box(-1, 1)
    cert = certify_networks(f, g, domain, time_budget=10.0)
    exact = grid_max(f, g, domain, 2)
    assert exact <= cert.error_bound <= 1.05 * exact
    assert cert.splits > 1


@pytest.mark.parametrize("seed", range(2))
def test_deep_narrow_networks_in_two_dimensions_become_tight(seed):
    """Depth 5–8 (the intermediate bounds then need back-substitution, not only forward intervals)."""
    rng = np.random.default_rng(1013 + 10 * seed)
    f = layers(rng, (2, 24, 16, 6, 2), scale=1.4)
    g = layers(rng, (2, 43, 56, 32, 42, 45, 43, 21, 2), scale=1.4, bias=bool(seed))
    domain = Ball(1.5) if seed == 0 else Box(-1, 0.5)
    cert = certify_networks(f, g, domain, time_budget=10.0)
    exact = grid_max(f, g, domain, 2)
    assert exact <= cert.error_bound <= 1.05 * exact


@pytest.mark.parametrize("d, k", [(1, 1), (3, 4), (6, 1), (8, 10)])
def test_affine_maps_on_a_box_are_exact(d, k):
    """Two single layers: f − g = (W − V) x + (b − c) is affine, ‖·‖₂ is convex, so its max over the
    box is at a corner: the bound must equal the corners' max (to rounding)."""
    rng = np.random.default_rng(40 + d)
    W, V = rng.standard_normal((k, d)), rng.standard_normal((k, d))
    b, c = rng.standard_normal(k), rng.standard_normal(k)
    lo, hi = -rng.uniform(0, 1, d), rng.uniform(0, 2, d)
    cert = certify_networks([(W, b)], [(V, c)], Box(lo, hi), max_splits=1)
    corners = np.array(list(itertools.product(*zip(lo, hi))))
    exact = np.linalg.norm(corners @ (W - V).T + (b - c), axis=1).max()
    assert exact <= cert.error_bound <= exact * (1 + 1e-9)


def trust_region_max(M, c, r):
    """max_{‖x‖₂ ≤ r} ‖M x + c‖₂ (c ≠ 0, generic): x = (λI − MᵀM)⁻¹ Mᵀc with λ > λ_max(MᵀM) and ‖x‖ = r."""
    H, q = M.T @ M, M.T @ c
    top = np.linalg.eigvalsh(H)[-1]
    eye = np.eye(M.shape[1])
    lam = brentq(lambda t: np.linalg.norm(np.linalg.solve(t * eye - H, q)) - r, top * (1 + 1e-12) + 1e-12, top + 1e6)
    return float(np.linalg.norm(M @ np.linalg.solve(lam * eye - H, q) + c))


@pytest.mark.parametrize("d, k", [(1, 1), (4, 3), (20, 10), (64, 10)])
def test_affine_maps_on_a_ball_are_exact(d, k):
    """Single layers on Ball(r): bias-free, sup ‖(W − V) x‖₂ = r ‖W − V‖₂ (the operator norm); with
    biases, the trust-region maximum of ‖(W − V) x + (b − c)‖₂ (secular equation)."""
    rng = np.random.default_rng(50 + d)
    W, V = rng.standard_normal((k, d)), rng.standard_normal((k, d))
    cert = certify_networks([(W, None)], [(V, None)], Ball(0.7), max_splits=1)
    exact = 0.7 * np.linalg.svd(W - V, compute_uv=False)[0]
    assert exact <= cert.error_bound <= exact * (1 + 1e-9)
    b, c = rng.standard_normal(k), rng.standard_normal(k)
    cert = certify_networks([(W, b)], [(V, c)], Ball(0.7), max_splits=1)
    exact = trust_region_max(W - V, b - c, 0.7)
    assert exact <= cert.error_bound <= exact * (1 + 1e-9)


def test_splitting_never_loosens_the_bound():
    rng = np.random.default_rng(60)
    f = layers(rng, (2, 10, 10, 2))
    g = layers(rng, (2, 30, 30, 2))
    bounds = [certify_networks(f, g, Ball(1.0), max_splits=n, time_budget=5.0).error_bound for n in (1, 4, 32, 256)]
    assert all(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:]))
    assert bounds[-1] < bounds[0]


# ----------------------------------------------------------------------------- interface
def test_certificate_fields_and_sparse_layers():
    rng = np.random.default_rng(70)
    f = layers(rng, (3, 12, 2))
    g = layers(rng, (3, 20, 20, 2))
    g_sparse = [(sp.csr_matrix(W * (rng.random(W.shape) < 0.5)), b) for W, b in g]
    g_dense = [(W.toarray(), b) for W, b in g_sparse]
    domain = Box(-1, 1)
    cert = certify_networks(f, g_sparse, domain, max_splits=16)
    assert isinstance(cert, NetworksCertificate)
    assert cert == dataclasses.replace(certify_networks(f, g_dense, domain, max_splits=16), seconds=cert.seconds)
    assert cert.method == "symbolic" and cert.precision == "float64"
    assert cert.domain == domain.spec()
    assert 1 <= cert.splits <= 16
    assert cert.stopped in ("tight", "max_splits", "time_budget", "unsplittable")
    assert len(cert.output_bounds) == 2
    assert cert.seconds >= 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.error_bound = 0.0


def test_degenerate_domains_inputs_and_overflow():
    rng = np.random.default_rng(75)
    f = layers(rng, (3, 8, 8, 2))
    g = layers(rng, (3, 20, 2))
    # a box flat in two coordinates: a segment
    cert = certify_networks(f, g, Box([0, -1, 0.5], [0, 1, 0.5]))
    X = np.c_[np.zeros(4001), np.linspace(-1, 1, 4001), np.full(4001, 0.5)]
    exact = errors(f, g, X).max()
    assert exact <= cert.error_bound <= exact * 1.05
    # a single point
    point = certify_networks(f, g, Box(0.25, 0.25))
    at = errors(f, g, np.full((1, 3), 0.25)).max()
    assert at <= point.error_bound <= at * (1 + 1e-9)
    # domain None is the unit ball; torch tensors are read as float64 arrays
    assert certify_networks(f, g, None, max_splits=1).domain == Ball().spec()
    ft = [(torch.from_numpy(W), None if b is None else torch.from_numpy(b)) for W, b in f]
    from_torch = certify_networks(ft, g, Ball(1.0), max_splits=1)
    assert from_torch.error_bound == certify_networks(f, g, Ball(1.0), max_splits=1).error_bound
    # no time: the first bound only
    quick = certify_networks(f, g, Ball(1.0), time_budget=0)
    assert quick.splits == 1 and quick.stopped in ("time_budget", "tight")
    # overflowing weights: a vacuous but sound bound, no warning, no nan
    big = [(np.full((4, 3), 1e300), None), (np.full((1, 4), 1e300), None)]
    assert certify_networks(big, [(np.zeros((1, 3)), None)], Box(-1, 1)).error_bound == math.inf
    # two zero networks
    zeros = [(np.zeros((4, 3)), None), (np.zeros((2, 4)), None)]
    zero = certify_networks(zeros, [(np.zeros((2, 3)), None)], Box(-1, 1))
    assert zero.error_bound < 1e-100 and zero.splits == 1


def test_time_budget_is_respected():
    rng = np.random.default_rng(80)
    f = layers(rng, (6, 64, 64, 4))
    g = layers(rng, (6, 256, 256, 256, 4))
    domain = Box(-1, 1)
    t0 = time.perf_counter()
    cert = certify_networks(f, g, domain, time_budget=0.2)
    assert time.perf_counter() - t0 < 2.0
    assert cert.stopped in ("time_budget", "tight", "max_splits")
    assert cert.error_bound >= adversarial(f, g, 6, domain, starts=256, steps=30)


def test_wide_high_dimensional_networks_run_fast_and_sound():
    rng = np.random.default_rng(90)
    f = layers(rng, (64, 300, 10))
    g = [(np.vstack([f[0][0], 0.05 * rng.standard_normal((700, 64))]), np.concatenate([f[0][1], np.zeros(700)])),
         (np.eye(1000) + 0.01 * rng.standard_normal((1000, 1000)) / 30, None),
         (np.hstack([f[1][0], 0.01 * rng.standard_normal((10, 700))]), f[1][1])]
    domain = Ball(1.0)
    t0 = time.perf_counter()
    cert = certify_networks(f, g, domain, time_budget=1.0)
    assert time.perf_counter() - t0 < 10.0
    assert math.isfinite(cert.error_bound)
    assert cert.error_bound >= adversarial(f, g, 64, domain, starts=256, steps=30)


BAD = [
    ([], "non-empty"),
    ([(np.ones((3, 2)), None), (np.ones((1, 4)), None)], "takes 4 inputs"),
    ([(np.array([[np.nan, 1.0]]), None)], "non-finite"),
    ([(np.ones((1, 2)), np.array([np.inf]))], "non-finite"),
    ([(np.ones((1, 2)), np.ones(3))], "shape"),
    ([(np.ones(2), None)], "2-D"),
    ([np.ones((1, 2))], "pair"),
]


@pytest.mark.parametrize("bad, match", BAD)
def test_malformed_networks_are_refused(bad, match):
    good = [(np.ones((1, 2)), None)]
    with pytest.raises(CertificateError, match=match):
        certify_networks(bad, good, Box(-1, 1))
    with pytest.raises(CertificateError, match=match):
        certify_networks(good, bad, Box(-1, 1))


def test_mismatched_dimensions_and_arguments_are_refused():
    f = [(np.ones((3, 2)), None), (np.ones((1, 3)), None)]
    with pytest.raises(CertificateError, match="inputs"):
        certify_networks(f, [(np.ones((1, 5)), None)], Box(-1, 1))
    with pytest.raises(CertificateError, match="outputs"):
        certify_networks(f, [(np.ones((2, 2)), None)], Box(-1, 1))
    with pytest.raises(DomainError):
        certify_networks(f, f, Box([0, 0, 0], [1, 1, 1]))
    with pytest.raises(DomainError):
        certify_networks(f, f, "unit ball")
    with pytest.raises(InvalidArgumentError):
        certify_networks(f, f, Box(-1, 1), time_budget=-1.0)
    with pytest.raises(InvalidArgumentError):
        certify_networks(f, f, Box(-1, 1), time_budget=math.nan)
    with pytest.raises(InvalidArgumentError):
        certify_networks(f, f, Box(-1, 1), max_splits=0)
