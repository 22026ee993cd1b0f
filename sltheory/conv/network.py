"""The random convolutional network a conv construction samples: fixed before pruning.

Per target Affine layer i (a conv with c_in → c_out channels and kernel K, or a Linear) the random
network holds a *pair* (da Cunha, Natale & Viennot 2022; Burkholz 2022, arXiv:2205.02343):

1. a 1×1 *univariate* layer: H_w = c_in·m·n units, unit u reading only input channel
   j = u // (m n) with one random weight a_u (the slot layout of
   :func:`sltheory.network.slot_columns`: slots (j, +), (j, −) of n units each when the input can
   be negative (m = 2), (j, +) only after a ReLU (m = 1); the slot fixes the sign, |a_u| is the
   law's magnitude), plus ``n_bias`` *bias units* (a target layer with a bias: Fischer, Gadhikar &
   Burkholz's bias units) whose input weights are absent and whose biases c_k ~ U(0, 1) make them
   constant channels σ(c_k) = c_k;
2. a ReLU;
3. a dense c_out × (H_w + n_bias) layer with the target layer's kernel K, stride and zero padding
   (a Linear for a Linear target layer).

Every other op of the target (ReLU, pooling, Flatten, residual additions) is part of the
architecture and copied as is: it has no weights. Streams: a_u and c_k from
``SeedSequence(seed, spawn_key=(2i,))`` (c: ``(2i, 1)``), exactly as :mod:`sltheory.network`'s
slot layers; the dense layer's output channel o from ``SeedSequence(seed, spawn_key=(2i+1, 2, o))``,
so any block of output channels can be generated alone (:func:`sample_second`), and a
network too large to hold is never needed whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RandomNetworkError, TargetError
from ..network import check_distribution, sample_bias, sample_layer, stream_draws
from .ops import Affine, Flatten, Pool, ReLU, Residual, batch_input

#: Law of a bias unit's random bias (Fischer, Gadhikar & Burkholz 2021: U(0, 1)).
BIAS_UNIT_LAW = ("interval", 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class AffineSpec:
    """An Affine op's geometry without its weights (what the random network is built from)."""

    is_affine = True   # evaluated through ops.forward's ``affine`` hook, like an Affine

    out_channels: int
    in_channels: int
    kernel: tuple = ()
    stride: tuple = ()
    padding: tuple = ()
    has_bias: bool = False
    in_shape: tuple = ()
    out_shape: tuple = ()
    #: Position in evaluation order (:func:`affine_specs`), set by :func:`ops_from_skeleton`: how a
    #: network finds the pair of this op (a plain field, so deep copies and pickles keep it).
    index: int = -1

    @property
    def is_conv(self) -> bool:
        return bool(self.kernel)

    @property
    def positions(self) -> int:
        return int(np.prod(self.kernel)) if self.kernel else 1


# ------------------------------------------------------------------ skeletons (JSON-able)
def skeleton(ops) -> list:
    """The target's architecture as JSON-able dicts (no weight values)."""
    out: list = []
    for op in ops:
        if isinstance(op, (Affine, AffineSpec)):
            if isinstance(op, Affine):
                out_c, in_c, kernel, has_bias = op.out_channels, op.in_channels, op.kernel, op.bias is not None
            else:
                out_c, in_c, kernel, has_bias = op.out_channels, op.in_channels, op.kernel, op.has_bias
            out.append({"op": "affine", "out": int(out_c), "in": int(in_c), "kernel": list(kernel),
                        "stride": [int(s) for s in op.stride], "padding": [int(p) for p in op.padding],
                        "bias": bool(has_bias), "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)})
        elif isinstance(op, ReLU):
            out.append({"op": "relu", "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)})
        elif isinstance(op, Flatten):
            out.append({"op": "flatten", "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)})
        elif isinstance(op, Pool):
            out.append({"op": "pool", "kind": op.kind, "kernel": list(op.kernel), "stride": list(op.stride),
                        "padding": list(op.padding), "count_include_pad": bool(op.count_include_pad),
                        "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)})
        elif isinstance(op, Residual):
            out.append({"op": "residual", "body": skeleton(op.body), "shortcut": skeleton(op.shortcut),
                        "relu": bool(op.relu), "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)})
        else:
            raise TargetError(f"unknown op {type(op).__name__}")
    return out


def ops_from_skeleton(spec) -> tuple:
    """Ops (with :class:`AffineSpec` for the Affine layers, numbered in evaluation order) from
    :func:`skeleton`'s output."""
    ops = _ops_from_skeleton(spec)
    for i, a in enumerate(affine_specs(ops)):
        object.__setattr__(a, "index", i)
    return ops


def _ops_from_skeleton(spec) -> tuple:
    out: list = []
    for d in spec:
        kind = d.get("op") if isinstance(d, dict) else None
        shapes = {"in_shape": tuple(d.get("in_shape", ())), "out_shape": tuple(d.get("out_shape", ()))} \
            if isinstance(d, dict) else {}
        if kind == "affine":
            out.append(AffineSpec(int(d["out"]), int(d["in"]), tuple(int(k) for k in d["kernel"]),
                                  tuple(int(s) for s in d["stride"]), tuple(int(p) for p in d["padding"]),
                                  bool(d["bias"]), shapes["in_shape"], shapes["out_shape"]))
        elif kind == "relu":
            out.append(ReLU(**shapes))
        elif kind == "flatten":
            out.append(Flatten(**shapes))
        elif kind == "pool":
            out.append(Pool(str(d["kind"]), tuple(d["kernel"]), tuple(d["stride"]), tuple(d["padding"]),
                            bool(d["count_include_pad"]), **shapes))
        elif kind == "residual":
            out.append(Residual(_ops_from_skeleton(d["body"]), _ops_from_skeleton(d["shortcut"]), bool(d["relu"]),
                                **shapes))
        else:
            raise RandomNetworkError(f"unknown op in a plan's skeleton: {d!r}")
    return tuple(out)


def affine_specs(ops) -> list:
    """The Affine / AffineSpec ops in evaluation order (a Residual's body, then its shortcut)."""
    out: list = []
    for op in ops:
        if isinstance(op, (Affine, AffineSpec)):
            out.append(op)
        elif isinstance(op, Residual):
            out += affine_specs(op.body) + affine_specs(op.shortcut)
    return out


def input_signs(ops, signed_input: bool) -> list[bool]:
    """Per Affine layer (evaluation order): whether its input can be negative. The network input
    is signed unless the domain is nonnegative; after a ReLU, a max/avg pool or a Flatten of
    nonnegative values, or a Residual with a final ReLU, values are ≥ 0."""
    out: list[bool] = []

    def walk(seq, signed):
        for op in seq:
            if isinstance(op, (Affine, AffineSpec)):
                out.append(signed)
                signed = True
            elif isinstance(op, ReLU):
                signed = False
            elif isinstance(op, Residual):
                body_out = walk(op.body, signed)
                short_out = walk(op.shortcut, signed) if op.shortcut else signed
                signed = False if op.relu else (body_out or short_out)
        return signed

    walk(ops, signed_input)
    return out


def count_residuals(ops) -> int:
    n = 0
    for op in ops:
        if isinstance(op, Residual):
            n += 1 + count_residuals(op.body) + count_residuals(op.shortcut)
    return n


def bias_position(spec) -> tuple[int, ...]:
    """A kernel position q that lies inside the (unpadded) input for every output position, so a
    constant bias channel, zero-padded, contributes B[o, k, q]·c_k at every output: per dimension
    the smallest q with q ≥ pad and (out − 1)·s − pad + q ≤ n − 1. TargetError if none exists."""
    if not spec.kernel:
        return ()
    q: list[int] = []
    for d, k in enumerate(spec.kernel):
        n_in, n_out = spec.in_shape[1 + d], spec.out_shape[1 + d]
        s, p = spec.stride[d], spec.padding[d]
        ok = [j for j in range(k) if j >= p and (n_out - 1) * s - p + j <= n_in - 1]
        if not ok:
            raise TargetError(f"a conv layer with a bias (kernel {spec.kernel}, padding {spec.padding}, input "
                              f"{spec.in_shape}) has no kernel position that stays inside the input at every output "
                              "position: its bias cannot be carried by constant bias channels; use a padding < kernel")
        q.append(ok[0])
    return tuple(q)


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class ConvPlan:
    """What a conv construction decided from the target's architecture (never its values).

    ``skeleton``: :func:`skeleton` of the target; ``input_shape``; per Affine layer i (evaluation
    order): ``n[i]`` samples per slot, ``signed[i]`` (its input can be negative: slots of both
    signs), ``bias_units[i]`` (0 without a target bias); ``copies`` (Burkholz's L+1: the ρ copies
    of every channel; 0 for the 2L pair constructions), ``distribution``: the law of every random
    weight (see :func:`sltheory.network.sample_layer`), ``first_distribution`` of the univariate
    weights; ``domain``: the input domain's spec (None: the unit ball)."""

    construction: str
    skeleton: tuple
    input_shape: tuple
    n: tuple
    signed: tuple
    bias_units: tuple
    eps: float | None
    delta: float | None
    constant: float | None = None
    distribution: tuple = ("uniform",)
    first_distribution: tuple = ("uniform",)
    domain: dict | None = None
    options: dict = field(default_factory=dict)

    @property
    def ops(self) -> tuple:
        return ops_from_skeleton(self.skeleton)

    @property
    def layers(self) -> list:
        return affine_specs(self.ops)

    def units(self, i: int) -> int:
        """Univariate (weight) units of pair i: c_in · m · n."""
        spec = self.layers[i]
        return int(spec.in_channels * (2 if self.signed[i] else 1) * self.n[i])

    def hidden(self, i: int) -> int:
        return self.units(i) + int(self.bias_units[i])

    def second_shape(self, i: int) -> tuple:
        spec = self.layers[i]
        return (spec.out_channels, self.hidden(i)) + tuple(spec.kernel)

    @property
    def num_random_weights(self) -> int:
        """Random weights of the network: a construction with its own layout records the count
        (its random biases included) in ``options["random_weights"]``; otherwise the pair layout's
        univariate weights and dense layers (the bias units' random biases: :attr:`num_random_biases`)."""
        if "random_weights" in self.options:
            return int(self.options["random_weights"])
        return int(sum(self.units(i) + math.prod(self.second_shape(i)) for i in range(len(self.n))))

    @property
    def num_random_biases(self) -> int:
        """Random biases not counted in :attr:`num_random_weights` (the pair layout's bias units)."""
        return 0 if "random_weights" in self.options else int(sum(self.bias_units))

    def input_domain(self):
        from ..domains import Ball, domain_from_spec

        return Ball() if self.domain is None else domain_from_spec(self.domain)

    def to_json(self) -> dict:
        return {"construction": self.construction, "skeleton": list(self.skeleton),
                "input_shape": list(self.input_shape), "n": list(self.n), "signed": list(self.signed),
                "bias_units": list(self.bias_units), "eps": self.eps, "delta": self.delta,
                "constant": self.constant, "distribution": list(self.distribution),
                "first_distribution": list(self.first_distribution), "domain": self.domain,
                "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.options.items()}}

    @classmethod
    def from_json(cls, d: dict) -> ConvPlan:
        return cls(str(d["construction"]), tuple(d["skeleton"]), tuple(int(v) for v in d["input_shape"]),
                   tuple(int(v) for v in d["n"]), tuple(bool(v) for v in d["signed"]),
                   tuple(int(v) for v in d["bias_units"]), d["eps"], d["delta"], d.get("constant"),
                   tuple(d["distribution"]), tuple(d["first_distribution"]), d.get("domain"),
                   dict(d.get("options") or {}))


# ------------------------------------------------------------------ sampling
def sample_first(plan: ConvPlan, seed: int, i: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Pair i's univariate weights a (units(i),) with the slot signs, and its bias units' biases
    c (bias_units(i),) or None."""
    H_w = plan.units(i)
    law = tuple(plan.first_distribution)
    check_distribution(law)
    mag = np.abs(sample_layer(seed, 2 * i, (H_w,), law).numpy())
    n = plan.n[i]
    slot = np.arange(H_w) // n
    sign = np.where(slot % 2 == 1, -1.0, 1.0) if plan.signed[i] else np.ones(H_w)
    a = sign * mag
    c = None
    if plan.bias_units[i]:
        c = sample_bias(seed, 2 * i, int(plan.bias_units[i]), BIAS_UNIT_LAW).numpy()
    return a, c


def sample_second(plan: ConvPlan, seed: int, i: int, channels=None) -> np.ndarray:
    """Pair i's dense layer, output channels ``channels`` (default all): (len, hidden, *kernel),
    channel o from its own stream ``(2i+1, 2, o)``."""
    shape = plan.second_shape(i)
    chans = range(shape[0]) if channels is None else channels
    law = tuple(plan.distribution)
    check_distribution(law)
    per = shape[1:]
    out = np.empty((len(chans),) + per)
    for r, o in enumerate(chans):
        out[r] = _stream_draws(seed, (2 * i + 1, 2, int(o)), per, law)
    return out


def _stream_draws(seed: int, key: tuple, shape: tuple, law: tuple) -> np.ndarray:
    """:func:`sltheory.network.stream_draws` (the laws of :func:`sltheory.network.sample_layer`)."""
    return stream_draws(seed, key, shape, law)


class RandomPair(nn.Module):
    """One pair: univariate 1×1 layer (+ constant bias channels), ReLU, the dense layer.

    ``a`` (H_w,), ``c`` (n_bias,) or None, ``B`` (c_out, H, *K); unit u reads input channel
    ``channel[u]``. With masks applied (a ticket) the same module computes the ticket's pair."""

    a: torch.Tensor
    c: torch.Tensor
    B: torch.Tensor
    channel: torch.Tensor

    def __init__(self, spec, a: torch.Tensor, c, B: torch.Tensor, channel: torch.Tensor):
        super().__init__()
        self.spec = spec
        self.register_buffer("a", a)
        self.register_buffer("c", c if c is not None else torch.zeros(0, dtype=a.dtype, device=a.device))
        self.register_buffer("B", B)
        self.register_buffer("channel", channel)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """σ(a_u x_{channel(u)}) for every unit, then the constant bias channels σ(c_k)."""
        a = self.a.to(x.dtype)
        xs = x.index_select(1, self.channel)
        view = (1, -1) + (1,) * (x.dim() - 2)
        u = torch.relu(xs * a.view(view))
        if self.c.numel():
            const = torch.relu(self.c.to(x.dtype)).view(view).expand((x.shape[0], -1) + tuple(x.shape[2:]))
            u = torch.cat([u, const], dim=1)
        return u

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.hidden(x)
        B = self.B.to(x.dtype)
        if B.shape[1] == 0:     # no unit kept: the pair outputs 0 (one zero channel keeps the shapes)
            u = torch.zeros((x.shape[0], 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
            B = torch.zeros((B.shape[0], 1) + tuple(B.shape[2:]), dtype=x.dtype, device=x.device)
        if not self.spec.is_conv:
            return F.linear(u, B)
        fn = F.conv1d if B.dim() == 3 else F.conv2d
        return fn(u, B, None, stride=self.spec.stride, padding=self.spec.padding)


class ConvRandomNetwork(nn.Module):
    """The sampled random network of a :class:`ConvPlan`; ``plan`` and ``seed`` say how it was
    built. Input (B, *input_shape) or flattened (B, d); output flattened (B, d_out); float64
    weights."""

    def __init__(self, plan: ConvPlan, seed: int, device=None, *, pairs=None):
        super().__init__()
        self.plan = plan
        self.seed = int(seed)
        self._ops = plan.ops
        specs = affine_specs(self._ops)
        mods = []
        for i, spec in enumerate(specs):
            if pairs is not None:
                a, c, B = pairs[i]
            else:
                a, c = sample_first(plan, seed, i)
                B = sample_second(plan, seed, i)
            mods.append(_pair_module(plan, i, spec, a, c, B, device))
        self.pairs = nn.ModuleList(mods)

    @property
    def construction(self) -> str:
        return self.plan.construction

    def pair_arrays(self, i: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        m: RandomPair = self.pairs[i]  # type: ignore[assignment]
        c = m.c.detach().cpu().numpy() if m.c.numel() else None
        return m.a.detach().cpu().numpy(), c, m.B.detach().cpu().numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .ops import forward as ops_forward

        dtype = x.dtype
        xb = batch_input(x, self.plan.input_shape)
        y = ops_forward(self._ops, xb, affine=lambda op, h: self.pairs[op.index](h))
        return y.reshape(x.shape[0], -1).to(dtype)


def _pair_module(plan: ConvPlan, i: int, spec, a, c, B, device) -> RandomPair:
    n, m = plan.n[i], (2 if plan.signed[i] else 1)
    channel = torch.from_numpy(np.arange(len(a)) // (m * n)).to(device or "cpu")
    dev = device or "cpu"
    return RandomPair(spec, torch.as_tensor(a, dtype=torch.float64).to(dev),
                      None if c is None else torch.as_tensor(c, dtype=torch.float64).to(dev),
                      torch.as_tensor(B, dtype=torch.float64).to(dev), channel)
