"""Real data and trained targets: seeded splits, unit-ball inputs, small bias-free ReLU MLPs.

The theorems bound ``sup_{‖x‖₂≤1} ‖f(x) − g(x)‖₂``, so every input this module returns lies in
the unit ball. The scaling is one constant for the whole data set, never per row:

1. ``scale = max_i ‖x_i‖₂`` over the **training** rows (raw pixel values: 0…16 for digits,
   0…255 for MNIST), and every row, training and test, is divided by it;
2. a row whose norm still exceeds 1 after that (test rows brighter than every training row, and
   the training row of largest norm when rounding leaves it an ulp above 1) is divided by its own
   norm — projected radially onto the sphere, a hair inside it, so that ``‖x‖₂ ≤ 1`` holds for the
   float64 norm as numpy and torch compute it.

:attr:`Dataset.scale` records the constant and :attr:`Dataset.test_rows_clipped` how many test
rows step 2 moved. Randomness is explicit: splits use ``numpy.random.default_rng(seed)``, training
uses a ``torch.Generator`` seeded with ``seed`` (initialization and shuffling); the global RNGs of
numpy and torch are neither read nor advanced. Nothing is ever downloaded: digits ships inside
scikit-learn, MNIST is read from files the caller already has.

Example::

    data = sltheory.datasets.load_digits(seed=0)
    net = sltheory.datasets.train_mlp([data.dim, 32, data.num_classes], data, seed=0)
    sltheory.datasets.accuracy(net, data.x_test, data.y_test)      # ≈ 0.97
    ticket = sltheory.approximate(net, sltheory.random_network(net, eps=0.01, seed=0), rescale=True)
"""

from __future__ import annotations

import gzip
import math
import numbers
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._checks import dims_arg, nonnegative_int, path_arg, positive_float
from .errors import DatasetError, InvalidArgumentError

__all__ = ["Dataset", "accuracy", "load_digits", "load_mnist", "predictions", "train_mlp"]

#: Rows evaluated at once by :func:`predictions` / :func:`accuracy` (bounds the hidden activations'
#: memory on MNIST-sized inputs).
EVAL_CHUNK = 8192
#: Largest MLP :func:`train_mlp` builds (weights; 1.6 GB in float64, before Adam's two copies).
MAX_MLP_WEIGHTS = 200_000_000
#: Largest ``num_threads`` :func:`train_mlp` accepts (more than any machine here has cores; the
#: OpenMP runtime allocates per thread, and 10⁹ threads abort the process).
MAX_THREADS = 1024


def _row_norms(x: np.ndarray) -> np.ndarray:
    """Per-row ‖x‖₂, the larger of numpy's and torch's float64 computation (they may differ by an ulp)."""
    n_np = np.linalg.norm(x, axis=1)
    n_torch = torch.linalg.vector_norm(torch.from_numpy(x), dim=1).numpy()
    return np.maximum(n_np, n_torch)


def _clip_to_unit_ball(x: np.ndarray) -> int:
    """Divide (in place) every row of ``x`` whose norm exceeds 1 by that norm; return how many rows moved.

    The divisor carries a factor 1 + 4u (u = 2⁻⁵³) so the result's computed norm is ≤ 1, not 1 + ulp.
    """
    moved = np.zeros(x.shape[0], dtype=bool)
    for _ in range(8):          # one pass suffices in practice; the loop only guards against rounding
        norms = _row_norms(x)
        over = norms > 1.0
        if not over.any():
            return int(moved.sum())
        moved |= over
        x[over] /= (norms[over] * (1.0 + 4 * np.finfo(np.float64).eps / 2))[:, None]
    raise AssertionError("rows still above norm 1 after repeated projection")  # pragma: no cover


def _to_unit_ball(x_train: np.ndarray, x_test: np.ndarray, name: str):
    """Scale both sets by the max training-row norm, then clip rows above 1 (module docstring)."""
    x_train = np.array(x_train, dtype=np.float64)      # copies: the caller's arrays stay untouched
    x_test = np.array(x_test, dtype=np.float64)
    if not (np.all(np.isfinite(x_train)) and np.all(np.isfinite(x_test))):
        raise DatasetError(f"{name}: inputs contain nan or inf")
    scale = float(np.linalg.norm(x_train, axis=1).max()) if x_train.shape[0] else 0.0
    if scale == 0.0:
        raise DatasetError(f"{name}: every training row is zero (or there are none); cannot scale "
                           "the inputs into the unit ball")
    x_train /= scale
    x_test /= scale
    _clip_to_unit_ball(x_train)
    clipped = _clip_to_unit_ball(x_test)
    return x_train, x_test, scale, clipped


@dataclass(frozen=True)
class Dataset:
    """A classification data set with inputs in the unit ball; checks its invariants when built.

    ``x_train`` / ``x_test``: float64, shape (N, d), every row ‖x‖₂ ≤ 1 (scaled as the module
    docstring says); ``y_train`` / ``y_test``: int64 labels in ``[0, num_classes)``.
    ``scale`` is the constant the raw inputs were divided by (raw = x · scale, except for clipped
    rows) and ``test_rows_clipped`` how many test rows were projected back onto the sphere.
    Anything else raises :class:`~sltheory.errors.DatasetError`.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    scale: float = 1.0
    test_rows_clipped: int = 0

    def __post_init__(self):
        if not isinstance(self.num_classes, numbers.Integral) or isinstance(self.num_classes, bool) \
                or self.num_classes < 1:
            raise DatasetError(f"{self.name}: num_classes must be a positive integer, got {self.num_classes!r}")
        dim = None
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if not isinstance(x, torch.Tensor) or x.dtype != torch.float64 or x.ndim != 2:
                raise DatasetError(f"{self.name}: x_{part} must be a 2-D float64 torch.Tensor, got "
                                   f"{type(x).__name__} {getattr(x, 'dtype', '')} {tuple(getattr(x, 'shape', ()))}")
            if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.ndim != 1:
                raise DatasetError(f"{self.name}: y_{part} must be a 1-D int64 torch.Tensor, got "
                                   f"{type(y).__name__} {getattr(y, 'dtype', '')} {tuple(getattr(y, 'shape', ()))}")
            if x.shape[0] != y.shape[0]:
                raise DatasetError(f"{self.name}: x_{part} has {x.shape[0]} rows but y_{part} "
                                   f"has {y.shape[0]} labels")
            if dim is not None and x.shape[1] != dim:
                raise DatasetError(f"{self.name}: x_train has {dim} columns but x_test has {x.shape[1]}")
            dim = x.shape[1]
            if x.shape[0] and not bool(torch.isfinite(x).all()):
                raise DatasetError(f"{self.name}: x_{part} contains nan or inf")
            if x.shape[0] and float(torch.linalg.vector_norm(x, dim=1).max()) > 1.0:
                raise DatasetError(f"{self.name}: some row of x_{part} has ‖x‖₂ > 1; inputs must lie "
                                   "in the unit ball")
            if y.shape[0] and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                raise DatasetError(f"{self.name}: y_{part} has labels outside [0, {self.num_classes})")
        if self.x_train.shape[0] == 0:
            raise DatasetError(f"{self.name}: the training set is empty")

    @property
    def dim(self) -> int:
        """Input dimension d (columns of ``x_train``)."""
        return int(self.x_train.shape[1])


# --------------------------------------------------------------------------------------- digits

def _stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Per class c, round(test_fraction · count_c) rows go to the test set; both index sets are
    then shuffled (so no slice of either is sorted by class)."""
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_fraction * idx.size))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(*, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn's bundled 8×8 digits (1,797 images, d = 64, 10 classes), split and scaled.

    The split is stratified by class, drawn from ``numpy.random.default_rng(seed)``: each class
    puts ``round(test_fraction · count)`` images in the test set (450 of 1,797 at 0.25). Pixel
    values 0…16 are divided by the largest training-image norm, and test images whose norm then
    exceeds 1 are projected onto the unit sphere (see the module docstring), so every row has
    ‖x‖₂ ≤ 1. Needs scikit-learn (the ``test`` extra); nothing is downloaded.
    """
    seed = nonnegative_int("seed", seed)
    test_fraction = positive_float("test_fraction", test_fraction, upper=1.0)
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("sltheory.datasets.load_digits needs scikit-learn (its digits ship inside "
                          "the package): pip install scikit-learn, or install sltheory[test]") from exc
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = _stratified_split(y, test_fraction, np.random.default_rng(seed))
    if train_idx.size == 0 or test_idx.size == 0:
        raise InvalidArgumentError(f"test_fraction={test_fraction} leaves an empty train or test set")
    x_train, x_test, scale, clipped = _to_unit_ball(x[train_idx], x[test_idx], "digits")
    return Dataset("digits", torch.from_numpy(x_train), torch.from_numpy(y[train_idx].copy()),
                   torch.from_numpy(x_test), torch.from_numpy(y[test_idx].copy()), 10,
                   scale=scale, test_rows_clipped=clipped)


# ---------------------------------------------------------------------------------------- MNIST

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


# ------------------------------------------------------------------------------------- training

def _check_dims(dims, data: Dataset) -> tuple[int, ...]:
    dims = dims_arg("dims", dims, max_weights=MAX_MLP_WEIGHTS)
    if dims[0] != data.dim:
        raise InvalidArgumentError(f"dims[0] = {dims[0]} but {data.name} inputs have dimension {data.dim}")
    if dims[-1] != data.num_classes:
        raise InvalidArgumentError(f"dims[-1] = {dims[-1]} but {data.name} has {data.num_classes} classes")
    return dims


def _init_mlp(dims: tuple[int, ...], gen: torch.Generator) -> nn.Sequential:
    """Bias-free ReLU MLP, float64; W_i ~ U[−b_i, b_i] i.i.d. from ``gen`` only.

    b_i = √(6/d_{i−1}) (He-uniform, for layers feeding a ReLU) and √(3/d_{l−1}) for the last
    (variance 1/fan_in). The modules are built on the ``meta`` device and then given their
    weights, so torch's default initialization never draws from the global RNG.
    """
    layers: list[nn.Module] = []
    depth = len(dims) - 1
    for i in range(depth):
        lin = nn.Linear(dims[i], dims[i + 1], bias=False, device="meta", dtype=torch.float64)
        bound = math.sqrt((6.0 if i < depth - 1 else 3.0) / dims[i])
        w = torch.empty(dims[i + 1], dims[i], dtype=torch.float64).uniform_(-bound, bound, generator=gen)
        lin.weight = nn.Parameter(w)
        layers.append(lin)
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_mlp(dims, data: Dataset, *, seed: int, epochs: int = 40, lr: float = 0.02,
              batch_size: int = 64, weight_decay: float = 0.0,
              num_threads: int | None = None) -> nn.Sequential:
    """Train a bias-free ReLU MLP ``Linear(d0, d1, bias=False), ReLU, …, Linear(d_{l-1}, d_l, bias=False)``.

    ``dims[0]`` must equal ``data.dim`` and ``dims[-1]`` ``data.num_classes``
    (:class:`~sltheory.errors.InvalidArgumentError` otherwise, raised before any training).
    Training: cross-entropy on ``data.x_train``, Adam (``lr``, L2 ``weight_decay`` as in
    ``torch.optim.Adam``) with the learning rate decayed by a cosine from ``lr`` to 0 over all
    steps, ``epochs`` passes over the training set in mini-batches of ``batch_size``, float64
    (Adam is written out in :class:`_Adam`; it follows ``torch.optim.Adam``'s update).

    Seeded and deterministic: one ``torch.Generator`` seeded with ``seed`` draws the initial weights
    (see :func:`_init_mlp`) and each epoch's shuffle; the global RNG is never used, so the same
    seed gives bit-identical weights (on the same machine and torch thread count).

    ``num_threads``: None (default) leaves torch's intra-op thread count as it is; an integer sets
    it (``torch.set_num_threads``, process-wide) for the duration of the call and restores the
    previous value afterwards. These layers are too small to gain from threads, and on shared or
    busy cores ``num_threads=1`` is 2–40× faster (measured on 2 cores: 64-32-10 digits 0.4 s vs
    1.7–13 s while other processes were running), with the same weights in our measurements.
    The returned network satisfies :func:`sltheory.as_target`'s
    structure but generally not ‖W_i‖₂ ≤ 1: pass ``rescale=True`` to :func:`sltheory.approximate`.
    """
    if not isinstance(data, Dataset):
        raise InvalidArgumentError(f"data must be a sltheory.datasets.Dataset, got {type(data).__name__}")
    dims = _check_dims(dims, data)
    seed = nonnegative_int("seed", seed)
    epochs = nonnegative_int("epochs", epochs, minimum=1)
    batch_size = nonnegative_int("batch_size", batch_size, minimum=1)
    lr = positive_float("lr", lr)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) \
            or not math.isfinite(weight_decay) or weight_decay < 0:
        raise InvalidArgumentError(f"weight_decay must be a finite real ≥ 0, got {weight_decay!r}")
    if num_threads is None:
        return _train(dims, data, seed, epochs, lr, batch_size, float(weight_decay))
    num_threads = nonnegative_int("num_threads", num_threads, minimum=1, maximum=MAX_THREADS)
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        return _train(dims, data, seed, epochs, lr, batch_size, float(weight_decay))
    finally:
        torch.set_num_threads(previous)


def _train(dims, data: Dataset, seed: int, epochs: int, lr: float, batch_size: int,
           weight_decay: float) -> nn.Sequential:
    """The training loop of :func:`train_mlp` (arguments already checked)."""
    gen = torch.Generator().manual_seed(seed)
    net = _init_mlp(dims, gen)
    x, y = data.x_train, data.y_train
    n = x.shape[0]
    steps_per_epoch = -(-n // batch_size)
    total_steps = epochs * steps_per_epoch
    params = list(net.parameters())
    adam = _Adam(params, weight_decay=weight_decay)
    step = 0
    with torch.enable_grad():
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
                grads = torch.autograd.grad(loss, params)
                adam.step(grads, lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps)))
                step += 1
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise InvalidArgumentError(f"training diverged with lr={lr:g}: the weights became nan or inf; use a "
                                   "smaller lr")
    return net


class _Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1; β = (0.9, 0.999), ε = 1e-8) with L2 weight decay added
    to the gradient, as ``torch.optim.Adam`` computes it. Written out because ``torch.optim``'s
    first use imports ``torch._dynamo`` (~2 s), which would dominate a 1-second training run."""

    def __init__(self, params, *, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = params
        self.weight_decay = weight_decay
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads, lr: float):
        self.t += 1
        c1 = 1.0 - self.b1 ** self.t
        c2 = 1.0 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if self.weight_decay:
                g = g.add(p, alpha=self.weight_decay)
            m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
            denom = (v / c2).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-lr / c1)


def predictions(net, x: torch.Tensor) -> torch.Tensor:
    """``argmax`` over the outputs of ``net(x)`` (int64 labels, shape (N,)), without gradients.

    ``x`` is cast to the dtype of ``net``'s first parameter (float64 for :func:`train_mlp`'s nets)
    and evaluated in chunks of :data:`EVAL_CHUNK` rows.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise InvalidArgumentError(f"x must be a 2-D torch.Tensor, got {type(x).__name__} "
                                   f"{tuple(getattr(x, 'shape', ()))}")
    if not callable(net):
        raise InvalidArgumentError(f"net must be an nn.Module or a callable, got {type(net).__name__}")
    first = next((m for m in net.modules() if isinstance(m, nn.Linear)), None) if isinstance(net, nn.Module) else None
    if first is not None and first.in_features != x.shape[1]:
        raise InvalidArgumentError(f"x has {x.shape[1]} columns but the network's first layer takes "
                                   f"{first.in_features} inputs")
    param = next(iter(net.parameters()), None) if isinstance(net, nn.Module) else None
    if param is not None:
        x = x.to(dtype=param.dtype, device=param.device)
    with torch.no_grad():
        out = [net(x[s:s + EVAL_CHUNK]).argmax(dim=1) for s in range(0, x.shape[0], EVAL_CHUNK)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


def accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``x`` whose :func:`predictions` equal ``y`` (no gradients)."""
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or not isinstance(x, torch.Tensor) \
            or x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise InvalidArgumentError("x and y must be a 2-D and a 1-D torch.Tensor with as many rows as labels")
    if y.shape[0] == 0:
        raise InvalidArgumentError("accuracy of an empty set is undefined")
    pred = predictions(net, x)
    return float((pred == y.to(pred.device)).double().mean())
