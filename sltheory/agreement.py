"""Certified prediction agreement: where a ticket provably predicts the target's class.

A ticket's ``error_bound`` ε is certified: ``‖f(x) − g(x)‖₂ ≤ ε`` for every x of its domain
(``ticket.plan.input_domain()``), both networks evaluated in float64. For a classifier that turns
into a per-input guarantee on the predicted class, read from the target's logits alone:

**Claim.** Let t = argmax_k f_k(x) and m(x) = f_t(x) − max_{c≠t} f_c(x) the target's top-2 margin. If
m(x) > √2·ε, then argmax_k g_k(x) = t (the ticket predicts the target's class, uniquely).

**Proof.** For c ≠ t, with e = g(x) − f(x) and e_c, e_t the unit vectors:
g_t − g_c = (f_t − f_c) + (e_t − e_c) ≥ m(x) − |⟨e_t − e_c, e⟩| ≥ m(x) − ‖e_t − e_c‖₂·‖e‖₂ = m(x) − √2·‖e‖₂
≥ m(x) − √2·ε > 0 (Cauchy–Schwarz; ‖e_t − e_c‖₂ = √2). So g_t > g_c for every c ≠ t. ∎

The issue's criterion m(x) > 2·ε (from |e_t| ≤ ε and |e_c| ≤ ε separately) implies the one above
(2 > √2), so it is sound too, and looser. :func:`certified_agreement` reports both:
``certified`` uses ``criterion`` ("2bound", the default, or "sqrt2bound"), and
``certified_2bound`` / ``certified_sqrt2bound`` are always given.

**Rounding.** The margin is computed in float64 from the float64 evaluation the bound covers; a
row counts only when fl(m)·(1 − 2⁻⁵²) > threshold, the threshold rounded up (√2 as
``math.sqrt(2)·(1 + 2⁻⁵¹)``), so the float subtraction cannot make an uncertified row pass.

Example::

    ticket = sltheory.approximate(net, sltheory.random_network(net, eps=0.01, seed=0, domain=box), eps=0.01)
    a = sltheory.certified_agreement(net, ticket, X_test, y_test)
    a.certified, a.agreement, a.target_accuracy, a.ticket_accuracy
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .certificate.adversarial import _as_function
from .domains import Ball, domain_from_spec
from .errors import InvalidArgumentError, TargetError
from .targets import as_target
from .ticket import Ticket

__all__ = ["Agreement", "CRITERIA", "certified_agreement"]

#: Criterion name → factor of the error bound the margin must exceed.
CRITERIA = {"2bound": 2.0, "sqrt2bound": math.sqrt(2.0) * (1.0 + 2.0 ** -51)}
#: Rows evaluated at once (bounds the activations' memory of wide tickets).
CHUNK = 4096
_ROUND_DOWN = 1.0 - 2.0 ** -52


@dataclass(frozen=True)
class Agreement:
    """What :func:`certified_agreement` measured on ``n`` inputs (fractions in [0, 1]).

    ``certified``: fraction whose target margin exceeds ``threshold`` = factor × ``error_bound``
    (``criterion``): there the ticket provably predicts the target's class. ``certified_2bound`` /
    ``certified_sqrt2bound``: the same for each criterion. ``agreement``: fraction where the argmax
    of ticket and target are equal (measured; ≥ ``certified_sqrt2bound`` whenever the bound holds).
    ``target_accuracy`` / ``ticket_accuracy``: against the labels (None without labels).
    ``contradictions``: certified rows whose predictions differ — 0 unless the bound is wrong.
    ``certified_rows``: the per-row mask of ``certified`` (numpy bool, shape (n,)).
    """

    n: int
    error_bound: float
    criterion: str
    threshold: float
    certified: float
    certified_2bound: float
    certified_sqrt2bound: float
    agreement: float
    target_accuracy: float | None
    ticket_accuracy: float | None
    contradictions: int
    domain: str
    certified_rows: np.ndarray = field(repr=False, compare=False)


def _inputs(X, d_in: int) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        if X.is_complex():
            raise InvalidArgumentError("X is complex; classifiers here take real inputs")
        X = X.detach().cpu().to(torch.float64)
    else:
        try:
            X = torch.from_numpy(np.array(X, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"X cannot be read as a float array: {exc}") from None
    if X.ndim != 2:
        raise InvalidArgumentError(f"X must be 2-D (rows are inputs), got shape {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise InvalidArgumentError("X has no rows")
    if X.shape[1] != d_in:
        raise InvalidArgumentError(f"X has {X.shape[1]} columns, the target takes {d_in} inputs")
    return X


def _labels(y, n: int, classes: int) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise InvalidArgumentError(f"y must hold integer class labels, got dtype {y.dtype}")
        y = y.detach().cpu().to(torch.int64)
    else:
        arr = np.asarray(y)
        if arr.dtype.kind not in "iu":
            raise InvalidArgumentError(f"y must hold integer class labels, got dtype {arr.dtype}")
        y = torch.from_numpy(arr.astype(np.int64))
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidArgumentError(f"y must be 1-D with one label per row of X ({n}), got shape {tuple(y.shape)}")
    if n and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise InvalidArgumentError(f"y has labels outside 0..{classes - 1} (the target has {classes} outputs)")
    return y


def certified_agreement(target, ticket: Ticket, X, y=None, *, criterion: str = "2bound") -> Agreement:
    """Certified and measured agreement of ``ticket``'s predictions with ``target``'s on the rows of ``X``.

    ``target``: the network the ticket approximates, as :func:`sltheory.approximate` took it (an
    ``nn.Sequential`` of ``nn.Linear`` with or without bias and ``nn.ReLU``, or matrices / (W, b)
    pairs; the unscaled network even when the ticket was built with ``rescale=True``: its bound is
    for the original f). ``ticket``: a :class:`~sltheory.Ticket` whose ``error_bound`` is used.
    ``X``: inputs (rows), tensor or array; ``y``: optional integer labels (one per row).
    ``criterion``: "2bound" (margin > 2·error_bound, the default) or "sqrt2bound" (margin >
    √2·error_bound, tighter; the module docstring proves both).

    Checked before any evaluation: the target (:class:`~sltheory.errors.TargetError`, e.g. a bias
    of the wrong shape), the ticket's fit to it (TargetError), ``X``'s shape, and that every row of
    ``X`` lies in the ticket's domain (``ticket.plan.input_domain()``; for a ticket without plan, such
    as a searched one, the domain its certificate is over, else the unit ball):
    :class:`~sltheory.errors.DomainError` naming the first row outside — the bound says nothing there.
    Both networks are evaluated in float64 (a float32 ticket network through a float64 copy, its
    weights exact), in chunks of :data:`CHUNK` rows.
    """
    from .conv.ticket import ConvTicket

    if not isinstance(ticket, (Ticket, ConvTicket)):
        raise InvalidArgumentError(f"ticket must be a sltheory.Ticket (or a conv ticket), got {type(ticket).__name__}")
    if criterion not in CRITERIA:
        raise InvalidArgumentError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    if isinstance(ticket, ConvTicket):   # a conv / residual target: inputs flattened, (N, *input_shape) accepted
        from .conv.network import skeleton
        from .conv.target import conv_target

        cplan = ticket.plan
        ctgt = conv_target(target, cplan.input_shape)
        if ctgt.output_dim < 2:
            raise TargetError(f"the target has {ctgt.output_dim} output: a classifier needs at least 2 logits")
        if tuple(skeleton(ctgt.ops)) != tuple(cplan.skeleton):
            raise TargetError("the conv ticket was built for another architecture than this target's")
        domain = cplan.input_domain()
        if hasattr(X, "reshape") and getattr(X, "ndim", 2) > 2:
            X = X.reshape(X.shape[0], -1)
        Xt = _inputs(X, ctgt.input_dim)
        tgt_fn, n_out = ctgt, ctgt.output_dim
        from .conv.api import recertify

        # the bound used is recomputed for THIS target from the ticket's masks (a ticket loaded without its
        # target carries only the stored number, and one of another target's weights has the same
        # architecture): never a bound the certificate did not give for these weights
        conv_bound = float(recertify(ticket, ctgt).error_bound)
    else:
        tgt = as_target(target, check_norms=False)
        if tgt.dims[-1] < 2:
            raise TargetError(f"the target has {tgt.dims[-1]} output: a classifier needs at least 2 logits")
        plan = ticket.plan
        if plan is not None and tuple(plan.target_shapes) != tgt.shapes:
            raise TargetError(f"the ticket was built for target shapes {tuple(plan.target_shapes)}, got {tgt.shapes}")
        if plan is not None and plan.target_bias_flags != tgt.bias_flags:
            raise TargetError(f"the ticket was built for a target with biases {plan.target_bias_flags} (per layer), "
                              f"got {tgt.bias_flags}")
        if plan is not None:
            domain = plan.input_domain()
        else:   # a ticket without plan (a searched one): the domain its certificate is over
            spec = getattr(ticket.certificate, "domain", None)
            domain = Ball() if spec is None else domain_from_spec(spec)
        Xt = _inputs(X, tgt.dims[0])
        tgt_fn, n_out = tgt, tgt.dims[-1]
        conv_bound = None
    domain.check_contains(Xt, "X")
    yt = None if y is None else _labels(y, Xt.shape[0], n_out)
    bound = float(ticket.error_bound) if conv_bound is None else conv_bound
    if not math.isfinite(bound):
        raise InvalidArgumentError(f"the ticket's error_bound is {bound!r}: nothing can be certified")

    G = _as_function(ticket.network, "ticket.network")
    f_pred, g_pred, margins = [], [], []
    with torch.no_grad():
        for s in range(0, Xt.shape[0], CHUNK):
            x = Xt[s:s + CHUNK]
            fx = tgt_fn(x)
            gx = G(x.to(_device_of(ticket.network)))
            if gx.ndim != 2 or tuple(gx.shape) != tuple(fx.shape):
                raise TargetError(f"the ticket's network gives outputs of shape {tuple(gx.shape)}, the target "
                                  f"{tuple(fx.shape)}: not a ticket of this target")
            gx = gx.cpu()
            top2 = torch.topk(fx, 2, dim=1).values
            margins.append(top2[:, 0] - top2[:, 1])
            f_pred.append(fx.argmax(dim=1))
            g_pred.append(gx.argmax(dim=1))
    fp, gp, m = torch.cat(f_pred), torch.cat(g_pred), torch.cat(margins) * _ROUND_DOWN
    same = fp == gp
    rows = {name: (m > factor * bound).numpy() for name, factor in CRITERIA.items()}
    chosen = rows[criterion]
    n = int(Xt.shape[0])
    return Agreement(
        n=n, error_bound=bound, criterion=criterion, threshold=CRITERIA[criterion] * bound,
        certified=float(chosen.mean()), certified_2bound=float(rows["2bound"].mean()),
        certified_sqrt2bound=float(rows["sqrt2bound"].mean()), agreement=float(same.double().mean()),
        target_accuracy=None if yt is None else float((fp == yt).double().mean()),
        ticket_accuracy=None if yt is None else float((gp == yt).double().mean()),
        contradictions=int((torch.from_numpy(rows["sqrt2bound"]) & ~same).sum()), domain=repr(domain),
        certified_rows=chosen.copy())


def _device_of(net) -> torch.device:
    if isinstance(net, torch.nn.Module):
        p = next(iter(net.parameters()), None)
        if p is not None:
            return p.device
    return torch.device("cpu")
