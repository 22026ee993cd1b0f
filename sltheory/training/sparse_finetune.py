"""A mask, then a budget of k % of the weights updated (ours, after the sparse fine-tuning papers).

Two stages on one random network:

1. **Structure**: edge-popup's mask at kept fraction ``keep`` (:mod:`sltheory.training.mask_only`),
   every weight at its random value — the "pre-trained" model of the sparse fine-tuning papers.
2. **Weights**: the ``budget`` · N present weights (N all of the random network's weights; at most
   the present ones) of largest *importance* on the training set are trained by the shared loop
   (:mod:`sltheory.training.base`); every other weight keeps its random value bit for bit.

Importance (``rule``), measured once at the mask-only model:

* ``"fisher"`` — the diagonal empirical Fisher information Σ_i (∂ℓ_i/∂w)², ℓ_i the cross-entropy of
  training sample i at its true label (the FISH mask of Sung, Nair, Raffel, *Training Neural Networks
  with Fixed Sparse Masks*, NeurIPS 2021). Computed exactly, without per-sample gradients: for
  z = A a (a the layer's input, the bias column's input 1), ∂ℓ_i/∂A_uv = δ_iu a_iv with
  δ_i = ∂ℓ_i/∂z_i, so Σ_i (∂ℓ_i/∂A_uv)² = Σ_i δ_iu² a_iv² = ((δ∘δ)ᵀ (a∘a))_uv.
* ``"gradient"`` — |Σ_i ∂ℓ_i/∂w| / n, the magnitude of the full-batch gradient (the rule of SIFT:
  Song, Zhong, Liu et al., *Sparse is Enough in Fine-tuning Pre-trained Large Language Models*,
  ICML 2024).

Ties break toward the lower flat index (a stable sort). ``budget=0`` returns the mask-only model.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .._checks import strict_bool
from ..errors import InvalidArgumentError
from .base import (
    EVAL_CHUNK,
    Problem,
    TrainingMethod,
    all_false,
    budget_count,
    common_args,
    finish,
    fit,
    fraction_arg,
    new_generator,
    prepare,
    settings,
)
from .mask_only import search_mask

RULES = ("fisher", "gradient")


def importance(prob: Problem, masks, rule: str = "fisher", values=None) -> list[torch.Tensor]:
    """Per augmented layer, the importance (module docstring) of every entry of the network whose
    linear t is where(mask, values or the random A_t, 0), in float64; absent entries get −1."""
    if rule not in RULES:
        raise InvalidArgumentError(f"rule must be one of {RULES}, got {rule!r}")
    base = prob.A if values is None else [v.to(torch.float64) for v in values]
    E = [torch.where(m, a, torch.zeros((), dtype=torch.float64, device=a.device)) for a, m in zip(base, masks)]
    acc = [torch.zeros_like(e) for e in E]
    X, y = prob.X64, prob.y
    last = len(E) - 1
    for s in range(0, X.shape[0], EVAL_CHUNK):
        xb, yb = X[s:s + EVAL_CHUNK], y[s:s + EVAL_CHUNK]
        inputs, pre = [], []
        h = xb.clone().requires_grad_(True)     # so that every z_t is in the graph (its gradient is δ_t)
        for t, (e, b) in enumerate(zip(E, prob.has_bias)):
            a = torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)], 1) if b else h
            inputs.append(a.detach())
            z = a @ e.T
            pre.append(z)
            h = torch.relu(z) if t < last else z * prob.output_scale
        loss = nn.functional.cross_entropy(h, yb, reduction="sum")
        deltas = torch.autograd.grad(loss, pre)
        for t, (a, d) in enumerate(zip(inputs, deltas)):
            if rule == "fisher":
                acc[t] += (d * d).T @ (a * a)
            else:
                acc[t] += d.T @ a
    n = X.shape[0]
    return [torch.where(m, (c if rule == "fisher" else c.abs() / n), torch.full_like(c, -1.0))
            for c, m in zip(acc, masks)]


def top_entries(scores: list[torch.Tensor], masks, count: int) -> list[torch.Tensor]:
    """Bool sets of the ``count`` largest ``scores`` over all layers among present entries (ties: the
    lower index over the layers' concatenated flat entries)."""
    flat = torch.cat([s.reshape(-1) for s in scores])
    present = torch.cat([m.reshape(-1) for m in masks])
    count = min(count, int(present.sum()))
    chosen = torch.zeros_like(present)
    if count > 0:
        order = torch.sort(torch.where(present, flat, torch.full_like(flat, -torch.inf)), descending=True,
                           stable=True).indices
        chosen[order[:count]] = True
    out, start = [], 0
    for s in scores:
        out.append(chosen[start:start + s.numel()].view(s.shape))
        start += s.numel()
    return out


def given_mask(mask, prob: Problem) -> list[torch.Tensor]:
    """The augmented masks of a mask-only :class:`~sltheory.training.base.Trained` of this random
    network (InvalidArgumentError: another type, other shapes or biases, or a model that changed weights)."""
    from .base import Trained
    from .mask_only import ticket_masks

    if not isinstance(mask, Trained):
        raise InvalidArgumentError(f"mask must be a Trained (e.g. training.mask_only's), got {type(mask).__name__}")
    shapes = [(a.shape[0], a.shape[1] - int(b)) for a, b in zip(prob.A, prob.has_bias)]
    if [tuple(m.shape) for m in mask.masks] != shapes or (mask.bias_masks is not None) != any(prob.has_bias):
        raise InvalidArgumentError("mask is a Trained of another network (its layers or biases differ)")
    seed = int(getattr(prob.random_net, "seed", -1))
    if mask.stats.get("random_seed", seed) != seed:
        raise InvalidArgumentError(f"mask was found on the random network of seed {mask.stats['random_seed']}, "
                                   f"this one has seed {seed}")
    if mask.stats.get("changed_count", 0) != 0:
        raise InvalidArgumentError(f"mask must be a mask-only model (no weight changed); this {mask.method} model "
                                   f"changed {mask.stats['changed_count']} weights")
    masks = ticket_masks(mask, prob)
    # a mask-only model's present weights are this network's random values, bit for bit: else it was
    # found on another random network (another seed or init)
    lins = [m for m in mask.network.modules() if isinstance(m, nn.Linear)]
    for t, (lin, m, a, b) in enumerate(zip(lins, masks, prob.A, prob.has_bias)):
        E = torch.cat([lin.weight.detach(), lin.bias.detach()[:, None]], 1) if b else lin.weight.detach()
        if E.shape != a.shape or not torch.equal(E.to(a.device)[m], a[m]):
            raise InvalidArgumentError(f"mask was found on another random network: its layer {t} does not hold this "
                                       "network's random weights")
    return masks


def sparse_finetune(random_net, *, data, test=None, keep: float = 0.5, budget: float = 0.01, rule: str = "fisher",
                    mask_epochs: int = 20, epochs: int = 20, seed: int = 0, mask_lr: float = 0.01, lr: float = 1e-2,
                    batch_size: int = 128, curves: bool = True, mask=None):
    """Edge-popup's mask at ``keep``, then ``budget`` · N weights of largest ``rule`` importance trained
    (module docstring). ``stats``: ``budget``, ``budget_count`` (the weights chosen),
    ``rule``, ``mask_test_accuracy`` / ``mask_train_accuracy`` (the model before stage 2).

    ``mask``: stage 1 done already — a :class:`~sltheory.training.base.Trained` of ``random_net`` that
    changed no weight (e.g. :func:`~sltheory.training.mask_only.mask_only`'s, whose call with the same
    ``keep``, ``epochs`` = ``mask_epochs``, ``seed``, ``lr`` = ``mask_lr`` and ``batch_size`` finds the
    very mask this call would): its masks are used and ``keep``, ``mask_epochs``, ``mask_lr`` are not
    (``stats["mask_given"]``; ``train_seconds`` adds the given model's own, so it covers both stages
    either way); one search then serves every budget."""
    keep = fraction_arg("keep", keep)
    budget = fraction_arg("budget", budget, allow_zero=True)
    if rule not in RULES:
        raise InvalidArgumentError(f"rule must be one of {RULES}, got {rule!r}")
    mask_epochs, _, mask_lr, _ = common_args(epochs=mask_epochs, seed=seed, lr=mask_lr, batch_size=batch_size)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    curves = strict_bool("curves", curves)
    prob = prepare(random_net, data, test)
    t0 = time.perf_counter()
    if mask is None:
        masks, st = search_mask(random_net, prob, data=data, test=test, keep=keep, epochs=mask_epochs, seed=seed,
                                lr=mask_lr, batch_size=batch_size)
        base_stats = {"keep": keep, "budget": budget, "rule": rule, "mask_epochs": mask_epochs, "mask_lr": mask_lr,
                      "mask_curves": st["curves"], "mask_given": False}
    else:
        masks = given_mask(mask, prob)
        t0 -= float(mask.stats.get("train_seconds", 0.0))   # train_seconds covers stage 1 either way
        base_stats = {"keep": mask.stats.get("keep"), "budget": budget, "rule": rule,
                      "mask_epochs": mask.stats.get("epochs"), "mask_lr": mask.stats.get("lr"),
                      "mask_curves": mask.stats.get("curves"), "mask_given": True}
    count = budget_count(budget, prob.total)
    if count == 0:
        stats = settings(epochs, seed, lr, batch_size, [], time.perf_counter() - t0)
        stats.update(base_stats, budget_count=0)
        res = finish(prob, "sparse_finetune", masks, all_false(prob), None, stats)
        res.stats["mask_test_accuracy"] = res.stats["test_accuracy"]
        res.stats["mask_train_accuracy"] = res.stats["train_accuracy"]
        return res
    mask_model = finish(prob, "mask_only", masks, all_false(prob), None, {})
    chosen = top_entries(importance(prob, masks, rule), masks, count)
    gen = new_generator(seed)
    values, curve = fit(prob, masks=masks, trainable=chosen, epochs=epochs, lr=lr, batch_size=batch_size,
                        generator=gen, curves=curves)
    stats = settings(epochs, seed, lr, batch_size, curve, time.perf_counter() - t0)
    stats.update(base_stats, budget_count=int(sum(int(c.sum()) for c in chosen)),
                 mask_test_accuracy=mask_model.stats["test_accuracy"],
                 mask_train_accuracy=mask_model.stats["train_accuracy"])
    return finish(prob, "sparse_finetune", masks, chosen, values, stats)


METHOD = TrainingMethod("sparse_finetune", "ours, after Sung et al. NeurIPS 2021 (FISH mask) and Song et al. "
                        "ICML 2024 (SIFT)", sparse_finetune)
