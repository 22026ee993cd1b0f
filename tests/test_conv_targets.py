"""conv_target (issue 15): torch conv / residual networks parsed into plain-data ConvTargets.

The parsed target's float64 forward (sltheory.conv.ops.forward) equals the torch model's
(model.double().eval()) to ~1e-12 relative, with BatchNorm folded (random running statistics, so the
fold is exercised), every op's in/out shapes are the ones torch computes, and everything outside the
class is refused with a TargetError naming the module by its path and class."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from sltheory.conv import ops as O
from sltheory.conv.modules import ResidualBlock
from sltheory.conv.target import conv_target, fold_batchnorm
from sltheory.errors import InvalidArgumentError, TargetError


# a faithful copy of torchvision.models.resnet.BasicBlock (torchvision is not installed here)
def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=1, bias=False,
                     dilation=1)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


# the parser accepts only torchvision's own BasicBlock class (its forward is then torchvision's): this
# copy stands in for it, as if imported from torchvision.models.resnet
BasicBlock.__module__ = "torchvision.models.resnet"


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default running statistics and affine parameters in every BatchNorm of ``model``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 2.0 + 0.3)
                if m.weight is not None:
                    m.weight.copy_(torch.randn(n, generator=g))
                    m.bias.copy_(torch.randn(n, generator=g) * 0.3)
    return model


def check_shapes(ops, x: torch.Tensor) -> torch.Tensor:
    """Evaluate ``ops`` one by one, asserting each op's recorded shapes are the ones torch produces."""
    for op in ops:
        assert tuple(x.shape[1:]) == tuple(op.in_shape), (op, x.shape)
        if isinstance(op, O.Residual):
            y = check_shapes(op.body, x)
            if op.shortcut:
                check_shapes(op.shortcut, x)
        y = O.apply_op(op, x)
        assert tuple(y.shape[1:]) == tuple(op.out_shape), (op, y.shape)
        x = y
    return x


def assert_same(model: nn.Module, input_shape, *, seed: int = 0, batch: int = 4) -> O.ConvTarget:
    torch.manual_seed(seed)
    model = randomize_bn(model, seed).double().eval()
    t = conv_target(model, input_shape)
    shape = tuple(input_shape) if input_shape is not None else t.input_shape
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    with torch.no_grad():
        want = model(x.clone())
    got = O.forward(t.ops, x)
    assert got.shape == want.shape
    assert tuple(want.shape[1:]) == tuple(t.output_shape)
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= 1e-12 * scale
    assert float(want.abs().max()) > 0            # not trivially zero
    check_shapes(t.ops, x)
    assert isinstance(t.ops[-1], O.Affine)
    assert len(t.meta["layers"]) == t.depth
    for a in t.layers:
        assert a.weight.dtype == np.float64 and (a.bias is None or a.bias.dtype == np.float64)
    # the ConvTarget's own call (flattened output)
    assert torch.allclose(t(x), want.reshape(batch, -1), rtol=0, atol=1e-12 * scale)
    return t


# ----------------------------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_bn_relu_maxpool_linear(bias):
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=bias), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 5, 3, bias=bias), nn.BatchNorm2d(5), nn.ReLU(inplace=True), nn.Flatten(),
                          nn.Linear(5 * 2 * 2, 3, bias=bias))
    t = assert_same(model, (2, 8, 8))
    assert [type(op).__name__ for op in t.ops] == ["Affine", "ReLU", "Pool", "Affine", "ReLU", "Flatten", "Affine"]
    assert t.layers[0].bias is not None and t.layers[1].bias is not None   # BN folded gives a bias
    assert (t.layers[2].bias is not None) == bias
    assert t.meta["layers"][0] == "model[0] (Conv2d) + model[1] (BatchNorm2d)"
    assert t.output_shape == (3,) and t.input_shape == (2, 8, 8)
    # the recorded shapes are the ones the torch modules produce (BatchNorms folded: no op of their own)
    seen = []
    for mod in model:
        if not isinstance(mod, nn.BatchNorm2d):
            mod.register_forward_hook(lambda m, i, o: seen.append((tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
    with torch.no_grad():
        model.double().eval()(torch.randn(2, 2, 8, 8, dtype=torch.float64))
    assert seen == [(op.in_shape, op.out_shape) for op in t.ops]


def test_conv1d_net_with_bn_after_linear():
    model = nn.Sequential(nn.Conv1d(1, 3, 5, stride=2, padding=2), nn.BatchNorm1d(3), nn.ReLU(),
                          nn.AvgPool1d(2), nn.Conv1d(3, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    t = assert_same(model, (1, 20))
    assert t.layers[0].stride == (2,) and t.layers[0].padding == (2,)
    assert t.layers[2].bias is not None   # Linear + BatchNorm1d folded


def test_strides_tuples_rectangular_kernels():
    model = nn.Sequential(nn.Conv2d(1, 3, (3, 2), stride=(2, 1), padding=(1, 0)), nn.ReLU(),
                          nn.Conv2d(3, 2, 3, stride=2), nn.ReLU(), nn.MaxPool2d((2, 1), stride=(1, 2), padding=(1, 0)),
                          nn.Flatten(), nn.Linear(2 * 3 * 1, 2))
    t = assert_same(model, (1, 9, 7))
    assert t.layers[0].stride == (2, 1) and t.layers[0].padding == (1, 0) and t.layers[0].kernel == (3, 2)


@pytest.mark.parametrize("dims", [1, 2])
def test_same_and_valid_padding(dims):
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    shape = (2, 7) if dims == 1 else (2, 7, 6)
    model = nn.Sequential(conv(2, 3, 5, padding="same"), nn.ReLU(), conv(3, 3, 3, padding="valid"), nn.ReLU(),
                          conv(3, 2, 3, padding="same"))
    t = assert_same(model, shape)
    assert t.layers[0].padding == (2,) * dims and t.layers[1].padding == (0,) * dims
    assert t.layers[2].padding == (1,) * dims
    assert t.output_shape == (2,) + tuple(s - 2 for s in shape[1:])   # a conv may end the network


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avgpool_padding(count_include_pad):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
                          nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=count_include_pad),
                          nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    t = assert_same(model, (1, 6, 5))
    pool = t.ops[2]
    assert isinstance(pool, O.Pool) and pool.kind == "avg" and pool.count_include_pad == count_include_pad
    assert pool.padding == (1, 1)
    model1 = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.AvgPool1d(3, 2, 1, count_include_pad=count_include_pad),
                           nn.Flatten(), nn.Linear(2 * 4, 1))
    assert_same(model1, (1, 9))


def test_adaptive_avg_pool():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                          nn.Linear(4, 3))
    t = assert_same(model, (2, 6, 4))
    pool = t.ops[2]
    assert isinstance(pool, O.Pool) and pool.kernel == (6, 4) and pool.stride == (6, 4) and pool.out_shape == (4, 1, 1)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d((None, 2)), nn.Flatten(),
                          nn.Linear(2 * 6 * 2, 1))
    t = assert_same(model, (1, 6, 4))
    assert t.ops[2].kernel == (1, 2)
    model = nn.Sequential(nn.Conv1d(1, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool1d(3), nn.Flatten(), nn.Linear(6, 1))
    assert assert_same(model, (1, 9)).ops[2].kernel == (3,)


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_residual_block(batchnorm, bias):
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(),
                          ResidualBlock(3, 3, batchnorm=batchnorm, bias=bias),              # identity shortcut
                          ResidualBlock(3, 4, 2, batchnorm=batchnorm, bias=bias),           # downsample
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
    t = assert_same(model, (1, 6, 6))
    r1, r2 = t.ops[2], t.ops[3]
    assert isinstance(r1, O.Residual) and isinstance(r2, O.Residual) and r1.relu and r2.relu
    assert r1.shortcut == () and len(r2.shortcut) == 1 and isinstance(r2.shortcut[0], O.Affine)
    assert r2.shortcut[0].kernel == (1, 1) and r2.shortcut[0].stride == (2, 2)
    assert [type(op).__name__ for op in r1.body] == ["Affine", "ReLU", "Affine"]
    assert r2.in_shape == (3, 6, 6) and r2.out_shape == (4, 3, 3)
    assert t.depth == 1 + 2 + 3 + 1
    # affine layers in order: body then shortcut
    assert t.meta["layers"][3].startswith("model[3].body[0] (Conv2d)")
    assert t.meta["layers"][5].startswith("model[3].shortcut[0] (Conv2d)")
    if batchnorm:
        assert t.meta["layers"][5].endswith("model[3].shortcut[1] (BatchNorm2d)")
        assert all(a.bias is not None for a in t.layers)


def test_residual_block_1d():
    model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.ReLU(), ResidualBlock(3, 3, dims=1, batchnorm=True),
                          ResidualBlock(3, 5, 2, dims=1, batchnorm=True), nn.Flatten(), nn.Linear(5 * 4, 2))
    assert_same(model, (2, 8))


@pytest.mark.parametrize("downsample", [False, True])
def test_torchvision_basic_block(downsample):
    ds = nn.Sequential(conv1x1(4, 6, 2), nn.BatchNorm2d(6)) if downsample else None
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                          BasicBlock(4, 4), BasicBlock(4, 6, 2, ds) if downsample else BasicBlock(4, 4),
                          nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6 if downsample else 4, 3))
    t = assert_same(model, (3, 8, 8))
    blk = t.ops[3]
    assert isinstance(blk, O.Residual) and (len(blk.shortcut) == 1) == downsample
    assert t.meta["layers"][1] == "model[3].conv1 (Conv2d) + model[3].bn1 (BatchNorm2d)"
    if downsample:
        assert t.meta["layers"][-2] == "model[4].downsample[0] (Conv2d) + model[4].downsample[1] (BatchNorm2d)"


def test_nested_sequential_identity_dropout_dropped():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5), nn.BatchNorm2d(2)),
                          nn.Sequential(nn.ReLU(), nn.Identity(), nn.Dropout2d(0.1)),
                          nn.Flatten(), nn.Sequential(nn.Sequential(nn.Linear(2 * 3 * 3, 2))))
    t = assert_same(model, (1, 5, 5))
    assert [type(op).__name__ for op in t.ops] == ["Affine", "ReLU", "Flatten", "Affine"]
    assert t.meta["layers"] == ("model[0][0] (Conv2d) + model[0][2] (BatchNorm2d)", "model[3][0][0] (Linear)")


def test_dropout_is_dropped_even_in_training_mode():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.9), nn.ReLU(), nn.Linear(4, 1)).double()
    model.train()
    t = conv_target(model)
    x = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(t(x), model.eval()(x), rtol=1e-12, atol=1e-14)


def test_mlp_without_input_shape_and_trailing_flatten():
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2), nn.Flatten())
    t = assert_same(model, None)
    assert t.input_shape == (5,) and t.output_shape == (2,)
    assert [type(op).__name__ for op in t.ops] == ["Affine", "ReLU", "Affine"]
    assert conv_target(model, (5,)).input_shape == (5,)


def test_float32_model_gives_float64_copies():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4, 1))
    t = conv_target(model, [1, 6])
    assert t.input_shape == (1, 6)
    w0 = t.layers[0].weight.copy()
    np.testing.assert_array_equal(w0, model[0].weight.detach().double().numpy())
    with torch.no_grad():
        model[0].weight.add_(1.0)
    np.testing.assert_array_equal(t.layers[0].weight, w0)   # a copy, not a view


def test_conv_target_passthrough_and_describe():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), ResidualBlock(2, 3, 2),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3, 2))
    t = conv_target(randomize_bn(model).eval(), (1, 4, 4))
    assert conv_target(t) is t and conv_target(t, (1, 4, 4)) is t
    with pytest.raises(TargetError, match="differs"):
        conv_target(t, (1, 5, 5))
    text = t.describe()
    assert "Residual + ReLU: (2, 4, 4) → (3, 2, 2)" in text
    assert "shortcut:" in text and "max-pool" in text and "Linear 3→2 + bias" in text
    assert f"{t.depth} affine layers, {t.num_weights} weights" in text


# ----------------------------------------------------------------------------------------------- fold_batchnorm


def test_fold_batchnorm_formula():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 2, 3, 3))
    b = rng.normal(size=3)
    bn = randomize_bn(nn.BatchNorm2d(3, eps=1e-3)).double().eval()
    W2, b2 = fold_batchnorm(W, b, bn)
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    g, beta = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    s = g / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(W2, W * s[:, None, None, None], rtol=1e-15)
    np.testing.assert_allclose(b2, (b - mean) * s + beta, rtol=1e-15)
    # without bias: b = 0
    _, b0 = fold_batchnorm(W, None, bn)
    np.testing.assert_allclose(b0, -mean * s + beta, rtol=1e-15)
    # the inputs are not modified
    assert W2 is not W


def test_fold_batchnorm_equals_composition():
    torch.manual_seed(1)
    lin = nn.Linear(4, 3).double()
    bn = randomize_bn(nn.BatchNorm1d(3), 2).double().eval()
    W2, b2 = fold_batchnorm(lin.weight.detach().numpy(), lin.bias.detach().numpy(), bn)
    x = torch.randn(6, 4, dtype=torch.float64)
    with torch.no_grad():
        want = bn(lin(x))
    got = x @ torch.as_tensor(W2).T + torch.as_tensor(b2)
    assert torch.allclose(got, want, rtol=1e-13, atol=1e-13)


def test_fold_batchnorm_without_affine_params():
    bn = randomize_bn(nn.BatchNorm1d(2, affine=False)).eval()
    W = np.eye(2)
    W2, b2 = fold_batchnorm(W, None, bn)
    s = 1 / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    np.testing.assert_allclose(np.diag(W2), s)
    np.testing.assert_allclose(b2, -bn.running_mean.double().numpy() * s)


def test_fold_batchnorm_refusals():
    W = np.ones((3, 2))
    with pytest.raises(TargetError, match="training mode"):
        fold_batchnorm(W, None, nn.BatchNorm1d(3))
    with pytest.raises(TargetError, match="running statistics"):
        fold_batchnorm(W, None, nn.BatchNorm1d(3, track_running_stats=False).eval())
    with pytest.raises(TargetError, match="normalises 4 channels but the layer before it has 3"):
        fold_batchnorm(W, None, nn.BatchNorm1d(4).eval())
    bn = nn.BatchNorm1d(3, eps=0.0).eval()
    with torch.no_grad():
        bn.running_var[1] = 0.0
    with pytest.raises(TargetError, match="running_var \\+ eps ≤ 0"):
        fold_batchnorm(W, None, bn)
    bn = nn.BatchNorm1d(3).eval()
    with torch.no_grad():
        bn.running_mean[0] = float("nan")
    with pytest.raises(TargetError, match="non-finite"):
        fold_batchnorm(W, None, bn)
    with pytest.raises(TargetError, match="not a BatchNorm"):
        fold_batchnorm(W, None, nn.LayerNorm(3))


# ----------------------------------------------------------------------------------------------- ResidualBlock


def test_residual_block_module():
    blk = ResidualBlock(3, 3)
    assert len(blk.shortcut) == 0 and [type(m) for m in blk.body] == [nn.Conv2d, nn.ReLU, nn.Conv2d]
    assert all(m.bias is None for m in blk.body if isinstance(m, nn.Conv2d))
    blk = ResidualBlock(2, 4, 2, dims=1, batchnorm=True, bias=True)
    assert [type(m) for m in blk.body] == [nn.Conv1d, nn.BatchNorm1d, nn.ReLU, nn.Conv1d, nn.BatchNorm1d]
    assert [type(m) for m in blk.shortcut] == [nn.Conv1d, nn.BatchNorm1d]
    assert blk.shortcut[0].stride == (2,) and blk.body[0].stride == (2,) and blk.body[0].bias is not None
    blk = randomize_bn(blk).eval()
    x = torch.randn(3, 2, 7)
    with torch.no_grad():
        assert torch.equal(blk(x), torch.relu(blk.body(x) + blk.shortcut(x)))
    assert blk(x).shape == (3, 4, 4)
    assert ResidualBlock(3, 3, 2).shortcut[0].kernel_size == (1, 1)      # stride 2 alone needs a shortcut conv
    meta = ResidualBlock(2, 2, device="meta", dtype=torch.float64)
    assert meta.body[0].weight.device.type == "meta" and meta.body[0].weight.dtype == torch.float64


@pytest.mark.parametrize("kwargs", [dict(in_channels=0, out_channels=2), dict(in_channels=2, out_channels=2.0),
                                    dict(in_channels=2, out_channels=2, stride=0),
                                    dict(in_channels=2, out_channels=2, dims=3),
                                    dict(in_channels=2, out_channels=2, batchnorm=1),
                                    dict(in_channels=2, out_channels=2, bias="yes")])
def test_residual_block_bad_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        ResidualBlock(**kwargs)


# ----------------------------------------------------------------------------------------------- refusals


class Custom(nn.Module):
    def forward(self, x):
        return x * 2


class MyConv(nn.Conv2d):
    def forward(self, x):
        return super().forward(x) + 1


class MyBN(nn.BatchNorm2d):
    def forward(self, x):
        return x


class MySeq(nn.Sequential):
    def forward(self, x):
        return x


class MyBlock(ResidualBlock):
    def forward(self, x):
        return self.body(x)


def hooked(mod):
    mod.register_forward_hook(lambda m, i, o: o * 2)
    return mod


def nan_conv():
    c = nn.Conv2d(1, 2, 3)
    with torch.no_grad():
        c.weight[0, 0, 0, 0] = float("nan")
    return c


def inf_bias_linear():
    lin = nn.Linear(18, 2)
    with torch.no_grad():
        lin.bias[1] = float("inf")
    return lin


def lazy_conv():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.LazyConv2d(2, 3)


def bad_shortcut_block():
    blk = ResidualBlock(2, 2, 2)
    blk.shortcut = nn.Sequential()
    return blk


def relu6_basic_block():
    blk = BasicBlock(2, 2)
    blk.relu = nn.ReLU6()
    return blk


def test_a_look_alike_basic_block_from_elsewhere_is_refused():
    class BasicBlock(nn.Module):        # torchvision's attributes, but defined here: its forward is unknown
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1, self.relu = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2).eval(), nn.ReLU()
            self.conv2, self.bn2, self.downsample, self.stride = nn.Conv2d(2, 2, 3, padding=1), \
                nn.BatchNorm2d(2).eval(), None, 1

        def forward(self, x):
            return self.relu(self.conv2(self.relu(self.conv1(x))))     # no skip: not torchvision's forward
    with pytest.raises(TargetError, match="not torchvision's"):
        conv_target(nn.Sequential(BasicBlock(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)).eval(), (2, 4, 4))


class BasicBlock2(nn.Module):   # named BasicBlock below, but without torchvision's attributes
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 2, 3, padding=1)


BasicBlock2.__name__ = "BasicBlock"

S = (1, 5, 5)   # the default input shape of the refusal cases


def conv_head(*mods):
    """Conv2d(1, 2, 3) on S (→ (2, 3, 3)), ``mods``, Flatten, Linear(18, 2)."""
    return nn.Sequential(nn.Conv2d(1, 2, 3), *mods, nn.Flatten(), nn.Linear(2 * 3 * 3, 2))


REFUSALS = {
    # name: (builder, input_shape, substrings the message must hold, top-level index)
    "sigmoid": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(18, 2)), S,
                ["model[1] (Sigmoid) is not supported"], 1),
    "conv3d": (lambda: nn.Sequential(nn.Conv3d(1, 2, 1), nn.Flatten(), nn.Linear(18, 2)), S,
                        ["model[0] (Conv3d) is not supported"], 0),
    "lstm": (lambda: nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 3), nn.Linear(3, 1)), None,
             ["model[1] (LSTM) is not supported"], 1),
    "custom": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), Custom(), nn.Flatten(), nn.Linear(18, 2)), S,
               ["model[1] (Custom) is not supported"], 1),
    "subclass_forward": (lambda: nn.Sequential(MyConv(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 2)), S,
                         ["model[0] (MyConv)", "overrides Conv2d.forward"], 0),
    "bn_subclass_forward": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), MyBN(2).eval(), nn.Flatten(), nn.Linear(18, 2)),
                            S, ["model[1] (MyBN)", "overrides BatchNorm2d.forward"], 1),
    "sequential_subclass": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), MySeq(nn.ReLU()), nn.Flatten(),
                                                  nn.Linear(18, 2)), S, ["model[1] (MySeq)", "overrides"], 1),
    "block_subclass": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), MyBlock(2, 2), nn.Flatten(), nn.Linear(18, 2)), S,
                       ["model[1] (MyBlock)", "overrides ResidualBlock.forward"], 1),
    "hook": (lambda: nn.Sequential(hooked(nn.Conv2d(1, 2, 3)), nn.ReLU(), nn.Flatten(), nn.Linear(18, 2)), S,
             ["model[0] (Conv2d)", "forward hooks"], 0),
    "hook_in_block": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), (lambda b: (hooked(b.body[1]), b)[1])(
        ResidualBlock(2, 2)), nn.Flatten(), nn.Linear(18, 2)), S, ["model[1].body[1] (ReLU)", "forward hooks"], 1),
    "hook_on_model_block": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), hooked(ResidualBlock(2, 2)), nn.Flatten(),
                                                  nn.Linear(18, 2)), S, ["model[1] (ResidualBlock)", "hooks"], 1),
    "groups": (lambda: nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(18, 2)), (2, 5, 5),
               ["model[0] (Conv2d) has groups=2"], 0),
    "dilation": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.Flatten(), nn.Linear(2, 2)), S,
                 ["model[0] (Conv2d) has dilation=(2, 2)"], 0),
    "padding_mode": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.Flatten(),
                                           nn.Linear(50, 2)), S, ["model[0] (Conv2d) has padding_mode='reflect'"], 0),
    "same_even_kernel": (lambda: nn.Sequential(nn.Conv1d(1, 2, 4, padding="same"), nn.Flatten(), nn.Linear(10, 2)),
                         (1, 5), ["model[0] (Conv1d) has padding='same' with the even kernel (4,)"], 0),
    "bn_not_after_affine": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2).eval(),
                                                  nn.Flatten(), nn.Linear(18, 2)), S,
                            ["model[2] (BatchNorm2d) does not directly follow a Conv/Linear"], 2),
    "bn_first": (lambda: nn.Sequential(nn.BatchNorm1d(3).eval(), nn.Linear(3, 2)), (3,),
                 ["model[0] (BatchNorm1d) does not directly follow"], 0),
    "bn_after_bn": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2).eval(), nn.BatchNorm2d(2).eval(),
                                          nn.Flatten(), nn.Linear(18, 2)), S, ["model[2] (BatchNorm2d) does not"], 2),
    "bn_first_in_block": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), (lambda b: (b.body.insert(0, nn.BatchNorm2d(2)),
                                                                                b)[1])(ResidualBlock(2, 2)).eval(),
                                                nn.Flatten(), nn.Linear(18, 2)), S,
                          ["model[1].body[0] (BatchNorm2d) does not directly follow"], 1),
    "bn_training": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 2)), S,
                    ["model[1] (BatchNorm2d) is in training mode", "model.eval()"], 1),
    "bn_no_running_stats": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False)
                                                  .eval(), nn.Flatten(), nn.Linear(18, 2)), S,
                            ["model[1] (BatchNorm2d) has no running statistics"], 1),
    "bn2d_after_linear": (lambda: nn.Sequential(nn.Linear(3, 2), nn.BatchNorm2d(2).eval(), nn.ReLU(), nn.Linear(2, 1)),
                          None, ["model[1] (BatchNorm2d) follows a layer with output shape (2,)"], 1),
    "bn1d_after_conv2d": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm1d(2).eval(), nn.Flatten(),
                                                nn.Linear(18, 2)), S, ["model[1] (BatchNorm1d) follows"], 1),
    "bn_channels": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(3).eval(), nn.Flatten(),
                                          nn.Linear(18, 2)), S, ["model[1] (BatchNorm2d) normalises 3 channels"], 1),
    "maxpool_dilation": (lambda: conv_head(nn.MaxPool2d(1, dilation=2)), S, ["model[1] (MaxPool2d) has dilation"], 1),
    "maxpool_ceil": (lambda: conv_head(nn.MaxPool2d(1, ceil_mode=True)), S, ["model[1] (MaxPool2d) has ceil_mode"], 1),
    "maxpool_indices": (lambda: conv_head(nn.MaxPool2d(1, return_indices=True)), S,
                        ["model[1] (MaxPool2d) has return_indices=True"], 1),
    "maxpool_big_padding": (lambda: conv_head(nn.MaxPool2d(2, 1, padding=2)), S,
                            ["model[1] (MaxPool2d) has padding (2, 2) larger than half its kernel"], 1),
    "avgpool_ceil": (lambda: conv_head(nn.AvgPool2d(1, ceil_mode=True)), S, ["model[1] (AvgPool2d) has ceil_mode"], 1),
    "avgpool_divisor": (lambda: conv_head(nn.AvgPool2d(1, divisor_override=2)), S,
                        ["model[1] (AvgPool2d) has divisor_override=2"], 1),
    "adaptive_not_divisible": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                                     nn.Linear(8, 2)), S,
                               ["model[1] (AdaptiveAvgPool2d) maps spatial size (3, 3) to 2"], 1),
    "adaptive_max": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                                           nn.Linear(2, 2)), S, ["model[1] (AdaptiveMaxPool2d) is not supported"], 1),
    "pool_on_flat": (lambda: nn.Sequential(nn.Linear(4, 4), nn.MaxPool1d(2), nn.Linear(2, 1)), None,
                     ["model[1] (MaxPool1d) needs inputs of shape (C, L) but gets (4,) (a flat vector)"], 1),
    "flatten_dims": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(2), nn.Linear(9, 2)), S,
                     ["model[1] (Flatten) has start_dim=2"], 1),
    "linear_not_flat": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(3, 2)), S,
                        ["model[2] (Linear) gets a tensor of shape (2, 3, 3)", "nn.Flatten"], 2),
    "linear_in_features": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(17, 2)), S,
                           ["model[2] (Linear) expects 17 input features but gets 18"], 2),
    "in_channels": (lambda: nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(18, 2)), S,
                    ["model[0] (Conv2d) expects 3 input channels but gets inputs of shape (1, 5, 5)"], 0),
    "missing_input_shape": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2)), None,
                            ["input_shape is required", "model[0] (Conv2d)"], 0),
    "missing_input_shape_flatten_first": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(18, 2)), None,
                                          ["input_shape is required", "model[0] (Flatten)"], 0),
    "conv2d_on_1d_input": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2)), (1, 5),
                           ["model[0] (Conv2d) needs inputs of shape (C, H, W) but gets (1, 5)"], 0),
    "shrinks_to_zero": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 4), nn.Flatten(),
                                              nn.Linear(2, 2)), S, ["model[2] (Conv2d) gets spatial size (3, 3)",
                                                                    "empty"], 2),
    "pool_shrinks_to_zero": (lambda: conv_head(nn.MaxPool2d(4)), S, ["model[1] (MaxPool2d) gets spatial size"], 1),
    "ends_relu": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2), nn.ReLU()), S,
                  ["model[3] (ReLU) ends the network"], 3),
    "ends_pool": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(3)), S,
                  ["model[1] (MaxPool2d) ends the network"], 1),
    "ends_flatten_of_conv": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), S,
                             ["model[1] (Flatten) ends the network", "only allowed after a Linear"], 1),
    "ends_block": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), ResidualBlock(2, 2)), S,
                   ["model[1] (ResidualBlock) ends the network"], 1),
    "nan_weight": (lambda: nn.Sequential(nan_conv(), nn.Flatten(), nn.Linear(18, 2)), S,
                   ["model[0] (Conv2d)'s weight has non-finite entries"], 0),
    "inf_bias": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), inf_bias_linear()), S,
                 ["model[2] (Linear)'s bias has non-finite entries"], 2),
    "meta_weight": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, device="meta"), nn.Flatten(), nn.Linear(18, 2)), S,
                    ["model[0] (Conv2d)", "'meta' device"], 0),
    "complex_weight": (lambda: nn.Sequential(nn.Linear(2, 2, dtype=torch.complex64)), None,
                       ["model[0] (Linear)", "complex"], 0),
    "lazy": (lambda: nn.Sequential(lazy_conv(), nn.Flatten(), nn.Linear(18, 2)), S,
             ["model[0] (LazyConv2d)", "lazy"], 0),
    "residual_shapes": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), bad_shortcut_block(), nn.Flatten(),
                                              nn.Linear(18, 2)), S,
                        ["model[1] (ResidualBlock): its body maps (2, 5, 5) to (2, 3, 3) but its identity shortcut "
                         "to (2, 5, 5)"], 1),
    "basic_block_relu6": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), relu6_basic_block().eval(), nn.Flatten(),
                                                nn.Linear(18, 2)), S, ["model[1] (BasicBlock).relu is a ReLU6"], 1),
    "basic_block_attrs": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), BasicBlock2(), nn.Flatten(), nn.Linear(18, 2)), S,
                          ["model[1] (BasicBlock) is not a torchvision-style BasicBlock", "downsample"], 1),
    "basic_block_downsample_bad": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), BasicBlock(2, 2, 1, nn.Sequential(
        nn.Conv2d(2, 2, 1), nn.Sigmoid())).eval(), nn.Flatten(), nn.Linear(18, 2)), S,
        ["model[1].downsample[1] (Sigmoid) is not supported"], 1),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal(case):
    build, shape, needles, layer = REFUSALS[case]
    model = build()
    with pytest.raises(TargetError) as info:
        conv_target(model, shape)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert info.value.layer == layer
    assert "\n" not in msg


def test_refusals_of_the_container():
    with pytest.raises(TargetError, match="Conv2d is not supported: pass an nn.Sequential"):
        conv_target(nn.Conv2d(1, 2, 3), (1, 5, 5))
    with pytest.raises(TargetError, match="ResidualBlock is not supported"):
        conv_target(ResidualBlock(2, 2), (2, 5, 5))
    with pytest.raises(TargetError, match="list is not supported"):
        conv_target([np.eye(2)])
    with pytest.raises(TargetError, match="empty"):
        conv_target(nn.Sequential())
    with pytest.raises(TargetError, match="no Conv/Linear"):
        conv_target(nn.Sequential(nn.Identity(), nn.Dropout()), (2,))
    with pytest.raises(TargetError, match="model \\(MySeq\\)"):
        conv_target(MySeq(nn.Linear(2, 2)))
    with pytest.raises(TargetError, match="model \\(Sequential\\).*forward hooks"):
        conv_target(hooked(nn.Sequential(nn.Linear(2, 2))))


@pytest.mark.parametrize("shape", [(1, 3, 3, 3), (), (0, 5), (1, -2), ("a", 3), 5, (1.5, 3), (True, 3)])
def test_malformed_input_shape(shape):
    with pytest.raises(InvalidArgumentError, match="input_shape"):
        conv_target(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)), shape)
