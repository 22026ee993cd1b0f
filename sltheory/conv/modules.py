"""Torch modules for convolutional / residual targets.

:class:`ResidualBlock` is a ResNet basic block whose structure the target parser
(:func:`sltheory.conv.target.conv_target`) reads from its two plain ``nn.Sequential`` halves, so
nothing about its ``forward`` has to be assumed beyond what is written here.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import strict_bool
from ..errors import InvalidArgumentError


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class ResidualBlock(nn.Module):
    """A ResNet basic block: ``relu(body(x) + shortcut(x))``.

    ``body``: conv3×3(in→out, ``stride``, padding 1) → [BN] → ReLU → conv3×3(out→out, padding 1) →
    [BN]; ``shortcut``: the identity (an empty ``nn.Sequential``) when ``stride == 1`` and
    ``in_channels == out_channels``, else conv1×1(in→out, ``stride``) → [BN]. ``dims`` 1 (Conv1d,
    BatchNorm1d, inputs (B, C, L)) or 2 (Conv2d, BatchNorm2d, inputs (B, C, H, W)); the BNs are
    present when ``batchnorm``, the convs have biases when ``bias``. ``device`` / ``dtype`` are
    passed to every submodule (``device="meta"`` builds it without allocating values).

    :func:`sltheory.conv.target.conv_target` turns it into a :class:`~sltheory.conv.ops.Residual`
    op (BatchNorm folded into the conv before it, eval mode required).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, dims: int = 2,
                 batchnorm: bool = False, bias: bool = False, device=None, dtype=None):
        super().__init__()
        in_channels = _positive_int("in_channels", in_channels)
        out_channels = _positive_int("out_channels", out_channels)
        stride = _positive_int("stride", stride)
        if isinstance(dims, bool) or dims not in (1, 2):
            raise InvalidArgumentError(f"dims must be 1 (Conv1d) or 2 (Conv2d), got {dims!r}")
        batchnorm = strict_bool("batchnorm", batchnorm)
        bias = strict_bool("bias", bias)
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        kw = {"device": device, "dtype": dtype}
        body: list[nn.Module] = [conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias, **kw)]
        if batchnorm:
            body.append(norm(out_channels, **kw))
        body += [nn.ReLU(), conv(out_channels, out_channels, 3, padding=1, bias=bias, **kw)]
        if batchnorm:
            body.append(norm(out_channels, **kw))
        short: list[nn.Module] = []
        if stride != 1 or in_channels != out_channels:
            short.append(conv(in_channels, out_channels, 1, stride=stride, bias=bias, **kw))
            if batchnorm:
                short.append(norm(out_channels, **kw))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.dims = dims
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*short)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}, dims={self.dims}"
