"""The Ticket: a pruned random network with its certified error bound."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..certificate.bound import Certificate
from ..constructions import registry
from ..constructions._pairs import MAX_RANDOM_WEIGHTS
from ..constructions.base import certify_ticket
from ..errors import CertificateError, InvalidArgumentError, NetworkTooLargeError, TicketFileError
from ..network import (
    Plan,
    RandomNetwork,
    ScaledOutput,
    masked_copy,
    own_behaviour,
    plain_relu_network,
    sample_plan_layer,
    slot_columns,
)
from ..targets import as_target
from . import fileformat
from .compact import Compact, TicketNetwork, as_is_layers, network_units

#: Default cap on the edges :meth:`Ticket.to_networkx` builds (networkx keeps a Python dict per
#: edge: about 0.5–1 KB each, so 10⁶ edges ≈ 1 GB). Raise it with ``max_edges=``.
MAX_GRAPH_EDGES = 1_000_000


@dataclass(frozen=True)
class Ticket:
    """A strong lottery ticket.

    ``network``: the ticket's network, a :class:`~sltheory.ticket.compact.TicketNetwork` (an
    ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU``): the random network restricted to its
    **live units** (a unit with no kept incoming weight and no kept bias, or no kept outgoing
    weight, is removed: it changes no output), built from the random weights and the masks without
    a full-width copy, so evaluating it costs what the kept structure needs however wide the random
    network is (followed by a :class:`ScaledOutput` only when built with ``rescale=True``). It
    computes exactly what the full-width masked random network computes (up to the order of
    floating-point sums: the masked network sums zeros too). Its forward accepts any floating
    dtype and device: the input is cast to the network's dtype and device (float64 on the CPU as
    built), and the output cast back to the input's dtype and device; ``ticket.to(torch.float32)``
    (or a device) gives a ticket whose network computes there. :meth:`compact` returns it as a plain
    ``nn.Sequential`` with its parameter count; :meth:`pruned_network` the full-width random network
    with ``torch.nn.utils.prune`` masks.

    ``masks``: one bool tensor per nn.Linear of the random network, of its full shape.
    ``bias_masks``: None when no random linear has a bias; else one entry per random linear,
    None for a linear without a bias, a bool tensor (out,) of the kept biases otherwise.

    ``error_bound``: certified upper bound on sup over the plan's input domain (the unit ball
    by default) of ‖target(x) − network(x)‖₂ where both networks are evaluated in **float64**
    (their rounding included; the target's weights as given, which a float32 or float16 target's
    are exactly in float64): ``stats["precision"]`` says so (``"float64"``). A float32 input is
    exact in float64, so evaluating the float64 network on it adds only the final cast's rounding
    (half a float32 ulp per output). Evaluating either network in lower precision
    (``ticket.to(torch.float32)``) adds that precision's own rounding, not covered (about K·u per
    layer, K inputs per neuron, u = 2⁻²⁴ in float32, 2⁻¹¹ in float16: see
    :func:`sltheory.adversarial_error`, which evaluates both in float64 for that reason).
    ``stats``: counts and ratios.
    """

    network: nn.Module
    masks: tuple[torch.Tensor, ...]
    error_bound: float
    stats: dict
    construction: str
    #: The certificate ``error_bound`` comes from: a construction's :class:`Certificate`; for a searched
    #: ticket (:mod:`sltheory.search`) the smaller of that and a
    #: :class:`~sltheory.certificate.networks.NetworksCertificate`, or None without a target
    #: (typed as the constructions' kind; the search's are duck-compatible where tickets read them:
    #: ``error_bound``, ``method``, ``domain``)
    certificate: Certificate = field(repr=False)
    #: The random network's plan and seed (set by :func:`sltheory.approximate`; ``None`` for a
    #: ticket built by hand): what :meth:`to_networkx` reads the layer roles and pruned weights from.
    plan: Plan | None = field(default=None, repr=False)
    seed: int | None = field(default=None, repr=False)
    #: Kept biases (see the class docstring); None: no random linear has a bias.
    bias_masks: tuple[torch.Tensor | None, ...] | None = field(default=None, repr=False)

    def __post_init__(self):
        linears = [m for m in self.network.modules() if isinstance(m, nn.Linear)]
        if len(linears) != len(self.masks):
            raise InvalidArgumentError(f"{len(self.masks)} masks for {len(linears)} linear layers")
        for t, mask in enumerate(self.masks):
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2:
                raise InvalidArgumentError(f"mask {t} must be a 2-D torch.bool tensor, got "
                                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
        full_width = not isinstance(self.network, TicketNetwork) or not self.network.units
        if full_width:
            for t, (mask, lin) in enumerate(zip(self.masks, linears)):
                if tuple(mask.shape) != tuple(lin.weight.shape):
                    raise InvalidArgumentError(f"mask {t} has shape {tuple(mask.shape)}, layer "
                                               f"{tuple(lin.weight.shape)}")
        else:
            units: tuple[torch.Tensor, ...] = self.network.units   # type: ignore[assignment]
            widths = [int(self.masks[0].shape[1])] + [int(m.shape[0]) for m in self.masks] if self.masks else []
            if len(units) != len(self.masks) + 1:
                raise InvalidArgumentError(f"the network's unit maps cover {len(units)} levels, the masks "
                                           f"{len(self.masks) + 1}")
            for lv, (u, w) in enumerate(zip(units, widths)):
                if u.ndim != 1 or (u.numel() and (int(u.min()) < 0 or int(u.max()) >= w
                                                  or bool((u[1:] <= u[:-1]).any()))):
                    raise InvalidArgumentError(f"unit map {lv} is not sorted, unique indices below {w}")
            if units and (len(units[0]) != widths[0] or len(units[-1]) != widths[-1]):
                raise InvalidArgumentError("the network must take every input and give every output of the "
                                           "random network")
            for t, (mask, lin) in enumerate(zip(self.masks, linears)):
                if tuple(lin.weight.shape) != (len(units[t + 1]), len(units[t])):
                    raise InvalidArgumentError(f"layer {t} has shape {tuple(lin.weight.shape)}, its unit maps "
                                               f"{(len(units[t + 1]), len(units[t]))}")
            for t in range(len(self.masks) - 1):
                if int(self.masks[t].shape[0]) != int(self.masks[t + 1].shape[1]):
                    raise InvalidArgumentError(f"mask {t} has {self.masks[t].shape[0]} rows, mask {t + 1} "
                                               f"{self.masks[t + 1].shape[1]} columns")
        if self.bias_masks is not None:
            if len(self.bias_masks) != len(self.masks):
                raise InvalidArgumentError(f"{len(self.bias_masks)} bias masks for {len(self.masks)} linear layers")
            for t, (bm, mask) in enumerate(zip(self.bias_masks, self.masks)):
                if bm is not None and (not isinstance(bm, torch.Tensor) or bm.dtype != torch.bool
                                       or tuple(bm.shape) != (int(mask.shape[0]),)):
                    raise InvalidArgumentError(f"bias mask {t} must be None or a torch.bool tensor of shape "
                                               f"({int(mask.shape[0])},)")
        if not isinstance(self.stats, dict):
            raise InvalidArgumentError(f"stats must be a dict, got {type(self.stats).__name__}")
        if not self.error_bound >= 0:
            raise InvalidArgumentError(f"error_bound must be ≥ 0, got {self.error_bound}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``network(x)``: see the class docstring for dtypes and devices."""
        return self.network(x)

    # ------------------------------------------------------------------ as a torch model
    @property
    def precision(self) -> str:
        """The precision ``error_bound`` holds in: ``"float64"`` (both networks evaluated in float64,
        rounding included), whatever dtype the network computes in now (:attr:`dtype`)."""
        return str(self.stats.get("precision", "float64"))

    @property
    def dtype(self) -> torch.dtype:
        """The dtype ``network`` computes in (float64 as built; ``ticket.to(dtype)`` changes it)."""
        for p in self.network.parameters():
            return p.dtype
        return torch.float64

    @property
    def device(self) -> torch.device:
        for p in self.network.parameters():
            return p.device
        return torch.device("cpu")

    def to(self, *args, **kwargs) -> Ticket:
        """A ticket whose network computes in the given dtype and/or on the given device (the
        arguments of ``nn.Module.to``); its masks on that device. Nothing of ``self`` changes (the
        network is copied). The certified bound still holds for the float64 evaluation only
        (:attr:`precision`): a float32 or float16 network adds its own rounding (class docstring).
        :meth:`recertify` and :meth:`save` need the float64 ticket."""
        import copy
        import dataclasses

        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise InvalidArgumentError(f"a ticket computes in a floating dtype, not {dtype}")
        network = copy.deepcopy(self.network).to(*args, **kwargs)
        masks, bias_masks = self.masks, self.bias_masks
        if device is not None:
            masks = tuple(m.to(device) for m in masks)
            if bias_masks is not None:
                bias_masks = tuple(None if b is None else b.to(device) for b in bias_masks)
        return dataclasses.replace(self, network=network, masks=masks, bias_masks=bias_masks)

    def compact(self) -> Compact:
        """The ticket's network as a plain ``nn.Sequential`` of ``nn.Linear`` / ``nn.ReLU`` (biases
        where a live unit keeps one; the ``ScaledOutput`` of a ``rescale=True`` ticket kept as a
        module, not folded into the weights, so that the outputs stay the same bits), a copy, with
        its parameter count and the unit maps (:class:`~sltheory.ticket.compact.Compact`). Its
        outputs on float64 inputs are those of ``ticket.network`` bit for bit; it takes inputs of
        its own dtype only (it is a plain module: ``state_dict``, ``torch.export``, ONNX)."""
        import copy

        net = nn.Sequential(*copy.deepcopy(list(self.network)))   # type: ignore[call-overload]
        return Compact(net, int(sum(p.numel() for p in net.parameters())),
                       network_units(self.network, self.masks))

    def pruned_network(self, *, prune_buffers: bool = True) -> nn.Sequential:
        """The full-width random network, re-sampled from (plan, seed), with the ticket's masks.

        ``prune_buffers=True``: every random ``nn.Linear`` pruned with
        ``torch.nn.utils.prune.custom_from_mask`` (``weight_orig`` / ``weight_mask``, and
        ``bias_orig`` / ``bias_mask`` for a linear with a bias), the form torch's pruning tools read;
        ``False``: plain linears holding the masked weights (0 where pruned). Float64, on the
        masks' device, followed by the ticket's ``ScaledOutput`` when it has one. It computes what
        the compact ``network`` computes (its sums include the pruned zeros, so on real inputs
        the two agree to the last bits, not necessarily in them). It holds every random weight:
        for very wide random networks prefer ``network``. Needs the plan and seed
        (InvalidArgumentError otherwise)."""
        from torch.nn.utils import prune

        if self.plan is None or self.seed is None:
            raise InvalidArgumentError("this ticket carries no plan/seed of its random network (build it with "
                                       "sltheory.approximate), so its random network cannot be re-sampled")
        if not isinstance(prune_buffers, bool):
            raise InvalidArgumentError(f"prune_buffers must be a bool, got {prune_buffers!r}")
        rand = RandomNetwork(self.plan, self.seed, device=self.masks[0].device)
        layers: list[nn.Module]
        if prune_buffers:
            for t, lin in enumerate(rand.linears()):
                lin.weight.requires_grad_(False)
                prune.custom_from_mask(lin, "weight", self.masks[t])
                if lin.bias is not None:
                    bm = None if self.bias_masks is None else self.bias_masks[t]
                    prune.custom_from_mask(lin, "bias", torch.zeros_like(lin.bias, dtype=torch.bool) if bm is None
                                           else bm.to(lin.bias.device))
            layers = list(rand)
        else:
            layers = list(masked_copy(rand, list(self.masks), None if self.bias_masks is None
                                      else list(self.bias_masks)))
        scale = _output_scale(self.network)
        if scale != 1.0:
            layers.append(ScaledOutput(scale))
        return nn.Sequential(*layers)

    def save(self, path):
        """Write this ticket compactly to ``path``: plan, seed and the sorted flat indices of the
        kept weights (no weights), with error_bound, stats and the certificate, in one ``.npz``
        with a JSON header (no pickle) and one SHA-256 over the header and the kept indices (an
        edited file is refused); atomic. ``sltheory.load_ticket(path)`` re-samples the random
        network and reproduces ``network`` bit for bit (a float64 ticket: InvalidArgumentError
        after ``to(torch.float32)``) (see :mod:`sltheory.ticket.fileformat`); the bound it
        reads is a stored claim, which :meth:`recertify` recomputes. Returns the path."""
        return save_ticket(self, path)

    def recertify(self, target, *, method: str = "auto") -> Certificate:
        """The certificate recomputed from ``target`` and the weights this ticket carries.

        ``error_bound`` and ``certificate`` are what the ticket was built with — for a ticket read
        from a file, a *stored claim*. This recomputes the bound from scratch: the target is
        validated as :func:`sltheory.approximate` did (norm assumption and rescaling in the
        network mode, actual norms in the per-weight mode), the weights and biases are read from
        ``network`` as it is (every value it holds, in full-width coordinates through its unit
        maps; the kept weights of dead units, which it does not hold and which change no output,
        re-sampled from plan and seed), and the construction's own certificate over the plan's
        domain (:func:`sltheory.constructions.base.certify_ticket`) is computed from them. Compare
        ``ticket.recertify(target).error_bound`` with ``ticket.error_bound``; nothing is changed.
        Raises :class:`~sltheory.errors.CertificateError` when the ticket carries no plan, or when
        ``target`` does not fit it (shapes, or the output scale that rescaling gives).
        """
        import dataclasses

        import scipy.sparse as sp

        if self.plan is None:
            raise CertificateError("this ticket carries no plan of its random network (build it with "
                                   "sltheory.approximate), so its certificate cannot be recomputed")
        linears, net_scale = _network_layout(self.network)
        if len(linears) != len(self.plan.layer_shapes):
            raise CertificateError(f"the network has {len(linears)} linear layers, the plan "
                                   f"{len(self.plan.layer_shapes)}")
        for t, (mask, shape) in enumerate(zip(self.masks, self.plan.layer_shapes)):
            if tuple(mask.shape) != tuple(shape):
                raise CertificateError(f"mask {t} has shape {tuple(mask.shape)}, the plan's layer {tuple(shape)}")
        per_weight = self.stats.get("mode") == "per_weight"
        tgt = as_target(target, check_norms=not per_weight, rescale=not per_weight and net_scale != 1.0)
        if tgt.shapes != tuple(tuple(s) for s in self.plan.target_shapes):
            raise CertificateError(f"the ticket was built for target shapes {self.plan.target_shapes}, got "
                                   f"{tgt.shapes}")
        S = tgt.output_scale
        if not abs(S - net_scale) <= 1e-9 * S:
            raise CertificateError(f"the ticket's network scales its output by {net_scale:.17g}, this target by "
                                   f"{S:.17g} (rescale=True): it is not the target the ticket was built for")
        # the network as it is (every weight and bias it holds, not only those its masks keep), in
        # float64 and full-width coordinates; the kept weights of dead units (which the compact
        # network does not hold, and which change no output) re-sampled from (plan, seed)
        try:
            layers = as_is_layers(self.network, self.masks, self.bias_masks, plan=self.plan, seed=self.seed)
        except InvalidArgumentError as exc:
            raise CertificateError(str(exc)) from exc
        mats, biases_or_none = [], []
        for (out_f, in_f), mask, lay in zip(self.plan.layer_shapes, self.masks, layers):
            r, c = torch.nonzero(mask.detach().cpu()).numpy().T
            mats.append(sp.csr_matrix((np.concatenate([lay.kept, lay.extra]),
                                       (np.concatenate([r, lay.extra_rows]), np.concatenate([c, lay.extra_cols]))),
                                      shape=(out_f, in_f)))
            biases_or_none.append(lay.bias)
        spec = registry.get(self.plan.construction)
        biases = biases_or_none if any(b is not None for b in biases_or_none) else None
        cert = certify_ticket(spec, tgt, self.plan, mats, biases=biases, method=method)
        if net_scale != S:
            # network = net_scale·g̃ against f = S·f̃: add |net_scale − S|·sup‖g̃‖, sup‖g̃‖ ≤ Π‖W̃_i‖ + bound/S
            extra = abs(net_scale - S) * (float(np.prod(tgt.norms)) + cert.error_bound / S) * (1 + 1e-9)
            cert = dataclasses.replace(cert, error_bound=cert.error_bound + extra,
                                       float_slack=cert.float_slack + extra)
        return cert

    def to_networkx(self, *, kept_only: bool = False, max_edges: int = MAX_GRAPH_EDGES):
        """The ticket as a ``networkx.DiGraph`` (a DAG), for one's own analyses.

        **Nodes**: one per neuron of the random network (all of them, also with ``kept_only``),
        keyed ``(layer, index)`` with layer 0 the inputs and layer ℓ the outputs of random
        nn.Linear ℓ − 1. Attributes: ``layer``, ``index``, ``role`` (``"input"``, ``"hidden"`` or
        ``"output"``) and ``target_neuron``: ``(level, m)`` when the neuron carries (a copy of)
        neuron m of the target's level ``level`` (0 = the inputs; Burkholz's copies are contiguous:
        row r of a copy layer is a copy of neuron r // ρ), ``None`` for a construction's auxiliary
        units (the hidden units of a pair, Burkholz's univariate layer).

        **Edges**: ``(layer, in) → (layer + 1, out)`` for random weight ``[out, in]`` of nn.Linear
        ``layer``: every random weight, or with ``kept_only=True`` only the kept ones. Attributes:
        ``weight`` (the random value, a float: the same for pruned edges, which the network holds
        as 0), ``kept`` (the mask, a bool), ``layer`` (which nn.Linear, 0-based) and ``serves``.

        ``serves``: a tuple, sorted, of the target weights ``(t, o, j)`` — W_t[o, j] with t the
        0-based index of the target layer (``target_shapes[t]``), o its output and j its input —
        that the edge carries through *kept paths*; ``()`` when it carries none (every pruned
        edge, and a kept edge on no complete kept path). A kept path is what a construction makes
        of a target weight: for a pair (depth-2l constructions, Burkholz's first two layers) the
        path x_j → hidden k → o, kept in both sub-layers, serves (t, o, j), so a second-sub-layer
        edge k → o serves (t, o, j) for the kept input j of k (exactly one in every registered
        construction) and a first-sub-layer edge j → k serves (t, o, j) for every kept k → o (a
        unit shared by several outputs serves several target weights); in Burkholz's copy layers
        the kept edge from copy c of neuron j to copy k of neuron m serves (t, m, j) alone. Every
        kept edge of a registered construction's ticket serves at least one target weight, and
        Σ over kept paths of the product of their weights, grouped by (t, o, j) (and by output
        copy), is the ticket's effective map (see ``tests/test_graph.py``). With ``rescale=True``
        the target weights served are those of the rescaled target W_t/‖W_t‖₂.

        **Graph attributes**: ``construction``, ``target_shapes``, ``layer_shapes`` (out, in),
        ``n``, ``seed``, ``error_bound``, ``output_scale``, ``kept_weights``, ``random_weights``,
        ``kept_only``. Values are Python ints, floats, bools, strings and tuples (JSON-friendly:
        see :func:`sltheory.plotting.graph_to_json`).

        Cost: vectorised in torch/numpy up to the Python loop networkx needs (one dict per edge:
        ~2–7 µs of CPU and ~0.7 KB each). ``kept_only=True`` reads the kept weights with
        ``torch.nonzero`` on the masks; ``kept_only=False`` re-samples every random layer from
        ``(plan, seed)`` and builds every edge. Measured on a subset_sum ticket of a 64-128-10
        target (ε = 0.01): 57k kept of 0.97M random weights, ``kept_only=True`` 0.4 s and 39 MB,
        ``kept_only=False`` 2.2 s (CPU time). Above ``max_edges`` edges (default
        ``MAX_GRAPH_EDGES`` = 10⁶) it raises :class:`~sltheory.errors.NetworkTooLargeError` with
        the count, before building anything. Requires networkx (``pip install networkx``).
        """
        return _ticket_graph(self, kept_only=kept_only, max_edges=max_edges)


def _network_layout(network: nn.Module) -> tuple[list[nn.Linear], float]:
    """The linears of a ticket's network and its output scale, checking that it is what the
    certificate models (:func:`sltheory.network.plain_relu_network`: float64 ``nn.Linear`` (with or
    without a bias) and ``nn.ReLU``, with at most one :class:`ScaledOutput` at the end whose scale
    is a finite float > 0), whether a :class:`TicketNetwork` (exactly that class: its forward is
    Sequential's, between casts at the edges) or a plain ``nn.Sequential``; CertificateError
    otherwise."""
    view = network
    if type(network) is TicketNetwork:
        why = own_behaviour(network, TicketNetwork)
        if why is not None:
            raise CertificateError(f"the ticket's network is not supported: {why}")
        view = nn.Sequential(*network)
    linears, tail = plain_relu_network(view, what="the ticket's network", error=CertificateError,
                                       tail=ScaledOutput, allow_bias=True)
    scale = 1.0
    if tail is not None:
        scale = tail.scale
        if not isinstance(scale, float) or not (np.isfinite(scale) and scale > 0):
            raise CertificateError(f"the network's output scale {scale!r} is not a finite float > 0")
    return linears, scale


def _output_scale(network: nn.Module) -> float:
    scaled = [m for m in network.modules() if isinstance(m, ScaledOutput)]
    return float(scaled[-1].scale) if scaled else 1.0


def _import_networkx():
    try:
        import networkx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Ticket.to_networkx needs networkx: pip install 'networkx>=3' "
                          "(or install sltheory with its [test] extra)") from exc
    return networkx


def _layer_roles(plan: Plan) -> list[tuple]:
    """Per random linear: (role, t, ρ_in, ρ_out) with role "first" / "second" (of a pair) or
    "direct" (a copy layer), t the target layer it implements, ρ the copies per target neuron on
    the side that carries target neurons (1 where the side is a pair's hidden layer)."""
    roles: list = [None] * len(plan.layer_shapes)
    for t, (pair, (d_out, d_in)) in enumerate(zip(plan.pairs, plan.target_shapes)):
        kinds: tuple[tuple[str, int], ...]
        if len(pair) == 2 and pair[1] == pair[0] + 1:
            kinds = (("first", pair[0]), ("second", pair[1]))
        elif len(pair) == 1:
            kinds = (("direct", pair[0]),)
        else:
            raise InvalidArgumentError(f"target layer {t} is implemented by random layers {pair}: to_networkx "
                                       "knows pairs of consecutive layers and single (copy) layers only")
        for kind, idx in kinds:
            out_f, in_f = plan.layer_shapes[idx]
            rho_in = in_f // d_in if kind in ("first", "direct") else 1
            rho_out = out_f // d_out if kind in ("second", "direct") else 1
            if (kind != "second" and rho_in * d_in != in_f) or (kind != "first" and rho_out * d_out != out_f):
                raise InvalidArgumentError(f"random layer {idx} of shape {(out_f, in_f)} is not made of copies "
                                           f"of target layer {t}'s neurons {(d_out, d_in)}")
            roles[idx] = (kind, t, rho_in, rho_out)
    if any(r is None for r in roles):
        raise InvalidArgumentError(f"random layers {[i for i, r in enumerate(roles) if r is None]} implement "
                                   "no target layer in the plan")
    return roles


def _group(keys: list[int], values: list[int], size: int) -> list[list[int]]:
    """values grouped by key (0 ≤ key < size), each group in the order given."""
    groups: list[list[int]] = [[] for _ in range(size)]
    for k, v in zip(keys, values):
        groups[k].append(v)
    return groups


def _ticket_graph(ticket: Ticket, *, kept_only: bool, max_edges: int):
    nx = _import_networkx()
    if not isinstance(kept_only, bool):
        raise InvalidArgumentError(f"kept_only must be a bool, got {kept_only!r}")
    if isinstance(max_edges, bool) or not isinstance(max_edges, int) or max_edges < 1:
        raise InvalidArgumentError(f"max_edges must be a positive int, got {max_edges!r}")
    plan = ticket.plan
    if plan is None or (not kept_only and ticket.seed is None):
        raise InvalidArgumentError("this ticket carries no plan/seed of its random network (build it with "
                                   "sltheory.approximate), so its graph cannot be derived")
    roles = _layer_roles(plan)
    masks = [m.detach().cpu() for m in ticket.masks]
    kept_weights = sum(int(m.sum()) for m in masks)
    n_edges = kept_weights if kept_only else plan.num_random_weights
    if n_edges > max_edges:
        raise NetworkTooLargeError(
            f"the graph would have {n_edges:,} edges ({'kept' if kept_only else 'all random'} weights), more "
            f"than max_edges = {max_edges:,} (networkx needs ~0.5–1 KB per edge): use kept_only=True, a "
            "smaller ticket, or pass a larger max_edges if the memory is there",
            required_weights=n_edges, limit=max_edges)
    kept_values = ([torch.from_numpy(lay.kept) for lay in as_is_layers(ticket.network, masks, ticket.bias_masks,
                                                                       plan=plan, seed=ticket.seed)]
                   if kept_only else [])

    # serves of every kept edge, per layer: {(out, in): tuple of (t, o, j)}
    kept_rc = [torch.nonzero(m).numpy() for m in masks]  # (K, 2): rows (out), cols (in), row-major
    serves: list[list[tuple]] = []
    for idx, (kind, t, rho_in, rho_out) in enumerate(roles):
        rows, cols = kept_rc[idx][:, 0].tolist(), kept_rc[idx][:, 1].tolist()
        if kind == "direct":
            serves.append([((t, r // rho_out, c // rho_in),) for r, c in zip(rows, cols)])
        elif kind == "first":  # edge c → k serves (t, o, j) for every kept k → r of the second layer
            second = kept_rc[idx + 1]
            outs = _group(second[:, 1].tolist(), second[:, 0].tolist(), masks[idx].shape[0])
            serves.append([tuple(dict.fromkeys((t, r // roles[idx + 1][3], c // rho_in) for r in outs[k]))
                           for k, c in zip(rows, cols)])
        else:  # "second": edge k → r serves (t, o, j) for every kept input c → k of the first layer
            first = kept_rc[idx - 1]
            ins = _group(first[:, 0].tolist(), first[:, 1].tolist(), masks[idx].shape[1])
            serves.append([tuple(dict.fromkeys((t, r // rho_out, c // roles[idx - 1][2]) for c in ins[k]))
                           for r, k in zip(rows, cols)])

    g = nx.DiGraph(construction=ticket.construction, target_shapes=tuple(plan.target_shapes),
                   layer_shapes=tuple(plan.layer_shapes), n=tuple(int(v) for v in plan.n),
                   seed=None if ticket.seed is None else int(ticket.seed), error_bound=float(ticket.error_bound),
                   output_scale=float(ticket.stats.get("output_scale", 1.0)),
                   kept_weights=kept_weights, random_weights=plan.num_random_weights,
                   kept_only=kept_only)
    # nodes: level of the target neurons each layer of neurons carries (None: auxiliary units)
    depth = len(plan.layer_shapes)
    widths = [plan.layer_shapes[0][1]] + [o for o, _ in plan.layer_shapes]
    level: int | None
    for layer, width in enumerate(widths):
        role = "input" if layer == 0 else "output" if layer == depth else "hidden"
        if layer == 0:
            level, rho = 0, roles[0][2]
        else:
            kind, t, _, rho = roles[layer - 1]
            level = t + 1 if kind != "first" else None
        g.add_nodes_from(((layer, i), {"layer": layer, "index": i, "role": role,
                                       "target_neuron": None if level is None else (level, i // rho)})
                         for i in range(width))
    for idx in range(depth):
        rows, cols = kept_rc[idx][:, 0].tolist(), kept_rc[idx][:, 1].tolist()
        if kept_only:
            values = kept_values[idx].tolist()
            g.add_edges_from(((idx, c), (idx + 1, r), {"weight": w, "kept": True, "layer": idx, "serves": s})
                             for r, c, w, s in zip(rows, cols, values, serves[idx]))
            continue
        # every random weight (row-major; one per row in a slot-structured layer), the pruned ones
        # re-sampled from (seed, layer) as the random network was (sltheory.network.sample_plan_layer)
        out_f, in_f = plan.layer_shapes[idx]
        if plan.layer_kind(idx)[0] == "slots":
            er, ec = np.arange(out_f), slot_columns(plan.layer_kind(idx), out_f)[0]
        else:
            er, ec = np.divmod(np.arange(out_f * in_f), in_f)
        if ticket.seed is None:   # never: refused at the top unless kept_only
            raise InvalidArgumentError("this ticket carries no seed of its random network")
        values = sample_plan_layer(plan, ticket.seed, idx).numpy()[er, ec].tolist()
        kept = masks[idx].numpy()[er, ec].tolist()
        kept_serves = dict(zip(zip(rows, cols), serves[idx]))
        g.add_edges_from(((idx, c), (idx + 1, r),
                          {"weight": w, "kept": k, "layer": idx, "serves": kept_serves[(r, c)] if k else ()})
                         for r, c, w, k in zip(er.tolist(), ec.tolist(), values, kept))
    return g


def save_ticket(ticket: Ticket, path) -> Path:
    """Write ``ticket`` to ``path`` (:mod:`sltheory.ticket.fileformat`, format version 4); returns the path.

    Checked before anything is written (:class:`~sltheory.errors.TicketFileError`): the folder
    exists, ``path`` is a regular file or does not exist (no folder, FIFO, device, socket), its
    name fits the file system; :class:`~sltheory.errors.InvalidArgumentError` for anything but a
    Ticket, and for a ticket that carries no plan/seed or would not load back (masks that do not
    fit the plan, a header or a layer count beyond the format's limits). Any legal file name works;
    an existing file is replaced atomically, never left half-written, and a save killed midway
    leaves no temporary file (:func:`sltheory._atomic.atomic_write`)."""
    if not isinstance(ticket, Ticket):
        raise InvalidArgumentError(f"expected a Ticket, got {type(ticket).__name__}")
    return fileformat.write_ticket(ticket, path)


def load_ticket(path, *, device=None, max_weights: int = MAX_RANDOM_WEIGHTS) -> Ticket:
    """The ticket stored in ``path``, its random network re-sampled from (plan, seed) bit for bit.

    See :func:`sltheory.ticket.fileformat.read_ticket` for the checks, the limits
    (``max_weights``) and the typed errors; the error bound read is a *stored claim* that
    :meth:`Ticket.recertify` recomputes from the target."""
    fields = fileformat.read_ticket(path, device=device, max_weights=max_weights)
    try:
        return Ticket(**fields)
    except InvalidArgumentError as exc:
        raise TicketFileError(f"{path}: the stored ticket is not valid: {exc}", path=path) from exc
