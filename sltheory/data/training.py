"""Small ReLU MLPs (bias-free, or with biases as ``nn.Linear`` has by default) trained on a
:class:`~sltheory.data.Dataset` (seeded, CPU, seconds), and
their predictions and accuracy evaluated in chunks."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from .._checks import dims_arg, nonnegative_int, positive_float
from ..errors import InvalidArgumentError
from .dataset import Dataset

__all__ = ["EVAL_CHUNK", "MAX_MLP_WEIGHTS", "MAX_THREADS", "accuracy", "predictions", "train_mlp"]

#: Rows evaluated at once by :func:`predictions` / :func:`accuracy` (bounds the hidden activations'
#: memory on MNIST-sized inputs).
EVAL_CHUNK = 8192
#: Largest MLP :func:`train_mlp` builds (weights; 1.6 GB in float64, before Adam's two copies).
MAX_MLP_WEIGHTS = 200_000_000
#: Largest ``num_threads`` :func:`train_mlp` accepts (more than any machine here has cores; the
#: OpenMP runtime allocates per thread, and 10⁹ threads abort the process).
MAX_THREADS = 1024


def _check_dims(dims, data: Dataset) -> tuple[int, ...]:
    dims = dims_arg("dims", dims, max_weights=MAX_MLP_WEIGHTS)
    if dims[0] != data.dim:
        raise InvalidArgumentError(f"dims[0] = {dims[0]} but {data.name} inputs have dimension {data.dim}")
    if dims[-1] != data.num_classes:
        raise InvalidArgumentError(f"dims[-1] = {dims[-1]} but {data.name} has {data.num_classes} classes")
    return dims


def _init_mlp(dims: tuple[int, ...], gen: torch.Generator, bias: bool = False) -> nn.Sequential:
    """ReLU MLP, float64; W_i ~ U[−b_i, b_i] i.i.d. from ``gen`` only.

    b_i = √(6/d_{i−1}) (He-uniform, for layers feeding a ReLU) and √(3/d_{l−1}) for the last
    (variance 1/fan_in). With ``bias``: each layer's bias ~ U[−1/√d_{i−1}, 1/√d_{i−1}] (torch's
    ``nn.Linear`` default), drawn from ``gen`` right after that layer's weights (bias-free nets draw
    exactly what they drew before). The modules are built on the ``meta`` device and then given
    their weights, so torch's default initialization never draws from the global RNG.
    """
    layers: list[nn.Module] = []
    depth = len(dims) - 1
    for i in range(depth):
        lin = nn.Linear(dims[i], dims[i + 1], bias=bias, device="meta", dtype=torch.float64)
        bound = math.sqrt((6.0 if i < depth - 1 else 3.0) / dims[i])
        w = torch.empty(dims[i + 1], dims[i], dtype=torch.float64).uniform_(-bound, bound, generator=gen)
        lin.weight = nn.Parameter(w)
        if bias:
            bb = 1.0 / math.sqrt(dims[i])
            lin.bias = nn.Parameter(torch.empty(dims[i + 1], dtype=torch.float64).uniform_(-bb, bb, generator=gen))
        layers.append(lin)
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_mlp(dims, data: Dataset, *, seed: int, epochs: int = 40, lr: float = 0.02,
              batch_size: int = 64, weight_decay: float = 0.0,
              num_threads: int | None = None, bias: bool = False) -> nn.Sequential:
    """Train a ReLU MLP ``Linear(d0, d1, bias=bias), ReLU, …, Linear(d_{l-1}, d_l, bias=bias)``.

    ``bias=False`` (the default): bias-free, the class every construction covers. ``bias=True``:
    every layer has a bias, trained with the weights (as torch trains ``nn.Linear`` by default;
    Adam's weight decay applies to the biases too, as in ``torch.optim.Adam``); approximate it with
    a construction that ``supports_biases`` over the data's domain (``sltheory.Box.of(X)``).

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
    if not isinstance(bias, (bool, np.bool_)):
        raise InvalidArgumentError(f"bias must be True or False, got {bias!r}")
    bias = bool(bias)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) \
            or not math.isfinite(weight_decay) or weight_decay < 0:
        raise InvalidArgumentError(f"weight_decay must be a finite real ≥ 0, got {weight_decay!r}")
    if num_threads is None:
        return _train(dims, data, seed, epochs, lr, batch_size, float(weight_decay), bias)
    num_threads = nonnegative_int("num_threads", num_threads, minimum=1, maximum=MAX_THREADS)
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        return _train(dims, data, seed, epochs, lr, batch_size, float(weight_decay), bias)
    finally:
        torch.set_num_threads(previous)


def _train(dims, data: Dataset, seed: int, epochs: int, lr: float, batch_size: int,
           weight_decay: float, bias: bool = False) -> nn.Sequential:
    """The training loop of :func:`train_mlp` (arguments already checked)."""
    gen = torch.Generator().manual_seed(seed)
    net = _init_mlp(dims, gen, bias)
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
