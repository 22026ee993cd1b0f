"""MNIST from IDX files the caller already has (plain or gzipped); nothing is ever downloaded."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from .._checks import nonnegative_int, path_arg
from ..errors import DatasetError
from .dataset import Dataset, _to_unit_ball

__all__ = ["load_mnist"]

#: IDX type code of unsigned bytes (the only element type MNIST uses).
_IDX_UBYTE = 0x08

_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", 3),
    "train_labels": ("train-labels-idx1-ubyte", 1),
    "test_images": ("t10k-images-idx3-ubyte", 3),
    "test_labels": ("t10k-labels-idx1-ubyte", 1),
}


def _find_idx_file(folder: Path, base: str) -> Path:
    """``folder/base`` or ``folder/base.gz`` (also the ``train-images.idx3-ubyte`` spelling)."""
    dotted = base.replace("-idx", ".idx")
    candidates = [folder / n for n in (base, base + ".gz", dotted, dotted + ".gz")]
    for p in candidates:
        if p.is_file():
            return p
    raise DatasetError(f"MNIST file {base} (or {base}.gz) not found in {folder}; sltheory never "
                       "downloads data: put the four standard IDX files there "
                       f"({', '.join(b for b, _ in _MNIST_FILES.values())})")


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes with ``ndim`` dimensions (gzip-compressed if ``.gz``).

    Header: two zero bytes, the type code (0x08 = ubyte), the number of dimensions, then each
    dimension as a big-endian uint32; the payload must hold exactly their product of bytes.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 4:
        raise DatasetError(f"{path} is not an IDX file: {len(raw)} bytes, shorter than the header")
    magic = int.from_bytes(raw[:4], "big")
    expected = (_IDX_UBYTE << 8) | ndim
    if magic != expected:
        raise DatasetError(f"{path}: magic number 0x{magic:08x}, expected 0x{expected:08x} (IDX, "
                           f"unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); corrupt or "
                           "not the file its name says")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = math.prod(dims)
    if len(raw) - header != size:
        raise DatasetError(f"{path}: header gives shape {dims} ({size} bytes of data) but the file holds "
                           f"{len(raw) - header}; truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(path, *, limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """MNIST from the four standard IDX files already in folder ``path`` (never downloaded).

    Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each optionally gzip-compressed with a ``.gz`` suffix (the
    ``train-images.idx3-ubyte`` spelling is accepted too). Magic numbers, dimensions, payload size,
    label range (0…9) and image/label counts are checked; a missing folder or file, or a corrupt
    one, raises :class:`~sltheory.errors.DatasetError` naming the file.

    ``limit_train`` / ``limit_test`` keep the first that many images of each set (all if None or
    larger than the set). Images are flattened row-major to d = rows·cols (784) and scaled as the
    module docstring says: pixel values 0…255 divided by the largest norm among the *kept*
    training images, test images above norm 1 projected onto the sphere.
    """
    limit_train = None if limit_train is None else nonnegative_int("limit_train", limit_train, minimum=1)
    limit_test = None if limit_test is None else nonnegative_int("limit_test", limit_test, minimum=1)
    folder = path_arg("path", path, error=DatasetError)
    if not folder.is_dir():
        raise DatasetError(f"MNIST folder {folder} does not exist (or is not a folder); sltheory never "
                           "downloads data: pass the folder holding the four standard IDX files")
    arrays = {key: _read_idx(_find_idx_file(folder, base), ndim) for key, (base, ndim) in _MNIST_FILES.items()}
    parts = {}
    for part, limit in (("train", limit_train), ("test", limit_test)):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        img_file = _MNIST_FILES[f"{part}_images"][0]
        lab_file = _MNIST_FILES[f"{part}_labels"][0]
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"MNIST {part}: {img_file} holds {images.shape[0]} images but {lab_file} "
                               f"holds {labels.shape[0]} labels")
        if labels.size and int(labels.max()) > 9:
            raise DatasetError(f"MNIST {part}: {lab_file} has label {int(labels.max())}; expected 0…9")
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        parts[part] = (images.reshape(images.shape[0], -1), labels.astype(np.int64))
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DatasetError(f"MNIST: training images are {arrays['train_images'].shape[1:]} but test "
                           f"images are {arrays['test_images'].shape[1:]}")
    x_train, x_test, scale, clipped = _to_unit_ball(parts["train"][0], parts["test"][0], "mnist")
    return Dataset("mnist", torch.from_numpy(x_train), torch.from_numpy(parts["train"][1]),
                   torch.from_numpy(x_test), torch.from_numpy(parts["test"][1]), 10,
                   scale=scale, test_rows_clipped=clipped)


