"""Target networks read from files, for the ``sltheory`` command.

Three kinds of file (by suffix):

* ``.pt`` / ``.pth`` — what ``torch.save`` wrote: a state_dict (the weights of the ``nn.Linear``
  layers, in order), a list or tuple of weight tensors, one 2-D tensor, or a whole
  ``nn.Sequential``. The file is read with ``torch.load(..., weights_only=True)``, which builds
  tensors and containers only and runs no code from the file. A whole module is a pickle of
  classes, which ``weights_only`` refuses: it is loaded only with ``allow_pickle=True`` (the
  command's ``--allow-pickle``), because unpickling runs code the file names — never silently.
* ``.npz`` — ``numpy.savez`` of the weight matrices, in the order saved; read without pickle.

A state_dict's ``<prefix>.weight`` entries are the layers' matrices; a ``<prefix>.bias`` that is
nonzero is a :class:`~sltheory.errors.TargetError` (the theorems cover bias-free targets, as for a
module with a bias), a zero bias is dropped (x ↦ Wx + 0 is x ↦ Wx); any other entry (a
BatchNorm's running mean, a convolution's 4-D weight) is a TargetError naming it. The file's
bytes are read once, hashed (SHA-256: the ticket records it, so ``sltheory verify`` can find the
same file again and tell it has not changed) and parsed from memory, so the hash is that of what
was loaded. Every failure is a typed sltheory error with a one-line message.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._checks import path_arg
from ..errors import InvalidArgumentError, TargetError

#: File suffixes a target may have, and the reader each one takes.
SUFFIXES = (".pt", ".pth", ".npz")


@dataclass(frozen=True)
class TargetFile:
    """A target read from ``path``: ``target`` (an nn.Module or a list of tensors/arrays, what
    :func:`sltheory.approximate` takes), ``sha256`` of the file's bytes (hex), ``kind``
    ("module", "state_dict", "tensors" or "npz") and ``unpickled`` (whether code from the file ran)."""

    path: Path
    target: object
    sha256: str
    kind: str
    unpickled: bool = False


def check_target_path(name: str, value) -> Path:
    """``value`` as the path of an existing regular file with a supported suffix (InvalidArgumentError
    otherwise: checked before any work starts)."""
    path = path_arg(name, value)
    if path.suffix.lower() not in SUFFIXES:
        raise InvalidArgumentError(f"{name} {path}: a target is a .pt/.pth file (torch.save of a module or "
                                   f"state_dict) or a .npz file (numpy.savez of the weight matrices), got "
                                   f"{path.suffix or 'no suffix'!r}")
    regular_file(name, path)
    return path


def regular_file(name: str, path: Path, *, missing_ok: bool = False) -> bool:
    """InvalidArgumentError unless ``path`` is a regular file (a folder, FIFO, device or socket is
    refused without being opened), or — with ``missing_ok`` — does not exist. Whether it exists."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if missing_ok:
            return False
        raise InvalidArgumentError(f"{name} {path}: no such file") from None
    except OSError as exc:
        raise InvalidArgumentError(f"{name} {path}: cannot access it: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise InvalidArgumentError(f"{name} {path} is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise InvalidArgumentError(f"{name} {path} is not a regular file (a FIFO, device or socket)")
    return True


def read_bytes(name: str, path: Path) -> bytes:
    """The bytes of the regular file ``path`` (InvalidArgumentError when it cannot be read)."""
    regular_file(name, path)
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidArgumentError(f"{name} {path}: cannot read it: {exc.strerror or exc}") from None


def file_sha256(name: str, path: Path) -> str:
    """SHA-256 (hex) of the regular file ``path``."""
    return hashlib.sha256(read_bytes(name, path)).hexdigest()


def load_target_file(name: str, value, *, allow_pickle: bool = False, on_unpickle=None,
                     expected_sha256: str | None = None) -> TargetFile:
    """Read the target in file ``value`` (module docstring). ``on_unpickle(message)`` is called
    once, before any unpickling, when a whole module is loaded with ``allow_pickle``. With
    ``expected_sha256``, a file whose bytes hash otherwise is refused (InvalidArgumentError) before
    anything is parsed — so a replaced file is never unpickled."""
    path = check_target_path(name, value)
    data = read_bytes(name, path)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise InvalidArgumentError(f"{name} {path} has changed since (SHA-256 {digest[:12]}… ≠ recorded "
                                   f"{expected_sha256[:12]}…): pass --target TARGET to verify against a file of "
                                   "your choice")
    if path.suffix.lower() == ".npz":
        return TargetFile(path, _from_npz(name, path, data), digest, "npz")
    obj, unpickled = _torch_load(name, path, data, allow_pickle=allow_pickle, on_unpickle=on_unpickle)
    if isinstance(obj, torch.nn.Module):
        return TargetFile(path, obj, digest, "module", unpickled)
    if isinstance(obj, dict):
        return TargetFile(path, _from_state_dict(name, path, obj), digest, "state_dict", unpickled)
    if isinstance(obj, torch.Tensor):
        obj = [obj]
    if isinstance(obj, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in obj):
        return TargetFile(path, list(obj), digest, "tensors", unpickled)
    raise TargetError(f"{name} {path} holds a {type(obj).__name__}: a target file holds a module, a state_dict, "
                      "or a list of weight tensors")


def _torch_load(name: str, path: Path, data: bytes, *, allow_pickle: bool, on_unpickle):
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True), False
    except Exception as exc:   # torch raises UnpicklingError, RuntimeError, EOFError, … for what it cannot read
        first = exc
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
    except Exception:   # not a zip checkpoint (damaged, or torch's legacy format)
        unsafe = []
    if not allow_pickle:
        if unsafe:
            shown = ", ".join(unsafe[:3]) + (", …" if len(unsafe) > 3 else "")
            raise InvalidArgumentError(
                f"{name} {path} holds pickled objects ({shown}): loading it would run code from the file. Pass "
                "--allow-pickle if you trust the file, or save the module's state_dict() instead")
        raise TargetError(f"{name} {path} cannot be read as a torch file ({_short(first)}): a damaged file, or not "
                          "written by torch.save")
    if on_unpickle is not None:
        on_unpickle(f"--allow-pickle: unpickling {path} runs code from the file (use it only for files you trust)")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False), True
    except Exception as exc:   # an unpickling failure of any kind: the file's content, not our bug
        raise TargetError(f"{name} {path} cannot be unpickled ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    """The first line of an exception's message, at most 120 characters."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 120 else text[:117] + "…"


def _from_state_dict(name: str, path: Path, state: dict) -> list[torch.Tensor]:
    """The Linear weight matrices of a state_dict, in order; a nonzero bias is a TargetError."""
    weights: dict[str, torch.Tensor] = {}
    biases: dict[str, tuple[str, torch.Tensor]] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TargetError(f"{name} {path}: key {key!r} is not a str: not a state_dict")
        if not isinstance(value, torch.Tensor):
            raise TargetError(f"{name} {path}: entry {key!r} is a {type(value).__name__}, not a tensor: a target "
                              "file holds the state_dict itself (model.state_dict())")
        prefix, _, leaf = key.rpartition(".")
        if leaf == "weight" and value.dim() == 2:
            weights[prefix] = value
        elif leaf == "bias" and value.dim() == 1:
            biases[prefix] = (key, value)
        else:
            raise TargetError(f"{name} {path}: entry {key!r} of shape {tuple(value.shape)} is not the weight (2-D) "
                              "or bias of an nn.Linear; a target is a bias-free ReLU network of Linear layers")
    order = list(weights)
    for prefix, (key, bias) in biases.items():
        if prefix not in weights:
            raise TargetError(f"{name} {path}: bias {key!r} belongs to no Linear weight in the file")
        layer = order.index(prefix)
        if bias.is_complex() or bias.device.type == "meta" or bool(torch.any(bias != 0)):
            raise TargetError(f"layer {layer} ({key!r}) has a nonzero bias; the theorems "
                              "cover bias-free targets: build it with nn.Linear(..., bias=False)", layer=layer)
    return [weights[p] for p in order]


def _from_npz(name: str, path: Path, data: bytes) -> list[np.ndarray]:
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise TargetError(f"{name} {path} cannot be read as an .npz of weight matrices ({_short(exc)})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise TargetError(f"{name} {path} is not an .npz archive (numpy.savez of the weight matrices)")
    with loaded as npz:
        keys = list(npz.files)
        if {"header", "sha256"} <= set(keys):
            raise InvalidArgumentError(f"{name} {path} is a sltheory ticket, not a target (its weight matrices)")
        try:
            return [npz[k] for k in keys]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise TargetError(f"{name} {path} cannot be read as an .npz of weight matrices ({_short(exc)})") from None
