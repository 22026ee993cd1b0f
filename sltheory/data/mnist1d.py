"""MNIST-1D (Greydanus 2020): ten 1-D digit templates, padded, scaled, shifted, sheared and noised
into length-40 signals; generated offline by the ``mnist1d`` package from an explicit seed.

Only ``mnist1d.data.make_dataset`` is called: its templates are built into the package
(``mnist1d.data.get_templates``), so nothing is read or downloaded. The package's other entry
point, ``get_dataset``, downloads a pickle from GitHub (``args.url``) or writes one into the
working directory, and is never called here.

``make_dataset`` draws from the *global* RNGs: it calls ``random.seed(seed)`` and
``np.random.seed(seed)`` and then ``np.random.rand`` / ``randn`` / ``choice`` / ``permutation``.
:func:`load_mnist1d` saves the states of both global RNGs before the call and restores them after
it (under a lock, so two of its own calls never interleave), so the caller's random streams are
left as they were. Another thread drawing from ``np.random`` during the generation would still
perturb it: generate before starting such threads.

The package's own definitions are kept: the whole set (train and test together) is standardized
to mean 0 and standard deviation 1, and the first ``int(train_split · N)`` shuffled samples are
the training set (4,000 of 5,000 by default, 1,000 for the test set). The package's default seed
is 42 (the seed of the published ``mnist1d_data.pkl``); sltheory's default is 0, as everywhere.
"""

from __future__ import annotations

import importlib
import random
import threading
from dataclasses import dataclass

import numpy as np

from .._checks import nonnegative_int
from ..errors import DatasetError

__all__ = ["MAX_MNIST1D_SAMPLES", "Mnist1dData", "load_mnist1d", "load_mnist1d_dataset"]

#: Largest ``num_samples`` :func:`load_mnist1d` generates (≈ 0.25 ms a sample: 50 s at most).
MAX_MNIST1D_SAMPLES = 200_000
#: ``np.random.seed`` takes seeds below 2³².
_MAX_SEED = 2 ** 32 - 1

_LOCK = threading.Lock()
_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True, eq=False)
class Mnist1dData:
    """One generated MNIST-1D set, in the input shape of a ``Conv1d``: one channel.

    ``x_train`` / ``x_test``: float64, shape (N, 1, L) with L = 40 (``final_seq_length``);
    ``y_train`` / ``y_test``: int64 labels 0…9; ``t``: the package's 40 sample positions (for
    plotting only). The arrays are fresh copies, the caller's to modify.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t: np.ndarray
    seed: int
    num_samples: int
    num_classes: int = 10

    @property
    def length(self) -> int:
        """Signal length L (40)."""
        return int(self.x_train.shape[-1])

    @property
    def input_shape(self) -> tuple[int, int]:
        """Shape of one input: (1, L)."""
        return (1, self.length)


def _import_mnist1d():
    try:        # through importlib: the package ships no type information for mypy to read
        md = importlib.import_module("mnist1d.data")
    except ImportError as exc:
        raise DatasetError("MNIST-1D needs the mnist1d package (it generates the data offline): "
                           "pip install mnist1d, or install sltheory[test]") from exc
    return md


def _generate(seed: int, num_samples: int):
    md = _import_mnist1d()
    args = md.get_dataset_args()
    args.seed = seed
    args.num_samples = num_samples
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        raw = md.make_dataset(args)
    except Exception as exc:  # the package checks nothing; report what it raised as a data error
        raise DatasetError(f"mnist1d.data.make_dataset failed (seed={seed}, num_samples={num_samples}): "
                           f"{type(exc).__name__}: {exc}") from exc
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    try:
        arrays = (np.asarray(raw["x"], dtype=np.float64), np.asarray(raw["y"], dtype=np.int64),
                  np.asarray(raw["x_test"], dtype=np.float64), np.asarray(raw["y_test"], dtype=np.int64),
                  np.asarray(raw["t"], dtype=np.float64))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"mnist1d.data.make_dataset returned an unexpected result: {exc}") from exc
    x_train, y_train, x_test, y_test, t = arrays
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DatasetError(f"mnist1d {name} set has shape x {x.shape}, y {y.shape}; expected (N, L) and (N,)")
        if not np.all(np.isfinite(x)):
            raise DatasetError(f"mnist1d {name} inputs contain nan or inf")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DatasetError(f"mnist1d {name} labels lie outside 0…9")
    if x_train.shape[1] != x_test.shape[1]:
        raise DatasetError(f"mnist1d train signals have length {x_train.shape[1]}, test {x_test.shape[1]}")
    if x_train.shape[0] == 0 or x_test.shape[0] == 0:
        raise DatasetError(f"mnist1d with num_samples={num_samples} has an empty train or test set")
    return x_train[:, None, :], y_train, x_test[:, None, :], y_test, t


def load_mnist1d(*, seed: int = 0, num_samples: int = 5000) -> Mnist1dData:
    """MNIST-1D generated by ``mnist1d.data.make_dataset`` with the package's default arguments
    (``get_dataset_args()``), except ``seed`` and ``num_samples``; see the module docstring.

    ``num_samples`` ≥ 10 (the package makes ``num_samples // 10`` signals per class, so the total
    is rounded down to a multiple of 10; 80 % train, 20 % test); at most
    :data:`MAX_MNIST1D_SAMPLES`. ``seed`` in [0, 2³²). The same arguments give identical arrays;
    each set is generated once per process and cached (≈ 1.2 s for 5,000 signals), and every call
    returns fresh copies. The global ``random`` / ``np.random`` states are restored after the
    generation. Raises :class:`~sltheory.errors.DatasetError` if mnist1d is not installed.
    """
    seed = nonnegative_int("seed", seed, maximum=_MAX_SEED)
    num_samples = nonnegative_int("num_samples", num_samples, minimum=10, maximum=MAX_MNIST1D_SAMPLES)
    key = (seed, num_samples)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _generate(seed, num_samples)
            _CACHE[key] = cached
    x_train, y_train, x_test, y_test, t = (a.copy() for a in cached)
    return Mnist1dData(x_train, y_train, x_test, y_test, t, seed, num_samples)


def load_mnist1d_dataset(*, seed: int = 0, num_samples: int = 5000):
    """MNIST-1D as a flat :class:`~sltheory.data.Dataset` for MLPs (as :func:`~sltheory.data.load_digits`):
    the signals of :func:`load_mnist1d` (same ``seed`` and ``num_samples``) flattened to 40 features,
    divided by the largest training norm (test rows above norm 1 projected onto the sphere), the one
    scaling rule of every loader (:mod:`sltheory.data.dataset`); 10 classes."""
    import torch

    from .dataset import Dataset, _to_unit_ball

    raw = load_mnist1d(seed=seed, num_samples=num_samples)
    x_train, x_test, scale, clipped = _to_unit_ball(raw.x_train.reshape(len(raw.x_train), -1),
                                                    raw.x_test.reshape(len(raw.x_test), -1), "mnist1d")
    return Dataset("mnist1d", torch.from_numpy(x_train), torch.from_numpy(raw.y_train.astype(np.int64)),
                   torch.from_numpy(x_test), torch.from_numpy(raw.y_test.astype(np.int64)), 10, scale, clipped)
