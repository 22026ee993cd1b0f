"""Entry points for convolutional / residual targets: :func:`random_network` and :func:`approximate`
(also reached through :func:`sltheory.random_network` / :func:`sltheory.approximate`, which hand a
conv target here)."""

from __future__ import annotations

import numpy as np

from .._checks import nonnegative_int
from ..errors import CertificateError, InvalidArgumentError
from . import registry
from .network import ConvRandomNetwork
from .ticket import ConvTicket, Stored, read_conv_ticket


def _target(model, input_shape):
    from .target import conv_target

    return conv_target(model, input_shape)


def random_network(target, *, input_shape=None, eps=None, delta=0.05, seed, construction: str = "conv_subset_sum",
                   n=None, width_factor=None, domain=None, device=None, **options) -> ConvRandomNetwork:
    """Sample the random conv network a construction's rule prescribes for ``target``'s
    architecture (never its weight values): ``target`` an nn.Sequential of convs/linears/pools/…
    (:func:`sltheory.conv.target.conv_target`) with ``input_shape`` (C, L) or (C, H, W), or a
    :class:`~sltheory.conv.ops.ConvTarget`."""
    spec = registry.get(construction)
    tgt = _target(target, input_shape)
    seed = nonnegative_int("seed", seed)
    plan = spec.plan(tgt, eps=eps, delta=delta, n=n, width_factor=width_factor, domain=domain, **options)
    return spec.sample(plan, seed, device=device)


def approximate(target, rand: ConvRandomNetwork, *, eps=None, input_shape=None, **options) -> ConvTicket:
    """Prune ``rand`` (masks only) to approximate ``target`` within ``eps`` over the plan's domain
    (certified), or as well as the construction can when ``eps`` is None. The certificate is
    recomputed from the returned masks before the ticket is handed out."""
    if not isinstance(rand, ConvRandomNetwork):
        raise InvalidArgumentError(f"rand must be a random conv network from sltheory.conv.random_network, got "
                                   f"{type(rand).__name__}")
    tgt = _target(target, input_shape if input_shape is not None else rand.plan.input_shape)
    if tuple(tgt.input_shape) != tuple(rand.plan.input_shape):
        raise InvalidArgumentError(f"the random network was sampled for inputs {rand.plan.input_shape}, the target "
                                   f"takes {tgt.input_shape}")
    spec = registry.get(rand.plan.construction)
    if eps is not None:
        from .._checks import eps_arg

        eps = eps_arg("eps", eps)
    result = spec.prune(tgt, rand, eps=eps, **options)
    check = spec.certify(tgt, rand, result.masks)
    if not np.isclose(check.error_bound, result.certificate.error_bound, rtol=1e-9, atol=0):
        raise CertificateError(f"internal error: the certificate of the returned masks ({check.error_bound:.6g}) "
                               f"differs from the pruner's ({result.certificate.error_bound:.6g})")
    stats = dict(result.stats)
    stats.setdefault("random_weights", rand.plan.num_random_weights)
    stats.setdefault("target_weights", tgt.num_weights)
    return ConvTicket(rand.plan, rand.seed, result.masks, check, stats, spec.ticket_network(rand, result.masks))


def load_conv_ticket(path, *, target=None, max_weights: int | None = None) -> ConvTicket:
    """A saved conv ticket: the random network regenerated from the file's plan and seed, its masks
    checked against it and applied. With ``target`` the certificate is recomputed; without, the
    stored bound is reported (``method == "stored"``; :func:`recertify` recomputes it). A file that
    is not a well-formed conv ticket, or whose plan would hold more than ``max_weights`` random
    weights (default: the conv constructions' cap), is a TicketFileError before anything is sampled."""
    import os

    from ..errors import TicketFileError
    from .subset_sum import MAX_CONV_WEIGHTS

    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    cap = MAX_CONV_WEIGHTS if max_weights is None else nonnegative_int("max_weights", max_weights, minimum=1)
    plan, seed, masks, header = read_conv_ticket(path)
    try:
        spec = registry.get(plan.construction)
        if plan.num_random_weights > cap:
            raise TicketFileError(f"{path}: its plan holds {plan.num_random_weights:,} random weights, more than "
                                  f"max_weights = {cap:,}")
        rand = spec.sample(plan, seed)
        spec.check_masks(rand, masks)
    except TicketFileError:
        raise
    except (InvalidArgumentError, ValueError, IndexError, KeyError, TypeError, AttributeError, OverflowError,
            MemoryError) as exc:
        raise TicketFileError(f"{path}: not a valid conv ticket ({type(exc).__name__}: {exc})") from None
    cert = spec.certify(_target(target, plan.input_shape), rand, masks) if target is not None \
        else Stored(float(header["error_bound"]))
    return ConvTicket(plan, seed, masks, cert, dict(header.get("stats") or {}), spec.ticket_network(rand, masks))


def recertify(ticket: ConvTicket, target):
    """The certificate of ``ticket`` recomputed from its regenerated random weights and masks."""
    if not isinstance(ticket, ConvTicket):
        raise InvalidArgumentError(f"ticket must be a conv ticket, got {type(ticket).__name__}")
    spec = registry.get(ticket.plan.construction)
    return spec.certify(_target(target, ticket.plan.input_shape), spec.sample(ticket.plan, ticket.seed), ticket.masks)


#: Module classes that make a model a conv / residual target (sltheory.conv) rather than an MLP.
_CONV_CLASSES = ("Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
                 "AdaptiveAvgPool2d", "Flatten", "BatchNorm1d", "BatchNorm2d", "ResidualBlock", "BasicBlock")


def is_conv_model(target) -> bool:
    """Whether ``target`` is for :mod:`sltheory.conv`: a ConvTarget, or a torch module holding a
    conv, pool, Flatten, BatchNorm or residual block (plain Linear/ReLU stacks stay MLPs)."""
    from torch import nn

    from .ops import ConvTarget

    if isinstance(target, ConvTarget):
        return True
    if isinstance(target, nn.Module):
        return any(type(m).__name__ in _CONV_CLASSES for m in target.modules())
    return False
