"""The verified spectral-norm bound (Gram + Cholesky) used for large matrices."""

import numpy as np
import pytest

from sltheory._linalg import GRAM_MIN_SIDE, spectral_norm_bound
from sltheory.targets import NORM_SAFETY, spectral_norm


@pytest.mark.parametrize("shape", [(520, 600), (700, 530), (40, 3)])
def test_bound_is_above_and_close_to_the_svd(shape):
    M = np.random.default_rng(1).standard_normal(shape)
    exact = float(np.linalg.norm(M, 2))
    bound = spectral_norm_bound(M)
    assert exact <= bound <= exact * (1 + 1e-6)


def test_special_matrices():
    assert spectral_norm_bound(np.zeros((600, 600))) == 0.0
    assert spectral_norm_bound(np.zeros((0, 5))) == 0.0
    u = np.random.default_rng(2).standard_normal((600, 1))
    M = u @ u.T                                   # rank one: ‖M‖₂ = ‖u‖²
    s = float(np.sum(u * u))
    assert s * (1 - 1e-12) <= spectral_norm_bound(M) <= s * (1 + 1e-6)
    assert spectral_norm_bound(np.eye(GRAM_MIN_SIDE)) == pytest.approx(1.0, rel=1e-6)


def test_targets_dispatch():
    small = np.random.default_rng(3).standard_normal((GRAM_MIN_SIDE - 1, GRAM_MIN_SIDE + 5))
    assert spectral_norm(small) == float(np.linalg.norm(small, 2)) * NORM_SAFETY  # unchanged below the side
    big = np.random.default_rng(4).standard_normal((GRAM_MIN_SIDE, GRAM_MIN_SIDE + 5))
    assert spectral_norm(big) == spectral_norm_bound(big) >= float(np.linalg.norm(big, 2))
