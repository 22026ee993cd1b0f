"""The public entry points: random_network and approximate."""

from __future__ import annotations

import numpy as np
import torch

from ._checks import MIN_EPS, delta_arg, device_arg, eps_arg, nonnegative_int, strict_bool
from .constructions import registry
from .constructions._pairs import masked_sparse
from .errors import CertificateError, InvalidArgumentError, RandomNetworkError
from .network import RandomNetwork, ScaledOutput, masked_copy, plain_relu_network
from .targets import as_target, target_shapes
from .ticket import Ticket


def random_network(target, *, eps=None, delta=0.05, seed, construction: str = "subset_sum",
                   n=None, width_factor=None, device=None, weight_tol=None, **options) -> RandomNetwork:
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
    """
    spec = registry.get(construction)
    shapes = target_shapes(target)
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
    plan = spec.plan(shapes, eps=eps, delta=delta, n=n, width_factor=width_factor, **options)
    return spec.sample(plan, seed, device=device)


def approximate(target, random_net: RandomNetwork, eps=None, *, weight_tol=None, rescale: bool = False,
                **options) -> Ticket:
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
    """
    if not isinstance(random_net, RandomNetwork):
        raise RandomNetworkError("random_net must come from sltheory.random_network (it carries "
                                 f"the plan the construction needs); got {type(random_net).__name__}")
    # the network as sampled: what the certificate models (module kinds, no hooks, float64 weights)
    linears, _ = plain_relu_network(random_net, what="random_net")
    if len(linears) != len(random_net.plan.layer_shapes):
        raise RandomNetworkError(f"random_net has {len(linears)} linear layers, its plan "
                                 f"{len(random_net.plan.layer_shapes)}: use the network as sampled")
    for t, (lin, shape) in enumerate(zip(linears, random_net.plan.layer_shapes)):
        if tuple(lin.weight.shape) != tuple(shape):
            raise RandomNetworkError(f"random layer {t} has shape {tuple(lin.weight.shape)}; its plan says "
                                     f"{tuple(shape)}: use the network as sampled")
    rescale = strict_bool("rescale", rescale)
    eps = eps_arg("eps", eps, allow_none=True)
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
    spec = registry.get(plan.construction)
    result = spec.prune(tgt, random_net, eps=eps, **options)
    certificate = _certificate_of_returned_masks(spec, tgt, random_net, result, eps)
    device = random_net.linears()[0].weight.device
    masks = tuple(torch.tensor(m, dtype=torch.bool, device=device) for m in result.masks)  # copies
    network = masked_copy(random_net, list(masks))
    if tgt.output_scale != 1.0:
        network = torch.nn.Sequential(*network, ScaledOutput(tgt.output_scale))
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
        **result.stats,
    }
    return Ticket(network=network, masks=masks, error_bound=certificate.error_bound, stats=stats,
                  construction=plan.construction, certificate=certificate, plan=plan,
                  seed=random_net.seed)


def _certificate_of_returned_masks(spec, tgt, random_net, result, eps):
    """The guard between a construction and the ticket it ships: the masks are frozen (copied,
    read-only) and the certificate is recomputed from them alone (:meth:`Construction.certify`
    of the masked random weights). A construction whose returned masks are not the ones it
    certified (a view that later solving overwrote, say) gets a CertificateError here instead of
    a ticket with a bound that is not its own."""
    lins = random_net.linears()
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
    mats = [masked_sparse(lin.weight.detach().cpu().numpy(), m) for lin, m in zip(lins, frozen)]
    cert = spec.certify(tgt, random_net.plan, mats)
    claimed = result.certificate.error_bound
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
