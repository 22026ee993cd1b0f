"""An independent lower bound on sup_{‖x‖₂ ≤ 1} ‖f(x) − g(x)‖₂, to test certificates against.

    value, x = lower_bound(sequential(W), ticket.network, dim, seed=0)   # W: the target's matrices
    assert ticket.error_bound >= value          # what a sound certificate must satisfy

``f`` and ``g`` are float64 torch modules (or callables) of a batch ``(B, dim)``. Nothing here
uses sltheory's certificate or adversarial search (:mod:`sltheory.certificate.bound`): it is a separate
implementation, so a bug there cannot hide itself here.

**Soundness is by construction.** Every value this module reports is ‖f(x) − g(x)‖₂ evaluated
in float64 on the *given* modules at a point x with ‖x‖₂ ≤ 1 (search points are normalized and
then shrunk by 1 − 2⁻⁴⁸, so that rounding never puts one outside the ball; in dimension 1 the
points are exactly ±1), and the returned
value is recomputed at the returned x. So whatever the search does, ``value`` is a lower bound
of the supremum that a certificate for the float64 evaluation claims to bound. How *strong* it
is depends on the input dimension:

* ``dim == 1``: exact. The ball is [−1, 1]; bias-free ReLU networks are positively homogeneous
  (f(tx) = t f(x), t ≥ 0), so the supremum is max(‖f(1) − g(1)‖, ‖f(−1) − g(−1)‖).
* ``dim == 2``: exact enumeration of the activation regions. In 2-D every activation region of a
  bias-free ReLU network is a cone bounded by rays through the origin, so on the unit circle
  the activation pattern of both networks (read from the inputs of their ``nn.ReLU``
  submodules by forward hooks) is piecewise constant. The patterns are evaluated on a grid of
  ``grid2`` angles (plus the rays where a first-layer row changes sign); every change between
  neighbours is bisected to machine precision (~2·10⁻¹⁵ rad). On each arc of constant pattern
  the error is ‖M x‖ for a fixed m × 2 matrix M (the Jacobian at the arc's midpoint, by
  reverse-mode AD), and the maximum of ‖M x‖ over an arc of the circle is at an endpoint or at
  ±v, v the top right-singular vector of M, when that lies in the arc. All endpoints and all ±v
  are evaluated. This is the exact supremum (up to float64 rounding) *provided every region
  meets the grid or a bisection*: a region that opens and closes between two neighbouring grid
  angles (thinner than 2π/grid2) is missed, and then the value is a lower bound only (still a
  sound one). It also needs every nonlinearity to be an ``nn.ReLU`` submodule (true of
  sltheory's networks and of ``Target.to_module()``); when neither function has one, the
  dim ≥ 3 search is used instead. A projected-gradient polish from the best points follows.
* ``dim == 3``: a Fibonacci grid of ``grid3`` points on the sphere, plus the structured and
  Gaussian starts below, and projected-gradient ascent (below) from the best ``keep`` of them,
  with basin hopping.
* ``dim ≥ 4``: multi-start projected-gradient ascent from ``starts`` Gaussian directions and
  structured starts: ±e_j; ± the rows of both networks' first ``nn.Linear``; ± the top two
  right-singular vectors of each network's first layer and of the product of its layers; every
  nonzero vector of {−1, 0, 1}^dim (normalized) while there are at most ``max_lattice`` of them.
  The best ``keep`` are ascended; then ``hops`` rounds of basin hopping (the 8 best points
  perturbed by random angles, log-uniform in 10⁻³–1 rad, and ascended again); then the best
  ``polish`` points are refined by a (1+16) random search on the sphere (step angle doubled
  after a success, halved otherwise), which also moves along the ridges (kinks between linear
  regions, where maxima often lie) across which gradient steps zigzag.

**Ascent** (float64, batched, one step size per start): at x, G = ∇‖f(x) − g(x)‖² by autograd;
three candidates: a step of angle η along the normalized tangent part U of G; the same along
the running average D ← 0.7 D + U (across a ridge the gradients alternate and cancel in D, so
it moves along the ridge); and the *power step* G/‖G‖ (inside one linear region, f − g = M x and
G = 2MᵀM x, so this is power iteration towards M's top right-singular vector, which never
decreases the error while the region holds). The best candidate is taken if it increases the
error; η doubles (up to 1 rad) when an angular step is taken, stays when one helped but the
power step helped more, and shrinks to 0.3 η otherwise. It stops after ``steps`` steps or when
every η < 10⁻¹³.

**Strength, measured** on 178 tickets with input dimension 3–8 (``benchmarks/soundness.py``'s
cases, seed 5) against the larger of an earlier, heavier version of this search (16,384 starts,
512 ascended for 150 steps, 4 hops) and ``sltheory.adversarial_error(starts=4096, refine=64,
steps=150, hops=3)``: the defaults come within 1% of that reference on 175 (within 0.1% on 170)
and exceed it by up to 0.1%; the benchmark's lighter settings likewise (175 and 170, up to
+0.5%), in about half the time. The three misses (ratios 0.94–0.99) are narrow basins that the
reference found by luck in a few of its seeds. Above dimension 2 it is a lower bound, not the
supremum.

**Speed.** When a function is an ``nn.Sequential`` of bias-free ``nn.Linear`` and ``nn.ReLU``
(alternating, optionally followed by other modules such as sltheory's ``ScaledOutput``), the
search runs on a copy without dead hidden units (a unit whose incoming row or outgoing column is
all zero contributes exactly 0); the reported value is always recomputed on the given modules.

**Other domains** (``domain=``, a :class:`sltheory.Ball` or :class:`sltheory.Box`): the supremum is
over that domain instead, every point evaluated lies in it (checked with ``domain.contains``;
ball points are shrunk by 1 − 2⁻⁴⁸ like the unit ball's). ``Ball(r)`` with two bias-free modules
is the unit-ball search above with the answer scaled by r (positive homogeneity). Otherwise (a
box, a module with a bias, or a plain callable with a domain given: no homogeneity to use):

* ``dim == 1``: exact. The domain is an interval; the activation patterns along it are read on a
  grid of ``grid2`` points and every change is bisected to machine precision; between two
  breakpoints f − g is affine, so ‖f − g‖ is convex there and its maximum is at a breakpoint or an
  end. All are evaluated (exact up to regions thinner than the grid spacing, as for dim 2 above).
* ``dim == 2``: the domain's boundary enumerated the same way (a box's four edges, a ball's circle,
  ``grid2`` points each, every pattern change bisected), its corners, and a dense grid of
  ``grid2`` × ``grid2`` / 16 points over the domain (at most 2²⁰), then the ascent below from the
  best ``keep``. The maximum of a convex piece lies at a vertex of its region ∩ domain: the
  boundary vertices are enumerated, the interior ones (where two kinks cross) reached by the grid
  and the ascent — a strong lower bound, not exact.
* ``dim ≥ 3``: ``starts`` points from ``domain.sample``, the centre, the box's corners while there
  are at most ``max_lattice`` of them, the structured directions above placed at the domain's
  radius from its centre and projected; then the same ascent, basin hopping and random-search
  polish as on the sphere, with straight steps of length η·s (s the domain's radius) projected
  onto the domain (``domain.project``) instead of rotations.

Deterministic for a given ``seed``: all randomness comes from one ``torch.Generator``.
"""

from __future__ import annotations

import contextlib
import itertools
import math

import torch
from torch import nn

from ..domains import Ball, Domain, as_domain

#: Search points are normalized and then multiplied by this, so that ‖x‖₂ ≤ 1 despite rounding.
SHRINK = 1.0 - 2.0 ** -48
#: Points per forward pass: about CHUNK_ELEMENTS / (widest layer) rows, within CHUNK_ROWS
#: (small batches stay in cache; on a busy 2-core machine a batch of 256 through a 1100-wide
#: network ran several times faster per row than one of 8192).
CHUNK_ELEMENTS = 2 ** 18
CHUNK_ROWS = (64, 8192)
#: Candidates (the best on the search's copies) evaluated on the given modules at the end.
FINAL = 64
#: The ascent's angular step: initial and largest η (rad).
ETA = (0.25, 1.0)
#: Weight of the previous directions in the ascent's averaged direction.
MOMENTUM = 0.7
#: Basin hopping: perturbation angles, log-uniform in this range (rad).
HOP_ANGLES = (1e-3, 1.0)
#: Random-search polish: iterations, and random directions per point and iteration.
POLISH_ITERS, POLISH_LAMBDA = 60, 16


def lower_bound(f, g, dim: int, *, seed: int = 0, starts: int = 4096, keep: int = 128, steps: int = 60,
                hops: int = 2, polish: int = 16, grid2: int = 8192, grid3: int = 16384,
                max_lattice: int = 6560, domain=None):
    """(value, x): value = ‖f(x) − g(x)‖₂ in float64 at a point x of the domain (default: the unit
    ball ‖x‖₂ ≤ 1), as large as the search finds (exact for dim 1 and, up to regions thinner than
    2π/grid2, dim 2 on the unit ball: module docstring). x is a float64 tensor of shape (dim,)."""
    dim = int(dim)
    if dim < 1:
        raise ValueError(f"dim must be ≥ 1, got {dim}")
    if min(starts, keep, grid2, grid3) < 1 or min(steps, hops, polish) < 0:
        raise ValueError("starts, keep, grid2 and grid3 must be ≥ 1; steps, hops and polish ≥ 0")
    if domain is not None or _has_bias(f) or _has_bias(g):
        domain = as_domain(domain)
        domain.check_dim(dim, "dim")
        homogeneous = isinstance(domain, Ball) and all(isinstance(h, nn.Module) and not _has_bias(h) for h in (f, g))
        if not homogeneous:
            return _domain_lower_bound(f, g, dim, domain, seed=seed, starts=starts, keep=keep, steps=steps,
                                       hops=hops, polish=polish, grid2=grid2, max_lattice=max_lattice)
        if domain.radius != 1.0:
            _, x = lower_bound(f, g, dim, seed=seed, starts=starts, keep=keep, steps=steps, hops=hops,
                               polish=polish, grid2=grid2, grid3=grid3, max_lattice=max_lattice)
            x = _into_ball(x[None] * domain.radius, domain.radius)[0]
            return float(_error(f, g, x[None])[0]), x
    gen = torch.Generator().manual_seed(int(seed))
    fs, gs = _compress(f), _compress(g)

    err = _Err(fs, gs)
    if dim == 1:
        X = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    elif dim == 2 and (_relus(fs) or _relus(gs)):
        X = _circle_candidates(fs, gs, grid2, f, g)
        X = torch.cat([X, _search(err, X, keep=min(keep, 32), steps=steps, gen=gen, hops=0, polish=polish)])
    else:
        pool = [_structured(f, g, dim, max_lattice)]
        if dim == 2:
            theta = torch.arange(grid2, dtype=torch.float64) * (2 * math.pi / grid2)
            pool.append(torch.stack([torch.cos(theta), torch.sin(theta)], dim=1))
        elif dim == 3:
            pool.append(_fibonacci_sphere(grid3))
        pool.append(torch.randn(starts, dim, generator=gen, dtype=torch.float64))
        X = _unit(torch.cat(pool))
        X = torch.cat([X, _search(err, X, keep=keep, steps=steps, gen=gen, hops=hops, polish=polish)])
    # the answer: the best candidates recomputed on the modules as given, at points inside the ball
    outside = torch.linalg.vector_norm(X, dim=1) > 1
    if bool(outside.any()):
        X = torch.where(outside[:, None], _unit(X), X)
    if X.shape[0] > FINAL:
        vals = err(X)
        vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
        X = X[torch.topk(vals, FINAL).indices]
    vals = _error(f, g, X)
    vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
    x = X[int(torch.argmax(vals))].clone()
    if not float(torch.linalg.vector_norm(x)) <= 1.0:   # cannot happen: every row was checked above
        raise RuntimeError(f"internal error: a candidate of norm {float(torch.linalg.vector_norm(x))!r} > 1")
    value = float(_error(f, g, x[None])[0])   # the value returned is this evaluation at x
    return value, x


def sequential(weights) -> nn.Sequential:
    """The bias-free ReLU network x ↦ W_l σ(… σ(W_1 x)) as a float64 ``nn.Sequential`` of
    ``nn.Linear(bias=False)`` and ``nn.ReLU`` (``weights``: matrices (d_out, d_in), numpy or
    torch), to pass a target given as a list of matrices to :func:`lower_bound`."""
    layers: list[nn.Module] = []
    for i, w in enumerate(weights):
        w = torch.as_tensor(w, dtype=torch.float64).detach().cpu().clone()
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
        lin.weight = nn.Parameter(w, requires_grad=False)
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------
# evaluation


def _as_batch_output(y: torch.Tensor, batch: int) -> torch.Tensor:
    return y.reshape(batch, -1)


def _chunk(*hs) -> int:
    widths = [max(w.shape) for h in hs for w in _linears(h)] or [1]
    return int(min(max(CHUNK_ELEMENTS // max(widths), CHUNK_ROWS[0]), CHUNK_ROWS[1]))


def _error(f, g, X: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """‖f(x) − g(x)‖₂ per row of X (float64), evaluated in chunks, no autograd."""
    chunk = chunk or _chunk(f, g)
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], chunk):
            x = X[s:s + chunk]
            diff = _as_batch_output(f(x), x.shape[0]) - _as_batch_output(g(x), x.shape[0])
            out.append(torch.linalg.vector_norm(diff, dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def _unit(V: torch.Tensor) -> torch.Tensor:
    """Rows of V scaled to norm SHRINK (< 1); zero rows become e_1·SHRINK."""
    n = torch.linalg.vector_norm(V, dim=1, keepdim=True)
    zero = (n == 0) | ~torch.isfinite(n)
    if bool(zero.any()):
        V = torch.where(zero, torch.nn.functional.one_hot(torch.zeros(V.shape[0], dtype=torch.long),
                                                          V.shape[1]).to(V), V)
        n = torch.linalg.vector_norm(V, dim=1, keepdim=True)
    return V / n * SHRINK


# --------------------------------------------------------------------------------------------
# networks: dead-unit removal, ReLU patterns, weights for structured starts


def _linears(h) -> list[torch.Tensor]:
    if not isinstance(h, nn.Module):
        return []
    return [m.weight.detach().to(torch.float64) for m in h.modules() if isinstance(m, nn.Linear)]


def _relus(h) -> list[nn.ReLU]:
    return [m for m in h.modules() if isinstance(m, nn.ReLU)] if isinstance(h, nn.Module) else []


def _compress(h):
    """A float64 copy of an alternating bias-free Linear/ReLU nn.Sequential (optionally followed
    by other modules) without hidden units that are identically 0 or unused; ``h`` otherwise."""
    if not isinstance(h, nn.Sequential):
        return h
    mods = list(h)
    k = 0
    while k < len(mods) and (isinstance(mods[k], nn.Linear) if k % 2 == 0 else isinstance(mods[k], nn.ReLU)):
        k += 1
    if k % 2 == 0:     # the alternating prefix must end with a Linear
        k -= 1
    if k < 1 or any(isinstance(m, (nn.Linear, nn.ReLU)) for m in mods[k:]):
        return h
    lins = [m for m in mods[:k:2] if isinstance(m, nn.Linear)]   # all of them (the loop above checked)
    if any(m.bias is not None for m in lins):
        return h
    W = [m.weight.detach().to(torch.float64).clone() for m in lins]
    changed = True
    while changed:
        changed = False
        for t in range(len(W) - 1):
            alive = (W[t] != 0).any(dim=1) & (W[t + 1] != 0).any(dim=0)
            if not bool(alive.all()):
                if not bool(alive.any()):       # keep one (zero) unit so that shapes stay valid
                    alive[0] = True
                    W[t][0].zero_()
                    W[t + 1][:, 0].zero_()
                    if int(alive.sum()) == W[t].shape[0]:
                        continue
                W[t], W[t + 1] = W[t][alive], W[t + 1][:, alive]
                changed = True
    layers: list[nn.Module] = []
    for t, w in enumerate(W):
        lin = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
        lin.weight = nn.Parameter(w, requires_grad=False)
        layers.append(lin)
        if t < len(W) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, *mods[k:])


@contextlib.contextmanager
def _recording(modules):
    """Collects, per forward pass, the sign pattern (input > 0) at every given ReLU module."""
    store: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda mod, inp, out: store.append(inp[0].detach() > 0))
               for m in modules]
    try:
        yield store
    finally:
        for hd in handles:
            hd.remove()


def _patterns(fs, gs, X: torch.Tensor) -> torch.Tensor:
    """Activation pattern of both networks per row of X: a (B, units) bool tensor."""
    relus = _relus(fs) + _relus(gs)
    chunk = _chunk(fs, gs)
    rows = []
    with torch.no_grad(), _recording(relus) as store:
        for s in range(0, X.shape[0], chunk):
            store.clear()
            x = X[s:s + chunk]
            fs(x)
            gs(x)
            rows.append(torch.cat([p.reshape(x.shape[0], -1) for p in store], dim=1))
    return torch.cat(rows)


def _top_right_singular(M: torch.Tensor, k: int = 1) -> torch.Tensor:
    if M.numel() == 0 or not bool(torch.isfinite(M).all()):
        return torch.zeros(0, M.shape[-1], dtype=torch.float64)
    _, _, Vh = torch.linalg.svd(M, full_matrices=False)
    return Vh[:k]


def _structured(f, g, dim: int, max_lattice: int) -> torch.Tensor:
    """±e_j, ± first-layer rows, ± top right-singular vectors, and the {−1, 0, 1}^dim lattice."""
    dirs = [torch.eye(dim, dtype=torch.float64)]
    for h in (f, g):
        Ws = [w for w in _linears(h)]
        if not Ws or Ws[0].shape[1] != dim:
            continue
        dirs.append(Ws[0][(Ws[0] != 0).any(dim=1)])
        dirs.append(_top_right_singular(Ws[0], 2))
        prod = Ws[0]
        for w in Ws[1:]:
            if w.shape[1] != prod.shape[0]:
                break
            prod = w @ prod
        dirs.append(_top_right_singular(prod, 2))
    D = torch.cat([d for d in dirs if d.numel()])
    D = torch.cat([D, -D])
    if 3 ** dim - 1 <= max_lattice:   # symmetric already
        lattice = torch.tensor(list(itertools.product((-1.0, 0.0, 1.0), repeat=dim)), dtype=torch.float64)
        D = torch.cat([D, lattice[(lattice != 0).any(dim=1)]])
    return D


def _fibonacci_sphere(n: int) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = torch.sqrt((1 - z * z).clamp_min(0))
    phi = i * (math.pi * (3 - math.sqrt(5)))
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=1)


# --------------------------------------------------------------------------------------------
# dim 2: exact enumeration of the arcs of constant activation pattern


def _angles_to_points(theta: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.cos(theta), torch.sin(theta)], dim=1) * SHRINK


def _circle_candidates(fs, gs, grid: int, f, g) -> torch.Tensor:
    two_pi = 2 * math.pi
    theta = [torch.arange(grid, dtype=torch.float64) * (two_pi / grid)]
    for h in (f, g):   # rays where a first-layer row changes sign: w·x = 0
        Ws = _linears(h)
        if Ws and Ws[0].shape[1] == 2:
            rows = Ws[0][(Ws[0] != 0).any(dim=1)]
            base = torch.atan2(rows[:, 1], rows[:, 0]) + math.pi / 2
            theta += [torch.remainder(base, two_pi), torch.remainder(base + math.pi, two_pi)]
    theta = torch.unique(torch.cat(theta))           # sorted
    P = _patterns(fs, gs, _angles_to_points(theta))
    # bisect every change of pattern between neighbours (cyclically) to machine precision
    lo, hi = theta, torch.cat([theta[1:], theta[:1] + two_pi])
    Plo, Phi = P, torch.roll(P, -1, dims=0)
    change = (Plo != Phi).any(dim=1)
    lo, hi, Plo, Phi = lo[change], hi[change], Plo[change], Phi[change]
    found = [theta]
    for _ in range(80):
        if lo.numel() == 0:
            break
        mid = (lo + hi) / 2
        done = (hi - lo <= 4e-15) | (mid <= lo) | (mid >= hi)
        found.append(torch.cat([lo[done], hi[done]]))
        lo, hi, Plo, Phi, mid = lo[~done], hi[~done], Plo[~done], Phi[~done], mid[~done]
        if lo.numel() == 0:
            break
        Pm = _patterns(fs, gs, _angles_to_points(mid))
        left = (Plo != Pm).any(dim=1)
        right = (Pm != Phi).any(dim=1)
        lo = torch.cat([lo[left], mid[right]])
        hi = torch.cat([mid[left], hi[right]])
        Plo, Phi = torch.cat([Plo[left], Pm[right]]), torch.cat([Pm[left], Phi[right]])
    found.append(torch.cat([lo, hi]))                 # unfinished (should not happen): still points
    theta = torch.unique(torch.remainder(torch.cat(found), two_pi))
    P = _patterns(fs, gs, _angles_to_points(theta))
    # every interval between neighbours with equal patterns lies in one arc (one linear piece):
    # its midpoint's Jacobian is that arc's M
    same = ~(P != torch.roll(P, -1, dims=0)).any(dim=1)            # theta[i] and theta[i+1] alike
    nxt = torch.cat([theta[1:], theta[:1] + two_pi])
    mids = ((theta + nxt) / 2)[same]
    if mids.numel() == 0:
        mids = theta[:1]
    Xm = _angles_to_points(mids)
    M = _jacobians(fs, gs, Xm)                                      # (arcs, m, 2)
    cand = [_angles_to_points(theta)]
    if M is not None:
        ok = torch.isfinite(M).all(dim=2).all(dim=1)
        if bool(ok.any()):
            _, _, Vh = torch.linalg.svd(M[ok], full_matrices=False)
            v = Vh[:, 0, :]
            cand += [_unit(v), _unit(-v)]
    return torch.cat(cand)


def _jacobians(fs, gs, X: torch.Tensor):
    """Jacobian of f − g at each row of X, shape (B, m, dim), by reverse-mode AD, one backward
    pass per output (rows are independent, so the gradient of a column sum is per row; torch's
    forward mode would import TorchScript, deprecated). None if the functions do not support it."""
    chunk = _chunk(fs, gs)
    parts = []
    try:
        for s in range(0, X.shape[0], chunk):
            with torch.enable_grad():
                x = X[s:s + chunk].clone().requires_grad_(True)
                y = _as_batch_output(fs(x), x.shape[0]) - _as_batch_output(gs(x), x.shape[0])
                if not y.requires_grad:             # constant difference: zero Jacobian
                    parts.append(torch.zeros(x.shape[0], y.shape[1], x.shape[1], dtype=torch.float64))
                    continue
                rows = [torch.autograd.grad(y[:, k].sum(), x, retain_graph=True, allow_unused=True)[0]
                        for k in range(y.shape[1])]
            rows = [torch.zeros_like(x) if r is None else r.detach() for r in rows]
            parts.append(torch.stack(rows, dim=1))
    except (RuntimeError, NotImplementedError, TypeError):
        return None
    return torch.cat(parts)


# --------------------------------------------------------------------------------------------
# projected-gradient ascent on the sphere


def _ascend(err, X: torch.Tensor, steps: int) -> torch.Tensor:
    """Batched ascent of ‖f − g‖ on the sphere (module docstring); returns the final points."""
    X = _unit(X)
    S = X.shape[0]
    val = err(X)
    eta = torch.full((S, 1), ETA[0], dtype=torch.float64)
    D = torch.zeros_like(X)
    for _ in range(steps):
        if bool((eta < 1e-13).all()):
            break
        with torch.enable_grad():
            Xg = X.clone().requires_grad_(True)
            e = err.diff(Xg)
            (G,) = torch.autograd.grad((e * e).sum(), Xg)
        with torch.no_grad():
            xn = X / torch.linalg.vector_norm(X, dim=1, keepdim=True)
            U = _tangent_unit(G, xn)
            D = MOMENTUM * D + U   # averaged direction: across a ridge the gradients alternate and cancel
            cands = [_unit(torch.cos(eta) * xn + torch.sin(eta) * U), _unit(G),
                     _unit(torch.cos(eta) * xn + torch.sin(eta) * _tangent_unit(D, xn))]
            v = err(torch.cat(cands)).reshape(len(cands), S)
            v = torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v)
            best, which = v.max(dim=0)
            take = best > val
            angular_taken = take & (which != 1)
            angular_helped = (torch.cat([v[:1], v[2:]]) > val[None]).any(dim=0)
            X = torch.where(take[:, None], torch.stack(cands)[which, torch.arange(S)], X)
            val = torch.where(take, best, val)
            # the angular step: longer after it was taken, shorter after it did not help
            eta = torch.where(angular_taken[:, None], (2 * eta).clamp(max=ETA[1]),
                              torch.where(angular_helped[:, None], eta, 0.3 * eta))
    return X


def _random_search(err, X: torch.Tensor, iters: int, lam: int, gen: torch.Generator,
                   sigma0: float = 1e-2) -> torch.Tensor:
    """(1+λ) random search on the sphere from each row of X: λ random tangent steps of angle σ
    per point and iteration, the best taken if it improves (then σ doubles, else it halves).
    Gradient steps zigzag across the ridges where the error's maxima often lie (kinks between
    linear regions); random directions also move along them."""
    X = _unit(X)
    S, d = X.shape
    val = err(X)
    sigma = torch.full((S, 1, 1), sigma0, dtype=torch.float64)
    for _ in range(iters):
        if bool((sigma < 1e-14).all()):
            break
        xn = (X / torch.linalg.vector_norm(X, dim=1, keepdim=True))[:, None, :]      # (S, 1, d)
        N = torch.randn(S, lam, d, generator=gen, dtype=torch.float64)
        N = N - (N * xn).sum(dim=2, keepdim=True) * xn
        N = N / torch.linalg.vector_norm(N, dim=2, keepdim=True).clamp_min(1e-300)
        s = sigma * torch.rand(S, lam, 1, generator=gen, dtype=torch.float64).mul(2)  # angles in (0, 2σ)
        Y = _unit((torch.cos(s) * xn + torch.sin(s) * N).reshape(S * lam, d)).reshape(S, lam, d)
        v = err(Y.reshape(S * lam, d)).reshape(S, lam)
        v = torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v)
        best, which = v.max(dim=1)
        take = best > val
        X = torch.where(take[:, None], Y[torch.arange(S), which], X)
        val = torch.where(take, best, val)
        sigma = torch.where(take[:, None, None], (2 * sigma).clamp(max=0.5), 0.5 * sigma)
    return X


def _tangent_unit(V: torch.Tensor, xn: torch.Tensor) -> torch.Tensor:
    """The part of each row of V orthogonal to the unit row of xn, normalized (0 if none)."""
    T = V - (V * xn).sum(dim=1, keepdim=True) * xn
    tn = torch.linalg.vector_norm(T, dim=1, keepdim=True)
    return torch.where(tn > 0, T / tn.clamp_min(1e-300), torch.zeros_like(T))


class _Err:
    """‖f − g‖ per row (no grad) and f − g with autograd, on the (compressed) functions."""

    def __init__(self, f, g):
        self.f, self.g = f, g
        self.chunk = _chunk(f, g)

    def __call__(self, X):
        return _error(self.f, self.g, X, self.chunk)

    def diff(self, X):
        return _as_batch_output(self.f(X), X.shape[0]) - _as_batch_output(self.g(X), X.shape[0])


def _distinct_top(X: torch.Tensor, vals: torch.Tensor, k: int, min_angle: float = 1e-6) -> torch.Tensor:
    """Up to k rows of X with the largest vals, pairwise more than ``min_angle`` apart."""
    order = torch.argsort(torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals),
                          descending=True)
    chosen: list[int] = []
    Xn = X / torch.linalg.vector_norm(X, dim=1, keepdim=True)
    thr = math.cos(min_angle)
    for i in order.tolist():
        if len(chosen) >= k:
            break
        if chosen and bool(((Xn[chosen] @ Xn[i]) > thr).any()):
            continue
        chosen.append(i)
    return X[chosen]


def _search(err: _Err, X: torch.Tensor, *, keep: int, steps: int, gen: torch.Generator, hops: int,
            polish: int) -> torch.Tensor:
    """Ascend from the best ``keep`` distinct rows of X, then ``hops`` rounds of basin hopping,
    then the random-search polish of the best ``polish``; returns every point reached (for the
    caller to evaluate on the original functions)."""
    start = _distinct_top(X, err(X), keep)
    if steps == 0 or X.shape[1] == 1:
        return start
    out = [_ascend(err, start, steps)]
    for _ in range(hops):
        pool = torch.cat(out)
        seeds = _distinct_top(pool, err(pool), 8, min_angle=1e-3)
        per = max(1, keep // max(1, seeds.shape[0]))
        lo, hi = math.log(HOP_ANGLES[0]), math.log(HOP_ANGLES[1])
        angle = torch.exp(lo + (hi - lo) * torch.rand(per * seeds.shape[0], 1, generator=gen, dtype=torch.float64))
        base = seeds.repeat_interleave(per, dim=0)
        base = base / torch.linalg.vector_norm(base, dim=1, keepdim=True)
        noise = torch.randn(base.shape, generator=gen, dtype=torch.float64)
        noise = noise - (noise * base).sum(dim=1, keepdim=True) * base
        noise = noise / torch.linalg.vector_norm(noise, dim=1, keepdim=True).clamp_min(1e-300)
        out.append(_ascend(err, torch.cos(angle) * base + torch.sin(angle) * noise, max(1, steps // 2)))
    if polish > 0:
        pool = torch.cat(out)
        out.append(_random_search(err, _distinct_top(pool, err(pool), polish, min_angle=1e-4), POLISH_ITERS,
                                  POLISH_LAMBDA, gen))
    return torch.cat(out)


# --------------------------------------------------------------------------------------------
# other domains: boxes, balls of any radius, networks with biases


def _has_bias(h) -> bool:
    return isinstance(h, nn.Module) and any(getattr(m, "bias", None) is not None for m in h.modules())


def _into_ball(X: torch.Tensor, r: float) -> torch.Tensor:
    """Rows of X with norm above r·SHRINK scaled to that norm (so that ‖x‖₂ ≤ r despite rounding)."""
    n = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    over = n > r * SHRINK
    return torch.where(over, X / n.clamp_min(1e-300) * (r * SHRINK), X)


class _Inside:
    """Projection onto the domain, rounded inwards (a ball's points end at norm ≤ r·SHRINK)."""

    def __init__(self, domain: Domain, dim: int):
        self.domain, self.dim = domain, dim
        self.scale = float(domain.radius_for(dim))
        self.ball = isinstance(domain, Ball)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        X = self.domain.project(X)
        return _into_ball(X, self.domain.radius) if self.ball else X

    def corners(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A box's lowest and highest corners (a ball's bounding box)."""
        big = torch.full((1, self.dim), 1e300, dtype=torch.float64)
        return self(-big)[0], self(big)[0]


def _curve_points(fs, gs, point, t0: float, t1: float, grid: int) -> torch.Tensor:
    """Points of the curve t ↦ point(t), t ∈ [t0, t1]: a grid of ``grid`` + 1 parameters and, for
    every change of activation pattern between neighbours, both sides bisected to machine precision."""
    theta = torch.linspace(t0, t1, grid + 1, dtype=torch.float64)
    if not (_relus(fs) or _relus(gs)):
        return point(theta)
    P = _patterns(fs, gs, point(theta))
    change = (P[:-1] != P[1:]).any(dim=1)
    lo, hi, Plo, Phi = theta[:-1][change], theta[1:][change], P[:-1][change], P[1:][change]
    found = [theta]
    for _ in range(90):
        if lo.numel() == 0:
            break
        mid = (lo + hi) / 2
        done = (mid <= lo) | (mid >= hi)
        found.append(torch.cat([lo[done], hi[done]]))
        lo, hi, Plo, Phi, mid = lo[~done], hi[~done], Plo[~done], Phi[~done], mid[~done]
        if lo.numel() == 0:
            break
        Pm = _patterns(fs, gs, point(mid))
        left = (Plo != Pm).any(dim=1)
        right = (Pm != Phi).any(dim=1)
        lo, hi = torch.cat([lo[left], mid[right]]), torch.cat([mid[left], hi[right]])
        Plo, Phi = torch.cat([Plo[left], Pm[right]]), torch.cat([Pm[left], Phi[right]])
    found.append(torch.cat([lo, hi]))
    return point(torch.unique(torch.cat(found)))


def _segment(a: torch.Tensor, b: torch.Tensor):
    return lambda t: a[None, :] + t[:, None] * (b - a)[None, :]


def _domain_lower_bound(f, g, dim: int, domain: Domain, *, seed: int, starts: int, keep: int, steps: int,
                        hops: int, polish: int, grid2: int, max_lattice: int):
    """:func:`lower_bound` on a domain without homogeneity (module docstring, "Other domains")."""
    gen = torch.Generator().manual_seed(int(seed))
    fs, gs = _compress(f), _compress(g)
    err = _Err(fs, gs)
    inside = _Inside(domain, dim)
    lo, hi = inside.corners()
    if dim == 1:
        X = _curve_points(fs, gs, _segment(lo, hi), 0.0, 1.0, grid2)
        X = inside(torch.cat([X, lo[None], hi[None]]))
    else:
        pool = [domain.sample(starts, dim, gen), inside((lo + hi)[None] / 2)]
        if dim == 2:
            if inside.ball:
                r = domain.radius * SHRINK
                pool.append(_curve_points(fs, gs, lambda t: torch.stack([torch.cos(t), torch.sin(t)], dim=1) * r,
                                          0.0, 2 * math.pi, grid2))
            else:
                c = [torch.stack([lo[0], lo[1]]), torch.stack([hi[0], lo[1]]), torch.stack([hi[0], hi[1]]),
                     torch.stack([lo[0], hi[1]])]
                pool += [torch.stack(c)] + [_curve_points(fs, gs, _segment(c[i], c[(i + 1) % 4]), 0.0, 1.0, grid2)
                                            for i in range(4)]
            side = max(2, min(1024, grid2 // 4))
            u = torch.linspace(0.0, 1.0, side, dtype=torch.float64)
            gx, gy = torch.meshgrid(lo[0] + u * (hi[0] - lo[0]), lo[1] + u * (hi[1] - lo[1]), indexing="ij")
            pool.append(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1))
        else:
            if not inside.ball and 2 ** dim <= max_lattice:
                corners = torch.tensor(list(itertools.product((0.0, 1.0), repeat=dim)), dtype=torch.float64)
                pool.append(lo + corners * (hi - lo))
            D = _structured(f, g, dim, 0)
            D = D / torch.linalg.vector_norm(D, dim=1, keepdim=True).clamp_min(1e-300)
            pool.append((lo + hi)[None] / 2 + inside.scale * D)
        X = inside(torch.cat(pool))
        X = torch.cat([X, _search_domain(err, X, inside, keep=keep, steps=steps, gen=gen,
                                         hops=hops if dim > 2 else 0, polish=polish)])
    X = inside(X)
    ok = torch.from_numpy(domain.contains(X))
    X = X[ok]
    if X.shape[0] > FINAL:
        vals = err(X)
        vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
        X = X[torch.topk(vals, FINAL).indices]
    vals = _error(f, g, X)
    vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
    x = X[int(torch.argmax(vals))].clone()
    if not bool(domain.contains(x[None])[0]):   # cannot happen: filtered above
        raise RuntimeError(f"internal error: a candidate outside {domain!r}")
    return float(_error(f, g, x[None])[0]), x


def _search_domain(err: _Err, X: torch.Tensor, inside: _Inside, *, keep: int, steps: int, gen: torch.Generator,
                   hops: int, polish: int) -> torch.Tensor:
    """:func:`_search` inside a domain: ascent, basin hopping and polish by projected straight steps."""
    vals = err(X)
    vals = torch.where(torch.isnan(vals), torch.full_like(vals, -math.inf), vals)
    start = X[torch.topk(vals, min(keep, X.shape[0])).indices]
    if steps == 0:
        return start
    s = inside.scale
    out = [_ascend_domain(err, start, steps, inside)]
    for _ in range(hops):
        pool = torch.cat(out)
        v = err(pool)
        seeds = pool[torch.topk(torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v),
                                min(8, pool.shape[0])).indices]
        per = max(1, keep // seeds.shape[0])
        lo, hi = math.log(HOP_ANGLES[0]), math.log(HOP_ANGLES[1])
        size = torch.exp(lo + (hi - lo) * torch.rand(per * seeds.shape[0], 1, generator=gen, dtype=torch.float64))
        noise = torch.randn(per * seeds.shape[0], X.shape[1], generator=gen, dtype=torch.float64)
        noise = noise / torch.linalg.vector_norm(noise, dim=1, keepdim=True).clamp_min(1e-300)
        out.append(_ascend_domain(err, inside(seeds.repeat_interleave(per, dim=0) + size * s * noise),
                                  max(1, steps // 2), inside))
    if polish > 0:
        pool = torch.cat(out)
        v = err(pool)
        top = pool[torch.topk(torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v),
                              min(polish, pool.shape[0])).indices]
        out.append(_random_search_domain(err, top, POLISH_ITERS, POLISH_LAMBDA, gen, inside))
    return torch.cat(out)


def _ascend_domain(err, X: torch.Tensor, steps: int, inside: _Inside) -> torch.Tensor:
    """Batched projected ascent of ‖f − g‖ in the domain: steps of length η·s along the normalized
    gradient and along the averaged direction, projected; the better taken if it helps (η doubles
    up to 1), else η × 0.3."""
    S = X.shape[0]
    s = inside.scale
    val = err(X)
    eta = torch.full((S, 1), ETA[0], dtype=torch.float64)
    D = torch.zeros_like(X)
    for _ in range(steps):
        if bool((eta < 1e-13).all()):
            break
        with torch.enable_grad():
            Xg = X.clone().requires_grad_(True)
            e = err.diff(Xg)
            (G,) = torch.autograd.grad((e * e).sum(), Xg)
        with torch.no_grad():
            gn = torch.linalg.vector_norm(G, dim=1, keepdim=True)
            U = torch.where(gn > 0, G / gn.clamp_min(1e-300), torch.zeros_like(G))
            D = MOMENTUM * D + U
            dn = torch.linalg.vector_norm(D, dim=1, keepdim=True)
            Du = torch.where(dn > 0, D / dn.clamp_min(1e-300), torch.zeros_like(D))
            cands = [inside(X + eta * s * U), inside(X + eta * s * Du)]
            v = err(torch.cat(cands)).reshape(len(cands), S)
            v = torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v)
            best, which = v.max(dim=0)
            take = best > val
            X = torch.where(take[:, None], torch.stack(cands)[which, torch.arange(S)], X)
            val = torch.where(take, best, val)
            eta = torch.where(take[:, None], (2 * eta).clamp(max=ETA[1]), 0.3 * eta)
    return X


def _random_search_domain(err, X: torch.Tensor, iters: int, lam: int, gen: torch.Generator,
                          inside: _Inside, sigma0: float = 1e-2) -> torch.Tensor:
    """(1+λ) random search in the domain: λ projected random steps of length in (0, 2σ·s) per point
    and iteration, the best taken if it improves (σ doubles, up to 0.5), else σ halves."""
    S, d = X.shape
    s = inside.scale
    val = err(X)
    sigma = torch.full((S, 1, 1), sigma0, dtype=torch.float64)
    for _ in range(iters):
        if bool((sigma < 1e-14).all()):
            break
        N = torch.randn(S, lam, d, generator=gen, dtype=torch.float64)
        N = N / torch.linalg.vector_norm(N, dim=2, keepdim=True).clamp_min(1e-300)
        step = sigma * s * torch.rand(S, lam, 1, generator=gen, dtype=torch.float64).mul(2)
        Y = inside((X[:, None, :] + step * N).reshape(S * lam, d)).reshape(S, lam, d)
        v = err(Y.reshape(S * lam, d)).reshape(S, lam)
        v = torch.where(torch.isnan(v), torch.full_like(v, -math.inf), v)
        best, which = v.max(dim=1)
        take = best > val
        X = torch.where(take[:, None], Y[torch.arange(S), which], X)
        val = torch.where(take, best, val)
        sigma = torch.where(take[:, None, None], (2 * sigma).clamp(max=0.5), 0.5 * sigma)
    return X
