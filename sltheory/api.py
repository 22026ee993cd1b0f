"""The public entry points: random_network and approximate."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ._checks import MIN_EPS, delta_arg, device_arg, eps_arg, nonnegative_int, strict_bool
from .constructions import registry
from .constructions._pairs import masked_sparse
from .constructions.base import certify_ticket, scale_certificate
from .domains import as_domain, is_default
from .errors import CertificateError, DomainError, InvalidArgumentError, RandomNetworkError, TargetError
from .network import RandomNetwork, plain_relu_network
from .targets import as_target, target_structure
from .ticket import Ticket
from .ticket.compact import build_network


def _bias_support(spec, flags) -> None:
    """TargetError (before any work) when the target has biases and the construction covers none."""
    if any(flags) and not getattr(spec, "supports_biases", False):
        able = [name for name in registry.constructions() if getattr(registry.get(name), "supports_biases", False)]
        raise TargetError(f"the target has biases (layers {[i for i, f in enumerate(flags) if f]}); the {spec.name} "
                          f"construction covers bias-free targets only: use one of {able}, or "
                          "nn.Linear(..., bias=False)")


def random_network(target, *, eps=None, delta=0.05, seed, construction: str = "subset_sum",
                   n=None, width_factor=None, device=None, weight_tol=None, domain=None,
                   **options) -> RandomNetwork:
    """Sample the random network a theorem prescribes for ``target``'s shapes.

    The sample depends only on ``seed`` and the target's *shapes* (never its weight values), so
    it is fixed before pruning. Widths follow the construction's documented rule from ``eps``,
    ``delta``, the shapes and the depth (for ``"subset_sum"``:
    n_i = ⌈C log₂(d_{i−1} d_i l / min(ε, δ))⌉ samples per block, constant ``C`` an option), or
    ``n=`` (an int, or one per target layer), or ``width_factor`` × the rule's n. Weights are
    float64 i.i.d. U[−1, 1) (see :class:`~sltheory.network.RandomNetwork`).

    ``weight_tol=τ`` (instead of ``eps``): the per-weight rule of Pensia et al.'s experimental
    setting (each target weight within τ, no norm assumption), for targets whose weights satisfy
    |w| ≤ ``weight_bound`` (an option, default 1; explicit because the sample may not read the
    weights): see :func:`sltheory.constructions.subset_sum.per_weight_samples`. Offered by
    ``"subset_sum"``; with another construction give ``n=`` and prune with
    ``approximate(..., weight_tol=)`` where that construction offers it.

    ``domain``: the inputs the ticket must approximate on, :class:`sltheory.Ball` ``(radius)``
    (default: the unit ball) or :class:`sltheory.Box` ``(lo, hi)`` / ``Box.of(X)``. A construction
    that reads it (``domain_aware``: the subset-sum family) spares the first layer's negative half
    on a nonnegative domain and sizes its rule for the domain; for the others the rule is asked for
    ε/R (R = sup‖x‖₂ over the domain) and the unit-ball ticket's bound scaled by R (bias-free
    networks are positively homogeneous). Targets with biases need a construction with
    ``supports_biases`` (subset_sum, pensia, natale, burkholz): TargetError
    otherwise, before anything is sampled.
    """
    from .conv.api import is_conv_model

    if is_conv_model(target) or "input_shape" in options:
        # convolutional / residual targets (and any target given with an input_shape): sltheory.conv
        from .conv.api import random_network as conv_random_network

        if weight_tol is not None:
            raise InvalidArgumentError("weight_tol is an MLP option; conv constructions take eps= or n=")
        return conv_random_network(target, eps=eps, delta=delta, seed=seed,  # type: ignore[return-value]
                                   construction="conv_subset_sum" if construction == "subset_sum" else construction,
                                   n=n, width_factor=width_factor, device=device, domain=domain, **options)
    spec = registry.get(construction)
    shapes, flags = target_structure(target)
    _bias_support(spec, flags)
    domain = as_domain(domain)
    domain.check_dim(shapes[0][1])
    if not domain.radius_for(shapes[0][1]) > 0:
        raise DomainError(f"{domain!r} holds only the input 0: there is nothing to approximate on it")
    eps = eps_arg("eps", eps, allow_none=True)
    if weight_tol is not None:
        if eps is not None:
            raise InvalidArgumentError("give eps (network-level rule) or weight_tol (per-weight rule), not both")
        weight_tol = eps_arg("weight_tol", weight_tol)
        if not getattr(spec, "per_weight_rule", False):
            raise InvalidArgumentError(f"the per-weight width rule (weight_tol=) is not offered for the "
                                       f"{construction} construction; give n= (or eps=)")
        options["weight_tol"] = weight_tol
    delta = delta_arg("delta", delta)
    seed = nonnegative_int("seed", seed)
    device = device_arg("device", device)
    if spec.domain_aware:
        if any(flags):
            options["biases"] = flags
        if not is_default(domain):
            options["domain"] = domain
        plan = spec.plan(shapes, eps=eps, delta=delta, n=n, width_factor=width_factor, **options)
    else:
        radius = domain.radius_for(shapes[0][1])
        unit_eps = None if eps is None else eps / radius
        if unit_eps is not None and unit_eps < MIN_EPS:
            raise DomainError(f"eps / R = {eps:.3g} / {radius:.3g} (R = sup‖x‖₂ over {domain!r}) is below {MIN_EPS:g}")
        plan = spec.plan(shapes, eps=unit_eps, delta=delta, n=n, width_factor=width_factor, **options)
        if not is_default(domain):
            plan = dataclasses.replace(plan, domain=domain.spec(), options={**plan.options, "domain_radius": radius})
    return spec.sample(plan, seed, device=device)


def approximate(target, random_net: RandomNetwork, eps=None, *, weight_tol=None, rescale: bool = False,
                domain=None, **options) -> Ticket:
    """Prune ``random_net`` (masks only) so that it approximates ``target``.

    With ``eps``: the sparsest ticket found whose certified ``error_bound ≤ eps``, or
    :class:`~sltheory.errors.ApproximationFailedError` (how many weights missed their tolerance,
    what n would be needed). With ``eps=None``: every weight at its optimal subset, and its bound.

    What the bound covers: sup_{‖x‖₂≤1} ‖target(x) − ticket.network(x)‖₂ with *both* networks
    evaluated in float64, rounding included (:mod:`sltheory.certificate.bound`), the target's weights read
    exactly (float32/float16 weights are exact in float64). A float32 or float16 evaluation of
    either network adds its own rounding, which the bound does not include (size in
    :func:`sltheory.adversarial_error`, which evaluates in float64 to check the bound). ``eps`` ≥
    1e-12, and eps/S ≥ 1e-12 with ``rescale`` (:mod:`sltheory._checks`: float64's resolution).

    The theorems assume ‖W_i‖₂ ≤ 1 (a :class:`~sltheory.errors.NormAssumptionError` otherwise).
    ``rescale=True`` opts in to W̃_i = W_i / s_i with s_i = ‖W_i‖₂ for layers whose norm exceeds
    1 (s_i = 1 for the others). ReLU is positively homogeneous, so f(x) = S f̃(x) with S = Π s_i;
    the masks approximate f̃ to within ε/S, the ticket's network ends with a fixed
    :class:`~sltheory.ticket.ScaledOutput` (× S), and error_bound = S × (bound for f̃).

    ``weight_tol=τ`` (instead of ``eps``): the *per-weight mode*, a variant with its own claim
    (Pensia et al.'s experimental setting, not their Theorem 1): every target weight's error in
    the ticket's effective maps is ≤ τ (|P − W| ≤ τ, and |N + W| ≤ τ on the first layer), else
    ApproximationFailedError. No norm assumption (raw trained weights are fine; ``rescale`` is
    not used); ``error_bound`` is the certified sup_{‖x‖₂≤1} error that follows, computed with
    the target's actual norms. Offered by ``"subset_sum"`` (InvalidArgumentError otherwise).
    ``stats`` gain ``weight_tol`` and ``max_weight_error``.

    Option ``min_cardinality`` (subset_sum, default True): each subset is one of fewest elements
    among those within the tolerance; False keeps the faster staged choice.

    ``domain``: the input domain the bound is over (the sup above is over it instead of the unit
    ball). The random network was sized for its plan's domain (``random_network(domain=)``), so
    ``domain`` must be that one (or None: the plan's); DomainError otherwise. Targets with biases:
    ``h_i = σ(W_i h_{i−1} + b_i)``, for constructions with ``supports_biases``.
    """
    from .conv.network import ConvRandomNetwork

    if isinstance(random_net, ConvRandomNetwork):   # a conv / residual target: sltheory.conv
        from .conv.api import approximate as conv_approximate

        if weight_tol is not None or rescale or domain is not None:
            raise InvalidArgumentError("weight_tol, rescale and domain= are MLP options; a conv ticket is "
                                       "certified over its plan's domain (sltheory.conv.random_network(domain=))")
        return conv_approximate(target, random_net, eps=eps, **options)
    if not isinstance(random_net, RandomNetwork):
        raise RandomNetworkError("random_net must come from sltheory.random_network (it carries "
                                 f"the plan the construction needs); got {type(random_net).__name__}")
    # the network as sampled: what the certificate models (module kinds, no hooks, float64 weights)
    linears, _ = plain_relu_network(random_net, what="random_net", allow_bias=True)
    if len(linears) != len(random_net.plan.layer_shapes):
        raise RandomNetworkError(f"random_net has {len(linears)} linear layers, its plan "
                                 f"{len(random_net.plan.layer_shapes)}: use the network as sampled")
    for t, (lin, shape) in enumerate(zip(linears, random_net.plan.layer_shapes)):
        if tuple(lin.weight.shape) != tuple(shape):
            raise RandomNetworkError(f"random layer {t} has shape {tuple(lin.weight.shape)}; its plan says "
                                     f"{tuple(shape)}: use the network as sampled")
        if (lin.bias is not None) != (random_net.plan.layer_bias(t) is not None):
            raise RandomNetworkError(f"random layer {t} {'has' if lin.bias is not None else 'lacks'} a bias; its "
                                     "plan says otherwise: use the network as sampled")
    rescale = strict_bool("rescale", rescale)
    eps = eps_arg("eps", eps, allow_none=True)
    plan_domain = random_net.plan.input_domain()
    if domain is not None and as_domain(domain) != plan_domain:
        raise DomainError(f"random_net was sampled for the domain {plan_domain!r}, not {as_domain(domain)!r}: pass "
                          "the same domain to random_network (its width rule and first layer depend on it)")
    if weight_tol is not None:
        if eps is not None:
            raise InvalidArgumentError("give eps (network-level bound) or weight_tol (per-weight bound), not both")
        weight_tol = eps_arg("weight_tol", weight_tol)
        if rescale:
            raise InvalidArgumentError("rescale=True belongs to the network-level mode; the per-weight mode "
                                       "(weight_tol=) needs no norm assumption and uses the actual weights")
        if not getattr(registry.get(random_net.plan.construction), "per_weight_mode", False):
            raise InvalidArgumentError(f"the per-weight mode (weight_tol=) is not offered for the "
                                       f"{random_net.plan.construction} construction; use eps= there "
                                       "(subset_sum offers it)")
        options["weight_tol"] = weight_tol
    tgt = as_target(target, check_norms=weight_tol is None, rescale=rescale)
    if eps is not None and eps / tgt.output_scale < MIN_EPS:   # the masks approximate f/S to within eps/S
        raise InvalidArgumentError(f"eps / S = {eps:.3g} / {tgt.output_scale:.3g} is below {MIN_EPS:g} (S = Π‖W_i‖₂ "
                                   "of the rescaled layers): float64 cannot certify the rescaled target that finely")
    plan = random_net.plan
    if tgt.shapes != plan.target_shapes:
        raise RandomNetworkError(f"random network was planned for target shapes {plan.target_shapes}, "
                                 f"got {tgt.shapes}")
    if tgt.bias_flags != plan.target_bias_flags:
        raise RandomNetworkError(f"random network was planned for a target with biases {plan.target_bias_flags} "
                                 f"(per layer), got {tgt.bias_flags}: sample it for this target")
    spec = registry.get(plan.construction)
    _bias_support(spec, tgt.bias_flags)
    radius = plan_domain.radius_for(tgt.dims[0])
    if eps is not None and not spec.domain_aware and eps / radius < MIN_EPS:
        raise DomainError(f"eps / R = {eps:.3g} / {radius:.3g} is below {MIN_EPS:g}")
    # a domain-unaware construction prunes for the unit ball at eps / R (module docstring of base)
    prune_eps = eps if eps is None or spec.domain_aware else eps / radius * (1 - 2 ** -50)
    result = spec.prune(tgt, random_net, eps=prune_eps, **options)
    certificate = _certificate_of_returned_masks(spec, tgt, random_net, result, eps)
    lins = random_net.linears()
    device = lins[0].weight.device
    masks = tuple(torch.tensor(m, dtype=torch.bool, device=device) for m in result.masks)  # copies
    bias_masks = None
    if any(lin.bias is not None for lin in lins):   # one per linear: None without a bias, else a bool (out,)
        bias_masks = tuple(None if lin.bias is None else
                           torch.tensor(bm, dtype=torch.bool, device=device) if bm is not None else
                           torch.zeros(lin.bias.shape, dtype=torch.bool, device=device)
                           for lin, bm in zip(lins, result.bias_masks or [None] * len(lins)))
    # the live units only, straight from the random weights and the masks (no full-width copy)
    network = build_network(lambda t: lins[t].weight, lambda t: lins[t].bias, masks, bias_masks,
                            output_scale=tgt.output_scale)
    kept = int(sum(int(m.sum()) for m in masks))
    total = plan.num_random_weights
    stats = {
        "construction": plan.construction,
        "mode": "network" if weight_tol is None else "per_weight",
        "n": tuple(plan.n),
        "kept_weights": kept,
        "random_weights": total,
        "target_weights": tgt.num_weights,
        "kept_per_target": kept / tgt.num_weights,
        "random_per_target": total / tgt.num_weights,
        "kept_fraction": kept / total,
        "layer_errors": certificate.layer_errors,
        "float_slack": certificate.float_slack,
        "output_scale": tgt.output_scale,
        "precision": "float64",
        "compact_parameters": int(sum(p.numel() for p in network.parameters())),
        "compact_widths": tuple(len(u) for u in network.units),
        **result.stats,
    }
    if bias_masks is not None:
        stats["kept_biases"] = int(sum(int(b.sum()) for b in bias_masks if b is not None))
    return Ticket(network=network, masks=masks, error_bound=certificate.error_bound, stats=stats,
                  construction=plan.construction, certificate=certificate, plan=plan,
                  seed=random_net.seed, bias_masks=bias_masks)


def _certificate_of_returned_masks(spec, tgt, random_net, result, eps):
    """The guard between a construction and the ticket it ships: the masks are frozen (copied,
    read-only) and the certificate is recomputed from them alone (:meth:`Construction.certify`
    of the masked random weights). A construction whose returned masks are not the ones it
    certified (a view that later solving overwrote, say) gets a CertificateError here instead of
    a ticket with a bound that is not its own."""
    lins = random_net.linears()
    radius = random_net.plan.input_domain().radius_for(tgt.dims[0])
    if len(result.masks) != len(lins):
        raise CertificateError(f"the {spec.name} construction returned {len(result.masks)} masks for "
                               f"{len(lins)} random layers")
    frozen = []
    for t, (m, lin) in enumerate(zip(result.masks, lins)):
        m = np.array(m, dtype=bool, copy=True)
        if m.shape != tuple(lin.weight.shape):
            raise CertificateError(f"the {spec.name} construction returned mask {t} of shape {m.shape} for a "
                                   f"random layer of shape {tuple(lin.weight.shape)}")
        m.flags.writeable = False
        frozen.append(m)
    result.masks = frozen
    bias_masks = result.bias_masks
    if bias_masks is not None and len(bias_masks) != len(lins):
        raise CertificateError(f"the {spec.name} construction returned {len(bias_masks)} bias masks for {len(lins)} "
                               "random layers")
    biases: list = []
    frozen_b: list = []
    for t, lin in enumerate(lins):
        bm = None if bias_masks is None else bias_masks[t]
        if bm is not None:
            bm = np.array(bm, dtype=bool, copy=True)
            if lin.bias is None or bm.shape != tuple(lin.bias.shape):
                raise CertificateError(f"the {spec.name} construction returned bias mask {t} for a random layer "
                                       "without a bias of that shape")
            bm.flags.writeable = False
        frozen_b.append(bm)
        if lin.bias is None:
            biases.append(None)
        else:
            b = lin.bias.detach().cpu().numpy()
            biases.append(np.where(bm, b, 0.0) if bm is not None else np.zeros_like(b))
    result.bias_masks = frozen_b
    mats = [masked_sparse(lin.weight.detach().cpu().numpy(), m) for lin, m in zip(lins, frozen)]
    cert = certify_ticket(spec, tgt, random_net.plan, mats, biases=biases)
    claimed = result.certificate.error_bound
    if not spec.domain_aware:
        claimed = scale_certificate(result.certificate, radius).error_bound
    # (the same computation on the same arrays; the tolerance only allows for a BLAS that is not
    # bitwise reproducible: the ticket carries the recomputed certificate either way)
    if not abs(cert.error_bound - claimed) <= 1e-9 * max(abs(claimed), 1e-300):
        raise CertificateError(
            f"internal error in the {spec.name} construction: its certificate ({claimed:.6g}) was not "
            f"computed from the masks it returned (recomputed from them: {cert.error_bound:.6g}); no "
            "ticket is returned. Please report this with the call that produced it")
    if eps is not None and not cert.error_bound <= eps:
        raise CertificateError(f"internal error in the {spec.name} construction: the ticket's certified "
                               f"bound {cert.error_bound:.6g} exceeds eps = {eps:.6g}")
    return cert
