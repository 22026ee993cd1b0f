"""A conv ticket: the random conv network with masks (no weight changed), its certificate, its
torch module of live units, and its file (plan + seed + packed masks: the random weights are
regenerated from the seed, never stored)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from ..errors import InvalidArgumentError, TicketFileError
from .network import ConvPlan, ConvRandomNetwork, RandomPair
from .ops import batch_input

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
        self.pairs = nn.ModuleList(pairs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .ops import forward as ops_forward

        dtype = x.dtype
        xb = batch_input(x, self.plan.input_shape)
        y = ops_forward(self._ops, xb, affine=lambda op, h: self.pairs[op.index](h))
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
        if self.network is None:
            raise InvalidArgumentError("this conv ticket has no network (load it with sltheory.conv.load_conv_ticket)")
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
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise TicketFileError(f"{path}: not a conv ticket file")
            if header.get("version") != VERSION:
                raise TicketFileError(f"{path}: conv ticket format version {header.get('version')!r}, this "
                                      f"sltheory reads {VERSION}")
            _check_header(header)
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
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, json.JSONDecodeError) as exc:
        raise TicketFileError(f"{path}: cannot read a conv ticket ({type(exc).__name__}: {exc})") from None
    return plan, int(header["seed"]), masks, header


def _check_header(h: dict) -> None:
    """ValueError unless the header's fields have their types (before any is used)."""
    def is_int(v, lo=0):
        return isinstance(v, int) and not isinstance(v, bool) and v >= lo

    plan = h.get("plan")
    if not is_int(h.get("seed")):
        raise ValueError(f"seed {h.get('seed')!r} is not an int ≥ 0")
    eb = h.get("error_bound")
    if not isinstance(eb, (int, float)) or isinstance(eb, bool) or not eb >= 0:
        raise ValueError(f"error_bound {eb!r} is not a number ≥ 0")
    if not isinstance(plan, dict) or not isinstance(plan.get("skeleton"), list) or not plan["skeleton"]:
        raise ValueError("the plan has no skeleton")
    n = plan.get("n")
    if not isinstance(n, list) or not n or not all(is_int(v, 1) and v <= 64 for v in n):
        raise ValueError(f"n {n!r} is not a list of ints in [1, 64]")
    entries = h.get("entries")
    if not isinstance(entries, list) or not all(is_int(v, 1) for v in entries):
        raise ValueError(f"entries {entries!r} is not a list of positive ints")


@dataclass(frozen=True)
class Stored:
    """The bound as stored in a file (recompute it with ``sltheory.conv.recertify(ticket, target)``, or
    load the file with ``target=``)."""

    error_bound: float
    method: str = "stored"
