"""What every weight-training baseline shares: the checked problem, one training loop with masks and
frozen weights, and the :class:`Trained` result.

The question these baselines serve (the structure-vs-weights experiment): on ONE fixed random network
(:func:`sltheory.search.random_mlp`, or any MLP :class:`~sltheory.network.RandomNetwork`), how much of a
good model is *structure* — which weights are kept, a mask — and how much *weights* — which values
change? Every method here returns the same :class:`Trained`, whose two bool masks per layer answer
it: ``masks`` (which random weights are present: structure) and ``changed`` (which present weights
no longer hold their random value). Pruning is structure, not a change: the mask-only ticket has
``changed_fraction`` 0; dense training at most 1 — a weight that gets no gradient (from an input that
is always 0, into a unit no sample activates) keeps its random value and is not counted.

**The training loop** (:func:`fit`, ours, shared by every method): each random linear t is an
augmented matrix A_t = [W_t | b_t] (the bias a last column whose input is 1; no column without a
bias). The loop trains a float32 copy P_t of A_t and computes with

    E_t = where(T_t, P_t, A_t) ⊙ M_t

— M_t the mask (structure), T_t the *trainable* entries: a weight outside T_t is the random value
itself, whatever P_t holds, and gets no gradient (``torch.where``'s backward sends the gradient to
P_t only where T_t is true, and ⊙ M_t zeroes it where the weight is absent). Cross-entropy on integer
labels, Adam (learning rate ``lr``, decayed by a cosine to 0 over all steps, no weight decay),
mini-batches of ``batch_size`` reshuffled every epoch by one seeded ``torch.Generator``: the same
call gives the same weights bit for bit on the CPU. ``init`` starts P from other values (IMP's
rewound weights); ``on_step`` is called after every optimiser step (RigL changes the masks there,
IMP takes its rewind snapshot).

**The result** (:func:`finish`): the final effective weights in float64 — a trainable present entry
P_t's value (float32, exactly representable in float64) where it differs from the float32 rounding
of the random value, every other present entry the random float64 value *bit for bit* (never a
float32 round trip: a weight training did not move, e.g. one into a dead unit, is not "changed"),
absent entries 0 — as a plain
``nn.Sequential`` of Linear/ReLU of the random network's widths; test and train accuracy are
measured on that float64 network, the one returned.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .._checks import nonnegative_int
from ..errors import InvalidArgumentError, RandomNetworkError, TrainingDivergedError

__all__ = ["Problem", "Trained", "TrainingMethod", "accuracy", "budget_count", "finish", "fit", "fraction_arg",
           "lr_arg", "prepare", "random_layers"]

#: Rows evaluated at once when measuring accuracy (bounds the hidden activations' memory).
EVAL_CHUNK = 8192


# --------------------------------------------------------------------------- arguments
def _real(value) -> float | None:
    """``value`` as a finite float, None if it is not a real number (bools excluded) or overflows."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return v if math.isfinite(v) else None


def lr_arg(lr) -> float:
    v = _real(lr)
    if v is None or not 0 < v <= 1e3:
        raise InvalidArgumentError(f"lr must be a number in (0, 1000], got {lr!r}")
    return v


def fraction_arg(name: str, value, *, allow_zero: bool = False) -> float:
    """``value`` as a float in (0, 1] (``allow_zero``: [0, 1]); a nonzero value that rounds to 0.0 is refused."""
    v = _real(value)
    if v is not None and ((0 <= v) if allow_zero else (0 < v)) and v <= 1 and not (v == 0 and value != 0):
        return v
    interval = "[0, 1]" if allow_zero else "(0, 1]"
    raise InvalidArgumentError(f"{name} must be a fraction in {interval}, got {value!r}")


def budget_count(fraction: float, total: int) -> int:
    """round(fraction · total) (half to even, as Python rounds), at least 1 when the fraction is positive."""
    if fraction <= 0:
        return 0
    return min(total, max(1, int(round(fraction * total))))


def common_args(*, epochs, seed, lr, batch_size) -> tuple[int, int, float, int]:
    """The loop's arguments checked (typed errors before any work)."""
    return (nonnegative_int("epochs", epochs, minimum=1, maximum=100_000),
            nonnegative_int("seed", seed, maximum=2**63 - 1),
            lr_arg(lr),
            nonnegative_int("batch_size", batch_size, minimum=1))


# --------------------------------------------------------------------------- the problem
@dataclass
class Problem:
    """A checked call: the random network's augmented float64 matrices, float32 data, integer labels."""

    random_net: Any
    A: list[torch.Tensor]                 # (out, in[+1]) float64, the random [W | b]
    has_bias: list[bool]
    output_scale: float
    X: torch.Tensor                       # float32 (n, d_in)
    y: torch.Tensor                       # int64 (n,)
    test: tuple[torch.Tensor, torch.Tensor] | None
    X64: torch.Tensor                     # float64 training inputs (final accuracies)
    test64: tuple[torch.Tensor, torch.Tensor] | None

    @property
    def device(self):
        return self.A[0].device

    @property
    def total(self) -> int:
        """N: the random network's weights (and biases): the denominator of density and changed fraction."""
        return int(sum(a.numel() for a in self.A))

    @property
    def d_out(self) -> int:
        return int(self.A[-1].shape[0])

    def shapes(self) -> list[tuple[int, int]]:
        return [tuple(a.shape) for a in self.A]  # type: ignore[misc]


def random_layers(random_net) -> tuple[list[torch.Tensor], list[bool], float]:
    """The augmented float64 matrices [W_t | b_t] of an MLP random network (typed errors otherwise),
    which have a bias column, and its output scale."""
    from ..search.base import check_random_network

    plan, linears, scale = check_random_network(random_net, "weight training")
    A, has_bias = [], []
    for t, lin in enumerate(linears):
        if plan.layer_kind(t)[0] != "dense":
            raise RandomNetworkError(f"random layer {t} is slot-structured ({plan.construction}'s structural zeros are "
                                     "not weights): train on a dense random MLP (sltheory.search.random_mlp)")
        W = lin.weight.detach()
        if lin.bias is None:
            A.append(W)
            has_bias.append(False)
        else:
            A.append(torch.cat([W, lin.bias.detach()[:, None]], dim=1))
            has_bias.append(True)
    return A, has_bias, scale


def _labelled(name: str, pair, d_in: int, d_out: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``pair`` = (X, y) checked: float64 rows of ``d_in`` features within float32's range (training runs in
    float32), integer class labels in 0…d_out−1; both on ``device``."""
    from ..search.base import _inputs, _labels

    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise InvalidArgumentError(f"{name} must be a pair (X, y) of inputs and integer class labels")
    X = _inputs(f"{name} X", pair[0], d_in, device)
    kind, y = _labels(f"{name} y", pair[1], X.shape[0], d_out)
    if kind != "classification":
        raise InvalidArgumentError(f"{name} y must be integer class labels (the baselines train a classifier)")
    big = float(torch.finfo(torch.float32).max)
    if float(X.abs().max()) > big:
        raise InvalidArgumentError(f"{name} X has entries beyond float32's range (±{big:.3g}): training runs in "
                                   "float32")
    return X, y.to(device)


def prepare(random_net, data, test=None) -> Problem:
    """Check ``random_net``, ``data=(X, y)`` and ``test`` (integer class labels in 0…d_out−1)."""
    A, has_bias, scale = random_layers(random_net)
    device = A[0].device
    d_in, d_out = int(A[0].shape[1]) - int(has_bias[0]), int(A[-1].shape[0])
    X, y = _labelled("data", data, d_in, d_out, device)
    test_pair = None if test is None else _labelled("test", test, d_in, d_out, device)
    return Problem(random_net=random_net, A=A, has_bias=has_bias, output_scale=scale, X=X.float(), y=y,
                   test=None if test_pair is None else (test_pair[0].float(), test_pair[1]),
                   X64=X, test64=test_pair)


# --------------------------------------------------------------------------- forward and accuracy
def forward(layers: Sequence[torch.Tensor], has_bias: Sequence[bool], x: torch.Tensor,
            output_scale: float = 1.0) -> torch.Tensor:
    """The ReLU MLP whose linear t computes the augmented ``layers[t]`` on ``x``."""
    h = x
    last = len(layers) - 1
    for t, (E, b) in enumerate(zip(layers, has_bias)):
        h = torch.addmm(E[:, -1], h, E[:, :-1].T) if b else h @ E.T
        if t < last:
            h = torch.relu(h)
    return h * output_scale if output_scale != 1.0 else h


@torch.no_grad()
def accuracy(network, X, y) -> float:
    """The fraction of rows of ``X`` whose argmax output is ``y`` (evaluated in chunks); ``network``
    an ``nn.Module`` of Linear/ReLU layers or a :class:`Trained` (its network)."""
    from ..search.base import _inputs, _labels

    network = getattr(network, "network", network)
    lins = [m for m in network.modules() if isinstance(m, nn.Linear)] if isinstance(network, nn.Module) else []
    if not lins:
        raise InvalidArgumentError(f"network must be an nn.Module with Linear layers or a Trained, got "
                                   f"{type(network).__name__}")
    X = _inputs("X", X, lins[0].in_features, lins[0].weight.device)
    kind, y = _labels("y", y, X.shape[0], lins[-1].out_features)
    if kind != "classification":
        raise InvalidArgumentError("y must be integer class labels")
    y = y.to(X.device)
    dtype = lins[0].weight.dtype
    hits = 0
    for s in range(0, X.shape[0], EVAL_CHUNK):
        hits += int((network(X[s:s + EVAL_CHUNK].to(dtype)).argmax(1) == y[s:s + EVAL_CHUNK]).sum())
    return hits / X.shape[0]


@torch.no_grad()
def layer_hits(layers, has_bias, scale, X, y) -> int:
    """How many rows of ``X`` the MLP of augmented ``layers`` classifies as ``y`` (in chunks)."""
    hits = 0
    for s in range(0, X.shape[0], EVAL_CHUNK):
        hits += int((forward(layers, has_bias, X[s:s + EVAL_CHUNK], scale).argmax(1) == y[s:s + EVAL_CHUNK]).sum())
    return hits


def _layers_accuracy(layers, has_bias, scale, X, y) -> float:
    return layer_hits(layers, has_bias, scale, X, y) / X.shape[0]


# --------------------------------------------------------------------------- the loop
@dataclass
class State:
    """What :func:`fit` hands ``on_step`` after every optimiser step (masks and params may be changed
    in place: the next step uses them)."""

    step: int
    total_steps: int
    params: list[torch.Tensor]            # P_t, float32, requires_grad
    masks: list[torch.Tensor]             # M_t, bool (in place changes take effect)
    trainable: list[torch.Tensor]         # T_t, bool
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    batch: tuple[torch.Tensor, torch.Tensor] = field(repr=False, default=None)  # type: ignore[assignment]


def effective(P: torch.Tensor, A32: torch.Tensor, T: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """E = where(T, P, A) ⊙ M (module docstring)."""
    return torch.where(T, P, A32) * M


def fit(prob: Problem, *, masks: Sequence[torch.Tensor], trainable: Sequence[torch.Tensor], epochs: int,
        lr: float, batch_size: int, generator: torch.Generator, init: Sequence[torch.Tensor] | None = None,
        on_step: Callable[[State], None] | None = None, curves: bool = True, start_step: int = 0,
        frozen: Sequence[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], list[dict]]:
    """Train the trainable present entries (module docstring) for ``epochs``; returns the float32
    parameters P_t (detached) and one dict per epoch (``epoch``, ``loss``, ``seconds``,
    ``train_accuracy``, ``test_accuracy``; accuracies in float32, only when ``curves``).

    ``start_step`` = t > 0 continues a run of ``epochs`` from its step t (IMP's rewinding, Frankle et
    al. 2020): the first t steps are skipped — their shuffles still drawn, so the data order from t
    on is the full run's — and the cosine schedule resumes at t; a fresh optimiser (Adam's moments
    at 0); epochs whose steps were all skipped have no curve row. ``frozen``: the values of the entries
    outside ``trainable`` (and the start, unless ``init``) in place of the random A_t (sequential
    fine-tuning freezes the previous task's weights). ``masks`` and ``trainable`` are used
    as given, not copied: ``on_step`` may change them in place (RigL), and so the caller's tensors."""
    device = prob.device
    A32 = [a.float() for a in (prob.A if frozen is None else frozen)]
    M = [m.to(device=device, dtype=torch.bool) for m in masks]
    T = [t.to(device=device, dtype=torch.bool) for t in trainable]
    for t, (m, tr, a) in enumerate(zip(M, T, prob.A)):
        if m.shape != a.shape or tr.shape != a.shape or A32[t].shape != a.shape:
            raise InvalidArgumentError(f"layer {t}: mask {tuple(m.shape)} / trainable {tuple(tr.shape)} must have the "
                                       f"layer's shape {tuple(a.shape)}")
    start = A32 if init is None else [v.detach().to(device=device, dtype=torch.float32) for v in init]
    P = [v.clone().requires_grad_(True) for v in start]
    n = prob.X.shape[0]
    steps_per_epoch = max(1, math.ceil(n / batch_size))
    total_steps = epochs * steps_per_epoch
    start_step = nonnegative_int("start_step", start_step, maximum=total_steps)
    opt = torch.optim.Adam(P, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s + start_step, total_steps) / total_steps)))
    # a mask (and trainable set) per step: M may change in place under on_step; float views per step
    out_curves: list[dict] = []
    step = 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=generator).to(device)
        loss_sum = 0.0
        seen = 0
        for s in range(steps_per_epoch):
            if step < start_step:
                step += 1
                continue
            idx = perm[s * batch_size:(s + 1) * batch_size]
            xb, yb = prob.X[idx], prob.y[idx]
            layers = [effective(p, a, tr, m) for p, a, tr, m in zip(P, A32, T, M)]
            loss = nn.functional.cross_entropy(forward(layers, prob.has_bias, xb, prob.output_scale), yb)
            if not bool(torch.isfinite(loss)):
                raise TrainingDivergedError(f"training diverged at step {step + 1}: the loss is {float(loss.detach())} "
                                            "(a smaller lr, or inputs of smaller magnitude?)")
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            seen += len(idx)
            if on_step is not None:
                on_step(State(step=step, total_steps=total_steps, params=P, masks=M, trainable=T, optimizer=opt,
                              generator=generator, batch=(xb, yb)))
        if seen == 0:
            continue
        row: dict = {"epoch": epoch + 1, "loss": loss_sum / seen, "seconds": time.perf_counter() - t0}
        if curves:
            with torch.no_grad():
                layers = [effective(p, a, tr, m) for p, a, tr, m in zip(P, A32, T, M)]
                row["train_accuracy"] = _layers_accuracy(layers, prob.has_bias, prob.output_scale, prob.X, prob.y)
                row["test_accuracy"] = (None if prob.test is None else
                                        _layers_accuracy(layers, prob.has_bias, prob.output_scale, *prob.test))
        out_curves.append(row)
    return [p.detach() for p in P], out_curves


# --------------------------------------------------------------------------- the result
@dataclass
class Trained:
    """A model on a fixed random network: its float64 ``network`` (Linear/ReLU, the random network's
    widths), per random linear the bool ``masks`` (present weights: structure) and ``changed``
    (present weights whose value is not the random one), ``bias_masks`` / ``bias_changed`` (None
    without biases), and ``stats``: ``method``, ``weights`` (N, the random network's weights and
    biases), ``kept``, ``density`` (kept / N), ``changed_count``, ``changed_fraction`` (changed / N),
    ``train_accuracy``, ``test_accuracy`` (None without ``test``), ``random_seed``, ``widths``,
    ``epochs``, ``seed``, ``lr``, ``batch_size``, ``curves`` (one dict per epoch), ``train_seconds``,
    and each method's own (its docstring)."""

    method: str
    network: nn.Sequential
    masks: tuple[torch.Tensor, ...]
    changed: tuple[torch.Tensor, ...]
    stats: dict
    bias_masks: tuple[torch.Tensor, ...] | None = None
    bias_changed: tuple[torch.Tensor, ...] | None = None

    @property
    def density(self) -> float:
        """Present weights (and biases) / all of the random network's."""
        return float(self.stats["density"])

    @property
    def changed_fraction(self) -> float:
        """Weights (and biases) whose value changed / all of the random network's."""
        return float(self.stats["changed_fraction"])

    @property
    def test_accuracy(self) -> float | None:
        return self.stats.get("test_accuracy")

    @property
    def train_accuracy(self) -> float:
        return float(self.stats["train_accuracy"])

    def __repr__(self) -> str:
        acc = self.test_accuracy
        return (f"Trained({self.method}, density={self.density:.4g}, changed={self.changed_fraction:.4g}, "
                f"test_accuracy={'n/a' if acc is None else f'{acc:.4f}'})")


def finish(prob: Problem, method: str, masks: Sequence[torch.Tensor], trainable: Sequence[torch.Tensor],
           values: Sequence[torch.Tensor] | None, stats: dict) -> Trained:
    """The :class:`Trained` of final values ``values`` (float32 P_t; None: nothing trained) on the
    trainable entries, the random float64 values elsewhere, under ``masks`` (module docstring)."""
    from ..data.planted import network_from_layers
    from ..network import ScaledOutput

    finals, w_masks, w_changed, b_masks, b_changed = [], [], [], [], []
    present = changed_count = 0
    for t, (A, b) in enumerate(zip(prob.A, prob.has_bias)):
        M = masks[t].to(device=A.device, dtype=torch.bool)
        T = trainable[t].to(device=A.device, dtype=torch.bool) & M
        if values is None:
            E = A.clone()
        else:
            # an entry training left at the float32 rounding of its random value keeps the float64 value
            v = values[t].to(device=A.device)
            E = torch.where(T & (v != A.to(v.dtype)), v.to(torch.float64), A)
        E = torch.where(M, E, torch.zeros((), dtype=A.dtype, device=A.device))
        ch = M & (E != A)
        present += int(M.sum())
        changed_count += int(ch.sum())
        finals.append(E)
        d = A.shape[1] - int(b)
        w_masks.append(M[:, :d].clone())
        w_changed.append(ch[:, :d].clone())
        if b:
            b_masks.append(M[:, d].clone())
            b_changed.append(ch[:, d].clone())
    layers = [(E[:, :-1].cpu().numpy(), E[:, -1].cpu().numpy()) if b else (E.cpu().numpy(), None)
              for E, b in zip(finals, prob.has_bias)]
    net = network_from_layers(layers).to(prob.device)
    if prob.output_scale != 1.0:
        net.append(ScaledOutput(prob.output_scale))
    total = prob.total
    out = dict(stats)
    out.update({
        "method": method,
        "weights": total,
        "kept": present,
        "density": present / total,
        "changed_count": changed_count,
        "changed_fraction": changed_count / total,
        "random_seed": int(getattr(prob.random_net, "seed", -1)),
        "widths": tuple(int(a.shape[0]) for a in prob.A),
        "train_accuracy": accuracy(net, prob.X64, prob.y),
        "test_accuracy": None if prob.test64 is None else accuracy(net, *prob.test64),
    })
    has_b = any(prob.has_bias)
    return Trained(method=method, network=net, masks=tuple(w_masks), changed=tuple(w_changed), stats=out,
                   bias_masks=tuple(b_masks) if has_b else None, bias_changed=tuple(b_changed) if has_b else None)


# --------------------------------------------------------------------------- registry entries
@dataclass(frozen=True)
class TrainingMethod:
    """A registered baseline: its ``name``, the paper it follows (``citation``), and the library call."""

    name: str
    citation: str
    call: Callable[..., Any]


def all_true(prob: Problem) -> list[torch.Tensor]:
    return [torch.ones(a.shape, dtype=torch.bool, device=a.device) for a in prob.A]


def all_false(prob: Problem) -> list[torch.Tensor]:
    return [torch.zeros(a.shape, dtype=torch.bool, device=a.device) for a in prob.A]


def new_generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def settings(epochs: int, seed: int, lr: float, batch_size: int, curves: list[dict], seconds: float) -> dict:
    """The stats every method records."""
    return {"epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size, "curves": curves,
            "train_seconds": seconds}
