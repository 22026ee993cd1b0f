"""Parsing and validating target networks.

A target is the network the theorems approximate (Pensia et al. 2020, Sec. 2):
``f(x) = W_l σ(W_{l-1} … σ(W_1 x))`` with σ = ReLU, ``W_i ∈ R^{d_i × d_{i-1}}``, and, where the
construction covers them (Fischer, Gadhikar & Burkholz 2021; Burkholz 2022), biases:
``h_i = σ(W_i h_{i−1} + b_i)``. It is given either as an ``nn.Sequential`` of ``nn.Linear`` (with
or without bias) and ``nn.ReLU`` (alternating, last module linear) or as a list whose items are
2-D weight matrices ``W`` or pairs ``(W, b)`` (numpy or torch).
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
    """A validated ReLU network, weights (and biases) in float64.

    ``weights[i]`` has shape ``(d_{i+1}, d_i)``; ``norms[i]`` is an upper bound on its spectral
    norm; ``scales[i]`` is the factor it was divided by when rescaled (1.0 otherwise).
    ``biases``: empty for a bias-free target, else one entry per layer, a float64 vector of length
    d_{i+1} or None for a layer without bias (rescaled with the weights: b̃_i = b_i / Π_{k≤i} s_k).
    """

    weights: tuple[np.ndarray, ...]
    norms: tuple[float, ...]
    scales: tuple[float, ...]
    biases: tuple = ()

    @property
    def has_biases(self) -> bool:
        """Whether some layer has a bias (structure, not values: a zero bias counts)."""
        return any(b is not None for b in self.biases)

    @property
    def bias_flags(self) -> tuple[bool, ...]:
        """Per layer, whether it has a bias (all False for a bias-free target)."""
        if not self.biases:
            return (False,) * self.depth
        return tuple(b is not None for b in self.biases)

    def bias(self, i: int) -> np.ndarray | None:
        """Layer i's bias vector, or None."""
        return self.biases[i] if self.biases else None

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
            b = self.bias(i)
            if b is not None:
                h = h + torch.as_tensor(b, device=h.device)
            if i < self.depth - 1:
                h = torch.relu(h)
        return h

    def to_module(self) -> nn.Sequential:
        """The target as a float64 ``nn.Sequential`` (Linear, with its bias where it has one / ReLU)."""
        layers: list[nn.Module] = []
        for i, w in enumerate(self.weights):
            b = self.bias(i)
            lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(w))
                if b is not None:
                    lin.bias.copy_(torch.as_tensor(b))
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


def _linear_bias(idx: int, mod: nn.Linear) -> np.ndarray | None:
    if mod.bias is None:
        return None
    b = mod.bias
    if b.device.type == "meta" or b.is_complex():
        raise TargetError(f"layer {idx} (Linear) has a bias on the 'meta' device or a complex one", layer=idx)
    return b.detach().cpu().to(torch.float64).numpy().copy()


def _matrices_from_sequential(seq: nn.Sequential) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    if type(seq).forward is not nn.Sequential.forward or seq._forward_hooks or seq._forward_pre_hooks:
        raise TargetError(f"target {type(seq).__name__} overrides nn.Sequential.forward or has forward hooks: "
                          "only the plain composition of its layers is covered")
    modules = list(seq)
    if not modules:
        raise TargetError("target nn.Sequential is empty")
    out: list[tuple[int, np.ndarray, np.ndarray | None]] = []
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
            out.append((idx, _linear_weight(idx, mod), _linear_bias(idx, mod)))
            expect_linear = False
        elif isinstance(mod, nn.ReLU):
            if expect_linear:
                where = "starts the network" if idx == 0 else "follows another ReLU"
                raise TargetError(f"layer {idx} (ReLU) {where}; the target must alternate "
                                  "Linear and ReLU", layer=idx)
            expect_linear = True
        else:
            raise TargetError(f"layer {idx} ({name}) is not supported: a target is an nn.Sequential "
                              "of nn.Linear and nn.ReLU", layer=idx)
    if expect_linear:
        raise TargetError(f"layer {len(modules) - 1} (ReLU) ends the network; the last layer "
                          "must be linear", layer=len(modules) - 1)
    return out


def _matrices_from_list(mats) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
    if len(mats) == 0:
        raise TargetError("target list of weight matrices is empty")
    out = []
    for idx, m in enumerate(mats):
        bias = None
        if isinstance(m, tuple):
            if len(m) != 2:
                raise TargetError(f"item {idx} is a tuple of {len(m)}; a layer with a bias is the pair (W, b)",
                                  layer=idx)
            m, bias = m
            if bias is not None:
                bias = _float_array(f"bias {idx}", bias, idx)
                if bias.ndim != 1:
                    raise TargetError(f"bias {idx} has {bias.ndim} dimensions, expected 1 (d_out,)", layer=idx)
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
        out.append((idx, arr, bias))
    return out


def _float_array(what: str, m, idx: int) -> np.ndarray:
    if isinstance(m, torch.Tensor):
        if m.device.type == "meta" or m.is_complex():
            raise TargetError(f"{what} is on the 'meta' device or complex", layer=idx)
        m = m.detach().cpu().to(torch.float64).numpy()
    elif _is_complex(m):
        raise TargetError(f"{what} is complex; the theorems cover real networks", layer=idx)
    try:
        return np.array(m, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TargetError(f"{what} cannot be read as a float array: {exc}", layer=idx) from exc


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
        if target.biases and len(target.biases) != len(target.weights):
            raise TargetError(f"Target.biases has {len(target.biases)} entries for {len(target.weights)} layers")
        mats = _matrices_from_list([w if not target.biases or target.biases[i] is None else (w, target.biases[i])
                                    for i, w in enumerate(target.weights)])
    elif isinstance(target, nn.Sequential):
        mats = _matrices_from_sequential(target)
    elif isinstance(target, nn.Module):
        raise TargetError(f"target of type {type(target).__name__} is not supported: pass an "
                          "nn.Sequential of nn.Linear and nn.ReLU, or a list of matrices (or (W, b) pairs)")
    elif isinstance(target, (list, tuple)):
        mats = _matrices_from_list(target)
    else:
        raise TargetError(f"target of type {type(target).__name__} is not supported: pass an "
                          "nn.Sequential of nn.Linear and nn.ReLU, or a list of matrices (or (W, b) pairs)")

    prev_out = None
    for pos, (idx, w, b) in enumerate(mats):
        if w.shape[0] == 0 or w.shape[1] == 0:
            raise TargetError(f"layer {idx} has an empty weight of shape {w.shape}", layer=idx)
        if not np.all(np.isfinite(w)):
            raise TargetError(f"layer {idx} has non-finite weights (nan or inf)", layer=idx)
        if b is not None:
            if b.shape != (w.shape[0],):
                raise TargetError(f"layer {idx}'s bias has shape {b.shape}, its weight {w.shape} needs "
                                  f"({w.shape[0]},)", layer=idx)
            if not np.all(np.isfinite(b)):
                raise TargetError(f"layer {idx} has a non-finite bias (nan or inf)", layer=idx)
        if prev_out is not None and w.shape[1] != prev_out:
            raise TargetError(f"layer {idx} expects {w.shape[1]} inputs but the previous layer has "
                              f"{prev_out} outputs", layer=idx)
        prev_out = w.shape[0]

    weights, norms, scales, biases = [], [], [], []
    divided = 1.0   # Π of the scales divided out so far (a rescaled layer's bias is divided by it)
    for pos, (idx, w, b) in enumerate(mats):
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
        divided *= scale
        if b is not None and divided != 1.0:
            b = b / divided
            if not np.all(np.isfinite(b)):
                raise TargetError(f"rescale=True: layer {idx}'s bias divided by the product of the norms is not "
                                  "finite: scale the target down", layer=idx)
        weights.append(w)
        norms.append(nrm)
        biases.append(b)
        scales.append(scale if base_scales is None else scale * float(base_scales[pos]))
    if not math.isfinite(math.prod(scales)):
        raise TargetError(f"rescale=True: the product of the layers' norms S = Π‖W_i‖₂ overflows float64 (log10 S = "
                          f"{sum(math.log10(s) for s in scales):.1f}), so the bound S × (bound for W_i/‖W_i‖₂) could "
                          "not be finite: scale the target down")
    return Target(tuple(weights), tuple(norms), tuple(scales),
                  tuple(biases) if any(b is not None for b in biases) else ())


def target_shapes(target) -> tuple[tuple[int, int], ...]:
    """Shapes ``(d_out, d_in)`` of the target's layers, validating its structure (not its norms)."""
    return as_target(target, check_norms=False).shapes


def target_structure(target) -> tuple[tuple[tuple[int, int], ...], tuple[bool, ...]]:
    """Shapes and per-layer bias flags (structure, never values: what a random network may read)."""
    tgt = as_target(target, check_norms=False)
    return tgt.shapes, tgt.bias_flags
