"""sltheory.conv.norms: conv / pool operator-norm bounds against the unrolled dense matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sltheory.conv import norms
from sltheory.conv.norms import (
    abs_conv_norm_bound,
    conv_matrix,
    conv_norm_bound,
    linear_norm_bound,
    op_norm_bound,
    pool_lipschitz,
)
from sltheory.conv.ops import Affine, Flatten, Pool, ReLU, Residual, apply_op


def unrolled(kernel: np.ndarray, in_shape, stride, padding) -> np.ndarray:
    """The dense matrix of the conv, by pushing the identity basis through torch."""
    n_in = int(np.prod(in_shape))
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *in_shape)
    fn = F.conv1d if kernel.ndim == 3 else F.conv2d
    out = fn(basis, torch.from_numpy(kernel), stride=stride, padding=padding)
    return out.reshape(n_in, -1).numpy().T


def pool_unrolled(op: Pool) -> np.ndarray:
    n_in = int(np.prod(op.in_shape))
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *op.in_shape)
    return apply_op(op, basis).reshape(n_in, -1).numpy().T


def random_case(rng, d=None):
    while True:
        d = d or int(rng.integers(1, 3))
        co, ci = (int(x) for x in rng.integers(1, 5, 2))
        k = tuple(int(x) for x in rng.integers(1, 6, d))
        s = tuple(int(x) for x in rng.integers(1, 4, d))
        p = tuple(int(min(a, b)) for a, b in zip(rng.integers(0, 3, d), k))
        n = tuple(int(x) for x in rng.integers(1, 10, d))
        if all(kk <= nn + 2 * pp for kk, nn, pp in zip(k, n, p)):
            return rng.standard_normal((co, ci) + k), (ci,) + n, s, p


def dft_only(K, in_shape, s, p):
    _, _, _, k, _, _, N = norms._check_conv(K, in_shape, s, p)
    return norms._dft_bound(K, k, N)


@pytest.mark.parametrize("d", [1, 2])
def test_dft_bound_above_exact_many_random(d):
    rng = np.random.default_rng(10 + d)
    ratios, poly_ratios = [], []
    for _ in range(120):
        K, shape, s, p = random_case(rng, d)
        A = unrolled(K, shape, s, p)
        np.testing.assert_array_equal(A, conv_matrix(K, shape, s, p))
        exact = np.linalg.norm(A, 2)
        b_dft = dft_only(K, shape, s, p)
        b = conv_norm_bound(K, shape, s, p)
        assert b_dft >= exact * (1 - 1e-14), (shape, s, p)
        _, _, _, _, _, _, N = norms._check_conv(K, shape, s, p)
        Kp, kp, Np = norms.polyphase_kernel(K, s, N)
        b_poly = norms._dft_bound(Kp, kp, Np)
        assert b_poly >= exact * (1 - 1e-14), (shape, s, p)
        if all(x == 1 for x in s):
            assert b_poly == b_dft
        poly_ratios.append(b_poly / max(exact, 1e-300))
        assert b >= exact * (1 - 1e-14)
        # small layers: the dense norm is taken too, so the bound is exact to rounding
        assert b <= exact * (1 + 1e-9) + 1e-300
        if exact > 0:    # a layer whose windows all lie in the padding is 0
            ratios.append(b_dft / exact)
    assert max(ratios) < 20
    print(f"DFT/exact up to {max(ratios):.3f}, polyphase/exact up to {max(r for r in poly_ratios if r < 1e100):.3f}")


def test_dft_exact_for_circular_like_layers():
    """Stride 1, kernel of size 2·pad + 1 along each axis ('same'), many channels: the crop removes
    nothing the extremal frequency needs when the grid is periodic-like; here the check is the
    exactness against the circulant itself, by building it."""
    rng = np.random.default_rng(3)
    for d in (1, 2):
        for _ in range(10):
            co, ci = rng.integers(1, 4, 2)
            k = tuple(int(x) for x in rng.integers(1, 4, d))
            n = tuple(int(x) for x in rng.integers(max(k), 8, d))
            K = rng.standard_normal((co, ci) + k)
            # the circular cross-correlation on the n-grid, dense
            C = np.zeros((co,) + n + (ci,) + n)
            for o in np.ndindex(*n):
                for pos in np.ndindex(*k):
                    src = tuple((a + b) % m for a, b, m in zip(o, pos, n))
                    C[(slice(None),) + o + (slice(None),) + src] += K[(slice(None), slice(None)) + pos]
            C = C.reshape(co * int(np.prod(n)), ci * int(np.prod(n)))
            exact = np.linalg.norm(C, 2)
            got = norms._dft_bound(K, k, n)
            assert exact <= got <= exact * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
       st.integers(0, 2), st.integers(2, 7), st.integers(0, 2 ** 31 - 1))
def test_hypothesis_bound_above_exact(d, co, ci, k, s, p, n, seed):
    p = min(p, k - 1) if k > 1 else 0
    if k > n + 2 * p:
        return
    rng = np.random.default_rng(seed)
    K = rng.standard_normal((co, ci) + (k,) * d) * 10.0 ** rng.uniform(-3, 3)
    shape = (ci,) + (n,) * d
    exact = np.linalg.norm(unrolled(K, shape, (s,) * d, (p,) * d), 2)
    assert dft_only(K, shape, (s,) * d, (p,) * d) >= exact * (1 - 1e-14)
    _, _, _, _, _, _, N = norms._check_conv(K, shape, (s,) * d, (p,) * d)
    Kp, kp, Np = norms.polyphase_kernel(K, (s,) * d, N)
    assert norms._dft_bound(Kp, kp, Np) >= exact * (1 - 1e-14)
    assert conv_norm_bound(K, shape, s, p) >= exact * (1 - 1e-14)


def test_large_layer_dft_bound_near_power_iteration():
    import time
    rng = np.random.default_rng(0)
    K = rng.standard_normal((32, 32, 3, 3)) / 30
    t = time.perf_counter()
    b = conv_norm_bound(K, (32, 16, 16), 1, 1)
    print(f"32→32 channels on 16×16: {time.perf_counter() - t:.2f} s")   # ~0.05 s on an idle machine
    # a lower bound by power iteration on the real operator
    x = torch.randn(1, 32, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = torch.from_numpy(K)
    for _ in range(60):
        y = F.conv2d(x, w, padding=1)
        x = F.conv_transpose2d(y, w, padding=1)
        x = x / x.norm()
    lower = F.conv2d(x, w, padding=1).norm().item()
    assert lower <= b <= lower * 1.05


def test_abs_kernel_bound_and_linear():
    rng = np.random.default_rng(1)
    for _ in range(30):
        K, shape, s, p = random_case(rng)
        A = np.abs(K)
        exact = np.linalg.norm(unrolled(A, shape, s, p), 2)
        assert abs_conv_norm_bound(A) >= exact * (1 - 1e-14)
        assert abs_conv_norm_bound(A) >= np.linalg.norm(unrolled(K, shape, s, p), 2) * (1 - 1e-14)
    W = rng.standard_normal((7, 5))
    assert np.linalg.norm(W, 2) <= linear_norm_bound(W) <= np.linalg.norm(W, 2) * (1 + 1e-11)
    with pytest.raises(ValueError):
        abs_conv_norm_bound(-np.ones((1, 1, 2)))
    with pytest.raises(ValueError):
        conv_norm_bound(np.ones((1, 2, 3)), (1, 5))
    with pytest.raises(ValueError):
        conv_norm_bound(np.full((1, 1, 3), np.nan), (1, 5))


def _pool_cases():
    cases = []
    for kind in ("max", "avg"):
        for cip in (True, False):
            for d in (1, 2):
                for k in (1, 2, 3, 4):
                    for s in (1, 2, 3):
                        for p in range(0, k // 2 + 1):
                            for n in (k, 5, 8):
                                if k > n + 2 * p:
                                    continue
                                out = (n + 2 * p - k) // s + 1
                                cases.append(Pool(kind, (k,) * d, (s,) * d, (p,) * d, cip, (2,) + (n,) * d,
                                                  (2,) + (out,) * d))
    return cases


def test_pool_lipschitz_against_unrolled_and_brute_force():
    rng = np.random.default_rng(5)
    for op in _pool_cases():
        L = pool_lipschitz(op)
        if op.kind == "avg":
            exact = np.linalg.norm(pool_unrolled(op), 2)
            assert exact <= L <= exact * (1 + 1e-9), op
            continue
        # max pool: brute-force count of windows per position, and random pairs of inputs
        n = op.in_shape[1:]
        counts = np.zeros(n)
        for o in np.ndindex(*op.out_shape[1:]):
            sl = tuple(slice(max(a * s - p, 0), min(a * s - p + k, m))
                       for a, s, p, k, m in zip(o, op.stride, op.padding, op.kernel, n))
            counts[sl] += 1
        assert L >= np.sqrt(counts.max()) and L <= np.sqrt(counts.max()) * (1 + 1e-12)
        a = torch.from_numpy(rng.standard_normal((64,) + op.in_shape))
        b = a + torch.from_numpy(rng.standard_normal((64,) + op.in_shape)) * 0.1
        num = (apply_op(op, a) - apply_op(op, b)).reshape(64, -1).norm(dim=1)
        den = (a - b).reshape(64, -1).norm(dim=1)
        assert torch.all(num <= L * den * (1 + 1e-12))
        # the bound is attained: spikes of equal height at the most-covered positions
        i = np.unravel_index(int(np.argmax(counts)), counts.shape)
        x = torch.zeros((1,) + op.in_shape, dtype=torch.float64)
        x[(0, 0) + tuple(int(v) for v in i)] = 1.0
        assert apply_op(op, x).norm().item() == pytest.approx(np.sqrt(counts.max()))


def test_op_norm_bound_dispatch():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 2, 3, 3))
    conv = Affine(W, None, (1, 1), (1, 1), (2, 5, 5), (3, 5, 5))
    exact = np.linalg.norm(unrolled(W, (2, 5, 5), 1, 1), 2)
    assert op_norm_bound(conv) == pytest.approx(exact, rel=1e-9)
    lin = Affine(rng.standard_normal((4, 75)), None, (), (), (75,), (4,))
    assert op_norm_bound(lin) == pytest.approx(np.linalg.norm(lin.weight, 2), rel=1e-9)
    assert op_norm_bound(ReLU((3,), (3,))) == 1.0 and op_norm_bound(Flatten((3, 5, 5), (75,))) == 1.0
    res = Residual((conv,), (), True, (2, 5, 5), (3, 5, 5))
    assert op_norm_bound(res) >= exact + 1.0


def test_strided_large_layer_polyphase_is_tight():
    """A stride-2 layer too large for the dense path: the polyphase bound is within a few % of a
    power-iteration lower bound (the plain stride-1 bound is ~1.4× off)."""
    rng = np.random.default_rng(4)
    K = rng.standard_normal((16, 16, 3, 3))
    b = conv_norm_bound(K, (16, 16, 16), 2, 1)
    x = torch.randn(1, 16, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = torch.from_numpy(K)
    for _ in range(200):
        y = F.conv2d(x, w, stride=2, padding=1)
        x = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)
        x = x / x.norm()
    lower = F.conv2d(x, w, stride=2, padding=1).norm().item()
    plain = dft_only(K, (16, 16, 16), (1, 1), (1, 1))
    print(f"stride-2 16x16: bound/lower {b / lower:.4f}, stride-1 bound/lower {plain / lower:.4f}")
    assert lower <= b <= lower * 1.1
