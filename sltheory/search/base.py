"""The shape every mask-search method shares, and the machinery they share.

A search method finds a mask on a fixed :class:`~sltheory.network.RandomNetwork` by optimisation
(scores, probabilities) instead of by a theorem's construction, and returns the same
:class:`~sltheory.ticket.Ticket` a construction returns — masks only (biprop also binarises: its
ticket states the signs and gains it uses) — certified whenever a target network is given.

One call (:meth:`SearchMethod.search`)::

    ticket = sltheory.search.edge_popup(rand, target=f, keep=0.5, epochs=20, seed=0)
    ticket = sltheory.search.edge_popup(rand, data=(X, y), keep=0.5)           # labelled data

**What is searched.** Every random linear t of ``rand`` has one score per *candidate*: each of its
random weights (a slot-structured layer's structural zeros are not candidates) and, when the layer
has a bias, each random bias (an extra column of an augmented matrix [W | b] whose input is 1).
``keep`` is the kept fraction of the candidates of every layer (k_t = round(keep · candidates_t),
at least 1), as Ramanujan et al. keep k% of every layer; or one fraction per random linear (a
sequence), e.g. a planted ticket's own per-layer densities. A random network of a *pair
construction* (``plan.pairs`` all pairs: subset_sum, pensia, natale, the block-diagonal variant)
is searched inside the construction's structure by default (``layout="auto"``): the first layer
of every pair keeps at most one candidate per unit (its best-scoring input weight, or its bias),
so that the ticket has the form the construction's certificate reads (effective maps
B σ(A x + c), one weight per hidden unit) and search and construction are certified by the same
bound; there k_t ≤ the layer's units. ``layout="free"`` drops that constraint (then only the
generic bound applies).

**Training** (ours, shared by the methods): a target network is regressed onto on ``samples``
points drawn from the domain (or on the inputs ``data=X`` given with it): mean over the batch of
‖f(x) − g(x)‖₂²; labelled data ``(X, y)``: cross-entropy for integer labels, the squared error
for float targets. Adam on the scores (learning rate ``lr``, cosine decay to 0 over the run),
mini-batches of ``batch_size`` reshuffled every epoch, in float32 (``dtype``) on the random
network's device. Every random draw (score initialisation, shuffles, a supermask's samples, the
domain samples) comes from one ``torch.Generator`` seeded by ``seed``: the same call gives the same
masks, network and curves' losses bit for bit on the CPU. The random weights never change.

**Certificate** (``target`` given): the ticket's network is certified over the domain by two sound
bounds, and the ticket carries the smaller: the construction's own certificate
(:func:`sltheory.constructions.base.certify_ticket`, the bound its constructed tickets carry) when
``rand`` is a registered construction's network planned for this target's shapes and the found
masks have the form it reads; and always the generic bound of two ReLU networks
(:func:`sltheory.certificate.networks.certify_networks`, linear relaxations with input splitting,
``time_budget`` seconds or ``max_splits`` sub-domains, whichever comes first: a bound that stops on
time depends on the machine's speed; for a reproducible one give a small ``max_splits`` and a time
budget it never reaches — ``stats["bounds"]`` and the certificate's ``stopped`` say which). Both
cover the float64 evaluation of both networks; magnitudes outside the range its rounding argument
covers (:mod:`sltheory.certificate.networks`, *Range*) give ``inf`` for both. ``stats["bounds"]``
holds each. Without a target (labelled data only) there is nothing to certify against:
``error_bound`` is ``inf`` and ``certificate`` None.

**Curves**: ``stats["curves"]``, one dict per epoch (``epoch``, ``loss`` — the epoch's mean training
loss —, ``seconds``; with a target the held-out ``val_rmse`` and ``val_max`` — the largest
‖f − g‖₂ on ``val_samples`` fresh domain points, a lower bound of the sup error —; with labels
``train_accuracy`` and, with ``test=(X, y)``, ``test_accuracy``), evaluated with the mask the
ticket would have at that epoch.
"""

from __future__ import annotations

import math
import numbers
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .._checks import nonnegative_int
from ..domains import Domain
from ..errors import DomainError, InvalidArgumentError, RandomNetworkError, SltheoryError
from ..network import RandomNetwork
from ..targets import Target

#: Default number of domain samples a target is regressed on, and held out for the curves.
SAMPLES = 4096
VAL_SAMPLES = 1024
LAYOUTS = ("auto", "free")


# --------------------------------------------------------------------------- one random layer
@dataclass
class SearchLayer:
    """Random linear t as the search sees it: the augmented matrix [W | b] (float64, ``(out, in+1)``
    with a bias, else ``(out, in)``), which entries are candidates, and whether the layer keeps at
    most one candidate per unit (``one_per_unit``)."""

    weight: torch.Tensor           # (out, in) float64, the random weights
    bias: torch.Tensor | None      # (out,) float64 or None
    candidates: torch.Tensor       # bool, augmented shape
    one_per_unit: bool
    k: int = 0                     # candidates kept

    @property
    def augmented(self) -> torch.Tensor:
        if self.bias is None:
            return self.weight
        return torch.cat([self.weight, self.bias[:, None]], dim=1)

    @property
    def num_candidates(self) -> int:
        return int(self.candidates.sum())


def _fraction(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < float(value) <= 1


def keep_arg(keep, layers: int) -> list[float]:
    """``keep`` as one fraction in (0, 1] per random linear (a number: the same for all)."""
    if _fraction(keep):
        return [float(keep)] * layers
    if isinstance(keep, (list, tuple, np.ndarray)) and not isinstance(keep, (str, bytes)):
        values = list(keep)
        if len(values) != layers:
            raise InvalidArgumentError(f"keep has {len(values)} fractions for {layers} random linear layers")
        if all(_fraction(v) for v in values):
            return [float(v) for v in values]
    raise InvalidArgumentError(f"keep must be a fraction in (0, 1] or one per random linear layer, got {keep!r}")


def keep_count(keep: float, layer: SearchLayer) -> int:
    """k_t = round(keep · candidates), at least 1, at most the units of a one-per-unit layer."""
    c = layer.num_candidates
    k = max(1, int(round(keep * c)))
    if layer.one_per_unit:
        k = min(k, int(layer.candidates.any(dim=1).sum()))
    return min(k, c)


def top_k_mask(scores: torch.Tensor, k: int, candidates: torch.Tensor | None = None,
               one_per_unit: bool = False) -> torch.Tensor:
    """The bool mask of the ``k`` highest ``scores`` among ``candidates`` (all when None); with
    ``one_per_unit``, first the best candidate of every row (unit), then the k best rows by it."""
    s = scores.detach()
    if candidates is not None:
        s = s.masked_fill(~candidates, -math.inf)
    mask = torch.zeros(s.shape, dtype=torch.bool, device=s.device)
    if k <= 0:
        return mask
    if one_per_unit:
        best, col = s.max(dim=1)
        k = min(k, int(torch.isfinite(best).sum()))
        rows = torch.topk(best, k).indices
        mask[rows, col[rows]] = True
        return mask
    flat = s.reshape(-1)
    k = min(k, int(torch.isfinite(flat).sum()))
    if k == 0:
        return mask
    # the k-th largest score by selection (linear time; torch.topk with a large k sorts), then every
    # score at or above it: exactly the top k unless scores tie at the threshold (then topk decides)
    threshold = torch.kthvalue(flat, flat.numel() - k + 1).values
    above = flat >= threshold
    if int(above.sum()) == k:
        return above.view(s.shape)
    mask.view(-1)[torch.topk(flat, k).indices] = True
    return mask


class StraightThrough(torch.autograd.Function):
    """Forward: a fixed 0/1 mask computed from the scores; backward: the mask's gradient passed to
    the scores unchanged (the straight-through estimator of Ramanujan et al. 2020 / Bengio et al.)."""

    @staticmethod
    def forward(ctx, scores, mask):   # noqa: D102
        return mask.to(scores.dtype)

    @staticmethod
    def backward(ctx, grad):          # noqa: D102
        return grad, None


# --------------------------------------------------------------------------- the problem
@dataclass
class Problem:
    """A validated search call."""

    layers: list[SearchLayer]
    output_scale: float
    kind: str                              # "target", "classification", "regression"
    X: torch.Tensor
    Y: torch.Tensor
    X_val: torch.Tensor | None = None
    Y_val: torch.Tensor | None = None
    target: Target | None = None
    domain: Domain | None = None
    test: tuple | None = None


def _array(name: str, X) -> np.ndarray:
    """``X`` (tensor, array, nested lists) as a real numpy array (InvalidArgumentError: ragged,
    complex, not numbers)."""
    try:
        a = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} must be an array of numbers: {exc}") from None
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise InvalidArgumentError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def _as_2d_float(name: str, X) -> torch.Tensor:
    t = torch.as_tensor(_array(name, X).astype(np.float64))
    if t.ndim != 2 or t.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must be a non-empty 2-D array (samples, features), got shape "
                                   f"{tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InvalidArgumentError(f"{name} has non-finite entries")
    return t


def _inputs(name: str, X, d_in: int, device) -> torch.Tensor:
    """``X`` as float64 rows of ``d_in`` features on ``device`` (InvalidArgumentError otherwise)."""
    t = _as_2d_float(name, X)
    if t.shape[1] != d_in:
        raise InvalidArgumentError(f"{name} has {t.shape[1]} features, the network takes {d_in}")
    return t.to(device)


def _labels(name: str, y, n: int, d_out: int) -> tuple[str, torch.Tensor]:
    a = _array(name, y)
    if a.ndim == 1 and a.shape[0] == n and (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        t = torch.as_tensor(a.astype(np.int64))
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= d_out):
            raise InvalidArgumentError(f"{name}: labels must lie in 0…{d_out - 1} (the network's {d_out} outputs), "
                                       f"got {int(t.min())}…{int(t.max())}")
        return "classification", t
    if a.ndim == 2 and a.shape == (n, d_out) and np.issubdtype(a.dtype, np.number):
        t = torch.as_tensor(a.astype(np.float64))
        if not bool(torch.isfinite(t).all()):
            raise InvalidArgumentError(f"{name} has non-finite entries")
        return "regression", t
    raise InvalidArgumentError(f"{name}: expected {n} integer class labels (shape ({n},)) or float targets of shape "
                               f"({n}, {d_out}), got {a.dtype} of shape {a.shape}")


def _pair_first_layers(plan) -> set[int]:
    pairs = tuple(tuple(p) for p in (plan.pairs or ()))
    if pairs and all(len(p) == 2 for p in pairs):
        return {p[0] for p in pairs}
    return set()


def check_random_network(random_net, what: str = "mask search") -> tuple[Any, list[nn.Linear], float]:
    """``(plan, linears, output_scale)`` of an MLP :class:`~sltheory.network.RandomNetwork` as sampled
    (typed errors otherwise: a conv network, another module, changed layers, a bad output scale)."""
    from ..conv.network import ConvRandomNetwork

    if isinstance(random_net, ConvRandomNetwork):
        raise InvalidArgumentError(f"{what} runs on MLP random networks (sltheory.random_network of an MLP "
                                   "target, or sltheory.search.random_mlp); conv networks are not supported yet")
    if not isinstance(random_net, RandomNetwork):
        raise RandomNetworkError("random_net must be a RandomNetwork (sltheory.random_network, "
                                 f"sltheory.search.random_mlp or a planted one); got {type(random_net).__name__}")
    plan = random_net.plan
    linears = random_net.linears()
    if len(linears) != len(plan.layer_shapes):
        raise RandomNetworkError(f"random_net has {len(linears)} linear layers, its plan {len(plan.layer_shapes)}: "
                                 "use the network as sampled")
    mods = list(random_net)
    if len(mods) != 2 * len(linears) - 1 or any(type(m) is not nn.ReLU for m in mods[1::2]):
        raise RandomNetworkError("random_net must be nn.Linear and nn.ReLU alternating, as sampled")
    for t, (lin, shape) in enumerate(zip(linears, plan.layer_shapes)):
        w = lin.weight
        if tuple(w.shape) != tuple(shape) or w.dtype != torch.float64 or not bool(torch.isfinite(w).all()):
            raise RandomNetworkError(f"random layer {t} is not its plan's finite float64 {tuple(shape)} layer: use "
                                     "the network as sampled")
    scale = float(getattr(random_net, "output_scale", 1.0))
    if not (math.isfinite(scale) and scale > 0 and math.frexp(scale)[0] == 0.5):
        raise RandomNetworkError(f"random_net.output_scale must be a power of two, got {scale!r}")
    return plan, linears, scale


def prepare(random_net, *, target, data, test, keep, domain, samples, val_samples, layout,
            generator: torch.Generator) -> Problem:
    """Check every argument (typed errors, before any work) and draw the training data."""
    from ..domains import as_domain
    from ..targets import as_target

    plan, linears, scale = check_random_network(random_net)
    keeps = keep_arg(keep, len(linears))
    if layout not in LAYOUTS:
        raise InvalidArgumentError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    samples = nonnegative_int("samples", samples, minimum=1, maximum=10**7)
    val_samples = nonnegative_int("val_samples", val_samples, minimum=1, maximum=10**7)
    d_in, d_out = plan.layer_shapes[0][1], plan.layer_shapes[-1][0]
    plan_domain = plan.input_domain()
    if domain is None:
        dom = plan_domain
    else:
        dom = as_domain(domain)
        if dom != plan_domain and plan.construction != "mlp":
            raise DomainError(f"random_net was sampled for the domain {plan_domain!r} (its construction's rule and "
                              f"certificate depend on it), not {dom!r}")
    dom.check_dim(d_in, "the random network")

    # the candidates, and which layers keep one per unit
    first = _pair_first_layers(plan) if layout == "auto" else set()
    layers = []
    for t, lin in enumerate(linears):
        W = lin.weight.detach()
        b = None if lin.bias is None else lin.bias.detach()
        cand = torch.ones(W.shape, dtype=torch.bool, device=W.device)
        if plan.layer_kind(t)[0] == "slots":
            cand = W != 0
        if b is not None:
            cand = torch.cat([cand, torch.ones((W.shape[0], 1), dtype=torch.bool, device=W.device)], dim=1)
        layer = SearchLayer(W, b, cand, t in first)
        if layer.num_candidates == 0:
            raise RandomNetworkError(f"random layer {t} has no weight to keep")
        layer.k = keep_count(keeps[t], layer)
        layers.append(layer)

    device = linears[0].weight.device
    tgt = None
    test_t = None
    if test is not None and target is not None:
        raise InvalidArgumentError("test=(X, y) goes with labelled data; with a target the curves hold held-out "
                                   "domain samples")
    if target is not None:
        if isinstance(data, tuple):
            raise InvalidArgumentError("give a target network to regress onto (with data=X, inputs only, or none: "
                                       "samples from the domain) or labelled data=(X, y), not both")
        tgt = as_target(target, check_norms=False)
        if tgt.dims[0] != d_in or tgt.dims[-1] != d_out:
            raise InvalidArgumentError(f"the target maps {tgt.dims[0]} → {tgt.dims[-1]}, the random network "
                                       f"{d_in} → {d_out}")
        f = tgt.to_module().to(device)
        if data is None:
            X = dom.sample(samples, d_in, generator, device=device)
        else:
            X = _inputs("data", data, d_in, device)
            try:
                dom.check_contains(X.cpu().numpy(), "data")
            except DomainError as exc:
                raise DomainError(f"{exc} (the certificate is over the domain; pass domain=)") from None
        X_val = dom.sample(val_samples, d_in, generator, device=device)
        with torch.no_grad():
            Y, Y_val = f(X), f(X_val)
        kind = "target"
    else:
        if data is None:
            raise InvalidArgumentError("give a target network (target=) or labelled data (data=(X, y))")
        if not (isinstance(data, tuple) and len(data) == 2):
            raise InvalidArgumentError("data without a target must be a pair (X, y) of inputs and labels")
        X = _inputs("data X", data[0], d_in, device)
        kind, Y = _labels("data y", data[1], X.shape[0], d_out)
        Y = Y.to(device)
        X_val = Y_val = None
        if test is not None:
            if not (isinstance(test, tuple) and len(test) == 2):
                raise InvalidArgumentError("test must be a pair (X, y)")
            Xt = _inputs("test X", test[0], d_in, device)
            kind_t, Yt = _labels("test y", test[1], Xt.shape[0], d_out)
            if kind_t != kind:
                raise InvalidArgumentError(f"test labels are for {kind_t}, the data's for {kind}")
            test_t = (Xt, Yt.to(device))
    return Problem(layers=layers, output_scale=scale, kind=kind, X=X, Y=Y, X_val=X_val, Y_val=Y_val, target=tgt,
                   domain=dom, test=test_t)


# --------------------------------------------------------------------------- the method
class SearchMethod(ABC):
    """One mask-search method: a ``name``, a ``citation``, its score initialisation and how scores
    become a mask (during training and for the ticket); :meth:`search` is shared."""

    #: Registry name (``sltheory.search.get(name)``).
    name: ClassVar[str]
    #: The paper the method follows.
    citation: ClassVar[str]
    #: Whether the ticket's weights are the random weights' signs times a gain per layer (biprop).
    binarises: ClassVar[bool] = False

    # ---------------------------------------------------------------- what a method defines
    @abstractmethod
    def init_scores(self, layer: SearchLayer, generator: torch.Generator, dtype) -> torch.Tensor:
        """Initial scores, the augmented shape of ``layer``."""

    @abstractmethod
    def train_mask(self, scores: torch.Tensor, layer: SearchLayer, generator: torch.Generator) -> torch.Tensor:
        """The mask used in a training step, differentiable in ``scores`` (a 0/1 tensor of their dtype)."""

    def final_mask(self, scores: torch.Tensor, layer: SearchLayer) -> torch.Tensor:
        """The ticket's bool mask from the trained scores (default: the top k)."""
        return top_k_mask(scores, layer.k, layer.candidates, layer.one_per_unit)

    def effective(self, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The layer's augmented weights under ``mask`` (default: the random weights, masked)."""
        return weights * mask

    # ---------------------------------------------------------------- the shared search
    def search(self, random_net, *, target=None, data=None, test=None, keep: float = 0.5, epochs: int = 20,
               seed: int = 0, domain=None, lr: float = 0.01, batch_size: int = 128, samples: int = SAMPLES,
               val_samples: int = VAL_SAMPLES, layout: str = "auto", time_budget: float = 2.0, max_splits: int = 256,
               dtype=torch.float32):
        """A :class:`~sltheory.ticket.Ticket` on ``random_net`` (masks only), found by the method
        (module docstring: arguments, training, certificate, curves)."""
        seed = nonnegative_int("seed", seed, maximum=2**63 - 1)
        epochs = nonnegative_int("epochs", epochs, minimum=1, maximum=100_000)
        batch_size = nonnegative_int("batch_size", batch_size, minimum=1)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and 0 < lr <= 1e3):
            raise InvalidArgumentError(f"lr must be a number in (0, 1000], got {lr!r}")
        max_splits = nonnegative_int("max_splits", max_splits, minimum=1)
        if isinstance(time_budget, bool) or not isinstance(time_budget, numbers.Real) or not (
                math.isfinite(time_budget) and time_budget >= 0):
            raise InvalidArgumentError(f"time_budget must be a finite number ≥ 0 (seconds), got {time_budget!r}")
        if dtype not in (torch.float32, torch.float64):
            raise InvalidArgumentError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        prob = prepare(random_net, target=target, data=data, test=test, keep=keep, domain=domain,
                       samples=samples, val_samples=val_samples, layout=layout, generator=gen)
        start = time.perf_counter()
        scores, curves = self._train(prob, epochs=epochs, lr=float(lr), batch_size=batch_size, gen=gen, dtype=dtype)
        trained = time.perf_counter() - start
        kept = float(keep) if _fraction(keep) else tuple(keep_arg(keep, len(prob.layers)))
        return self._ticket(random_net, prob, scores, curves, trained=trained, time_budget=float(time_budget),
                            max_splits=max_splits,
                            settings={"keep": kept,
                                      "epochs": epochs, "seed": seed, "lr": float(lr),
                                      "batch_size": batch_size, "samples": int(prob.X.shape[0]), "layout": layout})

    # ---------------------------------------------------------------- training
    def _forward(self, prob: Problem, weights, masks, x):
        h = x
        last = len(weights) - 1
        for t, (W, m, lay) in enumerate(zip(weights, masks, prob.layers)):
            E = self.effective(W, m)
            if lay.bias is not None:
                h = torch.addmm(E[:, -1], h, E[:, :-1].T)
            else:
                h = h @ E.T
            if t < last:
                h = torch.relu(h)
        return h * prob.output_scale

    def _loss(self, prob: Problem, out, y):
        if prob.kind == "classification":
            return nn.functional.cross_entropy(out, y)
        return ((out - y) ** 2).sum(dim=1).mean()

    def _train(self, prob: Problem, *, epochs, lr, batch_size, gen, dtype):
        device = prob.X.device
        weights = [lay.augmented.to(dtype) for lay in prob.layers]
        scores = [self.init_scores(lay, gen, dtype).to(device).requires_grad_(True) for lay in prob.layers]
        X = prob.X.to(dtype)
        Y = prob.Y if prob.kind == "classification" else prob.Y.to(dtype)
        n = X.shape[0]
        steps_per_epoch = max(1, math.ceil(n / batch_size))
        opt = torch.optim.Adam(scores, lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, epochs * steps_per_epoch)
                                                  / (epochs * steps_per_epoch))))
        curves = []
        for epoch in range(epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(device)
            total = 0.0
            for s in range(steps_per_epoch):
                idx = perm[s * batch_size:(s + 1) * batch_size]
                masks = [self.train_mask(sc, lay, gen) for sc, lay in zip(scores, prob.layers)]
                loss = self._loss(prob, self._forward(prob, weights, masks, X[idx]), Y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            row = {"epoch": epoch + 1, "loss": total / n, "seconds": time.perf_counter() - t0}
            row.update(self._evaluate(prob, weights, scores, dtype))
            curves.append(row)
        return [s.detach() for s in scores], curves

    @torch.no_grad()
    def _evaluate(self, prob: Problem, weights, scores, dtype) -> dict:
        masks = [self.final_mask(s, lay).to(dtype) for s, lay in zip(scores, prob.layers)]
        Xv, Yv = prob.X_val, prob.Y_val
        if prob.kind == "target" and Xv is not None and Yv is not None:
            err = (self._forward(prob, weights, masks, Xv.to(dtype)) - Yv.to(dtype)).norm(dim=1)
            return {"val_rmse": float(err.pow(2).mean().sqrt()), "val_max": float(err.max())}
        if prob.kind == "classification":
            out = {"train_accuracy": float((self._forward(prob, weights, masks, prob.X.to(dtype)).argmax(1)
                                            == prob.Y).double().mean())}
            if prob.test is not None:
                Xt, Yt = prob.test
                out["test_accuracy"] = float((self._forward(prob, weights, masks, Xt.to(dtype)).argmax(1)
                                              == Yt).double().mean())
            return out
        out = {}
        if prob.test is not None:
            Xt, Yt = prob.test
            out["test_mse"] = float(((self._forward(prob, weights, masks, Xt.to(dtype)) - Yt.to(dtype)) ** 2)
                                    .sum(1).mean())
        return out

    # ---------------------------------------------------------------- the ticket
    def _ticket(self, random_net, prob: Problem, scores, curves, *, trained: float, time_budget: float,
                max_splits: int, settings):
        from ..ticket import Ticket
        from ..ticket.compact import build_network

        masks: list[torch.Tensor] = []
        bias_masks: list[torch.Tensor | None] = []
        eff_w: list[torch.Tensor] = []
        eff_b: list[torch.Tensor | None] = []
        extra: dict = {}
        gains = []
        for s, lay in zip(scores, prob.layers):
            m = self.final_mask(s, lay)
            E = self.effective(lay.augmented, m.to(torch.float64))
            d_in = lay.weight.shape[1]
            masks.append(m[:, :d_in].clone())
            eff_w.append(E[:, :d_in].contiguous())
            if lay.bias is not None:
                bias_masks.append(m[:, d_in].clone())
                eff_b.append(E[:, d_in].contiguous())
            else:
                bias_masks.append(None)
                eff_b.append(None)
            if self.binarises:
                gains.append(float(self.gain(lay.augmented, m.to(torch.float64))))
        has_bias = any(b is not None for b in bias_masks)
        bm = tuple(bias_masks) if has_bias else None
        network = build_network(lambda t: eff_w[t], lambda t: eff_b[t], masks, bm, output_scale=prob.output_scale)
        kept = int(sum(int(m.sum()) for m in masks))
        kept_b = int(sum(int(b.sum()) for b in bias_masks if b is not None))
        candidates = int(sum(lay.num_candidates for lay in prob.layers))
        plan = random_net.plan
        stats = {
            "search": self.name,
            "random_network": plan.construction,
            "random_seed": int(random_net.seed),
            **settings,
            "kept_weights": kept,
            "kept_biases": kept_b,
            "candidates": candidates,
            "random_weights": int(plan.num_random_weights),
            "kept_fraction": (kept + kept_b) / candidates,
            "layer_kept": tuple(int(m.sum()) for m in masks),
            "one_per_unit": tuple(bool(lay.one_per_unit) for lay in prob.layers),
            "train_seconds": trained,
            "seconds_per_epoch": trained / max(1, len(curves)),
            "curves": curves,
            "task": prob.kind,
            "output_scale": prob.output_scale,
            "precision": "float64",
            "compact_parameters": int(sum(p.numel() for p in network.parameters())),
        }
        if self.binarises:
            stats["gains"] = tuple(gains)
            stats["binarised"] = True
            extra["note"] = "weights are sign(w)·gain of the kept random weights"
        certificate: Any = None     # a Certificate or a NetworksCertificate (Ticket.certificate)
        bound = math.inf
        if prob.target is not None:
            tgt = prob.target
            stats["target_weights"] = tgt.num_weights
            stats["kept_per_target"] = kept / tgt.num_weights
            stats["random_per_target"] = plan.num_random_weights / tgt.num_weights
            t0 = time.perf_counter()
            certs = certify_search_ticket(random_net, tgt, eff_w, eff_b, prob.output_scale, prob.domain,
                                          time_budget=time_budget, max_splits=max_splits)
            stats["certify_seconds"] = time.perf_counter() - t0
            stats["bounds"] = {k: (None if c is None else float(c.error_bound)) for k, c in certs.items()}
            best = min((c for c in certs.values() if c is not None), key=lambda c: c.error_bound)
            stats["certificate"] = next(k for k, c in certs.items() if c is best)
            certificate, bound = best, float(best.error_bound)
            stats["domain"] = None if prob.domain is None else prob.domain.spec()
        stats.update(extra)
        return Ticket(network=network, masks=tuple(masks), error_bound=bound, stats=stats,
                      construction=f"{self.name} search", certificate=certificate, plan=None, seed=None,
                      bias_masks=bm)

    def gain(self, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:   # pragma: no cover - biprop's
        raise InvalidArgumentError(f"{self.name} does not binarise")


def certify_search_ticket(random_net, target, eff_w, eff_b, output_scale: float, domain, *,
                          time_budget: float, max_splits: int = 256) -> dict:
    """``{"construction": Certificate or None, "networks": NetworksCertificate}`` of a ticket whose
    random linear t computes ``eff_w[t] h + eff_b[t]`` (the kept weights, 0 elsewhere; ``eff_b[t]``
    None without a bias), its output times ``output_scale`` (a power of two: exact), against
    ``target`` (a :class:`~sltheory.targets.Target`) over ``domain`` (module docstring)."""
    import dataclasses

    import scipy.sparse as sp

    from ..certificate.networks import certify_networks
    from ..constructions import registry
    from ..constructions.base import certify_ticket

    plan = random_net.plan
    out: dict = {"construction": None}
    target_layers = [(W, target.bias(i)) for i, W in enumerate(target.weights)]
    last = len(eff_w) - 1
    ticket_layers = []
    for t, (W, b) in enumerate(zip(eff_w, eff_b)):
        Wn = W.detach().cpu().numpy()
        bn = None if b is None else b.detach().cpu().numpy()
        if t == last and output_scale != 1.0:   # a power of two: exact
            Wn = Wn * output_scale
            bn = None if bn is None else bn * output_scale
        ticket_layers.append((Wn, bn))
    out["networks"] = certify_networks(target_layers, ticket_layers, domain, time_budget=time_budget,
                                       max_splits=max_splits)
    if out["networks"].method == "out_of_range":
        return out   # magnitudes where no float argument here holds (certify_networks' *Range*): +∞
    if output_scale == 1.0 and plan.construction in registry.constructions() and \
            tuple(map(tuple, plan.target_shapes)) == tuple(target.shapes) and domain == plan.input_domain():
        mats = [sp.csr_matrix(W.detach().cpu().numpy()) for W in eff_w]
        biases = [None if b is None else b.detach().cpu().numpy() for b in eff_b]
        try:
            cert = certify_ticket(registry.get(plan.construction), target, plan, mats,
                                  biases=biases if any(b is not None for b in biases) else None)
            # the bound is over the plan's domain (= ``domain``); a construction that is not domain-aware
            # leaves Certificate.domain None (read as the unit ball): say which set it covers
            out["construction"] = dataclasses.replace(cert, domain=domain.spec())
        except SltheoryError:
            out["construction"] = None   # the masks are not of the form its certificate reads
    return out


def as_method_call(method: SearchMethod):
    """``method.search`` as a module-level function with the method's docstring."""
    def call(random_net, **kwargs):
        return method.search(random_net, **kwargs)
    call.__name__ = method.name
    call.__qualname__ = method.name
    call.__doc__ = (f"{type(method).__doc__}\n\nSee :mod:`sltheory.search.base` for the arguments "
                    "(``target``/``data``, ``keep``, ``epochs``, ``seed``, ``domain``, …).")
    return call

