"""The common shape of a conv construction (plan → sample → prune → certify), and what the pair
constructions share: masks → effective kernels (:func:`effective_maps`) → certificate.

Masks of a pair i: ``(mask_a (H_w,), mask_c (n_bias,) or None, mask_B (c_out, H, *K))`` bool —
the univariate weights, the bias units' biases, the dense layer. A ticket is the random network
with every other weight (and bias) set to 0; no weight is ever changed.

Effective map (exact, see :mod:`sltheory.conv.network`): unit u of slot (j, +) outputs
a_u σ(h_j), of slot (j, −) |a_u| σ(−h_j), a bias unit the constant c_k ≥ 0, so the pair computes

    G(h) = conv(P, σ(h)) + conv(N, σ(−h)) + p,
    P[o, j, q] = Σ_{u ∈ (j,+)} m_u B[o, u, q] a_u,   N[o, j, q] = Σ_{u ∈ (j,−)} m_u B[o, u, q] |a_u|,
    p_o = Σ_k m_k B[o, k, q*] c_k     (q* = :func:`~sltheory.conv.network.bias_position`),

with the layer's stride and zero padding (zero padding commutes with u ↦ σ(a u): σ(a·0) = 0; the
bias channels reach outputs only through q*, which never meets the padding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import CertificateError
from .network import ConvPlan, ConvRandomNetwork, bias_position


@dataclass
class ConvPruneResult:
    masks: list
    certificate: Any
    stats: dict = field(default_factory=dict)


class ConvConstruction(ABC):
    """A conv construction: subclasses set ``name``, ``citation``, ``whose`` and implement
    :meth:`plan`, :meth:`prune` and the bound functions (floats or sympy)."""

    name: ClassVar[str]
    citation: ClassVar[str]
    whose: ClassVar[str] = "paper"
    supports_biases: ClassVar[bool] = True

    @abstractmethod
    def plan(self, target, *, eps, delta, n=None, width_factor=None, domain=None, **options) -> ConvPlan:
        """Samples per slot (and copies) from the target's architecture only."""

    def sample(self, plan: ConvPlan, seed: int, device=None) -> ConvRandomNetwork:
        return ConvRandomNetwork(plan, seed, device=device)

    @abstractmethod
    def prune(self, target, rand: ConvRandomNetwork, *, eps, **options) -> ConvPruneResult:
        """Masks of ``rand`` approximating ``target``; the certificate is :meth:`certify` of them."""

    def ticket_network(self, rand: ConvRandomNetwork, masks):
        """The ticket as a torch module (default: the pairs' live units, :class:`.ticket.TicketNetwork`)."""
        from .ticket import TicketNetwork, live_pairs

        return TicketNetwork(rand.plan, live_pairs(rand, masks))

    def check_masks(self, rand: ConvRandomNetwork, masks) -> None:
        """ValueError unless ``masks`` fit ``rand`` (one (mask_a, mask_c, mask_B) per pair) and keep
        a bias channel's weights only at the kernel position q* (what :func:`effective_maps` reads:
        a bias channel is zero-padded, so at any other position it is not a constant)."""
        if len(masks) != len(rand.plan.n):
            raise ValueError(f"{len(masks)} mask entries for {len(rand.plan.n)} pairs")
        for i, entry in enumerate(masks):
            a, c, B = rand.pair_arrays(i)
            if len(entry) != 3:
                raise ValueError(f"pair {i}: {len(entry)} masks, expected 3")
            ma, mc, mb = entry
            if ma is None or mb is None or np.shape(ma) != a.shape or np.shape(mb) != B.shape or \
                    (c is None) != (mc is None) or (c is not None and np.shape(mc) != c.shape):
                raise ValueError(f"pair {i}: mask shapes do not match the random weights")
            if c is not None and B.ndim > 2:
                keep = np.zeros(B.shape[2:], dtype=bool)
                keep[bias_position(rand.plan.layers[i])] = True
                if np.any(np.asarray(mb)[:, a.size:] & ~keep):
                    raise ValueError(f"pair {i}: a bias channel keeps a weight at a kernel position other than "
                                     f"{bias_position(rand.plan.layers[i])}")

    def certify(self, target, rand: ConvRandomNetwork, masks):
        """The certified bound of the ticket ``masks`` of ``rand`` (read from the masked weights only)."""
        from .certify import certify_conv

        check_architecture(target, rand.plan)
        try:
            self.check_masks(rand, masks)
        except ValueError as exc:
            raise CertificateError(f"the masks do not fit the random network: {exc}") from None
        return certify_conv(target, effective_maps(rand, masks), domain=_domain_arg(rand.plan))


def check_architecture(target, plan: ConvPlan) -> None:
    """TargetError unless ``target`` has exactly the architecture ``plan`` was made for (every op,
    kernel, stride, padding, bias flag and shape): the certificate is computed on the target's ops
    while the ticket network runs the plan's."""
    import json

    from ..errors import TargetError
    from .network import skeleton

    if json.dumps(skeleton(target.ops), sort_keys=True) != json.dumps(list(plan.skeleton), sort_keys=True) or \
            tuple(target.input_shape) != tuple(plan.input_shape):
        raise TargetError("the random network was sampled for another architecture than this target's (ops, "
                          "kernels, strides, paddings, pools, bias flags or shapes differ): sample one for this target")


def _domain_arg(plan: ConvPlan):
    return None if plan.domain is None else plan.input_domain()


def split_units(plan: ConvPlan, i: int, arr: np.ndarray, axis: int) -> np.ndarray:
    """Reshape the weight-unit axis (H_w = c_in·m·n) of ``arr`` into (c_in, m, n)."""
    spec = plan.layers[i]
    m = 2 if plan.signed[i] else 1
    shape = arr.shape[:axis] + (spec.in_channels, m, plan.n[i]) + arr.shape[axis + 1:]
    return arr.reshape(shape)


def effective_maps(rand: ConvRandomNetwork, masks) -> list:
    """One :class:`~sltheory.conv.certify.ConvPairMap` per pair, from the masked random weights."""
    from .certify import ConvPairMap

    plan = rand.plan
    out = []
    for i, spec in enumerate(plan.layers):
        a, c, B = rand.pair_arrays(i)
        mask_a, mask_c, mask_B = masks[i]
        H_w = a.size
        if mask_B.shape != B.shape or mask_a.shape != a.shape:
            raise CertificateError(f"pair {i}: masks of shapes {mask_a.shape}, {mask_B.shape} for weights "
                                   f"{a.shape}, {B.shape}")
        Bm = np.where(mask_B, B, 0.0)
        am = np.where(mask_a, a, 0.0)
        Bw = split_units(plan, i, Bm[:, :H_w], 1)               # (o, c_in, m, n, *K)
        aw = np.abs(split_units(plan, i, am, 0))                # (c_in, m, n)
        P = np.einsum("oin...,in->oi...", Bw[:, :, 0], aw[:, 0])
        N = np.einsum("oin...,in->oi...", Bw[:, :, 1], aw[:, 1]) if plan.signed[i] else None
        abs_kernel = np.einsum("oimn...,imn->oi...", np.abs(Bw), aw)
        inner = int(mask_B.reshape(mask_B.shape[0], -1).sum(axis=1).max()) if mask_B.size else 0
        p = bias_abs = None
        nb = int(plan.bias_units[i])
        if nb:
            cm = np.where(mask_c, c, 0.0) if mask_c is not None and c is not None else np.zeros(nb)
            q = bias_position(spec)
            Bb = Bm[:, H_w:]
            Bq = Bb[(slice(None), slice(None)) + q] if q else Bb
            p = Bq @ cm
            bias_abs = np.abs(Bq) @ cm
        out.append(ConvPairMap(P=P, N=N, p=p, abs_kernel=abs_kernel, inner=inner, bias_abs=bias_abs))
    return out


def kept_counts(masks) -> dict:
    first = sum(int(np.count_nonzero(ma)) for ma, _, _ in masks)
    biases = sum(0 if mc is None else int(np.count_nonzero(mc)) for _, mc, _ in masks)
    second = sum(int(np.count_nonzero(mb)) for _, _, mb in masks)
    return {"kept_first": first, "kept_biases": biases, "kept_second": second, "kept": first + biases + second}
