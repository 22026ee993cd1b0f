"""Planted tickets: random networks that contain a KNOWN ticket, to test whether a search finds it.

Two ways to plant (both return a :class:`PlantedNetwork`: a :class:`~sltheory.network.RandomNetwork`
that also knows its planted masks):

* :func:`plant` — Plant 'n' Seek (Fischer & Burkholz, "Plant 'n' Seek: Can You Find the Winning
  Ticket?", ICLR 2022, arXiv:2111.11153; official code github RelationalML/PlantNSeek,
  ``plant_lottery_tickets/plant.py``). A random source network of the target's depth is sampled by
  the paper's law (Theorem 2: weights U[−σ_l, σ_l], biases U[−Π_{k≤l}σ_k, Π_{k≤l}σ_k]) and the
  target is *written into it*, layer by layer: each target neuron θ = (b, w) is matched to the
  unmatched source neuron m closest to a positive multiple of it, whose entries on the planted
  inputs are overwritten by a positive multiple of θ. The weights change where the ticket is
  planted, so the network is no longer the sample of its plan and seed (``plan.options["planted"]``).
* :func:`plant_construction` — ours: a random network sampled by a construction's rule
  (:func:`sltheory.random_network`) contains a known ε-ticket, the construction's masks
  (:func:`sltheory.approximate`); nothing is overwritten and the ticket is certified
  (``planted_error_bound``).

:func:`mask_overlap` compares a found mask with the planted one (precision, recall, Jaccard).

**The planting step** (:func:`plant`, after ``find_ind`` / ``target_ind`` of the official code).
Let layer l of the target have neurons θ_i = (b_i, w_i) and let the planted units of layer l − 1
carry the target's units times positive scales s_j (s_j = 1 for the inputs). Target neuron i sees
its inputs through those scales, so in the source's coordinates it is θ_i = (b_i, w_ij / s_j)
restricted to its nonzero entries J_i (zero target weights and biases are not planted: they are
no part of the ticket). Its candidates are the still unmatched source neurons k of layer l,
restricted to the same entries: m_k = (β_k, V_{k, u(j)})_{j∈J_i} with u(j) the source unit planted
for target unit j. ``match="paper"`` (default) picks the minimiser of ‖θ − λ(m) m‖₂ with
λ(m) = θᵀm/‖m‖², among the candidates with λ(m) > 0 (a positive scale commutes with σ), and writes
m ← θ/λ, i.e. the unit computes s_i = 1/λ times the target unit. Neurons are planted in target
order, greedily. The output layer's neurons are fixed (output i of the network is output i of the
target); they are written as c·θ_i with ONE c for all outputs, a power of two (the power of two
nearest the geometric mean of ‖m_i‖/‖θ_i‖, so the planted output weights have about the size of
the sampled ones), and the planted ticket's output times ``output_scale`` = 1/c is the target's.
Multiplying by a power of two is exact in float64, so the planted ticket computes the target up to
the rounding of the scaled hidden units (~1e-16 relative per operation).

**Where ours differs from the official code** (``plant.py``):

* matching: the official ``target_ind`` fits m ≈ c·θ (c = θᵀm/‖θ‖², the projection of m onto θ),
  scores the L1 residual ‖m − cθ‖₁, requires c > 0 *and* every entry of m to have θ's sign, and
  writes the projection c·θ (``match="official"`` does exactly that, among the unmatched neurons);
  the paper's rule, ours by default, is the description of the theory notes (λ(m) = θᵀm/‖m‖²,
  ‖θ − λm‖₂, m ← θ/λ);
* the official search runs over all source neurons and, if the best is already taken, falls back to
  the first free one (its list of taken neurons starts as zeros, so neuron 0 counts as taken from
  the start); ours searches the free neurons only. Where no free neuron qualifies (no λ > 0, or no
  sign-consistent one), the official code takes neuron i with the scale |V_{0,i}/θ_1|; ours takes
  the free neuron of largest cosine with θ and the scale ‖m‖/‖θ‖;
* the official matching always includes the bias entry and writes c·0 = 0 into the source bias of a
  zero target bias; ours leaves zero target entries (weights and biases) as sampled and unplanted;
* the output layer: the official code matches output neurons like hidden ones, then *permutes* the
  source's output neurons into the target's order and returns one scale per output (``net_eval``
  divides output j by ``scale[j]``); ours keeps the output neurons in place and uses one power-of-two
  scale for all (``output_scale``), so the planted ticket's output is exact and search methods can
  multiply by it without rounding;
* the source law: the official experiments use ``init_He_scaled`` (weights N(0, 2/n_{l−1}), biases
  N(0, Π_{k≤l} 2/n_{k−1})); ours is the paper's Theorem 2 law U[−σ_l, σ_l] / U[−Πσ_k, Πσ_k]
  (``init="uniform"``, σ_l = 1 unless ``sigma`` is given), or the weights of one of
  :data:`~sltheory.search.networks.INITS` with σ_l its scale and the biases still uniform.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
import torch
from torch import nn

from .._checks import nonnegative_int, positive_float
from ..errors import InvalidArgumentError, NetworkTooLargeError, RandomNetworkError, TargetError
from ..network import Plan, RandomNetwork, masked_copy, plain_relu_network
from .networks import INITS, MLP, init_law

__all__ = ["MATCH_RULES", "PlantedNetwork", "mask_overlap", "match_neuron", "plant", "plant_construction"]

#: The matching rules of :func:`plant` (module docstring): the paper's and the official code's.
MATCH_RULES = ("paper", "official")
#: Largest source network :func:`plant` samples (float64 weights; 1.6 GB).
MAX_PLANT_WEIGHTS = 200_000_000
#: |log₂| of the largest output scale :func:`plant` chooses (keeps c and 1/c normal floats).
MAX_SCALE_EXPONENT = 1000


def _is_power_of_two(x) -> bool:
    return (isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x)) and float(x) > 0
            and math.frexp(float(x))[0] == 0.5)


class PlantedNetwork(RandomNetwork):
    """A random network with a known (planted) ticket.

    It *is* the random network (the same ``nn.Linear`` / ``nn.ReLU`` modules, ``plan``, ``seed``; its
    forward is :class:`~sltheory.network.RandomNetwork`'s) and it records what was planted:

    * ``planted_masks`` — one bool tensor per linear, shaped like its weight: the ticket;
    * ``planted_bias_masks`` — None (no linear has a bias) or one entry per linear, None for a linear
      without bias, else a bool tensor (out,);
    * ``output_scale`` — the ticket's output times it is the target (a power of two, 1.0 if none);
    * ``planted_target`` — the target as a float64 ``nn.Sequential`` (not a submodule: not run by
      forward, not in ``state_dict``);
    * ``planted_error_bound`` — the certified sup-norm bound of the ticket against the target over the
      plan's domain, when a construction planted it (:func:`plant_construction`); None for :func:`plant`
      (exact up to rounding);
    * ``planted_units`` / ``unit_scales`` (:func:`plant` only, else None) — per target layer, the source
      unit each target unit was planted in and the positive scale it carries (the source unit computes
      scale × the target unit; the output layer's scale is 1/``output_scale``).

    The constructor checks these invariants (InvalidArgumentError): masks bool and of the linears'
    shapes, bias masks only where a linear has a bias, ``output_scale`` a finite power of two, the
    target a plain float64 ReLU network with the network's input and output sizes. It shares
    ``network``'s modules (no copy).
    """

    def __init__(self, network: RandomNetwork, *, planted_masks, planted_target: nn.Sequential,
                 planted_bias_masks=None, output_scale: float = 1.0, planted_error_bound: float | None = None,
                 planted_units=None, unit_scales=None, plan: Plan | None = None):
        if not isinstance(network, RandomNetwork):
            raise InvalidArgumentError(f"network must be a RandomNetwork, got {type(network).__name__}")
        nn.Sequential.__init__(self, *network)
        self.plan = network.plan if plan is None else plan
        self.seed = int(network.seed)
        lins = self.linears()
        masks = tuple(planted_masks)
        if len(masks) != len(lins):
            raise InvalidArgumentError(f"planted_masks has {len(masks)} entries for {len(lins)} linear layers")
        for t, (m, lin) in enumerate(zip(masks, lins)):
            if not isinstance(m, torch.Tensor) or m.dtype != torch.bool or tuple(m.shape) != tuple(lin.weight.shape):
                raise InvalidArgumentError(f"planted_masks[{t}] must be a bool tensor of shape "
                                           f"{tuple(lin.weight.shape)}, got {getattr(m, 'dtype', type(m))} "
                                           f"{tuple(getattr(m, 'shape', ()))}")
        if planted_bias_masks is not None:
            planted_bias_masks = tuple(planted_bias_masks)
            if len(planted_bias_masks) != len(lins):
                raise InvalidArgumentError(f"planted_bias_masks has {len(planted_bias_masks)} entries for "
                                           f"{len(lins)} linear layers")
            for t, (bm, lin) in enumerate(zip(planted_bias_masks, lins)):
                if bm is None:
                    continue
                if lin.bias is None:
                    raise InvalidArgumentError(f"planted_bias_masks[{t}] is given but linear {t} has no bias")
                if not isinstance(bm, torch.Tensor) or bm.dtype != torch.bool or tuple(bm.shape) != (lin.out_features,):
                    raise InvalidArgumentError(f"planted_bias_masks[{t}] must be a bool tensor of shape "
                                               f"({lin.out_features},)")
        if not _is_power_of_two(output_scale):
            raise InvalidArgumentError(f"output_scale must be a finite power of two (exact in float64), got "
                                       f"{output_scale!r}")
        if planted_error_bound is not None:
            if isinstance(planted_error_bound, bool) or not isinstance(planted_error_bound, numbers.Real) \
                    or not math.isfinite(float(planted_error_bound)) or planted_error_bound < 0:
                raise InvalidArgumentError(f"planted_error_bound must be None or a finite real ≥ 0, got "
                                           f"{planted_error_bound!r}")
            planted_error_bound = float(planted_error_bound)
        t_lins, _ = plain_relu_network(planted_target, what="planted_target", error=InvalidArgumentError,
                                       allow_bias=True)
        if t_lins[0].in_features != lins[0].in_features or t_lins[-1].out_features != lins[-1].out_features:
            raise InvalidArgumentError(f"planted_target maps {t_lins[0].in_features} → {t_lins[-1].out_features}, "
                                       f"the network {lins[0].in_features} → {lins[-1].out_features}")
        self.planted_masks = masks
        self.planted_bias_masks = planted_bias_masks
        self.output_scale = float(output_scale)
        self.planted_error_bound = planted_error_bound
        self.planted_units = None if planted_units is None else tuple(tuple(int(k) for k in u) for u in planted_units)
        self.unit_scales = None if unit_scales is None else tuple(np.array(s, dtype=np.float64) for s in unit_scales)
        # a plain attribute, not a submodule: forward (iterating the Sequential) must not run it
        self.__dict__["_planted_target"] = planted_target

    @property
    def planted_target(self) -> nn.Sequential:
        return self.__dict__["_planted_target"]

    @property
    def planted_weights(self) -> int:
        """Weights in the planted ticket."""
        return int(sum(int(m.sum()) for m in self.planted_masks))

    @property
    def planted_biases(self) -> int:
        """Biases in the planted ticket."""
        return int(sum(int(b.sum()) for b in (self.planted_bias_masks or ()) if b is not None))

    def ticket_network(self) -> nn.Sequential:
        """The planted ticket as a plain float64 ``nn.Sequential``: the weights where ``planted_masks`` (and
        biases where ``planted_bias_masks``) are True, zeros elsewhere, ``output_scale`` folded into the last
        linear (a power of two: the same values as the masked network's output times ``output_scale``)."""
        seq = masked_copy(self, list(self.planted_masks), self.planted_bias_masks)
        if self.output_scale != 1.0:
            last = [m for m in seq if isinstance(m, nn.Linear)][-1]
            with torch.no_grad():
                last.weight.mul_(self.output_scale)
                if last.bias is not None:
                    last.bias.mul_(self.output_scale)
        return seq


# ---------------------------------------------------------------------------------------------- matching


def match_neuron(theta, candidates, rule: str = "paper") -> tuple[int, float]:
    """The candidate a target neuron is planted in, and its scale s > 0 (the planted values are s·θ).

    ``theta``: the target neuron's entries (p,) in the source's coordinates (module docstring);
    ``candidates``: (K, p), the free source neurons' entries at the same positions (K ≥ 1).

    * ``rule="paper"``: among the rows with λ(m) = θᵀm/‖m‖² > 0, the minimiser of ‖θ − λ(m) m‖₂
      (first on ties); s = 1/λ = ‖m‖²/θᵀm (m ← θ/λ).
    * ``rule="official"`` (official ``plant.py`` ``target_ind``): among the rows with c = θᵀm/‖θ‖² > 0
      whose entries all have θ's signs, the minimiser of ‖m − cθ‖₁ (first on ties); s = c.

    Without a qualifying row: the row of largest cosine with θ (first on ties), s = ‖m‖/‖θ‖ (1 if m = 0).
    With p = 0 (nothing to plant): row 0, s = 1.
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    M = np.asarray(candidates, dtype=np.float64)
    if M.ndim != 2 or M.shape[1] != theta.size or M.shape[0] == 0:
        raise InvalidArgumentError(f"candidates must be a (K ≥ 1, {theta.size}) array, got shape {M.shape}")
    if rule not in MATCH_RULES:
        raise InvalidArgumentError(f"unknown rule {rule!r}; available: {list(MATCH_RULES)}")
    if theta.size == 0:
        return 0, 1.0
    dots = M @ theta
    norms2 = np.einsum("kp,kp->k", M, M)
    tn2 = float(theta @ theta)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if rule == "paper":
            lam = dots / norms2
            scale = norms2 / dots
            ok = (norms2 > 0) & (lam > 0) & np.isfinite(scale) & (scale > 0)
            resid = np.linalg.norm(theta[None, :] - np.where(ok, lam, 0.0)[:, None] * M, axis=1)
        else:
            scale = dots / tn2
            ok = (scale > 0) & np.isfinite(scale) & np.all(np.sign(M) == np.sign(theta)[None, :], axis=1)
            resid = np.abs(M - np.where(ok, scale, 0.0)[:, None] * theta[None, :]).sum(axis=1)
    if ok.any():
        k = int(np.argmin(np.where(ok, resid, np.inf)))
        return k, float(scale[k])
    norms = np.sqrt(norms2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, dots / (norms * math.sqrt(tn2)), 0.0)
    k = int(np.argmax(cos))
    s = float(norms[k] / math.sqrt(tn2)) if norms[k] > 0 else 1.0
    return k, s if math.isfinite(s) and s > 0 else 1.0


# ---------------------------------------------------------------------------------------------- planting


def _target_of(target):
    """(validated Target, default domain or None) of a target, a PlantedTarget, or a list of (W, b)."""
    from ..data.planted import PlantedTarget
    from ..targets import as_target

    domain = None
    if isinstance(target, PlantedTarget):
        target, domain = target.network, target.domain
    return as_target(target, check_norms=False), domain


def _target_module(tgt) -> nn.Sequential:
    from ..data.planted import network_from_layers

    return network_from_layers([(w, tgt.bias(i)) for i, w in enumerate(tgt.weights)])


def _hidden_arg(hidden, dims: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise InvalidArgumentError(f"hidden must be a sequence of hidden widths, got {hidden!r}")
    out = []
    for k, h in enumerate(hidden):
        if isinstance(h, (bool, np.bool_)) or not isinstance(h, numbers.Integral):
            raise InvalidArgumentError(f"hidden[{k}] must be an integer, got {h!r}")
        out.append(int(h))
    if len(out) != len(dims) - 2:
        raise InvalidArgumentError(f"hidden has {len(out)} widths; the target (dims {list(dims)}) has "
                                   f"{len(dims) - 2} hidden layers, and planting keeps its depth")
    for k, (h, d) in enumerate(zip(out, dims[1:-1])):
        if h < d:
            raise InvalidArgumentError(f"hidden[{k}] = {h} is narrower than the target's layer {k} ({d} units): "
                                       "every target unit needs its own source unit")
    return tuple(out)


def _sigma_arg(sigma, init: str, shapes) -> tuple[float, ...]:
    """Per layer σ_l: the weight law's scale (``sigma`` for ``"uniform"``, default 1)."""
    L = len(shapes)
    if init != "uniform":
        if sigma is not None:
            raise InvalidArgumentError(f"sigma= sets the scale of init='uniform'; init={init!r} fixes its own")
        return tuple(float(init_law(init, fan_in)[1]) for _, fan_in in shapes)
    if sigma is None:
        return (1.0,) * L
    if isinstance(sigma, numbers.Real) and not isinstance(sigma, (bool, np.bool_)):
        return (positive_float("sigma", sigma),) * L
    if isinstance(sigma, (str, bytes)) or not hasattr(sigma, "__iter__"):
        raise InvalidArgumentError(f"sigma must be None, a positive real or one per layer, got {sigma!r}")
    vals = tuple(positive_float(f"sigma[{k}]", v) for k, v in enumerate(sigma))
    if len(vals) != L:
        raise InvalidArgumentError(f"sigma has {len(vals)} values for {L} layers")
    return vals


def _source_plan(dims, init: str, sigmas, biases: bool, domain, match: str) -> Plan:
    """The source network's plan, built as :func:`~sltheory.search.networks.random_mlp` builds one."""
    from ..domains import is_default

    shapes = tuple((dims[t + 1], dims[t]) for t in range(len(dims) - 1))
    if init == "uniform":
        laws = tuple(("uniform", s) for s in sigmas)
    else:
        laws = tuple(init_law(init, fan_in) for _, fan_in in shapes)
    layer_biases: tuple = ()
    if biases:
        with np.errstate(over="ignore", under="ignore"):
            prods = np.cumprod(np.array(sigmas, dtype=np.float64))
        if not np.all(np.isfinite(prods) & (prods > 0)):
            raise InvalidArgumentError(f"the bias scales Π_(k≤l) σ_k = {prods.tolist()} leave (0, ∞) in float64: "
                                       "choose σ_l nearer 1")
        layer_biases = tuple(("interval", -float(p), float(p)) for p in prods)
    return Plan(construction=MLP, target_shapes=(), layer_shapes=shapes, pairs=(), n=(), signed=(), eps=None,
                delta=None, constant=None,
                options={"init": init, "dims": dims, "sigma": tuple(sigmas), "planting": "plant_n_seek",
                         "match": match},
                distribution=laws[0], layer_distributions=laws, layer_biases=layer_biases,
                domain=None if is_default(domain) else domain.spec())


def plant(target, hidden, *, seed: int = 0, init: str = "uniform", sigma=None, domain=None, biases=None,
          match: str = "paper") -> PlantedNetwork:
    """Plant ``target`` in a random network of widths (d_0, *hidden*, d_L): Plant 'n' Seek (module docstring).

    ``target``: an ``nn.Sequential`` of ``nn.Linear`` (with or without bias) and ``nn.ReLU``, a list of
    ``W`` or ``(W, b)``, or a :class:`~sltheory.data.planted.PlantedTarget` (its domain is then the default).
    ``hidden``: the source's hidden widths, one per target hidden layer (same depth), each ≥ the
    target's. ``seed``: the source's weights, layer t from ``SeedSequence(seed, spawn_key=(t,))`` as every
    :class:`~sltheory.network.RandomNetwork`; biases from ``(t, 1)``. ``init``: ``"uniform"``
    (U[−σ_l, σ_l), σ_l = ``sigma``: None → 1, a real, or one per layer) or one of
    :data:`~sltheory.search.networks.INITS` (σ_l its scale). Biases U[−Π_{k≤l}σ_k, Π_{k≤l}σ_k) on every
    layer when ``biases`` (None: iff the target has a bias somewhere). ``domain``: stored in the plan
    (the inputs a search on it is certified over; None: the target's, else the unit ball).
    ``match``: ``"paper"`` or ``"official"`` (:func:`match_neuron`).

    Returns a :class:`PlantedNetwork` whose ``ticket_network()`` equals the target up to float64
    rounding; its plan is marked ``options["planted"] = True`` (the weights are no longer the plan's sample).
    Typed errors before any work: InvalidArgumentError (hidden of the wrong depth or narrower than the
    target, bad seed / init / sigma / match / biases), TargetError (the target is no plain ReLU network,
    or non-finite), NetworkTooLargeError.
    """
    from ..domains import as_domain

    tgt, default_domain = _target_of(target)
    dims = tgt.dims
    hidden = _hidden_arg(hidden, dims)
    seed = nonnegative_int("seed", seed)
    if init not in INITS:
        raise InvalidArgumentError(f"unknown init {init!r}; available: {list(INITS)}")
    if match not in MATCH_RULES:
        raise InvalidArgumentError(f"unknown match {match!r}; available: {list(MATCH_RULES)}")
    if biases is None:
        biases = tgt.has_biases
    elif not isinstance(biases, (bool, np.bool_)):
        raise InvalidArgumentError(f"biases must be None, True or False, got {biases!r}")
    biases = bool(biases)
    if not biases and any(b is not None and np.any(b != 0) for b in tgt.biases):
        raise InvalidArgumentError("biases=False but the target has nonzero biases: a bias-free source cannot "
                                   "hold them")
    src_dims = (dims[0],) + hidden + (dims[-1],)
    size = sum(a * b for a, b in zip(src_dims[:-1], src_dims[1:]))
    if size > MAX_PLANT_WEIGHTS:
        raise NetworkTooLargeError(f"the source network would hold {size:,} weights, above {MAX_PLANT_WEIGHTS:,}",
                                   required_weights=size, limit=MAX_PLANT_WEIGHTS)
    dom = as_domain(domain if domain is not None else default_domain)
    dom.check_dim(dims[0], "the target")
    shapes = tuple((src_dims[t + 1], src_dims[t]) for t in range(len(src_dims) - 1))
    sigmas = _sigma_arg(sigma, init, shapes)
    plan = _source_plan(src_dims, init, sigmas, biases, dom, match)
    net = RandomNetwork(plan, seed)
    masks, bias_masks, units, scales, out_scale = _plant_into(net, tgt, match)
    plan = dataclasses.replace(plan, options={**plan.options, "planted": True})
    return PlantedNetwork(net, plan=plan, planted_masks=masks, planted_bias_masks=bias_masks,
                          planted_target=_target_module(tgt), output_scale=out_scale, planted_units=units,
                          unit_scales=scales)


def _plant_into(net: RandomNetwork, tgt, match: str):
    """Overwrite ``net``'s weights (in place) with ``tgt``'s neurons; return the masks, bias masks, planted
    units and scales per layer, and the output scale."""
    lins = net.linears()
    L = len(lins)
    rows = np.arange(tgt.dims[0])          # source units holding the target's units of the layer below
    s_in = np.ones(tgt.dims[0])            # their scales
    masks, bias_masks, units, scales = [], [], [], []
    out_scale = 1.0
    with torch.no_grad():
        for t, lin in enumerate(lins):
            V = lin.weight.detach().numpy()                       # a view: writes go to the network
            beta = None if lin.bias is None else lin.bias.detach().numpy()
            W, b = tgt.weights[t], tgt.bias(t)
            theta_w = W / s_in[None, :]                            # the target in the source's coordinates
            mask = np.zeros(V.shape, dtype=bool)
            bmask = None if beta is None else np.zeros(beta.shape, dtype=bool)
            d_out = W.shape[0]
            cols = [np.flatnonzero(W[i]) for i in range(d_out)]
            has_b = [b is not None and b[i] != 0 for i in range(d_out)]

            def theta(i):
                parts = ([b[i:i + 1]] if has_b[i] else []) + [theta_w[i, cols[i]]]
                return np.concatenate(parts)

            def entries(k, i):          # source neurons k (array), at target neuron i's positions
                parts = ([beta[k][:, None]] if has_b[i] else []) + [V[np.ix_(k, rows[cols[i]])]]
                return np.concatenate(parts, axis=1)

            if t < L - 1:
                free = np.ones(V.shape[0], dtype=bool)
                unit, scale = np.zeros(d_out, dtype=np.int64), np.ones(d_out)
                for i in range(d_out):
                    cand = np.flatnonzero(free)
                    k_local, s = match_neuron(theta(i), entries(cand, i), match)
                    unit[i], scale[i] = cand[k_local], s
                    free[unit[i]] = False
            else:   # output layer: neurons fixed, one power-of-two scale c for all
                unit = np.arange(d_out)
                logs = []
                for i in range(d_out):
                    th, m = theta(i), entries(unit[i:i + 1], i)[0]
                    tn, mn = float(np.linalg.norm(th)), float(np.linalg.norm(m))
                    if tn > 0 and mn > 0 and math.isfinite(tn) and math.isfinite(mn):
                        logs.append(math.log2(mn) - math.log2(tn))
                e = int(round(sum(logs) / len(logs))) if logs else 0
                e = max(-MAX_SCALE_EXPONENT, min(MAX_SCALE_EXPONENT, e))
                c = math.ldexp(1.0, e)
                out_scale = math.ldexp(1.0, -e)
                scale = np.full(d_out, c)
            for i in range(d_out):
                k, s, J = unit[i], scale[i], cols[i]
                V[k, rows[J]] = s * theta_w[i, J]
                mask[k, rows[J]] = True
                if has_b[i]:
                    if beta is None:   # pragma: no cover - excluded by plant's biases check
                        raise RandomNetworkError("a nonzero target bias needs a source bias")
                    beta[k] = s * b[i]
                    bmask[k] = True
            if not np.all(np.isfinite(V)) or (beta is not None and not np.all(np.isfinite(beta))):
                raise TargetError(f"planting layer {t} overflowed float64 (scales up to {np.max(scale):.3g}): scale "
                                  "the target or sigma nearer 1", layer=t)
            masks.append(torch.from_numpy(mask))
            bias_masks.append(None if bmask is None else torch.from_numpy(bmask))
            units.append(tuple(int(k) for k in unit))
            scales.append(scale.copy())
            rows, s_in = unit, scale
    has_bias = any(lin.bias is not None for lin in lins)
    return tuple(masks), (tuple(bias_masks) if has_bias else None), tuple(units), tuple(scales), out_scale


def plant_construction(target, construction: str = "subset_sum", *, eps=None, n=None, seed: int = 0, domain=None,
                       delta: float = 0.05) -> PlantedNetwork:
    """Ours: the random network a construction samples for ``target`` contains a known ε-ticket.

    ``sltheory.random_network(target, construction, eps=eps, n=n, seed=seed, domain=domain, delta=delta)``,
    then ``sltheory.approximate(target, net, eps)``; returns that same network (its modules, plan and seed,
    weights untouched: the plan is not marked planted) as a :class:`PlantedNetwork` with the ticket's masks
    as ``planted_masks`` / ``planted_bias_masks``, ``output_scale`` 1.0, and the certified bound as
    ``planted_error_bound`` (≤ ``eps`` when given). The target must satisfy the construction's assumptions
    (‖W_i‖₂ ≤ 1; biases only with a construction that supports them): the library's typed errors otherwise.
    A :class:`~sltheory.data.planted.PlantedTarget` gives its domain as the default.
    """
    from ..api import approximate, random_network

    tgt, default_domain = _target_of(target)
    if domain is None:
        domain = default_domain
    module = _target_module(tgt)
    net = random_network(module, construction=construction, eps=eps, n=n, seed=seed, domain=domain, delta=delta)
    ticket = approximate(module, net, eps)
    return PlantedNetwork(net, planted_masks=tuple(m.clone() for m in ticket.masks), planted_target=module,
                          planted_bias_masks=None if ticket.bias_masks is None else
                          tuple(None if bm is None else bm.clone() for bm in ticket.bias_masks),
                          output_scale=1.0, planted_error_bound=float(ticket.error_bound))


# ---------------------------------------------------------------------------------------------- overlap


def _ratio(num: int, den: int, same: bool) -> float:
    """num/den; 0/0 is 1.0 when the two sets compared are equal (both empty), else 0.0."""
    if den == 0:
        return 1.0 if same else 0.0
    return num / den


def _counts(found: int, planted: int, inter: int) -> dict:
    union = found + planted - inter
    same = inter == found == planted
    return {"kept": found, "planted": planted, "intersection": inter, "union": union,
            "precision": _ratio(inter, found, same), "recall": _ratio(inter, planted, same),
            "jaccard": _ratio(inter, union, same)}


def mask_overlap(masks, planted_masks) -> dict:
    """How much of a planted ticket a mask found: per layer and in total.

    ``masks`` (A, found) and ``planted_masks`` (P): sequences of bool arrays or tensors of equal shapes, one
    per layer (entries None count as empty). Returns ``{"layers": [...], "total": {...}}``, each a dict with
    ``kept`` = |A|, ``planted`` = |P|, ``intersection`` = |A∩P|, ``union`` = |A∪P|, ``precision`` = |A∩P|/|A|,
    ``recall`` = |A∩P|/|P| and ``jaccard`` = |A∩P|/|A∪P|. An empty denominator gives 1.0 when A and P are
    equal (both empty) and 0.0 otherwise (never ZeroDivisionError), so identical masks score 1, 1, 1.
    """
    def as_bool(m, other):
        if m is None:
            return None
        if isinstance(m, torch.Tensor):
            m = m.detach().cpu().numpy()
        try:
            a = np.asarray(m)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"masks must be bool arrays: {exc}") from None
        if a.dtype != bool:
            raise InvalidArgumentError(f"masks must be bool arrays, got dtype {a.dtype}")
        return a

    if isinstance(masks, (str, bytes)) or not hasattr(masks, "__len__") \
            or isinstance(planted_masks, (str, bytes)) or not hasattr(planted_masks, "__len__"):
        raise InvalidArgumentError("masks and planted_masks must be sequences of bool arrays, one per layer")
    if len(masks) != len(planted_masks):
        raise InvalidArgumentError(f"masks has {len(masks)} layers, planted_masks {len(planted_masks)}")
    layers = []
    tot = [0, 0, 0]
    for t, (a, p) in enumerate(zip(masks, planted_masks)):
        a, p = as_bool(a, p), as_bool(p, a)
        if a is not None and p is not None and a.shape != p.shape:
            raise InvalidArgumentError(f"layer {t}: mask shape {a.shape} differs from the planted {p.shape}")
        fa = 0 if a is None else int(a.sum())
        fp = 0 if p is None else int(p.sum())
        inter = 0 if a is None or p is None else int(np.logical_and(a, p).sum())
        layers.append(_counts(fa, fp, inter))
        tot[0] += fa
        tot[1] += fp
        tot[2] += inter
    return {"layers": layers, "total": _counts(*tot)}
