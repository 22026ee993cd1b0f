"""The random network: an nn.Sequential of nn.Linear and nn.ReLU, fixed before pruning (biases only
where a construction for targets with biases samples them: ``Plan.layer_biases``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .errors import RandomNetworkError


@dataclass(frozen=True)
class Plan:
    """What a construction decided from the target's *shapes* (never its values).

    ``layer_shapes``: (out, in) of each random nn.Linear in order. ``pairs[i]``: indices (into the
    list of random linears) of the layers that approximate target layer i. ``n[i]``: samples per
    block for target layer i; ``signed[i]``: whether layer i's inputs can be negative.
    """

    construction: str
    target_shapes: tuple[tuple[int, int], ...]
    layer_shapes: tuple[tuple[int, int], ...]
    pairs: tuple[tuple[int, ...], ...]
    n: tuple[int, ...]
    signed: tuple[bool, ...]
    eps: float | None
    delta: float | None
    constant: float | None
    options: dict = field(default_factory=dict)
    #: The law of every random weight (see :func:`sample_layer`): ("uniform",) i.i.d. U[−1, 1),
    #: ("uniform", s) U[−s, s); ("hyperbolic", γ) symmetric, |w| log-uniform on [γ, 1] (density
    #: ∝ 1/|w|, Orseau et al. 2020), ("hyperbolic", γ, Γ) on [γ, Γ]; ("binary",) ±1, ("binary", s)
    #: ±s, each sign with probability ½; ("normal", s) i.i.d. N(0, s²) (Kaiming normal: s = √(2/fan_in)).
    distribution: tuple = ("uniform",)
    #: Per random linear, its structure (empty: every layer dense): ("dense",); ("slots", n,
    #: signed) — one weight per row, sampled only there (see :func:`slot_columns`); or
    #: ("balanced",) — dense, magnitudes random, signs fixed to a checkerboard (see
    #: :func:`sample_plan_layer`).
    layer_kinds: tuple = ()
    #: Per random linear, its own law (empty: every layer ``distribution``), e.g. a first layer
    #: U(−2, 2) and the rest U(−1, 1).
    layer_distributions: tuple = ()
    #: Per target layer, whether it has a bias (empty: a bias-free target). Structure, not values.
    biases: tuple = ()
    #: Per random linear, the law of its bias (empty, or None for a linear without bias):
    #: ("interval", lo, hi) i.i.d. U[lo, hi) (:func:`sample_bias`), e.g. (0, 1) for Fischer et al.'s
    #: bias units.
    layer_biases: tuple = ()
    #: The input domain the plan was made for (:meth:`sltheory.domains.Domain.spec`); None: the unit ball.
    domain: dict | None = None

    @property
    def target_bias_flags(self) -> tuple[bool, ...]:
        return tuple(bool(b) for b in self.biases) if self.biases else (False,) * len(self.target_shapes)

    def layer_bias(self, t: int) -> tuple | None:
        """The law of random linear t's bias, or None (no bias)."""
        if not self.layer_biases or self.layer_biases[t] is None:
            return None
        return tuple(self.layer_biases[t])

    def input_domain(self):
        """The plan's :class:`~sltheory.domains.Domain` (the unit ball when none was given)."""
        from .domains import Ball, domain_from_spec

        return Ball() if self.domain is None else domain_from_spec(self.domain)

    def layer_kind(self, t: int) -> tuple:
        return tuple(self.layer_kinds[t]) if self.layer_kinds else ("dense",)

    def layer_distribution(self, t: int) -> tuple:
        """The law of random linear t's weights."""
        return tuple(self.layer_distributions[t]) if self.layer_distributions else tuple(self.distribution)

    def layer_weights(self, t: int) -> int:
        """Random weights of linear t: out·in when dense, out (one per row) when slot-structured."""
        out_f, in_f = self.layer_shapes[t]
        return out_f if self.layer_kind(t)[0] == "slots" else out_f * in_f

    @property
    def num_random_weights(self) -> int:
        return int(sum(self.layer_weights(t) for t in range(len(self.layer_shapes))))

    @property
    def stored_weights(self) -> int:
        """float64 entries the sampled network holds: every linear is stored dense, a slot layer's
        zeros included (≥ ``num_random_weights``; what memory caps are checked against)."""
        return int(sum(out_f * in_f for out_f, in_f in self.layer_shapes))


class RandomNetwork(nn.Sequential):
    """A sampled random network; ``plan`` and ``seed`` record how it was built.

    Linear t has weights drawn i.i.d. from ``plan.distribution`` (default U[−1, 1)) in float64
    from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(t,)))`` — each layer from its
    own stream, so any layer can be regenerated alone from (seed, t, shape).
    """

    def __init__(self, plan: Plan, seed: int, device=None):
        layers: list[nn.Module] = []
        for t, (out_f, in_f) in enumerate(plan.layer_shapes):
            law = plan.layer_bias(t)
            lin = nn.Linear(in_f, out_f, bias=law is not None, device="meta")
            lin.weight = nn.Parameter(sample_plan_layer(plan, seed, t, device=device), requires_grad=False)
            if law is not None:
                lin.bias = nn.Parameter(sample_bias(seed, t, out_f, law, device=device), requires_grad=False)
            layers.append(lin)
            if t < len(plan.layer_shapes) - 1:
                layers.append(nn.ReLU())
        super().__init__(*layers)
        self.plan = plan
        self.seed = int(seed)

    @property
    def construction(self) -> str:
        return self.plan.construction

    @property
    def n(self) -> tuple[int, ...]:
        return self.plan.n

    @property
    def pairs(self) -> tuple[tuple[int, ...], ...]:
        return self.plan.pairs

    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]


class ScaledOutput(nn.Module):
    """Multiplies the output by a fixed constant (used only with ``rescale=True``)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = float(scale)

    def forward(self, x):
        return x * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale:.6g}"



def sample_layer(seed: int, index: int, shape: tuple[int, ...], distribution=("uniform",),
                 device=None) -> torch.Tensor:
    """Weights of random layer ``index``, float64, from (seed, index) only.

    Every law is a fixed transform of the same draws u ~ U[−1, 1) (one stream per layer):
    ``("uniform",)``: w = u; ``("uniform", s)``: w = s·u, i.e. U[−s, s). ``("hyperbolic", γ)``:
    w = sign(u) γ^{|u|}, so |w| is log-uniform on (γ, 1] (density ∝ 1/|w|) with a symmetric sign;
    ``("hyperbolic", γ, Γ)``: w = sign(u) Γ (γ/Γ)^{|u|}, |w| log-uniform on (γ, Γ].
    ``("binary",)``: w = sign(u) ∈ {−1, +1}; ``("binary", s)``: ±s (a zero draw counts as +).
    ``("normal", s)``: i.i.d. N(0, s²) from the same stream's standard normal draws (not a transform
    of u: the one law that is not).
    """
    check_distribution(distribution)
    w = stream_draws(seed, (int(index),), shape, distribution)
    return torch.from_numpy(w).to(device or "cpu")


def stream_draws(seed: int, key: tuple, shape: tuple, distribution) -> np.ndarray:
    """float64 draws of ``distribution`` (:func:`sample_layer`'s laws, checked by the caller) from the
    stream ``SeedSequence(seed, spawn_key=key)``: u ~ U[−1, 1), then the law's fixed transform."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))
    if distribution[0] == "normal":
        w = rng.standard_normal(shape)
        w *= float(distribution[1])
        return w
    w = rng.random(shape)
    w *= 2.0
    w -= 1.0
    name, params = distribution[0], [float(v) for v in distribution[1:]]
    if name == "uniform":
        if params:
            w *= params[0]
    elif name == "hyperbolic":
        lo, hi = params[0], (params[1] if len(params) > 1 else 1.0)
        w = np.sign(w) * hi * (lo / hi) ** np.abs(w)
    else:   # binary
        w = np.where(w < 0.0, -1.0, 1.0) * (params[0] if params else 1.0)
    return w


def sample_bias(seed: int, index: int, size: int, law, device=None) -> torch.Tensor:
    """The bias of random layer ``index``, float64, from (seed, index) only, on its own stream
    (``SeedSequence(seed, spawn_key=(index, 1))``, independent of the weights' (index,)):
    ``("interval", lo, hi)``: i.i.d. U[lo, hi)."""
    check_bias_law(law)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index), 1)))
    lo, hi = float(law[1]), float(law[2])
    b = rng.random(int(size)) * (hi - lo) + lo
    return torch.from_numpy(b).to(device or "cpu")


def check_bias_law(law) -> None:
    """RandomNetworkError unless ``law`` is ("interval", lo, hi) with finite lo < hi."""
    ok = (isinstance(law, tuple) and len(law) == 3 and law[0] == "interval"
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in law[1:])
          and float(law[1]) < float(law[2]))
    if not ok:
        raise RandomNetworkError(f"unknown bias law {law!r}: expected ('interval', lo, hi) with finite lo < hi")


def check_distribution(distribution) -> None:
    """RandomNetworkError unless ``distribution`` is one of :func:`sample_layer`'s laws with finite,
    positive parameters (hyperbolic: 0 < γ < Γ)."""
    ok = isinstance(distribution, tuple) and len(distribution) >= 1 and isinstance(distribution[0], str)
    if ok:
        name, params = distribution[0], distribution[1:]
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                 for v in params)
        if name in ("uniform", "binary"):
            ok = ok and len(params) <= 1
        elif name == "normal":
            ok = ok and len(params) == 1
        elif name == "hyperbolic":
            ok = ok and len(params) in (1, 2) and float(params[0]) < (float(params[1]) if len(params) == 2 else 1.0)
        else:
            ok = False
    if not ok:
        raise RandomNetworkError(f"unknown distribution {distribution!r}: expected ('uniform'[, s]), "
                                 "('hyperbolic', γ[, Γ]) with 0 < γ < Γ (default 1), ('binary'[, s]) or ('normal', s), "
                                 "parameters finite and > 0")


def slot_columns(kind: tuple, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """For a ("slots", n, signed) layer of ``rows`` units: the input column and the sign of each
    unit's one weight. Unit k is in slot s = k // n; slots are (j, +), (j, −) for j = 0, 1, … when
    ``signed`` (inputs can be negative), else (j, +)."""
    _, n, signed = kind
    slot = np.arange(rows) // int(n)
    if signed:
        return slot // 2, np.where(slot % 2 == 1, -1.0, 1.0)
    return slot, np.ones(rows)


def sample_plan_layer(plan: Plan, seed: int, t: int, device=None) -> torch.Tensor:
    """Random linear t of ``plan``, float64, from (seed, t) only: :func:`sample_layer` for a dense
    layer; for a ("slots", n, signed) layer, row k holds one weight, sign_k·|w_k| at column j_k
    (:func:`slot_columns`), with w the layer's first ``rows`` draws of its law (``plan.layer_distribution(t)``) (so
    |w_k| has the law of a dense layer's |weight|; the slot fixes its sign), zeros elsewhere; for
    a ("balanced",) layer, entry (r, c) is (−1)^{r+c}·|w_rc| with w the dense layer's draws, so any
    run of consecutive columns holds as many positive as negative weights in every row (±1)."""
    shape = tuple(plan.layer_shapes[t])
    kind = plan.layer_kind(t)
    if kind[0] == "dense":
        return sample_layer(seed, t, shape, plan.layer_distribution(t), device=device)
    if kind[0] == "balanced":
        w = sample_layer(seed, t, shape, plan.layer_distribution(t)).abs_()
        rows, cols = shape
        flip = (np.arange(rows)[:, None] + np.arange(cols)[None, :]) % 2 == 1
        w[torch.from_numpy(flip)] *= -1.0
        return w.to(device or "cpu")
    if kind[0] != "slots":
        raise RandomNetworkError(f"unknown layer kind {kind!r}")
    rows, cols = shape
    values = sample_layer(seed, t, (rows,), plan.layer_distribution(t)).numpy()
    col, sign = slot_columns(kind, rows)
    if rows and int(col.max()) >= cols:
        raise RandomNetworkError(f"slot layer {t} of shape {shape} needs {int(col.max()) + 1} inputs")
    out = np.zeros(shape)
    out[np.arange(rows), col] = sign * np.abs(values)
    return torch.from_numpy(out).to(device or "cpu")


def masked_copy(rand: nn.Sequential, masks: list[torch.Tensor], bias_masks=None) -> nn.Sequential:
    """A new nn.Sequential with the weights of ``rand`` where ``masks`` is True and 0 elsewhere;
    a linear with a bias keeps it where ``bias_masks[t]`` is True (all pruned when None)."""
    layers: list[nn.Module] = []
    it = iter(masks)
    t = -1
    for mod in rand:
        if isinstance(mod, nn.Linear):
            t += 1
            mask = next(it)
            w = mod.weight.detach()
            zero = torch.zeros((), dtype=w.dtype, device=w.device)
            lin = nn.Linear(w.shape[1], w.shape[0], bias=mod.bias is not None, device="meta")
            lin.weight = nn.Parameter(torch.where(mask.to(w.device), w, zero), requires_grad=False)
            if mod.bias is not None:
                bm = None if bias_masks is None else bias_masks[t]
                b = mod.bias.detach()
                lin.bias = nn.Parameter(torch.zeros_like(b) if bm is None else torch.where(bm.to(b.device), b, zero),
                                        requires_grad=False)
            layers.append(lin)
        else:
            layers.append(type(mod)())
    return nn.Sequential(*layers)


def own_behaviour(mod: nn.Module, base: type[nn.Module]) -> str | None:
    """Why ``mod`` (an instance of ``base`` or of a subclass) may not compute what ``base`` computes:
    a subclass overriding ``forward`` (or ``__call__``), a ``forward`` set on the instance, forward
    hooks, or parameters a hook could compute the weight from (legacy weight_norm's weight_g /
    weight_v). None if it does."""
    cls = type(mod)
    if isinstance(getattr(mod, "weight", None), nn.parameter.UninitializedParameter):
        return "it is a lazy module that was never run (uninitialized weight)"
    if cls is not base and (cls.forward is not base.forward or cls.__call__ is not base.__call__):
        return f"{cls.__name__} overrides {base.__name__}.forward"
    if "forward" in vars(mod) or "__call__" in vars(mod):
        return "its forward was replaced on the instance"
    if mod._forward_hooks or mod._forward_pre_hooks or getattr(mod, "_forward_hooks_with_kwargs", None):
        return "it has forward hooks"
    extra = {n for n, _ in mod.named_parameters(recurse=False)} - {"weight", "bias"}
    if extra or any(True for _ in mod.named_buffers(recurse=False)):
        return f"it holds other parameters or buffers ({sorted(extra)[:3] or 'buffers'})"
    return None


def plain_relu_network(module: nn.Module, *, what: str, error=RandomNetworkError,
                       tail: type[nn.Module] | None = None, allow_bias: bool = False):
    """The linears of ``module`` (and its ``tail`` module, or None), checking that it computes what
    the certificate models: an nn.Sequential (or RandomNetwork) of float64, finite nn.Linear (bias-free
    unless ``allow_bias``) and nn.ReLU alternating, a Linear last, optionally followed by one ``tail`` module,
    each exactly of its class and without hooks or a replaced forward; ``error`` otherwise."""
    if not isinstance(module, nn.Sequential) or type(module) not in (nn.Sequential, RandomNetwork):
        raise error(f"{what} is a {type(module).__name__}, not a plain nn.Sequential")
    why = own_behaviour(module, type(module))
    if why is not None:
        raise error(f"{what} is not supported: {why}")
    mods = list(module)
    end = None
    if tail is not None and mods and isinstance(mods[-1], tail):
        end, mods = mods[-1], mods[:-1]
    if not mods or len(mods) % 2 == 0:
        raise error(f"{what} is not nn.Linear and nn.ReLU alternating with a Linear last")
    if end is not None and tail is not None:   # end is set only when tail is
        if type(end) is not tail or own_behaviour(end, tail) is not None:
            raise error(f"{what}: module {len(mods)} ({type(end).__name__}) is not a plain {tail.__name__}")
    for i, m in enumerate(mods):
        base = nn.Linear if i % 2 == 0 else nn.ReLU
        if type(m) is not base:
            raise error(f"{what}: module {i} is a {type(m).__name__}, expected exactly nn.{base.__name__}")
        why = own_behaviour(m, base)
        if why is not None:
            raise error(f"{what}: module {i} ({base.__name__}) is not supported: {why}")
        if base is nn.Linear:
            w: torch.Tensor = m.weight  # type: ignore[assignment]  # an nn.Linear's weight is a Parameter
            bias: torch.Tensor | None = m.bias  # type: ignore[assignment]
            if bias is not None and not allow_bias:
                raise error(f"{what}: module {i} (Linear) has a bias")
            if bias is not None and (bias.dtype != torch.float64 or not bool(torch.isfinite(bias).all())):
                raise error(f"{what}: module {i} (Linear) has a bias that is not finite float64")
            if w.device.type == "meta" or w.dtype != torch.float64:
                raise error(f"{what}: module {i} (Linear) holds {w.dtype} weights on {w.device.type}; the "
                            "certificate is for float64 weights with values")
            if not bool(torch.isfinite(w).all()):
                raise error(f"{what}: module {i} (Linear) has non-finite weights")
    return mods[0::2], end

