"""Continual learning on ONE fixed random network: a mask per task (supermasks in superposition)
against sequential dense and sparse fine-tuning.

    data = sltheory.data.load_digits(seed=0)
    tasks = split_tasks(data, tasks=5)                        # classes 0/1, 2/3, …, labels 0/1 per task
    rand = sltheory.search.random_mlp((64, 256, 256, 2), init="signed_constant", seed=0)
    s = supsup(rand, tasks, keep=0.5)                         # one edge-popup mask per task
    s.average_accuracy, s.forgetting, s.inferred.task_inference_accuracy
    d = sequential(rand, tasks)                               # dense fine-tuning, task after task
    k = sequential(rand, tasks, budget=0.01)                  # 1 % of the weights per task (Fisher)

**Tasks** (:func:`split_tasks`): a :class:`~sltheory.data.Dataset` of C classes split into T tasks
of C/T consecutive classes (task t: classes t·C/T … (t+1)·C/T − 1), labels remapped to 0 … C/T − 1
(the "split" benchmarks, e.g. Split MNIST; the domain-incremental form: one shared head of C/T
outputs, so the random network has C/T outputs).

**SupSup** (:func:`supsup`; Wortsman, Ramanujan, Liu, Kembhavi, Rastegari, Yosinski, Farhadi,
*Supermasks in Superposition*, NeurIPS 2020, arXiv:2006.14769): per task i an edge-popup mask M_i
(:func:`sltheory.training.mask_only.search_mask`, kept fraction ``keep`` per layer) on the same
random weights W, which never change — so a task, once learned, is never forgotten.

* *Task given* (the paper's GG scenario): task j is evaluated with W ⊙ M_j. R_{i,j} is the same
  number for every i ≥ j (nothing that task j uses changes later): measured once, repeated.
* *Task inferred* (the paper's GN scenarios, its one-shot task-inference rule): after tasks 0 … i
  are learned, k = i + 1 masks; a batch x_1 … x_B of test inputs of one task (``infer_batch`` consecutive rows
  of that task's test set, the last batch shorter) goes through the *superposed* network, every
  random linear t with weights A_t ⊙ Σ_m α_m M_{m,t}, α_m = 1/k; H(α) = (1/B) Σ_b H(softmax(f(x_b; α)))
  the mean entropy (natural log) of the outputs; the batch is assigned the task argmax_m (−∂H/∂α_m)
  (lowest index on ties) and classified by that task's mask. :func:`entropy_gradient` computes
  ∂H/∂α by autograd in float64, :func:`infer_task` the argmax. ``infer_rule="lowest_entropy"``
  instead tries each mask on its own (α = e_m, k forward passes) and takes the lowest H — the costlier
  alternative the one-shot rule approximates. Task-inference accuracy is the fraction of batches
  assigned their own task (the paper's code counts per batch too).
  *Ours / the paper's choices*: the paper's notebook averages the entropy over the whole batch, as
  here; its PermutedMNIST scripts take the entropy of the first example of each test batch of 128
  (``data_to_repeat = 1``) and apply the result to the whole batch — ``infer_batch=1`` is per-example
  inference, the hardest case. A batch assigned the wrong task is still classified (by the wrong
  mask: its outputs are read as the task's labels) and counted, as the paper's code does with
  shared labels. The paper's masks come from its own edge-popup (SGD, its score init per task); ours
  from :mod:`sltheory.search` (Adam with cosine decay), task i searched with seed (seed + i) mod 2⁶³.

**Sequential fine-tuning** (:func:`sequential`), the baselines that forget: one network, trained on
task 0, then 1, …, each task starting from the previous task's weights, by the shared loop of
:mod:`sltheory.training.base` (a fresh Adam and cosine schedule per task, task i's shuffles from
seed (seed + i) mod 2⁶³):

* ``budget=None`` — *dense*: all weights trained (``fit(…, init=previous)``);
* ``budget=k`` — *sparse* (every weight present, no mask): per task the k·N weights of largest ``rule`` importance
  (:func:`sltheory.training.sparse_finetune.importance`, the diagonal Fisher by default) measured on
  that task's training set at the *current* weights, and only those trained; every other weight
  keeps its current value bit for bit (a weight never chosen stays the random one; the loop's ``frozen``
  values are the current weights). Ours, after the
  sparse fine-tuning papers (the FISH mask of Sung, Nair, Raffel, NeurIPS 2021; *Continual Learning
  via Sparse Memory Finetuning*, Lin et al.) — chosen sets of different tasks may overlap.

**The result** (:class:`ContinualResult`): the accuracy matrix R (T × T, R_{i,j} the test accuracy on
task j after training through task i, None for j > i: a task not yet seen is not evaluated), the
average final accuracy (1/T) Σ_j R_{T−1,j}, forgetting per task — Chaudhry, Dokania, Ajanthan, Torr,
*Riemannian Walk for Incremental Learning*, ECCV 2018: f_j = max_{l ∈ {j, …, T−2}} R_{l,j} − R_{T−1,j}
for j < T − 1 (the last task has none; negative when a task's accuracy rose later) — and the bits
stored per task beyond the random network (which is its seed):

* supsup: one bit per weight (and bias) of the random network for a mask, N bits; also the
  entropy-coded size Σ_t N_t · H₂(kept_t / N_t) (N_t the entries of random linear t, H₂ the binary
  entropy in bits: the length of an ideal code for a mask of that density, the per-layer counts not
  counted), averaged over the tasks;
* sparse fine-tuning: k·N values and indices, ``count`` · (32 + ⌈log₂ N⌉) bits (``count`` =
  :func:`~sltheory.training.base.budget_count` (k, N), float32 values, an index into all N);
* dense fine-tuning: a float32 copy of the network per task, 32 · N bits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .._checks import nonnegative_int
from ..data.dataset import Dataset
from ..errors import DatasetError, InvalidArgumentError, RandomNetworkError
from .base import (
    Problem,
    Trained,
    all_false,
    all_true,
    budget_count,
    common_args,
    finish,
    fit,
    forward,
    fraction_arg,
    layer_hits,
    new_generator,
    prepare,
    random_layers,
    settings,
)
from .mask_only import search_mask
from .sparse_finetune import RULES, importance, top_entries

__all__ = ["ContinualResult", "Task", "entropy_gradient", "infer_task", "sequential", "split_tasks", "supsup"]

_SEED_MOD = 2 ** 63


# --------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class Task:
    """Task ``index`` of a split: its original ``classes`` (label c of ``data`` is original class
    ``classes[c]``) and its ``data`` (a :class:`~sltheory.data.Dataset`, labels 0 … len(classes) − 1)."""

    index: int
    classes: tuple[int, ...]
    data: Dataset

    def __post_init__(self):
        if not isinstance(self.data, Dataset):
            raise InvalidArgumentError(f"Task.data must be a sltheory.data.Dataset, got {type(self.data).__name__}")
        nonnegative_int("Task.index", self.index)
        if not isinstance(self.classes, tuple) or len(self.classes) != self.data.num_classes:
            raise InvalidArgumentError(f"Task.classes must be a tuple of {self.data.num_classes} original labels, "
                                       f"got {self.classes!r}")
        if self.data.num_classes < 2:
            raise DatasetError(f"{self.data.name}: a task needs at least 2 classes, got {self.data.num_classes}")
        if self.data.x_test.shape[0] == 0:
            raise DatasetError(f"{self.data.name}: a task needs test rows (its accuracy is measured on them)")

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data.x_train, self.data.y_train

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data.x_test, self.data.y_test


def split_tasks(data: Dataset, tasks: int = 5) -> tuple[Task, ...]:
    """``data``'s C classes split into ``tasks`` tasks of C/``tasks`` consecutive classes, labels
    remapped per task (module docstring); rows keep their order. Typed errors (before any split):
    ``data`` not a Dataset, ``tasks`` not an integer ≥ 1 dividing C, fewer than two classes per task,
    a class without training or test rows. Each task's Dataset keeps ``data``'s ``scale``; its
    ``test_rows_clipped`` is 0 (which rows were clipped is not recorded per row)."""
    if not isinstance(data, Dataset):
        raise InvalidArgumentError(f"data must be a sltheory.data.Dataset (e.g. sltheory.data.load_digits()), "
                                   f"got {type(data).__name__}")
    tasks = nonnegative_int("tasks", tasks, minimum=1)
    C = data.num_classes
    if C % tasks:
        raise DatasetError(f"{data.name}: {C} classes do not split into {tasks} tasks of equal size")
    per = C // tasks
    if per < 2:
        raise DatasetError(f"{data.name}: {tasks} tasks of {C} classes leave {per} class per task; a task needs at "
                           "least two classes")
    for part, y in (("training", data.y_train), ("test", data.y_test)):
        counts = torch.bincount(y, minlength=C)
        missing = [c for c in range(C) if int(counts[c]) == 0]
        if missing:
            raise DatasetError(f"{data.name}: classes {missing} have no {part} rows (every task needs each of its "
                               "classes in both sets)")
    out = []
    for t in range(tasks):
        lo = t * per
        parts = []
        for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
            rows = (y >= lo) & (y < lo + per)
            parts += [x[rows].clone(), y[rows] - lo]
        classes = tuple(range(lo, lo + per))
        name = f"{data.name} task {t} (classes {'/'.join(map(str, classes))})"
        out.append(Task(t, classes, Dataset(name, parts[0], parts[1], parts[2], parts[3], per, data.scale, 0)))
    return tuple(out)


# --------------------------------------------------------------------------- the result
def _check_matrix(name: str, R, T: int) -> None:
    if len(R) != T or any(len(row) != T for row in R):
        raise InvalidArgumentError(f"{name} must be {T} × {T}")
    for i, row in enumerate(R):
        for j, v in enumerate(row):
            if j > i and v is not None:
                raise InvalidArgumentError(f"{name}[{i}][{j}]: a task not yet trained (j > i) holds None, got {v!r}")
            if j <= i and not (isinstance(v, float) and 0.0 <= v <= 1.0):
                raise InvalidArgumentError(f"{name}[{i}][{j}] must be a float in [0, 1], got {v!r}")


@dataclass(frozen=True)
class ContinualResult:
    """One continual-learning run (module docstring): ``accuracy`` R, the stored ``bits_per_task``
    (and ``bits_entropy_coded`` for masks), per task the model after it (``models``: sequential —
    the network after training through task i; supsup — task i's mask on the random weights), per
    task the augmented [W | b] entries trained in it (``updated``; sequential) or its mask
    (``masks``; supsup), the fraction of test batches assigned their own task (``task_inference``,
    same layout as R; inferred supsup), the task-inferred result of a supsup run (``inferred``) and
    ``stats`` (settings, seconds)."""

    method: str
    accuracy: tuple[tuple[float | None, ...], ...]
    bits_per_task: float
    stats: dict = field(default_factory=dict)
    bits_entropy_coded: float | None = None
    task_inference: tuple[tuple[float | None, ...], ...] | None = None
    models: tuple[Trained, ...] = ()
    updated: tuple[tuple[torch.Tensor, ...], ...] = ()
    masks: tuple[tuple[torch.Tensor, ...], ...] = ()
    inferred: ContinualResult | None = None

    def __post_init__(self):
        T = len(self.accuracy)
        if T < 1:
            raise InvalidArgumentError("a continual result needs at least one task")
        _check_matrix("accuracy", self.accuracy, T)
        if self.task_inference is not None:
            _check_matrix("task_inference", self.task_inference, T)
        if not (math.isfinite(self.bits_per_task) and self.bits_per_task >= 0):
            raise InvalidArgumentError(f"bits_per_task must be finite and ≥ 0, got {self.bits_per_task!r}")

    @property
    def tasks(self) -> int:
        return len(self.accuracy)

    @property
    def final_accuracy(self) -> tuple[float, ...]:
        """R_{T−1,j} for every task j."""
        return tuple(float(v) for v in self.accuracy[-1])  # type: ignore[arg-type]

    @property
    def average_accuracy(self) -> float:
        """(1/T) Σ_j R_{T−1,j}."""
        final = self.final_accuracy
        return sum(final) / len(final)

    @property
    def forgetting(self) -> tuple[float, ...]:
        """f_j = max_{l ∈ {j … T−2}} R_{l,j} − R_{T−1,j} for j < T − 1 (Chaudhry et al. 2018)."""
        T = self.tasks
        R = self.accuracy
        return tuple(max(float(R[l][j]) for l in range(j, T - 1)) - float(R[T - 1][j])  # type: ignore[arg-type]
                     for j in range(T - 1))

    @property
    def average_forgetting(self) -> float | None:
        """Mean of :attr:`forgetting` (None with one task)."""
        f = self.forgetting
        return sum(f) / len(f) if f else None

    @property
    def task_inference_accuracy(self) -> float | None:
        """Mean over the tasks of the final row of ``task_inference`` (None when tasks were given)."""
        if self.task_inference is None:
            return None
        row = [float(v) for v in self.task_inference[-1]]  # type: ignore[arg-type]
        return sum(row) / len(row)

    def summary(self) -> dict:
        """The numbers of the continual-learning table (JSON-ready)."""
        return {"method": self.method, "tasks": self.tasks, "average_accuracy": self.average_accuracy,
                "average_forgetting": self.average_forgetting, "forgetting": list(self.forgetting),
                "final_accuracy": list(self.final_accuracy), "accuracy": [list(r) for r in self.accuracy],
                "bits_per_task": self.bits_per_task, "bits_entropy_coded": self.bits_entropy_coded,
                "task_inference_accuracy": self.task_inference_accuracy,
                "task_inference": None if self.task_inference is None else [list(r) for r in self.task_inference],
                "train_seconds": self.stats.get("train_seconds"), "eval_seconds": self.stats.get("eval_seconds")}

    def __repr__(self) -> str:
        f = self.average_forgetting
        ti = self.task_inference_accuracy
        return (f"ContinualResult({self.method}, tasks={self.tasks}, average_accuracy={self.average_accuracy:.4f}, "
                f"average_forgetting={'n/a' if f is None else f'{f:.4f}'}, bits_per_task={self.bits_per_task:.6g}"
                + ("" if ti is None else f", task_inference_accuracy={ti:.4f}") + ")")


# --------------------------------------------------------------------------- shared checks
def _task_seed(seed: int, i: int) -> int:
    return (seed + i) % _SEED_MOD


def _problems(random_net, tasks) -> list[Problem]:
    """Every task checked against ``random_net`` (typed errors, before any work)."""
    if isinstance(tasks, Task) or not isinstance(tasks, (list, tuple)) or not tasks:
        raise InvalidArgumentError("tasks must be a non-empty list or tuple of Task (sltheory.training.continual."
                                   "split_tasks)")
    for i, task in enumerate(tasks):
        if not isinstance(task, Task):
            raise InvalidArgumentError(f"tasks[{i}] must be a Task, got {type(task).__name__}")
    A, _, _ = random_layers(random_net)
    d_out = int(A[-1].shape[0])
    for i, task in enumerate(tasks):
        if task.num_classes != d_out:
            raise RandomNetworkError(f"the random network has {d_out} outputs, task {i} {task.num_classes} classes: "
                                     "the tasks share one head of one output per class of a task")
    return [prepare(random_net, task.train, task.test) for task in tasks]


def _mask_bits(masks: Sequence[torch.Tensor]) -> float:
    """Σ_t N_t · H₂(kept_t / N_t) in bits."""
    total = 0.0
    for m in masks:
        n, p = m.numel(), float(m.sum()) / m.numel()
        if 0 < p < 1:
            total += n * -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    return total


def _index_bits(total: int) -> int:
    """⌈log₂ N⌉ for N ≥ 1 (an index into N entries)."""
    return (total - 1).bit_length()


# --------------------------------------------------------------------------- the entropy rule
def _superposed_entropy(A: Sequence[torch.Tensor], has_bias: Sequence[bool], scale: float,
                        stacks: Sequence[torch.Tensor], X: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """H(α): the mean over the rows of X of the softmax entropy (nats) of the network whose linear t
    is A_t ⊙ Σ_m α_m M_{m,t} (``stacks[t]``: the k masks of layer t as float64, shape (k, out, in))."""
    layers = [a * torch.tensordot(alpha, s, dims=1) for a, s in zip(A, stacks)]
    logp = torch.log_softmax(forward(layers, has_bias, X, scale), dim=1)
    return -(logp.exp() * logp).sum(1).mean()


def _gradient(A, has_bias, scale, stacks, X) -> torch.Tensor:
    k = int(stacks[0].shape[0])
    alpha = torch.full((k,), 1.0 / k, dtype=torch.float64, device=X.device, requires_grad=True)
    (g,) = torch.autograd.grad(_superposed_entropy(A, has_bias, scale, stacks, X, alpha), alpha)
    return g.detach()


@torch.no_grad()
def _entropies(A, has_bias, scale, stacks, X) -> torch.Tensor:
    """H of every mask on its own (α = e_m), shape (k,)."""
    k = int(stacks[0].shape[0])
    eye = torch.eye(k, dtype=torch.float64, device=X.device)
    return torch.stack([_superposed_entropy(A, has_bias, scale, stacks, X, eye[m]) for m in range(k)])


#: Task-inference rules of :func:`supsup` (module docstring).
INFER_RULES = ("one_shot", "lowest_entropy")


def _pick(rule: str, A, has_bias, scale, stacks, X) -> int:
    if rule == "one_shot":
        return int(torch.argmax(-_gradient(A, has_bias, scale, stacks, X)))
    return int(torch.argmin(_entropies(A, has_bias, scale, stacks, X)))


def _checked_rule_args(random_net, masks, X):
    from ..search.base import _inputs

    A, has_bias, scale = random_layers(random_net)
    if not isinstance(masks, (list, tuple)) or not masks:
        raise InvalidArgumentError("masks must be a non-empty list of per-task masks (one bool tensor per random "
                                   "linear, augmented [W | b] where the layer has a bias)")
    for i, task_masks in enumerate(masks):
        if not isinstance(task_masks, (list, tuple)) or len(task_masks) != len(A):
            raise InvalidArgumentError(f"masks[{i}] must hold one mask per random linear ({len(A)})")
        for t, (m, a) in enumerate(zip(task_masks, A)):
            if not isinstance(m, torch.Tensor) or m.dtype != torch.bool or tuple(m.shape) != tuple(a.shape):
                raise InvalidArgumentError(f"masks[{i}][{t}] must be a bool tensor of shape {tuple(a.shape)}")
    d_in = int(A[0].shape[1]) - int(has_bias[0])
    Xc = _inputs("X", X, d_in, A[0].device)
    stacks = [torch.stack([masks[i][t].to(device=A[t].device, dtype=torch.float64) for i in range(len(masks))])
              for t in range(len(A))]
    return A, has_bias, scale, stacks, Xc


def entropy_gradient(random_net, masks, X) -> torch.Tensor:
    """∂H/∂α_m at α_m = 1/k (float64, shape (k,)), H the mean softmax entropy (nats) over the rows of
    ``X`` of the superposed network A_t ⊙ Σ_m α_m M_{m,t} (module docstring; Wortsman et al. 2020's
    one-shot rule). ``masks``: k per-task lists of bool masks, one per random linear (augmented [W | b] where
    the layer has a bias, as :class:`ContinualResult` ``.masks`` holds them)."""
    return _gradient(*_checked_rule_args(random_net, masks, X))


def infer_task(random_net, masks, X, rule: str = "one_shot") -> int:
    """``rule="one_shot"``: argmax_m (−∂H/∂α_m) (:func:`entropy_gradient`); ``"lowest_entropy"``:
    argmin_m H(e_m), every mask tried on its own (k forward passes); lowest index on ties."""
    if rule not in INFER_RULES:
        raise InvalidArgumentError(f"rule must be one of {INFER_RULES}, got {rule!r}")
    return _pick(rule, *_checked_rule_args(random_net, masks, X))


# --------------------------------------------------------------------------- supsup
def supsup(random_net, tasks, *, keep: float = 0.5, epochs: int = 20, seed: int = 0, lr: float = 0.01,
           batch_size: int = 128, infer_batch: int = 128, infer_rule: str = "one_shot") -> ContinualResult:
    """Supermasks in superposition on ``random_net`` over ``tasks`` (module docstring): one edge-popup
    mask per task at kept fraction ``keep`` (``lr``: the scores' Adam learning rate, task i's seed
    (seed + i) mod 2⁶³). Returns the task-given result (``method="supsup"``, R's columns constant,
    forgetting 0, ``masks`` and ``models`` per task) whose ``inferred`` is the task-inferred one
    (``method="supsup_inferred"``, inference by the one-shot entropy rule on batches of
    ``infer_batch`` test rows, ``task_inference`` per (i, j); ``infer_rule="lowest_entropy"``: each
    mask tried on its own and the lowest mean entropy taken, k forward passes in place of one
    gradient — the costlier alternative the one-shot rule approximates). ``random_net`` never changes."""
    keep = fraction_arg("keep", keep)
    if infer_rule not in INFER_RULES:
        raise InvalidArgumentError(f"infer_rule must be one of {INFER_RULES}, got {infer_rule!r}")
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    infer_batch = nonnegative_int("infer_batch", infer_batch, minimum=1)
    probs = _problems(random_net, tasks)

    T = len(probs)
    masks: list[list[torch.Tensor]] = []
    models: list[Trained] = []
    task_seconds = []
    for i, (task, prob) in enumerate(zip(tasks, probs)):
        t0 = time.perf_counter()
        m, st = search_mask(random_net, prob, data=task.train, test=task.test, keep=keep, epochs=epochs,
                            seed=_task_seed(seed, i), lr=lr, batch_size=batch_size)
        task_seconds.append(time.perf_counter() - t0)
        stats = settings(epochs, _task_seed(seed, i), lr, batch_size, st["curves"], task_seconds[-1])
        stats.update(keep=keep, task=i)
        models.append(finish(prob, "supsup", m, all_false(prob), None, stats))
        masks.append(m)
    train_seconds = sum(task_seconds)

    # task given: mask j on task j, the same for every row i ≥ j
    own = [float(mdl.stats["test_accuracy"]) for mdl in models]
    R_given = tuple(tuple(own[j] if j <= i else None for j in range(T)) for i in range(T))
    N = probs[0].total
    entropy_bits = sum(_mask_bits(m) for m in masks) / T
    common = {"keep": keep, "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size,
              "weights": N, "task_seconds": task_seconds, "train_seconds": train_seconds}

    # task inferred: after tasks 0…i, ``infer_rule`` among the i + 1 masks, per batch of one task's test rows
    t0 = time.perf_counter()
    A, has_bias, scale = probs[0].A, probs[0].has_bias, probs[0].output_scale
    zero = torch.zeros((), dtype=torch.float64, device=A[0].device)
    effective = [[torch.where(mt, a, zero) for mt, a in zip(m, A)] for m in masks]
    stacks_all = [torch.stack([m[t].to(torch.float64) for m in masks]) for t in range(len(A))]
    R_inf: list[list[float | None]] = [[None] * T for _ in range(T)]
    TI: list[list[float | None]] = [[None] * T for _ in range(T)]
    assigned: list[list[list[int] | None]] = [[None] * T for _ in range(T)]
    for i in range(T):
        stacks = [s[:i + 1] for s in stacks_all]
        for j in range(i + 1):
            Xt, yt = probs[j].test64  # type: ignore[misc]
            hits, right, picks = 0, 0, []
            for s in range(0, Xt.shape[0], infer_batch):
                xb, yb = Xt[s:s + infer_batch], yt[s:s + infer_batch]
                k = _pick(infer_rule, A, has_bias, scale, stacks, xb)
                picks.append(k)
                right += int(k == j)
                hits += layer_hits(effective[k], has_bias, scale, xb, yb)
            R_inf[i][j] = hits / Xt.shape[0]
            TI[i][j] = right / len(picks)
            assigned[i][j] = picks
    eval_seconds = time.perf_counter() - t0
    inferred = ContinualResult(
        method="supsup_inferred", accuracy=tuple(tuple(r) for r in R_inf), bits_per_task=float(N),
        bits_entropy_coded=entropy_bits, task_inference=tuple(tuple(r) for r in TI),
        stats={**common, "infer_batch": infer_batch, "assigned": assigned, "eval_seconds": eval_seconds,
               "rule": ("one-shot entropy gradient (Wortsman et al. 2020)" if infer_rule == "one_shot" else
                        "lowest entropy over the masks"), "infer_rule": infer_rule})
    return ContinualResult(method="supsup", accuracy=R_given, bits_per_task=float(N),
                           bits_entropy_coded=entropy_bits, models=tuple(models),
                           masks=tuple(tuple(m) for m in masks), inferred=inferred,
                           stats={**common, "eval_seconds": 0.0})


# --------------------------------------------------------------------------- sequential fine-tuning
def sequential(random_net, tasks, *, budget: float | None = None, rule: str = "fisher", epochs: int = 20,
               seed: int = 0, lr: float = 1e-2, batch_size: int = 128) -> ContinualResult:
    """Sequential fine-tuning of one network over ``tasks`` (module docstring): ``budget=None`` all
    weights (``method="sequential_dense"``), ``budget=k`` in (0, 1] the k·N weights of largest
    ``rule`` importance per task (``method="sequential_sparse"``). ``models[i]``: the network after
    task i; ``updated[i]``: the augmented entries trained in task i. ``random_net`` never changes."""
    if rule not in RULES:
        raise InvalidArgumentError(f"rule must be one of {RULES}, got {rule!r}")
    if budget is not None:
        budget = fraction_arg("budget", budget)
    epochs, seed, lr, batch_size = common_args(epochs=epochs, seed=seed, lr=lr, batch_size=batch_size)
    probs = _problems(random_net, tasks)
    T = len(probs)
    method = "sequential_dense" if budget is None else "sequential_sparse"
    N = probs[0].total
    count = N if budget is None else budget_count(budget, N)
    full = all_true(probs[0])
    current = [a.clone() for a in probs[0].A]           # float64 weights now; never-trained entries: the random ones
    ever = all_false(probs[0])                          # entries trained in some task so far
    models: list[Trained] = []
    updated: list[tuple[torch.Tensor, ...]] = []
    task_seconds = []
    R: list[list[float | None]] = [[None] * T for _ in range(T)]
    eval_seconds = 0.0
    for i, prob in enumerate(probs):
        t0 = time.perf_counter()
        gen = new_generator(_task_seed(seed, i))
        if budget is None:
            chosen = full
            values, curve = fit(prob, masks=full, trainable=full, epochs=epochs, lr=lr, batch_size=batch_size,
                                generator=gen, init=None if i == 0 else current, curves=False)
        else:
            chosen = top_entries(importance(prob, full, rule, values=current), full, count)
            # the current weights (not the random ones) stay frozen
            values, curve = fit(prob, masks=full, trainable=chosen, epochs=epochs, lr=lr, batch_size=batch_size,
                                generator=gen, curves=False, frozen=current)
        # a trained entry takes its float32 value unless training left it at the float32 rounding of its
        # value before (a weight into a dead unit): then it keeps that float64 value (as base.finish does)
        current = [torch.where(c & (v != w.float()), v.to(torch.float64), w)
                   for c, v, w in zip(chosen, values, current)]
        ever = [e | c for e, c in zip(ever, chosen)]
        task_seconds.append(time.perf_counter() - t0)
        stats = settings(epochs, _task_seed(seed, i), lr, batch_size, curve, task_seconds[-1])
        stats.update(task=i, budget=budget, budget_count=int(sum(int(c.sum()) for c in chosen)))
        if budget is not None:
            stats["rule"] = rule
        model = finish(prob, method, full, ever, current, stats)
        models.append(model)
        updated.append(tuple(c.clone() for c in chosen))
        t1 = time.perf_counter()
        for j in range(i + 1):
            Xt, yt = probs[j].test64  # type: ignore[misc]
            R[i][j] = layer_hits(current, prob.has_bias, prob.output_scale, Xt, yt) / Xt.shape[0]
        eval_seconds += time.perf_counter() - t1
    bits = 32.0 * N if budget is None else float(count * (32 + _index_bits(N)))
    return ContinualResult(method=method, accuracy=tuple(tuple(r) for r in R), bits_per_task=bits,
                           models=tuple(models), updated=tuple(updated),
                           stats={"budget": budget, "budget_count": count, "rule": None if budget is None else rule,
                                  "epochs": epochs, "seed": seed, "lr": lr, "batch_size": batch_size, "weights": N,
                                  "task_seconds": task_seconds, "train_seconds": sum(task_seconds),
                                  "eval_seconds": eval_seconds})
