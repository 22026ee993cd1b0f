"""Input domains (issue 14, points 2 and 5): the domain classes keep their points inside, bad domains
and data outside a domain are typed errors with one-line messages before any work, and the
adversarial search and the strong lower bound stay inside the domain they are given."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import sltheory
from sltheory import Ball, Box, DomainError, TargetError
from sltheory.testing.lower_bound import lower_bound

GEN = torch.Generator().manual_seed(0)


def _one_line(exc: BaseException) -> None:
    assert str(exc) and "\n" not in str(exc)


def _net(d, h, o, seed, bias=True):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, h, bias=bias), nn.ReLU(), nn.Linear(h, o, bias=bias)).double()


# ----------------------------------------------------------------------------- bad input (point 5)
@pytest.mark.parametrize("make", [
    lambda: Box(1.0, 0.0),                                # lo > hi
    lambda: Box([0, 0, 1], [1, 1, 0.5]),                  # lo > hi at one coordinate
    lambda: Box(0, math.inf), lambda: Box(-math.nan, 1),  # non-finite bounds
    lambda: Box([0, np.inf], [1, 2]),
    lambda: Box([0, 0], [1, 1, 1]),                       # mismatched lengths
    lambda: Ball(0.0), lambda: Ball(-1.0), lambda: Ball(math.inf), lambda: Ball(math.nan),   # r ≤ 0, non-finite
    lambda: Ball(True), lambda: Box.of(np.zeros((0, 3))),
])
def test_bad_domains_are_typed_errors(make):
    with pytest.raises(DomainError) as info:
        make()
    _one_line(info.value)


def test_domain_dimension_must_match_the_target():
    target = sltheory.gaussian_target((3, 4, 2), 0)
    for dom in (Box(np.zeros(4), np.ones(4)), Box(np.zeros(2), np.ones(2))):
        with pytest.raises(DomainError) as info:
            sltheory.random_network(target, eps=0.1, seed=0, domain=dom)
        _one_line(info.value)
        with pytest.raises(DomainError):
            sltheory.adversarial_error(_net(3, 4, 2, 0), _net(3, 4, 2, 1), 3, domain=dom)
        with pytest.raises(DomainError):
            lower_bound(_net(3, 4, 2, 0), _net(3, 4, 2, 1), 3, domain=dom)
    with pytest.raises(DomainError):
        sltheory.random_network(target, eps=0.1, seed=0, domain="box")


@pytest.mark.parametrize("bias", [np.zeros(3), np.zeros((4, 1)), np.zeros(5)])
def test_bias_of_the_wrong_shape_is_a_target_error(bias):
    W1, W2 = np.eye(4, 3) * 0.5, np.eye(2, 4) * 0.5
    with pytest.raises(TargetError) as info:
        sltheory.as_target([(W1, bias), W2])
    _one_line(info.value)
    with pytest.raises(TargetError):
        sltheory.random_network([(W1, bias), W2], eps=0.1, seed=0)


def test_bias_of_the_wrong_shape_in_certified_agreement_is_refused_before_work():
    target = sltheory.gaussian_target((3, 4, 2), 0)
    ticket = sltheory.approximate(target, sltheory.random_network(target, eps=0.1, seed=0), eps=0.1)
    bad = [(np.asarray(target[0]), np.zeros(3)), np.asarray(target[1])]
    with pytest.raises(TargetError) as info:
        sltheory.certified_agreement(bad, ticket, np.zeros((2, 3)))
    _one_line(info.value)


def test_data_outside_the_domain_is_refused_by_certified_agreement():
    target = sltheory.gaussian_target((3, 4, 2), 0)
    ticket = sltheory.approximate(target, sltheory.random_network(target, eps=0.1, seed=0), eps=0.1)
    X = np.array([[0.1, 0.2, 0.3], [1.0, 1.0, 0.0]])          # row 1 has norm √2 > 1 (the unit ball)
    with pytest.raises(DomainError) as info:
        sltheory.certified_agreement(target, ticket, X)
    _one_line(info.value)
    assert "row 1" in str(info.value)
    for bad in (np.array([[np.nan, 0, 0]]), np.zeros(3), np.zeros((2, 3, 1))):
        with pytest.raises(sltheory.InvalidArgumentError):
            sltheory.certified_agreement(target, ticket, bad)


# ----------------------------------------------------------------------------- the classes
@given(st.integers(1, 6), st.floats(0.01, 10), st.integers(0, 2 ** 31))
def test_ball_sample_and_project_stay_inside(d, r, seed):
    ball = Ball(r)
    X = ball.sample(64, d, torch.Generator().manual_seed(seed))
    assert X.shape == (64, d) and ball.contains(X).all()
    assert float(torch.linalg.vector_norm(X, dim=1).max()) <= ball.radius_for(d) * (1 + 1e-12)
    Y = torch.randn(64, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) * 5 * r
    P = ball.project(Y)
    assert ball.contains(P).all()
    inside = torch.from_numpy(ball.contains(Y))
    assert torch.equal(P[inside], Y[inside])          # points inside do not move


_coord = st.one_of(st.just(0.0), st.floats(1e-100, 5), st.floats(-5, -1e-100))


@given(st.lists(st.tuples(_coord, st.one_of(st.just(0.0), st.floats(1e-100, 5))), min_size=1, max_size=6),
       st.integers(0, 2 ** 31))
def test_box_sample_project_and_radius(bounds, seed):
    lo = np.array([a for a, _ in bounds])
    hi = lo + np.array([w for _, w in bounds])
    box = Box(lo, hi)
    d = lo.size
    X = box.sample(128, d, torch.Generator().manual_seed(seed))
    assert box.contains(X).all()
    assert float(torch.linalg.vector_norm(X, dim=1).max()) <= box.radius_for(d)   # an upper bound
    Y = torch.randn(64, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) * 10
    P = box.project(Y)
    assert box.contains(P).all()
    # the projection is the nearest point: no sampled point of the box is closer to Y
    dist = torch.linalg.vector_norm(P - Y, dim=1)
    assert bool((torch.cdist(Y, X).min(dim=1).values >= dist - 1e-12).all())


def test_box_radius_does_not_underflow():
    assert Box(0.0, 8e-240).radius_for(1) >= 8e-240


def test_box_of_contains_its_data_and_is_tight():
    X = np.random.default_rng(0).normal(size=(200, 5))
    box = Box.of(X)
    assert box.contains(X).all()
    np.testing.assert_array_equal(box.lo, X.min(axis=0))
    np.testing.assert_array_equal(box.hi, X.max(axis=0))
    box.check_contains(X)
    with pytest.raises(DomainError):
        box.check_contains(X + 10)
    assert Box.of(np.abs(X)).nonnegative and not box.nonnegative


def test_scalar_box_in_any_dimension():
    box = Box(0, 1)
    assert box.dim is None and box.nonnegative
    assert box.radius_for(4) == pytest.approx(2.0)
    X = box.sample(100, 7, GEN)
    assert X.shape == (100, 7) and box.contains(X).all()


# ----------------------------------------------------------------------------- searches stay inside
@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("dom", [Box(0, 1), Box(-0.5, 2.0), Ball(1.5)])
def test_searches_stay_inside_and_match_dense_sampling(d, dom):
    f, g = _net(d, 8, 2, 0), _net(d, 8, 2, 1)
    value, x = lower_bound(f, g, d, domain=dom, starts=512, keep=32, steps=30)
    adv, xa = sltheory.adversarial_error(f, g, d, domain=dom, starts=256, steps=40)
    assert dom.contains(x[None]).all() and dom.contains(xa[None]).all()
    with torch.no_grad():
        assert value == float(torch.linalg.vector_norm(f(x[None]) - g(x[None])))
        X = dom.sample(20000, d, torch.Generator().manual_seed(5))
        sampled = float(torch.linalg.vector_norm(f(X) - g(X), dim=1).max())
    assert value >= sampled * (1 - 1e-9) and adv >= sampled * (1 - 1e-3)


def test_lower_bound_is_exact_in_one_dimension_on_a_box():
    f, g = _net(1, 16, 3, 2), _net(1, 16, 3, 3)
    dom = Box(-0.3, 0.7)
    value, _ = lower_bound(f, g, 1, domain=dom)
    t = torch.linspace(-0.3, 0.7, 400001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        dense = float(torch.linalg.vector_norm(f(t) - g(t), dim=1).max())
    assert dense <= value <= dense + 1e-6


def test_default_domain_is_the_sphere_search_bit_for_bit():
    target = sltheory.gaussian_target((3, 6, 2), 0)
    ticket = sltheory.approximate(target, sltheory.random_network(target, eps=0.1, seed=0), eps=0.1)
    f = sltheory.as_target(target).to_module()
    a = sltheory.adversarial_error(f, ticket.network, 3, starts=256, steps=30)
    b = sltheory.adversarial_error(f, ticket.network, 3, starts=256, steps=30, domain=Ball())
    assert a[0] == b[0] and torch.equal(a[1], b[1])
    c = sltheory.adversarial_error(f, ticket.network, 3, starts=256, steps=30, domain=Ball(2.0))
    assert c[0] == pytest.approx(2 * a[0], rel=1e-12)            # positive homogeneity
    lb, _ = lower_bound(f, ticket.network, 3, starts=256, keep=16, steps=20)
    lb1, _ = lower_bound(f, ticket.network, 3, starts=256, keep=16, steps=20, domain=Ball())
    assert lb == lb1 and ticket.error_bound >= lb


def test_box_corners_are_exact():
    """lo + 1·(hi − lo) rounds above hi for some bounds: sampled corners are clamped to lo / hi."""
    lo, hi = -1.6370544387997217, 0.7391228681162545   # fl(lo + fl(hi − lo)) > hi
    assert lo + (hi - lo) > hi
    box = Box([lo, lo], [hi, hi])
    X = box.sample(256, 2, torch.Generator().manual_seed(0))
    assert box.contains(X).all()
    corners = X[128:]
    assert bool(((corners == lo) | (corners == hi)).all())


def test_ball_contains_does_not_overflow():
    assert Ball(1e200).contains(np.array([[1e199, 0.0], [1e200, 1e200]])).tolist() == [True, False]
    assert Ball(1e-200).contains(np.array([[1e-201, 1e-201]])).tolist() == [True]
