"""The adversarial search: a lower bound on sup_{x ∈ D} ‖f(x) − g(x)‖₂ by multi-start projected ascent.

D is the unit ball by default (the search then runs on the sphere, where a bias-free network's
supremum lies), or any :class:`sltheory.Domain` (``domain=``): starts drawn from it
(``Domain.sample``), every step projected back onto it (``Domain.project``).

It knows nothing of constructions or certificates: two functions of a batch, one number and the
input that reaches it. The certificate (:mod:`sltheory.certificate.bound`) is the upper bound;
the gap between the two is what the benchmarks report.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .._checks import device_arg, nonnegative_int, positive_float
from ..domains import Ball, Domain, as_domain
from ..errors import InvalidArgumentError

__all__ = ["MAX_SEARCH_ENTRIES", "adversarial_error"]


#: Largest starts × dim the adversarial search holds at once (float64 entries: 0.8 GB).
MAX_SEARCH_ENTRIES = 100_000_000


def _as_function(f, name: str = "f"):
    """``f`` as a callable evaluated in float64 (what the certificate covers).

    A module is evaluated as a float64 copy when any floating parameter or buffer has another
    dtype (``copy.deepcopy(f).to(torch.float64)``: float32/float16 weights are exact in float64,
    so the copy computes the same network without the low-precision rounding); a module already in
    float64 is used as is. A plain callable gets float64 inputs and its output is cast to float64
    (the precision it computes in is its own). InvalidArgumentError for anything else, and for
    modules with complex or meta (valueless) tensors."""
    if isinstance(f, torch.nn.Module):
        tensors = list(f.parameters()) + list(f.buffers())
        if any(t.is_complex() for t in tensors):
            raise InvalidArgumentError(f"{name} ({type(f).__name__}) has complex parameters; the search compares "
                                       "real networks")
        if any(t.device.type == "meta" for t in tensors):
            raise InvalidArgumentError(f"{name} ({type(f).__name__}) is on the 'meta' device: it holds no values")
        if any(t.is_floating_point() and t.dtype != torch.float64 for t in tensors):
            f = copy.deepcopy(f).to(torch.float64)
    elif not callable(f):
        raise InvalidArgumentError(f"{name} must be an nn.Module or a callable of a (B, dim) batch, got "
                                   f"{type(f).__name__}")

    def call(x):
        return f(x).to(torch.float64)
    return call


def _probe(F, G, dim: int, device) -> None:
    """Evaluate both functions on a (2, dim) batch: InvalidArgumentError, before the search, when
    one fails or returns anything but a real (2, k) tensor of the same shape as the other's."""
    x = torch.full((2, dim), dim ** -0.5, dtype=torch.float64, device=device)
    outs = []
    for name, fn in (("f", F), ("g", G)):
        try:
            with torch.no_grad():
                out = fn(x)
        except Exception as exc:  # noqa: BLE001 (any failure of a user function is reported, typed)
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise InvalidArgumentError(f"{name} cannot be evaluated on a float64 batch of shape (2, {dim}) on "
                                       f"{device}: {type(exc).__name__}: {first}") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
            raise InvalidArgumentError(f"{name} must map a batch (B, {dim}) to a tensor (B, d_out); on (2, {dim}) "
                                       f"it returned {type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
        outs.append(out)
    if outs[0].shape != outs[1].shape:
        raise InvalidArgumentError(f"f and g have different output widths ({outs[0].shape[1]} and "
                                   f"{outs[1].shape[1]})")


def _directions(directions, dim: int) -> torch.Tensor:
    """The extra starting directions as a float64 (k, dim) CPU tensor of finite, nonzero rows."""
    try:
        d = torch.as_tensor(np.asarray(directions) if not isinstance(directions, torch.Tensor) else directions)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidArgumentError(f"directions cannot be read as a real array: {exc}") from None
    if d.is_complex() or not (d.is_floating_point() or d.dtype in (torch.int8, torch.int16, torch.int32,
                                                                   torch.int64, torch.uint8)):
        raise InvalidArgumentError(f"directions must be real numbers, got dtype {d.dtype}")
    if d.numel() == 0 or d.numel() % dim:
        raise InvalidArgumentError(f"directions hold {d.numel()} numbers: not rows of dim = {dim}")
    d = d.detach().to(device="cpu", dtype=torch.float64).reshape(-1, dim)
    if not bool(torch.isfinite(d).all()):
        raise InvalidArgumentError("directions contain nan or inf")
    if bool((torch.linalg.vector_norm(d, dim=1) == 0).any()):
        raise InvalidArgumentError("directions contain a zero row (no direction)")
    return d


def adversarial_error(f, g, dim: int, *, starts: int = 2048, refine: int = 16, steps: int = 100,
                      lr: float = 0.1, seed: int = 0, device=None, hops: int = 2, directions=None,
                      domain=None):
    """Search for the input of the domain (default: the unit ball) that maximizes ‖f(x) − g(x)‖₂.

    Knows nothing of constructions: ``f`` and ``g`` are two functions (modules or callables) of
    a batch (B, dim). Bias-free ReLU networks are positively homogeneous, so the supremum over
    the ball is reached on the sphere. Samples ``starts`` uniform directions (plus the rows of
    ``directions``, if given), keeps the ``refine`` worst, and runs ``steps`` of projected
    gradient ascent on each: a step of angle ``lr_b`` along the normalized tangent gradient,
    accepted only if it increases the error (then ``lr_b`` grows by 1.5) and otherwise refused
    (``lr_b`` halves). Then ``hops`` times: the 4 worst points found so far are perturbed by
    random angles of 0.01–0.5 rad (``refine`` new points) and ascended again for ``steps // 2``
    steps (basin hopping: the error is piecewise linear with many local maxima). Returns
    ``(error, x)``, x of shape (dim,), float64; the error is recomputed at x.

    **Precision.** Both functions are evaluated in float64: a module whose parameters are float32
    or float16 through a float64 copy of it (its weights are exact in float64). That is what a
    ticket's certified ``error_bound`` covers: the float64 evaluation of both networks, rounding
    included, with the target's weights as given. Evaluating a network in a lower precision with
    unit roundoff u (float32: u = 2⁻²⁴ ≈ 6·10⁻⁸; float16: u = 2⁻¹¹ ≈ 4.9·10⁻⁴) adds its own error,
    bounded like the certificate's float slack: ‖fl(f)(x) − f(x)‖₂ ≤ u·Π‖W_i‖₂ (the input rounded)
    + Π_i(‖W_i‖₂ + γ_K ‖|W_i|‖₂) − Π_i ‖W_i‖₂ with γ_K = K u/(1 − K u), K the inputs per neuron:
    about K·u per layer for ‖W_i‖₂ ≤ 1 (float16, K = 64: ≈ 3·10⁻²), far above typical bounds. A
    plain callable gets float64 inputs; the precision it computes in is its own.

    **Domain.** ``domain=None`` (the default) is the unit ball searched as described above, on its
    sphere (bit-for-bit the search of earlier versions). It is also what ``Ball(r)`` gets when
    neither ``f`` nor ``g`` is a module with a bias (positive homogeneity: the sphere of radius r,
    ``x`` scaled by r). Otherwise, for a :class:`~sltheory.domains.Box` or for networks with biases
    (no longer homogeneous: the supremum may lie inside the domain), the search runs in the domain
    itself: ``starts`` points from ``domain.sample`` (a box's sampler puts half of them on its
    corners; a ball's half on its sphere), plus the rows of ``directions`` projected onto the
    domain (as points) and the domain's centre; the ``refine`` worst ascended by projected gradient
    steps ``x ← domain.project(x + lr_b · s · ĝ)`` (ĝ the normalized gradient, s the domain's
    radius; accepted only if the error increases, lr_b × 1.5 then, × 0.5 otherwise); basin hopping
    perturbs by Gaussian steps of length 0.01–0.5 · s, projected. Every point evaluated lies in the
    domain (the returned x is checked with ``domain.contains``). ``domain=None`` with a module
    having a bias searches ``Ball()`` that way (the sphere alone would miss the interior).

    Arguments are checked before any work (:class:`~sltheory.errors.InvalidArgumentError`):
    ``f``/``g`` modules or callables that evaluate on a (2, dim) float64 batch to outputs of one
    shape; ``dim``, ``starts``, ``refine``, ``steps`` integers ≥ 1 (starts × dim ≤
    ``MAX_SEARCH_ENTRIES``), ``hops`` and ``seed`` integers ≥ 0, ``lr`` finite > 0, ``device``
    "cpu" or an available "cuda", ``directions`` finite nonzero rows of length dim, ``domain`` a
    :class:`~sltheory.domains.Domain` of ``dim`` coordinates (:class:`~sltheory.errors.DomainError`).
    """
    dim = nonnegative_int("dim", dim, minimum=1)
    starts = nonnegative_int("starts", starts, minimum=1)
    refine = nonnegative_int("refine", refine, minimum=1)
    steps = nonnegative_int("steps", steps, minimum=1)
    hops = nonnegative_int("hops", hops)
    seed = nonnegative_int("seed", seed)
    lr = positive_float("lr", lr)
    if starts * dim > MAX_SEARCH_ENTRIES:
        raise InvalidArgumentError(f"starts × dim = {starts:,} × {dim:,} exceeds {MAX_SEARCH_ENTRIES:,} float64 "
                                   "entries held at once: use fewer starts")
    device = device_arg("device", device) or torch.device("cpu")
    if directions is not None:
        directions = _directions(directions, dim)
    if domain is not None:
        domain = as_domain(domain)
        domain.check_dim(dim, "dim")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    F, G = _as_function(f, "f"), _as_function(g, "g")
    _probe(F, G, dim, device)
    biased = _has_bias(f) or _has_bias(g)
    if domain is None and biased:
        domain = Ball()
    if domain is not None and (biased or not isinstance(domain, Ball)):
        return _domain_search(F, G, dim, domain, starts=starts, refine=refine, steps=steps, lr=lr, gen=gen,
                              device=device, hops=hops, directions=directions)
    if domain is not None and domain.radius != 1.0:     # bias-free on Ball(r): the sphere of radius r
        r = domain.radius
        F0, G0 = F, G
        value, x = adversarial_error(lambda z: F0(z * r), lambda z: G0(z * r), dim, starts=starts, refine=refine,
                                     steps=steps, lr=lr, seed=seed, device=device, hops=hops, directions=directions)
        x = domain.project(x * r)
        with torch.no_grad():
            xd = x[None].to(device)
            return float(torch.linalg.vector_norm(F(xd) - G(xd), dim=1)[0]), x

    def err(x):
        return torch.linalg.vector_norm(F(x) - G(x), dim=1)

    def unit(v):
        return v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(1e-300)

    def ascend(x, n_steps):
        step = torch.full((x.shape[0], 1), float(lr), dtype=torch.float64, device=device)
        for _ in range(n_steps):
            x.requires_grad_(True)
            v = err(x)
            (grad,) = torch.autograd.grad(v.sum(), x)
            with torch.no_grad():
                x = x.detach()
                tangent = grad - (grad * x).sum(dim=1, keepdim=True) * x
                proposal = unit(x + step * unit(tangent))
                better = (err(proposal) > v)[:, None]
                x = torch.where(better, proposal, x)
                step = torch.where(better, step * 1.5, step * 0.5).clamp(1e-12, 1.0)
        return x.detach()

    with torch.no_grad():
        x = torch.randn(starts, dim, generator=gen, dtype=torch.float64)
        if directions is not None:
            x = torch.cat([directions, x])
        x = unit(x.to(device))
        top = torch.topk(err(x), min(refine, x.shape[0])).indices
    best = ascend(x[top].clone(), steps)
    for _ in range(hops):
        with torch.no_grad():
            seeds = best[torch.topk(err(best), min(4, best.shape[0])).indices]
            k = max(1, refine // seeds.shape[0])
            angle = torch.logspace(-2, math.log10(0.5), k, dtype=torch.float64).repeat(seeds.shape[0])
            noise = unit(torch.randn(k * seeds.shape[0], dim, generator=gen, dtype=torch.float64).to(device))
            base = seeds.repeat_interleave(k, dim=0)
            noise = unit(noise - (noise * base).sum(dim=1, keepdim=True) * base)
            angle = angle.to(device)[:, None]
            cand = unit(torch.cos(angle) * base + torch.sin(angle) * noise)  # dim 1: no tangent, noise = 0
        cand = ascend(cand, max(1, steps // 2))
        with torch.no_grad():
            pool = torch.cat([best, cand])
            best = pool[torch.topk(err(pool), min(refine, pool.shape[0])).indices]
    with torch.no_grad():
        values = err(best)
        best_x = best[int(torch.argmax(values))]
        final = float(err(best_x[None])[0])
    return final, best_x.cpu()


def _has_bias(f) -> bool:
    """Whether ``f`` is a module with an ``nn.Linear`` (or any submodule) holding a bias."""
    if not isinstance(f, torch.nn.Module):
        return False
    return any(getattr(m, "bias", None) is not None for m in f.modules())


def _domain_search(F, G, dim: int, domain: Domain, *, starts: int, refine: int, steps: int, lr: float,
                   gen: torch.Generator, device, hops: int, directions):
    """Multi-start projected ascent inside ``domain`` (the docstring of :func:`adversarial_error`)."""
    scale = float(domain.radius_for(dim))

    def err(x):
        return torch.linalg.vector_norm(F(x) - G(x), dim=1)

    def proj(x):
        return domain.project(x)

    def unit(v):
        return v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(1e-300)

    def ascend(x, n_steps):
        step = torch.full((x.shape[0], 1), float(lr), dtype=torch.float64, device=device)
        for _ in range(n_steps):
            x.requires_grad_(True)
            v = err(x)
            (grad,) = torch.autograd.grad(v.sum(), x)
            with torch.no_grad():
                x = x.detach()
                proposal = proj(x + step * scale * unit(grad))
                better = (err(proposal) > v)[:, None]
                x = torch.where(better, proposal, x)
                step = torch.where(better, step * 1.5, step * 0.5).clamp(1e-12, 1.0)
        return x.detach()

    with torch.no_grad():
        pool = [domain.sample(starts, dim, gen).to(device)]
        if isinstance(domain, Ball):
            center = torch.zeros(1, dim, dtype=torch.float64, device=device)
        else:   # a box: the midpoint of its lowest and highest corners
            lo = proj(torch.full((1, dim), -1e300, dtype=torch.float64, device=device))
            hi = proj(torch.full((1, dim), 1e300, dtype=torch.float64, device=device))
            center = proj((lo + hi) / 2)
        pool.append(center)
        if directions is not None:
            pool.append(proj(directions.to(device)))
        x = torch.cat(pool)
        vals = err(x)
        vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
        top = torch.topk(vals, min(refine, x.shape[0])).indices
    best = ascend(x[top].clone(), steps)
    for _ in range(hops):
        with torch.no_grad():
            seeds = best[torch.topk(err(best), min(4, best.shape[0])).indices]
            k = max(1, refine // seeds.shape[0])
            size = torch.logspace(-2, math.log10(0.5), k, dtype=torch.float64).repeat(seeds.shape[0])
            noise = unit(torch.randn(k * seeds.shape[0], dim, generator=gen, dtype=torch.float64).to(device))
            base = seeds.repeat_interleave(k, dim=0)
            cand = proj(base + size.to(device)[:, None] * scale * noise)
        cand = ascend(cand, max(1, steps // 2))
        with torch.no_grad():
            pool_x = torch.cat([best, cand])
            best = pool_x[torch.topk(err(pool_x), min(refine, pool_x.shape[0])).indices]
    with torch.no_grad():
        values = err(best)
        order = torch.argsort(torch.where(torch.isnan(values), torch.full_like(values, -math.inf), values),
                              descending=True)
        inside = torch.from_numpy(domain.contains(best.cpu())).to(device)
        for i in order.tolist():        # the best point the domain contains (projection rounding aside)
            if bool(inside[i]):
                best_x = best[i]
                break
        else:   # pragma: no cover - project() returns points of the domain
            raise InvalidArgumentError(f"internal error: no search point lies in {domain!r}")
        final = float(err(best_x[None])[0])
    return final, best_x.cpu()
