"""RigL: dynamic sparse training at a constant density (Evci, Gale, Menick, Castro & Elsen, *Rigging
the Lottery: Making All Tickets Winners*, ICML 2020, arXiv:1911.11134; official code
github.com/google-research/rigl).

The mask starts uniformly random, the same density in every random linear (first and last
included; the bias column, where there is one, counts as entries of its layer:
:func:`~sltheory.training.random_mask.uniform_random_masks`). Training is the shared loop of
:mod:`sltheory.training.base` (Adam, cosine learning rate); every ``update_every`` optimiser steps,
at step t < T_end = ``end_fraction`` · (total steps), each layer updates its mask:

1. **Drop**: n = ⌊ζ_t · a⌋ of its a active entries with the smallest magnitude |θ|, where
   ζ_t = (``drop_fraction``/2) · (1 + cos(π t / T_end)) — the paper's cosine decay
   f_decay(t; α, T_end). ⌊·⌋ as the official code (an int cast of a · ζ_t).
2. **Grow**: the n entries with the largest magnitude of the *dense* gradient |∂L/∂θ| on the current
   mini-batch, among all entries not kept by step 1 — the just-dropped ones included, as in the
   official code (``score_grow`` lifted below every candidate only on the kept entries). A grown entry
   that was inactive before the update starts at θ = 0 with its Adam moments reset to 0; one
   dropped and grown back in the same update keeps its value and moments (the official code's
   ``reinit_when_same=False``).

The active count per layer is thus constant, and so is the density. The dense gradient is computed
here (the loop gives gradients only to present entries): the gradient of the mini-batch loss with
respect to every entry of the effective matrices E_t = θ_t ⊙ M_t, an absent entry's being the one it
would get at value 0. *Ours, not the paper's*: it is taken after that step's optimiser update, on the
same mini-batch (the official code uses the step's gradient, before the update); ties in either
score break toward the lower flat index (no random noise is added to the drop scores).

**Changed fraction** (:func:`~sltheory.training.base.finish`, against the random values): a weight
present at the end and trained from its random value, or grown (trained from 0), counts as changed
(unless training left it at the float32 rounding of its random value); a weight not present at the
end is absent, whatever it held before — it counts neither as kept nor as changed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from .._checks import nonnegative_int, strict_bool
from .base import (
    Problem,
    State,
    TrainingMethod,
    all_true,
    common_args,
    finish,
    fit,
    forward,
    fraction_arg,
    new_generator,
    prepare,
    settings,
)
from .random_mask import uniform_random_masks

__all__ = ["dense_gradient", "drop_fraction_at", "rigl", "update_masks"]


def drop_fraction_at(step: int, drop_fraction: float, end_step: float) -> float:
    """ζ_t = (drop_fraction / 2) · (1 + cos(π t / T_end)) (RigL's cosine decay)."""
    return drop_fraction / 2 * (1 + math.cos(math.pi * step / end_step))


def dense_gradient(prob: Problem, params: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                   batch: tuple[torch.Tensor, torch.Tensor]) -> list[torch.Tensor]:
    """∂L/∂E_t for every entry of E_t = params_t ⊙ masks_t (present or not): the mean cross-entropy
    of ``batch`` through the network of the E_t (float32, as the loop computes)."""
    E = [(p.detach() * m).requires_grad_(True) for p, m in zip(params, masks)]
    xb, yb = batch
    loss = nn.functional.cross_entropy(forward(E, prob.has_bias, xb, prob.output_scale), yb)
    return list(torch.autograd.grad(loss, E))


@torch.no_grad()
def update_masks(params: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], grads: Sequence[torch.Tensor],
                 zeta: float, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """One RigL mask update (module docstring) in place on ``masks`` (bool), ``params`` and, where
    given, ``optimizer``'s per-entry state of the params (Adam's moments). Returns per layer the
    ``dropped`` and ``grown`` counts (equal) and ``regrown`` (dropped and grown back at once)."""
    dropped, grown, regrown = [], [], []
    for P, M, G in zip(params, masks, grads):
        active = int(M.sum())
        n = int(zeta * active)
        if n == 0:
            dropped.append(0)
            grown.append(0)
            regrown.append(0)
            continue
        flat_m = M.reshape(-1).clone()       # the mask before the update
        drop_score = torch.where(flat_m, P.detach().reshape(-1).abs(), torch.full_like(flat_m, math.inf,
                                                                                       dtype=P.dtype))
        drop = torch.sort(drop_score, stable=True).indices[:n]
        kept = flat_m.clone()
        kept[drop] = False
        grow_score = torch.where(kept, torch.full_like(flat_m, -math.inf, dtype=G.dtype), G.reshape(-1).abs())
        grow = torch.sort(grow_score, descending=True, stable=True).indices[:n]
        chosen = torch.zeros_like(flat_m)
        chosen[grow] = True
        new = (chosen & ~flat_m).view(M.shape)      # inactive before: start at 0, moments reset
        P[new] = 0
        if optimizer is not None:
            for v in optimizer.state.get(P, {}).values():
                if isinstance(v, torch.Tensor) and v.shape == P.shape:
                    v[new] = 0
        M.copy_((kept | chosen).view(M.shape))
        dropped.append(n)
        grown.append(n)
        regrown.append(int((chosen & flat_m).sum()))
    return {"dropped": dropped, "grown": grown, "regrown": regrown}


def rigl(random_net, *, data, test=None, density: float = 0.1, epochs: int = 20, seed: int = 0, lr: float = 1e-2,
         batch_size: int = 128, drop_fraction: float = 0.3, update_every: int = 50, end_fraction: float = 0.75,
         curves: bool = True):
    """Train ``random_net`` sparsely at ``density`` with RigL's drop/grow mask updates (module
    docstring); returns a :class:`~sltheory.training.base.Trained` whose ``masks`` are the final ones.

    ``stats`` adds ``requested_density``, ``drop_fraction``, ``update_every``, ``end_fraction``,
    ``end_step`` (T_end, in optimiser steps) and ``updates``: one dict per mask update (``step``,
    ``zeta`` = ζ_t, per layer ``dropped``, ``grown``, ``regrown``). One seeded generator draws the
    initial mask and then the data order. ``random_net`` never changes.
    """
    density = fraction_arg("density", density)
    drop_fraction = fraction_arg("drop_fraction", drop_fraction)
    end_fraction = fraction_arg("end_fraction", end_fraction)
    update_every = nonnegative_int("update_every", update_every, minimum=1)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    curves = strict_bool("curves", curves)
    prob = prepare(random_net, data, test)
    gen = new_generator(seed)
    masks = uniform_random_masks(prob.shapes(), density, gen, prob.device)
    trainable = all_true(prob)
    total = epochs * max(1, math.ceil(prob.X.shape[0] / batch_size))
    end_step = end_fraction * total
    updates: list[dict] = []
    final: list[list[torch.Tensor]] = [masks]

    def on_step(state: State) -> None:
        final[0] = state.masks
        if state.step % update_every or state.step >= end_step:
            return
        zeta = drop_fraction_at(state.step, drop_fraction, end_step)
        grads = dense_gradient(prob, state.params, state.masks, state.batch)
        counts = update_masks(state.params, state.masks, grads, zeta, state.optimizer)
        updates.append({"step": state.step, "zeta": zeta, **counts})

    t0 = time.perf_counter()
    values, curve = fit(prob, masks=masks, trainable=trainable, epochs=epochs, lr=lr, batch_size=batch_size,
                        generator=gen, on_step=on_step, curves=curves)
    stats = settings(epochs, seed, lr, batch_size, curve, time.perf_counter() - t0)
    stats.update({"requested_density": density, "drop_fraction": drop_fraction, "update_every": update_every,
                  "end_fraction": end_fraction, "end_step": end_step, "updates": updates})
    return finish(prob, "rigl", final[0], trainable, values, stats)


METHOD = TrainingMethod("rigl", "Evci, Gale, Menick, Castro & Elsen, Rigging the Lottery: Making All Tickets "
                        "Winners, ICML 2020", rigl)
