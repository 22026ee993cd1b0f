"""Input domains for constructions that work on the unit ball: the rule is asked for ε/R and the
unit-ball bound scaled by R (a bias-free ReLU network is positively homogeneous); random biases
have their own seed stream."""


import numpy as np
import pytest
import torch

import sltheory
from sltheory.network import Plan, RandomNetwork, sample_bias, sample_layer


def _target(dims=(3, 6, 2), seed=0):
    return sltheory.gaussian_target(list(dims), seed=seed)


def _worst_sampled(target, net, domain, d, n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = domain.sample(n, d, g)
    f = sltheory.as_target(target)
    return float((f(x) - net(x.to(torch.float64))).norm(dim=1).max())


N_OF = {"malach_product": 12, "orseau_halving": 3, "binary": 4}


@pytest.mark.parametrize("construction", sorted(N_OF))
@pytest.mark.parametrize("domain", [sltheory.Ball(3.0), sltheory.Box(-2, 2), sltheory.Box([0, -1, 0], [1, 1, 2])])
def test_unaware_construction_bound_scales_with_the_domain(construction, domain):
    tgt = _target()
    n = N_OF[construction]
    rand = sltheory.random_network(tgt, n=n, seed=1, construction=construction, domain=domain)
    unit_rand = sltheory.random_network(tgt, n=n, seed=1, construction=construction)
    R = domain.radius_for(3)
    assert rand.plan.domain == domain.spec() and rand.plan.options["domain_radius"] == R
    ticket, unit = sltheory.approximate(tgt, rand), sltheory.approximate(tgt, unit_rand)
    assert all(torch.equal(a, b) for a, b in zip(ticket.masks, unit.masks))   # same network, same masks
    assert unit.error_bound * R <= ticket.error_bound <= unit.error_bound * R * (1 + 1e-12)
    assert _worst_sampled(tgt, ticket.network, domain, 3) <= ticket.error_bound


def test_ball_of_radius_r_asks_the_rule_for_eps_over_r():
    tgt = _target()
    a = sltheory.random_network(tgt, eps=0.2, seed=0, construction="malach_product", domain=sltheory.Ball(2.0))
    b = sltheory.random_network(tgt, eps=0.1, seed=0, construction="malach_product")
    assert a.plan.layer_shapes == b.plan.layer_shapes and a.plan.eps == b.plan.eps


def test_domain_must_match_the_plan_and_the_target():
    tgt = _target()
    rand = sltheory.random_network(tgt, eps=0.3, seed=0, construction="malach_product", domain=sltheory.Box(0, 1))
    with pytest.raises(sltheory.DomainError, match="sampled for the domain"):
        sltheory.approximate(tgt, rand, 0.3, domain=sltheory.Ball())
    sltheory.approximate(tgt, rand, 0.3, domain=sltheory.Box(0, 1))      # the same domain is fine
    with pytest.raises(sltheory.DomainError, match="coordinates"):
        sltheory.random_network(tgt, eps=0.3, seed=0, domain=sltheory.Box([0, 0], [1, 1]))
    with pytest.raises(sltheory.DomainError):
        sltheory.random_network(tgt, eps=0.3, seed=0, domain="box")


def test_random_biases_have_their_own_stream_and_law():
    b = sample_bias(7, 2, 1000, ("interval", 0.0, 2.0))
    assert b.dtype == torch.float64 and float(b.min()) >= 0 and float(b.max()) < 2
    assert torch.equal(b, sample_bias(7, 2, 1000, ("interval", 0.0, 2.0)))
    # the weights' stream of the same layer is untouched by (and independent of) the bias stream
    w = sample_layer(7, 2, (1000,))
    assert not np.allclose(w.numpy(), b.numpy() - 1.0)
    plan = Plan("subset_sum", ((2, 3),), ((4, 3), (2, 4)), ((0, 1),), (2,), (True,), 0.1, 0.05, 1.0,
                layer_biases=(("interval", 0.0, 1.0), None))
    net = RandomNetwork(plan, seed=3)
    lins = net.linears()
    assert lins[1].bias is None and torch.equal(lins[0].bias, sample_bias(3, 0, 4, ("interval", 0.0, 1.0)))
    assert torch.equal(lins[0].weight, sample_layer(3, 0, (4, 3)))       # weights as without a bias
    with pytest.raises(sltheory.RandomNetworkError):
        sample_bias(0, 0, 3, ("interval", 1.0, 0.0))
