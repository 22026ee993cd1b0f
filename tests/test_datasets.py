"""sltheory.datasets: unit-ball scaling, seeded splits, deterministic training, the IDX reader."""

import gzip
import struct
import sys

import numpy as np
import pytest
import torch

import sltheory
from sltheory import datasets as D
from sltheory.errors import DatasetError, InvalidArgumentError, SltheoryError


@pytest.fixture(scope="module")
def digits():
    return D.load_digits(seed=0)


@pytest.fixture(scope="module")
def small_net(digits):
    return D.train_mlp([64, 32, 10], digits, seed=0, num_threads=1)


def _rows_sorted(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


# ----------------------------------------------------------------------------------- digits

def test_digits_shapes_dtypes_unit_ball(digits):
    assert digits.name == "digits" and digits.num_classes == 10 and digits.dim == 64
    assert digits.x_train.shape == (1347, 64) and digits.x_test.shape == (450, 64)
    assert digits.x_train.dtype == digits.x_test.dtype == torch.float64
    assert digits.y_train.dtype == digits.y_test.dtype == torch.int64
    for x in (digits.x_train, digits.x_test):
        norms = torch.linalg.vector_norm(x, dim=1)
        assert float(norms.max()) <= 1.0
        assert float(np.linalg.norm(x.numpy(), axis=1).max()) <= 1.0
    # one constant: the largest training row sits on the sphere (up to the in-ball safety factor)
    assert float(torch.linalg.vector_norm(digits.x_train, dim=1).max()) == pytest.approx(1.0, abs=1e-12)
    assert set(digits.y_train.tolist()) == set(range(10)) == set(digits.y_test.tolist())


def test_digits_rows_are_the_raw_images_divided_by_one_constant(digits):
    # independent reference: the raw images from scikit-learn, compared as multisets of rows
    from sklearn.datasets import load_digits as sk_load
    raw = sk_load()
    assert digits.test_rows_clipped == 0       # no test image is brighter than every training image here
    # ... so the one constant (max over training rows) is the max over all rows
    assert digits.scale == pytest.approx(float(np.linalg.norm(raw.data, axis=1).max()), rel=1e-12)
    back = np.concatenate([digits.x_train.numpy(), digits.x_test.numpy()]) * digits.scale
    np.testing.assert_allclose(_rows_sorted(np.round(back)), _rows_sorted(raw.data), atol=0)
    np.testing.assert_allclose(back, np.round(back), atol=1e-9)
    labels = np.concatenate([digits.y_train.numpy(), digits.y_test.numpy()])
    assert np.array_equal(np.bincount(labels), np.bincount(raw.target))


def test_digits_split_is_seeded_and_stratified(digits):
    again = D.load_digits(seed=0)
    for f in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(digits, f), getattr(again, f))
    other = D.load_digits(seed=1)
    assert not torch.equal(digits.y_test, other.y_test)
    counts = np.bincount(np.concatenate([digits.y_train.numpy(), digits.y_test.numpy()]))
    assert np.array_equal(np.bincount(digits.y_test.numpy()), np.round(0.25 * counts).astype(int))
    half = D.load_digits(seed=0, test_fraction=0.5)
    assert half.x_test.shape[0] == int(np.round(0.5 * counts).sum())


def test_loading_and_training_leave_global_rngs_alone(digits):
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    D.load_digits(seed=3)
    threads = torch.get_num_threads()
    D.train_mlp([64, 8, 10], digits, seed=3, epochs=1, num_threads=1)
    assert torch.get_num_threads() == threads          # num_threads is scoped to the call
    assert torch.equal(torch_state, torch.random.get_rng_state())
    after = np.random.get_state()
    assert np.array_equal(np_state[1], after[1]) and np_state[2] == after[2]


@pytest.mark.parametrize("kwargs", [dict(seed=-1), dict(seed=1.5), dict(test_fraction=0.0),
                                    dict(test_fraction=1.0), dict(test_fraction=float("nan"))])
def test_digits_bad_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        D.load_digits(**kwargs)


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="scikit-learn"):
        D.load_digits()


# --------------------------------------------------------------------------------- training

def test_trained_net_is_a_bias_free_relu_target(small_net):
    mods = list(small_net)
    assert [type(m).__name__ for m in mods] == ["Linear", "ReLU", "Linear"]
    assert [tuple(m.weight.shape) for m in mods[::2]] == [(32, 64), (10, 32)]
    assert all(m.bias is None and m.weight.dtype == torch.float64 for m in mods[::2])
    t = sltheory.as_target(small_net, rescale=True)
    assert t.dims == (64, 32, 10)


def test_training_is_deterministic_and_seeded(digits, small_net):
    again = D.train_mlp([64, 32, 10], digits, seed=0, num_threads=1)
    for a, b in zip(small_net.parameters(), again.parameters()):
        assert torch.equal(a, b)
    other = D.train_mlp([64, 32, 10], digits, seed=1, epochs=1, num_threads=1)
    assert not torch.equal(small_net[0].weight, other[0].weight)


def test_small_net_accuracy(digits, small_net):
    assert D.accuracy(small_net, digits.x_test, digits.y_test) >= 0.93
    assert D.accuracy(small_net, digits.x_train, digits.y_train) >= 0.97


def test_predictions_and_accuracy_agree_with_a_direct_evaluation(digits, small_net):
    pred = D.predictions(small_net, digits.x_test)
    assert pred.dtype == torch.int64 and pred.shape == digits.y_test.shape
    with torch.no_grad():
        w1, w2 = small_net[0].weight, small_net[2].weight
        direct = (torch.relu(digits.x_test @ w1.T) @ w2.T).argmax(dim=1)
    assert torch.equal(pred, direct)
    assert D.accuracy(small_net, digits.x_test, digits.y_test) == pytest.approx(
        (direct == digits.y_test).double().mean().item(), abs=0)
    with pytest.raises(InvalidArgumentError):
        D.accuracy(small_net, digits.x_test, digits.y_train)


@pytest.mark.parametrize("dims", [[63, 32, 10], [64, 32, 9], [64], [64, 0, 10], "64-32-10", [64, 3.5, 10]])
def test_bad_dims_are_refused(digits, dims):
    with pytest.raises(InvalidArgumentError):
        D.train_mlp(dims, digits, seed=0)


@pytest.mark.parametrize("kwargs", [dict(seed=-1), dict(seed=0, epochs=0), dict(seed=0, lr=0.0),
                                    dict(seed=0, batch_size=0), dict(seed=0, weight_decay=-1.0),
                                    dict(seed=0, num_threads=0)])
def test_bad_training_arguments_are_refused(digits, kwargs):
    with pytest.raises(InvalidArgumentError):
        D.train_mlp([64, 4, 10], digits, **kwargs)


def test_default_threads_train_the_same_weights(digits):
    # num_threads=None leaves torch's setting; the weights match a 1-thread run (bit-identical in our
    # measurements; only closeness is asserted, as BLAS may block sums differently per thread count)
    threads = torch.get_num_threads()
    a = D.train_mlp([64, 16, 10], digits, seed=5, epochs=1, batch_size=512)
    assert torch.get_num_threads() == threads
    b = D.train_mlp([64, 16, 10], digits, seed=5, epochs=1, batch_size=512, num_threads=1)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def test_train_mlp_needs_a_dataset():
    with pytest.raises(InvalidArgumentError):
        D.train_mlp([2, 2], (torch.zeros(3, 2), torch.zeros(3)), seed=0)


# ------------------------------------------------------------------------- Dataset invariants

def _tiny(x_train, **kw):
    base = dict(name="t", x_train=x_train, y_train=torch.zeros(x_train.shape[0], dtype=torch.int64),
                x_test=torch.zeros(1, 2, dtype=torch.float64), y_test=torch.zeros(1, dtype=torch.int64),
                num_classes=2)
    base.update(kw)
    return D.Dataset(**base)


def test_dataset_refuses_invalid_states():
    ok = _tiny(torch.tensor([[0.6, 0.8]], dtype=torch.float64))
    assert ok.dim == 2
    with pytest.raises(DatasetError, match="unit ball"):
        _tiny(torch.tensor([[0.7, 0.8]], dtype=torch.float64))
    with pytest.raises(DatasetError, match="float64"):
        _tiny(torch.tensor([[0.1, 0.1]], dtype=torch.float32))
    with pytest.raises(DatasetError, match="labels"):
        _tiny(torch.zeros(1, 2, dtype=torch.float64), y_test=torch.tensor([2]))
    with pytest.raises(DatasetError, match="columns"):
        _tiny(torch.zeros(1, 3, dtype=torch.float64))
    assert issubclass(DatasetError, SltheoryError) and issubclass(DatasetError, InvalidArgumentError)
    assert sltheory.DatasetError is DatasetError and sltheory.datasets is D


# ------------------------------------------------------------------------------------ MNIST

def _idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file written from its definition: 0, 0, type 0x08, ndim, big-endian uint32 dims, bytes."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes(order="C")


_NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
          "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def _write_mnist(folder, arrays, *, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in _NAMES.items():
        data = _idx_bytes(arrays[key])
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)


def _tiny_mnist(seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 120, size=(12, 5, 4)),
              "train_labels": rng.integers(0, 10, size=12),
              "test_images": rng.integers(0, 120, size=(6, 5, 4)),
              "test_labels": rng.integers(0, 10, size=6)}
    arrays["test_images"][0] = 255     # brighter than every training image: must be clipped
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_round_trip(tmp_path, gz):
    arrays = _tiny_mnist()
    _write_mnist(tmp_path, arrays, gz=gz)
    data = D.load_mnist(tmp_path)
    assert data.name == "mnist" and data.num_classes == 10 and data.dim == 20
    assert data.x_train.shape == (12, 20) and data.x_test.shape == (6, 20)
    raw_train = arrays["train_images"].reshape(12, 20).astype(np.float64)
    raw_test = arrays["test_images"].reshape(6, 20).astype(np.float64)
    assert data.scale == pytest.approx(np.linalg.norm(raw_train, axis=1).max(), rel=1e-15)
    np.testing.assert_allclose(data.x_train.numpy() * data.scale, raw_train, rtol=1e-12)
    np.testing.assert_allclose(data.x_test.numpy()[1:] * data.scale, raw_test[1:], rtol=1e-12)
    assert data.test_rows_clipped == 1
    assert float(torch.linalg.vector_norm(data.x_test[0])) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(data.x_test.numpy()[0], raw_test[0] / np.linalg.norm(raw_test[0]), rtol=1e-12)
    assert torch.equal(data.y_train, torch.as_tensor(arrays["train_labels"], dtype=torch.int64))
    assert torch.equal(data.y_test, torch.as_tensor(arrays["test_labels"], dtype=torch.int64))
    for x in (data.x_train, data.x_test):
        assert float(torch.linalg.vector_norm(x, dim=1).max()) <= 1.0

    limited = D.load_mnist(str(tmp_path), limit_train=5, limit_test=100)
    assert limited.x_train.shape == (5, 20) and limited.x_test.shape == (6, 20)
    assert limited.scale == pytest.approx(np.linalg.norm(raw_train[:5], axis=1).max(), rel=1e-15)
    assert torch.equal(limited.y_train, data.y_train[:5])


def test_mnist_corrupt_magic_number_names_the_file(tmp_path):
    _write_mnist(tmp_path, _tiny_mnist(), gz=False)
    f = tmp_path / _NAMES["train_labels"]
    raw = bytearray(f.read_bytes())
    raw[2] = 0x0D                       # float type code instead of unsigned bytes
    f.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.*magic"):
        D.load_mnist(tmp_path)


def test_mnist_truncated_and_bad_gzip_files(tmp_path):
    _write_mnist(tmp_path, _tiny_mnist(), gz=False)
    f = tmp_path / _NAMES["test_images"]
    f.write_bytes(f.read_bytes()[:-3])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.*truncated"):
        D.load_mnist(tmp_path)
    f.unlink()
    (tmp_path / (_NAMES["test_images"] + ".gz")).write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        D.load_mnist(tmp_path)


def test_mnist_inconsistent_files(tmp_path):
    arrays = _tiny_mnist()
    arrays["train_labels"] = arrays["train_labels"][:11]
    _write_mnist(tmp_path / "a", arrays, gz=False)
    with pytest.raises(DatasetError, match="12 images but .* 11 labels"):
        D.load_mnist(tmp_path / "a")
    arrays = _tiny_mnist()
    arrays["test_labels"][0] = 10
    _write_mnist(tmp_path / "b", arrays, gz=True)
    with pytest.raises(DatasetError, match="label 10"):
        D.load_mnist(tmp_path / "b")


def test_mnist_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        D.load_mnist(tmp_path / "nowhere")
    _write_mnist(tmp_path, _tiny_mnist(), gz=True)
    (tmp_path / (_NAMES["train_labels"] + ".gz")).unlink()
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte"):
        D.load_mnist(tmp_path)
    with pytest.raises(InvalidArgumentError):
        D.load_mnist(tmp_path, limit_train=0)
