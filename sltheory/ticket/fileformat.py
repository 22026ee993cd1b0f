"""Compact tickets on disk: the random network's plan and seed plus the kept indices, no weights.

A ticket's random network is a function of (plan, seed) only (:class:`~sltheory.network.RandomNetwork`:
layer t from ``SeedSequence(seed, spawn_key=(t,))``), so the file (format version 4) is a zip archive
of ``.npy`` members (``numpy.load`` opens it; no pickle anywhere):

* ``header.npy``: UTF-8 JSON (a uint8 array) — format name and version, the plan (construction,
  target and layer shapes, pairs, n, signed, eps, delta, constant, options, distribution, layer
  kinds, and since version 4 the target's bias flags ``biases``, the random biases' laws
  ``layer_biases`` and the input ``domain``), the seed, construction, error_bound, stats, the
  certificate's fields, the output scale (``rescale=True``), the kept count per layer,
  ``bias_kept_counts`` (version 4: null when no random linear has a bias, else per layer null or
  the number of kept biases), ``kept_sha256`` (a SHA-256 of the kept weights' float64
  little-endian bytes, layer by layer in index order, then the kept biases' of the layers with a
  bias) and the weights' dtype;
* ``mask_<t>.npy``: for each random nn.Linear t, the sorted flat (row-major) indices of its kept
  weights, in the smallest unsigned integer dtype that holds ``out · in − 1``;
* ``bias_<t>.npy`` (version 4, for each random nn.Linear t with a bias): the sorted indices of its
  kept biases;
* ``sha256.npy``: 64 ASCII hex digits (a uint8 array), the **file digest**::

      h = sha256(b"sltheory.ticket/2\\n")
      for name in ("header.npy", "mask_0.npy", …, "mask_<L-1>.npy"):
          h.update(name.encode() + b"\\n" + len(data).to_bytes(8, "little") + data)

  (the ``bias_<t>.npy`` members after the masks, in layer order) with ``data`` the member's
  whole ``.npy`` bytes (its npy header included, so dtype and shape are
  covered). It covers every header field that changes the network or the claim (plan, seed,
  output_scale, layer shapes, error_bound, certificate, stats, …) and every kept index, and through
  ``kept_sha256`` the kept weights' bytes.

:func:`read_ticket` (behind :func:`sltheory.load_ticket`) checks, in this order, before it allocates
anything sized by the file: that the path is a regular file (a FIFO, device, socket or folder is
refused, never opened for reading), the zip directory's size, each member's size against hard limits
(:data:`MAX_HEADER_BYTES`, :data:`MAX_LAYERS`, ``max_weights`` for out·in of every layer and for
their sum, kept counts ≤ out·in, index arrays of exactly the size the header gives), then the file
digest (an altered or corrupted file is a :class:`~sltheory.errors.TicketFileError`), then the
indices (sorted, unique, in range). Only then does it find the live units from the masks alone
(:func:`sltheory.ticket.compact.alive_units`), re-sample every random layer (and bias) from (plan,
seed), one at a time, read the kept values and keep the live block of the layer (kept weights, 0
elsewhere, as :func:`~sltheory.network.masked_copy` does, restricted to the live units: the
ticket's :class:`~sltheory.ticket.compact.TicketNetwork`, built as :func:`sltheory.approximate`
builds it) and check ``kept_sha256``: the loaded network equals the saved one bit for bit, or a
``TicketFileError`` says that the random stream changed (another numpy
generator, for instance). Every corruption of the file is a ``TicketFileError``
(``tests/test_ticket_file_faults.py`` flips every byte of saved tickets). The digest is not a
signature: it detects corruption and edits made by anything but a deliberate forger, who can
recompute it — so the stored error bound stays a *claim*, which ``ticket.recertify(target)``
recomputes from the target.

Writes are atomic (:func:`sltheory._atomic.atomic_write`: an anonymous temp file in the same folder,
fsync, ``os.replace``; a writer killed mid-save leaves no file behind). Saving the same ticket twice
gives the same bytes (fixed zip timestamps, sorted JSON keys).

Version-1 files (sltheory before the file digest; no ``sha256.npy``) still load: their network is
checked as before (``kept_sha256`` covers the seed, the plan's sampling and the indices, and zip's
CRC-32 catches random corruption), but their other header fields (error_bound, certificate, stats,
output_scale) are covered by nothing against edits. A user holding such files would rather keep
them than recompute every ticket from its target, so they load, marked: the loaded ticket's
``stats["file_format_version"]`` is 1 (a version-2, -3 or -4 file's stats are exactly the saved ones).
Saving the loaded ticket writes a version-4 file (the mark stays in its stats, recording that the
claim was read unprotected); ``ticket.recertify(target)`` checks the claim.

Version 3 (issue 13) is version 2 with construction names that changed meaning: "malach" and
"orseau" now name the papers' constructions, and what those names built before is
"malach_product" and "orseau_halving". A version-1 or -2 file that says "malach" or "orseau" loads
under the new name (:data:`RENAMED_IN_3`), with ``stats["construction_renamed_from"]`` holding the
stored one; its masks, weights and certificate are unchanged (the pair certificate reads only the
masked weights).

Version 4 (issue 14) adds the bias members and fields above; a ticket's network is now the
network of its live units (the kept weights of dead units, which it does not hold, are re-sampled
when the file is written: they are the random ones). Files of versions 1–3 (bias-free, written
when the ticket held the full-width network) load into today's ticket — the same masks, the
network of their live units — with ``bias_masks`` None. A float64 network is required to save
(``ticket.to(torch.float32)`` gives a ticket that cannot be saved: its weights are not the random
ones).

Tuples in the header are written as ``{"__tuple__": [...]}`` so that the plan, stats and
certificate come back with the same Python types (Plan compares equal).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write
from .._checks import device_arg, path_arg
from ..certificate.bound import Certificate
from ..constructions._pairs import MAX_RANDOM_WEIGHTS
from ..errors import DomainError, InvalidArgumentError, RandomNetworkError, TicketFileError, TicketVersionError
from ..network import Plan, ScaledOutput, check_bias_law, sample_bias, sample_plan_layer
from .compact import TicketNetwork, alive_units, as_is_layers, compact_layer

FORMAT = "sltheory.ticket"
#: Version of the file format this module writes (it also reads versions 1 and 2: module docstring).
FORMAT_VERSION = 4
_READS = (1, 2, 3, 4)
#: Construction names that versions 1 and 2 used for what is now called otherwise (module docstring).
RENAMED_IN_3 = {"malach": "malach_product", "orseau": "orseau_halving"}

#: Hard limits a file is checked against before anything sized by it is allocated (the plan's
#: weights are capped by ``max_weights=``, :data:`~sltheory.constructions._pairs.MAX_RANDOM_WEIGHTS`
#: by default, the same cap the constructions apply when they sample).
MAX_HEADER_BYTES = 4 << 20   # a header takes ~0.8 KB per target layer
MAX_LAYERS = 4096            # random nn.Linear layers
_NPY_PREFIX_MAX = 4096       # magic + npy header of one member (numpy writes 64 or 128 bytes)
_ENTRY_MAX = 512             # bytes of one central-directory entry (46 + name + zip64 extra)
_ZIP_FLAGS_OK = 0x0002 | 0x0004 | 0x0008 | 0x0800   # deflate options, data descriptor, UTF-8 names
_DIGEST_PREFIX = b"sltheory.ticket/2\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_HEADER_BYTES", "MAX_LAYERS", "read_ticket", "write_ticket"]


# ------------------------------------------------------------------ JSON with tuples
def _encode(value):
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidArgumentError(f"cannot save a dict with non-string keys: {sorted(map(repr, value))[:5]}")
        if set(value) == {"__tuple__"}:
            raise InvalidArgumentError("cannot save a dict whose only key is '__tuple__' (it marks tuples in the "
                                       "header: it would load back as a tuple)")
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
            if not isinstance(value["__tuple__"], list):
                raise ValueError(f"a tuple holds a {type(value['__tuple__']).__name__}, not a list")
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


def _file_digest(members: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256(_DIGEST_PREFIX)
    for name, data in members:
        h.update(name.encode() + b"\n" + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _output_scale(network: nn.Module) -> float:
    scaled = [m for m in network.modules() if isinstance(m, ScaledOutput)]
    return float(scaled[-1].scale) if scaled else 1.0


def _regular_file_stat(path: Path, action: str):
    """``os.stat(path)`` (None if it does not exist); a TicketFileError unless a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TicketFileError(f"cannot {action} {path}: {exc.strerror}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise TicketFileError(f"cannot {action} {path}: it is a folder", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise TicketFileError(f"cannot {action} {path}: it is not a regular file (a FIFO, device or socket)",
                              path=path)
    return st


# ------------------------------------------------------------------ save
def write_ticket(ticket, path) -> Path:
    """Write ``ticket`` (a :class:`~sltheory.ticket.Ticket`, checked by the caller,
    :func:`sltheory.ticket.save_ticket`) to ``path`` in format version 4 (module docstring); returns the path.

    Checked before anything is written (:class:`~sltheory.errors.TicketFileError`): the folder
    exists, ``path`` is a regular file or does not exist (no folder, FIFO, device, socket), its
    name fits the file system; :class:`~sltheory.errors.InvalidArgumentError` for a ticket that
    carries no plan/seed or would not load back (masks that do not fit the plan, a header or a
    layer count beyond :data:`MAX_HEADER_BYTES` / :data:`MAX_LAYERS`). Any legal file name works;
    an existing file is replaced atomically, never left half-written, and a save killed midway
    leaves no temporary file (see :func:`sltheory._atomic.atomic_write`)."""
    path = path_arg("path", path, error=TicketFileError)
    if ticket.plan is None or ticket.seed is None:
        raise InvalidArgumentError("this ticket carries no plan/seed of its random network (build it with "
                                   "sltheory.approximate), so it cannot be saved compactly")
    if not path.parent.is_dir():
        raise TicketFileError(f"cannot save the ticket to {path}: folder {path.parent} does not exist", path=path)
    _regular_file_stat(path, "save the ticket to")
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = None
    if name_max is not None and len(os.fsencode(path.name)) > name_max:
        raise TicketFileError(f"cannot save the ticket to {path}: the name is {len(os.fsencode(path.name))} bytes "
                              f"long, the file system allows {name_max}", path=path)
    plan = ticket.plan
    linears = _linears(ticket.network)
    if len(linears) != len(plan.layer_shapes):   # (Ticket itself checks masks against linears)
        raise InvalidArgumentError(f"the ticket has {len(linears)} linear layers for a plan of "
                                   f"{len(plan.layer_shapes)}: it would not load back")
    if len(linears) > MAX_LAYERS:
        raise InvalidArgumentError(f"the ticket has {len(linears)} linear layers, more than a ticket file holds "
                                   f"(MAX_LAYERS = {MAX_LAYERS}): it would not load back")
    if any(p.dtype != torch.float64 for p in ticket.network.parameters()):
        raise InvalidArgumentError("a ticket file reproduces the float64 network; this ticket's network computes "
                                   "in another dtype (save the ticket it was made from with .to())")
    for t, (mask, shape) in enumerate(zip(ticket.masks, plan.layer_shapes)):
        if tuple(mask.shape) != tuple(shape):
            raise InvalidArgumentError(f"mask {t} has shape {tuple(mask.shape)}, the plan's layer {tuple(shape)}")
    bias_masks = ticket.bias_masks
    for t, bm in enumerate(bias_masks or ()):
        if (bm is not None) != (plan.layer_bias(t) is not None):
            raise InvalidArgumentError(f"bias mask {t} is {'given' if bm is not None else 'missing'}, and the plan's "
                                       f"layer {t} {'has' if plan.layer_bias(t) is not None else 'has no'} bias: "
                                       "it would not load back")
    as_is = as_is_layers(ticket.network, ticket.masks, bias_masks, plan=plan, seed=ticket.seed)
    members, kept_values, kept_counts = [], [], []
    for t, (mask, lay) in enumerate(zip(ticket.masks, as_is)):
        flat = torch.flatten(mask.detach().cpu())
        idx = torch.nonzero(flat).reshape(-1)
        members.append((f"mask_{t}.npy", _npy_bytes(idx.numpy().astype(_index_dtype(flat.numel())))))
        kept_values.append(lay.kept)
        kept_counts.append(int(idx.numel()))
    bias_counts: list[int | None] = []
    for t, (bm, lay) in enumerate(zip(bias_masks or (None,) * len(as_is), as_is)):
        if bm is None:
            bias_counts.append(None)
            continue
        idx = torch.nonzero(bm.detach().cpu()).reshape(-1)
        members.append((f"bias_{t}.npy", _npy_bytes(idx.numpy().astype(_index_dtype(int(bm.numel()))))))
        kept_values.append(lay.kept_bias if lay.kept_bias is not None else np.zeros(0))
        bias_counts.append(int(idx.numel()))
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
        "bias_kept_counts": tuple(bias_counts) if bias_masks is not None else None,
        "kept_sha256": _kept_digest(kept_values),
        "dtype": "float64",
    }
    blob = json.dumps(_encode(header), allow_nan=True, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if len(blob) > MAX_HEADER_BYTES:
        raise InvalidArgumentError(f"the ticket's header takes {len(blob)} bytes, more than a ticket file holds "
                                   f"(MAX_HEADER_BYTES = {MAX_HEADER_BYTES}): it would not load back")
    members.insert(0, ("header.npy", _npy_bytes(np.frombuffer(blob, dtype=np.uint8))))
    digest = _file_digest(members)
    members.append(("sha256.npy", _npy_bytes(np.frombuffer(digest.encode("ascii"), dtype=np.uint8))))
    atomic_write(path, lambda fh: _write_zip(fh, members), binary=True)
    return path


def _write_zip(fh, members: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))   # same ticket, same bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


# ------------------------------------------------------------------ load: the archive
_EOCD = struct.Struct("<4s4H2LH")           # end of central directory, 22 bytes
_ZIP64_LOCATOR = struct.Struct("<4sLQL")    # 20 bytes, just before the EOCD
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")   # 56 bytes


def _check_zip_directory(fh, size: int, path: Path) -> None:
    """Read the zip end record (the last 22 bytes: ticket files carry no archive comment) and refuse
    a central directory with more entries or bytes than a ticket has, before zipfile reads it."""
    def bad(why):
        return TicketFileError(f"{path} is not an sltheory ticket (corrupt or truncated zip archive: {why})",
                               path=path)
    if size < _EOCD.size:
        raise bad(f"{size} bytes")
    fh.seek(size - _EOCD.size)
    sig, _, _, _, entries, cd_size, cd_offset, comment = _EOCD.unpack(fh.read(_EOCD.size))
    if sig != b"PK\x05\x06" or comment != 0:
        raise bad("no end record at the end of the file")
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:   # zip64
        at = size - _EOCD.size - _ZIP64_LOCATOR.size
        if at < 0:
            raise bad("no zip64 locator")
        fh.seek(at)
        sig, _, offset, _ = _ZIP64_LOCATOR.unpack(fh.read(_ZIP64_LOCATOR.size))
        if sig != b"PK\x06\x07" or offset + _ZIP64_EOCD.size > at:
            raise bad("bad zip64 locator")
        fh.seek(offset)
        rec = _ZIP64_EOCD.unpack(fh.read(_ZIP64_EOCD.size))
        if rec[0] != b"PK\x06\x06":
            raise bad("bad zip64 end record")
        entries, cd_size = rec[7], rec[8]
    if entries > MAX_LAYERS + 2 or cd_size > (MAX_LAYERS + 2) * _ENTRY_MAX:
        raise bad(f"its directory claims {entries} members in {cd_size} bytes; a ticket has at most "
                  f"{MAX_LAYERS + 2}")
    fh.seek(0)


def _read_member(zf: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    """The whole bytes of member ``name``, refused (TicketFileError) before reading when its
    declared size exceeds ``limit`` or it is stored in a way no ticket writer uses."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise TicketFileError(f"{path}: member {name} claims {info.file_size} bytes, more than the {limit} its "
                              "header allows (corrupt or crafted file)", path=path)
    if (info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & ~_ZIP_FLAGS_OK
            or info.extract_version > zipfile.MAX_EXTRACT_VERSION):
        raise TicketFileError(f"{path}: member {name} is stored with compression {info.compress_type}, flags "
                              f"{info.flag_bits:#x}, zip version {info.extract_version} (corrupt: a ticket uses "
                              "deflate, unencrypted)", path=path)
    with zf.open(info) as member:
        data = member.read(info.file_size + 1)   # bounded, whatever the compressed stream holds
    if len(data) != info.file_size:
        raise TicketFileError(f"{path}: member {name} holds {len(data)} bytes, its directory says "
                              f"{info.file_size} (corrupt)", path=path)
    return data


def _npy_array(data: bytes, name: str, dtype: np.dtype, count: int | None, path: Path) -> np.ndarray:
    """The 1-D array of ``count`` entries (any number if None) of an unsigned ``dtype`` (either
    byte order) that the ``.npy`` bytes ``data`` must hold; TicketFileError otherwise. No copy."""
    fp = io.BytesIO(data)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, got = np.lib.format.read_array_header_1_0(fp, max_header_size=_NPY_PREFIX_MAX)
    elif version == (2, 0):
        shape, fortran, got = np.lib.format.read_array_header_2_0(fp, max_header_size=_NPY_PREFIX_MAX)
    else:
        raise TicketFileError(f"{path}: member {name} is an npy file of version {version}", path=path)
    offset = fp.tell()
    if count is None and isinstance(shape, tuple) and len(shape) == 1:
        count = shape[0]
    if (count is None or got.kind != "u" or got.itemsize != dtype.itemsize or got.fields is not None or fortran
            or shape != (count,) or len(data) - offset != count * dtype.itemsize):
        raise TicketFileError(f"{path}: member {name} holds an array {shape} of {got} ({len(data) - offset} bytes); "
                              f"the header says {count} entries of {dtype}", path=path)
    return np.frombuffer(data, dtype=got, count=count, offset=offset)


# ------------------------------------------------------------------ load: the header
def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: object) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_shape(v) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and all(_is_int(x) and x >= 0 for x in v)


def _header_check(path: Path):
    """``need(ok, field, what)``: a TicketFileError naming the header field of ``path`` unless ``ok``."""
    def need(ok, field, what):
        if not ok:
            raise TicketFileError(f"{path}: the ticket header's {field} is not {what} (corrupt or crafted file)",
                                  path=path)
    return need


def _check_header(header: dict, path: Path, max_weights: int) -> None:
    """Types and hard limits of every header field load_ticket uses (TicketFileError naming the
    first bad one), before anything is allocated from them."""
    need = _header_check(path)
    plan: Any = header.get("plan")   # untrusted until need() below has checked it, which mypy cannot follow
    need(isinstance(plan, dict), "plan", "a dict")
    unknown = set(plan) - {f.name for f in dataclasses.fields(Plan)}
    need(not unknown, "plan", f"a Plan (unknown fields {sorted(unknown)[:5]})")
    shapes = plan.get("layer_shapes")
    need(isinstance(shapes, tuple) and all(_is_shape(s) for s in shapes), "plan.layer_shapes",
         "a tuple of (out, in) pairs of non-negative ints")
    need(len(shapes) <= MAX_LAYERS, "plan.layer_shapes", f"at most MAX_LAYERS = {MAX_LAYERS} layers long "
                                                         f"(it has {len(shapes)})")
    for t, (out_f, in_f) in enumerate(shapes):
        need(out_f * in_f <= max_weights, f"layer {t}'s shape", f"within max_weights = {max_weights} weights "
                                                                 f"({out_f}×{in_f}; pass a larger max_weights= "
                                                                 "to load a ticket this large)")
    total = sum(o * i for o, i in shapes)
    need(total <= max_weights, "plan.layer_shapes", f"within max_weights = {max_weights} weights in all "
                                                    f"({total}; pass a larger max_weights= to load it)")
    need(isinstance(plan.get("construction"), str), "plan.construction", "a str")
    need(isinstance(plan.get("target_shapes"), tuple) and all(_is_shape(s) for s in plan["target_shapes"]),
         "plan.target_shapes", "a tuple of (out, in) pairs")
    need(isinstance(plan.get("pairs"), tuple) and all(
        isinstance(p, tuple) and all(_is_int(i) and 0 <= i < len(shapes) for i in p) for p in plan["pairs"]),
        "plan.pairs", "a tuple of tuples of layer indices")
    need(isinstance(plan.get("n"), tuple) and all(_is_int(v) and v >= 0 for v in plan["n"]), "plan.n",
         "a tuple of non-negative ints")
    need(isinstance(plan.get("signed"), tuple) and all(isinstance(v, bool) for v in plan["signed"]),
         "plan.signed", "a tuple of bools")
    for key in ("eps", "delta", "constant"):
        need(plan.get(key) is None or _is_real(plan[key]), f"plan.{key}", "a number or null")
    need(isinstance(plan.get("options", {}), dict), "plan.options", "a dict")
    dist = plan.get("distribution", ("uniform",))
    need(isinstance(dist, tuple) and dist and isinstance(dist[0], str) and all(_is_real(v) for v in dist[1:]),
         "plan.distribution", "a tuple (name, parameters…)")
    dists = plan.get("layer_distributions", ())
    need(isinstance(dists, tuple) and len(dists) in (0, len(shapes)) and
         all(isinstance(d, tuple) and d and isinstance(d[0], str) and all(_is_real(v) for v in d[1:]) for d in dists),
         "plan.layer_distributions", "empty or one tuple (name, parameters…) per layer")
    kinds = plan.get("layer_kinds", ())
    need(isinstance(kinds, tuple) and len(kinds) in (0, len(shapes)), "plan.layer_kinds",
         "empty or one kind per layer")
    for k in kinds:
        need(isinstance(k, tuple) and k and isinstance(k[0], str), "plan.layer_kinds", "a tuple of (kind, …)")
        if k[0] == "slots":
            need(len(k) == 3 and _is_int(k[1]) and k[1] > 0 and isinstance(k[2], bool), "a slots layer kind",
                 "('slots', n > 0, signed)")
    flags = plan.get("biases", ())
    need(isinstance(flags, tuple) and all(isinstance(v, bool) for v in flags), "plan.biases", "a tuple of bools")
    laws = plan.get("layer_biases", ())
    need(isinstance(laws, tuple) and len(laws) in (0, len(shapes)), "plan.layer_biases",
         "empty or one entry per layer")
    for law in laws:
        ok = law is None
        if not ok:
            try:
                check_bias_law(law)
                ok = True
            except RandomNetworkError:
                ok = False
        need(ok, "plan.layer_biases", "None or ('interval', lo, hi) per layer")
    need(plan.get("domain") is None or isinstance(plan["domain"], dict), "plan.domain", "null or a dict")
    bias_counts: Any = header.get("bias_kept_counts")
    need(bias_counts is None or (isinstance(bias_counts, tuple) and len(bias_counts) == len(shapes)
                                 and header.get("version", 0) >= 4),
         "bias_kept_counts", "null or one entry per layer (format version ≥ 4)")
    for t, c in enumerate(bias_counts or ()):
        need(c is None or (_is_int(c) and 0 <= c <= shapes[t][0]), f"bias_kept_counts[{t}]",
             f"null or an int in [0, {shapes[t][0]}]")
    need(_is_int(header.get("seed")) and header["seed"] >= 0, "seed", "a non-negative int")
    need(isinstance(header.get("construction"), str), "construction", "a str")
    need(_is_real(header.get("error_bound")) and header["error_bound"] >= 0, "error_bound", "a number ≥ 0")
    need(isinstance(header.get("stats"), dict), "stats", "a dict")
    need(isinstance(header.get("certificate"), dict), "certificate", "a dict")
    scale: Any = header.get("output_scale")
    need(_is_real(scale) and math.isfinite(scale), "output_scale", "a finite number")
    counts: Any = header.get("kept_counts")
    need(isinstance(counts, tuple) and len(counts) == len(shapes), "kept_counts", "one count per layer")
    for t, (c, (out_f, in_f)) in enumerate(zip(counts, shapes)):
        need(_is_int(c) and 0 <= c <= out_f * in_f, f"kept_counts[{t}]", f"an int in [0, {out_f * in_f}]")
    need(isinstance(header.get("kept_sha256"), str) and _HEX64.fullmatch(header["kept_sha256"]), "kept_sha256",
         "64 hex digits")
    need(header.get("dtype", "float64") == "float64", "dtype", "float64")


def _check_consistency(header: dict, path: Path) -> None:
    """After the digest: the fields that say the same thing twice must agree (a digest proves no
    authorship, and version-1 files have none over the header)."""
    need = _header_check(path)
    plan, scale = header["plan"], header["output_scale"]
    depth = len(plan["target_shapes"])
    need(len(plan["n"]) == depth and len(plan["signed"]) == depth and len(plan["pairs"]) == depth,
         "plan.n / plan.signed / plan.pairs", f"one entry per target layer ({depth})")
    need(header["construction"] == plan["construction"], "construction", "the plan's construction")
    need(scale > 0 and header["stats"].get("output_scale", 1.0) == scale, "output_scale",
         "> 0 and equal to stats['output_scale']")
    need(header["certificate"].get("error_bound", header["error_bound"]) == header["error_bound"], "error_bound",
         "equal to the certificate's error_bound")
    laws = plan.get("layer_biases", ())
    counts = header.get("bias_kept_counts")
    if counts is not None:
        need(all((c is None) == (not laws or laws[t] is None) for t, c in enumerate(counts)), "bias_kept_counts",
             "given exactly for the plan's layers with a bias")
    flags = plan.get("biases", ())
    need(len(flags) in (0, depth), "plan.biases", f"empty or one flag per target layer ({depth})")
    if plan.get("domain") is not None:
        try:
            Plan(**{**plan, "domain": plan["domain"]}).input_domain()
        except (DomainError, TypeError, ValueError) as exc:
            need(False, "plan.domain", f"a domain ({exc})")


def _read(path: Path, max_weights: int) -> tuple[dict, list[np.ndarray]]:
    """Header and index arrays of the ticket file at ``path``, every check of the module docstring
    up to (not including) the re-sampling done."""
    st = _regular_file_stat(path, "load a ticket from")
    if st is None:
        raise TicketFileError(f"no ticket file at {path}", path=path)
    try:   # O_NONBLOCK: should the path have become a FIFO since the stat, open() cannot hang
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise TicketFileError(f"cannot load a ticket from {path}: {exc.strerror}", path=path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TicketFileError(f"cannot load a ticket from {path}: it is not a regular file", path=path)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            _check_zip_directory(fh, st.st_size, path)
            with zipfile.ZipFile(fh) as zf:
                return _read_archive(zf, path, max_weights)
    except TicketFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
            NotImplementedError, SyntaxError, RecursionError, TypeError) as exc:
        # UnicodeDecodeError, JSONDecodeError: ValueError; NotImplementedError: zipfile, for a directory
        # entry that claims a zip version it does not read; SyntaxError: numpy's npy header parser
        raise TicketFileError(f"{path} is not a readable sltheory ticket (corrupt or truncated): "
                              f"{type(exc).__name__}: {exc}", path=path) from exc
    finally:
        os.close(fd)


def _read_archive(zf: zipfile.ZipFile, path: Path, max_weights: int) -> tuple[dict, list[np.ndarray]]:
    names = zf.namelist()
    if "header.npy" not in names:
        raise TicketFileError(f"{path} is not an sltheory ticket (no header)", path=path)
    head = _read_member(zf, "header.npy", _NPY_PREFIX_MAX + MAX_HEADER_BYTES, path)
    blob = _npy_array(head, "header.npy", np.dtype(np.uint8), None, path)
    if blob.size > MAX_HEADER_BYTES:
        raise TicketFileError(f"{path}: its header takes {blob.size} bytes, more than MAX_HEADER_BYTES = "
                              f"{MAX_HEADER_BYTES} (corrupt or crafted file)", path=path)
    header = _decode(json.loads(blob.tobytes().decode("utf-8")))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TicketFileError(f"{path} is not an sltheory ticket (format "
                              f"{header.get('format') if isinstance(header, dict) else None!r})", path=path)
    version = header.get("version")
    if not _is_int(version) or version not in _READS:
        why = ("a newer sltheory wrote it: upgrade sltheory" if _is_int(version) and version > FORMAT_VERSION
               else "no sltheory writes that version: the file is corrupt")
        raise TicketVersionError(f"{path} is a ticket of format version {version!r}; this sltheory reads versions "
                                 f"{', '.join(map(str, _READS))} ({why})", path=path, version=version,
                                 supported=FORMAT_VERSION)
    _check_header(header, path, max_weights)
    shapes, counts = header["plan"]["layer_shapes"], header["kept_counts"]
    bias_counts = header.get("bias_kept_counts") or (None,) * len(shapes)
    expected = [f"mask_{t}.npy" for t in range(len(shapes))]
    bias_names = [f"bias_{t}.npy" for t, c in enumerate(bias_counts) if c is not None]
    want = {"header.npy", *expected, *bias_names} | ({"sha256.npy"} if version >= 2 else set())
    if len(names) != len(set(names)) or set(names) != want:
        extra, missing = sorted(set(names) - want), sorted(want - set(names))
        raise TicketFileError(f"{path}: the archive's members do not match its header (missing {missing[:5]}, "
                              f"unexpected {extra[:5]}{', duplicates' if len(names) != len(set(names)) else ''})",
                              path=path)
    dtypes = [_index_dtype(o * i) for o, i in shapes]
    dtypes += [_index_dtype(shapes[t][0]) for t, c in enumerate(bias_counts) if c is not None]
    expected += bias_names
    counts = tuple(counts) + tuple(c for c in bias_counts if c is not None)
    raw = [_read_member(zf, name, _NPY_PREFIX_MAX + c * dt.itemsize, path)
           for name, c, dt in zip(expected, counts, dtypes)]
    if version >= 2:
        stored = _npy_array(_read_member(zf, "sha256.npy", _NPY_PREFIX_MAX + 64, path), "sha256.npy",
                            np.dtype(np.uint8), 64, path).tobytes()
        if stored != _file_digest([("header.npy", head), *zip(expected, raw)]).encode("ascii"):
            raise TicketFileError(f"{path}: the file was altered or corrupted (its SHA-256 over the header and the "
                                  "kept indices does not match)", path=path)
    _check_consistency(header, path)
    masks = [_npy_array(data, name, dt, c, path) for data, name, dt, c in zip(raw, expected, dtypes, counts)]
    return header, masks


# ------------------------------------------------------------------ load
def read_ticket(path, *, device=None, max_weights: int = MAX_RANDOM_WEIGHTS) -> dict:
    """The fields of the :class:`~sltheory.ticket.Ticket` stored in ``path`` (keyword arguments of its
    constructor; :func:`sltheory.ticket.load_ticket` builds the ticket from them).

    Reads a ticket written by :meth:`Ticket.save` / :func:`save_ticket`: the random network is
    re-sampled from the stored (plan, seed) layer by layer and masked with the stored indices, so
    every weight equals the saved ticket's bit for bit (checked with the stored SHA-256 of the kept
    weights).

    ``max_weights``: cap on out·in of the stored plan's layers, each and in all (float64 weights the
    loaded network holds); a file claiming more is refused before anything is allocated. The
    default is the constructions' own cap (:data:`~sltheory.constructions._pairs.MAX_RANDOM_WEIGHTS`);
    raise it to load a ticket built with a larger ``max_weights=``.

    The ticket's ``error_bound`` and ``certificate`` read from a file are a **stored claim**: the
    file digest (format version ≥ 2) shows that nobody altered them by accident or with ordinary
    tools, not that they are right — anyone can write a file with a recomputed digest.
    ``ticket.recertify(target)`` recomputes the certificate from the target and the loaded masked
    weights; compare its ``error_bound`` with ``ticket.error_bound``. A version-1 file's claim is
    not covered by any digest: its ticket has ``stats["file_format_version"] == 1`` (module
    docstring).

    Typed errors, raised before the random network is sampled:
    :class:`~sltheory.errors.TicketFileError` (missing file; a folder, FIFO, device or socket —
    never opened for reading; a file that is not a ticket, is truncated, corrupt or altered; sizes
    beyond the limits; or, after sampling, a random stream that no longer reproduces the weights),
    :class:`~sltheory.errors.TicketVersionError` (a format version this sltheory does not read),
    :class:`~sltheory.errors.InvalidArgumentError` (``path`` not a path; ``device`` that cannot hold
    the weights: meta, an unavailable accelerator; ``max_weights`` not a positive int)."""
    path = path_arg("path", path, error=TicketFileError)
    if not _is_int(max_weights) or max_weights < 1:
        raise InvalidArgumentError(f"max_weights must be a positive int, got {max_weights!r}")
    dev = device_arg("device", device) or torch.device("cpu")
    header, index_arrays = _read(path, max_weights)
    version = header["version"]
    try:
        plan = Plan(**header["plan"])
        cert_fields = {f.name for f in dataclasses.fields(Certificate)}
        certificate = Certificate(**{k: v for k, v in header["certificate"].items() if k in cert_fields})
    except TypeError as exc:
        raise TicketFileError(f"{path}: the ticket header is incomplete or malformed: {exc}", path=path) from exc
    seed, output_scale, digest = header["seed"], float(header["output_scale"]), header["kept_sha256"]
    error_bound, stats, construction = float(header["error_bound"]), dict(header["stats"]), header["construction"]
    L = len(plan.layer_shapes)
    bias_counts = header.get("bias_kept_counts")
    bias_rows = [out_f for t, (out_f, _) in enumerate(plan.layer_shapes)
                 if bias_counts is not None and bias_counts[t] is not None]
    sizes = [out_f * in_f for out_f, in_f in plan.layer_shapes] + bias_rows
    names = [f"mask {t}" for t in range(L)] + [f"bias mask {t}" for t in range(L)
                                                if bias_counts is not None and bias_counts[t] is not None]
    for idx, numel, name in zip(index_arrays, sizes, names):
        if idx.size and (int(idx[-1]) >= numel or np.any(idx[1:] <= idx[:-1])):
            raise TicketFileError(f"{path}: {name}'s indices are not sorted, unique and below {numel}", path=path)
    masks, kept_values = [], []
    for t, ((out_f, in_f), idx) in enumerate(zip(plan.layer_shapes, index_arrays)):
        mask = torch.zeros(out_f * in_f, dtype=torch.bool)
        mask[torch.from_numpy(idx.astype(np.int64))] = True
        masks.append(mask.reshape(out_f, in_f))
    bias_masks: list[torch.Tensor | None] | None = None
    if bias_counts is not None:
        bias_masks, rest = [], iter(index_arrays[L:])
        for t, c in enumerate(bias_counts):
            if c is None:
                bias_masks.append(None)
                continue
            b_mask = torch.zeros(plan.layer_shapes[t][0], dtype=torch.bool)
            b_mask[torch.from_numpy(next(rest).astype(np.int64))] = True
            bias_masks.append(b_mask)
    # the live units from the masks alone, then each random layer re-sampled, its kept values
    # recorded, its live block kept, the rest released (one full-width layer at a time)
    units = alive_units(masks, bias_masks)
    layers: list[nn.Module] = []
    kept_bias_values = []
    for t, ((out_f, in_f), mask) in enumerate(zip(plan.layer_shapes, masks)):
        bm = None if bias_masks is None else bias_masks[t]
        try:
            w = sample_plan_layer(plan, seed, t)
            law = plan.layer_bias(t)
            b = None if bm is None or law is None else sample_bias(seed, t, out_f, law)
        except (RandomNetworkError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise TicketFileError(f"{path}: layer {t} of the stored plan cannot be re-sampled: {exc}",
                                  path=path) from exc
        kept_values.append(w.reshape(-1)[torch.from_numpy(index_arrays[t].astype(np.int64))].numpy())
        if b is not None and bm is not None:
            kept_bias_values.append(b[bm].numpy())
        layers.append(compact_layer(w, b, mask, bm, units[t + 1], units[t]))
        del w
        if t < L - 1:
            layers.append(nn.ReLU())
    if _kept_digest(kept_values + kept_bias_values) != digest:
        cause = ("the file is intact (its digest matches), so the random stream changed (numpy's generator?)"
                 if version >= 2 else "the random stream changed (numpy's generator?) or the file was altered")
        raise TicketFileError(f"{path}: the random network re-sampled from (plan, seed = {seed}) does not reproduce "
                              f"the saved kept weights (SHA-256 differs): {cause}", path=path)
    if output_scale != 1.0:
        layers.append(ScaledOutput(output_scale))
    network = TicketNetwork(*layers, units=units).to(dev)
    masks = [m.to(dev) for m in masks]
    if bias_masks is not None:
        bias_masks = [None if bm is None else bm.to(dev) for bm in bias_masks]
    if version == 1:
        stats["file_format_version"] = 1
    if version < 3 and construction in RENAMED_IN_3:
        stats["construction_renamed_from"] = construction
        construction = RENAMED_IN_3[construction]
        plan = dataclasses.replace(plan, construction=construction)
    return dict(network=network, masks=tuple(masks), error_bound=error_bound, stats=stats,
                construction=construction, certificate=certificate, plan=plan, seed=seed,
                bias_masks=None if bias_masks is None else tuple(bias_masks))
