"""Data sets as sltheory uses them: seeded splits, unit-ball inputs, small bias-free ReLU MLPs.

The theorems bound ``sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂``, so every input this module returns lies in
the unit ball. The scaling is one constant for the whole data set, never per row:

1. ``scale = max_i ‖x_i‖₂`` over the **training** rows (raw pixel values: 0…16 for digits,
   0…255 for MNIST), and every row, training and test, is divided by it;
2. a row whose norm still exceeds 1 after that (test rows brighter than every training row, and
   the training row of largest norm when rounding leaves it an ulp above 1) is divided by its own
   norm — projected radially onto the sphere, a hair inside it, so that ``‖x‖₂ ≤ 1`` holds for the
   float64 norm as numpy and torch compute it.

:attr:`Dataset.scale` records the constant and :attr:`Dataset.test_rows_clipped` how many test
rows step 2 moved. Randomness is explicit: splits use ``numpy.random.default_rng(seed)``, training
uses a ``torch.Generator`` seeded with ``seed`` (initialization and shuffling); the global RNGs of
numpy and torch are neither read nor advanced. Nothing is ever downloaded: digits ships inside
scikit-learn, MNIST is read from files the caller already has.

Example::

    data = sltheory.datasets.load_digits(seed=0)
    net = sltheory.datasets.train_mlp([data.dim, 32, data.num_classes], data, seed=0)
    sltheory.datasets.accuracy(net, data.x_test, data.y_test)      # ≈ 0.97
    ticket = sltheory.approximate(net, sltheory.random_network(net, eps=0.01, seed=0), rescale=True)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DatasetError

__all__ = ["Dataset"]


def _row_norms(x: np.ndarray) -> np.ndarray:
    """Per-row ‖x‖₂, the larger of numpy's and torch's float64 computation (they may differ by an ulp)."""
    n_np = np.linalg.norm(x, axis=1)
    n_torch = torch.linalg.vector_norm(torch.from_numpy(x), dim=1).numpy()
    return np.maximum(n_np, n_torch)


def _clip_to_unit_ball(x: np.ndarray) -> int:
    """Divide (in place) every row of ``x`` whose norm exceeds 1 by that norm; return how many rows moved.

    The divisor carries a factor 1 + 4u (u = 2⁻⁵³) so the result's computed norm is ≤ 1, not 1 + ulp.
    """
    moved = np.zeros(x.shape[0], dtype=bool)
    for _ in range(8):          # one pass suffices in practice; the loop only guards against rounding
        norms = _row_norms(x)
        over = norms > 1.0
        if not over.any():
            return int(moved.sum())
        moved |= over
        x[over] /= (norms[over] * (1.0 + 4 * np.finfo(np.float64).eps / 2))[:, None]
    raise AssertionError("rows still above norm 1 after repeated projection")  # pragma: no cover


def _to_unit_ball(x_train: np.ndarray, x_test: np.ndarray, name: str):
    """Scale both sets by the max training-row norm, then clip rows above 1 (module docstring)."""
    x_train = np.array(x_train, dtype=np.float64)      # copies: the caller's arrays stay untouched
    x_test = np.array(x_test, dtype=np.float64)
    if not (np.all(np.isfinite(x_train)) and np.all(np.isfinite(x_test))):
        raise DatasetError(f"{name}: inputs contain nan or inf")
    scale = float(np.linalg.norm(x_train, axis=1).max()) if x_train.shape[0] else 0.0
    if scale == 0.0:
        raise DatasetError(f"{name}: every training row is zero (or there are none); cannot scale "
                           "the inputs into the unit ball")
    x_train /= scale
    x_test /= scale
    _clip_to_unit_ball(x_train)
    clipped = _clip_to_unit_ball(x_test)
    return x_train, x_test, scale, clipped


@dataclass(frozen=True)
class Dataset:
    """A classification data set with inputs in the unit ball; checks its invariants when built.

    ``x_train`` / ``x_test``: float64, shape (N, d), every row ‖x‖₂ ≤ 1 (scaled as the module
    docstring says); ``y_train`` / ``y_test``: int64 labels in ``[0, num_classes)``.
    ``scale`` is the constant the raw inputs were divided by (raw = x · scale, except for clipped
    rows) and ``test_rows_clipped`` how many test rows were projected back onto the sphere.
    Anything else raises :class:`~sltheory.errors.DatasetError`.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    scale: float = 1.0
    test_rows_clipped: int = 0

    def __post_init__(self):
        if not isinstance(self.num_classes, numbers.Integral) or isinstance(self.num_classes, bool) \
                or self.num_classes < 1:
            raise DatasetError(f"{self.name}: num_classes must be a positive integer, got {self.num_classes!r}")
        dim = None
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if not isinstance(x, torch.Tensor) or x.dtype != torch.float64 or x.ndim != 2:
                raise DatasetError(f"{self.name}: x_{part} must be a 2-D float64 torch.Tensor, got "
                                   f"{type(x).__name__} {getattr(x, 'dtype', '')} {tuple(getattr(x, 'shape', ()))}")
            if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.ndim != 1:
                raise DatasetError(f"{self.name}: y_{part} must be a 1-D int64 torch.Tensor, got "
                                   f"{type(y).__name__} {getattr(y, 'dtype', '')} {tuple(getattr(y, 'shape', ()))}")
            if x.shape[0] != y.shape[0]:
                raise DatasetError(f"{self.name}: x_{part} has {x.shape[0]} rows but y_{part} "
                                   f"has {y.shape[0]} labels")
            if dim is not None and x.shape[1] != dim:
                raise DatasetError(f"{self.name}: x_train has {dim} columns but x_test has {x.shape[1]}")
            dim = x.shape[1]
            if x.shape[0] and not bool(torch.isfinite(x).all()):
                raise DatasetError(f"{self.name}: x_{part} contains nan or inf")
            if x.shape[0] and float(torch.linalg.vector_norm(x, dim=1).max()) > 1.0:
                raise DatasetError(f"{self.name}: some row of x_{part} has ‖x‖₂ > 1; inputs must lie "
                                   "in the unit ball")
            if y.shape[0] and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise DatasetError(f"{self.name}: y_{part} has labels outside [0, {self.num_classes})")
        if self.x_train.shape[0] == 0:
            raise DatasetError(f"{self.name}: the training set is empty")

    @property
    def dim(self) -> int:
        """Input dimension d (columns of ``x_train``)."""
        return int(self.x_train.shape[1])


