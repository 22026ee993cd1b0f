"""Every bad target raises its typed error, naming the layer, before any work."""

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import NormAssumptionError, TargetError


def lin(i, o, bias=False):
    return nn.Linear(i, o, bias=bias)


@pytest.mark.parametrize("target, layer, match", [
    ([(np.zeros((2, 3)), np.zeros(3))], 0, "bias has shape"),
    ([np.zeros((4, 3)), (np.zeros((2, 4)), np.array([np.nan, 0.0]))], 1, "non-finite bias"),
    ([(np.zeros((2, 3)), np.zeros(2), 1)], 0, "tuple of 3"),
    (nn.Sequential(nn.Conv2d(1, 1, 3)), 0, "Conv2d"),
    (nn.Sequential(lin(3, 4), nn.BatchNorm1d(4), lin(4, 2)), 1, "BatchNorm1d"),
    (nn.Sequential(lin(3, 4), nn.Tanh(), lin(4, 2)), 1, "Tanh"),
    (nn.Sequential(lin(3, 4), nn.ReLU(), lin(5, 2)), 2, "expects 5 inputs"),
    (nn.Sequential(nn.ReLU(), lin(3, 2)), 0, "starts"),
    (nn.Sequential(lin(3, 4), nn.ReLU()), 1, "last layer must be linear"),
    (nn.Sequential(lin(3, 4), nn.ReLU(), nn.ReLU(), lin(4, 2)), 2, "follows another ReLU"),
    (nn.Sequential(lin(3, 4), lin(4, 2)), 1, "without a ReLU"),
    ([np.zeros((2, 3)), np.zeros((2, 3))], 1, "expects 3 inputs"),
    ([np.zeros(3)], 0, "dimensions"),
    ([np.zeros((0, 3))], 0, "empty"),
    ([np.array([[np.nan, 0.0]])], 0, "non-finite"),
    ([np.array([[np.inf, 0.0]])], 0, "non-finite"),
])
def test_bad_targets_raise_typed_errors(target, layer, match):
    with pytest.raises(TargetError, match=match) as info:
        sltheory.random_network(target, eps=0.1, seed=0)
    assert info.value.layer == layer


@pytest.mark.parametrize("target", [nn.Sequential(), [], nn.Linear(3, 2, bias=False), "W", 3.0])
def test_unsupported_containers(target):
    with pytest.raises(TargetError):
        sltheory.as_target(target)


def test_non_finite_weight_in_module():
    net = nn.Sequential(lin(2, 2), nn.ReLU(), lin(2, 1))
    with torch.no_grad():
        net[2].weight[0, 1] = float("nan")
    with pytest.raises(TargetError, match="layer 2 has non-finite") as info:
        sltheory.as_target(net)
    assert info.value.layer == 2


def test_norm_assumption_names_layer_and_norm():
    mats = [np.eye(3) * 0.5, np.eye(3) * 3.0]
    rand = sltheory.random_network(mats, eps=0.1, seed=0)  # shapes only: no norm check here
    with pytest.raises(NormAssumptionError, match="layer 1 has spectral norm 3") as info:
        sltheory.approximate(mats, rand, eps=0.1)
    assert info.value.layer == 1
    assert info.value.norm == pytest.approx(3.0)


def test_rescale_is_opt_in_and_documented_in_the_bound():
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    norms = [np.linalg.norm(m, 2) for m in mats]
    tgt = sltheory.as_target(mats, rescale=True)
    assert tgt.scales == pytest.approx(norms)
    assert all(n <= 1 + 1e-9 for n in tgt.norms)
    x = torch.randn(5, 3, dtype=torch.float64)
    original = sltheory.as_target(mats, check_norms=False)
    # f(x) = (Π s_i) f̃(x): positive homogeneity of ReLU
    assert torch.allclose(original(x), tgt(x) * tgt.output_scale)


def test_float32_normalized_weights_are_accepted():
    w = torch.randn(5, 4)
    w /= torch.linalg.matrix_norm(w, 2)  # may land a hair above 1 in float32
    tgt = sltheory.as_target([w])
    assert tgt.norms[0] == pytest.approx(1.0, abs=1e-5)


def test_sequential_and_list_agree():
    net = nn.Sequential(lin(3, 4), nn.ReLU(), lin(4, 2))
    mats = [net[0].weight.detach(), net[2].weight.detach()]
    a = sltheory.as_target(net, check_norms=False)
    b = sltheory.as_target(mats, check_norms=False)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    x = torch.randn(6, 3)
    assert torch.allclose(a(x), net(x).double(), atol=1e-6)


# ---------------------------------------------------------------- targets with biases
def _biased_mlp(seed=0, dims=(3, 5, 4, 2), gain=1.0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b).double())
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Linear):
                m.weight.mul_(gain)
    return nn.Sequential(*layers)


def test_biased_sequential_is_read_with_its_biases():
    net = _biased_mlp()
    tgt = sltheory.as_target(net, check_norms=False)
    assert tgt.has_biases and tgt.bias_flags == (True, True, True)
    x = torch.randn(64, 3, dtype=torch.float64)
    assert torch.equal(tgt(x), net(x))                     # same operations, same order
    assert torch.equal(tgt.to_module()(x), net(x))
    # the list form with (W, b) pairs is the same target
    pairs = [(m.weight.detach(), m.bias.detach()) for m in net if isinstance(m, nn.Linear)]
    assert torch.equal(sltheory.as_target(pairs, check_norms=False)(x), net(x))


def test_mixed_bias_layers_and_bias_free_targets_unchanged():
    W = [np.eye(3) * 0.5, np.ones((2, 3)) * 0.3]
    tgt = sltheory.as_target([W[0], (W[1], np.array([0.1, -0.2]))])
    assert tgt.bias_flags == (False, True) and tgt.bias(0) is None
    plain = sltheory.as_target(W)
    assert plain.biases == () and not plain.has_biases and plain.bias_flags == (False, False)


def test_rescale_divides_each_bias_by_the_scales_so_far():
    net = _biased_mlp(seed=1, gain=4.0)        # norms > 1
    tgt = sltheory.as_target(net, rescale=True)
    assert all(s > 1 for s in tgt.scales)
    x = torch.randn(128, 3, dtype=torch.float64)
    torch.testing.assert_close(tgt(x) * tgt.output_scale, net(x), rtol=1e-12, atol=1e-12)
    # re-validating the rescaled Target keeps it (no second division)
    again = sltheory.as_target(tgt)
    torch.testing.assert_close(again(x), tgt(x), rtol=0, atol=0)


@pytest.mark.parametrize("target, layer, match", [
    ([(np.zeros((2, 3)), np.zeros((2, 1)))], 0, "1 .d_out"),
    ([(np.zeros((2, 3)), [np.inf, 0.0])], 0, "non-finite bias"),
    ([(np.zeros((2, 3)), "b")], 0, "bias 0 cannot be read"),
])
def test_bad_biases_are_typed(target, layer, match):
    with pytest.raises(TargetError, match=match) as info:
        sltheory.as_target(target)
    assert info.value.layer == layer


def test_biased_target_on_a_construction_without_bias_support_is_refused_before_sampling():
    with pytest.raises(TargetError, match="covers bias-free targets only"):
        sltheory.random_network(_biased_mlp(), eps=0.1, seed=0, construction="malach")
