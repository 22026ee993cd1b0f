"""Dense training: every weight of the random network trained from its random value (the reference
every structure-vs-weights comparison ends at: density 1; changed fraction at most 1 — a weight that
gets no gradient, from an always-zero input or into a dead unit, keeps its random value)."""

from __future__ import annotations

import time

from .._checks import strict_bool
from .base import TrainingMethod, all_true, common_args, finish, fit, new_generator, prepare, settings


def dense(random_net, *, data, test=None, epochs: int = 20, seed: int = 0, lr: float = 1e-2, batch_size: int = 128,
          curves: bool = True):
    """Train all weights (and biases) of ``random_net`` on ``data=(X, y)`` (the shared loop of
    :mod:`sltheory.training.base`); returns a :class:`~sltheory.training.base.Trained`. ``random_net``
    itself never changes."""
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    curves = strict_bool("curves", curves)
    prob = prepare(random_net, data, test)
    gen = new_generator(seed)
    masks = all_true(prob)
    t0 = time.perf_counter()
    values, curve = fit(prob, masks=masks, trainable=masks, epochs=epochs, lr=lr, batch_size=batch_size,
                        generator=gen, curves=curves)
    return finish(prob, "dense", masks, masks, values,
                  settings(epochs, seed, lr, batch_size, curve, time.perf_counter() - t0))


METHOD = TrainingMethod("dense", "dense training from the random initialisation (the reference)", dense)
