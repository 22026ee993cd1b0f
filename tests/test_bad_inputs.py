"""Every bad input gets a typed error, one line, before any work (issue 11, point 5).

Two tables: ``API_CASES`` (bad arguments to every public function: extremes such as 1e-310,
1e308, nan, inf, -0.0, huge ints, wrong types, numpy scalars, bools for numbers, strings) and
``CLI_CASES`` (every script of experiments/ and benchmarks/ with bad arguments, as a subprocess).
An API case must raise a :class:`sltheory.SltheoryError` whose message is one non-empty line; a
CLI case must exit with status 2, print one ``error:`` line to stderr and no traceback, fast
(validation happens before any heavy work or file write).

Run as a script, it counts outcomes instead of asserting (how the before/after counts of the
issue were measured; to measure another checkout, copy this file into its tests/ and run it there
with ``PYTHONPATH`` set to that checkout: the scripts are taken from beside the file)::

    python tests/test_bad_inputs.py            # API table: typed / untyped / accepted
    python tests/test_bad_inputs.py --cli      # and the CLI table: clean / traceback / other
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import sltheory
from sltheory import datasets, plotting

REPO = Path(__file__).resolve().parents[1]


#: Address space a case may add to the process (a regression that allocates a huge array then gets a
#: MemoryError instead of pulling the machine into the OOM killer).
MEMORY_HEADROOM = 4 * 2 ** 30


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


#: Seconds a case may run: validation comes before any work, so a case that takes longer hangs.
CASE_TIMEOUT_S = 60


class CaseTimeout(BaseException):
    """Raised by the alarm of :func:`limits` (a BaseException: no ``except Exception`` swallows it)."""


def _alarm(signum, frame):
    raise CaseTimeout(f"still running after {CASE_TIMEOUT_S} s")


@contextlib.contextmanager
def limits(headroom: int = MEMORY_HEADROOM):
    """While the block runs: address space capped at what the process uses now + ``headroom``, and
    an alarm after :data:`CASE_TIMEOUT_S`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vm_size() + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _cap_child():  # preexec_fn of the CLI subprocesses
    resource.setrlimit(resource.RLIMIT_AS, (8 * 2 ** 30, resource.getrlimit(resource.RLIMIT_AS)[1]))


# ----------------------------------------------------------------------------- small fixtures
@functools.cache
def W():
    """A 3-4-2 Gaussian target (‖W_i‖₂ = 1), a list of numpy matrices."""
    return sltheory.gaussian_target([3, 4, 2], 0)


@functools.cache
def R():
    return sltheory.random_network(W(), n=4, seed=0)


@functools.cache
def T():
    return sltheory.approximate(W(), R())


@functools.cache
def M():
    """The target as a float64 nn.Sequential."""
    return sltheory.as_target(W()).to_module()


@functools.cache
def ticket_file() -> Path:
    path = Path(tempfile.mkdtemp(prefix="sltheory-bad-")) / "t.npz"
    T().save(path)
    return path


@functools.cache
def not_a_ticket() -> Path:
    path = Path(tempfile.mkdtemp(prefix="sltheory-bad-")) / "junk.npz"
    path.write_bytes(b"this is not a zip archive")
    return path


@functools.cache
def data():
    """A tiny valid Dataset (d = 3, 2 classes) for train_mlp / accuracy cases."""
    x = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5], [0.3, 0.3, 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0, 1])
    return datasets.Dataset("tiny", x, y, x.clone(), y.clone(), 2)


@functools.cache
def graph():
    return T().to_networkx()


class OwnReLU(nn.ReLU):
    """A ReLU subclass with its own forward: not a ReLU any more."""

    def forward(self, x):
        return torch.abs(x)


class OwnLinear(nn.Linear):
    """A Linear subclass with its own forward: not the map x ↦ Wx any more."""

    def forward(self, x):
        return super().forward(x) + 1.0


def seq(*modules):
    return nn.Sequential(*modules)


def lin(d_in, d_out, **kw):
    kw.setdefault("bias", False)
    kw.setdefault("dtype", torch.float64)
    m = nn.Linear(d_in, d_out, **kw)
    if m.weight.device.type != "meta" and not isinstance(m.weight, nn.parameter.UninitializedParameter):
        with torch.no_grad():
            m.weight.copy_(torch.eye(d_out, d_in, dtype=m.weight.dtype) * 0.5)
    return m


class OwnSequential(nn.Sequential):
    """A Sequential subclass with its own forward (skips every other layer)."""

    def forward(self, x):
        return self[0](x)


def own_linear(d_in, d_out):
    m = OwnLinear(d_in, d_out, bias=False, dtype=torch.float64)
    with torch.no_grad():
        m.weight.copy_(torch.eye(d_out, d_in) * 0.5)
    return m


def hooked(module):
    module.register_forward_hook(lambda mod, args, out: out * 2)
    return module


def pre_hooked(module):
    module.register_forward_pre_hook(lambda mod, args: (args[0] - 1,))
    return module


def scaled(factor):
    return [w * factor for w in W()]


def rn(**kw):
    kw.setdefault("seed", 0)
    if "eps" not in kw and "n" not in kw and "weight_tol" not in kw:
        kw["eps"] = 0.1
    return lambda: sltheory.random_network(W(), **kw)


def ap(target=None, **kw):
    return lambda: sltheory.approximate(W() if target is None else target, R(), **kw)


def adv(*args, **kw):
    if not args:
        args = (M(), T().network, 3)
    kw.setdefault("starts", 16)
    kw.setdefault("refine", 2)
    kw.setdefault("steps", 2)
    return lambda: sltheory.adversarial_error(*args, **kw)


def plan(name, shapes=((4, 3), (2, 4)), **kw):
    kw.setdefault("eps", 0.1)
    kw.setdefault("delta", 0.05)
    return lambda: sltheory.construction(name).plan(tuple(shapes), **kw)


# ----------------------------------------------------------------------------- the API table
NUMBER_JUNK = [  # (id, value): not a usable positive real
    ("nan", float("nan")), ("inf", float("inf")), ("-inf", -math.inf), ("zero", 0.0), ("-0.0", -0.0), ("neg", -1.0),
    ("str", "0.1"), ("bool", True), ("complex", 0.1j), ("list", [0.1]), ("np-nan", np.float64("nan")),
    ("np-neg", np.float32(-0.5)), ("tensor-nan", torch.tensor(float("nan"))),
]
INT_JUNK = [  # (id, value): not a usable integer ≥ 0
    ("neg", -1), ("float", 1.5), ("str", "3"), ("bool", True), ("nan", float("nan")), ("np-neg", np.int64(-3)),
    ("huge-neg", -10 ** 30), ("none", None),
]

API_CASES: list[tuple[str, object]] = []


def add(case_id, thunk):
    API_CASES.append((case_id, thunk))


# random_network: eps, delta, seed, n, width_factor, construction, device, weight_tol, options
for k, v in NUMBER_JUNK:
    add(f"random_network/eps={k}", rn(eps=v))
    add(f"random_network/delta={k}", rn(delta=v))
    add(f"random_network/width_factor={k}", rn(width_factor=v))
    add(f"random_network/weight_tol={k}", lambda v=v: sltheory.random_network(W(), weight_tol=v, seed=0))
for k, v in INT_JUNK:
    add(f"random_network/seed={k}", rn(seed=v))
    if v is not None:
        add(f"random_network/n={k}", rn(n=v))
        add(f"random_network/n_reach={k}", rn(n_reach=v))
        add(f"random_network/max_weights={k}", rn(max_weights=v))
for case_id, thunk in [
    ("random_network/eps=1e-310", rn(eps=1e-310)),
    ("random_network/eps=5e-324", rn(eps=5e-324)),
    ("random_network/eps=1e-17", rn(eps=1e-17)),
    ("random_network/eps=1e-17/malach", rn(eps=1e-17, construction="malach")),
    ("random_network/eps=1e-17/orseau", rn(eps=1e-17, construction="orseau")),
    ("random_network/eps=1e-310/burkholz", rn(eps=1e-310, construction="burkholz")),
    ("random_network/eps=1e-310/blockdiag", rn(eps=1e-310, construction="subset_sum_blockdiag")),
    ("random_network/eps=1e308/malach", rn(eps=1e308, construction="malach")),
    ("random_network/delta=1e-310", rn(delta=1e-310)),
    ("random_network/delta=1e-310/malach", rn(delta=1e-310, construction="malach")),
    ("random_network/delta=1", rn(delta=1.0)),
    ("random_network/delta=1.5", rn(delta=1.5)),
    ("random_network/delta=np2", rn(delta=np.float64(2.0))),
    ("random_network/width_factor=1e308", rn(width_factor=1e308)),
    ("random_network/width_factor=1e308/malach", rn(width_factor=1e308, construction="malach")),
    ("random_network/width_factor=1e308/burkholz", rn(width_factor=1e308, construction="burkholz")),
    ("random_network/weight_tol=1e-310", lambda: sltheory.random_network(W(), weight_tol=1e-310, seed=0)),
    ("random_network/weight_tol+eps", lambda: sltheory.random_network(W(), weight_tol=0.1, eps=0.1, seed=0)),
    ("random_network/weight_bound=1e308",
     lambda: sltheory.random_network(W(), weight_tol=0.1, weight_bound=1e308, seed=0)),
    ("random_network/weight_bound=nan",
     lambda: sltheory.random_network(W(), weight_tol=0.1, weight_bound=float("nan"), seed=0)),
    ("random_network/weight_bound=1e-310",
     lambda: sltheory.random_network(W(), weight_tol=0.1, weight_bound=1e-310, seed=0)),
    ("random_network/eps=None,n=None", lambda: sltheory.random_network(W(), seed=0)),
    ("random_network/n=0", rn(n=0)),
    ("random_network/n=65", rn(n=65)),
    ("random_network/n=10**30", rn(n=10 ** 30)),
    ("random_network/n=10**30/malach", rn(n=10 ** 30, construction="malach")),
    ("random_network/n=[4]", rn(n=[4])),
    ("random_network/n=[4,0]", rn(n=[4, 0])),
    ("random_network/n='4'", rn(n="4")),
    ("random_network/n+width_factor", rn(n=4, width_factor=2.0)),
    ("random_network/n_reach=10**400", rn(n_reach=10 ** 400)),
    ("random_network/n_reach=10**6", rn(n_reach=10 ** 6)),
    ("random_network/C=1e308", rn(C=1e308)),
    ("random_network/C=1e308/malach", rn(C=1e308, construction="malach")),
    ("random_network/C=1e308/orseau", rn(C=1e308, construction="orseau")),
    ("random_network/C=1e308/burkholz", rn(C=1e308, construction="burkholz")),
    ("random_network/C=0", rn(C=0.0)),
    ("random_network/C=nan", rn(C=float("nan"))),
    ("random_network/C=str", rn(C="1")),
    ("random_network/gamma=1e-320/orseau_halving", rn(n=4, construction="orseau_halving", gamma=1e-320)),
    ("random_network/gamma=0/orseau_halving", rn(n=4, construction="orseau_halving", gamma=0.0)),
    ("random_network/gamma=1/orseau_halving", rn(n=4, construction="orseau_halving", gamma=1.0)),
    ("random_network/gamma=nan/orseau_halving", rn(n=4, construction="orseau_halving", gamma=float("nan"))),
    ("random_network/gamma=str/orseau_halving", rn(n=4, construction="orseau_halving", gamma="0.1")),
    ("random_network/spare_negative_half='no'", rn(spare_negative_half="no")),
    ("random_network/spare_negative_half=0", rn(spare_negative_half=0)),
    ("random_network/spare_negative_half=None", rn(spare_negative_half=None)),
    ("random_network/spare_negative_half='False'/malach", rn(spare_negative_half="False", construction="malach")),
    ("random_network/balanced_signs='yes'", rn(balanced_signs="yes", construction="subset_sum_blockdiag")),
    ("random_network/balanced_signs=1", rn(balanced_signs=1, construction="subset_sum_blockdiag")),
    ("random_network/unknown option", rn(foo=1)),
    ("random_network/unknown option/malach", rn(foo=1, construction="malach")),
    ("random_network/max_weights=0", rn(max_weights=0)),
    ("random_network/max_weights=1", rn(max_weights=1)),
    ("random_network/construction='nope'", rn(construction="nope")),
    ("random_network/construction=3", rn(construction=3)),
    ("random_network/construction=None", rn(construction=None)),
    ("random_network/device='cuda'", rn(n=4, device="cuda")),
    ("random_network/device='cuda:7'", rn(n=4, device="cuda:7")),
    ("random_network/device='meta'", rn(n=4, device="meta")),
    ("random_network/device='tpu'", rn(n=4, device="tpu")),
    ("random_network/device='nonsense'", rn(n=4, device="nonsense")),
    ("random_network/device=3.5", rn(n=4, device=3.5)),
    ("random_network/device=meta-torch.device", rn(n=4, device=torch.device("meta"))),
]:
    add(case_id, thunk)

# targets: as_target and every function that reads a target
TARGET_JUNK = [  # 3-4-2 where the structure allows, so that only the named defect is wrong
    ("ReLU subclass with its own forward", lambda: seq(lin(3, 4), OwnReLU(), lin(4, 2))),
    ("Linear subclass with its own forward", lambda: seq(own_linear(3, 4), nn.ReLU(), lin(4, 2))),
    ("Sequential subclass with its own forward", lambda: OwnSequential(lin(3, 4), nn.ReLU(), lin(4, 2))),
    ("Linear with a forward hook", lambda: seq(hooked(lin(3, 4)), nn.ReLU(), lin(4, 2))),
    ("ReLU with a forward pre-hook", lambda: seq(lin(3, 4), pre_hooked(nn.ReLU()), lin(4, 2))),
    ("complex numpy matrices", lambda: [w * (1 + 1j) / 2 for w in W()]),
    ("complex python lists", lambda: [(w * (1 + 1j) / 2).tolist() for w in W()]),
    ("complex torch matrices", lambda: [torch.as_tensor(w, dtype=torch.complex128) / 2 for w in W()]),
    ("complex Linear", lambda: seq(lin(3, 4, dtype=torch.complex64), nn.ReLU(), lin(4, 2))),
    ("meta Linear", lambda: seq(lin(3, 4, device="meta"), nn.ReLU(), lin(4, 2))),
    ("meta matrices", lambda: [torch.zeros(4, 3, device="meta"), torch.zeros(2, 4, device="meta")]),
    ("LazyLinear", lambda: seq(nn.LazyLinear(4, bias=False), nn.ReLU(), lin(4, 2))),
    ("bias of the wrong shape", lambda: [(W()[0], np.zeros(W()[0].shape[0] + 1)), W()[1]]),
    ("non-finite bias", lambda: [(W()[0], np.full(W()[0].shape[0], np.nan)), W()[1]]),
    ("2-D bias", lambda: [(W()[0], np.zeros((W()[0].shape[0], 1))), W()[1]]),
    ("Dropout", lambda: seq(lin(3, 4), nn.Dropout(), lin(4, 2))),
    ("ends with ReLU", lambda: seq(lin(3, 4), nn.ReLU())),
    ("two Linears", lambda: seq(lin(3, 4), lin(4, 2))),
    ("empty Sequential", lambda: seq()),
    ("empty list", lambda: []),
    ("3-D matrix", lambda: [np.ones((2, 3, 1))]),
    ("1-D matrix", lambda: [np.ones(3)]),
    ("0x3 matrix", lambda: [np.ones((0, 3))]),
    ("shape mismatch", lambda: [np.eye(4, 3) * 0.5, np.eye(2, 5) * 0.5]),
    ("nan weight", lambda: [np.full((2, 3), float("nan"))]),
    ("inf weight", lambda: [np.full((2, 3), float("inf"))]),
    ("string matrix", lambda: [[["a", "b"]]]),
    ("ragged matrix", lambda: [[[0.1, 0.2], [0.3]]]),
    ("object matrix", lambda: [np.array([[object()]])]),
    ("a string", lambda: "3,4,2"),
    ("None", lambda: None),
    ("a dict", lambda: {"W1": np.eye(2)}),
    ("a bare Linear", lambda: lin(3, 2)),
    ("a number", lambda: 3.0),
]
for k, make in TARGET_JUNK:
    add(f"as_target/{k}", lambda make=make: sltheory.as_target(make()))
    add(f"random_network/target={k}", lambda make=make: sltheory.random_network(make(), n=4, seed=0))
    add(f"approximate/target={k}", lambda make=make: sltheory.approximate(make(), R()))
for case_id, thunk in [
    ("as_target/huge entries, rescale", lambda: sltheory.as_target([np.full((2, 3), 1e308)], rescale=True)),
    ("as_target/check_norms='no'", lambda: sltheory.as_target(W(), check_norms="no")),
    ("as_target/rescale='yes'", lambda: sltheory.as_target(W(), rescale="yes")),
    ("as_target/rescale=1", lambda: sltheory.as_target(W(), rescale=1)),
    ("as_target/norm 2 without rescale", lambda: sltheory.as_target(scaled(2.0))),
]:
    add(case_id, thunk)

# approximate
for k, v in NUMBER_JUNK:
    add(f"approximate/eps={k}", ap(eps=v))
    add(f"approximate/weight_tol={k}", ap(weight_tol=v))
for case_id, thunk in [
    ("approximate/eps=1e-310", ap(eps=1e-310)),
    ("approximate/eps=1e-17", ap(eps=1e-17)),
    ("approximate/eps=5e-324", ap(eps=5e-324)),
    ("approximate/rescale='yes'", ap(rescale="yes")),
    ("approximate/rescale=None", ap(rescale=None)),
    ("approximate/rescale, norm product overflows", ap(target=scaled(1e200), rescale=True)),
    ("approximate/rescale, norm product overflows, eps", ap(target=scaled(1e200), rescale=True, eps=0.1)),
    ("approximate/rescale, eps / norm product underflows", ap(target=scaled(1e150), rescale=True, eps=0.1)),
    ("approximate/rescale + weight_tol", ap(rescale=True, weight_tol=0.1)),
    ("approximate/eps + weight_tol", ap(eps=0.1, weight_tol=0.1)),
    ("approximate/min_cardinality='yes'", ap(min_cardinality="yes")),
    ("approximate/unknown option", ap(foo=1)),
    ("approximate/random_net=Sequential", lambda: sltheory.approximate(W(), M())),
    ("approximate/random_net=None", lambda: sltheory.approximate(W(), None)),
    ("approximate/shape mismatch", lambda: sltheory.approximate(sltheory.gaussian_target([3, 5, 2], 0), R())),
    ("approximate/norm 2", ap(target=scaled(2.0))),
]:
    add(case_id, thunk)

# adversarial_error
for k, v in INT_JUNK + [("zero", 0)]:
    add(f"adversarial_error/dim={k}", adv(M(), T().network, v))
    add(f"adversarial_error/starts={k}", adv(starts=v))
    add(f"adversarial_error/refine={k}", adv(refine=v))
    add(f"adversarial_error/steps={k}", adv(steps=v))
for k, v in INT_JUNK:
    add(f"adversarial_error/hops={k}", adv(hops=v))
    add(f"adversarial_error/seed={k}", adv(seed=v))
for k, v in NUMBER_JUNK:
    add(f"adversarial_error/lr={k}", adv(lr=v))
for case_id, thunk in [
    ("adversarial_error/dim=5 (functions take 3)", adv(M(), T().network, 5)),
    ("adversarial_error/dim=10**12", adv(M(), T().network, 10 ** 12)),
    ("adversarial_error/dim=np.int64(5)", adv(M(), T().network, np.int64(5))),
    ("adversarial_error/starts=10**12", adv(starts=10 ** 12)),
    ("adversarial_error/f=3", adv(3, T().network, 3)),
    ("adversarial_error/g='net'", adv(M(), "net", 3)),
    ("adversarial_error/f=None", adv(None, T().network, 3)),
    ("adversarial_error/f raises", adv(lambda x: x["key"], T().network, 3)),
    ("adversarial_error/f returns a number", adv(lambda x: 1.0, T().network, 3)),
    ("adversarial_error/f returns a 1-D tensor", adv(lambda x: x.sum(dim=1), T().network, 3)),
    ("adversarial_error/outputs differ", adv(sltheory.as_target(sltheory.gaussian_target([3, 4], 0)).to_module(),
                                             T().network, 3)),
    ("adversarial_error/f complex module", adv(seq(lin(3, 2, dtype=torch.complex128)), T().network, 3)),
    ("adversarial_error/directions wrong width", adv(directions=np.ones((2, 4)))),
    ("adversarial_error/directions nan", adv(directions=np.full((2, 3), np.nan))),
    ("adversarial_error/directions zero", adv(directions=np.zeros((1, 3)))),
    ("adversarial_error/directions str", adv(directions="up")),
    ("adversarial_error/directions complex", adv(directions=np.ones((1, 3)) * 1j)),
    ("adversarial_error/device='cuda'", adv(device="cuda")),
    ("adversarial_error/device='meta'", adv(device="meta")),
    ("adversarial_error/device='nonsense'", adv(device="nonsense")),
    ("adversarial_error/device=7", adv(device=7)),
]:
    add(case_id, thunk)

# certify (the low-level certificate; its arguments come from the constructions)
for case_id, thunk in [
    ("certify/target=list", lambda: sltheory.certify(W(), [])),
    ("certify/maps empty", lambda: sltheory.certify(sltheory.as_target(W()), [])),
    ("certify/maps wrong type", lambda: sltheory.certify(sltheory.as_target(W()), [1, 2])),
    ("certify/method='best'", lambda: sltheory.certify(sltheory.as_target(W()), [], method="best")),
    ("certify/max_flops=nan", lambda: sltheory.certify(sltheory.as_target(W()), [], max_flops=float("nan"))),
]:
    add(case_id, thunk)

# gaussian_target
for case_id, dims, seed in [
    ("dims=[3]", [3], 0), ("dims=[]", [], 0), ("dims=[0,3]", [0, 3], 0), ("dims=[-1,3]", [-1, 3], 0),
    ("dims=[3.5,2]", [3.5, 2], 0), ("dims='3,4'", "3,4", 0), ("dims=None", None, 0), ("dims=3", 3, 0),
    ("dims=[True,2]", [True, 2], 0), ("dims=[10**6,10**6]", [10 ** 6, 10 ** 6], 0),
    ("dims=[10**30,2]", [10 ** 30, 2], 0), ("seed=-1", [3, 2], -1), ("seed=1.5", [3, 2], 1.5),
    ("seed='0'", [3, 2], "0"), ("seed=None", [3, 2], None), ("seed=nan", [3, 2], float("nan")),
]:
    add(f"gaussian_target/{case_id}", lambda dims=dims, seed=seed: sltheory.gaussian_target(dims, seed))

# counting_lower_bound and the constructions' bound functions (numbers; sympy symbols stay allowed)
for case_id, args in [
    ("eps=0", (3, 4, 0)), ("eps=-0.1", (3, 4, -0.1)), ("eps=0.6", (3, 4, 0.6)), ("eps=nan", (3, 4, float("nan"))),
    ("eps=1e-310", (3, 4, 1e-310)), ("eps='x'", (3, 4, "x")), ("d_in=0", (0, 4, 0.1)), ("d_out=-2", (3, -2, 0.1)),
    ("d_in=2.5", (2.5, 4, 0.1)), ("d_in=None", (None, 4, 0.1)),
]:
    add(f"counting_lower_bound/{case_id}", lambda args=args: sltheory.counting_lower_bound(*args))
for name in sorted(sltheory.constructions()):   # every registered construction's bounds
    for case_id, dims, eps, delta in [
        ("eps=0", [3, 4, 2], 0.0, 0.05), ("eps=nan", [3, 4, 2], float("nan"), 0.05),
        ("delta=0", [3, 4, 2], 0.1, 0.0), ("delta=1e-310", [3, 4, 2], 0.1, 1e-310),
        ("eps=1e-310", [3, 4, 2], 1e-310, 0.05), ("dims=[3]", [3], 0.1, 0.05), ("dims=[0,2]", [0, 2], 0.1, 0.05),
    ]:
        add(f"{name}.parameter_bound/{case_id}",
            lambda name=name, dims=dims, eps=eps, delta=delta:
            sltheory.construction(name).parameter_bound(dims, eps, delta))
    add(f"{name}.width_bound/eps=-1",
        lambda name=name: sltheory.construction(name).width_bound(0, [3, 4, 2], -1.0, 0.05))
    add(f"{name}.width_bound/i=5", lambda name=name: sltheory.construction(name).width_bound(5, [3, 4, 2], 0.1, 0.05))
    add(f"{name}.depth_bound/depth=0", lambda name=name: sltheory.construction(name).depth_bound(0))
    add(f"{name}.plan/eps=1e-310", plan(name, eps=1e-310))
    add(f"{name}.plan/shapes=junk", plan(name, shapes=((4, 3), "x")))
    add(f"{name}.plan/shapes=()", plan(name, shapes=()))
    add(f"{name}.plan/shapes mismatch", plan(name, shapes=((4, 3), (2, 5))))
    add(f"{name}.plan/shapes=((0,3),)", plan(name, shapes=((0, 3),)))
    add(f"{name}.plan/delta=1e-310", plan(name, delta=1e-310))
    add(f"{name}.plan/width_factor=1e308", plan(name, width_factor=1e308))

# tickets on disk
for case_id, thunk in [
    ("load_ticket/path=None", lambda: sltheory.load_ticket(None)),
    ("load_ticket/path=123", lambda: sltheory.load_ticket(123)),
    ("load_ticket/path=''", lambda: sltheory.load_ticket("")),
    ("load_ticket/path with NUL", lambda: sltheory.load_ticket("t\0.npz")),
    ("load_ticket/path too long", lambda: sltheory.load_ticket("x" * 5000 + ".npz")),
    ("load_ticket/missing file", lambda: sltheory.load_ticket("/nonexistent/dir/t.npz")),
    ("load_ticket/a folder", lambda: sltheory.load_ticket(tempfile.gettempdir())),
    ("load_ticket/not a ticket", lambda: sltheory.load_ticket(not_a_ticket())),
    ("load_ticket/device='meta'", lambda: sltheory.load_ticket(ticket_file(), device="meta")),
    ("load_ticket/device='cuda'", lambda: sltheory.load_ticket(ticket_file(), device="cuda")),
    ("load_ticket/device='nonsense'", lambda: sltheory.load_ticket(ticket_file(), device="nonsense")),
    ("Ticket.save/path=None", lambda: T().save(None)),
    ("Ticket.save/path=123", lambda: T().save(123)),
    ("Ticket.save/path=''", lambda: T().save("")),
    ("Ticket.save/path with NUL", lambda: T().save(str(Path(tempfile.gettempdir()) / "t\0.npz"))),
    ("Ticket.save/path too long", lambda: T().save(str(Path(tempfile.gettempdir()) / ("x" * 5000 + ".npz")))),
    ("Ticket.save/missing folder", lambda: T().save("/nonexistent/dir/t.npz")),
    ("Ticket.save/a folder", lambda: T().save(tempfile.gettempdir())),
    ("Ticket.save/below a file", lambda: T().save(not_a_ticket() / "t.npz")),
    ("Ticket.to_networkx/kept_only='yes'", lambda: T().to_networkx(kept_only="yes")),
    ("Ticket.to_networkx/max_edges=0", lambda: T().to_networkx(max_edges=0)),
]:
    add(case_id, thunk)

# datasets
for case_id, thunk in [
    ("load_digits/seed=-1", lambda: datasets.load_digits(seed=-1)),
    ("load_digits/seed='0'", lambda: datasets.load_digits(seed="0")),
    ("load_digits/test_fraction=0", lambda: datasets.load_digits(test_fraction=0.0)),
    ("load_digits/test_fraction=1", lambda: datasets.load_digits(test_fraction=1.0)),
    ("load_digits/test_fraction=nan", lambda: datasets.load_digits(test_fraction=float("nan"))),
    ("load_digits/test_fraction=1e-310", lambda: datasets.load_digits(test_fraction=1e-310)),
    ("load_digits/test_fraction=True", lambda: datasets.load_digits(test_fraction=True)),
    ("load_mnist/path=None", lambda: datasets.load_mnist(None)),
    ("load_mnist/path=123", lambda: datasets.load_mnist(123)),
    ("load_mnist/path with NUL", lambda: datasets.load_mnist("mn\0ist")),
    ("load_mnist/missing folder", lambda: datasets.load_mnist("/nonexistent/mnist")),
    ("load_mnist/empty folder", lambda: datasets.load_mnist(tempfile.mkdtemp(prefix="sltheory-bad-"))),
    ("load_mnist/a file", lambda: datasets.load_mnist(not_a_ticket())),
    ("load_mnist/limit_train=0", lambda: datasets.load_mnist("/nonexistent", limit_train=0)),
    ("load_mnist/limit_test='5'", lambda: datasets.load_mnist("/nonexistent", limit_test="5")),
    ("train_mlp/data=None", lambda: datasets.train_mlp([3, 2], None, seed=0)),
    ("train_mlp/dims=[3]", lambda: datasets.train_mlp([3], data(), seed=0)),
    ("train_mlp/dims='3,2'", lambda: datasets.train_mlp("3,2", data(), seed=0)),
    ("train_mlp/dims=[4,2]", lambda: datasets.train_mlp([4, 2], data(), seed=0)),
    ("train_mlp/dims=[3,0,2]", lambda: datasets.train_mlp([3, 0, 2], data(), seed=0)),
    ("train_mlp/dims=[3,10**9,2]", lambda: datasets.train_mlp([3, 10 ** 9, 2], data(), seed=0)),
    ("train_mlp/dims=[3,10**5,10**5,2]", lambda: datasets.train_mlp([3, 10 ** 5, 10 ** 5, 2], data(), seed=0)),
    ("train_mlp/seed=-1", lambda: datasets.train_mlp([3, 2], data(), seed=-1)),
    ("train_mlp/epochs=0", lambda: datasets.train_mlp([3, 2], data(), seed=0, epochs=0)),
    ("train_mlp/lr=nan", lambda: datasets.train_mlp([3, 2], data(), seed=0, lr=float("nan"))),
    ("train_mlp/lr=1e308", lambda: datasets.train_mlp([3, 2], data(), seed=0, lr=1e308)),
    ("train_mlp/batch_size=0", lambda: datasets.train_mlp([3, 2], data(), seed=0, batch_size=0)),
    ("train_mlp/weight_decay=nan", lambda: datasets.train_mlp([3, 2], data(), seed=0, weight_decay=float("nan"))),
    ("train_mlp/weight_decay=-1", lambda: datasets.train_mlp([3, 2], data(), seed=0, weight_decay=-1.0)),
    ("train_mlp/num_threads=0", lambda: datasets.train_mlp([3, 2], data(), seed=0, num_threads=0)),
    ("train_mlp/num_threads=10**9", lambda: datasets.train_mlp([3, 2], data(), seed=0, num_threads=10 ** 9)),
    ("predictions/x=list", lambda: datasets.predictions(M(), [[0.1, 0.2, 0.3]])),
    ("predictions/x wrong width", lambda: datasets.predictions(M(), torch.zeros(2, 5))),
    ("predictions/net=str", lambda: datasets.predictions("net", torch.zeros(2, 3))),
    ("accuracy/y wrong length", lambda: datasets.accuracy(M(), torch.zeros(2, 3), torch.zeros(3, dtype=torch.int64))),
    ("accuracy/empty", lambda: datasets.accuracy(M(), torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))),
    ("accuracy/net=None", lambda: datasets.accuracy(None, torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64))),
    ("accuracy/x wrong width", lambda: datasets.accuracy(M(), torch.zeros(2, 7), torch.zeros(2, dtype=torch.int64))),
    ("Dataset/nan inputs", lambda: datasets.Dataset("bad", torch.full((2, 3), float("nan"), dtype=torch.float64),
                                                    torch.zeros(2, dtype=torch.int64),
                                                    torch.zeros(1, 3, dtype=torch.float64),
                                                    torch.zeros(1, dtype=torch.int64), 2)),
]:
    add(case_id, thunk)

# plotting
for case_id, thunk in [
    ("graph_from_json/not JSON", lambda: plotting.graph_from_json("nope")),
    ("graph_from_json/a number", lambda: plotting.graph_from_json(3)),
    ("graph_from_json/a JSON list", lambda: plotting.graph_from_json("[1, 2]")),
    ("graph_from_json/no nodes", lambda: plotting.graph_from_json('{"directed": true}')),
    ("graph_to_json/a number", lambda: plotting.graph_to_json(3)),
    ("draw_ticket_graph/max_paths=-1", lambda: plotting.draw_ticket_graph(graph(), max_paths=-1)),
    ("draw_ticket_graph/graph=3", lambda: plotting.draw_ticket_graph(3)),
    ("draw_ticket_graph/show_pruned='no'", lambda: plotting.draw_ticket_graph(graph(), show_pruned="no")),
    ("layered_positions/graph=None", lambda: plotting.layered_positions(None)),
]:
    add(case_id, thunk)


@pytest.mark.parametrize("thunk", [pytest.param(t, id=i) for i, t in API_CASES])
def test_api_bad_input_is_typed_one_line(thunk):
    with pytest.raises(sltheory.SltheoryError) as info, limits():
        thunk()
    message = str(info.value)
    assert message.strip() and "\n" not in message.strip(), message


def test_valid_edge_values_stay_accepted():
    """The checks refuse only what is wrong: numpy scalars, numpy bools, torch devices, the smallest
    supported eps and delta, subclasses that keep the base class's forward, and sympy symbols in the
    bound functions all pass."""
    import sympy

    from sltheory._checks import MIN_DELTA, MIN_EPS

    rand = sltheory.random_network(W(), eps=np.float64(0.1), delta=np.float32(0.05), seed=np.int64(0),
                                   device=torch.device("cpu"), spare_negative_half=np.True_)
    assert rand.plan.eps == 0.1
    sltheory.approximate(W(), R(), rescale=np.False_)
    plan_min = sltheory.construction("subset_sum").plan(((4, 3), (2, 4)), eps=MIN_EPS, delta=0.05)
    assert max(plan_min.n) <= 64
    with pytest.raises(sltheory.InvalidArgumentError, match="exceeds the supported 64"):   # the rule's n, typed
        sltheory.construction("subset_sum").plan(((4, 3), (2, 4)), eps=0.1, delta=MIN_DELTA)

    class PlainLinear(nn.Linear):   # a subclass that keeps Linear.forward
        pass

    m = PlainLinear(3, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        m.weight.copy_(torch.eye(2, 3) * 0.5)
    assert sltheory.as_target(seq(m)).shapes == ((2, 3),)
    eps, delta = sympy.symbols("epsilon delta", positive=True)
    assert sltheory.construction("subset_sum").parameter_bound([3, 4, 2], eps, delta).free_symbols == {eps, delta}
    assert sltheory.counting_lower_bound(sympy.Integer(4), 4, eps).free_symbols == {eps}
    err, _ = sltheory.adversarial_error(M(), T().network, np.int64(3), starts=8, refine=2, steps=1, hops=0,
                                        directions=np.ones((1, 3)), device="cpu")
    assert 0 <= err <= T().error_bound


def test_api_table_ids_are_unique():
    ids = [i for i, _ in API_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


# ----------------------------------------------------------------------------- the CLI table
# (script, arguments); "{tmp}" becomes a fresh temporary folder, "{file}" an existing plain file.
CLI_CASES: list[tuple[str, list[str]]] = [
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--dims", "100000,100000", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py",
     ["--quick", "--no-plot", "--trained-dims", "64,1000000000,10", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--dims", "0,3", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--seeds", "-1", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--eps", "nan", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--delta", "1e-310", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--eps", "1e-17", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--workers", "0", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--adv-starts", "0", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--rho", "subset_sum=1e308", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--mnist", "/nonexistent", "--run-root", "{tmp}"]),
    ("experiments/width_sweep.py", ["--quick", "--no-plot", "--run-root", "{file}/runs"]),
    ("experiments/width_sweep.py", ["--quick", "--device", "tpu"]),
    ("experiments/fidelity.py", ["--quick", "--trials", "0", "--run-root", "{tmp}"]),
    ("experiments/fidelity.py", ["--quick", "--run-root", "{file}/runs"]),
    ("experiments/fidelity.py", ["--quick", "--table-dir", "{file}/tables", "--run-root", "{tmp}"]),
    ("experiments/make_figures.py", ["--only", "bogus"]),
    ("experiments/make_figures.py", ["--only", "fidelity", "--fidelity", "{tmp}", "--table-dir", "{file}/tables"]),
    ("experiments/make_figures.py", ["--only", "ticket_graph", "--ticket-graph", "{tmp}", "--fig-dir", "{file}/f"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--ns", "0", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--ns", "x", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--seed", "-1", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--problems", "1000000000000", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--milp-max-n", "-1", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--tol", "nan", "--run-root", "{tmp}"]),
    ("experiments/solver_time.py", ["--quick", "--no-plot", "--run-root", "{file}/runs"]),
    ("experiments/ticket_graph.py", ["--no-plot", "--seed", "-1", "--run-root", "{tmp}"]),
    ("experiments/ticket_graph.py", ["--no-plot", "--target-seed", "-1", "--run-root", "{tmp}"]),
    ("experiments/ticket_graph.py", ["--no-plot", "--dims", "1000,1000", "--run-root", "{tmp}"]),
    ("experiments/ticket_graph.py", ["--no-plot", "--construction", "bogus", "--run-root", "{tmp}"]),
    ("experiments/ticket_graph.py", ["--no-plot", "--run-root", "{file}/runs"]),
    ("benchmarks/search_epoch.py", ["--threads", "0"]),
    ("benchmarks/search_epoch.py", ["--epochs", "0"]),
    ("benchmarks/search_epoch.py", ["--seed", "-1"]),
    ("benchmarks/certificate_tightness.py", ["--quick", "--ns", "100"]),
    ("benchmarks/certificate_tightness.py", ["--quick", "--starts", "0"]),
    ("benchmarks/certificate_tightness.py", ["--quick", "--starts", "1000000000000"]),
    ("benchmarks/counting_limit.py", ["--quick", "--dims", "100000", "--run-root", "{tmp}"]),
    ("benchmarks/counting_limit.py", ["--quick", "--eps", "0.7", "--run-root", "{tmp}"]),
    ("benchmarks/counting_limit.py", ["--quick", "--eps", "1e-310", "--run-root", "{tmp}"]),
    ("benchmarks/counting_limit.py", ["--quick", "--delta", "1e-310", "--run-root", "{tmp}"]),
    ("benchmarks/counting_limit.py", ["--quick", "--seeds", "0", "--run-root", "{tmp}"]),
    ("benchmarks/counting_limit.py", ["--quick", "--run-root", "{file}/runs"]),
    ("benchmarks/pipeline.py", ["--eps", "0"]),
    ("benchmarks/pipeline.py", ["--eps", "1e-310"]),
    ("benchmarks/pipeline.py", ["--delta", "2"]),
    ("benchmarks/pipeline.py", ["--seeds", "-1"]),
    ("benchmarks/scale.py", ["--widths", "0"]),
    ("benchmarks/scale.py", ["--widths", "1000000000"]),
    ("benchmarks/scale.py", ["--eps", "1e-310"]),
    ("benchmarks/scale.py", ["--construction", "malach"]),
    ("benchmarks/solver_vs_milp.py", ["--n", "100"]),
    ("benchmarks/solver_vs_milp.py", ["--n", "0"]),
    ("benchmarks/solver_vs_milp.py", ["--problems", "1000000000000"]),
    ("benchmarks/solver_vs_milp.py", ["--seed", "-1"]),
    ("benchmarks/solver_vs_milp.py", ["--time-limit", "nan"]),
    ("benchmarks/solver_vs_milp.py", ["--staged-tol", "-1"]),
    ("benchmarks/sparse_tickets.py", ["--quick", "--hidden", "1000000000"]),
    ("benchmarks/sparse_tickets.py", ["--quick", "--taus", "nan"]),
    ("benchmarks/sparse_tickets.py", ["--quick", "--seed", "-1"]),
    ("benchmarks/sparse_tickets.py", ["--quick", "--ns", "100"]),
    ("benchmarks/soundness.py", ["--tickets", "0"]),
    ("benchmarks/soundness.py", ["--seed", "-1"]),
    ("benchmarks/soundness.py", ["--tickets", "1000000000000"]),
    ("benchmarks/soundness.py", ["--workers", "100000"]),
]

#: A case must finish within this (generous: the scripts import torch and numba first).
CLI_TIMEOUT_S = 60


def run_cli(script: str, args: list[str], tmp: Path):
    plain = tmp / "a-file"
    plain.write_text("not a folder\n")
    argv = [a.replace("{tmp}", str(tmp / "out")).replace("{file}", str(plain)) for a in args]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_WAIT_POLICY="PASSIVE")
    return subprocess.run([sys.executable, str(REPO / script), *argv], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, cwd=tmp, env=env, preexec_fn=_cap_child)


def cli_verdict(proc) -> str:
    """"clean" (exit 2, one error line, no traceback), "traceback", or what else happened."""
    if "Traceback" in proc.stdout + proc.stderr:
        return "traceback"
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    if proc.returncode != 2:
        return f"exit {proc.returncode}"
    if len(errors) != 1:
        return f"{len(errors)} error lines"
    return "clean"


@pytest.mark.parametrize("script,args", [pytest.param(s, a, id=f"{s}:{' '.join(a)}") for s, a in CLI_CASES])
def test_cli_bad_input_exits_2_with_one_line(script, args, tmp_path):
    proc = run_cli(script, args, tmp_path)
    assert cli_verdict(proc) == "clean", (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    # nothing written: validation comes before any file
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))


# ----------------------------------------------------------------------------- counting (script mode)
def _api_worker(first: int):
    """Run API cases from index ``first`` on, one ``RESULT index kind detail`` line each."""
    for index, (case_id, thunk) in enumerate(API_CASES[first:], start=first):
        detail = ""
        try:
            with limits():
                thunk()
        except sltheory.SltheoryError as exc:
            kind = "typed" if str(exc).strip() and "\n" not in str(exc).strip() else "multi-line"
        except CaseTimeout:
            kind = "hang"
        except BaseException as exc:  # noqa: BLE001 (counting every outcome)
            kind = "untyped"
            detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"
        else:
            kind = "accepted"
        print(f"RESULT {index} {kind} {detail}", flush=True)


def _count_api():
    """Every API case in worker processes; a case that kills its worker (abort, OOM) is a "crash"."""
    counts: dict[str, int] = {}
    first = 0
    while first < len(API_CASES):
        proc = subprocess.run([sys.executable, __file__, "--api-worker", str(first)], capture_output=True, text=True)
        done = [line.split(" ", 3) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        for _, index, kind, *detail in done:
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "typed":
                print(f"  {kind:<9} {API_CASES[int(index)][0]}  {' '.join(detail)}")
        first = int(done[-1][1]) + 1 if done else first
        if first < len(API_CASES) and proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            print(f"  crash     {API_CASES[first][0]}  {tail[0][:100]}")
            counts["crash"] = counts.get("crash", 0) + 1
            first += 1
    print(f"API: {len(API_CASES)} bad inputs: {counts}")


def _count_cli():
    counts: dict[str, int] = {}
    for script, args in CLI_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                verdict = cli_verdict(run_cli(script, args, Path(tmp)))
            except subprocess.TimeoutExpired:
                verdict = "timeout"
        if verdict != "clean":
            print(f"  {verdict:<12} {script} {' '.join(args)}")
        counts[verdict] = counts.get(verdict, 0) + 1
    print(f"CLI: {len(CLI_CASES)} bad invocations: {counts}")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("error")   # as the test suite runs (pyproject: filterwarnings = error)
    if "--api-worker" in sys.argv:
        _api_worker(int(sys.argv[sys.argv.index("--api-worker") + 1]))
    else:
        _count_api()
        if "--cli" in sys.argv:
            _count_cli()
