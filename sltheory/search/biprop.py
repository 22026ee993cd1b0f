"""Biprop (Diffenderfer & Kailkhura, ICLR 2021, "Multi-Prize Lottery Ticket Hypothesis: Finding
Accurate Binary Neural Networks by Pruning A Randomly Weighted Network", arXiv:2103.09377; code
chrundle/biprop).

Pruning scores as edge-popup (top-k per layer, straight-through), and the kept weights
*binarised*: layer t computes α_t · sign(w) on its kept weights, with the gain
α_t = ‖m ⊙ w‖₁ / ‖m‖₁ (the mean |w| of the kept weights: the paper's choice, which minimises
‖m ⊙ (w − α sign w)‖₂ over α), recomputed from the current mask in every forward pass. Gradients
(ours) reach the scores through α_t(m) and through the mask, straight through — autograd of
α(m)·sign(w)·m; the official code (chrundle/biprop) passes ∂L/∂E ⊙ w to the scores as edge-popup
does. The two agree when every |w| is equal (a signed-constant network, where α = σ), and differ on
the constructions' U[−1, 1] networks. The random weights never
change; the ticket's network holds α_t·sign(w) where the mask keeps w, and the ticket states the
gains (``stats["gains"]``, one per random linear) and ``stats["binarised"] = True``. A layer's bias,
when it has one, is binarised with its weights (one gain for the augmented row [w | b]; ours — the
paper's networks have no biases). Certified by the generic bound of two networks (and by a
construction's certificate when its structure holds: it reads only the ticket's matrices).
"""

from __future__ import annotations

import torch

from .base import as_method_call
from .edge_popup import EdgePopup


class Biprop(EdgePopup):
    """Biprop: edge-popup scores with binarised kept weights α_t·sign(w) (Diffenderfer & Kailkhura 2021)."""

    name = "biprop"
    citation = ("Diffenderfer & Kailkhura, Multi-Prize Lottery Ticket Hypothesis: Finding Accurate Binary "
                "Neural Networks by Pruning A Randomly Weighted Network, ICLR 2021")
    binarises = True

    def gain(self, weights, mask):
        """α = Σ|w| m / Σ m (0 when nothing is kept)."""
        count = mask.sum()
        return (weights.abs() * mask).sum() / count.clamp(min=1)

    def effective(self, weights, mask):
        return self.gain(weights, mask) * torch.sign(weights) * mask


METHOD = Biprop()
biprop = as_method_call(METHOD)
