"""A conv ticket: the random conv network with masks (no weight changed), its certificate, its
torch module of live units, and its file (plan + seed + packed masks: the random weights are
regenerated from the seed, never stored)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from ..errors import TicketFileError
from .network import ConvPlan, ConvRandomNetwork, RandomPair, affine_specs

FORMAT = "sltheory-conv-ticket"
VERSION = 1


class TicketNetwork(nn.Module):
    """The ticket as a torch module: per pair only the live units (a unit is live when its
    univariate weight, or its bias, and at least one outgoing weight are kept), so a ticket of a
    very wide random network is small. Any float dtype / device in; float64 inside; the input's
    dtype out, flattened (B, d_out)."""

    def __init__(self, plan: ConvPlan, pairs: list[RandomPair]):
        super().__init__()
        self.plan = plan
        self._ops = plan.ops
        self._index = {id(s): i for i, s in enumerate(affine_specs(self._ops))}
        self.pairs = nn.ModuleList(pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .ops import forward as ops_forward

        dtype = x.dtype
        xb = x.to(torch.float64).reshape(x.shape[0], *self.plan.input_shape)
        y = ops_forward(self._ops, xb, affine=lambda op, h: self.pairs[self._index[id(op)]](h))
        return y.reshape(x.shape[0], -1).to(dtype)

    @property
    def num_parameters(self) -> int:
        total = 0
        for p in self.pairs:
            total += int(p.a.numel() + p.c.numel() + p.B.numel())  # type: ignore[operator]
        return total


def live_pairs(rand: ConvRandomNetwork, masks) -> list[RandomPair]:
    out = []
    for i, spec in enumerate(rand.plan.layers):
        a, c, B = rand.pair_arrays(i)
        mask_a, mask_c, mask_B = masks[i]
        H_w = a.size
        used = mask_B.reshape(mask_B.shape[0], mask_B.shape[1], -1).any(axis=(0, 2))
        live_w = np.flatnonzero(used[:H_w] & mask_a)
        live_b = np.flatnonzero(used[H_w:] & mask_c) if mask_c is not None else np.zeros(0, dtype=np.int64)
        cols = np.concatenate([live_w, H_w + live_b])
        Bl = np.where(mask_B, B, 0.0)[:, cols]
        m = 2 if rand.plan.signed[i] else 1
        channel = live_w // (m * rand.plan.n[i])
        out.append(RandomPair(spec, torch.from_numpy(a[live_w].copy()),
                              torch.from_numpy(c[live_b].copy()) if c is not None and live_b.size else None,
                              torch.from_numpy(np.ascontiguousarray(Bl)), torch.from_numpy(channel)))
    return out


@dataclass
class ConvTicket:
    """``masks[i] = (mask_a, mask_c or None, mask_B)`` per pair; ``certificate.error_bound`` ≥
    sup over the plan's domain of ‖target(x) − ticket(x)‖₂ (flattened outputs)."""

    plan: ConvPlan
    seed: int
    masks: list
    certificate: Any
    stats: dict = field(default_factory=dict)
    network: TicketNetwork | None = None

    @property
    def error_bound(self) -> float:
        return float(self.certificate.error_bound)

    @property
    def construction(self) -> str:
        return self.plan.construction

    @property
    def kept_weights(self) -> int:
        return int(sum(int(ma.sum()) + (0 if mc is None else int(mc.sum())) + int(mb.sum())
                       for ma, mc, mb in self.masks))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        assert self.network is not None
        return self.network(x)

    def save(self, path) -> Path:
        return save_conv_ticket(self, path)


def _pack(mask) -> dict:
    m = np.asarray(mask, dtype=bool)
    return {"shape": list(m.shape), "bits": np.packbits(m.reshape(-1))}


def save_conv_ticket(ticket: ConvTicket, path) -> Path:
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for i, entry in enumerate(ticket.masks):
        for j, m in enumerate(entry):
            if m is None:
                continue
            arrays[f"m{i}_{j}"] = np.packbits(np.asarray(m, dtype=bool).reshape(-1))
            arrays[f"s{i}_{j}"] = np.asarray(np.shape(m), dtype=np.int64)
    header = {"format": FORMAT, "version": VERSION, "plan": ticket.plan.to_json(), "seed": ticket.seed,
              "entries": [len(e) for e in ticket.masks],
              "error_bound": ticket.error_bound, "stats": _jsonable(ticket.stats)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    def write(f):
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    atomic_write(path, write, binary=True)
    return path


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def read_conv_ticket(path) -> tuple[ConvPlan, int, list, dict]:
    """(plan, seed, masks, header) from a conv ticket file (:func:`sltheory.conv.api.load_conv_ticket`
    regenerates the network and checks the masks against it)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            if header.get("format") != FORMAT:
                raise TicketFileError(f"{path}: not a conv ticket file")
            if header.get("version") != VERSION:
                raise TicketFileError(f"{path}: conv ticket format version {header.get('version')!r}, this "
                                      f"sltheory reads {VERSION}")
            plan = ConvPlan.from_json(header["plan"])
            masks = []
            for i, count in enumerate(header["entries"]):
                entry: list[np.ndarray | None] = []
                for j in range(int(count)):
                    if f"m{i}_{j}" not in z:
                        entry.append(None)
                        continue
                    shape = tuple(int(v) for v in z[f"s{i}_{j}"])
                    bits = np.unpackbits(z[f"m{i}_{j}"])[: math.prod(shape)]
                    if bits.size != math.prod(shape):
                        raise TicketFileError(f"{path}: mask {i}.{j} is truncated")
                    entry.append(bits.astype(bool).reshape(shape))
                masks.append(tuple(entry))
    except TicketFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise TicketFileError(f"{path}: cannot read a conv ticket ({type(exc).__name__}: {exc})") from None
    return plan, int(header["seed"]), masks, header


@dataclass(frozen=True)
class Stored:
    """The bound as stored in a file (recompute it with ``ticket.recertify(target)``)."""

    error_bound: float
    method: str = "stored"
