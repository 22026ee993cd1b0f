"""The kept structure of a ticket, as a small torch network (issue 14, "tickets as torch models").

A ticket's random network may be very wide (a Malach ticket of a 5-7-3 target at ε = 0.1 is 8.5M
units wide) while its masks keep a few hundred weights. Evaluating the full-width masked network
would materialize every unit for every input (35 GB for 512 inputs there); this module builds the
network of the **live units** only, straight from the random weights and the masks, never a
full-width copy:

* a unit of the random network is **dead** when its value is the constant 0 (no kept incoming
  weight from a live unit and no kept bias: ``σ(0) = 0``), or when nothing reads it (no kept
  outgoing weight to a live unit). Removing dead units changes no output: a constant-0 unit adds
  ``w·0 = 0`` wherever it is read, an unread unit is read nowhere. A unit with a kept bias and no
  kept incoming weight is alive (it outputs ``σ(c)``). The inputs and the outputs are always all
  kept, so the network takes and returns what the random network does. One forward and one
  backward sweep over the kept index pairs find the live units exactly (``alive_units``).
* each layer of the result is the random layer restricted to live rows and columns: kept random
  weights where the mask is True, 0 elsewhere (a dense block of the live units: never more than
  the random layer it comes from), a bias only when a live unit keeps one.

:class:`TicketNetwork` is that network: an ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU`` (and,
for ``rescale=True`` tickets, a final :class:`~sltheory.network.ScaledOutput`) whose forward
accepts inputs of any floating dtype and device: they are cast to the network's own dtype and
device (float64 on the CPU as built), evaluated there, and the output is cast back to the input's
dtype and device (an integer input gets the network's dtype back). ``units`` records, per level
(0 = the inputs, ℓ = the outputs of random linear ℓ − 1), which units of the random network the
network's units are, so that the full-width matrices can be rebuilt (:func:`as_is_layers`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError
from ..network import ScaledOutput, sample_bias, sample_plan_layer

__all__ = ["Compact", "TicketNetwork", "alive_units", "as_is_layers", "build_network", "compact_layer"]


class Compact(NamedTuple):
    """What :meth:`sltheory.Ticket.compact` returns.

    ``network``: a plain ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU`` (and the ticket's
    :class:`~sltheory.network.ScaledOutput` when it has one: the scale is kept as a module, not
    folded into the last weights, because a folded weight is a different float and the outputs
    would no longer be the ticket's bit for bit), in the ticket's dtype and device; same input
    and output width as the random network. ``parameters``: its number of scalars (weights and
    biases, the zeros inside the live blocks included). ``units``: per level, the indices of the
    random network's units that the compact network's units are (level 0: the inputs, all of
    them; the last level: the outputs, all of them)."""

    network: nn.Sequential
    parameters: int
    units: tuple[torch.Tensor, ...]


class TicketNetwork(nn.Sequential):
    """The live units of a ticket (module docstring): ``nn.Linear`` / ``nn.ReLU`` alternating, a
    Linear last, optionally a :class:`~sltheory.network.ScaledOutput`.

    ``forward(x)``: ``x`` of shape (…, d_in), any floating dtype, any device; evaluated in the
    network's dtype on its device (float64 on the CPU as :func:`sltheory.approximate` builds it;
    ``.to(dtype / device)`` changes both) and returned in ``x``'s dtype on ``x``'s device. The
    certified bound of a ticket is for the float64 evaluation: a float32 *input* is exact in
    float64, so only the final cast to float32 rounds (half an ulp of float32 per output); a
    network moved to float32 adds its own rounding in every layer, which the bound does not cover.

    ``units[ℓ]``: int64 (CPU) indices, sorted, of the random network's units at level ℓ that
    this network's units at level ℓ are (not buffers: they are the same in every dtype and device).
    """

    def __init__(self, *layers: nn.Module, units: Sequence[torch.Tensor] = ()):
        super().__init__(*layers)
        self.units: tuple[torch.Tensor, ...] = tuple(torch.as_tensor(u, dtype=torch.int64).cpu() for u in units)

    def __getitem__(self, idx):   # a slice is a plain nn.Sequential (units describe the whole network)
        if isinstance(idx, slice):
            return nn.Sequential(*list(self)[idx])
        return super().__getitem__(idx)

    def _where(self) -> tuple[torch.dtype, torch.device]:
        for p in self.parameters():
            return p.dtype, p.device
        return torch.float64, torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the network computes in (float64 as built)."""
        return self._where()[0]

    @property
    def device(self) -> torch.device:
        return self._where()[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype, device = self._where()
        y = super().forward(x.to(device=device, dtype=dtype))
        return y.to(device=x.device, dtype=x.dtype if x.is_floating_point() else dtype)

    def extra_repr(self) -> str:
        return "live widths " + " → ".join(str(len(u)) for u in self.units) if self.units else ""


def _kept_pairs(mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    rc = torch.nonzero(mask.detach().cpu()).numpy()
    return rc[:, 0], rc[:, 1]


def alive_units(masks: Sequence[torch.Tensor], bias_masks=None) -> tuple[torch.Tensor, ...]:
    """Per level (0 = the inputs, ℓ = outputs of random linear ℓ − 1), the sorted indices of the
    live units (module docstring): forward, a unit is non-constant-zero when a kept weight reads a
    non-constant-zero unit or its bias is kept; backward, a unit is read when a kept weight carries
    it to a read unit; live = both. Level 0 and the last level are kept whole; a hidden level
    without a live unit keeps its unit 0 (whose contribution is exactly 0), so that no layer of
    the network has width 0. Cost: one
    ``nonzero`` over each mask, then O(kept) work."""
    L = len(masks)
    if L == 0:
        raise InvalidArgumentError("a ticket has at least one linear layer")
    pairs = [_kept_pairs(m) for m in masks]
    widths = [int(masks[0].shape[1])] + [int(m.shape[0]) for m in masks]
    fwd = [np.ones(widths[0], dtype=bool)]
    for t, (r, c) in enumerate(pairs):
        f = np.zeros(widths[t + 1], dtype=bool)
        f[r[fwd[t][c]]] = True
        bm = None if bias_masks is None else bias_masks[t]
        if bm is not None:
            f |= bm.detach().cpu().numpy().astype(bool)
        fwd.append(f)
    used: list[np.ndarray] = [np.ones(0, dtype=bool)] * (L + 1)
    used[L] = np.ones(widths[L], dtype=bool)
    for t in range(L - 1, -1, -1):
        r, c = pairs[t]
        u = np.zeros(widths[t], dtype=bool)
        u[c[used[t + 1][r]]] = True
        used[t] = u
    out = [torch.arange(widths[0])]
    for lv in range(1, L):
        live = np.flatnonzero(fwd[lv] & used[lv])
        if live.size == 0 and widths[lv] > 0:   # keep one unit: no zero-width layer (export, ONNX);
            live = np.zeros(1, dtype=np.int64)  # it adds exactly 0 (read by no live unit, or fed by none)
        out.append(torch.from_numpy(live))
    out.append(torch.arange(widths[L]))
    return tuple(u.to(torch.int64) for u in out)


def compact_layer(weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor,
                  bias_mask: torch.Tensor | None, rows: torch.Tensor, cols: torch.Tensor) -> nn.Linear:
    """Random linear (``weight``, ``bias``) masked and restricted to live ``rows`` × ``cols``: the
    kept weights there (0 where the mask is False), a bias only when a live row keeps one. Only
    the live block is allocated (on ``weight``'s device, in its dtype)."""
    dev = weight.device
    r, c = rows.to(dev), cols.to(dev)
    w = weight.detach().index_select(0, r).index_select(1, c)
    m = mask.to(dev).index_select(0, r).index_select(1, c)
    zero = torch.zeros((), dtype=w.dtype, device=dev)
    keep_bias = bias is not None and bias_mask is not None and bool(bias_mask.to(dev).index_select(0, r).any())
    with warnings.catch_warnings():   # a layer without live units: "initializing zero-element tensors"
        warnings.simplefilter("ignore", UserWarning)
        lin = nn.Linear(len(cols), len(rows), bias=keep_bias, device="meta")
    lin.weight = nn.Parameter(torch.where(m, w, zero), requires_grad=False)
    if keep_bias:
        assert bias is not None and bias_mask is not None
        lin.bias = nn.Parameter(torch.where(bias_mask.to(dev).index_select(0, r),
                                            bias.detach().to(dev).index_select(0, r), zero), requires_grad=False)
    return lin


def build_network(layer_weight: Callable[[int], torch.Tensor], layer_bias: Callable[[int], torch.Tensor | None],
                  masks: Sequence[torch.Tensor], bias_masks=None, *, output_scale: float = 1.0,
                  units: Sequence[torch.Tensor] | None = None) -> TicketNetwork:
    """The :class:`TicketNetwork` of random linears ``layer_weight(t)`` / ``layer_bias(t)`` (full
    width, asked for one at a time and released) under ``masks`` / ``bias_masks`` (None: no kept
    bias), followed by ``ScaledOutput(output_scale)`` when it is not 1."""
    units = alive_units(masks, bias_masks) if units is None else tuple(units)
    layers: list[nn.Module] = []
    for t, mask in enumerate(masks):
        bm = None if bias_masks is None else bias_masks[t]
        layers.append(compact_layer(layer_weight(t), layer_bias(t) if bm is not None else None, mask, bm,
                                    units[t + 1], units[t]))
        if t < len(masks) - 1:
            layers.append(nn.ReLU())
    if output_scale != 1.0:
        layers.append(ScaledOutput(output_scale))
    return TicketNetwork(*layers, units=units)


def network_units(network: nn.Module, masks: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The unit maps of a ticket's network: a :class:`TicketNetwork`'s own, or every unit for a
    full-width network (one whose linears have the masks' shapes, as tickets held before)."""
    if isinstance(network, TicketNetwork) and network.units:
        return network.units
    return tuple([torch.arange(int(masks[0].shape[1]))] + [torch.arange(int(m.shape[0])) for m in masks])


class AsIsLayer(NamedTuple):
    """Random linear t of a ticket's network, as the network holds it, in full-width coordinates."""

    kept: np.ndarray          #: float64 values at the mask's True positions (row-major ``nonzero`` order)
    extra_rows: np.ndarray    #: positions the mask prunes where the network holds a nonzero anyway
    extra_cols: np.ndarray
    extra: np.ndarray
    bias: np.ndarray | None   #: the full-width bias the network adds (None: it adds none)
    kept_bias: np.ndarray | None   #: float64 values of ``bias`` at the bias mask's True positions


def as_is_layers(network: nn.Module, masks: Sequence[torch.Tensor], bias_masks=None, *, plan=None,
                 seed=None) -> list[AsIsLayer]:
    """Every random linear of a ticket's network, as it is, in full-width coordinates (float64,
    CPU): the values it holds at the kept positions and anywhere else, and its bias.

    Live positions are read from the network (whatever it holds now: an edited weight is what it
    computes with). A kept weight or bias of a dead unit is not in a compact network; its value is
    the random one, re-sampled from (``plan``, ``seed``) (only for the layers that have such
    weights); such a weight changes no output (module docstring), so a certificate of these
    matrices is one of the network. InvalidArgumentError when that is needed and ``plan`` or
    ``seed`` is missing."""
    linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
    units = network_units(network, masks)
    out = []
    for t, (lin, mask) in enumerate(zip(linears, masks)):
        rows_u, cols_u = units[t + 1].numpy(), units[t].numpy()
        W = lin.weight.detach().cpu().to(torch.float64).numpy()
        r, c = _kept_pairs(mask)
        i = np.searchsorted(rows_u, r)
        j = np.searchsorted(cols_u, c)
        inside = (i < len(rows_u)) & (j < len(cols_u))
        inside[inside] &= (rows_u[i[inside]] == r[inside]) & (cols_u[j[inside]] == c[inside])
        kept = np.empty(len(r), dtype=np.float64)
        kept[inside] = W[i[inside], j[inside]]
        bm = None if bias_masks is None or bias_masks[t] is None else bias_masks[t].detach().cpu().numpy()
        dead_bias = None
        if bm is not None:
            live_row = np.zeros(mask.shape[0], dtype=bool)
            live_row[rows_u] = True
            dead_bias = np.flatnonzero(bm & ~live_row)
        need_w, need_b = not inside.all(), dead_bias is not None and dead_bias.size > 0
        if (need_w or need_b) and (plan is None or seed is None):
            raise InvalidArgumentError("the ticket keeps weights of dead units, which its network does not hold; "
                                       "reading them needs the plan and seed of its random network")
        if need_w:
            full = sample_plan_layer(plan, seed, t)
            kept[~inside] = full[torch.from_numpy(r[~inside]), torch.from_numpy(c[~inside])].numpy()
            del full
        ii, jj = np.nonzero(W)
        er, ec = rows_u[ii], cols_u[jj]
        off = ~mask.detach().cpu()[torch.from_numpy(er), torch.from_numpy(ec)].numpy() if len(er) else \
            np.zeros(0, dtype=bool)
        bias = kept_bias = None
        if lin.bias is not None or bm is not None or (plan is not None and plan.layer_bias(t) is not None):
            bias = np.zeros(int(mask.shape[0]), dtype=np.float64)
            if lin.bias is not None:
                bias[rows_u] = lin.bias.detach().cpu().to(torch.float64).numpy()
            if need_b:
                law = plan.layer_bias(t)
                if law is None:
                    raise InvalidArgumentError(f"bias mask {t} keeps biases of a random linear that has none")
                bias[dead_bias] = sample_bias(seed, t, int(mask.shape[0]), law).numpy()[dead_bias]
        if bm is not None:
            kept_bias = bias[bm] if bias is not None else np.zeros(int(bm.sum()))
        out.append(AsIsLayer(kept, er[off], ec[off], W[ii[off], jj[off]], bias, kept_bias))
    return out
