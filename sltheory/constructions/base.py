"""The common shape of a construction: plan (from shapes) → sample (from a seed) → prune (masks)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..certificate.bound import Certificate, certify, pair_effective_map
from ..errors import CertificateError
from ..network import Plan, RandomNetwork
from ..targets import Target


@dataclass
class PruneResult:
    """Masks (one bool array per random linear, in order), the certificate and statistics."""

    masks: list[np.ndarray]
    certificate: Certificate
    stats: dict = field(default_factory=dict)
    #: Per random linear, the bool mask of its bias (None: no bias, or none kept). Only
    #: constructions with ``supports_biases`` keep biases.
    bias_masks: list | None = None


class Construction(ABC):
    """A constructive proof of the strong lottery ticket hypothesis.

    Subclasses set ``name`` and ``citation`` and implement :meth:`plan` and :meth:`prune`.
    :meth:`plan` must depend only on the target's shapes and the scalar arguments, so the random
    network is fixed before pruning.
    """

    name: ClassVar[str]
    citation: ClassVar[str]
    #: Whose construction this is: "paper" (the paper's own steps, as its text, restatements or
    #: official code describe them) or "ours" (a variant or design of sltheory's; the citation
    #: says of what). Shown in the fidelity table and ``sltheory constructions``.
    whose: ClassVar[str] = "paper"

    # ------------------------------------------------------------ experiment hints
    # Sizes where this construction's tickets take seconds on 2 cores; the soundness benchmark
    # (sltheory.experiment.soundness) draws its cases from them, so a new construction touches no
    # experiment file.
    #: Samples per block drawn (with n=) in the "best" mode / in the "eps" and "weight_tol" modes.
    soundness_n: ClassVar[tuple[int, int]] = (3, 16)
    soundness_n_eps: ClassVar[tuple[int, int]] = (6, 20)
    #: ε drawn log-uniform in this range in the "eps" mode.
    soundness_eps: ClassVar[tuple[float, float]] = (0.02, 0.5)
    #: Narrower hidden layers (≤ 6) at target depth 3 (a costly construction).
    soundness_small: ClassVar[bool] = False
    #: Whether half of the "eps" cases use the theorem's width rule (n=None) instead of a drawn n.
    soundness_rule: ClassVar[bool] = False

    # ------------------------------------------------------------ biases and input domains
    #: Whether the construction covers targets with biases (its plan takes ``biases=`` per target
    #: layer, its prune returns ``bias_masks``, its certify takes ``biases=``). Implies domain_aware.
    supports_biases: ClassVar[bool] = False
    #: Whether plan / prune / certify read ``plan.domain`` themselves (the width rule's radius, a
    #: nonnegative domain's first layer, the certificate's sup over the domain). Otherwise the
    #: construction works on the unit ball and :func:`certify_ticket` / ``random_network`` scale by
    #: the domain's radius R (a bias-free network is positively homogeneous: the error over a set
    #: of radius R is at most R times the error over the unit ball; the rule is asked for ε/R).
    domain_aware: ClassVar[bool] = False

    @abstractmethod
    def plan(self, shapes: tuple[tuple[int, int], ...], *, eps: float | None, delta: float,
             n=None, width_factor: float | None = None, **options) -> Plan:
        """Widths and samples per block for a target of these shapes."""

    def sample(self, plan: Plan, seed: int, device=None) -> RandomNetwork:
        """Draw the random network of ``plan`` (default: i.i.d. U[−1, 1) dense layers)."""
        return RandomNetwork(plan, seed, device=device)

    # ------------------------------------------------------------ the theorem's bounds
    # Each returns a float for numbers and a sympy expression for symbols (``dims`` may hold
    # sympy symbols); the builder, proofs/ and the experiments all call these same functions.
    @abstractmethod
    def width_bound(self, i: int, dims, eps, delta):
        """Hidden width of the random layers approximating target layer i (un-rounded)."""

    @abstractmethod
    def depth_bound(self, depth):
        """Depth (number of linear layers) of the random network for a target of this depth."""

    @abstractmethod
    def parameter_bound(self, dims, eps, delta):
        """Total number of random weights (un-rounded)."""

    @abstractmethod
    def prune(self, target: Target, rand: RandomNetwork, *, eps: float | None, **options) -> PruneResult:
        """Masks of ``rand`` approximating ``target``; must not change any weight. Its certificate
        must be :meth:`certify` of the masks it returns (``approximate`` recomputes it from the
        returned masks and refuses a ticket whose masks are not the ones certified)."""

    # ------------------------------------------------------------ the certificate
    def certify(self, target: Target, plan: Plan, matrices, *, method: str = "auto") -> Certificate:
        """The certified bound of a ticket of this construction, from its masked random weights
        only: ``matrices[t]`` is random linear t with the pruned weights set to 0 (dense or scipy
        sparse), so the bound is a function of what the ticket carries, nothing else.

        Default (the depth-2l pair constructions): :func:`certify_pairs`. A construction with
        ``supports_biases`` takes ``biases=`` too (the masked bias of every random linear)."""
        return certify_pairs(self, target, plan, matrices, method=method)


def certify_pairs(spec: Construction, target: Target, plan: Plan, matrices, *, method: str = "auto",
                  biases=None) -> Certificate:
    """The certificate of a depth-2l pair ticket: target layer i is the pair ``plan.pairs[i]`` =
    (A, B), its effective map read by :func:`sltheory.certificate.bound.pair_effective_map`, and the
    bound is :func:`sltheory.certificate.bound.certify` with the pair-wise float slack. The plan must
    have the construction's own layout (a plan read from a file is a claim too):
    :func:`check_pair_layout`.

    ``biases[t]``: the masked bias of random linear t (None where it has none); pair i's map then
    has the offset B σ(c) with c = ``biases[2i]`` (bias units). A ``domain_aware`` construction's
    bound is over ``plan.input_domain()`` (others: the unit ball, scaled by :func:`certify_ticket`).
    With no bias and the unit ball, exactly the certificate there was before biases and domains."""
    from ..domains import is_default

    check_pair_layout(spec.name, target, plan, matrices, biases=biases, domain_aware=spec.domain_aware)
    domain = plan.input_domain() if spec.domain_aware else None
    has_biases = biases is not None and any(b is not None for b in biases)
    return certify(target, pair_maps(plan, matrices, biases if has_biases else None), list(matrices),
                   method=method, domain=None if domain is None or is_default(domain) else domain,
                   ticket_biases=list(biases) if has_biases else None)


def certify_ticket(spec: Construction, target: Target, plan: Plan, matrices, *, biases=None,
                   method: str = "auto") -> Certificate:
    """The certificate of a ticket over ``plan``'s input domain, from its masked random weights
    (and masked biases ``biases[t]``, None where a linear has none): a domain-aware construction's
    own :meth:`Construction.certify`; otherwise the unit-ball certificate times the domain's radius
    R (bias-free networks only; positive homogeneity, see ``domain_aware``)."""
    flags = plan.target_bias_flags
    if tuple(flags) != tuple(target.bias_flags):
        raise CertificateError(f"the plan is for a target with biases {flags}, the target has {target.bias_flags}")
    if spec.domain_aware:
        if spec.supports_biases:
            return spec.certify(target, plan, matrices, method=method, biases=biases)  # type: ignore[call-arg]
        return spec.certify(target, plan, matrices, method=method)
    if biases is not None and any(b is not None and np.any(b) for b in biases):
        raise CertificateError(f"the {spec.name} construction keeps no biases, but the network holds some")
    cert = spec.certify(target, plan, matrices, method=method)
    radius = plan.input_domain().radius_for(target.dims[0])
    return scale_certificate(cert, radius)


def scale_certificate(cert: Certificate, radius: float) -> Certificate:
    """A bias-free ticket's unit-ball certificate as one over a set of radius ``radius`` (every
    part times R, rounded up by one relative ulp per product)."""
    import dataclasses

    if radius == 1.0:
        return cert
    up = radius * (1 + 2 ** -52)
    return dataclasses.replace(
        cert, error_bound=cert.error_bound * up, float_slack=cert.float_slack * up,
        propagated=tuple(d * up for d in cert.propagated),
        layerwise_bound=None if cert.layerwise_bound is None else cert.layerwise_bound * up)


def check_layout(name: str, target: Target, plan: Plan, matrices, layer_shapes) -> None:
    """Refuse (CertificateError) a plan or matrices that are not ``name``'s layout for ``target``:
    the plan's construction and target shapes, its random layer shapes against ``layer_shapes``
    (what the construction builds for these target shapes), and every matrix against them."""
    if plan.construction != name:
        raise CertificateError(f"a plan of the {plan.construction!r} construction cannot be certified as {name}")
    if tuple(map(tuple, plan.target_shapes)) != tuple(target.shapes):
        raise CertificateError(f"the plan is for target shapes {plan.target_shapes}, the target has {target.shapes}")
    if tuple(map(tuple, plan.layer_shapes)) != tuple(map(tuple, layer_shapes)):
        raise CertificateError(f"the plan's random layers {plan.layer_shapes} are not the {name} layout "
                               f"{tuple(layer_shapes)} for target shapes {target.shapes}")
    if len(matrices) != len(plan.layer_shapes):
        raise CertificateError(f"{len(matrices)} masked matrices for a plan of {len(plan.layer_shapes)} "
                               "random layers")
    for t, (M, shape) in enumerate(zip(matrices, plan.layer_shapes)):
        if tuple(M.shape) != tuple(shape):
            raise CertificateError(f"masked matrix {t} has shape {tuple(M.shape)}, the plan's layer {tuple(shape)}")


def check_pair_layout(name: str, target: Target, plan: Plan, matrices, *, biases=None,
                      domain_aware: bool = False) -> None:
    """The depth-2l layout: target layer i is random layers (2i, 2i+1) = (A_i: H_i × d_in,
    B_i: d_out × H_i), inputs signed on the first layer only (not even there when ``domain_aware``
    and the plan's domain is nonnegative). Biases (``biases[t]``, the masked bias of random linear
    t, or None): only the first linear of a pair whose target layer has a bias holds one (the bias
    units' law, ``plan.layer_biases``), of length H_i, and the plan records that layer's bias units
    (``options["bias_units"]``, at most H_i); every other linear has none."""
    depth = target.depth
    first_signed = not (domain_aware and plan.input_domain().nonnegative)
    if tuple(map(tuple, plan.pairs)) != tuple((2 * i, 2 * i + 1) for i in range(depth)) or \
            tuple(plan.signed) != (first_signed,) + (False,) * (depth - 1) or len(plan.layer_shapes) != 2 * depth:
        raise CertificateError(f"the plan's pairs {plan.pairs} / signed {plan.signed} are not the depth-2l layout "
                               f"of {name} for a target of depth {depth}")
    shapes = []
    for i, (d_out, d_in) in enumerate(target.shapes):
        H = plan.layer_shapes[2 * i][0]
        shapes += [(H, d_in), (d_out, H)]
    check_layout(name, target, plan, matrices, shapes)
    flags = tuple(target.bias_flags)
    if tuple(plan.target_bias_flags) != flags:
        raise CertificateError(f"the plan is for a target with biases {plan.target_bias_flags}, the target has {flags}")
    laws = [plan.layer_bias(t) for t in range(len(plan.layer_shapes))]
    units = plan.options.get("bias_units") if plan.biases else None
    for i in range(depth):
        want = flags[i]
        if (laws[2 * i] is not None) != want or laws[2 * i + 1] is not None:
            raise CertificateError(f"the plan's random biases {plan.layer_biases} are not the {name} layout (bias "
                                   f"units in the first linear of a pair whose target layer has a bias, {flags})")
        if want and (units is None or len(units) != depth or not 0 < int(units[i]) <= plan.layer_shapes[2 * i][0]):
            raise CertificateError(f"the plan records bias units {units!r}, not one positive count ≤ H per layer")
    if biases is not None:
        if len(biases) != len(plan.layer_shapes):
            raise CertificateError(f"{len(biases)} biases for a plan of {len(plan.layer_shapes)} random layers")
        for t, b in enumerate(biases):
            if b is None:
                continue
            if laws[t] is None:
                raise CertificateError(f"random layer {t} holds a bias; the {name} layout has none there")
            if np.shape(b) != (plan.layer_shapes[t][0],):
                raise CertificateError(f"the bias of random layer {t} has shape {np.shape(b)}, the layer "
                                       f"{plan.layer_shapes[t][0]} units")


def pair_maps(plan: Plan, matrices, biases=None) -> list:
    """The effective map of every target layer of a pair construction, from the masked random
    weights (``matrices[t]``: random linear t, pruned weights 0) and masked biases (``biases[t]``:
    None where linear t has none; pair i's offset is B σ(biases[2i]))."""
    if len(matrices) != len(plan.layer_shapes):
        raise CertificateError(f"{len(matrices)} masked matrices for a plan of {len(plan.layer_shapes)} "
                               "random layers")
    if biases is not None and len(biases) != len(plan.layer_shapes):
        raise CertificateError(f"{len(biases)} biases for a plan of {len(plan.layer_shapes)} random layers")
    maps = []
    for i, pair in enumerate(plan.pairs):
        if len(pair) != 2:
            raise CertificateError(f"target layer {i} is implemented by random layers {pair}, not a pair: "
                                   f"the {plan.construction} construction must provide its own certify()")
        if biases is None:
            maps.append(pair_effective_map(matrices[pair[0]], matrices[pair[1]], plan.signed[i]))
        else:
            maps.append(pair_effective_map(matrices[pair[0]], matrices[pair[1]], plan.signed[i],
                                           c=biases[pair[0]], d=biases[pair[1]]))
    return maps
