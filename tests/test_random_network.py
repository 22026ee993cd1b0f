"""The random network: fixed before pruning, from the seed and the shapes only."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import InvalidArgumentError
from sltheory.constructions.subset_sum import N_REACH, samples_per_block


def test_structure_and_record():
    mats = [np.zeros((5, 3)), np.zeros((2, 5))]
    rand = sltheory.random_network(mats, eps=0.05, delta=0.1, seed=7)
    assert isinstance(rand, nn.Sequential)
    linears = [m for m in rand if isinstance(m, nn.Linear)]
    assert len(linears) == 4  # depth 2l
    assert all(m.bias is None for m in linears)
    kinds = [type(m) for m in rand]
    assert kinds == [nn.Linear, nn.ReLU] * 3 + [nn.Linear]
    assert rand.construction == "subset_sum" and rand.seed == 7
    assert rand.pairs == ((0, 1), (2, 3))
    for lin, shape in zip(linears, rand.plan.layer_shapes):
        assert tuple(lin.weight.shape) == shape
        assert lin.weight.dtype == torch.float64
        assert float(lin.weight.min()) >= -1 and float(lin.weight.max()) < 1
    # the width rule, written once (the same function proofs/ and experiments use)
    for (d_out, d_in), n in zip(rand.plan.target_shapes, rand.n):
        assert n == math.ceil(samples_per_block(d_in, d_out, 2, 0.05, 0.1))
    assert rand.n[0] >= math.log2(1 / 0.05) + N_REACH
    # signed first layer: 2 n d_in hidden units; after a ReLU: n d_in / (1 − 2^-d_in)
    assert rand.plan.layer_shapes[0][0] == 2 * rand.n[0] * 3
    assert rand.plan.layer_shapes[2][0] == math.ceil(rand.n[1] * 5 / (1 - 2**-5))


def test_depends_only_on_seed_and_shapes():
    rng = np.random.default_rng(0)
    a = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    b = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    ra = sltheory.random_network(a, eps=0.1, seed=3)
    rb = sltheory.random_network(b, eps=0.1, seed=3)
    rc = sltheory.random_network(a, eps=0.1, seed=4)
    for la, lb, lc in zip(ra.linears(), rb.linears(), rc.linears()):
        assert torch.equal(la.weight, lb.weight)
        assert not torch.equal(la.weight, lc.weight)


def test_uniform_distribution_moments():
    rand = sltheory.random_network([np.zeros((30, 30))], n=40, seed=0)
    w = torch.cat([lin.weight.flatten() for lin in rand.linears()])
    assert abs(float(w.mean())) < 0.01
    assert float(w.var()) == pytest.approx(1 / 3, rel=0.02)  # Var U[−1,1] = 1/3


def test_width_overrides():
    mats = [np.zeros((3, 2)), np.zeros((1, 3))]
    assert sltheory.random_network(mats, n=5, seed=0).n == (5, 5)
    assert sltheory.random_network(mats, n=[4, 6], seed=0).n == (4, 6)
    base = sltheory.random_network(mats, eps=0.1, seed=0).n
    half = sltheory.random_network(mats, eps=0.1, seed=0, width_factor=0.5).n
    assert half == tuple(math.ceil(0.5 * samples_per_block(d_in, d_out, 2, 0.1, 0.05))
                         for d_out, d_in in ((3, 2), (1, 3)))
    assert half < base
    kept = sltheory.random_network(mats, n=5, seed=0, spare_negative_half=False)
    assert kept.plan.layer_shapes[2][0] == 2 * 5 * 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=0.0, seed=0), "eps"),
    (dict(eps=-1.0, seed=0), "eps"),
    (dict(eps=float("nan"), seed=0), "eps"),
    (dict(eps="0.1", seed=0), "eps"),
    (dict(eps=0.1, delta=1.0, seed=0), "delta"),
    (dict(eps=0.1, delta=0.0, seed=0), "delta"),
    (dict(eps=0.1, seed=-1), "seed"),
    (dict(eps=0.1, seed=1.5), "seed"),
    (dict(seed=0), "eps"),
    (dict(n=0, seed=0), "n"),
    (dict(n=[3], seed=0), "entries"),
    (dict(n=65, seed=0), "exceeds"),
    (dict(n=3, width_factor=2.0, seed=0), "either"),
    (dict(eps=0.1, seed=0, construction="nope"), "unknown construction"),
    (dict(eps=0.1, seed=0, bogus=1), "unknown options"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        sltheory.random_network([np.zeros((2, 2)), np.zeros((1, 2))], **kwargs)


def test_seed_is_required():
    with pytest.raises(TypeError):
        sltheory.random_network([np.zeros((2, 2))], eps=0.1)


def test_constructions_listing_cites_paper():
    listing = sltheory.constructions()
    assert "subset_sum" in listing and "arXiv:2006.07990" in listing["subset_sum"]


@pytest.mark.parametrize("construction", ["malach", "malach_product", "orseau_halving"])
def test_impractical_theorem_width_raises_before_sampling(construction):
    """Malach's polynomial width (and our halving variant of Orseau's, poly-log with its constant) outgrow
    the builder says how many weights the rule asks for instead of exhausting memory."""
    target = [np.zeros((32, 16)), np.zeros((8, 32))]
    with pytest.raises(sltheory.NetworkTooLargeError, match="random weights") as info:
        sltheory.random_network(target, eps=0.01, delta=0.05, seed=0, construction=construction)
    spec = sltheory.construction(construction)
    assert info.value.required_weights >= spec.parameter_bound((16, 32, 8), 0.01, 0.05) > info.value.limit


def test_every_construction_is_registered_with_a_citation():
    listing = sltheory.constructions()
    assert set(listing) >= {"subset_sum", "subset_sum_blockdiag", "malach", "orseau", "burkholz"}
    for name, citation in listing.items():
        assert "arXiv:" in citation
        spec = sltheory.construction(name)
        assert spec.name == name and spec.citation == citation


def test_random_streams_are_pinned():
    """Saved tickets store (plan, seed), not weights: a change to any layer's random stream would
    break every saved file (load_ticket detects it by SHA-256), so the streams are pinned here —
    a dense layer, and the slot and balanced layers of the block-diagonal variant."""
    import hashlib

    from sltheory.network import sample_layer

    def digest(t):
        return hashlib.sha256(t.detach().cpu().numpy().tobytes()).hexdigest()

    assert digest(sample_layer(9, 0, (4, 3))) == "6c5605102ce1763dbe3bdb3541ae75a14c60adb8124d5cd5128e9e33324ef019"
    W = sltheory.gaussian_target((3, 4, 2), 0)
    rand = sltheory.random_network(W, n=4, seed=9, construction="subset_sum_blockdiag", balanced_signs=True)
    assert [digest(lin.weight)[:16] for lin in rand.linears()] == \
        ["dfb7a024974f3a22", "8d12ab533e4aa969", "5d5b214b3dc31f2f", "3803ff378e490779"]


def test_laws_are_transforms_of_the_same_draws():
    """Every law of sample_layer is a fixed transform of one U[-1, 1) stream per (seed, layer)."""
    from sltheory.network import sample_layer
    u = sample_layer(5, 2, (40, 30)).numpy()
    assert np.array_equal(sample_layer(5, 2, (40, 30), ("uniform", 2.5)).numpy(), 2.5 * u)
    assert np.array_equal(sample_layer(5, 2, (40, 30), ("binary",)).numpy(), np.where(u < 0, -1.0, 1.0))
    assert np.array_equal(sample_layer(5, 2, (40, 30), ("binary", 0.5)).numpy(), np.where(u < 0, -0.5, 0.5))
    h = sample_layer(5, 2, (40, 30), ("hyperbolic", 0.01, 4.0)).numpy()
    assert np.array_equal(np.sign(h), np.sign(u)) and 0.01 <= np.abs(h).min() and np.abs(h).max() <= 4.0
    np.testing.assert_allclose(np.log(np.abs(h)), np.log(4.0) + np.abs(u) * np.log(0.01 / 4.0), rtol=1e-12)
    np.testing.assert_array_equal(sample_layer(5, 2, (40, 30), ("hyperbolic", 0.01)).numpy(),
                                  np.sign(u) * 0.01 ** np.abs(u))


@pytest.mark.parametrize("law", [("uniform", 0.0), ("uniform", -1.0), ("uniform", float("inf")), ("uniform", 1, 2),
                                 ("hyperbolic",), ("hyperbolic", 2.0), ("hyperbolic", 0.5, 0.1), ("binary", True),
                                 ("gauss",), (), "uniform", ("uniform", "2")])
def test_unknown_or_bad_laws_are_typed_errors(law):
    from sltheory.network import sample_layer
    with pytest.raises(sltheory.RandomNetworkError, match="distribution"):
        sample_layer(0, 0, (2, 2), law)


def test_per_layer_laws():
    """Plan.layer_distributions: burkholz's first layer U[-2, 2), the rest U[-1, 1)."""
    W = sltheory.gaussian_target((3, 4, 2), 1)
    rand = sltheory.random_network(W, n=4, seed=0, construction="burkholz")
    first, *rest = rand.linears()
    assert 1.0 < float(first.weight.abs().max()) < 2.0 and all(float(lin.weight.abs().max()) < 1.0 for lin in rest)
    old = sltheory.random_network(W, n=4, seed=0, construction="burkholz", first_layer_scale=1.0)
    assert old.plan.layer_distributions == () and torch.equal(old.linears()[0].weight * 2, first.weight)
