"""Mask only: edge-popup (Ramanujan et al., CVPR 2020; :mod:`sltheory.search.edge_popup`) on the
labels — structure chosen, no weight changed (changed fraction 0). The strong lottery ticket
hypothesis's claim, measured: how far a mask of a random network gets without training a weight."""

from __future__ import annotations

import torch

from .base import TrainingMethod, all_false, common_args, finish, fraction_arg, prepare


def ticket_masks(ticket, prob) -> list[torch.Tensor]:
    """A search ticket's masks as augmented [W | b] masks (the bias column where the layer has one)."""
    out = []
    for t, (m, b) in enumerate(zip(ticket.masks, prob.has_bias)):
        m = m.to(device=prob.device, dtype=torch.bool)
        if b:
            bm = ticket.bias_masks[t] if ticket.bias_masks is not None else None
            col = (torch.zeros(m.shape[0], dtype=torch.bool, device=prob.device) if bm is None
                   else bm.to(device=prob.device, dtype=torch.bool))
            m = torch.cat([m, col[:, None]], dim=1)
        out.append(m)
    return out


def search_mask(random_net, prob, *, data, test, keep: float, epochs: int, seed: int, lr: float, batch_size: int):
    """Edge-popup's masks (augmented) and its ticket's stats."""
    from ..search import edge_popup

    ticket = edge_popup(random_net, data=data, test=test, keep=keep, epochs=epochs, seed=seed, lr=lr,
                        batch_size=batch_size, layout="free")
    return ticket_masks(ticket, prob), ticket.stats


def mask_only(random_net, *, data, test=None, keep: float = 0.5, epochs: int = 20, seed: int = 0, lr: float = 0.01,
              batch_size: int = 128):
    """Edge-popup at kept fraction ``keep`` per layer on ``data=(X, y)`` (``lr``: the scores' Adam
    learning rate); returns a :class:`~sltheory.training.base.Trained` whose weights are all random."""
    keep = fraction_arg("keep", keep)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    prob = prepare(random_net, data, test)
    masks, st = search_mask(random_net, prob, data=data, test=test, keep=keep, epochs=epochs, seed=seed, lr=lr,
                            batch_size=batch_size)
    stats = {"epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size, "keep": keep,
             "curves": st["curves"], "train_seconds": st["train_seconds"]}
    return finish(prob, "mask_only", masks, all_false(prob), None, stats)


METHOD = TrainingMethod("mask_only", "Ramanujan et al., What's Hidden in a Randomly Weighted Neural Network?, "
                        "CVPR 2020 (edge-popup)", mask_only)
