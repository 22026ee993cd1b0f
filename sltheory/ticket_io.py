"""Compact tickets on disk: the random network's plan and seed plus the kept indices, no weights.

A ticket's random network is a function of (plan, seed) only (:class:`~sltheory.network.RandomNetwork`:
layer t from ``SeedSequence(seed, spawn_key=(t,))``), so the file stores

* ``header``: UTF-8 JSON (as a uint8 array) — format name and version, the plan (construction,
  target and layer shapes, pairs, n, signed, eps, delta, constant, options, distribution), the
  seed, error_bound, stats, the certificate's fields, the output scale (``rescale=True``), the
  kept count per layer and a SHA-256 of the kept weights' float64 bytes (in index order);
* ``mask_<t>``: for each random nn.Linear t, the sorted flat (row-major) indices of its kept
  weights, in the smallest unsigned integer dtype that holds ``out · in − 1``;

in one ``numpy.savez_compressed`` archive (read back with ``allow_pickle=False``: no pickle
anywhere). :func:`load_ticket` re-samples every random layer from (plan, seed), one layer at a
time, keeps the weights at the stored indices (0 elsewhere, as :func:`~sltheory.network.masked_copy`
does) and checks the SHA-256: the loaded network equals the saved one bit for bit, or a
:class:`~sltheory.errors.TicketFileError` says that the random stream changed (another numpy
generator, for instance). Writes are atomic (temp file in the same folder, fsync, ``os.replace``).

Tuples in the header are written as ``{"__tuple__": [...]}`` so that the plan, stats and
certificate come back with the same Python types (Plan compares equal).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .certify import Certificate
from .errors import InvalidArgumentError, RandomNetworkError, TicketFileError, TicketVersionError
from .network import Plan, sample_plan_layer
from .ticket import ScaledOutput, Ticket

FORMAT = "sltheory.ticket"
#: Version of the file format this module writes and reads.
FORMAT_VERSION = 1

__all__ = ["FORMAT_VERSION", "load_ticket", "save_ticket"]


# ------------------------------------------------------------------ JSON with tuples
def _encode(value):
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidArgumentError(f"cannot save a dict with non-string keys: {sorted(map(repr, value))[:5]}")
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__tuple__": [_encode(v) for v in value.tolist()]} if value.ndim else _encode(value.item())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InvalidArgumentError(f"cannot save a value of type {type(value).__name__} in a ticket header")


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# ------------------------------------------------------------------ helpers
def _index_dtype(numel: int) -> np.dtype:
    """Smallest unsigned dtype holding every flat index 0 … numel − 1."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if numel - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def _kept_digest(values) -> str:
    h = hashlib.sha256()
    for v in values:
        h.update(np.ascontiguousarray(v, dtype="<f8").tobytes())
    return h.hexdigest()


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _output_scale(network: nn.Module) -> float:
    scaled = [m for m in network.modules() if isinstance(m, ScaledOutput)]
    return float(scaled[-1].scale) if scaled else 1.0


# ------------------------------------------------------------------ save
def save_ticket(ticket: Ticket, path) -> Path:
    """Write ``ticket`` to ``path`` (module docstring); returns the path. The folder must exist
    (:class:`~sltheory.errors.TicketFileError` otherwise, before anything is written); an
    existing file is replaced atomically, never left half-written."""
    if not isinstance(ticket, Ticket):
        raise InvalidArgumentError(f"expected a Ticket, got {type(ticket).__name__}")
    path = Path(os.fspath(path))
    if ticket.plan is None or ticket.seed is None:
        raise InvalidArgumentError("this ticket carries no plan/seed of its random network (build it with "
                                   "sltheory.approximate), so it cannot be saved compactly")
    if not path.parent.is_dir():
        raise TicketFileError(f"cannot save the ticket to {path}: folder {path.parent} does not exist", path=path)
    if path.is_dir():
        raise TicketFileError(f"cannot save the ticket to {path}: it is a folder", path=path)
    plan = ticket.plan
    linears = _linears(ticket.network)
    if len(linears) != len(plan.layer_shapes):   # (Ticket itself checks masks against linears)
        raise InvalidArgumentError(f"the ticket has {len(linears)} linear layers for a plan of "
                                   f"{len(plan.layer_shapes)}: it would not load back")
    arrays, kept_values, kept_counts = {}, [], []
    for t, (mask, lin, shape) in enumerate(zip(ticket.masks, linears, plan.layer_shapes)):
        if tuple(mask.shape) != tuple(shape):
            raise InvalidArgumentError(f"mask {t} has shape {tuple(mask.shape)}, the plan's layer {tuple(shape)}")
        flat = torch.flatten(mask.detach().cpu())
        idx = torch.nonzero(flat).reshape(-1)
        arrays[f"mask_{t}"] = idx.numpy().astype(_index_dtype(flat.numel()))
        kept_values.append(torch.flatten(lin.weight.detach().cpu())[idx].numpy())
        kept_counts.append(int(idx.numel()))
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "plan": {f.name: getattr(plan, f.name) for f in dataclasses.fields(Plan)},
        "seed": int(ticket.seed),
        "construction": ticket.construction,
        "error_bound": float(ticket.error_bound),
        "stats": ticket.stats,
        "certificate": {f.name: getattr(ticket.certificate, f.name) for f in dataclasses.fields(Certificate)},
        "output_scale": _output_scale(ticket.network),
        "kept_counts": tuple(kept_counts),
        "kept_sha256": _kept_digest(kept_values),
        "dtype": "float64",
    }
    blob = json.dumps(_encode(header), allow_nan=True).encode("utf-8")
    arrays["header"] = np.frombuffer(blob, dtype=np.uint8)
    _atomic_savez(path, arrays)
    return path


def _atomic_savez(path: Path, arrays: dict) -> None:
    from .runs import atomic_write

    atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), binary=True)


# ------------------------------------------------------------------ load
def _read(path: Path) -> tuple[dict, list[np.ndarray]]:
    if not path.exists():
        raise TicketFileError(f"no ticket file at {path}", path=path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if "header" not in z.files:
                raise TicketFileError(f"{path} is not an sltheory ticket (no header)", path=path)
            header = _decode(json.loads(bytes(z["header"]).decode("utf-8")))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise TicketFileError(f"{path} is not an sltheory ticket (format "
                                      f"{header.get('format') if isinstance(header, dict) else None!r})", path=path)
            if header.get("version") != FORMAT_VERSION:
                raise TicketVersionError(f"{path} is a ticket of format version {header.get('version')!r}; this "
                                         f"sltheory reads version {FORMAT_VERSION}", path=path,
                                         version=header.get("version"), supported=FORMAT_VERSION)
            n_layers = len(header["plan"]["layer_shapes"])
            masks = [z[f"mask_{t}"] for t in range(n_layers)]
    except TicketFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError, TypeError) as exc:
        raise TicketFileError(f"{path} is not a readable sltheory ticket (corrupt or truncated): "
                              f"{type(exc).__name__}: {exc}", path=path) from exc
    return header, masks


def load_ticket(path, *, device=None) -> Ticket:
    """Read a ticket written by :meth:`Ticket.save` / :func:`save_ticket`: the random network is
    re-sampled from the stored (plan, seed) layer by layer and masked with the stored indices, so
    every weight equals the saved ticket's bit for bit (checked with the stored SHA-256 of the kept
    weights). Typed errors: :class:`~sltheory.errors.TicketFileError` (missing, corrupt, or the
    random stream no longer reproduces the weights), :class:`~sltheory.errors.TicketVersionError`."""
    path = Path(os.fspath(path))
    header, index_arrays = _read(path)
    try:
        plan = Plan(**header["plan"])
        seed = int(header["seed"])
        output_scale = float(header["output_scale"])
        kept_counts = tuple(int(c) for c in header["kept_counts"])
        cert_fields = {f.name for f in dataclasses.fields(Certificate)}
        certificate = Certificate(**{k: v for k, v in header["certificate"].items() if k in cert_fields})
        error_bound, stats, construction = float(header["error_bound"]), dict(header["stats"]), header["construction"]
        digest = str(header["kept_sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TicketFileError(f"{path}: the ticket header is incomplete or malformed: {type(exc).__name__}: {exc}",
                              path=path) from exc
    if len(kept_counts) != len(plan.layer_shapes):
        raise TicketFileError(f"{path}: {len(kept_counts)} kept counts for {len(plan.layer_shapes)} layers", path=path)
    layers: list[nn.Module] = []
    masks, kept_values = [], []
    dev = torch.device(device or "cpu")
    for t, ((out_f, in_f), idx, count) in enumerate(zip(plan.layer_shapes, index_arrays, kept_counts)):
        numel = out_f * in_f
        if idx.ndim != 1 or idx.size != count or idx.dtype.kind != "u":
            raise TicketFileError(f"{path}: mask {t} holds {idx.size} indices of dtype {idx.dtype}; the header says "
                                  f"{count} unsigned", path=path)
        idx = idx.astype(np.int64)
        if idx.size and (idx[-1] >= numel or np.any(np.diff(idx) <= 0)):
            raise TicketFileError(f"{path}: mask {t}'s indices are not sorted, unique and below {numel}", path=path)
        try:
            w = sample_plan_layer(plan, seed, t).reshape(-1)
        except (RandomNetworkError, IndexError, TypeError) as exc:   # a plan no construction writes
            raise TicketFileError(f"{path}: layer {t} of the stored plan cannot be re-sampled: {exc}",
                                  path=path) from exc
        tidx = torch.from_numpy(idx)
        kept = w[tidx]
        del w
        flat = torch.zeros(numel, dtype=torch.float64)
        flat[tidx] = kept
        mask = torch.zeros(numel, dtype=torch.bool)
        mask[tidx] = True
        kept_values.append(kept.numpy())
        lin = nn.Linear(in_f, out_f, bias=False, device="meta")
        lin.weight = nn.Parameter(flat.reshape(out_f, in_f).to(dev), requires_grad=False)
        layers.append(lin)
        if t < len(plan.layer_shapes) - 1:
            layers.append(nn.ReLU())
        masks.append(mask.reshape(out_f, in_f).to(dev))
    if _kept_digest(kept_values) != digest:
        raise TicketFileError(f"{path}: the random network re-sampled from (plan, seed = {seed}) does not reproduce "
                              "the saved kept weights (SHA-256 differs): the random stream changed (numpy's "
                              "generator?) or the file was altered", path=path)
    if output_scale != 1.0:
        layers.append(ScaledOutput(output_scale))
    return Ticket(network=nn.Sequential(*layers), masks=tuple(masks), error_bound=error_bound, stats=stats,
                  construction=construction, certificate=certificate, plan=plan, seed=seed)
