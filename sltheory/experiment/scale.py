"""The scale benchmark's measurement of one size (``benchmarks/scale.py``): a subset-sum ticket
for a 64-w-w target, its time, peak memory and compact file.

:func:`make_target` builds the target (each matrix i.i.d. N(0, 1) divided by a verified upper bound
on its spectral norm); :func:`measure` samples, prunes, re-certifies, saves and reloads, and
returns every figure as a dict. Peak memory is the process's (``ru_maxrss``), so the script runs
each size in its own subprocess.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time

import numpy as np

from .._linalg import spectral_norm_bound
from ..api import approximate, random_network
from ..certificate.bound import certify, pair_effective_map
from ..constructions._pairs import masked_sparse
from ..data.generated import gaussian_target
from ..targets import as_target
from ..ticket.model import load_ticket

__all__ = ["INPUTS", "peak_gib", "make_target", "measure"]

#: Input width of the 64-w-w targets.
INPUTS = 64


def peak_gib() -> float:
    """This process's peak resident memory so far, GiB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # Linux: KiB


def make_target(width: int, seed: int) -> list[np.ndarray]:
    """The 64-w-w target of ``seed`` (``numpy.random.default_rng(seed)``, as gaussian_target), each
    matrix divided by a verified upper bound on its spectral norm, so ‖W_i‖₂ ≤ 1."""
    rng = np.random.default_rng(seed)
    mats = []
    for d_in, d_out in ((INPUTS, width), (width, width)):
        w = rng.standard_normal((d_out, d_in))
        mats.append(w / spectral_norm_bound(w))
    return mats


def measure(width: int, eps: float, delta: float, seed: int, max_weights: int, construction: str) -> dict:
    """Sample, approximate (ε given), certify once more, save and load the ticket of the 64-w-w
    target; the times (t_*), peak memory (peak_*_gib), sizes and whether the loaded ticket equals
    the built one bit for bit. The numba JIT is warmed first on a 4-4-2 target (not counted)."""
    import torch

    tiny = gaussian_target((4, 4, 2), 0)
    approximate(tiny, random_network(tiny, eps=0.05, seed=0, construction=construction), eps=0.05)
    out: dict = {"width": width, "peak_start_gib": peak_gib()}
    Ws = make_target(width, seed)
    out["target_weights"] = int(sum(W.size for W in Ws))

    t0 = time.perf_counter()
    rand = random_network(Ws, eps=eps, delta=delta, seed=seed, max_weights=max_weights,
                                   construction=construction)
    out["t_sample"] = time.perf_counter() - t0
    out["peak_sample_gib"] = peak_gib()
    out["n"] = list(rand.n)
    out["random_weights"] = rand.plan.num_random_weights
    out["stored_weights"] = rand.plan.stored_weights   # float64 entries held (slot layers dense)

    t0 = time.perf_counter()
    ticket = approximate(Ws, rand, eps=eps)
    out["t_approximate"] = time.perf_counter() - t0
    out["peak_approximate_gib"] = peak_gib()
    out["kept_weights"] = ticket.stats["kept_weights"]
    out["bound"] = ticket.error_bound
    out["method"] = ticket.certificate.method

    # one more certificate on the final masks (the ladder certifies once per rung)
    t0 = time.perf_counter()
    tgt = as_target(Ws)
    weights = [lin.weight.detach().numpy() for lin in rand.linears()]   # (ticket.network holds the live units only)
    masks = [m.numpy() for m in ticket.masks]
    mats = [masked_sparse(w, m) for w, m in zip(weights, masks)]
    maps = [pair_effective_map(mats[2 * i], mats[2 * i + 1], rand.plan.signed[i]) for i in range(tgt.depth)]
    cert = certify(tgt, maps, mats)
    out["t_certify"] = time.perf_counter() - t0
    out["recertified_bound"] = cert.error_bound
    del rand, weights, masks, mats, maps

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ticket.npz")
        t0 = time.perf_counter()
        ticket.save(path)
        out["t_save"] = time.perf_counter() - t0
        out["file_bytes"] = os.path.getsize(path)
        t0 = time.perf_counter()
        loaded = load_ticket(path)
        out["t_load"] = time.perf_counter() - t0
    out["dense_bytes"] = 8 * out["stored_weights"]
    la = [m for m in ticket.network.modules() if isinstance(m, torch.nn.Linear)]
    lb = [m for m in loaded.network.modules() if isinstance(m, torch.nn.Linear)]
    out["bit_for_bit"] = bool(len(la) == len(lb)   # int64 views: signed zeros and NaN payloads too
                              and all(torch.equal(a.weight.view(torch.int64), b.weight.view(torch.int64))
                                      for a, b in zip(la, lb))
                              and all(torch.equal(a, b) for a, b in zip(ticket.masks, loaded.masks))
                              and loaded.error_bound == ticket.error_bound)
    out["peak_gib"] = peak_gib()
    out["threads"] = torch.get_num_threads()
    out["numpy"] = np.__version__
    return out
