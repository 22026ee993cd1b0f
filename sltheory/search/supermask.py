"""Supermasks (Zhou, Lan, Liu, Yosinski, NeurIPS 2019, "Deconstructing Lottery Tickets: Zeros,
Signs, and the Supermask", arXiv:1905.01067).

A score s per random weight and a Bernoulli probability p = σ(s); every forward pass of training
*samples* a mask m ~ Bernoulli(p) (independently per weight, from the search's seeded generator:
:func:`sample_mask`), and the gradient reaches s straight through the sampling:
∂L/∂s = ∂L/∂m · σ′(s) (the paper's estimator). The weights never change.

A ticket needs one mask; the paper evaluates sampled masks, whose density is itself random. Ours:
the ticket keeps the ``keep`` fraction of each layer's candidates with the highest p (the same
top-k read-out as edge-popup), so that every method is compared at the same sparsity; the curves
evaluate that read-out. Scores start at logit(keep) plus U[−0.1, 0.1) noise, so that the sampled
masks start at the ticket's density. In a layer that keeps one weight per unit
(``layout="auto"`` on a pair construction's network) a sampled row keeps only its best-scoring
sampled candidate.

Measured (``experiments/search_vs_construction.py``, and by hand): on Kaiming-normal MLPs the
read-out follows training (a 4-64-64-4 net regressing the 4-8-4 Gaussian target: held-out RMSE
0.50 → 0.15 in 20 epochs); on the subset-sum construction's networks it is the zero network at
every width tried (every unit of the target's hidden layer inactive on the domain), as edge-popup's
is at large widths. A penalty holding each layer's expected density at ``keep`` did not change that
(tried, not kept).
"""

from __future__ import annotations

import math

import torch

from .base import SearchMethod, StraightThrough, as_method_call


def sample_mask(probabilities: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A 0/1 mask with P(m_i = 1) = probabilities_i, independently: m_i = [u_i < p_i] with u_i ~
    U[0, 1) drawn from ``generator`` (on the CPU, then moved to the probabilities' device)."""
    u = torch.rand(tuple(probabilities.shape), generator=generator, dtype=torch.float64)
    return (u.to(probabilities.device) < probabilities.detach().double()).to(probabilities.dtype)


class Supermask(SearchMethod):
    """Supermask: Bernoulli(σ(s)) masks sampled in training, straight-through (Zhou et al. 2019)."""

    name = "supermask"
    citation = "Zhou et al., Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask, NeurIPS 2019"

    def init_scores(self, layer, generator, dtype):
        keep = layer.k / max(1, layer.num_candidates)
        keep = min(max(keep, 1e-3), 1 - 1e-3)
        u = torch.rand(tuple(layer.candidates.shape), generator=generator, dtype=torch.float64)
        return (math.log(keep / (1 - keep)) + 0.2 * u - 0.1).to(dtype)

    def train_mask(self, scores, layer, generator):
        p = torch.sigmoid(scores)
        cand = layer.candidates.to(scores.device)
        m = sample_mask(p, generator) * cand.to(scores.dtype)
        if layer.one_per_unit:
            s = scores.detach().masked_fill(m == 0, -math.inf)
            best, col = s.max(dim=1)
            rows = torch.nonzero(torch.isfinite(best)).reshape(-1)
            m = torch.zeros_like(m)
            m[rows, col[rows]] = 1
        return StraightThrough.apply(p, m)


METHOD = Supermask()
supermask = as_method_call(METHOD)
