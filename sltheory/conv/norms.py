"""Sound upper bounds on the ℓ2 operator norms (Lipschitz constants) of the ops of a conv target.

Every bound is on the operator acting on the op's actual input shape, flattened (C·H·W or C·L).

Convolutions (:func:`conv_norm_bound`)
--------------------------------------
Let A be a zero-padded convolution (PyTorch's cross-correlation, y[o] = Σ_p K_p x̃[s·o + p], K_p the
c_out × c_in matrix at kernel position p, x̃ the input zero-padded by ``pad`` on both sides of every
spatial axis) on an n-grid, stride s, kernel size k. Write N = n + 2·pad per axis.

*Stride 1 is a restriction of a circular convolution.* Embed x ∈ ℝ^{c_in × n} into the N-grid (the
zero padding; an isometry E) and let C be the circular cross-correlation on Z_N:
(Cz)[o] = Σ_p K_p z[(o + p) mod N], o ∈ Z_N. The stride-1 outputs are o = 0 … N − k (per axis), and
there o + p ≤ N − k + k − 1 = N − 1: no index wraps around, so (Cz)[o] = Σ_p K_p z[o + p] = y[o].
Hence A₁ = Π C E with Π the coordinate projection onto those outputs (a crop), and
‖A₁‖ ≤ ‖Π‖ ‖C‖ ‖E‖ = ‖C‖. (An output exists only when k ≤ N, so no kernel position aliases.)

*The norm of C.* For z[j] = v e^{2πi ω·j/N} (v ∈ ℂ^{c_in}, ω ∈ Z_N^d; ω·j/N := Σ_a ω_a j_a/N_a),
(Cz)[o] = K̂(ω) v e^{2πi ω·o/N} with K̂(ω) = Σ_p K_p e^{2πi ω·p/N}. The Fourier basis is orthonormal
(after scaling), so C is unitarily similar to the block-diagonal matrix diag_ω K̂(ω), and
‖C‖ = max_ω ‖K̂(ω)‖₂ (its norm over ℂ equals its norm over ℝ, C being real). K is real, so
K̂(−ω) = conj K̂(ω) has the same norm: the last axis needs only ω_d ∈ {0 … ⌊N_d/2⌋} (the half
spectrum; every ω is either there or its negative is). The bound is exact for circular-like layers.

*Strides.* y_s[o] = y₁[s·o] (s·o ≤ N − k for every output of the strided layer), so A_s = Π' A₁
with Π' a coordinate projection: ‖A_s‖ ≤ ‖A₁‖. Tighter (the polyphase form, :func:`polyphase_kernel`):
embed into the grid N_s = s·⌈N/s⌉ ≥ N instead (more zeros; still no wrap-around, s·o + p ≤ N − 1) and
split x̃ into its s^d phases z_φ[j] = x̃[s j + φ] (a permutation: an isometry). Then
y_s[o] = Σ_p K_p x̃[s o + p] = Σ_{φ, q} K_{s q + φ} z_φ[o + q]: a stride-1 circular cross-correlation on
the grid ⌈N/s⌉ with c_in·s^d input channels and kernel K'_q = [K_{s q + φ}]_φ (0 beyond k) of size
⌈k/s⌉ ≤ ⌈N/s⌉, cropped. Its DFT bound (exact for the strided circular layer) is also taken.

*Small layers.* When the unrolled matrix is small (:data:`DENSE_MAX_IN` inputs, :data:`DENSE_MAX_OUT`
outputs) it is also built exactly (each entry is 0 or one kernel entry, copied: no rounding) and its
norm taken by LAPACK; the smaller of the two bounds is returned (exact for strides too).

*Floating point.* K̂(ω) is computed as two real matrix products K (c_out·c_in × k) with the tables
cos θ_{ω,p}, sin θ_{ω,p}, θ = 2π m/L where m = (Σ_a ω_a p_a L/N_a) mod L is an exact integer and
L = Π_a N_a. fl(2π), the division and the product are each within u relative: |θ̂ − θ| ≤ 3.01u·2π < 19u;
assuming libm's cos/sin within 4 ulps (≤ 8u for values in [−1, 1]), every table entry is within
ε = 32u of the exact cos/sin (u = 2⁻⁵³). A real dot product of k terms is within γ_k Σ|a||b| of the
exact one (Higham, Thm 3.5), so each real and imaginary part of an entry of K̂(ω) is within
(γ_k (1 + ε) + ε) S_ij, S = Σ_p |K_p| (entrywise), and the complex entry within √2 times that:

    ‖K̂(ω) − fl K̂(ω)‖₂ ≤ ‖·‖_F ≤ √2 (γ_k (1 + ε) + ε) ‖S‖_F =: ΔK̂       (the same for every ω),

(‖S‖_F computed, then doubled to cover its own rounding). The spectral norm of each computed
K̂(ω) comes from batched LAPACK (``numpy.linalg.svd`` without vectors, frequencies in chunks of
about :data:`CHUNK_BYTES`) times (1 + 10⁻¹⁰) — the convention of the MLP certificate
(:mod:`sltheory.certificate.bound` multiplies LAPACK norms by 1 + 10⁻¹²; LAPACK's largest singular
value is within a few n·u of the exact one), so

    ‖A‖₂ ≤ max_ω σ̂_max(fl K̂(ω)) · (1 + 10⁻¹⁰) + ΔK̂.

Cost: k·c_out·c_in per frequency to build, one c_out × c_in SVD per frequency of the half spectrum:
256 → 256 channels, 3 × 3, on 32 × 32 (612 frequencies) takes about 6 s on two cores.

*Nonnegative kernels* (:func:`abs_conv_norm_bound`, used for rounding terms): for K ≥ 0 entrywise,
|K̂(ω)| ≤ K̂(0) = S entrywise, and ‖M‖₂ ≤ ‖|M|‖₂ ≤ ‖B‖₂ whenever |M| ≤ B (Perron–Frobenius), so
‖A‖ ≤ ‖S‖₂: one c_out × c_in norm, for any shape, stride and padding.

Pools (:func:`pool_lipschitz`)
------------------------------
Both act per channel with the same window geometry, and the geometry is a product over axes: window
o covers ∏_a {s_a o_a − pad_a … s_a o_a − pad_a + k_a − 1}.

*Max pool* (padding counts as −∞ and never wins; PyTorch keeps pad ≤ k/2, so every window holds an
input): |max_w a − max_w b| ≤ max_{i∈w} |a_i − b_i|, so ‖mp(a) − mp(b)‖² ≤ Σ_o Σ_{i∈w_o} (a_i − b_i)² ≤
c_max ‖a − b‖², c_max the largest number of windows that contain one input position (a product of
the per-axis maxima). L = √c_max, and mp(0) = 0 gives ‖mp(a)‖ ≤ L‖a‖.

*Average pool* (linear): entry (o, i) = 1/div_o for the input positions i of window o, div_o = ∏k_a
(``count_include_pad``; without ceil mode no window reaches beyond the padding) or the number of input
positions in the window (a product over axes too). So the matrix is a Kronecker product of per-axis
matrices A_a (per channel, block diagonal over channels) and ‖A‖ = ∏_a ‖A_a‖, with
‖A_a‖ ≤ min(σ̂_max(A_a)(1 + 10⁻¹⁰), √(‖A_a‖₁ ‖A_a‖_∞)(1 + 10⁻¹²)) (entries 1/div rounded: relative u).
"""

from __future__ import annotations

import math

import numpy as np

from .._linalg import UNIT_ROUNDOFF, gamma
from ..targets import spectral_norm
from .ops import Affine, Flatten, Pool, ReLU, Residual

#: Safety factor on a LAPACK spectral norm (see the module docstring).
LAPACK_SAFETY = 1.0 + 1e-10
#: Absolute accuracy assumed of one computed cos/sin table entry (argument rounding + libm), in u.
PHASE_ERROR_ULPS = 32
#: Memory of one chunk of frequency matrices K̂(ω) (complex128).
CHUNK_BYTES = 64 * 2 ** 20
#: Unrolled-matrix sizes up to which the exact dense norm is also taken.
DENSE_MAX_IN = 512
DENSE_MAX_OUT = 2048

Shape = tuple[int, ...]


def _tuple(v, d: int, what: str) -> Shape:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * d
    t = tuple(int(x) for x in v)
    if len(t) == 1 and d > 1:
        t = t * d
    if len(t) != d:
        raise ValueError(f"{what} {tuple(v)} does not match a {d}-D kernel")
    return t


def linear_norm_bound(W) -> float:
    """Upper bound on ‖W‖₂ of a fully connected layer (LAPACK × (1 + 10⁻¹²), or the verified
    Gram/Cholesky bound for large matrices: :func:`sltheory.targets.spectral_norm`)."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"a linear layer's weight must be 2-D, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("the weight has non-finite entries")
    return float(spectral_norm(W))


def _check_conv(kernel, in_shape, stride, padding):
    K = np.asarray(kernel, dtype=np.float64)
    if K.ndim < 3:
        raise ValueError(f"a conv kernel has shape (out, in, *kernel), got {K.shape}")
    d = K.ndim - 2
    in_shape = tuple(int(x) for x in in_shape)
    if len(in_shape) != d + 1:
        raise ValueError(f"input shape {in_shape} does not fit a {d}-D kernel")
    if in_shape[0] != K.shape[1]:
        raise ValueError(f"the kernel reads {K.shape[1]} channels, the input has {in_shape[0]}")
    s = _tuple(stride, d, "stride")
    p = _tuple(padding, d, "padding")
    n = in_shape[1:]
    k = K.shape[2:]
    if any(x < 1 for x in s) or any(x < 0 for x in p):
        raise ValueError(f"stride {s} must be ≥ 1 and padding {p} ≥ 0")
    N = tuple(a + 2 * b for a, b in zip(n, p))
    if any(kk > NN for kk, NN in zip(k, N)):
        raise ValueError(f"kernel {k} larger than the padded input {N}: no output")
    if not np.all(np.isfinite(K)):
        raise ValueError("the kernel has non-finite entries")
    return K, d, n, k, s, p, N


def _out_sizes(n, k, s, p) -> Shape:
    return tuple((a + 2 * c - b) // st + 1 for a, b, st, c in zip(n, k, s, p))


def conv_matrix(kernel, in_shape, stride, padding) -> np.ndarray:
    """The unrolled (exact) matrix of a zero-padded convolution: rows (c_out, *out positions),
    columns (c_in, *input positions), C order (so it acts on the flattened input)."""
    K, d, n, k, s, p, N = _check_conv(kernel, in_shape, stride, padding)
    co, ci = K.shape[:2]
    out = _out_sizes(n, k, s, p)
    n_out, n_in = int(np.prod(out)), int(np.prod(n))
    A = np.zeros((co, n_out, ci, n_in))
    o_idx = np.indices(out).reshape(d, -1)                  # (d, n_out)
    for pos in np.ndindex(*k):
        src = o_idx * np.array(s)[:, None] - np.array(p)[:, None] + np.array(pos)[:, None]
        ok = np.all((src >= 0) & (src < np.array(n)[:, None]), axis=0)
        flat = np.ravel_multi_index(tuple(src[:, ok]), n) if ok.any() else np.zeros(0, dtype=np.int64)
        rows = np.flatnonzero(ok)
        # distinct kernel positions reach distinct inputs from one output: plain assignment, exact
        A[:, rows, :, flat] = K[(slice(None), slice(None)) + pos][None, :, :]
    return A.reshape(co * n_out, ci * n_in)


def _frequencies(N: Shape) -> np.ndarray:
    """The half spectrum: all ω_a on the leading axes, 0 … ⌊N_d/2⌋ on the last; (F, d) ints."""
    ranges = [np.arange(x) for x in N[:-1]] + [np.arange(N[-1] // 2 + 1)]
    return np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, len(N))


def _dft_bound(K: np.ndarray, k: Shape, N: Shape) -> float:
    co, ci = K.shape[:2]
    d = len(N)
    npos = int(np.prod(k))
    Kmat = K.reshape(co * ci, npos)
    L = int(np.prod(N))
    pos = np.indices(k).reshape(d, -1)                       # (d, npos)
    omegas = _frequencies(N)                                 # (F, d)
    stride_L = np.array([L // x for x in N], dtype=np.int64)
    chunk = max(1, int(CHUNK_BYTES // (16 * co * ci + 1)))
    two_pi = 2.0 * math.pi
    best = 0.0
    for start in range(0, len(omegas), chunk):
        om = omegas[start:start + chunk].astype(np.int64)    # (f, d)
        m = np.zeros((npos, len(om)), dtype=np.int64)
        for a in range(d):
            m += (np.outer(pos[a], om[:, a]) % N[a]) * stride_L[a]
        theta = two_pi * ((m % L) / L)
        re = (Kmat @ np.cos(theta)).reshape(co, ci, -1)
        im = (Kmat @ np.sin(theta)).reshape(co, ci, -1)
        Z = np.empty((len(om), co, ci), dtype=np.complex128)
        Z.real = np.moveaxis(re, -1, 0)
        Z.imag = np.moveaxis(im, -1, 0)
        sv = np.linalg.svd(Z, compute_uv=False)
        best = max(best, float(sv[:, 0].max()))
    eps = PHASE_ERROR_ULPS * UNIT_ROUNDOFF
    S = np.abs(Kmat).sum(axis=1)
    dK = math.sqrt(2.0) * (gamma(npos) * (1 + eps) + eps) * 2.0 * float(np.linalg.norm(S))
    return best * LAPACK_SAFETY + dK


def polyphase_kernel(K: np.ndarray, stride: Shape, N: Shape) -> tuple[np.ndarray, Shape, Shape]:
    """The stride-1 kernel K' (c_out, c_in·∏s_a, *⌈k/s⌉) on the grid ⌈N/s⌉ of a stride-s conv
    (module docstring, *Strides*): K'[:, (i, φ), q] = K[:, i, s q + φ] (0 beyond the kernel)."""
    co, ci = K.shape[:2]
    k = K.shape[2:]
    kp = tuple(-(-a // b) for a, b in zip(k, stride))
    Np = tuple(-(-a // b) for a, b in zip(N, stride))
    phases = list(np.ndindex(*stride))
    out = np.zeros((co, ci, len(phases)) + kp)
    for j, phi in enumerate(phases):
        sl = tuple(slice(f, None, b) for f, b in zip(phi, stride))
        part = K[(slice(None), slice(None)) + sl]
        out[(slice(None), slice(None), j) + tuple(slice(0, x) for x in part.shape[2:])] = part
    return out.reshape((co, ci * len(phases)) + kp), kp, Np


def conv_norm_bound(kernel, in_shape, stride=1, padding=0) -> float:
    """Upper bound on the ℓ2 operator norm of the zero-padded convolution with ``kernel`` (c_out,
    c_in, *k) on inputs of shape ``in_shape`` = (c_in, *n), flattened (module docstring: the
    circular embedding and the DFT, exact for stride 1 up to the cropping; the dense norm as well
    for small layers). ValueError on inconsistent shapes or non-finite kernels."""
    K, d, n, k, s, p, N = _check_conv(kernel, in_shape, stride, padding)
    if K.size == 0 or not np.any(K):
        return 0.0
    bound = _dft_bound(K, k, N)
    if any(x > 1 for x in s):
        Kp, kp, Np = polyphase_kernel(K, s, N)
        bound = min(bound, _dft_bound(Kp, kp, Np))
    n_in = K.shape[1] * int(np.prod(n))
    n_out = K.shape[0] * int(np.prod(_out_sizes(n, k, s, p)))
    if n_in <= DENSE_MAX_IN and n_out <= DENSE_MAX_OUT:
        bound = min(bound, float(spectral_norm(conv_matrix(K, in_shape, s, p))))
    return bound


def abs_conv_norm_bound(kernel) -> float:
    """Upper bound on ‖conv_K‖₂ for a kernel K ≥ 0 entrywise, on any input shape, stride and padding:
    ‖Σ_p K_p‖₂ (module docstring; the sum of nonnegative terms is rounded up by (1 + γ_{k+1}))."""
    K = np.asarray(kernel, dtype=np.float64)
    if K.ndim < 2:
        raise ValueError(f"a kernel has shape (out, in, *kernel), got {K.shape}")
    if not np.all(np.isfinite(K)):
        raise ValueError("the kernel has non-finite entries")
    if np.any(K < 0):
        raise ValueError("abs_conv_norm_bound needs a nonnegative kernel")
    npos = int(np.prod(K.shape[2:])) if K.ndim > 2 else 1
    S = K.reshape(K.shape[0], K.shape[1], -1).sum(axis=2)
    if not np.any(S):
        return 0.0
    return float(spectral_norm(S)) * (1 + gamma(npos + 1))


def _pool_axis(n: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """The per-axis matrix (out × n) of a window geometry: 1 on each window's input positions
    (max pool: the incidence), divided by the divisor for average pooling (``include_pad`` None)."""
    out = (n + 2 * p - k) // s + 1
    M = np.zeros((out, n))
    for o in range(out):
        lo, hi = o * s - p, o * s - p + k
        M[o, max(lo, 0):min(hi, n)] = 1.0
    return M


def _check_pool(op: Pool):
    d = len(op.kernel)
    if op.kind not in ("max", "avg"):
        raise ValueError(f"unknown pool kind {op.kind!r}")
    n = tuple(int(x) for x in op.in_shape[1:])
    if len(n) != d:
        raise ValueError(f"pool kernel {op.kernel} does not fit the input shape {op.in_shape}")
    k = tuple(int(x) for x in op.kernel)
    s = _tuple(op.stride, d, "stride")
    p = _tuple(op.padding, d, "padding")
    if any(2 * b > a for a, b in zip(k, p)):
        raise ValueError(f"pool padding {p} larger than half the kernel {k}")
    return n, k, s, p


def pool_lipschitz(op: Pool) -> float:
    """Lipschitz constant (upper bound) of a max or average pool on its input shape (module
    docstring): √(max windows per input) for max pooling; the Kronecker product of the per-axis
    norms for average pooling (``count_include_pad`` either way)."""
    n, k, s, p = _check_pool(op)
    if op.kind == "max":
        c = 1
        for a in range(len(n)):
            c *= int(_pool_axis(n[a], k[a], s[a], p[a], True).sum(axis=0).max())
        return math.sqrt(c) * (1 + 2 * UNIT_ROUNDOFF)
    total = 1.0
    for a in range(len(n)):
        M = _pool_axis(n[a], k[a], s[a], p[a], True)
        div = np.full(M.shape[0], float(k[a])) if op.count_include_pad else M.sum(axis=1)
        A = M / div[:, None]
        l1 = float(A.sum(axis=0).max()) * (1 + gamma(A.shape[0] + 1))
        linf = float(A.sum(axis=1).max()) * (1 + gamma(A.shape[1] + 1))
        inter = math.sqrt(l1 * linf) * (1 + 1e-12)
        svd = float(np.linalg.norm(A, 2)) * LAPACK_SAFETY * (1 + 2 * UNIT_ROUNDOFF)
        total *= min(inter, svd)
    return total * (1 + gamma(len(n) + 1))


def pool_windows(op: Pool) -> int:
    """The number of input positions of one full window (∏ k_a): the terms of an average."""
    return int(np.prod(op.kernel))


def op_norm_bound(op) -> float:
    """Upper bound on the Lipschitz constant (ℓ2, flattened) of one op on its input shape: an Affine's
    linear part (:func:`conv_norm_bound` / :func:`linear_norm_bound`), a pool's
    (:func:`pool_lipschitz`), 1 for ReLU and Flatten, and for a Residual L_body + L_shortcut (1 for
    the identity), then ReLU (1-Lipschitz)."""
    if isinstance(op, Affine):
        if op.is_conv:
            return conv_norm_bound(op.weight, op.in_shape, op.stride, op.padding)
        return linear_norm_bound(op.weight)
    if isinstance(op, Pool):
        return pool_lipschitz(op)
    if isinstance(op, (ReLU, Flatten)):
        return 1.0
    if isinstance(op, Residual):
        body = math.prod(op_norm_bound(o) for o in op.body)
        short = math.prod(op_norm_bound(o) for o in op.shortcut) if op.shortcut else 1.0
        return (body + short) * (1 + 4 * UNIT_ROUNDOFF * (len(op.body) + len(op.shortcut) + 1))
    raise TypeError(f"unknown op {op!r}")
