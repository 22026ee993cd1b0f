"""Edge-popup (Ramanujan, Wortsman, Kembhavi, Farhadi, Rastegari, CVPR 2020, arXiv:1911.13299).

A score s_uv per random weight; the forward pass uses the weights whose scores are among the top
k of their layer (k = ``keep`` × the layer's weights; the paper's k%), the others set to 0; the
backward pass updates every score with the straight-through estimator: the gradient of the mask
is passed to the scores unchanged, so ∂L/∂s_uv = ∂L/∂I_v · w_uv · Z_u (the paper's Eq. 3: I_v the
pre-activation of unit v, Z_u the output of unit u) — the gradient the *masked* network's weight
w_uv would get, times w_uv, for kept and pruned weights alike. The weights never change.

Scores start as the paper's code initialises them, ``kaiming_uniform_(a=√5)``: U[−b, b) with
b = √(6/((1 + a²) fan_in)) = 1/√fan_in, drawn from the search's seeded generator. The paper
ranks |s| in its code and s in its text; we rank s itself (the text). The paper trains with SGD
(momentum 0.9, cosine); the shared search of :mod:`sltheory.search.base` uses Adam with a cosine
decay (ours), and on a pair construction's random network it keeps one input weight per unit in
the first layer of each pair (``layout="auto"``, ours: the construction's structure).
"""

from __future__ import annotations

import math

import torch

from .base import SearchLayer, SearchMethod, StraightThrough, as_method_call, top_k_mask


def kaiming_scores(layer: SearchLayer, generator: torch.Generator, dtype) -> torch.Tensor:
    """U[−1/√fan_in, 1/√fan_in) per candidate (torch's ``kaiming_uniform_(a=√5)``), fan_in the
    layer's inputs (+1 with a bias)."""
    shape = tuple(layer.candidates.shape)
    bound = 1.0 / math.sqrt(shape[1])
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return ((2 * u - 1) * bound).to(dtype)


class EdgePopup(SearchMethod):
    """Edge-popup: top-k scores per layer, straight-through gradient (Ramanujan et al. 2020)."""

    name = "edge_popup"
    citation = "Ramanujan et al., What's Hidden in a Randomly Weighted Neural Network?, CVPR 2020"

    def init_scores(self, layer, generator, dtype):
        return kaiming_scores(layer, generator, dtype)

    def train_mask(self, scores, layer, generator):
        mask = top_k_mask(scores, layer.k, layer.candidates.to(scores.device), layer.one_per_unit)
        return StraightThrough.apply(scores, mask)


METHOD = EdgePopup()
edge_popup = as_method_call(METHOD)
