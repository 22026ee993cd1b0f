"""Continual learning on one random network (sltheory.training.continual), each piece against an
independent reference: the split against the data set's rows, supsup's accuracy matrix against the
masked random network evaluated here, the entropy rule's gradient against finite differences and a
closed form, task inference on masks built to be right, sequential fine-tuning's R against its own
networks, sparse fine-tuning's updates against the Fisher top-k recomputed, the bits formulas."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import sltheory
from sltheory import training
from sltheory.errors import DatasetError, InvalidArgumentError, RandomNetworkError, SltheoryError
from sltheory.search import random_mlp
from sltheory.training import base
from sltheory.training.continual import (
    ContinualResult,
    Task,
    entropy_gradient,
    infer_task,
    sequential,
    split_tasks,
    supsup,
)
from sltheory.training.sparse_finetune import importance, top_entries


@pytest.fixture(scope="module")
def digits():
    return sltheory.data.load_digits(seed=0)


@pytest.fixture(scope="module")
def tasks(digits):
    return split_tasks(digits, 5)


@pytest.fixture(scope="module")
def rand():
    return random_mlp((64, 32, 32, 2), init="signed_constant", seed=3)


@pytest.fixture(scope="module")
def sup(rand, tasks):
    return supsup(rand, tasks, keep=0.5, epochs=3, seed=1, infer_batch=32)


@pytest.fixture(scope="module")
def sparse(rand, tasks):
    return sequential(rand, tasks, budget=0.02, epochs=3, seed=2, lr=1e-2)


@pytest.fixture(scope="module")
def dense(rand, tasks):
    return sequential(rand, tasks, epochs=3, seed=4)


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def _augmented(net) -> list[torch.Tensor]:
    """[W | b] of every Linear of ``net`` (float64)."""
    return [lin.weight.detach().double() if lin.bias is None else
            torch.cat([lin.weight.detach(), lin.bias.detach()[:, None]], 1).double() for lin in _linears(net)]


def _accuracy(weights, X, y) -> float:
    """Bias-free ReLU MLP with matrices ``weights``, written out here."""
    h = X.double()
    for t, W in enumerate(weights):
        h = h @ W.T
        if t < len(weights) - 1:
            h = torch.relu(h)
    return float((h.argmax(1) == y).double().mean())


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.equal(a.view(torch.int64), b.view(torch.int64)))


# ----------------------------------------------------------------------------- split
def test_split_classes_remapping_sizes_disjoint(digits, tasks):
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for part in ("train", "test"):
        X, y = getattr(digits, f"x_{part}"), getattr(digits, f"y_{part}")
        seen = 0
        for t in tasks:
            Xt, yt = getattr(t, part)
            rows = (y == t.classes[0]) | (y == t.classes[1])
            assert Xt.shape[0] == int(rows.sum())                     # sizes: every row of its classes
            assert torch.equal(Xt, X[rows]) and torch.equal(yt, y[rows] - t.classes[0])   # same rows, in order
            assert set(yt.tolist()) == {0, 1} and t.num_classes == 2 and t.index == tasks.index(t)
            seen += Xt.shape[0]
        assert seen == X.shape[0]                                      # disjoint classes: a partition
    other = split_tasks(digits, 2)
    assert [t.classes for t in other] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]


def test_split_typed_errors(digits):
    with pytest.raises(InvalidArgumentError):
        split_tasks((digits.x_train, digits.y_train), 5)
    for bad in (0, -1, True, 2.0, "5"):
        with pytest.raises(InvalidArgumentError):
            split_tasks(digits, bad)
    with pytest.raises(DatasetError):
        split_tasks(digits, 3)          # 10 classes into 3 tasks
    with pytest.raises(DatasetError):
        split_tasks(digits, 10)         # one class per task
    keep = digits.y_test != 3
    holed = sltheory.data.Dataset("holed", digits.x_train, digits.y_train, digits.x_test[keep], digits.y_test[keep],
                                  10)
    with pytest.raises(DatasetError, match=r"\[3\]"):
        split_tasks(holed, 5)
    one = sltheory.data.Dataset("one", digits.x_train, digits.y_train * 0, digits.x_test, digits.y_test * 0, 1)
    with pytest.raises(DatasetError, match="2 classes"):
        Task(0, (3,), one)             # a hand-made one-class task: its accuracy would be 1 by construction


# ----------------------------------------------------------------------------- supsup
def test_supsup_task_given_never_forgets(rand, tasks, sup):
    before = [lin.weight.detach().clone() for lin in rand.linears()]
    T = len(tasks)
    R = sup.accuracy
    assert sup.method == "supsup" and sup.tasks == T
    assert sup.forgetting == (0.0,) * (T - 1) and sup.average_forgetting == 0.0
    for j in range(T):
        column = [R[i][j] for i in range(j, T)]
        assert len(set(column)) == 1                                   # constant below the diagonal
        assert all(R[i][j] is None for i in range(j))                  # not yet learned
        # independent: the random weights under task j's mask, evaluated here
        W = [lin.weight.detach() * m for lin, m in zip(rand.linears(), sup.masks[j])]
        assert R[j][j] == _accuracy(W, *tasks[j].test)
        assert sup.models[j].changed_fraction == 0.0
        for m, (o, i) in zip(sup.masks[j], [(32, 64), (32, 32), (2, 32)]):
            assert m.dtype == torch.bool and int(m.sum()) == round(0.5 * o * i)
    assert sup.average_accuracy == pytest.approx(sum(R[-1]) / T, abs=1e-15)
    assert sup.average_accuracy > 0.8
    for lin, w in zip(rand.linears(), before):
        assert _same_bits(lin.weight.detach(), w)


def test_supsup_inferred_matches_the_rule_batch_by_batch(rand, tasks, sup):
    inf = sup.inferred
    assert inf is not None and inf.method == "supsup_inferred" and inf.stats["infer_batch"] == 32
    T = len(tasks)
    for i in range(T):
        masks = [list(m) for m in sup.masks[:i + 1]]
        for j in range(T):
            if j > i:
                assert inf.accuracy[i][j] is None and inf.task_inference[i][j] is None
                continue
            X, y = tasks[j].test
            picks, hits = [], 0
            for s in range(0, X.shape[0], 32):
                k = infer_task(rand, masks, X[s:s + 32])
                picks.append(k)
                W = [lin.weight.detach() * m for lin, m in zip(rand.linears(), sup.masks[k])]
                hits += round(_accuracy(W, X[s:s + 32], y[s:s + 32]) * len(y[s:s + 32]))
            assert picks == inf.stats["assigned"][i][j]
            assert inf.task_inference[i][j] == sum(p == j for p in picks) / len(picks)
            assert inf.accuracy[i][j] == hits / X.shape[0]
    # one task learned: nothing to confuse
    assert inf.task_inference[0][0] == 1.0 and inf.accuracy[0][0] == sup.accuracy[0][0]
    assert inf.task_inference_accuracy == sum(inf.task_inference[-1]) / T


def test_supsup_bits(rand, sup):
    N = 64 * 32 + 32 * 32 + 32 * 2
    assert sup.bits_per_task == N == sup.stats["weights"]
    h2 = lambda p: -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    expected = sum(n * h2(round(0.5 * n) / n) for n in (64 * 32, 32 * 32, 32 * 2))   # keep 0.5: N bits
    assert sup.bits_entropy_coded == pytest.approx(expected, rel=1e-12)
    assert sup.inferred.bits_per_task == sup.bits_per_task


def test_supsup_deterministic(rand, tasks, sup):
    again = supsup(rand, tasks, keep=0.5, epochs=3, seed=1, infer_batch=32)
    assert again.accuracy == sup.accuracy and again.inferred.accuracy == sup.inferred.accuracy
    assert all(torch.equal(a, b) for ma, mb in zip(again.masks, sup.masks) for a, b in zip(ma, mb))


# ----------------------------------------------------------------------------- the entropy rule
def _entropy_here(rand, masks, X, alpha) -> torch.Tensor:
    """H(α) written out with nn.functional: Linear layers of W ⊙ Σ α_m M_m (and b ⊙ Σ α_m m_m)."""
    h = X.double()
    lins = rand.linears()
    for t, lin in enumerate(lins):
        d = lin.weight.shape[1]
        comb = sum(a * m[t].double() for a, m in zip(alpha, masks))
        b = None if lin.bias is None else lin.bias.detach() * comb[:, d]
        h = nn.functional.linear(h, lin.weight.detach() * comb[:, :d], b)
        if t < len(lins) - 1:
            h = torch.relu(h)
    p = torch.softmax(h, 1)
    return -(p * torch.log(p)).sum(1).mean()


def test_entropy_gradient_against_finite_differences():
    rand = random_mlp((6, 5, 4, 3), init="kaiming_normal", seed=7, biases=True)
    g = torch.Generator().manual_seed(0)
    masks = [[torch.rand(lin.weight.shape[0], lin.weight.shape[1] + 1, generator=g) < 0.6 for lin in rand.linears()]
             for _ in range(4)]
    X = torch.randn(9, 6, generator=g, dtype=torch.float64) / 3
    grad = entropy_gradient(rand, masks, X)
    assert grad.dtype == torch.float64 and grad.shape == (4,)
    h = 1e-6
    for m in range(4):
        up = torch.full((4,), 0.25, dtype=torch.float64)
        dn = up.clone()
        up[m] += h
        dn[m] -= h
        fd = (_entropy_here(rand, masks, X, up) - _entropy_here(rand, masks, X, dn)) / (2 * h)
        assert float(grad[m]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)
    assert infer_task(rand, masks, X) == int(torch.argmin(grad))


def test_entropy_gradient_closed_form_one_layer():
    """One linear layer z = (W ⊙ Σ α M) x: ∂H/∂α_m = mean_b Σ_c −p_c (log p_c + H_b) ((W ⊙ M_m) x_b)_c."""
    rand = random_mlp((5, 3), init="kaiming_normal", seed=2)
    g = torch.Generator().manual_seed(1)
    masks = [[torch.rand(3, 5, generator=g) < 0.5] for _ in range(3)]
    X = torch.randn(7, 5, generator=g, dtype=torch.float64)
    W = rand.linears()[0].weight.detach()
    z = X @ (W * sum(m[0].double() for m in masks) / 3).T
    p = torch.softmax(z, 1)
    H = -(p * p.log()).sum(1, keepdim=True)
    dH_dz = -p * (p.log() + H)
    closed = torch.stack([(dH_dz * (X @ (W * m[0]).T)).sum(1).mean() for m in masks])
    assert torch.allclose(entropy_gradient(rand, masks, X), closed, rtol=1e-12, atol=1e-15)


def test_inference_picks_the_right_mask_in_a_constructed_case():
    """Task m's inputs (positive) live on input block m, its mask on hidden block m, keeping the positive
    weights into it and its positive weights to output 0: under the superposition only α_m scales the
    output (z = α_m² f_m(x), z_0 > 0 = z_1), so −∂H/∂α is positive for m and 0 for the others."""
    T, d, h = 3, 4, 5
    rand = random_mlp((T * d, T * h, 2), init="signed_constant", seed=11)
    W1, W2 = (lin.weight.detach() for lin in rand.linears())
    masks = []
    for m in range(T):
        first = torch.zeros(T * h, T * d, dtype=torch.bool)
        first[m * h:(m + 1) * h, m * d:(m + 1) * d] = True
        second = torch.zeros(2, T * h, dtype=torch.bool)
        second[0, m * h:(m + 1) * h] = True
        masks.append([first & (W1 > 0), second & (W2 > 0)])
        assert bool(masks[-1][1].any()) and bool(masks[-1][0][masks[-1][1][0]].any())
    g = torch.Generator().manual_seed(3)
    for m in range(T):
        X = torch.zeros(16, T * d, dtype=torch.float64)
        X[:, m * d:(m + 1) * d] = torch.rand(16, d, generator=g, dtype=torch.float64)
        grad = entropy_gradient(rand, masks, X)
        assert float(grad[m]) < 0 and all(float(grad[o]) == 0.0 for o in range(T) if o != m)
        assert infer_task(rand, masks, X) == m
        # every other mask alone gives the zero output (entropy log 2); mask m a confident one
        assert infer_task(rand, masks, X, rule="lowest_entropy") == m


def test_lowest_entropy_rule_against_each_mask_alone():
    rand = random_mlp((6, 5, 4, 3), init="kaiming_normal", seed=5, biases=True)
    g = torch.Generator().manual_seed(2)
    masks = [[torch.rand(lin.weight.shape[0], lin.weight.shape[1] + 1, generator=g) < 0.6 for lin in rand.linears()]
             for _ in range(4)]
    X = torch.randn(9, 6, generator=g, dtype=torch.float64) / 3
    alone = []
    for m in range(4):
        alpha = torch.zeros(4, dtype=torch.float64)
        alpha[m] = 1.0
        alone.append(float(_entropy_here(rand, masks, X, alpha)))
    assert infer_task(rand, masks, X, rule="lowest_entropy") == min(range(4), key=lambda m: alone[m])
    with pytest.raises(InvalidArgumentError):
        infer_task(rand, masks, X, rule="vote")


# ----------------------------------------------------------------------------- sequential dense
def test_sequential_dense_accuracy_matrix_against_its_networks(rand, tasks, dense):
    T = len(tasks)
    assert dense.method == "sequential_dense" and len(dense.models) == T
    for i in range(T):
        W = _augmented(dense.models[i].network)
        for j in range(T):
            if j > i:
                assert dense.accuracy[i][j] is None
            else:
                assert dense.accuracy[i][j] == _accuracy(W, *tasks[j].test)
        assert dense.accuracy[i][i] == dense.models[i].test_accuracy
        assert all(bool(u.all()) for u in dense.updated[i])
    # task 0 is plain dense training with the same seed; later tasks start from the previous weights
    first = training.dense(rand, data=tasks[0].train, test=tasks[0].test, epochs=3, seed=4, curves=False)
    assert all(_same_bits(a, b) for a, b in zip(_augmented(first.network), _augmented(dense.models[0].network)))
    R = dense.accuracy
    assert dense.forgetting == tuple(max(R[l][j] for l in range(j, T - 1)) - R[T - 1][j] for j in range(T - 1))
    assert dense.bits_per_task == 32 * dense.stats["weights"]


def test_sequential_dense_continues_from_the_previous_task(rand, tasks, dense):
    prob = base.prepare(rand, tasks[1].train, tasks[1].test)
    full = base.all_true(prob)
    values, _ = base.fit(prob, masks=full, trainable=full, epochs=3, lr=1e-2, batch_size=128,
                         generator=base.new_generator(5), init=_augmented(dense.models[0].network), curves=False)
    previous = _augmented(dense.models[0].network)
    for v, w, p in zip(values, _augmented(dense.models[1].network), previous):
        moved = v != p.float()                   # the rest keeps its float64 value (a weight into a dead unit)
        assert torch.equal(v.double()[moved], w[moved]) and _same_bits(p[~moved], w[~moved])


# ----------------------------------------------------------------------------- sequential sparse
def test_sparse_changes_exactly_the_chosen_weights(rand, tasks, sparse):
    N = 64 * 32 + 32 * 32 + 32 * 2
    count = base.budget_count(0.02, N)
    random = [lin.weight.detach() for lin in rand.linears()]
    previous = random
    ever = [torch.zeros_like(w, dtype=torch.bool) for w in random]
    for i, task in enumerate(tasks):
        now = _augmented(sparse.models[i].network)
        chosen = sparse.updated[i]
        assert sum(int(c.sum()) for c in chosen) == count
        # the chosen set: the Fisher top-count at the previous weights on this task's data, recomputed
        prob = base.prepare(rand, task.train, task.test)
        full = base.all_true(prob)
        assert all(torch.equal(a, b) for a, b in
                   zip(top_entries(importance(prob, full, "fisher", values=previous), full, count), chosen))
        for p, n, c in zip(previous, now, chosen):
            assert _same_bits(p[~c], n[~c])                        # everything else bit for bit
            assert bool((p[c] != n[c]).all())                      # every chosen weight moved
        ever = [e | c for e, c in zip(ever, chosen)]
        for r, n, e in zip(random, now, ever):
            assert _same_bits(r[~e], n[~e])                        # never chosen: the random value
        assert all(torch.equal(ch, e) for ch, e in zip(sparse.models[i].changed, ever))
        for j in range(i + 1):
            assert sparse.accuracy[i][j] == _accuracy(now, *tasks[j].test)
        previous = now
    assert sparse.bits_per_task == count * (32 + math.ceil(math.log2(N)))


def test_sequential_deterministic(rand, tasks, sparse):
    again = sequential(rand, tasks, budget=0.02, epochs=3, seed=2, lr=1e-2)
    assert again.accuracy == sparse.accuracy
    for a, b in zip(again.models, sparse.models):
        assert all(_same_bits(x, y) for x, y in zip(_augmented(a.network), _augmented(b.network)))


# ----------------------------------------------------------------------------- the result, errors
def test_forgetting_and_averages_on_a_hand_matrix():
    R = ((0.9, None, None), (0.5, 0.8, None), (0.6, 0.7, 1.0))
    res = ContinualResult("x", R, bits_per_task=1.0)
    assert res.forgetting == pytest.approx((0.3, 0.1), abs=1e-15)
    assert res.average_accuracy == pytest.approx((0.6 + 0.7 + 1.0) / 3, abs=1e-15)
    assert res.task_inference_accuracy is None and res.summary()["average_forgetting"] == pytest.approx(0.2)
    with pytest.raises(InvalidArgumentError):
        ContinualResult("x", ((0.9, 0.1), (0.5, 0.8)), bits_per_task=1.0)      # j > i must be None
    with pytest.raises(InvalidArgumentError):
        ContinualResult("x", ((1.5,),), bits_per_task=1.0)
    assert ContinualResult("x", ((0.5,),), bits_per_task=0.0).average_forgetting is None


def test_typed_errors_before_any_work(rand, tasks, digits):
    for call in (supsup, sequential):
        for bad in ([], (), tasks[0], [tasks[0], "task"], None):
            with pytest.raises(InvalidArgumentError):
                call(rand, bad)
        with pytest.raises(RandomNetworkError):
            call(random_mlp((64, 8, 10), seed=0), tasks)                          # 10 outputs, 2 classes
        with pytest.raises(SltheoryError):
            call(nn.Sequential(nn.Linear(64, 2)), tasks)
        for kw in ({"epochs": 0}, {"seed": -1}, {"lr": 0.0}, {"batch_size": 0}):
            with pytest.raises(InvalidArgumentError):
                call(rand, tasks, **kw)
    for kw in ({"keep": 0.0}, {"keep": 1.5}, {"infer_batch": 0}, {"infer_rule": "vote"}):
        with pytest.raises(InvalidArgumentError):
            supsup(rand, tasks, **kw)
    for kw in ({"budget": 0.0}, {"budget": 2.0}, {"budget": 0.1, "rule": "magnitude"}, {"rule": "magnitude"}):
        with pytest.raises(InvalidArgumentError):
            sequential(rand, tasks, **kw)
    with pytest.raises(InvalidArgumentError):
        entropy_gradient(rand, [[torch.ones(2, 2, dtype=torch.bool)] * 3], digits.x_test)
    with pytest.raises(InvalidArgumentError):
        entropy_gradient(rand, [], digits.x_test)
    with pytest.raises(InvalidArgumentError):
        Task(0, (0,), tasks[0].data)
