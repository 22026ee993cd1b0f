"""Convolutional targets' data (issue 15, item 4): MNIST-1D generated offline and the small trained
Conv2d (digits) / Conv1d (MNIST-1D) classifiers of :mod:`sltheory.data.conv`."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
import torch
from torch import nn

from sltheory.domains import Box
from sltheory.errors import DatasetError, InvalidArgumentError

pytest.importorskip("sklearn")

from sltheory.data import conv as conv_data  # noqa: E402
from sltheory.data import mnist1d as mnist1d_data  # noqa: E402

# Accuracy floors: measured (seed 0, defaults, 2 shared CPUs) minus a margin. digits: 0.978 (seeds
# 1: 0.982); MNIST-1D: 0.927 (seeds 1, 2: 0.921, 0.917).
DIGITS_FLOOR = 0.95
MNIST1D_FLOOR = 0.88


@pytest.fixture(scope="module")
def digits():
    return conv_data.digits_conv_target(seed=0)


@pytest.fixture(scope="module")
def mnist1d_target():
    pytest.importorskip("mnist1d")
    return conv_data.mnist1d_conv_target(seed=0, epochs=20)


def _weights(model: nn.Module):
    return [t.detach().clone() for t in model.state_dict().values()]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


# --- MNIST-1D data -------------------------------------------------------------------------------

def test_mnist1d_shapes_and_split():
    pytest.importorskip("mnist1d")
    ds = mnist1d_data.load_mnist1d(seed=0)
    assert ds.x_train.shape == (4000, 1, 40) and ds.x_test.shape == (1000, 1, 40)
    assert ds.y_train.shape == (4000,) and ds.y_test.shape == (1000,)
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    assert ds.input_shape == (1, 40) and ds.length == 40 and ds.t.shape == (40,)
    assert set(np.unique(ds.y_train)) == set(range(10))
    # the package standardizes train and test together
    allx = np.concatenate([ds.x_train, ds.x_test]).ravel()
    assert abs(allx.mean()) < 1e-9 and abs(allx.std() - 1) < 1e-9


def test_mnist1d_deterministic_cached_and_copies():
    pytest.importorskip("mnist1d")
    a = mnist1d_data.load_mnist1d(seed=3, num_samples=200)
    a.x_train[:] = 0.0                        # the caller's copy: the cache must not see this
    b = mnist1d_data.load_mnist1d(seed=3, num_samples=200)
    mnist1d_data._CACHE.pop((3, 200))
    c = mnist1d_data.load_mnist1d(seed=3, num_samples=200)   # generated afresh
    assert b.x_train.shape == (160, 1, 40) and b.x_test.shape == (40, 1, 40)
    assert np.any(b.x_train != 0)
    assert np.array_equal(b.x_train, c.x_train) and np.array_equal(b.y_test, c.y_test)
    d = mnist1d_data.load_mnist1d(seed=4, num_samples=200)
    assert not np.array_equal(b.x_train, d.x_train)


def test_mnist1d_restores_global_rngs():
    pytest.importorskip("mnist1d")
    np.random.seed(1234)
    random.seed(99)
    mnist1d_data._CACHE.pop((5, 100), None)
    mnist1d_data.load_mnist1d(seed=5, num_samples=100)
    after_np, after_py = np.random.rand(), random.random()
    np.random.seed(1234)
    random.seed(99)
    assert np.random.rand() == after_np and random.random() == after_py


def test_mnist1d_bad_args():
    with pytest.raises(InvalidArgumentError):
        mnist1d_data.load_mnist1d(seed=-1)
    with pytest.raises(InvalidArgumentError):
        mnist1d_data.load_mnist1d(seed=2 ** 32)
    with pytest.raises(InvalidArgumentError):
        mnist1d_data.load_mnist1d(num_samples=9)
    with pytest.raises(InvalidArgumentError):
        mnist1d_data.load_mnist1d(num_samples=True)


def test_mnist1d_missing_package_is_a_dataset_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)       # makes `import mnist1d.data` fail
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    monkeypatch.setattr(mnist1d_data, "_CACHE", {})
    with pytest.raises(DatasetError, match="pip install mnist1d"):
        mnist1d_data.load_mnist1d(seed=0, num_samples=100)


def test_mnist1d_never_downloads(monkeypatch):
    pytest.importorskip("mnist1d")
    import mnist1d.data as md

    def refuse(*args, **kwargs):
        raise AssertionError("the network must not be used")

    monkeypatch.setattr(md.requests, "get", refuse)
    monkeypatch.setattr(md, "get_dataset", refuse)
    monkeypatch.setattr(mnist1d_data, "_CACHE", {})
    assert mnist1d_data.load_mnist1d(seed=6, num_samples=50).x_train.shape == (40, 1, 40)


# --- digits Conv2d target ------------------------------------------------------------------------

def test_digits_conv_target(digits):
    m = digits.model
    assert isinstance(m, nn.Sequential) and not m.training
    assert all(p.dtype == torch.float64 and not p.requires_grad for p in m.parameters())
    assert [type(l).__name__ for l in m] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "AvgPool2d",
                                             "Flatten", "Linear"]
    assert digits.input_shape == (1, 8, 8)
    assert digits.x_train.shape == (1347, 1, 8, 8) and digits.x_test.shape == (450, 1, 8, 8)
    assert digits.y_train.dtype == np.int64 and digits.x_train.dtype == np.float64
    assert (digits.lo, digits.hi) == (0.0, 1.0) and digits.domain == Box(0.0, 1.0)
    assert digits.x_train.min() >= 0 and digits.x_train.max() <= 1 and digits.x_test.max() <= 1
    assert digits.num_weights < 5000
    assert digits.test_accuracy >= DIGITS_FLOOR
    with torch.no_grad():
        out = m(torch.from_numpy(digits.x_test))
    assert out.shape == (450, 10)
    assert float((out.argmax(1).numpy() == digits.y_test).mean()) == digits.test_accuracy


def test_digits_conv_deterministic_and_no_global_rng(digits):
    torch.manual_seed(7)
    np.random.seed(7)
    again = conv_data.digits_conv_target(seed=0)
    t_after, n_after = torch.rand(1), np.random.rand()
    torch.manual_seed(7)
    np.random.seed(7)
    assert torch.equal(torch.rand(1), t_after) and np.random.rand() == n_after
    assert _same(_weights(digits.model), _weights(again.model))
    assert np.array_equal(digits.x_test, again.x_test) and digits.test_accuracy == again.test_accuracy
    other = conv_data.digits_conv_target(seed=1, epochs=2)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_digits_conv_options():
    t = conv_data.digits_conv_target(seed=0, channels=(4, 6), bias=False, batchnorm=True, epochs=3)
    kinds = [type(l).__name__ for l in t.model]
    assert kinds[:3] == ["Conv2d", "BatchNorm2d", "ReLU"] and not t.model.training
    convs = [l for l in t.model if isinstance(l, (nn.Conv2d, nn.Linear))]
    assert all(l.bias is None for l in convs)
    bn = t.model[1]
    assert int(bn.num_batches_tracked) > 0 and not torch.equal(bn.running_var, torch.ones(4, dtype=torch.float64))
    assert t.model[-1].in_features == 4 * 6
    assert t.test_accuracy > 0.5


@pytest.mark.parametrize("kwargs", [dict(channels=(8,)), dict(channels=(8, 0)), dict(channels="ab"),
                                    dict(bias=1), dict(batchnorm="yes"), dict(epochs=0), dict(lr=-1.0),
                                    dict(seed=-1), dict(weight_decay=float("nan")), dict(num_threads=0),
                                    dict(test_fraction=1.0)])
def test_digits_conv_bad_args(kwargs):
    with pytest.raises(InvalidArgumentError):
        conv_data.digits_conv_target(**kwargs)


def test_diverging_lr_is_reported():
    with pytest.raises(InvalidArgumentError, match="diverged"):
        conv_data.digits_conv_target(seed=0, lr=1e200, epochs=1)


# --- MNIST-1D Conv1d target ----------------------------------------------------------------------

def test_mnist1d_conv_target(mnist1d_target):
    t = mnist1d_target
    assert [type(l).__name__ for l in t.model] == ["Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "ReLU",
                                                   "Flatten", "Linear"]
    assert t.input_shape == (1, 40) and t.x_train.shape == (4000, 1, 40) and t.x_test.shape == (1000, 1, 40)
    assert not t.model.training and all(p.dtype == torch.float64 for p in t.model.parameters())
    allx = np.concatenate([t.x_train, t.x_test])
    assert t.lo == allx.min() and t.hi == allx.max() and t.lo < 0 < t.hi
    assert bool(np.all(t.domain.contains(allx.reshape(len(allx), -1))))
    assert t.num_weights < 10_000
    assert t.test_accuracy >= MNIST1D_FLOOR


def test_mnist1d_conv_deterministic_and_options(mnist1d_target):
    pytest.importorskip("mnist1d")
    small = dict(num_samples=500, epochs=2)
    a = conv_data.mnist1d_conv_target(seed=0, **small)
    b = conv_data.mnist1d_conv_target(seed=0, **small)
    assert _same(_weights(a.model), _weights(b.model))
    two = conv_data.mnist1d_conv_target(seed=0, channels=(4, 8), batchnorm=True, bias=False, **small)
    assert [type(l).__name__ for l in two.model] == ["Conv1d", "BatchNorm1d", "ReLU", "Conv1d", "ReLU",
                                                     "Flatten", "Linear"]
    assert two.model[-1].in_features == 8 * 10
    with pytest.raises(InvalidArgumentError):
        conv_data.mnist1d_conv_target(channels=(4, 8, 8, 8))
