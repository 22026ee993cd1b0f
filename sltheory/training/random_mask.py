"""A random mask at a given density, its weights trained (Liu, Chen, Chen, Shen, Mocanu, Wang,
Pechenizkiy, *The Unreasonable Effectiveness of Random Pruning: Return of the Most Naive Baseline for
Sparse Training*, ICLR 2022, arXiv:2202.02643).

Every random linear keeps round(density · its entries) of them (at least 1), chosen uniformly at
random (a uniform per-layer density: Liu et al.'s "uniform" ratio; their ERK ratio is not
implemented), by the call's seeded generator; the kept weights are trained from their random values
by the shared loop (:mod:`sltheory.training.base`), the others stay pruned. The changed fraction is
then at most the density (a kept weight that gets no gradient — at this sparsity many units are
cut off — keeps its random value).
"""

from __future__ import annotations

import time

import torch

from .._checks import strict_bool
from .base import TrainingMethod, budget_count, common_args, finish, fit, fraction_arg, new_generator, prepare, settings


def uniform_random_masks(shapes, density: float, generator: torch.Generator, device=None) -> list[torch.Tensor]:
    """One bool mask per shape with exactly max(1, round(density · size)) entries, uniformly at random."""
    masks = []
    for shape in shapes:
        size = int(shape[0]) * int(shape[1])
        k = budget_count(density, size)
        perm = torch.randperm(size, generator=generator)
        m = torch.zeros(size, dtype=torch.bool)
        m[perm[:k]] = True
        masks.append(m.view(*shape).to(device))
    return masks


def random_mask(random_net, *, data, test=None, density: float = 0.1, epochs: int = 20, seed: int = 0,
                lr: float = 1e-2, batch_size: int = 128, curves: bool = True):
    """Train the weights under a uniformly random mask of ``density`` per layer (module docstring)."""
    density = fraction_arg("density", density)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    curves = strict_bool("curves", curves)
    prob = prepare(random_net, data, test)
    gen = new_generator(seed)
    masks = uniform_random_masks(prob.shapes(), density, gen, prob.device)
    t0 = time.perf_counter()
    values, curve = fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
                        generator=gen, curves=curves)
    stats = settings(epochs, seed, lr, batch_size, curve, time.perf_counter() - t0)
    stats["requested_density"] = density
    return finish(prob, "random_mask", masks, masks, values, stats)


METHOD = TrainingMethod("random_mask", "Liu et al., The Unreasonable Effectiveness of Random Pruning, ICLR 2022",
                        random_mask)
