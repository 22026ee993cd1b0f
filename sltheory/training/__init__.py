"""Weight-training baselines on a fixed random network, for the structure-vs-weights question.

    rand = sltheory.search.random_mlp((64, 256, 256, 10), init="signed_constant", seed=0)
    m = sltheory.training.mask_only(rand, data=(X, y), test=(Xt, yt), keep=0.5)        # structure only
    s = sltheory.training.sparse_finetune(rand, data=(X, y), budget=0.01)              # + 1 % of weights
    r = sltheory.training.random_mask(rand, data=(X, y), density=0.1)                  # random structure
    d = sltheory.training.dense(rand, data=(X, y))                                     # all weights
    m.changed_fraction, s.changed_fraction, d.test_accuracy

Every call returns a :class:`~sltheory.training.base.Trained` — the float64 network, per layer the
masks (structure) and which present weights changed (weights) — and never changes the random network.
:mod:`.base` holds the shared training loop and the result; :mod:`.registry` finds the baselines by
name (one module each, defining ``METHOD``). :mod:`.continual`: continual learning on one random
network — a mask per task (:func:`supsup`) against :func:`sequential` dense / sparse fine-tuning.

May import: everything below the experiment engine (the public API, search, data); never
``sltheory.experiment``, ``sltheory.report`` or ``sltheory.cli``.
"""

from .base import Trained, accuracy
from .continual import ContinualResult, sequential, split_tasks, supsup
from .dense import dense
from .imp import error_barrier, imp, imp_ticket, instability
from .mask_only import mask_only
from .random_mask import random_mask
from .registry import get, methods
from .rigl import rigl
from .sparse_finetune import sparse_finetune

__all__ = ["ContinualResult", "Trained", "accuracy", "dense", "error_barrier", "get", "imp", "imp_ticket",
           "instability", "mask_only", "methods", "random_mask", "rigl", "sequential", "sparse_finetune",
           "split_tasks", "supsup"]
