"""The targets of Plant 'n' Seek (Fischer & Burkholz, ICLR 2022, arXiv:2111.11153), as float64 ReLU networks.

The paper plants known tickets in random networks (:func:`sltheory.search.planting.plant`) and asks
whether a search finds them. Its tickets are small, hand-built ReLU networks with biases, written in
the official code (github RelationalML/PlantNSeek, ``plant_lottery_tickets/tickets.py``) as lists of
``(in, out)`` weight matrices and bias vectors; here each is an ``nn.Sequential`` of float64
``nn.Linear`` (weights ``(out, in)``, with bias) and ``nn.ReLU``, built without touching any global
RNG, with its input domain:

* :func:`relu_target` — a single ReLU unit, f(x) = max(x, 0) on [−1, 1] (``lottery_relu(depth, "reg")``);
* :func:`circle_target` — the circle: x₁² + x₂² on [−1, 1]² by mirroring (|xᵢ| = σ(xᵢ) + σ(−xᵢ)) and
  univariate linear splines of t², with the paper's 4-class head (classes by r² against the bounds
  0.2, 0.5, 0.7) or a regression output (``lottery_sphere(depth, class_bound, nknots, task)``);
* :func:`helix_target` — the helix x ↦ (y cos y, y sin y, y)/(8π), y = 5π + 3πx, on [−1, 1] by
  univariate linear splines with 30 knots (``lottery_helix_wide(fun_ex1, fun_ex2, fun_ex3, depth, nknots)``);
* :func:`digits_target` — a trained MLP (64-32-10 with biases) on scikit-learn's digits. The paper's
  trained ticket is a VGG16 on CIFAR-10 found by edge-popup (``edgepopup_vgg/``): ours is a small
  MLP trained by :func:`sltheory.data.train_mlp`, on data that ships with scikit-learn (no download).

Each function returns a :class:`PlantedTarget` (``.network``, ``.domain``, ``.name``), deterministic
per its arguments. ``layers`` counts linear layers: the official ``depth`` counts layers of units,
the input included, so ``depth = layers + 1``.

Where ours differs from the official code: the deeper circle (``depth`` ≥ 5: angle-folding layers)
and the ReLU classification variant are not built; the helix and ReLU targets are regression only
(as the paper uses them); a target's zero biases stay zero-valued biases (the planted ticket does
not keep them, :mod:`sltheory.search.planting`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._checks import nonnegative_int
from ..domains import Box, Domain
from ..errors import InvalidArgumentError

__all__ = ["CIRCLE_BOUNDS", "PlantedTarget", "circle_target", "digits_target", "helix_coordinates", "helix_target",
           "network_from_layers", "param_outer", "relu_target"]

#: The circle task's class bounds on r² = x₁² + x₂² (official ``Models/circler.py``: 0.2, 0.5, 0.7).
CIRCLE_BOUNDS = (0.2, 0.5, 0.7)
#: Largest ``knots`` a spline target accepts (the widths are about 2·knots).
MAX_KNOTS = 100_000


@dataclass(frozen=True, eq=False)
class PlantedTarget:
    """A Plant 'n' Seek target: ``network`` (float64 nn.Sequential of Linear-with-bias / ReLU), its
    input ``domain``, a ``name``, and, for a trained target, the ``data`` it was trained on."""

    name: str
    network: nn.Sequential
    domain: Domain
    data: object | None = None

    @property
    def dims(self) -> tuple[int, ...]:
        """(d_0, d_1, …, d_L) of the network."""
        lins = [m for m in self.network if isinstance(m, nn.Linear)]
        return (lins[0].in_features,) + tuple(lin.out_features for lin in lins)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


def network_from_layers(layers) -> nn.Sequential:
    """A float64 ``nn.Sequential`` from ``[(W, b), …]`` (W of shape (out, in), b of shape (out,) or None),
    a ReLU between consecutive layers. The modules are built on the ``meta`` device and then given their
    values, so torch's default initialisation never draws from the global RNG; parameters are frozen."""
    mods: list[nn.Module] = []
    for i, (w, b) in enumerate(layers):
        w = torch.as_tensor(np.array(w, dtype=np.float64, copy=True))
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device="meta", dtype=torch.float64)
        lin.weight = nn.Parameter(w, requires_grad=False)
        if b is not None:
            lin.bias = nn.Parameter(torch.as_tensor(np.array(b, dtype=np.float64, copy=True).reshape(-1)),
                                    requires_grad=False)
        if i:
            mods.append(nn.ReLU())
        mods.append(lin)
    return nn.Sequential(*mods)


def param_outer(knots: np.ndarray, signs: np.ndarray, fun: Callable) -> tuple[tuple, tuple]:
    """One hidden layer of univariate units and a linear output that interpolate ``fun`` linearly at
    ``knots`` (official ``tickets.py``, ``param_outer``), in the official ``(in, out)`` orientation.

    Unit k computes σ(s_k (x − t_k)) (s_k = ``signs[k]`` = ±1, the first forced to +1); the output
    weights are the slope changes at the knots (the first corrected for the linear parts of the
    negative units) and the output bias matches fun(t_0). On [t_0, t_{n−1}] the result is the linear
    interpolant of fun; beyond t_{n−1} it continues with the slope to fun(t_{n−1} + Δ). Returns
    ``((w1 (1, n), w2 (n, 1)), (b1 (n,), b2 (1,)))``. The official code sorts the knots first (and
    permutes back by the sorting permutation itself, not its inverse); knots here must be increasing.
    """
    xs = np.asarray(knots, dtype=np.float64).reshape(-1)
    pm = np.array(signs, dtype=np.float64).reshape(-1)
    if xs.size < 2 or pm.shape != xs.shape or not np.all(np.diff(xs) > 0):
        raise InvalidArgumentError("param_outer needs ≥ 2 increasing knots and one sign per knot")
    pm[0] = 1.0
    w1 = pm.reshape(1, -1)
    b1 = -xs * pm
    delta = xs[1] - xs[0]
    xt = np.concatenate([xs, [xs[-1] + delta]])
    yt = np.array([float(fun(x)) for x in xt])
    ms = (yt[1:] - yt[:-1]) / (xt[1:] - xt[:-1])
    w2 = ms[1:] - ms[:-1]
    w2 = np.concatenate([[ms[0] + np.sum(w2[pm[1:] == -1])], w2])
    b2 = np.array([float(fun(xs[0])) - np.sum(np.maximum(xs[0] * w1 + b1, 0.0) * w2)])
    return (w1, w2.reshape(-1, 1)), (b1, b2)


def _alternating(n: int) -> np.ndarray:
    pm = np.ones(n)
    pm[1::2] = -1.0
    return pm


def _layers_arg(layers, minimum: int, maximum: int | None = None) -> int:
    return nonnegative_int("layers", layers, minimum=minimum, maximum=maximum)


def _knots_arg(knots) -> int:
    return nonnegative_int("knots", knots, minimum=2, maximum=MAX_KNOTS)


def relu_target(layers: int = 2) -> PlantedTarget:
    """A single ReLU unit f(x) = max(x, 0) on [−1, 1], as ``layers`` linear layers of one unit, weight 1,
    bias 0 (official ``tickets.py``, ``lottery_relu(depth = layers + 1, "reg")``; the paper's ReLU
    regression task, data x ~ U[−1, 1], ``datagen.py`` ``draw_data_relu``). ``layers`` ≥ 2."""
    layers = _layers_arg(layers, 2, 10_000)
    net = network_from_layers([(np.ones((1, 1)), np.zeros(1)) for _ in range(layers)])
    return PlantedTarget("relu", net, Box(-1.0, 1.0))


def _sq(x: float) -> float:
    return x * x


def _circle_head(w_sp: np.ndarray, b_sp: float, halves: int, bounds) -> tuple[np.ndarray, np.ndarray]:
    """The output layer of the circle in ``(in, out)`` form: ``halves`` copies of the spline weights
    ``w_sp`` summed (r² ≈ Σ splines), and either one regression output or the official classification
    head (``lottery_sphere``, ``problemType != "reg"``): logit_j = a_j r² + c_j with a_0 = 5,
    a_j = 2 a_{j−1} and c_j chosen so that logit_j − logit_{j−1} = (a_j − a_{j−1})(r² − bound_{j−1})."""
    n = w_sp.size
    col = np.concatenate([w_sp] * halves)
    if bounds is None:
        return col.reshape(-1, 1), np.array([halves * b_sp])
    nclass = len(bounds) + 1
    w2, b2 = np.zeros((halves * n, nclass)), np.zeros(nclass)
    a = a_old = 5.0
    b_old = 0.0
    w2[:, 0] = a * col
    b2[0] = halves * b_sp * a
    for j in range(1, nclass):
        a = 2 * a
        w2[:, j] = a * col
        b2[j] = (a_old - a) * bounds[j - 1] + b_old + halves * b_sp * a
        b_old = (a_old - a) * bounds[j - 1] + b_old
        a_old = a
    return w2, b2


def circle_target(layers: int = 3, *, knots: int = 10, bounds=CIRCLE_BOUNDS) -> PlantedTarget:
    """The circle on [−1, 1]²: r² = x₁² + x₂² by univariate linear splines of t² (official ``tickets.py``,
    ``lottery_sphere(depth = layers + 1, class_bound, nknots, task)``; the paper's 4-class circle task:
    ``Models/circler.py`` uses K = 10 knots and bounds 0.2, 0.5, 0.7).

    ``layers=3`` (default): mirroring — a first layer (σ(x₁), σ(−x₁), σ(x₂), σ(−x₂)), zero biases; then
    per coordinate ``knots`` units on t = σ(xᵢ) + σ(−xᵢ) = |xᵢ| ∈ [0, 1] (knots on [0, 1]); then the head.
    ``layers=2``: no mirroring, ``knots`` units per coordinate on xᵢ ∈ [−1, 1]. The spline's last knot
    sign is −1, as the official code sets it. ``bounds``: increasing class bounds on r² (the official
    head: ``len(bounds) + 1`` logits whose argmax counts the bounds below r²), or None for one output
    ≈ r² (the official ``"reg"`` task). Not built: the official ``depth`` ≥ 5 variant (angle folding).
    """
    layers = _layers_arg(layers, 2, 3)
    knots = _knots_arg(knots)
    if bounds is not None:
        try:
            bounds = tuple(float(v) for v in bounds)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"bounds must be None or a sequence of reals, got {bounds!r}") from None
        if not bounds or not all(math.isfinite(v) for v in bounds) or any(b >= c for b, c in zip(bounds, bounds[1:])):
            raise InvalidArgumentError(f"bounds must be finite and strictly increasing, got {bounds!r}")
    lo = -1.0 if layers == 2 else 0.0
    pm = _alternating(knots)
    pm[-1] = -1.0
    (w_in, w_sp), (b_in, b_sp) = param_outer(np.linspace(lo, 1.0, knots), pm, _sq)
    w_in, w_sp = w_in.reshape(-1), w_sp.reshape(-1)
    out: list[tuple[np.ndarray, np.ndarray]] = []   # (in, out) matrices, as the official code
    if layers == 3:
        w0 = np.zeros((2, 4))
        w0[0, 0], w0[0, 1], w0[1, 2], w0[1, 3] = 1.0, -1.0, 1.0, -1.0
        out.append((w0, np.zeros(4)))
        w1 = np.zeros((4, 2 * knots))
        w1[0, :knots] = w1[1, :knots] = w_in
        w1[2, knots:] = w1[3, knots:] = w_in
    else:
        w1 = np.zeros((2, 2 * knots))
        w1[0, :knots] = w_in
        w1[1, knots:] = w_in
    out.append((w1, np.concatenate([b_in, b_in])))
    out.append(_circle_head(w_sp, float(b_sp[0]), 2, bounds))
    net = network_from_layers([(w.T, b) for w, b in out])
    return PlantedTarget("circle" if bounds is not None else "circle_reg", net, Box(-1.0, 1.0))


def helix_coordinates(x) -> np.ndarray:
    """The helix (official ``fun_ex1``, ``fun_ex2``, ``fun_ex3``): (y cos y, y sin y, y)/(8π), y = 5π + 3πx."""
    y = 5 * np.pi + 3 * np.pi * np.asarray(x, dtype=np.float64)
    return np.stack([y * np.cos(y), y * np.sin(y), y], axis=-1) / (8 * np.pi)


def helix_target(layers: int = 2, *, knots: int = 30) -> PlantedTarget:
    """The helix on [−1, 1] → R³ (:func:`helix_coordinates`) by univariate linear splines with ``knots``
    knots (official ``tickets.py``, ``lottery_helix_wide(fun_ex1, fun_ex2, fun_ex3, depth = layers + 1,
    nknots)``; the paper uses 30 knots, ``Models/circler.py``).

    ``layers=2``: ``knots`` units σ(±(x − t_k)), knots on [−1, 1], and a 3-output linear layer.
    ``layers`` ≥ 3: first σ(x + 1) (one unit), then the splines of fun(t − 1) on t ∈ [0, 2]; for
    ``layers`` ≥ 4 the spline outputs are shifted by +1 (the coordinates are ≥ −1, so σ passes them),
    carried through ``layers − 3`` identity layers, and the last bias is −1, as in the official code.
    """
    layers = _layers_arg(layers, 2, 10_000)
    knots = _knots_arg(knots)
    funs = [lambda x, k=k: float(helix_coordinates(x)[k]) for k in range(3)]
    pm = _alternating(knots)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    if layers == 2:
        knots_at, shift = np.linspace(-1.0, 1.0, knots), 0.0
    else:
        knots_at, shift = np.linspace(0.0, 2.0, knots), 1.0
        out.append((np.ones((1, 1)), np.ones(1)))
    parts = [param_outer(knots_at, pm, lambda t, f=f: f(t - shift)) for f in funs]
    (w1, _), (b1, _) = parts[0]
    out.append((w1, b1))
    w2 = np.hstack([p[0][1] for p in parts])
    b2 = np.array([p[1][1][0] for p in parts])
    out.append((w2, b2))
    if layers >= 4:
        out[-1] = (w2, b2 + 1.0)
        for _ in range(4, layers + 1):
            out.append((np.eye(3), np.zeros(3)))
        out[-1] = (np.eye(3), np.full(3, -1.0))
    net = network_from_layers([(w.T, b) for w, b in out])
    return PlantedTarget("helix", net, Box(-1.0, 1.0))


def digits_target(hidden: int = 32, *, seed: int = 0, epochs: int = 40) -> PlantedTarget:
    """An MLP 64-``hidden``-10 with biases trained on scikit-learn's digits (:func:`sltheory.data.load_digits`
    split by ``seed``, :func:`sltheory.data.train_mlp` with ``bias=True``, ``seed``, ``epochs``, one
    thread: deterministic, about a second). ``domain``: the bounding box of all digits inputs (train and
    test, in the unit ball, ≥ 0); ``data``: the :class:`~sltheory.data.Dataset`.

    Stands in for the paper's trained ticket (a VGG16 on CIFAR-10, found by edge-popup and planted,
    official ``edgepopup_vgg/``): same idea — a ticket that solves a real task — at a size the tests run.
    """
    from .digits import load_digits
    from .training import train_mlp

    hidden = nonnegative_int("hidden", hidden, minimum=1, maximum=100_000)
    seed = nonnegative_int("seed", seed)
    epochs = nonnegative_int("epochs", epochs, minimum=1, maximum=100_000)
    data = load_digits(seed=seed)
    net = train_mlp([data.dim, hidden, data.num_classes], data, seed=seed, epochs=epochs, bias=True, num_threads=1)
    for p in net.parameters():
        p.requires_grad_(False)
    domain = Box.of(torch.cat([data.x_train, data.x_test]))
    return PlantedTarget("digits", net, domain, data=data)
