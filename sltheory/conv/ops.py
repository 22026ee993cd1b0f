"""The operations a convolutional / residual target is made of, as plain data (float64 numpy).

A :class:`ConvTarget` is a tuple of ops applied in order to an input of shape ``input_shape``
= (C, L) or (C, H, W) (no batch axis). Every op records its ``in_shape`` and ``out_shape``
(shape inference happens once, when the target is built), so certificates and constructions
never re-derive spatial sizes.

* :class:`Affine` — a ``Conv1d``/``Conv2d`` (weight (out, in, *kernel), stride, zero padding) or a
  ``Linear`` (weight (out, in), ``kernel == ()``), with an optional bias. BatchNorm (eval mode)
  is folded into the Affine before it (:func:`sltheory.conv.target.fold_batchnorm`).
* :class:`ReLU`, :class:`Flatten`.
* :class:`Pool` — ``"max"`` or ``"avg"`` pooling (kernel, stride, padding; avg with
  ``count_include_pad``); adaptive average pooling becomes a Pool when the sizes divide.
* :class:`Residual` — ``out = body(x) + shortcut(x)``, then a ReLU if ``relu`` (a ResNet
  BasicBlock); an empty ``shortcut`` is the identity.

:func:`forward` evaluates ops in float64 with ``torch.nn.functional`` (the reference the
certificate is about).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InvalidArgumentError

Shape = tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Affine:
    """A convolution (``kernel`` non-empty) or a fully connected layer (``kernel == ()``)."""

    weight: np.ndarray                 # (out, in, *kernel) float64, or (out, in) for Linear
    bias: np.ndarray | None            # (out,) or None
    stride: Shape = ()
    padding: Shape = ()
    in_shape: Shape = ()
    out_shape: Shape = ()

    @property
    def is_conv(self) -> bool:
        return self.weight.ndim > 2

    @property
    def kernel(self) -> Shape:
        return tuple(int(k) for k in self.weight.shape[2:])

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def positions(self) -> int:
        """Kernel positions k₁·k₂ (1 for Linear)."""
        return int(np.prod(self.kernel)) if self.kernel else 1

    @property
    def num_weights(self) -> int:
        return int(self.weight.size)

    def matrix(self) -> np.ndarray:
        """The weights as an (out · positions, in) matrix, row (o, p) holding W[o, :, p]: one
        subset-sum problem per entry (the layout the pair constructions prune in)."""
        W = self.weight
        if not self.is_conv:
            return W
        return np.ascontiguousarray(np.moveaxis(W, 1, -1).reshape(-1, W.shape[1]))


@dataclass(frozen=True)
class ReLU:
    in_shape: Shape = ()
    out_shape: Shape = ()


@dataclass(frozen=True)
class Flatten:
    in_shape: Shape = ()
    out_shape: Shape = ()


@dataclass(frozen=True)
class Pool:
    kind: str                          # "max" | "avg"
    kernel: Shape
    stride: Shape
    padding: Shape
    count_include_pad: bool = True
    in_shape: Shape = ()
    out_shape: Shape = ()


@dataclass(frozen=True, eq=False)
class Residual:
    body: tuple
    shortcut: tuple = ()
    relu: bool = True
    in_shape: Shape = ()
    out_shape: Shape = ()


Op = Affine | ReLU | Flatten | Pool | Residual


def conv_out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def affine_layers(ops) -> list[Affine]:
    """The Affine ops in evaluation order (a Residual's body, then its shortcut)."""
    out: list[Affine] = []
    for op in ops:
        if isinstance(op, Affine):
            out.append(op)
        elif isinstance(op, Residual):
            out += affine_layers(op.body)
            out += affine_layers(op.shortcut)
    return out


def _conv(x: torch.Tensor, w: torch.Tensor, b, stride, padding) -> torch.Tensor:
    fn = F.conv1d if w.ndim == 3 else F.conv2d
    return fn(x, w, b, stride=stride, padding=padding)


def apply_op(op, x: torch.Tensor, affine=None) -> torch.Tensor:
    """One op on a batch ``x`` (B, *op.in_shape). ``affine(op, x)`` overrides how an Affine is
    evaluated (a ticket substitutes its pruned pair); default: the target's weights."""
    if isinstance(op, Affine) or getattr(op, "is_affine", False):
        if affine is not None:
            return affine(op, x)
        w = torch.as_tensor(op.weight, dtype=x.dtype, device=x.device)
        b = None if op.bias is None else torch.as_tensor(op.bias, dtype=x.dtype, device=x.device)
        if op.is_conv:
            return _conv(x, w, b, op.stride, op.padding)
        return F.linear(x, w, b)
    if isinstance(op, ReLU):
        return torch.relu(x)
    if isinstance(op, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(op, Pool):
        d = len(op.kernel)
        if op.kind == "max":
            if d == 1:
                return F.max_pool1d(x, op.kernel, op.stride, op.padding)
            return F.max_pool2d(x, op.kernel, op.stride, op.padding)
        avg = F.avg_pool1d if d == 1 else F.avg_pool2d
        return avg(x, op.kernel, op.stride, op.padding, count_include_pad=op.count_include_pad)
    if isinstance(op, Residual):
        y = forward(op.body, x, affine)
        y = y + (forward(op.shortcut, x, affine) if op.shortcut else x)
        return torch.relu(y) if op.relu else y
    raise TypeError(f"unknown op {op!r}")


def batch_input(x, input_shape) -> torch.Tensor:
    """``x`` as a float64 batch (B, *input_shape): a floating torch tensor of shape (B, d) or
    (B, *input_shape); InvalidArgumentError otherwise (before any evaluation)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise InvalidArgumentError(f"inputs must be a floating-point torch tensor, got "
                                   f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    d = math.prod(input_shape)
    if x.dim() < 2 or (tuple(x.shape[1:]) != tuple(input_shape) and (x.dim() != 2 or x.shape[1] != d)):
        shape = ", ".join(map(str, input_shape))
        raise InvalidArgumentError(f"inputs must have shape (batch, {d}) or (batch, {shape}), got {tuple(x.shape)}")
    return x.to(torch.float64).reshape(x.shape[0], *input_shape)


def forward(ops, x: torch.Tensor, affine=None) -> torch.Tensor:
    for op in ops:
        x = apply_op(op, x, affine)
    return x


@dataclass(frozen=True, eq=False)
class ConvTarget:
    """A validated convolutional / residual ReLU network (see the module docstring).

    ``ops``: the ops in order; ``input_shape``: (C, L) or (C, H, W); ``output_shape``. Call it on
    a batch (B, *input_shape) or flattened (B, prod(input_shape)) — float64 inside, the input's
    dtype out (flattened to (B, d_out))."""

    ops: tuple
    input_shape: Shape
    output_shape: Shape
    meta: dict = field(default_factory=dict)

    @property
    def layers(self) -> list[Affine]:
        return affine_layers(self.ops)

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_dim(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def num_weights(self) -> int:
        """Weights and biases of the target (the counting bound counts kernel parameters)."""
        return int(sum(a.weight.size + (0 if a.bias is None else a.bias.size) for a in self.layers))

    @property
    def has_biases(self) -> bool:
        return any(a.bias is not None for a in self.layers)

    def describe(self) -> str:
        """A readable summary: one line per op (indented inside a Residual) with its shapes, then the
        number of affine layers and of weights."""
        lines = [f"ConvTarget {_fmt(self.input_shape)} → {_fmt(self.output_shape)}"]
        lines += _describe_ops(self.ops, "  ")
        lines.append(f"{self.depth} affine layers, {self.num_weights} weights and biases")
        return "\n".join(lines)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        xb = batch_input(x, self.input_shape)
        return forward(self.ops, xb).reshape(x.shape[0], -1).to(dtype)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _describe_ops(ops, indent: str) -> list[str]:
    lines: list[str] = []
    for op in ops:
        io = f"{_fmt(op.in_shape)} → {_fmt(op.out_shape)}"
        if isinstance(op, Affine):
            bias = "" if op.bias is None else " + bias"
            if op.is_conv:
                what = (f"Conv{len(op.kernel)}d {op.in_channels}→{op.out_channels} kernel {op.kernel} stride "
                        f"{op.stride} padding {op.padding}{bias}")
            else:
                what = f"Linear {op.in_channels}→{op.out_channels}{bias}"
            n = op.num_weights + (0 if op.bias is None else op.bias.size)
            lines.append(f"{indent}{what}: {io}, {n} weights")
        elif isinstance(op, Pool):
            extra = "" if op.kind == "max" or op.count_include_pad else " count_include_pad=False"
            lines.append(f"{indent}{op.kind}-pool kernel {op.kernel} stride {op.stride} padding {op.padding}{extra}: "
                         f"{io}")
        elif isinstance(op, Residual):
            lines.append(f"{indent}Residual{' + ReLU' if op.relu else ''}: {io}")
            lines.append(f"{indent}  body:")
            lines += _describe_ops(op.body, indent + "    ")
            lines.append(f"{indent}  shortcut:{'' if op.shortcut else ' identity'}")
            lines += _describe_ops(op.shortcut, indent + "    ")
        else:
            lines.append(f"{indent}{type(op).__name__}: {io}")
    return lines
