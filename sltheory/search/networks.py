"""Random networks for mask search with the search papers' own initialisations.

A construction samples its random network by its theorem's rule (``sltheory.random_network``);
the search papers start from a plain ReLU MLP of the usual shape, wider, with a standard
initialisation. :func:`random_mlp` samples one as a :class:`~sltheory.network.RandomNetwork` (so
every search method, and the ticket machinery, treat it like any other), its weights drawn per
layer from the seed exactly as a construction's are (``SeedSequence(seed, spawn_key=(t,))``):

* ``"signed_constant"`` — every weight ±σ_t with σ_t = √(2/fan_in) and a fair sign: Ramanujan et
  al. 2020's *signed Kaiming constant* (their best initialisation for edge-popup); also Zhou et
  al. 2019's signed constant, and a ±1 network up to the scale σ_t (what biprop binarises to);
* ``"kaiming_normal"`` — N(0, 2/fan_in) (He et al. 2015; Ramanujan et al.'s other initialisation);
* ``"kaiming_uniform"`` — U[−√(6/fan_in), √(6/fan_in)) (the same variance, uniform);
* ``"uniform"`` — U[−1, 1) (the constructions' law).

The plan's ``construction`` is ``"mlp"``: no theorem sized it, no construction prunes it (the
constructions refuse it), and no target shapes are recorded (it was not planned for one).
"""

from __future__ import annotations

import math
import numbers

from .._checks import device_arg, nonnegative_int
from ..constructions._pairs import MAX_RANDOM_WEIGHTS
from ..errors import InvalidArgumentError, NetworkTooLargeError
from ..network import Plan, RandomNetwork

#: The initialisations :func:`random_mlp` offers (module docstring).
INITS = ("signed_constant", "kaiming_normal", "kaiming_uniform", "uniform")
#: The plan's construction name of a plain random MLP.
MLP = "mlp"


def init_law(init: str, fan_in: int) -> tuple:
    """The weight law (:func:`sltheory.network.sample_layer`) of ``init`` for a layer with ``fan_in`` inputs."""
    if init == "signed_constant":
        return ("binary", math.sqrt(2.0 / fan_in))
    if init == "kaiming_normal":
        return ("normal", math.sqrt(2.0 / fan_in))
    if init == "kaiming_uniform":
        return ("uniform", math.sqrt(6.0 / fan_in))
    if init == "uniform":
        return ("uniform",)
    raise InvalidArgumentError(f"unknown init {init!r}; available: {list(INITS)}")


def _dims(dims) -> tuple[int, ...]:
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise InvalidArgumentError(f"dims must be a sequence of layer sizes (d_0, h_1, …, d_out), got {dims!r}")
    out = []
    for k, d in enumerate(dims):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or int(d) < 1:
            raise InvalidArgumentError(f"dims[{k}] must be an integer ≥ 1, got {d!r}")
        out.append(int(d))
    if len(out) < 2:
        raise InvalidArgumentError(f"dims needs an input and an output size (at least 2 entries), got {out}")
    return tuple(out)


def random_mlp(dims, *, init: str = "signed_constant", seed: int = 0, biases: bool = False,
               bias_law: tuple | None = None, domain=None, device=None) -> RandomNetwork:
    """A random ReLU MLP with layer sizes ``dims`` = (d_0, h_1, …, h_{L−1}, d_L), weights by ``init``.

    ``biases=True``: every layer has a random bias, by default U[−σ_t, σ_t) with σ_t the weight
    law's scale (U[−1, 1) for ``"uniform"``), or ``bias_law`` = ("interval", lo, hi) for every
    layer. ``domain``: the input domain a search on it is certified over (None: the unit ball);
    stored in the plan. The weights are float64 and never change (search finds masks).
    """
    from ..domains import as_domain, is_default

    dims = _dims(dims)
    if init not in INITS:
        raise InvalidArgumentError(f"unknown init {init!r}; available: {list(INITS)}")
    seed = nonnegative_int("seed", seed, maximum=2**63 - 1)
    if not isinstance(biases, bool):
        raise InvalidArgumentError(f"biases must be a bool, got {biases!r}")
    shapes = tuple((dims[t + 1], dims[t]) for t in range(len(dims) - 1))
    laws = tuple(init_law(init, fan_in) for _, fan_in in shapes)
    if bias_law is not None:
        from ..network import check_bias_law

        if not biases:
            raise InvalidArgumentError("bias_law= needs biases=True")
        try:
            check_bias_law(tuple(bias_law) if isinstance(bias_law, (tuple, list)) else bias_law)
        except Exception as exc:
            raise InvalidArgumentError(str(exc)) from exc
    layer_biases: tuple = ()
    if biases:
        layer_biases = tuple(tuple(bias_law) if bias_law is not None else
                             ("interval", -float(law[1]) if len(law) > 1 else -1.0,
                              float(law[1]) if len(law) > 1 else 1.0) for law in laws)
    device = device_arg("device", device)
    size = sum(o * i for o, i in shapes)
    if size > MAX_RANDOM_WEIGHTS:
        raise NetworkTooLargeError(f"the random MLP would hold {size:,} weights, above {MAX_RANDOM_WEIGHTS:,}",
                                   required_weights=size, limit=MAX_RANDOM_WEIGHTS)
    dom = None
    if domain is not None:
        dom = as_domain(domain)
        dom.check_dim(dims[0], "the network")
    plan = Plan(construction=MLP, target_shapes=(), layer_shapes=shapes, pairs=(), n=(), signed=(), eps=None,
                delta=None, constant=None, options={"init": init, "dims": dims}, distribution=laws[0],
                layer_distributions=laws, layer_biases=layer_biases,
                domain=None if dom is None or is_default(dom) else dom.spec())
    return RandomNetwork(plan, seed, device=device)
