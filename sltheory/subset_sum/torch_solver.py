"""Batched meet-in-the-middle subset sum in torch: the solver for ``device="cuda"`` (any device works).

Same problem as :func:`sltheory.subset_sum.solve`: P independent problems, each ``counts[p]`` of
the n samples of row p and a target; find the subset S minimizing |Σ_{k∈S} c_k − t|.

Exact mode (``tol=0``), per chunk of problems on the chosen device: the sums of all 2^{n₁}
subsets of the first half (a (P, 2^{n₁}) matrix product with the 0/1 subset table) and of the
second half, the second sorted; for every first-half sum a, ``searchsorted`` finds the two
second-half sums bracketing t − a, and the best of all these pairs is the optimum (the closest
b to t − a is one of the two neighbours in sorted order). Chunks keep the (P, 2^{n₁}) tensors
under ``max_elements`` entries.

Prefix mode (``tol>0``): solve exactly on growing prefixes of each row (8, 12, 16, … samples,
then all), and stop for a problem at the first prefix whose optimum is within ``tol`` — the GPU
counterpart of the CPU solver's ``staged`` mode (the chosen subset is the optimum of that prefix,
not the fewest-element subset within tol). Problems no prefix solves get the optimum of all
samples.

Errors are recomputed in float64 from the returned masks (|Σ selected − t|, summed in index
order), so they are exactly what a forward pass through the kept weights adds up to.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidArgumentError

__all__ = ["solve_torch", "PREFIXES"]

#: Prefix sizes of the tol > 0 mode (then all samples).
PREFIXES = (8, 12, 16, 20, 24, 28, 32)
#: Largest n: masks are int64 and the half tables 2^(n/2) rows.
MAX_N = 44


def _subset_table(m: int, device) -> torch.Tensor:
    """(2^m, m) float64 0/1 matrix: row r is the binary expansion of r (bit k = sample k)."""
    r = torch.arange(1 << m, device=device, dtype=torch.int64)
    bits = (r[:, None] >> torch.arange(m, device=device, dtype=torch.int64)[None, :]) & 1
    return bits.to(torch.float64)


def _exact(c: torch.Tensor, t: torch.Tensor, max_elements: int) -> torch.Tensor:
    """Optimal subset masks (int64) of rows ``c`` (P, m) for targets ``t`` (P,), on c's device."""
    P, m = c.shape
    device = c.device
    if m == 0:
        return torch.zeros(P, dtype=torch.int64, device=device)
    m1 = m // 2
    m2 = m - m1
    TA, TB = _subset_table(m1, device), _subset_table(m2, device)
    out = torch.empty(P, dtype=torch.int64, device=device)
    chunk = max(1, max_elements // max(1 << m1, 1 << m2))
    for s in range(0, P, chunk):
        cs, ts = c[s:s + chunk], t[s:s + chunk]
        SA = cs[:, :m1] @ TA.T                        # (p, 2^m1)
        SB = cs[:, m1:] @ TB.T                        # (p, 2^m2)
        SBs, order = torch.sort(SB, dim=1)
        need = ts[:, None] - SA
        hi = torch.searchsorted(SBs, need.contiguous()).clamp_(max=SBs.shape[1] - 1)
        lo = (hi - 1).clamp_(min=0)
        err_hi = (torch.gather(SBs, 1, hi) - need).abs()
        err_lo = (torch.gather(SBs, 1, lo) - need).abs()
        use_lo = err_lo < err_hi
        pos = torch.where(use_lo, lo, hi)
        err = torch.where(use_lo, err_lo, err_hi)
        a = torch.argmin(err, dim=1)                   # best first-half subset per problem
        b = torch.gather(order, 1, torch.gather(pos, 1, a[:, None]))[:, 0]
        out[s:s + chunk] = a | (b << m1)
    return out


def _errors(c: np.ndarray, t: np.ndarray, masks: np.ndarray) -> np.ndarray:
    n = c.shape[1]
    sel = ((masks[:, None] >> np.arange(n, dtype=np.int64)[None, :]) & 1).astype(bool)
    return np.abs(np.where(sel, c, 0.0).sum(axis=1) - t)


def solve_torch(samples, targets, *, counts=None, tol: float = 0.0, device=None,
                max_elements: int = 1 << 24):
    """Subset masks (uint64, bit k = sample k) and errors (float64) of P problems; see the module
    docstring. ``samples`` (P, n) float64, ``targets`` (P,), ``counts`` (P,) ≤ n (default n):
    only the first ``counts[p]`` samples of row p may be used. ``device``: where to compute
    (default: CUDA when available). Returns numpy arrays ``(masks, errors)``."""
    c = np.ascontiguousarray(samples, dtype=np.float64)
    t = np.ascontiguousarray(targets, dtype=np.float64).reshape(-1)
    if c.ndim != 2 or c.shape[0] != t.shape[0]:
        raise InvalidArgumentError(f"samples must be (P, n) and targets (P,), got {c.shape} and {t.shape}")
    P, n = c.shape
    if n > MAX_N:
        raise InvalidArgumentError(f"the torch solver supports n ≤ {MAX_N} samples, got {n}")
    cnt = np.full(P, n, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64).reshape(-1)
    if cnt.shape != (P,) or (cnt < 0).any() or (cnt > n).any():
        raise InvalidArgumentError("counts must be (P,) integers in [0, n]")
    if not (np.isfinite(tol) and tol >= 0):
        raise InvalidArgumentError(f"tol must be a finite number ≥ 0, got {tol!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    c = np.where(np.arange(n)[None, :] < cnt[:, None], c, 0.0)     # samples beyond counts are unusable
    masks = np.zeros(P, dtype=np.int64)
    if P == 0:
        return masks.astype(np.uint64), np.zeros(0)
    ct = torch.as_tensor(c, device=device)
    tt = torch.as_tensor(t, device=device)
    todo = np.arange(P)
    sizes = [m for m in PREFIXES if m < n] + [n] if tol > 0 else [n]
    for m in sizes:
        idx = torch.as_tensor(todo, device=device)
        got = _exact(ct[idx, :m], tt[idx], max_elements).cpu().numpy()
        masks[todo] = got
        if tol <= 0:
            break
        err = _errors(c[todo], t[todo], got)
        todo = todo[err > tol]
        if todo.size == 0:
            break
    # samples beyond counts were zeroed: drop them from the masks (the sums do not change)
    masks &= (np.int64(1) << cnt) - 1
    return masks.astype(np.uint64), _errors(c, t, masks)
