"""The S-procedure (Lagrangian relaxation) bound of :func:`sltheory.certificate.bound.certify` (``method="sdp"``).

Everything here is private; the inequality chain is in the module docstring of
:mod:`sltheory.certificate.bound` (section *S-procedure bound*) and is checked in ``proofs/certificate.py``.

Lifted variables (one real vector v per input x, ‖x‖₂ ≤ 1), for a target of depth l with hidden
widths d_1 … d_{l−1}:

    v = [z; h_1; δ̃_1; …; h_{l−1}; δ̃_{l−1}],   z = [σ(x); σ(−x)] ∈ R^{2d_0},
    h_i the target's hidden layer, δ_i = ĥ_i − h_i = s_i δ̃_i the ticket's deviation (s_i > 0 a scale).

Every quantity of both networks is a linear *form* of v (a row vector): a_i = W_i h_{i−1} (a_1 = W_1 x),
â_i − a_i = ξ_i = E_i h_{i−1} + P_i δ_{i−1} (ξ_1 = E_1 z), ĥ_i = h_i + δ_i, â_i = a_i + ξ_i, and the
output difference L v = E_l h_{l−1} + P_l δ_{l−1} (L v = E_1 z at depth 1). Each valid constraint is
``(p_k·v)(q_k·v) = 0`` or ``≥ 0``, stored as the rows p_k, q_k of two matrices.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._linalg import UNIT_ROUNDOFF, gamma

_CONTROLLER: list[Any] = []   # [a threadpoolctl.ThreadpoolController, or None without threadpoolctl], set once


def _single_thread():
    """Small dense LAPACK calls run much faster on one thread (and are immune to oversubscribed
    cores); threadpoolctl (shipped with scikit-learn) is optional."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover
            _CONTROLLER.append(None)
    return _CONTROLLER[0].limit(limits=1) if _CONTROLLER[0] is not None else contextlib.nullcontext()


@dataclass(frozen=True)
class Forms:
    """The relaxation's data: ``P``, ``Q`` (m × n) constraint factors, ``ineq`` (m,) whether the
    constraint is an inequality (p·v)(q·v) ≥ 0 (else an equality), ``L`` the output form, ``z`` the
    size of the input block, ``blocks`` the (start, stop) of each hidden block and ``radii`` an upper
    bound on sup ‖v_block‖ / ‖x‖ for each."""

    P: np.ndarray
    Q: np.ndarray
    ineq: np.ndarray
    L: np.ndarray
    z: int
    blocks: tuple[tuple[int, int], ...]
    radii: tuple[float, ...]

    @property
    def n(self) -> int:
        return self.P.shape[1]


def build_forms(Ws, P1, N1, Ps, scales, out_scale, radii, *, absolute=False) -> Forms:
    """Forms of the relaxation for target matrices ``Ws``, first effective map (P1, N1) and later
    maps ``Ps`` (nonnegative inputs). ``scales[i]`` = s_{i+1} (δ_{i+1} = s δ̃), ``out_scale`` divides L.

    ``absolute=True`` builds the same forms with every matrix replaced by its absolute value and
    every difference by a sum: entrywise upper bounds on the magnitudes that enter each form (for
    the rounding-error bound of the assembly).
    """
    if absolute:
        Ws = [np.abs(W) for W in Ws]
        P1, N1, Ps = np.abs(P1), np.abs(N1), [np.abs(P) for P in Ps]

    def sub(a, b):
        return a + np.abs(b) if absolute else a - b

    l = len(Ws)
    d0 = Ws[0].shape[1]
    widths = [W.shape[0] for W in Ws[:-1]]
    n = 2 * d0 + 2 * sum(widths)
    E1 = np.hstack([sub(P1, Ws[0]), N1 + Ws[0]])
    Wz = np.hstack([Ws[0], Ws[0] if absolute else -Ws[0]])      # a_1 = W_1 (z⁺ − z⁻)
    rows_p, rows_q, ineq = [], [], []

    def sel(start, size, scale=1.0):
        S = np.zeros((size, n))
        S[np.arange(size), start + np.arange(size)] = scale
        return S

    # disjoint supports: z⁺_j z⁻_j = 0
    rows_p.append(sel(0, d0))
    rows_q.append(sel(d0, d0))
    ineq.append(np.zeros(d0, dtype=bool))
    Z = sel(0, 2 * d0)
    blocks = []
    start = 2 * d0
    prev_h = prev_d = None
    for i, d in enumerate(widths):
        H = sel(start, d)
        D = sel(start + d, d, scales[i])
        blocks += [(start, start + d), (start + d, start + 2 * d)]
        if i == 0:
            A = Wz @ Z
            Dl = E1 @ Z
        else:
            A = Ws[i] @ prev_h
            Dl = sub(Ps[i - 1], Ws[i]) @ prev_h + Ps[i - 1] @ prev_d
        Hh = H + D
        rows_p += [H, Hh, D]
        rows_q += [sub(H, A), sub(sub(Hh, A), Dl), sub(Dl, D)]   # h(h−a) = 0, ĥ(ĥ−â) = 0, δ(ξ−δ) ≥ 0
        ineq += [np.zeros(d, dtype=bool), np.zeros(d, dtype=bool), np.ones(d, dtype=bool)]
        prev_h, prev_d = H, D
        start += 2 * d
    if l == 1:
        L = E1 @ Z
    else:
        L = sub(Ps[-1], Ws[-1]) @ prev_h + Ps[-1] @ prev_d
    P, Q = np.vstack(rows_p), np.vstack(rows_q)
    return Forms(P, Q, np.concatenate(ineq), L / out_scale, 2 * d0, tuple(blocks), tuple(radii))


def build(Ws, P1, N1, Ps, scales, out_scale, radii) -> tuple[Forms, Forms]:
    """The forms and their absolute counterparts (:func:`build_forms`), every constraint row scaled
    to unit norm (p_k/‖p_k‖, q_k/‖q_k‖, the same positive factors for both: a constraint times a
    positive number is the same constraint), so that the multipliers are of comparable sizes."""
    args = (Ws, P1, N1, Ps, scales, out_scale, radii)
    F, Fa = build_forms(*args), build_forms(*args, absolute=True)
    fp = 1.0 / np.maximum(np.linalg.norm(F.P, axis=1), 1e-300)
    fq = 1.0 / np.maximum(np.linalg.norm(F.Q, axis=1), 1e-300)

    def scaled(G):
        return Forms(G.P * fp[:, None], G.Q * fq[:, None], G.ineq, G.L, G.z, G.blocks, G.radii)
    return scaled(F), scaled(Fa)


def assemble(F: Forms, t: float, y: np.ndarray) -> np.ndarray:
    """S(t, y) = t·Z^T Z − L^T L − Σ_k y_k sym(p_k q_k^T)."""
    M = (F.P.T * y) @ F.Q
    S = -(F.L.T @ F.L) - 0.5 * (M + M.T)
    S[np.arange(F.z), np.arange(F.z)] += t
    return S


def _initial_point(F: Forms):
    """Multipliers that make S(t, y) ≻ 0 for some t: negative ReLU multipliers and positive
    slope multipliers, growing towards the first hidden layer; t from the Schur complement."""
    m, n, z = F.P.shape[0], F.n, F.z
    nl = len(F.blocks) // 2
    c = 1.0 + float(np.linalg.norm(F.L, 2)) ** 2
    best = None
    for cm in (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e4):
        for K in (2.0, 4.0, 16.0, 64.0, 256.0):
            y = np.zeros(m)
            o = z // 2
            for i in range(nl):
                d = F.blocks[2 * i][1] - F.blocks[2 * i][0]
                ci = cm * c * K ** (nl - 1 - i)
                y[o:o + 2 * d] = -ci
                y[o + 2 * d:o + 3 * d] = ci
                o += 3 * d
            if np.abs(y).max(initial=0.0) >= Y_MAX / 10:
                continue
            S = assemble(F, 0.0, y)
            if n > z:
                try:
                    Lw = np.linalg.cholesky(S[z:, z:])
                except np.linalg.LinAlgError:
                    continue
                X = sla.cho_solve((Lw, True), S[z:, :z])
                Sc = S[:z, :z] - S[:z, z:] @ X
            else:
                Sc = S
            t = max(0.0, -float(np.linalg.eigvalsh(Sc)[0]))
            if best is None or t < best[0]:
                best = (t, y)
    if best is None:
        return None
    return best[0] * 1.5 + 1e-6 * c, best[1]


def solve(F: Forms, *, tol=1e-4, factor=0.5, inner=5, max_iter=400):
    """Barrier method for min t s.t. S(t, y) ⪰ 0, y_k ≥ 0 on inequalities (Newton steps on
    t − μ(log det S + Σ log y_k), μ decreasing). Any strictly feasible point is a valid
    certificate, so an early stop only loosens the bound. Returns (t, y) or None."""
    with _single_thread(), warnings.catch_warnings():
        # near the optimum the Newton system is ill-conditioned; a poor step is refused by the
        # line search, and any feasible point stays a valid certificate
        warnings.simplefilter("ignore", sla.LinAlgWarning)
        return _solve(F, tol, factor, inner, max_iter)


#: Multipliers are kept in (−Y_MAX, Y_MAX) by a log barrier (the constraint rows have unit norm and
#: L is scaled to O(1)): degenerate problems (an exact layer, δ ≡ 0) otherwise drive some to infinity,
#: where rounding would swamp the certificate.
Y_MAX = 1e6


def _solve(F, tol, factor, inner, max_iter):
    start = _initial_point(F)
    if start is None:
        return None
    t, y = start
    n, z, ineq = F.n, F.z, F.ineq
    m = y.size
    nu = n + int(ineq.sum()) + 2 * m
    mu = max(t, 1e-300) / nu

    def barrier(t, y, mu):
        if np.any(y[ineq] <= 0) or np.any(np.abs(y) >= Y_MAX):
            return np.inf, None
        try:
            C = np.linalg.cholesky(assemble(F, t, y))
        except np.linalg.LinAlgError:
            return np.inf, None
        box = np.log(Y_MAX - y).sum() + np.log(Y_MAX + y).sum()
        return t - mu * (2 * np.log(np.diag(C)).sum() + np.log(y[ineq]).sum() + box), C

    it = 0
    value, C = barrier(t, y, mu)
    if C is None:
        return None
    eye = np.eye(n)
    while it < max_iter:
        for _ in range(inner):
            it += 1
            G = sla.cho_solve((C, True), eye)
            GP, GQ = G @ F.P.T, G @ F.Q.T
            Xpq, Xpp, Xqq = F.P @ GQ, F.P @ GP, F.Q @ GQ
            gy = mu * (np.diag(Xpq) + 1 / (Y_MAX - y) - 1 / (Y_MAX + y))
            gy[ineq] -= mu / y[ineq]
            gt = 1.0 - mu * np.trace(G[:z, :z])
            H = np.empty((m + 1, m + 1))
            H[1:, 1:] = 0.5 * mu * (Xpq.T * Xpq + Xqq * Xpp)
            H[1:, 1:][ineq, ineq] += mu / y[ineq] ** 2
            H[1:, 1:][np.diag_indices(m)] += mu * (1 / (Y_MAX - y) ** 2 + 1 / (Y_MAX + y) ** 2)
            H[0, 1:] = H[1:, 0] = -mu * np.einsum("ik,ik->k", GP[:z], GQ[:z])
            H[0, 0] = mu * float(np.sum(G[:z, :z] ** 2))
            g = np.concatenate([[gt], gy])
            # Jacobi-scaled Newton system (the diagonal spans many decades)
            dsc = 1.0 / np.sqrt(np.maximum(np.diag(H), 1e-300))
            Hs = H * dsc[:, None] * dsc[None, :]
            Hs[np.diag_indices_from(Hs)] += 1e-12
            try:
                step = -dsc * sla.solve(Hs, g * dsc, assume_a="sym")
            except (np.linalg.LinAlgError, sla.LinAlgError):
                step = -g * dsc * dsc
            dec = -float(g @ step)
            if not dec > 2e-3 * mu:
                break
            a = 1.0
            while a > 1e-10:
                nv, nC = barrier(t + a * step[0], y + a * step[1:], mu)
                if nC is not None and nv <= value - 0.25 * a * dec:
                    break
                a *= 0.5
            else:   # no step decreases the barrier enough: stop at the current point
                break
            t, y, value, C = t + a * step[0], y + a * step[1:], nv, nC
        if mu * nu <= tol * t:
            break
        mu *= factor
        value, C = barrier(t, y, mu)
    return t, y


def verified_value(F: Forms, F_abs: Forms, t: float, y: np.ndarray) -> float:
    """An upper bound on sup ‖L v‖² over the feasible v (‖x‖₂ ≤ 1) from the multipliers (t, y),
    valid in exact arithmetic although S(t, y) is assembled and factorized in floating point:

    * weak duality needs y_k ≥ 0 on the inequalities: negative ones (rounding) are set to 0 first;
    * the assembly error is entrywise ≤ γ_K · S_abs (S_abs: the same assembly from the absolute
      forms with |y| and every difference a sum; K = 3(n + d_max + 10), d_max the largest inner
      dimension of the products (L's rows, n, the m multipliers), bounds the number of roundings
      along any chain), so ‖S_exact − S_float‖₂ ≤ γ_K ‖S_abs‖_F;
    * LAPACK's symmetric eigensolver is backward stable: the computed smallest eigenvalue is within
      8 n u ‖S_float‖_F of the exact one (a generous p(n));
    * with κ ≥ −λ_min(S_exact), S_exact + κ I ⪰ 0, and the block radii turn κ‖v‖² into
      κ (1 + Σ_b radius_b²) ‖x‖²; so sup ‖L v‖² ≤ t + κ (1 + Σ radius_b²).
    """
    n = F.n
    y = np.where(F.ineq, np.maximum(y, 0.0), y)
    d_max = max(F.L.shape[0], n, y.shape[0])
    K = 3 * (n + d_max + 10)
    with _single_thread():
        S = assemble(F, t, y)
        M_abs = (F_abs.P.T * np.abs(y)) @ F_abs.Q
        S_abs = F_abs.L.T @ F_abs.L + 0.5 * (M_abs + M_abs.T)
        S_abs[np.arange(F.z), np.arange(F.z)] += abs(t)
        assembly = gamma(K) * float(np.linalg.norm(S_abs)) * (1 + 1e-6)
        lam_min = float(np.linalg.eigvalsh(S)[0])
    eig = 8 * n * UNIT_ROUNDOFF * float(np.linalg.norm(S)) * (1 + 1e-6)
    kappa = max(0.0, -(lam_min - eig - assembly))
    radius2 = 1.0 + sum(r * r for r in F.radii)
    return (max(t, 0.0) + kappa * radius2) * (1 + 8 * UNIT_ROUNDOFF)


def cost(d0: int, widths) -> float:
    """Rough flops of one Newton step (n³ + 3 m n² + 3 m² n), to decide whether to run it."""
    n = 2 * d0 + 2 * sum(widths)
    m = d0 + 3 * sum(widths)
    return float(n) ** 3 + 3.0 * m * n * n + 3.0 * m * m * n
