"""Iterative magnitude pruning with rewinding, and linear-mode-connectivity instability.

Papers: Frankle & Carbin, *The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks*,
ICLR 2019 (IMP, rewinding to the initialisation); Frankle, Dziugaite, Roy & Carbin, *Linear Mode
Connectivity and the Lottery Ticket Hypothesis*, ICML 2020 (rewinding to iteration t, the error
barrier, instability).

**IMP** (:func:`imp`). Round 0 trains every weight of the random network (dense training, the shared
loop of :mod:`sltheory.training.base`) and keeps a snapshot θ_t of its parameters after ``rewind``
optimiser steps (t = 0: the random values themselves, as float32 — the loop's starting point). Round
r ≥ 1 then

1. prunes, **layer-wise** (each random linear on its own, the choice of Frankle & Carbin for their
   fully connected LeNet), round(p · c) of the layer's c present *weights* of smallest magnitude in
   round r − 1's final network (p = ``pruned_fraction``, the *pruned* fraction per round; Python's
   round, half to even; ties: the lower flat index is pruned first). Biases are never pruned (as in
   both papers); every layer, the output layer included, uses the same p (Frankle & Carbin prune
   LeNet's output layer at p/2: not done here);
2. resets every surviving weight to its value in θ_t (the rewind) and trains the survivors from step
   t to the end of the run of ``epochs`` (below), with the same data order (the same seed).

A layer with c_0 weights thus keeps c_r = c_{r−1} − round(p · c_{r−1}) after round r, and
|c_r − (1 − p)^r c_0| ≤ ½ Σ_{j<r} (1 − p)^j < 1/(2p): the density follows (1 − p)^r up to rounding.

After the rewind the survivors are trained from iteration t to the end of the original run, as
Frankle et al. (2020) do: the cosine schedule resumes at step t and the data order from step t on is
the dense run's (``start_step`` of :func:`~sltheory.training.base.fit`); t = 0 is a whole run.
*Ours*: every round starts a fresh optimiser (Adam, its moments at zero, where the papers use SGD
with momentum).

**Changed fraction.** Each round's :class:`~sltheory.training.base.Trained` compares its final
weights with the *random* values (:func:`~sltheory.training.base.finish`): with t > 0 a survivor
already differs from its random value at the rewind point, and it counts as changed; a pruned
weight is absent (structure, not a change).

**Instability** (:func:`error_barrier`, :func:`instability`). For two networks of the same shapes,
the test error along the linear path θ(α) = (1 − α) θ_a + α θ_b is measured at ``points`` evenly
spaced α ∈ [0, 1]; the *error barrier* is max_α err(α) − (err(0) + err(1))/2 (Frankle et al. 2020's
error barrier height: the largest increase of the error along the path over the mean of the end
points; a network is *stable* when it is ≈ 0). The raw value is reported, nothing clamped; since
the grid includes α = 0 and 1 it is ≥ 0. :func:`instability` trains, from the rewound weights θ_t
under a mask, two copies that differ only in their SGD noise (the data order: generators seeded by
``seeds``) and measures the barrier between them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from .._checks import nonnegative_int, strict_bool
from ..errors import InvalidArgumentError
from .base import (
    Problem,
    State,
    Trained,
    TrainingMethod,
    accuracy,
    all_true,
    common_args,
    finish,
    fit,
    fraction_arg,
    new_generator,
    prepare,
    settings,
)

__all__ = ["error_barrier", "imp", "imp_ticket", "instability", "rewind_point"]

#: Most pruning rounds accepted (0.8^200 ≈ 4e-20: nothing is left long before).
MAX_ROUNDS = 200
#: Most interpolation points accepted by :func:`error_barrier`.
MAX_POINTS = 10_001


class _Stop(Exception):
    """Raised from ``on_step`` to end a training run at the rewind step (nothing after it is needed)."""


# --------------------------------------------------------------------------- arguments
def _pruned_fraction_arg(pruned_fraction) -> float:
    p = fraction_arg("pruned_fraction", pruned_fraction)
    if p >= 1:
        raise InvalidArgumentError(f"pruned_fraction (the fraction of present weights pruned per round) must be in "
                                   f"(0, 1), got {pruned_fraction!r}")
    return p


def _steps(prob: Problem, epochs: int, batch_size: int) -> int:
    """The loop's optimiser steps: epochs · ⌈n / batch_size⌉ (as :func:`~sltheory.training.base.fit`)."""
    return epochs * max(1, math.ceil(prob.X.shape[0] / batch_size))


def _rewind_arg(rewind, prob: Problem, epochs: int, batch_size: int) -> int:
    total = _steps(prob, epochs, batch_size)
    rewind = nonnegative_int("rewind", rewind)
    if rewind > total:
        raise InvalidArgumentError(f"rewind={rewind} is past the dense run's last step ({total} = epochs · "
                                   f"⌈n / batch_size⌉)")
    return rewind


# --------------------------------------------------------------------------- the rewind point
def _rewind_values(prob: Problem, rewind: int, *, epochs: int, seed: int, lr: float,
                   batch_size: int) -> list[torch.Tensor]:
    """θ_t: the float32 parameters of the dense run (all weights trained, generator ``seed``) after
    ``rewind`` optimiser steps; t = 0 the float32 random values (the loop's own starting point)."""
    if rewind == 0:
        return [a.float() for a in prob.A]
    box: list[list[torch.Tensor]] = []

    def grab(state: State) -> None:
        if state.step == rewind:
            box.append([p.detach().clone() for p in state.params])
            raise _Stop

    masks = all_true(prob)
    try:
        fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
            generator=new_generator(seed), on_step=grab, curves=False)
    except _Stop:
        pass
    return box[0]


def rewind_point(random_net, *, data, rewind: int = 0, epochs: int = 20, seed: int = 0, lr: float = 1e-2,
                 batch_size: int = 128) -> list[torch.Tensor]:
    """The rewind point θ_t of :func:`imp` and :func:`instability`: per random linear the augmented
    float32 parameters [W | b] of dense training (same ``epochs``/``seed``/``lr``/``batch_size``) after
    ``rewind`` optimiser steps; ``rewind=0`` the float32 random values. The run stops at step t."""
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    prob = prepare(random_net, data)
    rewind = _rewind_arg(rewind, prob, epochs, batch_size)
    return _rewind_values(prob, rewind, epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)


# --------------------------------------------------------------------------- pruning
def _effective(res: Trained, prob: Problem) -> list[torch.Tensor]:
    """A Trained network's augmented float64 weights [W | b] per random linear."""
    lins = [m for m in res.network if isinstance(m, nn.Linear)]
    out = []
    for lin, b in zip(lins, prob.has_bias):
        W = lin.weight.detach()
        out.append(torch.cat([W, lin.bias.detach()[:, None]], dim=1) if b else W)
    return out


def prune_layerwise(values: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], has_bias: Sequence[bool],
                    pruned_fraction: float) -> list[torch.Tensor]:
    """New augmented masks: in each layer, round(pruned_fraction · c) of its c present weights (bias column
    excluded: never pruned) of smallest |value| removed (ties: lower flat index first)."""
    out = []
    for v, m, b in zip(values, masks, has_bias):
        m = m.clone()
        W, M = (v[:, :-1], m[:, :-1]) if b else (v, m)
        present = int(M.sum())
        k = int(round(pruned_fraction * present))
        if k > 0:
            score = torch.where(M, W.abs(), torch.full_like(W, math.inf)).reshape(-1)
            order = torch.sort(score, stable=True).indices[:k]
            flat = M.clone().reshape(-1)
            flat[order] = False
            M = flat.view(M.shape)
            if b:
                m[:, :-1] = M
            else:
                m = M
        out.append(m)
    return out


def _weight_counts(masks: Sequence[torch.Tensor], has_bias: Sequence[bool]) -> list[int]:
    return [int((m[:, :-1] if b else m).sum()) for m, b in zip(masks, has_bias)]


# --------------------------------------------------------------------------- IMP
def imp(random_net, *, data, test=None, rounds: int = 5, pruned_fraction: float = 0.2, rewind: int = 0,
        epochs: int = 20, seed: int = 0, lr: float = 1e-2, batch_size: int = 128, curves: bool = True) -> list[Trained]:
    """Iterative magnitude pruning with rewinding to iteration ``rewind`` (module docstring).

    Returns ``rounds + 1`` results: round 0 the dense network, round r the network pruned r times
    (layer-wise, ``pruned_fraction`` = the pruned fraction of each layer's present weights per round) and
    retrained from the rewind point. Each ``stats`` adds ``round``, ``rounds``, ``pruned_fraction``,
    ``rewind``, ``requested_density`` = (1 − p)^r — of the *weights*: compare it with ``weight_density``
    (present weights / weights; ``density`` counts the never-pruned biases too) — and ``layer_kept``
    (present weights per layer, biases
    not counted). ``random_net`` never changes.
    """
    rounds = nonnegative_int("rounds", rounds, maximum=MAX_ROUNDS)
    p = _pruned_fraction_arg(pruned_fraction)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    curves = strict_bool("curves", curves)
    prob = prepare(random_net, data, test)
    rewind = _rewind_arg(rewind, prob, epochs, batch_size)

    snapshot: list[list[torch.Tensor]] = []

    def grab(state: State) -> None:
        if state.step == rewind:
            snapshot.append([q.detach().clone() for q in state.params])

    results: list[Trained] = []
    masks = all_true(prob)
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        if r == 0:
            values, curve = fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
                                generator=new_generator(seed), on_step=grab if rewind > 0 else None, curves=curves)
            start = snapshot[0] if rewind > 0 else None
        else:
            masks = prune_layerwise(_effective(results[-1], prob), masks, prob.has_bias, p)
            values, curve = fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
                                generator=new_generator(seed), init=start, curves=curves, start_step=rewind)
        stats = settings(epochs, seed, lr, batch_size, curve, time.perf_counter() - t0)
        stats.update({"round": r, "rounds": rounds, "pruned_fraction": p, "rewind": rewind,
                      "requested_density": (1 - p) ** r, "layer_kept": _weight_counts(masks, prob.has_bias),
                      "weight_density": sum(_weight_counts(masks, prob.has_bias))
                      / sum(a.shape[0] * (a.shape[1] - int(b)) for a, b in zip(prob.A, prob.has_bias))})
        results.append(finish(prob, "imp", masks, masks, values, stats))
    return results


def imp_ticket(random_net, *, data, test=None, rounds: int = 5, pruned_fraction: float = 0.2, rewind: int = 0,
               epochs: int = 20, seed: int = 0, lr: float = 1e-2, batch_size: int = 128,
               curves: bool = True) -> Trained:
    """:func:`imp`'s last round (the registry's ``"imp"``: one :class:`~sltheory.training.base.Trained`
    per call, as every method). ``stats["history"]`` lists every round's ``round``, ``density``,
    ``changed_fraction``, ``train_accuracy``, ``test_accuracy`` and ``train_seconds``; ``stats
    ["train_seconds"]`` is then the sum over all rounds (the ticket's whole cost)."""
    res = imp(random_net, data=data, test=test, rounds=rounds, pruned_fraction=pruned_fraction, rewind=rewind,
              epochs=epochs, seed=seed, lr=lr, batch_size=batch_size, curves=curves)
    last = res[-1]
    last.stats["history"] = [{k: r.stats[k] for k in ("round", "density", "changed_fraction", "train_accuracy",
                                                      "test_accuracy", "train_seconds")} for r in res]
    last.stats["train_seconds"] = sum(r.stats["train_seconds"] for r in res)
    return last


# --------------------------------------------------------------------------- the error barrier
def _module_of(name: str, net) -> nn.Module:
    net = getattr(net, "network", net)    # a Trained: its network
    if not isinstance(net, nn.Module) or type(net).forward is nn.Module.forward:
        raise InvalidArgumentError(f"{name} must be an nn.Module or a Trained, got {type(net).__name__}")
    return net


def _check_same_shape(a: nn.Module, b: nn.Module) -> None:
    mods_a, mods_b = list(a.modules()), list(b.modules())
    if [type(m) for m in mods_a] != [type(m) for m in mods_b]:
        raise InvalidArgumentError("net_a and net_b must have the same modules (types and order)")
    for ma, mb in zip(mods_a, mods_b):
        if getattr(ma, "scale", None) != getattr(mb, "scale", None):
            raise InvalidArgumentError("net_a and net_b have different output scales")
    sa, sb = a.state_dict(), b.state_dict()
    if list(sa) != list(sb) or any(sa[k].shape != sb[k].shape for k in sa):
        raise InvalidArgumentError("net_a and net_b must have parameters of the same names and shapes")
    for k, v in sa.items():
        if not (v.is_floating_point() and sb[k].is_floating_point()):
            raise InvalidArgumentError(f"parameter {k!r} is not floating point")
        if not (bool(torch.isfinite(v).all()) and bool(torch.isfinite(sb[k]).all())):
            raise InvalidArgumentError(f"parameter {k!r} has non-finite entries")


def _first_last_linear(net: nn.Module) -> tuple[nn.Linear, nn.Linear]:
    lins = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not lins:
        raise InvalidArgumentError("the networks have no nn.Linear layer (the barrier is for MLP classifiers)")
    return lins[0], lins[-1]


def _barrier(net_a: nn.Module, net_b: nn.Module, X: torch.Tensor, y: torch.Tensor, points: int) -> dict:
    """The unchecked barrier (``X`` already float64 on the networks' device)."""
    import copy

    sa, sb = net_a.state_dict(), net_b.state_dict()
    net = copy.deepcopy(net_a)
    alphas = [i / (points - 1) for i in range(points)]
    errors = []
    for alpha in alphas:
        # (1 − α) θ_a + α θ_b: exactly θ_a at α = 0 and θ_b at α = 1; an entry equal in both keeps its
        # value bit for bit all along the path (so a network with itself has barrier exactly 0)
        state = {k: torch.where(sa[k] == sb[k], sa[k], (1 - alpha) * sa[k] + alpha * sb[k]) for k in sa}
        net.load_state_dict(state)
        errors.append(1.0 - accuracy(net, X, y))
    return {"barrier": max(errors) - (errors[0] + errors[-1]) / 2, "alphas": alphas, "errors": errors}


def error_barrier(net_a, net_b, X, y, points: int = 11) -> dict:
    """The error barrier between ``net_a`` and ``net_b`` (nn.Modules of the same shapes, e.g. two
    Trained's ``network``; a Trained is accepted) on labelled data ``(X, y)`` (module docstring).

    Returns ``barrier`` = max_α err(α) − (err(0) + err(1))/2 (raw, not clamped; ≥ 0 since the grid
    holds both end points), ``alphas`` (``points`` evenly spaced in [0, 1], the ends exact) and
    ``errors`` (classification error, 1 − accuracy, at each α). Entries equal in both networks are
    kept bit for bit along the path. Neither network changes.
    """
    from ..search.base import _inputs, _labels

    a, b = _module_of("net_a", net_a), _module_of("net_b", net_b)
    _check_same_shape(a, b)
    points = nonnegative_int("points", points, minimum=2, maximum=MAX_POINTS)
    first, last = _first_last_linear(a)
    device = first.weight.device
    Xt = _inputs("X", X, first.in_features, device)
    kind, yt = _labels("y", y, Xt.shape[0], last.out_features)
    if kind != "classification":
        raise InvalidArgumentError("y must be integer class labels (the barrier is in classification error)")
    if Xt.shape[0] == 0:
        raise InvalidArgumentError("X has no rows")
    return _barrier(a, b, Xt.to(first.weight.dtype), yt.to(device), points)


# --------------------------------------------------------------------------- instability
def _mask_arg(mask, prob: Problem) -> list[torch.Tensor]:
    """``mask``: None (dense), a Trained (its masks and bias masks), or augmented bool masks per layer."""
    from .mask_only import ticket_masks

    if mask is None:
        return all_true(prob)
    if isinstance(mask, Trained):
        if len(mask.masks) != len(prob.A):
            raise InvalidArgumentError(f"mask: the Trained has {len(mask.masks)} layers, the random network "
                                       f"{len(prob.A)}")
        for t, (m, a, b) in enumerate(zip(mask.masks, prob.A, prob.has_bias)):
            if tuple(m.shape) != (a.shape[0], a.shape[1] - int(b)):
                raise InvalidArgumentError(f"mask: the Trained's layer {t} has shape {tuple(m.shape)}, the random "
                                           f"network's {(a.shape[0], a.shape[1] - int(b))}")
        if (mask.bias_masks is not None) != any(prob.has_bias):
            raise InvalidArgumentError("mask: the Trained is from a network "
                                       f"{'with' if mask.bias_masks is not None else 'without'} biases, the random "
                                       f"network has {'some' if any(prob.has_bias) else 'none'}")
        return ticket_masks(mask, prob)
    if isinstance(mask, torch.Tensor) or not isinstance(mask, Sequence) or len(mask) != len(prob.A):
        raise InvalidArgumentError(f"mask must be None, a Trained, or {len(prob.A)} bool tensors (one per random "
                                   "linear, [W | b] shaped)")
    out = []
    for t, (m, a) in enumerate(zip(mask, prob.A)):
        if not isinstance(m, torch.Tensor) or m.dtype != torch.bool or tuple(m.shape) != tuple(a.shape):
            raise InvalidArgumentError(f"mask[{t}] must be a bool tensor of shape {tuple(a.shape)}, got "
                                       f"{getattr(m, 'dtype', type(m).__name__)} {tuple(getattr(m, 'shape', ()))}")
        out.append(m.to(prob.device))
    return out


def instability(random_net, *, data, test=None, mask=None, rewind: int = 0, epochs: int = 20, seeds=(1, 2),
                seed: int = 0, points: int = 11, lr: float = 1e-2, batch_size: int = 128) -> dict:
    """Linear-mode-connectivity instability at rewind point ``rewind`` (Frankle et al. 2020).

    The rewind point θ_t is the dense run's parameters after ``rewind`` steps (:func:`rewind_point`,
    generator ``seed`` — the same θ_t :func:`imp` uses with the same seed; t = 0: the random values).
    Under ``mask`` (None: dense; a :class:`~sltheory.training.base.Trained`, e.g. an IMP round, whose
    masks are taken; or augmented bool masks per layer) two copies are trained from θ_t, from step t
    to the end of the run of ``epochs`` (as :func:`imp`'s rounds), their data orders drawn from
    generators seeded ``seeds[0]`` and ``seeds[1]`` (nothing else differs), and :func:`error_barrier`
    is measured between them on ``test`` (on ``data`` when
    ``test`` is None).

    Returns ``barrier``, ``alphas``, ``errors`` (as :func:`error_barrier`), ``accuracies`` (the two
    copies' accuracies on that set), ``split`` ("test" or "train"), ``rewind``, ``seeds``,
    ``density`` and ``networks`` (the two :class:`~sltheory.training.base.Trained`).
    """
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) != 2:
        raise InvalidArgumentError(f"seeds must be a pair of data-order seeds, got {seeds!r}")
    seeds = tuple(nonnegative_int(f"seeds[{i}]", s, maximum=2**63 - 1) for i, s in enumerate(seeds))
    points = nonnegative_int("points", points, minimum=2, maximum=MAX_POINTS)
    prob = prepare(random_net, data, test)
    rewind = _rewind_arg(rewind, prob, epochs, batch_size)
    masks = _mask_arg(mask, prob)

    t0 = time.perf_counter()
    start = _rewind_values(prob, rewind, epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    copies = []
    for s in seeds:
        t1 = time.perf_counter()
        values, curve = fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
                            generator=new_generator(s), init=start, curves=False, start_step=rewind)
        stats = settings(epochs, s, lr, batch_size, curve, time.perf_counter() - t1)
        stats["rewind"] = rewind
        copies.append(finish(prob, "instability_copy", masks, masks, values, stats))
    X, y = (prob.test64 if prob.test64 is not None else (prob.X64, prob.y))
    out = _barrier(copies[0].network, copies[1].network, X, y, points)
    key = "test_accuracy" if prob.test64 is not None else "train_accuracy"
    out.update({"accuracies": [c.stats[key] for c in copies],
                "split": "test" if prob.test64 is not None else "train", "rewind": rewind, "seeds": seeds,
                "density": copies[0].density, "networks": tuple(copies), "seconds": time.perf_counter() - t0})
    return out


METHOD = TrainingMethod("imp", "Frankle & Carbin, The Lottery Ticket Hypothesis, ICLR 2019; Frankle, Dziugaite, Roy "
                        "& Carbin, Linear Mode Connectivity and the Lottery Ticket Hypothesis, ICML 2020 (rewinding)",
                        imp_ticket)
