"""scikit-learn's bundled 8×8 digits, split by class from an explicit seed and scaled into the unit ball."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import nonnegative_int, positive_float
from ..errors import InvalidArgumentError
from .dataset import Dataset, _to_unit_ball

__all__ = ["load_digits"]


def _stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Per class c, round(test_fraction · count_c) rows go to the test set; both index sets are
    then shuffled (so no slice of either is sorted by class)."""
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(*, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1,797 images, d = 64, 10 classes), split and scaled.

    The split is stratified by class, drawn from ``numpy.random.default_rng(seed)``: each class
    puts ``round(test_fraction · count)`` images in the test set (450 of 1,797 at 0.25). Pixel
    values 0…16 are divided by the largest training-image norm, and test images whose norm then
    exceeds 1 are projected onto the unit sphere (see the module docstring), so every row has
    ‖x‖₂ ≤ 1. Needs scikit-learn (the ``test`` extra); nothing is downloaded.
    """
    seed = nonnegative_int("seed", seed)
    test_fraction = positive_float("test_fraction", test_fraction, upper=1.0)
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("sltheory.datasets.load_digits needs scikit-learn (its digits ship inside "
                          "the package): pip install scikit-learn, or install sltheory[test]") from exc
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = _stratified_split(y, test_fraction, np.random.default_rng(seed))
    if train_idx.size == 0 or test_idx.size == 0:
        raise InvalidArgumentError(f"test_fraction={test_fraction} leaves an empty train or test set")
    x_train, x_test, scale, clipped = _to_unit_ball(x[train_idx], x[test_idx], "digits")
    return Dataset("digits", torch.from_numpy(x_train), torch.from_numpy(y[train_idx].copy()),
                   torch.from_numpy(x_test), torch.from_numpy(y[test_idx].copy()), 10,
                   scale=scale, test_rows_clipped=clipped)


