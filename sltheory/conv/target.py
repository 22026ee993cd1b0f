"""Parsing a torch convolutional / residual network into a :class:`~sltheory.conv.ops.ConvTarget`.

:func:`conv_target` reads an ``nn.Sequential`` (nested Sequentials are flattened) and returns the
plain-data ops of :mod:`sltheory.conv.ops` with every shape inferred, weights as float64 numpy
copies and every eval-mode BatchNorm folded into the conv / linear before it
(:func:`fold_batchnorm`). Anything whose computation the certificate would not describe exactly is
refused with a :class:`~sltheory.errors.TargetError` that names the module by its path in the model
(``model[3]``, ``model[2].body[0]``, ``model[1].conv1``) and its class, before any work is done.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError, TargetError
from ..network import own_behaviour
from .modules import ResidualBlock
from .ops import Affine, ConvTarget, Flatten, Pool, ReLU, Residual, Shape, conv_out_size

__all__ = ["conv_target", "fold_batchnorm"]

#: What a conv target may be made of (the text of the "not supported" errors).
SUPPORTED = ("Conv1d/Conv2d, Linear, ReLU, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, Flatten, "
             "BatchNorm1d/2d (eval mode, right after a conv/linear), Identity, Dropout, "
             "sltheory.conv.ResidualBlock and torchvision-style BasicBlock, in nn.Sequential")

_DROPPED = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d)
_LEAVES = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.ReLU, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
           nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.BatchNorm1d, nn.BatchNorm2d) + _DROPPED
_BASIC_BLOCK_ATTRS = ("conv1", "bn1", "relu", "conv2", "bn2", "downsample", "stride")

# an item of a flattened Sequential: (path, index of its top-level module, module)
_Item = tuple[str, int, nn.Module]


def _where(path: str, mod: nn.Module) -> str:
    return f"{path} ({type(mod).__name__})"


def _fail(msg: str, top: int | None) -> TargetError:
    return TargetError(msg, layer=top)


def _shape_str(shape: Shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ----------------------------------------------------------------------------------------------- values


def _array(t: torch.Tensor, what: str, top: int | None) -> np.ndarray:
    """``t`` as a float64 numpy copy, refusing meta / complex / non-finite / empty tensors."""
    if isinstance(t, nn.parameter.UninitializedParameter):
        raise _fail(f"{what} is uninitialized (a lazy module that was never run)", top)
    if t.device.type == "meta":
        raise _fail(f"{what} is on the 'meta' device: it holds no values", top)
    if t.is_complex():
        raise _fail(f"{what} is complex ({t.dtype}); the theorems cover real networks", top)
    arr = t.detach().cpu().to(torch.float64).numpy().copy()
    if arr.size == 0:
        raise _fail(f"{what} is empty (shape {tuple(arr.shape)})", top)
    if not np.all(np.isfinite(arr)):
        raise _fail(f"{what} has non-finite entries (nan or inf)", top)
    return arr


def fold_batchnorm(weight, bias, bn: nn.Module, *, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BatchNorm ``bn`` into the affine map ``(weight, bias)`` before it.

    ``weight``: (out, in, *kernel) (a conv) or (out, in) (a linear), ``bias``: (out,) or None (zero).
    In eval mode ``bn`` maps channel ``o`` of its input ``z`` to ``γ_o (z_o − μ_o)/√(σ²_o + ε) + β_o``
    with its running statistics μ (``running_mean``), σ² (``running_var``), its ``eps`` ε and its affine
    parameters γ (``weight``, 1 when ``affine=False``), β (``bias``, 0). With ``s_o = γ_o/√(σ²_o + ε)``,
    BN ∘ (W·+b) is the affine map with::

        W'[o, ...] = s_o · W[o, ...]            b'_o = (b_o − μ_o) · s_o + β_o

    exactly (in real arithmetic; computed in float64). Returns float64 ``(W', b')`` — ``b'`` always
    exists, even when ``bias`` is None. Raises :class:`~sltheory.errors.TargetError` (naming ``name``,
    default the BN's class) when ``bn`` is not a BatchNorm, is in training mode, has no running
    statistics (``track_running_stats=False``: it would normalise with the batch's), has a channel count
    other than ``weight``'s ``out``, or when the folded values are not finite (σ² + ε ≤ 0, overflow).
    """
    who = name or type(bn).__name__
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm):
        raise TargetError(f"{who} is not a BatchNorm module")
    if bn.training:
        raise TargetError(f"{who} is in training mode (it normalises with the batch's statistics): call "
                          "model.eval() so that it uses its running statistics, which are folded into the layer "
                          "before it")
    if bn.running_mean is None or bn.running_var is None:
        raise TargetError(f"{who} has no running statistics (track_running_stats=False), so it normalises with "
                          "each batch's statistics even in eval mode: not a fixed affine map")
    W = np.array(weight, dtype=np.float64)
    if W.ndim < 2:
        raise TargetError(f"{who}: the weight to fold into has shape {W.shape}, expected (out, in, ...)")
    out = W.shape[0]
    if int(bn.num_features) != out:
        raise TargetError(f"{who} normalises {bn.num_features} channels but the layer before it has {out} outputs")
    b = np.zeros(out) if bias is None else np.array(bias, dtype=np.float64).reshape(-1)
    if b.shape != (out,):
        raise TargetError(f"{who}: the bias to fold into has shape {b.shape}, expected ({out},)")
    mean = _array(bn.running_mean, f"{who}'s running_mean", None)
    var = _array(bn.running_var, f"{who}'s running_var", None)
    gamma = np.ones(out) if bn.weight is None else _array(bn.weight, f"{who}'s weight", None)
    beta = np.zeros(out) if bn.bias is None else _array(bn.bias, f"{who}'s bias", None)
    denom = var + float(bn.eps)
    if not np.all(denom > 0):
        raise TargetError(f"{who} has running_var + eps ≤ 0 for some channel: not a valid normalisation")
    s = gamma / np.sqrt(denom)
    W2 = W * s.reshape((out,) + (1,) * (W.ndim - 1))
    b2 = (b - mean) * s + beta
    if not (np.all(np.isfinite(W2)) and np.all(np.isfinite(b2))):
        raise TargetError(f"{who}: folding it into the layer before it gives non-finite weights (overflow)")
    return W2, b2


# ----------------------------------------------------------------------------------------------- structure


def _check_plain(mod: nn.Module, base: type[nn.Module], path: str, top: int | None) -> None:
    why = own_behaviour(mod, base)
    if why is not None:
        raise _fail(f"{_where(path, mod)} is not supported: {why}, so the certificate would not describe what it "
                    "computes", top)


def _check_plain_bn(mod: nn.Module, base: type[nn.Module], path: str, top: int | None) -> None:
    """:func:`sltheory.network.own_behaviour`'s checks but for a module that holds buffers (the BN's
    running statistics, which :func:`fold_batchnorm` reads)."""
    cls = type(mod)
    why = None
    if isinstance(getattr(mod, "weight", None), nn.parameter.UninitializedParameter):
        why = "it is a lazy module that was never run (uninitialized weight)"
    elif cls is not base and (cls.forward is not base.forward or cls.__call__ is not base.__call__):
        why = f"{cls.__name__} overrides {base.__name__}.forward"
    elif "forward" in vars(mod) or "__call__" in vars(mod):
        why = "its forward was replaced on the instance"
    elif mod._forward_hooks or mod._forward_pre_hooks or getattr(mod, "_forward_hooks_with_kwargs", None):
        why = "it has forward hooks"
    if why is not None:
        raise _fail(f"{_where(path, mod)} is not supported: {why}, so the certificate would not describe what it "
                    "computes", top)


def _expand(mod: nn.Module, path: str, top: int | None) -> list[_Item]:
    """``mod`` as a list of items, nested ``nn.Sequential`` flattened (paths ``path[i]``)."""
    if not isinstance(mod, nn.Sequential):
        return [(path, -1 if top is None else top, mod)]
    _check_plain(mod, nn.Sequential, path, top)
    out: list[_Item] = []
    for i, child in enumerate(mod):
        out += _expand(child, f"{path}[{i}]", i if top is None else top)
    return out


def _is_basic_block(mod: nn.Module) -> bool:
    return type(mod).__name__ == "BasicBlock"


def _leaf_base(mod: nn.Module) -> type[nn.Module] | None:
    for base in _LEAVES:
        if isinstance(mod, base):
            return base
    return None


def _tup(value, d: int, what: str, where: str, top: int) -> Shape:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * d
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise _fail(f"{where} has {what} {value!r}, not an int or a tuple of {d}", top) from None
    if len(out) != d:
        raise _fail(f"{where} has {what} {value!r}, not an int or a tuple of {d}", top)
    return out


def _needs_spatial(shape: Shape, d: int, where: str, top: int) -> None:
    if len(shape) != d + 1:
        want = "(C, L)" if d == 1 else "(C, H, W)"
        got = "a flat vector" if len(shape) == 1 else f"{len(shape) - 1} spatial dimension(s)"
        raise _fail(f"{where} needs inputs of shape {want} but gets {_shape_str(shape)} ({got})", top)


def _spatial_out(shape: Shape, kernel: Shape, stride: Shape, padding: Shape, where: str, top: int) -> Shape:
    out = tuple(conv_out_size(n, k, s, p) for n, k, s, p in zip(shape[1:], kernel, stride, padding))
    if any(o < 1 for o in out):
        raise _fail(f"{where} gets spatial size {shape[1:]}, smaller than its kernel {kernel} even with padding "
                    f"{padding}: the output would be empty", top)
    return out


# ----------------------------------------------------------------------------------------------- layers


def _conv(mod: nn.Conv1d | nn.Conv2d, path: str, top: int, shape: Shape) -> Affine:
    where = _where(path, mod)
    d = 1 if isinstance(mod, nn.Conv1d) else 2
    if mod.groups != 1:
        raise _fail(f"{where} has groups={mod.groups}; only groups=1 (dense convolutions) is supported", top)
    if tuple(mod.dilation) != (1,) * d:
        raise _fail(f"{where} has dilation={tuple(mod.dilation)}; only dilation 1 is supported", top)
    if mod.padding_mode != "zeros":
        raise _fail(f"{where} has padding_mode={mod.padding_mode!r}; only zero padding ('zeros') is supported", top)
    stride = tuple(int(s) for s in mod.stride)
    kernel = tuple(int(k) for k in mod.kernel_size)
    if isinstance(mod.padding, str):
        if mod.padding == "valid":
            padding: Shape = (0,) * d
        elif mod.padding == "same":
            if any(s != 1 for s in stride):
                raise _fail(f"{where} has padding='same' with stride {stride}; 'same' needs stride 1", top)
            if any(k % 2 == 0 for k in kernel):
                raise _fail(f"{where} has padding='same' with the even kernel {kernel}: torch then pads "
                            "asymmetrically, which a symmetric zero padding cannot express; use an odd kernel or "
                            "explicit padding", top)
            padding = tuple((k - 1) // 2 for k in kernel)
        else:
            raise _fail(f"{where} has padding={mod.padding!r}", top)
    else:
        padding = tuple(int(p) for p in mod.padding)
    W = _array(mod.weight, f"{where}'s weight", top)
    b = None if mod.bias is None else _array(mod.bias, f"{where}'s bias", top)
    _needs_spatial(shape, d, where, top)
    if shape[0] != W.shape[1]:
        raise _fail(f"{where} expects {W.shape[1]} input channels but gets inputs of shape {_shape_str(shape)}", top)
    out = _spatial_out(shape, kernel, stride, padding, where, top)
    return Affine(W, b, stride, padding, tuple(shape), (int(W.shape[0]),) + out)


def _linear(mod: nn.Linear, path: str, top: int, shape: Shape) -> Affine:
    where = _where(path, mod)
    W = _array(mod.weight, f"{where}'s weight", top)
    b = None if mod.bias is None else _array(mod.bias, f"{where}'s bias", top)
    if len(shape) != 1:
        raise _fail(f"{where} gets a tensor of shape {_shape_str(shape)} (channels × positions): put an nn.Flatten "
                    "before it (a Linear acting on the last axis only is not supported)", top)
    if shape[0] != W.shape[1]:
        raise _fail(f"{where} expects {W.shape[1]} input features but gets {shape[0]}", top)
    return Affine(W, b, (), (), tuple(shape), (int(W.shape[0]),))


def _pool(kind: str, d: int, kernel, stride, padding, count_include_pad: bool, path: str, mod: nn.Module, top: int,
          shape: Shape) -> Pool:
    where = _where(path, mod)
    _needs_spatial(shape, d, where, top)
    k = _tup(kernel, d, "kernel_size", where, top)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)   # torch: = kernel
    s = k if no_stride else _tup(stride, d, "stride", where, top)
    p = _tup(padding, d, "padding", where, top)
    if any(v < 1 for v in k + s) or any(v < 0 for v in p):
        raise _fail(f"{where} has kernel {k}, stride {s}, padding {p}: kernel and stride must be ≥ 1", top)
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise _fail(f"{where} has padding {p} larger than half its kernel {k} (torch refuses it)", top)
    out = _spatial_out(shape, k, s, p, where, top)
    return Pool(kind, k, s, p, bool(count_include_pad), tuple(shape), (shape[0],) + out)


def _max_pool(mod, path: str, top: int, shape: Shape) -> Pool:
    where = _where(path, mod)
    d = 1 if isinstance(mod, nn.MaxPool1d) else 2
    if _tup(mod.dilation, d, "dilation", where, top) != (1,) * d:
        raise _fail(f"{where} has dilation={mod.dilation}; only dilation 1 is supported", top)
    if mod.ceil_mode:
        raise _fail(f"{where} has ceil_mode=True; only ceil_mode=False is supported", top)
    if mod.return_indices:
        raise _fail(f"{where} has return_indices=True: it returns a pair, not a tensor", top)
    return _pool("max", d, mod.kernel_size, mod.stride, mod.padding, True, path, mod, top, shape)


def _avg_pool(mod, path: str, top: int, shape: Shape) -> Pool:
    where = _where(path, mod)
    d = 1 if isinstance(mod, nn.AvgPool1d) else 2
    if mod.ceil_mode:
        raise _fail(f"{where} has ceil_mode=True; only ceil_mode=False is supported", top)
    if getattr(mod, "divisor_override", None) is not None:
        raise _fail(f"{where} has divisor_override={mod.divisor_override}; only None is supported", top)
    return _pool("avg", d, mod.kernel_size, mod.stride, mod.padding, bool(mod.count_include_pad), path, mod, top,
                 shape)


def _adaptive_avg_pool(mod, path: str, top: int, shape: Shape) -> Pool:
    where = _where(path, mod)
    d = 1 if isinstance(mod, nn.AdaptiveAvgPool1d) else 2
    _needs_spatial(shape, d, where, top)
    size = mod.output_size
    sizes = [size] * d if size is None or isinstance(size, numbers.Integral) else list(size)
    if len(sizes) != d:
        raise _fail(f"{where} has output_size {size!r}, not an int or a tuple of {d}", top)
    kernel = []
    for n, o in zip(shape[1:], sizes):
        o = n if o is None else int(o)
        if o < 1 or n % o != 0:
            raise _fail(f"{where} maps spatial size {shape[1:]} to {size}: only sizes that "
                        "divide the input's are supported (then it is an average pool with kernel = stride = "
                        "input // output)", top)
        kernel.append(n // o)
    k = tuple(kernel)
    return Pool("avg", k, k, (0,) * d, True, tuple(shape), (shape[0],) + tuple(n // kk for n, kk in zip(shape[1:], k)))


def _flatten(mod: nn.Flatten, path: str, top: int, shape: Shape) -> Flatten:
    if mod.start_dim != 1 or mod.end_dim != -1:
        raise _fail(f"{_where(path, mod)} has start_dim={mod.start_dim}, end_dim={mod.end_dim}; only the default "
                    "Flatten(start_dim=1, end_dim=-1) is supported", top)
    return Flatten(tuple(shape), (math.prod(shape),))


# ----------------------------------------------------------------------------------------------- sequences


class _Parsed:
    """The ops of one sequence, with per op the (path, module) it came from, and the names of its
    affine layers in :func:`sltheory.conv.ops.affine_layers` order."""

    def __init__(self) -> None:
        self.ops: list = []
        self.origin: list[tuple[str, nn.Module, int]] = []
        self.names: list[str] = []


def _residual_block(mod: ResidualBlock, path: str, top: int, shape: Shape, parsed: _Parsed) -> Residual:
    _check_plain(mod, ResidualBlock, path, top)
    for part in ("body", "shortcut"):
        if not isinstance(getattr(mod, part, None), nn.Sequential):
            raise _fail(f"{_where(path, mod)}.{part} is not an nn.Sequential (was it replaced?)", top)
    body = _expand(mod.body, f"{path}.body", top)
    short = _expand(mod.shortcut, f"{path}.shortcut", top)
    return _residual(mod, path, top, shape, body, short, parsed)


def _basic_block(mod: nn.Module, path: str, top: int, shape: Shape, parsed: _Parsed) -> Residual:
    where = _where(path, mod)
    missing = [a for a in _BASIC_BLOCK_ATTRS if not hasattr(mod, a)]
    if missing:
        raise _fail(f"{where} is not a torchvision-style BasicBlock (it lacks {', '.join(missing)}); {SUPPORTED}", top)
    if not type(mod).__module__.startswith("torchvision."):
        raise _fail(f"{where} is a BasicBlock from {type(mod).__module__!r}, not torchvision's: its forward cannot be "
                    "assumed to be torchvision's; use sltheory.ResidualBlock (or nn.Sequential halves)", top)
    _check_plain(mod, type(mod), path, top)   # hooks, a forward replaced on the instance
    if type(mod.relu) is not nn.ReLU:
        raise _fail(f"{where}.relu is a {type(mod.relu).__name__}, not an nn.ReLU", top)
    for a in ("conv1", "bn1", "conv2", "bn2"):
        if not isinstance(getattr(mod, a), nn.Module):
            raise _fail(f"{where}.{a} is not a module", top)
    body = []
    for a in ("conv1", "bn1", "relu", "conv2", "bn2"):
        body += _expand(getattr(mod, a), f"{path}.{a}", top)
    ds = mod.downsample
    if ds is not None and not isinstance(ds, nn.Module):
        raise _fail(f"{where}.downsample is a {type(ds).__name__}, not None or a module", top)
    short = [] if ds is None else _expand(ds, f"{path}.downsample", top)
    return _residual(mod, path, top, shape, body, short, parsed)


def _residual(mod: nn.Module, path: str, top: int, shape: Shape, body: list[_Item], short: list[_Item],
              parsed: _Parsed) -> Residual:
    where = _where(path, mod)
    if not body:
        raise _fail(f"{where} has an empty body", top)
    b = _parse(body, shape)
    s = _parse(short, shape)
    b_out = b.ops[-1].out_shape if b.ops else tuple(shape)
    s_out = s.ops[-1].out_shape if s.ops else tuple(shape)
    if b_out != s_out:
        what = "its shortcut" if s.ops else "its identity shortcut"
        raise _fail(f"{where}: its body maps {_shape_str(shape)} to {_shape_str(b_out)} but {what} to "
                    f"{_shape_str(s_out)}; they cannot be added", top)
    parsed.names += b.names + s.names
    return Residual(tuple(b.ops), tuple(s.ops), True, tuple(shape), tuple(b_out))


def _parse(items: list[_Item], shape: Shape) -> _Parsed:
    parsed = _Parsed()
    fold_into: int | None = None   # index in parsed.ops of the Affine a BatchNorm right here would fold into
    for path, top, mod in items:
        where = _where(path, mod)
        if isinstance(mod, ResidualBlock):
            op: object = _residual_block(mod, path, top, shape, parsed)
            fold_into = None
        elif _is_basic_block(mod):
            op = _basic_block(mod, path, top, shape, parsed)
            fold_into = None
        else:
            base = _leaf_base(mod)
            if base is None:
                raise _fail(f"{where} is not supported: a conv target is made of {SUPPORTED}", top)
            if base in (nn.BatchNorm1d, nn.BatchNorm2d):
                _check_plain_bn(mod, base, path, top)
                if fold_into is None:
                    raise _fail(f"{where} does not directly follow a Conv/Linear: only a BatchNorm right after one "
                                "is supported (it is folded into that layer)", top)
                aff = parsed.ops[fold_into]
                spatial = len(aff.out_shape) - 1
                if (base is nn.BatchNorm2d) != (spatial == 2):
                    raise _fail(f"{where} follows a layer with output shape {_shape_str(aff.out_shape)}: "
                                f"{base.__name__} takes {'(C, H, W)' if base is nn.BatchNorm2d else '(C,) or (C, L)'}"
                                " inputs", top)
                try:
                    W, b = fold_batchnorm(aff.weight, aff.bias, mod, name=where)
                except TargetError as exc:   # the same message, tied to the top-level module
                    raise _fail(str(exc), top) from None
                parsed.ops[fold_into] = Affine(W, b, aff.stride, aff.padding, aff.in_shape, aff.out_shape)
                parsed.names[-1] += f" + {where}"
                fold_into = None
                continue
            _check_plain(mod, base, path, top)
            if base in _DROPPED:
                continue   # eval semantics: the identity (fold_into is kept: a BN after it still folds)
            fold_into = None
            if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                op = _linear(mod, path, top, shape) if isinstance(mod, nn.Linear) else _conv(mod, path, top, shape)
                fold_into = len(parsed.ops)
                parsed.names.append(where)
            elif base is nn.ReLU:
                op = ReLU(tuple(shape), tuple(shape))
            elif base in (nn.MaxPool1d, nn.MaxPool2d):
                op = _max_pool(mod, path, top, shape)
            elif base in (nn.AvgPool1d, nn.AvgPool2d):
                op = _avg_pool(mod, path, top, shape)
            elif base in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d):
                op = _adaptive_avg_pool(mod, path, top, shape)
            elif isinstance(mod, nn.Flatten):
                op = _flatten(mod, path, top, shape)
            else:   # pragma: no cover - _LEAVES lists no other class
                raise _fail(f"{where} is not supported", top)
        parsed.ops.append(op)
        parsed.origin.append((path, mod, top))
        shape = op.out_shape   # type: ignore[attr-defined]
    return parsed


# ----------------------------------------------------------------------------------------------- entry point


def _input_shape_arg(input_shape) -> Shape:
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise InvalidArgumentError(f"input_shape must be (C, L) or (C, H, W) (or (features,) for a network that "
                                   f"starts with a Linear), got {input_shape!r}") from None
    if not 1 <= len(shape) <= 3 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                           and int(s) >= 1 for s in shape):
        raise InvalidArgumentError(f"input_shape must be (C, L) or (C, H, W) (or (features,) for a network that "
                                   f"starts with a Linear) of positive ints, got {input_shape!r}")
    return tuple(int(s) for s in shape)


def _infer_input_shape(items: list[_Item]) -> Shape:
    for path, top, mod in items:
        if isinstance(mod, (nn.ReLU,) + _DROPPED):
            continue
        if isinstance(mod, nn.Linear) and not isinstance(mod.weight, nn.parameter.UninitializedParameter):
            return (int(mod.in_features),)
        raise _fail(f"input_shape is required: the network starts with {_where(path, mod)}, so its input's shape is "
                    "not determined by its weights; pass input_shape=(C, L) or (C, H, W)", top)
    raise _fail("the network has no Conv/Linear layer", None)


def conv_target(model, input_shape=None) -> ConvTarget:
    """Validate a convolutional / residual ReLU network and return it as a :class:`ConvTarget`.

    ``model``: an ``nn.Sequential`` (nested Sequentials are flattened) of

    * ``nn.Conv1d`` / ``nn.Conv2d`` — any stride, zero padding given as ints/tuples, ``'valid'``, or
      ``'same'`` (stride 1 and an odd kernel: it becomes the explicit padding (k−1)/2), with or
      without bias; ``groups=1``, ``dilation=1``, ``padding_mode='zeros'``;
    * ``nn.Linear`` (on a flat input: put an ``nn.Flatten`` after the last conv/pool);
    * ``nn.ReLU`` (``inplace`` or not);
    * ``nn.MaxPool1d/2d`` (dilation 1, ``ceil_mode=False``, ``return_indices=False``),
      ``nn.AvgPool1d/2d`` (``ceil_mode=False``, ``divisor_override=None``, any ``count_include_pad``),
      ``nn.AdaptiveAvgPool1d/2d`` when every input size is a multiple of the output size (it is then
      the average pool with kernel = stride = input // output);
    * ``nn.Flatten()`` (``start_dim=1``, ``end_dim=-1``);
    * ``nn.BatchNorm1d/2d`` in eval mode with running statistics, right after a conv/linear (an
      ``Identity``/``Dropout`` in between is allowed): folded into it with :func:`fold_batchnorm`
      (W' = W·γ/√(var+ε) per output channel, b' = (b − mean)·γ/√(var+ε) + β), so that layer gets a bias;
    * ``nn.Identity`` and ``nn.Dropout`` / ``Dropout1d`` / ``Dropout2d``: dropped — the target is the
      network in **eval** semantics (dropout is the identity), whatever its ``training`` flag;
    * :class:`sltheory.conv.modules.ResidualBlock`: a :class:`~sltheory.conv.ops.Residual` op (its
      ``body`` and ``shortcut`` Sequentials parsed like the model; an empty shortcut is the identity);
    * torchvision's ``BasicBlock`` (recognised by its class name ``BasicBlock``, its attributes
      ``conv1, bn1, relu, conv2, bn2, downsample, stride`` and its class coming from a ``torchvision``
      module; a look-alike class defined elsewhere is refused, since its forward is unknown). Its
      forward is torchvision's, ``relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x))`` with
      ``s = downsample`` (or the identity when it is None); the instance is checked for hooks and a
      replaced forward, and its submodules are parsed; the result is a Residual op with body
      conv1+bn1, ReLU, conv2+bn2 and shortcut ``downsample`` (its BN folded into its conv).

    The network must end with a conv or a Linear (the certificate bounds the last affine map's output); a
    trailing ``nn.Flatten`` after a Linear (a no-op) is dropped, any other trailing module (ReLU, pool,
    Flatten of a conv's output, a residual block) is refused.

    ``input_shape``: (C, L) or (C, H, W) without the batch axis; required unless the first layer is a
    Linear (then it defaults to ``(in_features,)``). Every op's ``in_shape`` / ``out_shape`` is inferred
    from it (the same sizes torch computes). Weights are float64 numpy copies; ``meta["layers"]`` names
    the module(s) behind each affine layer, in :func:`sltheory.conv.ops.affine_layers` order (a residual
    block's body, then its shortcut).

    A :class:`ConvTarget` is returned as is (``input_shape``, when given, must be its own).

    Raises :class:`~sltheory.errors.TargetError` (``layer``: the index of the top-level module) naming
    the module by its path (``model[3]``, ``model[2].body[0]``) and class for anything else: another
    module class (Sigmoid, Conv3d, LSTM, a custom module), a subclass overriding ``forward``, forward
    hooks, groups/dilation/padding modes, a BatchNorm in training mode / without running stats / not
    right after a conv or linear, non-finite, complex, meta or lazy weights, a missing or inconsistent
    ``input_shape``, a layer that gets an impossible shape (in_channels or in_features that do not match,
    an output that shrinks to nothing, a Linear on a non-flat tensor). A malformed ``input_shape`` (not
    1 to 3 positive ints) is an :class:`~sltheory.errors.InvalidArgumentError`.
    """
    if isinstance(model, ConvTarget):
        if input_shape is not None and _input_shape_arg(input_shape) != tuple(model.input_shape):
            raise TargetError(f"input_shape {tuple(input_shape)} differs from the ConvTarget's "
                              f"{tuple(model.input_shape)}")
        return model
    if not isinstance(model, nn.Sequential):
        raise TargetError(f"a conv target of type {type(model).__name__} is not supported: pass an nn.Sequential of "
                          f"{SUPPORTED}, or a ConvTarget")
    items = _expand(model, "model", None)
    if not items:
        raise TargetError("the target nn.Sequential is empty")
    shape = _input_shape_arg(input_shape) if input_shape is not None else _infer_input_shape(items)
    parsed = _parse(items, shape)
    ops, origin = parsed.ops, parsed.origin
    while ops and isinstance(ops[-1], Flatten) and ops[-1].in_shape == ops[-1].out_shape and len(ops) > 1 \
            and isinstance(ops[-2], Affine):
        ops, origin = ops[:-1], origin[:-1]   # a Flatten of a Linear's output: a no-op
    if not ops:
        raise TargetError("the network has no Conv/Linear layer (only Identity/Dropout)")
    if not isinstance(ops[-1], Affine):
        path, mod, top = origin[-1]
        extra = " (flatten is only allowed after a Linear, where it does nothing)" if isinstance(ops[-1], Flatten) \
            else ""
        raise _fail(f"{_where(path, mod)} ends the network{extra}: the last layer must be a conv or a Linear "
                    "(the certificate bounds the last affine map's output)", top)
    return ConvTarget(tuple(ops), tuple(shape), tuple(ops[-1].out_shape), meta={"layers": tuple(parsed.names)})
