"""Parsing and validating target networks.

A target is the network the theorems approximate (Pensia et al. 2020, Sec. 2):
``f(x) = W_l σ(W_{l-1} … σ(W_1 x))`` with σ = ReLU, no biases, ``W_i ∈ R^{d_i × d_{i-1}}``.
It is given either as an ``nn.Sequential`` of ``nn.Linear(bias=False)`` and ``nn.ReLU``
(alternating, last module linear) or as a list of 2-D weight matrices (numpy or torch).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._checks import strict_bool
from ._linalg import GRAM_MIN_SIDE, spectral_norm_bound
from .errors import NormAssumptionError, TargetError
from .network import own_behaviour

#: Relative safety factor applied to spectral norms computed by LAPACK, so that a norm used as an
#: upper bound stays one despite the SVD's rounding (backward error ~ 1e-15 relative).
NORM_SAFETY = 1.0 + 1e-12


#: Norms up to this are accepted as "≤ 1": a matrix normalized in float32 has norm 1 ± ~1e-7. The
#: certificate always uses the actual norm, so this tolerance never weakens a bound.
NORM_TOLERANCE = 1.0 + 1e-5


def spectral_norm(matrix: np.ndarray) -> float:
    """Upper bound on ‖matrix‖₂ (largest singular value, times :data:`NORM_SAFETY`); for a matrix
    whose smaller side is ≥ 512, the verified Gram/Cholesky bound of :mod:`sltheory._linalg`."""
    if matrix.size == 0:
        return 0.0
    if min(matrix.shape) >= GRAM_MIN_SIDE:  # large: Gram + Cholesky-verified bound, no SVD
        return spectral_norm_bound(matrix)
    return float(np.linalg.norm(matrix, 2)) * NORM_SAFETY


@dataclass(frozen=True)
class Target:
    """A validated bias-free ReLU network, weights in float64.

    ``weights[i]`` has shape ``(d_{i+1}, d_i)``; ``norms[i]`` is an upper bound on its spectral
    norm; ``scales[i]`` is the factor it was divided by when rescaled (1.0 otherwise).
    """

    weights: tuple[np.ndarray, ...]
    norms: tuple[float, ...]
    scales: tuple[float, ...]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def dims(self) -> tuple[int, ...]:
        """(d_0, d_1, …, d_l)."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(w.shape for w in self.weights)

    @property
    def num_weights(self) -> int:
        return int(sum(w.size for w in self.weights))

    @property
    def output_scale(self) -> float:
        """Π scales: the rescaled target times this equals the original target."""
        return float(np.prod(self.scales))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate the (possibly rescaled) target in float64 on a batch ``x`` of shape (B, d_0)."""
        h = x.to(torch.float64)
        for i, w in enumerate(self.weights):
            h = h @ torch.as_tensor(w, device=h.device).T
            if i < self.depth - 1:
                h = torch.relu(h)
        return h

    def to_module(self) -> nn.Sequential:
        """The target as a float64 ``nn.Sequential`` (Linear without bias / ReLU)."""
        layers: list[nn.Module] = []
        for i, w in enumerate(self.weights):
            lin = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(w))
            layers.append(lin)
            if i < self.depth - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)


#: Targets larger than this many weights are refused by :func:`gaussian_target` before allocating
#: (8 bytes each: 1.6 GB), as the random networks are by ``max_weights``.
MAX_TARGET_WEIGHTS = 200_000_000


def _own_behaviour(mod: nn.Module, base: type[nn.Module]) -> str | None:
    """See :func:`sltheory.network.own_behaviour` (one definition for targets and tickets)."""
    return own_behaviour(mod, base)


def _linear_weight(idx: int, mod: nn.Linear) -> np.ndarray:
    """The weight of target layer ``idx`` as float64 numpy, refusing what has no real values."""
    w = mod.weight
    if w.device.type == "meta":
        raise TargetError(f"layer {idx} ({type(mod).__name__}) is on the 'meta' device: its weight holds no values",
                          layer=idx)
    if w.is_complex():
        raise TargetError(f"layer {idx} ({type(mod).__name__}) has complex weights ({w.dtype}); the theorems cover "
                          "real ReLU networks", layer=idx)
    return w.detach().cpu().to(torch.float64).numpy().copy()


def _matrices_from_sequential(seq: nn.Sequential) -> list[tuple[int, np.ndarray]]:
    if type(seq).forward is not nn.Sequential.forward or seq._forward_hooks or seq._forward_pre_hooks:
        raise TargetError(f"target {type(seq).__name__} overrides nn.Sequential.forward or has forward hooks: "
                          "only the plain composition of its layers is covered")
    modules = list(seq)
    if not modules:
        raise TargetError("target nn.Sequential is empty")
    out: list[tuple[int, np.ndarray]] = []
    expect_linear = True
    for idx, mod in enumerate(modules):
        name = type(mod).__name__
        if isinstance(mod, (nn.Linear, nn.ReLU)):
            why = _own_behaviour(mod, nn.Linear if isinstance(mod, nn.Linear) else nn.ReLU)
            if why is not None:
                raise TargetError(f"layer {idx} ({name}) is not supported: {why}, so the certificate (made for "
                                  "x ↦ Wx and max(x, 0)) would not cover it", layer=idx)
        if isinstance(mod, nn.Linear):
            if not expect_linear:
                raise TargetError(f"layer {idx} (Linear) follows a Linear without a ReLU in between; "
                                  "the target must alternate Linear and ReLU", layer=idx)
            if mod.bias is not None:
                raise TargetError(f"layer {idx} (Linear) has a bias; the theorems cover bias-free "
                                  "targets: build it with nn.Linear(..., bias=False)", layer=idx)
            out.append((idx, _linear_weight(idx, mod)))
            expect_linear = False
        elif isinstance(mod, nn.ReLU):
            if expect_linear:
                where = "starts the network" if idx == 0 else "follows another ReLU"
                raise TargetError(f"layer {idx} (ReLU) {where}; the target must alternate "
                                  "Linear and ReLU", layer=idx)
            expect_linear = True
        else:
            raise TargetError(f"layer {idx} ({name}) is not supported: a target is an nn.Sequential "
                              "of nn.Linear(bias=False) and nn.ReLU", layer=idx)
    if expect_linear:
        raise TargetError(f"layer {len(modules) - 1} (ReLU) ends the network; the last layer "
                          "must be linear", layer=len(modules) - 1)
    return out


def _matrices_from_list(mats) -> list[tuple[int, np.ndarray]]:
    if len(mats) == 0:
        raise TargetError("target list of weight matrices is empty")
    out = []
    for idx, m in enumerate(mats):
        if isinstance(m, torch.Tensor):
            if m.device.type == "meta":
                raise TargetError(f"matrix {idx} is on the 'meta' device: it holds no values", layer=idx)
            if m.is_complex():
                raise TargetError(f"matrix {idx} is complex ({m.dtype}); the theorems cover real networks", layer=idx)
            m = m.detach().cpu().to(torch.float64).numpy()
        elif _is_complex(m):
            raise TargetError(f"matrix {idx} is complex; the theorems cover real networks", layer=idx)
        try:
            arr = np.array(m, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TargetError(f"matrix {idx} cannot be read as a float array: {exc}", layer=idx) from exc
        if arr.ndim != 2:
            raise TargetError(f"matrix {idx} has {arr.ndim} dimensions, expected 2 (d_out, d_in)",
                              layer=idx)
        out.append((idx, arr))
    return out


def _is_complex(m) -> bool:
    """Whether numpy reads ``m`` as complex (casting it to float64 would drop the imaginary part)."""
    try:
        return np.iscomplexobj(np.asarray(m))
    except (TypeError, ValueError):   # ragged or odd: the float64 conversion reports it
        return False


def as_target(target, *, check_norms: bool = True, rescale: bool = False) -> Target:
    """Validate ``target`` and return it as a :class:`Target` (float64).

    Raises :class:`~sltheory.errors.TargetError` naming the layer for anything outside the class
    (bias, unsupported module, non-finite or empty weight, inconsistent shapes; a subclass of
    nn.Linear, nn.ReLU or nn.Sequential that overrides ``forward``, forward hooks, lazy, meta or
    complex weights: the certificate is for x ↦ Wx and max(x, 0) only; a spectral norm, or with
    ``rescale`` a product of norms, that overflows float64), and
    :class:`~sltheory.errors.NormAssumptionError` (layer and norm) when ``check_norms`` and some
    ‖W_i‖₂ > 1, unless ``rescale``: then each such W_i is divided by its norm s_i and the
    :attr:`Target.scales` record the s_i (ReLU is positively homogeneous, so
    ``f(x) = (Π s_i) · f̃(x)`` with f̃ the rescaled target).
    """
    check_norms = strict_bool("check_norms", check_norms)
    rescale = strict_bool("rescale", rescale)
    base_scales = None
    if isinstance(target, Target):
        # a Target is re-validated like any input: its norms are recomputed (the certificate trusts
        # them), its scales checked; rescaling multiplies into them
        base_scales = tuple(target.scales)
        if len(base_scales) != len(target.weights) or not all(
                isinstance(v, numbers.Real) and math.isfinite(v) and v > 0 for v in base_scales):
            raise TargetError(f"Target.scales {base_scales!r} are not one finite positive factor per layer")
        mats = _matrices_from_list(list(target.weights))
    elif isinstance(target, nn.Sequential):
        mats = _matrices_from_sequential(target)
    elif isinstance(target, nn.Module):
        raise TargetError(f"target of type {type(target).__name__} is not supported: pass an "
                          "nn.Sequential of nn.Linear(bias=False) and nn.ReLU, or a list of matrices")
    elif isinstance(target, (list, tuple)):
        mats = _matrices_from_list(target)
    else:
        raise TargetError(f"target of type {type(target).__name__} is not supported: pass an "
                          "nn.Sequential of nn.Linear(bias=False) and nn.ReLU, or a list of matrices")

    prev_out = None
    for pos, (idx, w) in enumerate(mats):
        if w.shape[0] == 0 or w.shape[1] == 0:
            raise TargetError(f"layer {idx} has an empty weight of shape {w.shape}", layer=idx)
        if not np.all(np.isfinite(w)):
            raise TargetError(f"layer {idx} has non-finite weights (nan or inf)", layer=idx)
        if prev_out is not None and w.shape[1] != prev_out:
            raise TargetError(f"layer {idx} expects {w.shape[1]} inputs but the previous layer has "
                              f"{prev_out} outputs", layer=idx)
        prev_out = w.shape[0]

    weights, norms, scales = [], [], []
    for pos, (idx, w) in enumerate(mats):
        nrm = spectral_norm(w)
        if not math.isfinite(nrm):
            raise TargetError(f"layer {idx}'s spectral norm overflows float64 (largest |w| = {np.abs(w).max():.3g}): "
                              "scale the target down", layer=idx)
        scale = 1.0
        if check_norms and nrm > NORM_TOLERANCE:
            if not rescale:
                raise NormAssumptionError(
                    f"layer {idx} has spectral norm {nrm:.6g} > 1; the theorems assume ‖W_i‖₂ ≤ 1. "
                    "Normalize the target, or pass rescale=True to approximate W_i/‖W_i‖₂ and scale "
                    "the output back (the error bound is multiplied by the product of the norms)",
                    layer=idx, norm=nrm)
            scale = nrm
            w = w / scale
            nrm = spectral_norm(w)
        weights.append(w)
        norms.append(nrm)
        scales.append(scale if base_scales is None else scale * float(base_scales[pos]))
    if not math.isfinite(math.prod(scales)):
        raise TargetError(f"rescale=True: the product of the layers' norms S = Π‖W_i‖₂ overflows float64 (log10 S = "
                          f"{sum(math.log10(s) for s in scales):.1f}), so the bound S × (bound for W_i/‖W_i‖₂) could "
                          "not be finite: scale the target down")
    return Target(tuple(weights), tuple(norms), tuple(scales))


def target_shapes(target) -> tuple[tuple[int, int], ...]:
    """Shapes ``(d_out, d_in)`` of the target's layers, validating its structure (not its norms)."""
    return as_target(target, check_norms=False).shapes
