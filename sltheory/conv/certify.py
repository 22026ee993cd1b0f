"""Certified sup-norm error of a conv / residual ticket (``method="layerwise-conv"``).

The maps
--------
Each target Affine op a(h) = W ⋆ h + b (⋆: the layer's zero-padded convolution with its stride, or
the matrix product for a Linear; b broadcast over positions) is approximated by a pruned pair whose
effective map, as certified (a :class:`ConvPairMap`), is

    G(h) = P ⋆ σ(h) + N ⋆ σ(−h) + p                  (σ = ReLU, p per output channel)

or G(h) = P ⋆ h + p when the layer's inputs are ≥ 0 (N None or ignored: σ(−h) = 0 there). Write
s(h) = [σ(h); σ(−h)] (2·c_in channels). s is 1-Lipschitz — per coordinate
(σ(a) − σ(b))² + (σ(−a) − σ(−b))² ≤ (a − b)² (one term is (a − b)² if a, b share a sign; otherwise
a² + b² ≤ a² + b² − 2ab) — and ‖s(h)‖ = ‖h‖. With 𝒢 = [P, N] and 𝒲 = [W, −W] (kernels
concatenated over input channels) G(h) = 𝒢 ⋆ s(h) + p and W ⋆ h = 𝒲 ⋆ s(h) (h = σ(h) − σ(−h)).

The recursion (exact arithmetic)
--------------------------------
Over x in the domain D, per op: R ≥ sup‖h‖ (target), r ≥ sup‖ĥ‖ (ticket), Δ ≥ sup‖ĥ − h‖, and
whether both networks' activations are ≥ 0. Start: R = r = radius_for(input_dim) (rounded up), Δ = 0,
signed unless D is nonnegative. Norms are ℓ2 of the flattened tensors; ‖·‖ of a conv is its
operator norm on the op's input shape (:mod:`sltheory.conv.norms`); a per-channel vector v
broadcast over the ``pos`` output positions has norm ‖v‖√pos.

*Affine.* Signed input: e = ‖(𝒢 − 𝒲)⋆‖ = ‖[P − W, N + W]⋆‖, g = ‖𝒢⋆‖ = ‖[P, N]⋆‖; inputs ≥ 0:
e = ‖(P − W)⋆‖, g = ‖P⋆‖ (then s(h) = [h; 0]). β = ‖p − b‖√pos. Exactly, for any h, ĥ,

    G(ĥ) − a(h) = (𝒢 − 𝒲)⋆s(ĥ) + W⋆(ĥ − h) + (p − b)            (𝒲⋆s(ĥ) − 𝒲⋆s(h) = W⋆(ĥ − h))
                = (𝒢 − 𝒲)⋆s(h) + 𝒢⋆(s(ĥ) − s(h)) + (p − b),

so with ‖s(ĥ)‖ = ‖ĥ‖ ≤ r, ‖s(h)‖ ≤ R and ‖s(ĥ) − s(h)‖ ≤ ‖ĥ − h‖ ≤ Δ (both splits hold for signed
inputs and Δ > 0; on inputs ≥ 0 s(h) = [h; 0] and the same lines read with P alone):

    Δ' = min(e r + ‖W‖ Δ,  e R + g Δ) + β,   R' = ‖W‖ R + ‖b‖√pos,   r' = min(g r + ‖p‖√pos, R' + Δ').

*ReLU* (1-Lipschitz, σ(0) = 0): R, r, Δ unchanged; activations ≥ 0 afterwards. *Flatten*: unchanged.
*Pool*: R, r, Δ times the pool's Lipschitz constant L (:func:`~sltheory.conv.norms.pool_lipschitz`;
pool(0) = 0); the sign status is kept. *Residual* out = body(x) + shortcut(x) (identity: x), then σ
if ``relu``: body and shortcut run from the same (R, r, Δ); R = R_b + R_s, r = min(r_b + r_s, R + Δ),
Δ = Δ_b + Δ_s (triangle inequality); ≥ 0 iff ``relu`` (or both branches are). The result Δ_out
bounds sup_D ‖f(x) − g̃(x)‖ for the exact networks, g̃ the ticket with the certified maps.

Floating point
--------------
Both networks are evaluated in float64 by torch. Per network a second recursion tracks
E ≥ sup ‖computed − exact‖ (E = 0 at the input, which both read as given), with H = R (target) or
r (ticket) bounding the exact activation, so the computed one has norm ≤ H + E. u = 2⁻⁵³,
γ_k = k u/(1 − k u); a computed dot product of k terms plus a bias is within γ_{k+1}(|w|·|h| + |b|)
of the exact one, whatever the summation order (Higham, Thm 3.5; exact zero terms only help). For
a kernel M ≥ 0 entrywise ‖M⋆‖ ≤ ν(M) := ‖Σ_p M_p‖₂ (:func:`~sltheory.conv.norms.abs_conv_norm_bound`).

* Target Affine, K = c_in·k₁⋯k_d (+1 with a bias): E' = γ_K (ν(|W|)(R + E) + ‖b‖√pos) + ‖W‖ E.
* Ticket pair (hidden u = σ(a·x), one product: within γ₁|a||x|; then the conv with B over at most
  ``inner`` = K nonzero products per output: within γ_K |B|⋆|u|): the computed pair is within
  (γ₁ + γ_K(1 + γ₁)) ν_abs‖x_c‖ + γ_K ‖bias_abs‖√pos of the pair's exact map on the computed input
  x_c, ν_abs = ν(abs_kernel), abs_kernel = |B|·|A| as a kernel on |x| (``bias_abs`` ≥ |B|σ(c) per
  output channel: the bias units' terms). The certified P, N, p were themselves computed from the
  masked weights (sums of at most K products) and are within γ_K (abs_kernel, bias_abs) of the
  exact ones: another γ_K (ν_abs‖x_c‖ + ‖bias_abs‖√pos). Then G is g-Lipschitz (s is 1-Lipschitz):

      E' = (γ₁ + γ_K(1 + γ₁) + γ_K) ν_abs (r + E) + 2 γ_K ‖bias_abs‖√pos + g E.

  A map without ``abs_kernel`` is taken as evaluated directly, G̃ itself in float:
  abs_kernel = |P| + |N|, K = 2·c_in·k₁⋯k_d + 1, bias_abs = |p| (covered by the same line).
* ReLU, Flatten, max pool: exact (E unchanged; max pool: E' = L E). Average pool (a sum of ≤ k terms
  and a division, or a product with a rounded reciprocal): E' = L E + γ_{k+2} L (H + E). Residual
  sum (one rounding, relative u):
  E' = E_b + E_s + u (H_b + E_b + H_s + E_s).

The certificate: sup_D ‖fl f(x) − fl g(x)‖ ≤ E_target + Δ_out + E_ticket, times (1 + 10⁻¹⁰) for the
rounding of this recursion (a few operations per op, each relative ≤ u, all monotone). Norms of the
computed differences fl(P − W), fl(N + W) are raised by u/(1 − u)·ν(|·|) (|fl(D) − D| ≤ u|D| ≤
u/(1 − u)|fl D|); vector norms are rounded up (:func:`_vec_norm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._linalg import UNIT_ROUNDOFF, gamma
from ..certificate.bound import _vec_norm
from ..domains import as_domain, is_default
from ..errors import CertificateError
from .norms import abs_conv_norm_bound, conv_norm_bound, linear_norm_bound, pool_lipschitz
from .ops import Affine, ConvTarget, Flatten, Pool, ReLU, Residual

METHOD = "layerwise-conv"
#: Relative round-up of the final bound (the recursion's own rounding).
RECURSION_SAFETY = 1.0 + 1e-10


@dataclass(frozen=True)
class ConvPairMap:
    """The certified effective map of one pair (module docstring): G(h) = P⋆σ(h) + N⋆σ(−h) + p.

    ``P``, ``N``: kernels of the target layer's shape (N None: the inputs are known ≥ 0); ``p``: one
    offset per output channel or None; ``abs_kernel``: the kernel |B|·|A| acting on |h| (≥ 0, the
    target layer's shape; None: the map is evaluated directly, see the module docstring);
    ``inner``: the largest number of products summed in one output of the pair; ``bias_abs``:
    ≥ |B|σ(c) per output channel (the bias units' part), or None."""

    P: np.ndarray
    N: np.ndarray | None = None
    p: np.ndarray | None = None
    abs_kernel: np.ndarray | None = None
    inner: int = 0
    bias_abs: np.ndarray | None = None


@dataclass(frozen=True)
class LayerTerms:
    """One Affine layer's terms: e, g, ‖W‖ (operator norms on its input shape), β = ‖p − b‖√pos."""

    e: float
    g: float
    w_norm: float
    beta: float
    signed: bool


@dataclass(frozen=True)
class TraceEntry:
    """The recursion after one op: ``op`` names it (nested ops as ``residual[2].body[0]``)."""

    op: str
    R: float
    r: float
    delta: float
    nonneg: bool


@dataclass(frozen=True)
class ConvCertificate:
    """``error_bound`` ≥ sup over the domain of ‖f(x) − g(x)‖₂ (flattened outputs, both networks
    evaluated in float64); ``propagated``: Δ of the exact recursion at the output; ``float_slack``:
    E_target + E_ticket; ``layers``: per Affine (``affine_layers`` order) its :class:`LayerTerms`;
    ``trace``: R, r, Δ after every op; ``domain``: the domain's ``spec()`` (None: the unit ball)."""

    error_bound: float
    propagated: float
    float_slack: float
    layers: tuple[LayerTerms, ...]
    trace: tuple[TraceEntry, ...]
    radius: float
    method: str = METHOD
    domain: dict | None = None
    precision: str = "float64"
    slack_parts: dict = field(default_factory=dict)

    @property
    def layer_errors(self) -> tuple[float, ...]:
        return tuple(t.e for t in self.layers)

    @property
    def map_norms(self) -> tuple[float, ...]:
        return tuple(t.g for t in self.layers)

    @property
    def layerwise_bound(self) -> float:
        return self.error_bound


@dataclass
class _State:
    R: float
    r: float
    delta: float
    ET: float          # target: computed vs exact
    EN: float          # ticket: computed vs exact (certified maps)
    nonneg: bool


def _sqrt_up(n: int) -> float:
    return math.sqrt(n) * (1 + 2 * UNIT_ROUNDOFF)


def _array(x, name: str, shape=None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CertificateError(f"{name} cannot be read as a float array: {exc}") from exc
    if shape is not None and a.shape != tuple(shape):
        raise CertificateError(f"{name} has shape {a.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(a)):
        raise CertificateError(f"{name} has non-finite entries")
    return a


def _op_norm(kernel: np.ndarray, op: Affine, in_channels: int) -> float:
    if op.is_conv:
        return conv_norm_bound(kernel, (in_channels,) + tuple(op.in_shape[1:]), op.stride, op.padding)
    return linear_norm_bound(kernel)


def _diff_norm(D: np.ndarray, op: Affine, in_channels: int) -> float:
    """Norm bound of the exact difference whose float64 value is D (module docstring)."""
    return _op_norm(D, op, in_channels) + UNIT_ROUNDOFF / (1 - UNIT_ROUNDOFF) * abs_conv_norm_bound(np.abs(D))


class _Certifier:
    def __init__(self, target: ConvTarget, maps: list):
        self.maps = list(maps)
        self.index = 0
        self.layers: list[LayerTerms] = []
        self.trace: list[TraceEntry] = []
        self.target = target

    def run(self, ops, st: _State, prefix: str) -> _State:
        for j, op in enumerate(ops):
            name = f"{prefix}{type(op).__name__.lower()}[{j}]"
            st = self.step(op, st, name)
            self.trace.append(TraceEntry(name, st.R, st.r, st.delta, st.nonneg))
        return st

    def step(self, op, st: _State, name: str) -> _State:
        if isinstance(op, Affine):
            return self.affine(op, st, name)
        if isinstance(op, ReLU):
            return _State(st.R, st.r, st.delta, st.ET, st.EN, True)
        if isinstance(op, Flatten):
            return st
        if isinstance(op, Pool):
            try:
                L = pool_lipschitz(op)
            except ValueError as exc:
                raise CertificateError(f"{name}: {exc}") from exc
            ET, EN = L * st.ET, L * st.EN
            if op.kind == "avg":
                g = gamma(int(np.prod(op.kernel)) + 2)
                ET += g * L * (st.R + st.ET)
                EN += g * L * (st.r + st.EN)
            return _State(L * st.R, L * st.r, L * st.delta, ET, EN, st.nonneg)
        if isinstance(op, Residual):
            b = self.run(op.body, st, name + ".body.")
            s = self.run(op.shortcut, st, name + ".shortcut.") if op.shortcut else st
            R = b.R + s.R
            delta = b.delta + s.delta
            r = min(b.r + s.r, R + delta)
            ET = b.ET + s.ET + UNIT_ROUNDOFF * (b.R + b.ET + s.R + s.ET)
            EN = b.EN + s.EN + UNIT_ROUNDOFF * (b.r + b.EN + s.r + s.EN)
            return _State(R, r, delta, ET, EN, bool(op.relu or (b.nonneg and s.nonneg)))
        raise CertificateError(f"{name}: unknown op {type(op).__name__}")

    def affine(self, op: Affine, st: _State, name: str) -> _State:
        i = self.index
        if i >= len(self.maps):
            raise CertificateError(f"{len(self.maps)} maps for a target with {self.target.depth} affine layers")
        self.index += 1
        m = self.maps[i]
        if not isinstance(m, ConvPairMap):
            raise CertificateError(f"map {i} is a {type(m).__name__}, expected a ConvPairMap")
        W = np.asarray(op.weight, dtype=np.float64)
        ci, co = op.in_channels, op.out_channels
        P = _array(m.P, f"map {i}'s P", W.shape)
        signed = not st.nonneg
        N = None
        if signed:
            if m.N is None:
                raise CertificateError(f"map {i} ({name}): its inputs can be negative, the map needs N")
            N = _array(m.N, f"map {i}'s N", W.shape)
        pv = None if m.p is None else _array(m.p, f"map {i}'s offset p", (co,))
        b = None if op.bias is None else _array(op.bias, f"target layer {i}'s bias", (co,))
        try:
            w_norm = _op_norm(W, op, ci)
            if signed:
                assert N is not None
                e = _diff_norm(np.concatenate([P - W, N + W], axis=1), op, 2 * ci)
                g = _op_norm(np.concatenate([P, N], axis=1), op, 2 * ci)
            else:
                e = _diff_norm(P - W, op, ci)
                g = _op_norm(P, op, ci)
            nu_T = abs_conv_norm_bound(np.abs(W))
            if m.abs_kernel is None:
                Aabs = np.abs(P) + (0.0 if m.N is None else np.abs(_array(m.N, f"map {i}'s N", W.shape)))
                Aabs = Aabs * (1 + 2 * UNIT_ROUNDOFF)
                K = 2 * ci * op.positions + 1
                babs = None if pv is None else np.abs(pv)
            else:
                Aabs = _array(m.abs_kernel, f"map {i}'s abs_kernel", W.shape)
                if np.any(Aabs < 0):
                    raise CertificateError(f"map {i}'s abs_kernel has negative entries")
                K = int(m.inner)
                if K < 0:
                    raise CertificateError(f"map {i}'s inner = {m.inner} is negative")
                babs = None if m.bias_abs is None else _array(m.bias_abs, f"map {i}'s bias_abs", (co,))
                if babs is not None and np.any(babs < 0):
                    raise CertificateError(f"map {i}'s bias_abs has negative entries")
                if K < 1 and (np.any(Aabs) or (babs is not None and np.any(babs))):
                    raise CertificateError(f"map {i}'s inner = {m.inner}, but its pair sums products")
            nu_N = abs_conv_norm_bound(Aabs)
        except ValueError as exc:
            if isinstance(exc, CertificateError):
                raise
            raise CertificateError(f"map {i} ({name}): {exc}") from exc
        pos = int(np.prod(op.out_shape[1:])) if op.is_conv else 1
        sq = _sqrt_up(pos)
        if pv is None and b is None:
            beta = 0.0
        else:
            diff = (np.zeros(co) if pv is None else pv) - (0.0 if b is None else b)
            beta = _vec_norm(diff) * (1 + 2 * UNIT_ROUNDOFF) * sq
        bn, pn = _vec_norm(b) * sq, _vec_norm(pv) * sq
        delta = min(e * st.r + w_norm * st.delta, e * st.R + g * st.delta) + beta
        R = w_norm * st.R + bn
        r = min(g * st.r + pn, R + delta)
        # floating point (module docstring)
        KT = ci * op.positions + (1 if b is not None else 0)
        ET = gamma(KT) * (nu_T * (st.R + st.ET) + bn) + w_norm * st.ET
        g1, gK = gamma(1), gamma(max(K, 1))
        ban = _vec_norm(babs) * sq
        EN = (g1 + gK * (1 + g1) + gK) * nu_N * (st.r + st.EN) + 2 * gK * ban + g * st.EN
        self.layers.append(LayerTerms(e=e, g=g, w_norm=w_norm, beta=beta, signed=signed))
        return _State(R, r, delta, ET, EN, False)


def certify_conv(target: ConvTarget, maps: list[ConvPairMap], *, domain=None) -> ConvCertificate:
    """The certified bound on sup_{x ∈ domain} ‖target(x) − ticket(x)‖₂ (flattened outputs) of a
    ticket whose pairs have the effective maps ``maps`` (one per Affine op, in
    :func:`~sltheory.conv.ops.affine_layers` order); ``domain``: a Ball or Box (default the unit
    ball). The derivation is in the module docstring. CertificateError (one line) on a map count or
    shape mismatch, a missing N on a signed layer, or non-finite entries."""
    if not isinstance(target, ConvTarget):
        raise CertificateError(f"expected a ConvTarget, got {type(target).__name__}")
    dom = as_domain(domain)
    maps = list(maps)
    if len(maps) != target.depth:
        raise CertificateError(f"{len(maps)} maps for a target with {target.depth} affine layers")
    try:
        radius = float(dom.radius_for(target.input_dim))
    except ValueError as exc:
        raise CertificateError(f"domain: {exc}") from exc
    cert = _Certifier(target, maps)
    st = cert.run(target.ops, _State(radius, radius, 0.0, 0.0, 0.0, bool(dom.nonnegative)), "")
    slack = st.ET + st.EN
    bound = (st.delta + slack) * RECURSION_SAFETY
    if not math.isfinite(bound):
        raise CertificateError(f"the certified bound is not finite ({bound!r})")
    return ConvCertificate(error_bound=bound, propagated=st.delta * RECURSION_SAFETY,
                           float_slack=slack * RECURSION_SAFETY, layers=tuple(cert.layers),
                           trace=tuple(cert.trace), radius=radius, method=METHOD,
                           domain=None if is_default(dom) else dom.spec(),
                           slack_parts={"target": st.ET, "ticket": st.EN})
