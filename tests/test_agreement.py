"""Certified prediction agreement (issue 14, point 4): where the target's top-2 margin exceeds
2·error_bound (or √2·error_bound), the ticket predicts the same class; the fractions, accuracies and
checks of :func:`sltheory.certified_agreement`."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import sltheory
from sltheory import Ball, Box, DomainError, InvalidArgumentError, TargetError
from sltheory.agreement import CRITERIA


@pytest.fixture(scope="module")
def small():
    target = sltheory.gaussian_target((5, 8, 4), 0)
    ticket = sltheory.approximate(target, sltheory.random_network(target, eps=0.1, seed=0), eps=0.1)
    X = Ball().sample(2000, 5, torch.Generator().manual_seed(0))
    return target, ticket, X


def test_certified_rows_agree_and_the_fractions_are_consistent(small):
    target, ticket, X = small
    a = sltheory.certified_agreement(target, ticket, X)
    assert a.n == 2000 and a.error_bound == ticket.error_bound and a.criterion == "2bound"
    assert a.threshold == 2 * ticket.error_bound
    assert a.contradictions == 0
    assert 0 < a.certified_2bound <= a.certified_sqrt2bound <= a.agreement <= 1
    assert a.certified == a.certified_2bound == a.certified_rows.mean()
    assert a.target_accuracy is None and a.ticket_accuracy is None
    f = sltheory.as_target(target)(X)
    with torch.no_grad():
        g = ticket.network(X)
    same = (f.argmax(1) == g.argmax(1)).numpy()
    assert same[a.certified_rows].all()
    top2 = torch.topk(f, 2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).numpy()
    np.testing.assert_array_equal(a.certified_rows, margin * (1 - 2 ** -52) > 2 * ticket.error_bound)
    tight = sltheory.certified_agreement(target, ticket, X, criterion="sqrt2bound")
    assert tight.certified == a.certified_sqrt2bound and tight.threshold > math.sqrt(2) * ticket.error_bound
    assert same[tight.certified_rows].all()


def test_accuracies_with_labels(small):
    target, ticket, X = small
    f = sltheory.as_target(target)(X)
    y = f.argmax(1)
    y[:100] = (y[:100] + 1) % 4           # 100 wrong labels
    a = sltheory.certified_agreement(target, ticket, X, y)
    assert a.target_accuracy == pytest.approx(0.95)
    with torch.no_grad():
        assert a.ticket_accuracy == pytest.approx(float((ticket.network(X).argmax(1) == y).double().mean()))
    assert sltheory.certified_agreement(target, ticket, X.numpy(), y.numpy()) == a   # arrays as well


@given(st.integers(2, 6), st.floats(1e-3, 1.0), st.integers(0, 2 ** 31))
def test_the_criterion_is_sound_and_sqrt2_is_sharp(k, eps, seed):
    """The inequality behind the criterion: ‖e‖₂ ≤ ε and margin > √2·ε keep the argmax; at margin
    slightly below √2·ε, e = ε(e_c − e_t)/√2 (norm ε) flips it, so √2 cannot be lowered."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=k)
    t = int(np.argmax(f))
    c = int(np.argsort(f)[-2])
    margin = f[t] - f[c]
    e = rng.normal(size=k)
    e *= eps / np.linalg.norm(e)
    if margin * (1 - 2 ** -52) > CRITERIA["sqrt2bound"] * eps:
        assert int(np.argmax(f + e)) == t
    f2 = f.copy()
    f2[t] = f2[c] + 0.999 * math.sqrt(2) * eps
    flip = np.zeros(k)
    flip[c], flip[t] = eps / math.sqrt(2), -eps / math.sqrt(2)
    assert int(np.argmax(f2 + flip)) == c


def test_float32_modules_are_evaluated_in_float64(small):
    target, ticket, X = small
    W = [torch.as_tensor(w) for w in target]
    net = nn.Sequential(nn.Linear(5, 8, bias=False), nn.ReLU(), nn.Linear(8, 4, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(W[0])
        net[2].weight.copy_(W[1])
    net = net.float()
    exact = [w.float().double() for w in W]          # the float32 weights, exactly
    ticket32 = sltheory.approximate(exact, sltheory.random_network(exact, eps=0.1, seed=0), eps=0.1)
    X32 = (X * 0.999).float()                        # (rounding X to float32 may leave the ball)
    a = sltheory.certified_agreement(net, ticket32, X32)
    b = sltheory.certified_agreement(exact, ticket32, X32.double())
    assert a == b


def test_box_domain_of_the_ticket_is_used():
    target = sltheory.gaussian_target((3, 6, 3), 1)
    box = Box(0, 1)
    rand = sltheory.random_network(target, eps=0.2, seed=0, domain=box)
    ticket = sltheory.approximate(target, rand, eps=0.2)
    assert ticket.plan.input_domain() == box
    X = box.sample(500, 3, torch.Generator().manual_seed(1))
    assert float(torch.linalg.vector_norm(X, dim=1).max()) > 1       # outside the unit ball, inside the box
    a = sltheory.certified_agreement(target, ticket, X)
    assert a.domain == repr(box) and a.contradictions == 0
    with pytest.raises(DomainError, match="row 0"):
        sltheory.certified_agreement(target, ticket, -X)


def test_a_ticket_without_plan_is_for_the_unit_ball(small):
    target, ticket, X = small
    bare = dataclasses.replace(ticket, plan=None, seed=None)
    assert sltheory.certified_agreement(target, bare, X) == sltheory.certified_agreement(target, ticket, X)
    with pytest.raises(DomainError):
        sltheory.certified_agreement(target, bare, 2 * X)


@pytest.mark.parametrize("call, error", [
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X, criterion="3bound"), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(t, "ticket", X), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X[:, :4]), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X, np.zeros(3, dtype=np.int64)), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X, np.full(2000, 4)), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X, np.zeros(2000)), InvalidArgumentError),
    (lambda t, tk, X: sltheory.certified_agreement(sltheory.gaussian_target((5, 8, 3), 0), tk, X), TargetError),
    (lambda t, tk, X: sltheory.certified_agreement(t, tk, X[:0]), InvalidArgumentError),
])
def test_bad_arguments_are_typed_errors(small, call, error):
    target, ticket, X = small
    with pytest.raises(error) as info:
        call(target, ticket, X)
    assert "\n" not in str(info.value)


def test_single_output_target_is_refused():
    target = sltheory.gaussian_target((3, 4, 1), 0)
    ticket = sltheory.approximate(target, sltheory.random_network(target, eps=0.2, seed=0), eps=0.2)
    with pytest.raises(TargetError, match="2 logits"):
        sltheory.certified_agreement(target, ticket, np.zeros((2, 3)))


@pytest.mark.parametrize("bias", [False, True])
def test_digits_mlp(bias):
    """A digits MLP (trained bias-free, or with biases as torch trains it) approximated at ε = 0.01
    over the data's box: the ticket provably predicts the target's class on most test images."""
    data = sltheory.datasets.load_digits(seed=0)
    net = sltheory.datasets.train_mlp([64, 16, 10], data, seed=0, num_threads=1, bias=bias)
    X = torch.cat([data.x_train, data.x_test])
    box = Box.of(X) if bias else Ball()
    # rescale=True approximates f/S to eps/S: the random network is sized for that accuracy
    S = sltheory.as_target(net, rescale=True).output_scale
    rand = sltheory.random_network(net, eps=0.01 / S, seed=0, domain=box)
    ticket = sltheory.approximate(net, rand, eps=0.01, rescale=True)
    a = sltheory.certified_agreement(net, ticket, data.x_test, data.y_test)
    assert a.contradictions == 0 and a.certified > 0.9 and a.agreement >= a.certified
    assert a.target_accuracy > 0.9 and abs(a.ticket_accuracy - a.target_accuracy) <= 1 - a.certified
