"""The modular-arithmetic task (He et al. 2024): rectangle rule, input split, sequences, and the ratio-matching oracle."""
import numpy as np
import pytest
import torch

from iclbook import rng

from iclbook.analysis.modular import accuracy_by_shot, phase, ratio_matching, z_loss
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.tasks.modular import (
    EVAL_SETS, ModularTask, balanced_index, input_split, rectangle_tasks, z_logits_targets, z_positions,
)


def g(seed=0):
    return rng.generator("test", seed)


@pytest.mark.parametrize("p,m", [(7, 1), (7, 8), (11, 20), (29, 64)])
def test_rectangle_rule_gives_distinct_rectangles(p, m):
    t = rectangle_tasks(m, p, g())
    assert t.shape == (4 * m, 2) and t.dtype == torch.long
    assert len(set(map(tuple, t.tolist()))) == 4 * m  # all distinct
    assert t.min() >= 0 and t.max() < p
    for r in t.view(m, 4, 2):  # (a,b), (a,y'), (x',b), (x',y')
        (a, b), (a2, y2), (x2, b2), (x3, y3) = r.tolist()
        assert a == a2 and b == b2 and x2 == x3 and y2 == y3 and a != x2 and b != y2


def test_rectangle_rule_is_seeded():
    assert torch.equal(rectangle_tasks(5, 11, g(3)), rectangle_tasks(5, 11, g(3)))
    assert not torch.equal(rectangle_tasks(5, 11, g(3)), rectangle_tasks(5, 11, g(4)))


def test_rectangle_rule_impossible_request_fails_clearly():
    with pytest.raises(ValueError, match="exceeds the p² = 49"):
        rectangle_tasks(13, 7, g())
    with pytest.raises(ValueError, match="rectangles with fresh corners for p = 7"):
        rectangle_tasks(12, 7, g(), max_tries=200, restarts=3)  # 48 of 49 tasks: the corners run out


def test_input_split_partitions_all_pairs():
    tr, te = input_split(11, 0.7, g())
    assert tr.shape == (85, 2) and te.shape == (36, 2)
    allp = set(map(tuple, torch.cat([tr, te]).tolist()))
    assert len(allp) == 121
    with pytest.raises(ValueError, match="alpha"):
        input_split(11, 1.0, g())


def test_balanced_index_counts():
    idx = balanced_index(12, 128, g(), "cpu")
    counts = torch.bincount(idx, minlength=12)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 128


def test_sequences_follow_their_task_and_split():
    t = ModularTask(p=11, n_id=16, alpha=0.6, n_ex=8, seed=1)
    ids = set(map(tuple, t.id_tasks.tolist()))
    assert ids.isdisjoint(map(tuple, t.ood_tasks.tolist())) and len(ids) == 16
    assert t.ood_tasks.shape[0] == 121 - 16
    train_set = set(map(tuple, t.train_pairs.tolist()))
    test_set = set(map(tuple, t.test_pairs.tolist()))
    batches = {"train": t.train_batch(64, g(2))} | {w: t.eval_batch(w, 64, g(3)) for w in EVAL_SETS}
    for name, toks in batches.items():
        assert toks.shape == (64, 24)
        xyz = toks.view(64, 8, 3)
        pairs = [tuple(r) for r in xyz[..., :2].reshape(-1, 2).tolist()]
        for row in xyz:  # one task per row: solve for it from the rows' own examples
            found = [(a, b) for a in range(11) for b in range(11)
                     if all((a * x + b * y) % 11 == z for x, y, z in row.tolist())]
            assert len(found) >= 1
            tasks = t.ood_tasks if name.startswith("ood") else t.id_tasks
            assert any(tuple(f) in set(map(tuple, tasks.tolist())) for f in found)
        ctx = set(tuple(r) for r in xyz[:, :-1, :2].reshape(-1, 2).tolist())
        assert ctx <= train_set  # context examples always come from the train inputs
        query = set(tuple(r) for r in xyz[:, -1, :2].tolist())
        assert query <= (test_set if name.endswith("test") else train_set)
        if name in ("train", "id_train", "ood_train"):  # distinct pairs within a sequence
            assert all(len(set(map(tuple, r[:, :2].tolist()))) == 8 for r in xyz)
        assert pairs


def test_modular_task_errors_name_the_problem():
    with pytest.raises(ValueError, match="multiple of 4"):
        ModularTask(p=7, n_id=10, alpha=0.8, n_ex=8)
    with pytest.raises(ValueError, match="n_ex = 30"):
        ModularTask(p=7, n_id=8, alpha=0.5, n_ex=30)


def test_z_positions_and_targets():
    toks = torch.arange(12).view(1, 12)
    assert z_positions(4).tolist() == [1, 4, 7, 10]
    logits = torch.zeros(1, 12, 5)
    lg, tg = z_logits_targets(logits, toks)
    assert lg.shape == (1, 4, 5) and tg.tolist() == [[2, 5, 8, 11]]


def test_ratio_matching_oracle():
    p = 7
    # task (a, b) = (2, 3); examples (1, 2), (3, 1); query (2, 4) = 2·(1, 2) → z = 2·z₁
    ex = [(1, 2), (3, 1), (2, 4), (5, 5)]
    toks = torch.tensor([[v for x, y in ex for v in (x, y, (2 * x + 3 * y) % p)]])
    applies, pred = ratio_matching(toks, p, k=2)
    assert applies.item() and pred.item() == (2 * 2 + 3 * 4) % p
    applies, pred = ratio_matching(toks, p, k=1)  # (3, 1) is no multiple of (1, 2) mod 7
    assert not applies.item() and pred.item() == -1
    # the oracle is right wherever it applies, on random sequences of random tasks
    t = ModularTask(p=7, n_id=8, alpha=0.8, n_ex=8, seed=0)
    toks = t.eval_batch("ood_train", 512, g(5))
    for k in range(1, 8):
        applies, pred = ratio_matching(toks, p, k)
        z = toks.view(512, 8, 3)[:, k, 2]
        assert torch.equal(pred[applies], z[applies])
        assert applies.any()


def test_phase_picks_the_most_general():
    acc = dict(id_train=1.0, id_test=0.9, ood_train=0.2, ood_test=0.1)
    assert phase(acc, 0.5) == "id_generalisation"
    assert phase(dict(acc, ood_test=0.6, ood_train=0.7), 0.5) == "ood_generalisation"
    assert phase(dict(id_train=0.3, id_test=0.1, ood_train=0.1, ood_test=0.1), 0.5) == "none"


def test_loss_and_accuracy_shapes_for_an_ensemble():
    t = ModularTask(p=7, n_id=8, alpha=0.8, n_ex=6, seed=0)
    cfg = GPTConfig(n_layer=1, n_embd=16, n_head=2, block_size=18, activation="relu", pos="rope", bias=False,
                    vocab_size=7, tie_embeddings=True, n_models=3)
    m = GPT(cfg, g(0))
    toks = torch.stack([t.train_batch(10, g(i)) for i in range(3)])
    loss = z_loss(m, toks)
    assert loss.shape == (3,) and torch.allclose(loss, torch.log(torch.tensor(7.0)), atol=0.1)  # near-uniform init
    acc = accuracy_by_shot(m, toks, chunk=4)
    assert acc.shape == (3, 6) and ((acc >= 0) & (acc <= 1)).all()


def test_sweep_grouping_does_not_change_members(tmp_path):
    """A member's init and batches depend on its own seed only: ensembles of 2 and of 1 train the same models."""
    from iclbook.store import Store
    from iclbook.experiments.modular_arithmetic import train_sweep
    from iclbook.train import OptimConfig

    tasks = [ModularTask(p=7, n_id=8, alpha=0.8, n_ex=4, seed=i) for i in range(2)]
    cfg = dict(n_layer=1, n_embd=16, n_head=2, activation="relu", pos="rope", bias=False, tie_embeddings=True)
    opt = OptimConfig("adamw", 1e-2, (0.9, 0.98), 1.0, schedule="warmup_cosine", warmup=0.1, final_lr_frac=0.1)
    kw = dict(optim=opt, steps=6, batch=8, seeds=[3, 4], checkpoints=[0, 3, 6], n_eval=16, device="cpu")
    a = train_sweep(tasks, cfg, store=Store(tmp_path / "a"), group=2, **kw)
    b = train_sweep(tasks, cfg, store=Store(tmp_path / "b"), group=1, **kw)
    for ma, mb in zip(a, b):
        assert np.allclose(ma.result.losses, mb.result.losses, atol=1e-5)
        assert [e["step"] for e in ma.result.evals] == [0, 3, 6]
        assert set(ma.final()) == set(EVAL_SETS)
        for k, v in ma.model.state_dict().items():
            assert torch.allclose(v, mb.model.state_dict()[k], atol=1e-5), k
    again = train_sweep(tasks, cfg, store=Store(tmp_path / "a"), group=2, **kw)  # from the store
    assert again[0].result.from_store and np.allclose(again[0].result.losses, a[0].result.losses)


def test_chapter4_parameters_are_checked():
    from iclbook.chapters import get
    from iclbook.profiles import ParameterError

    spec = get("04").params
    with pytest.raises(ParameterError, match="parameter 'n_ids'.*tasks = 'rectangle'.*multiples of 4"):
        spec.resolve("ci", {"n_ids": [16, 18], "tasks": "rectangle"})
    assert spec.resolve("ci", {"n_ids": [16, 18], "tasks": "random"}).n_ids == [16, 18]
    with pytest.raises(ParameterError, match="parameter 'n_ids'.*below p² = 49"):
        spec.resolve("ci", {"n_ids": [16, 49]})
    with pytest.raises(ParameterError, match="parameter 'tasks'"):
        spec.resolve("ci", {"tasks": "grid"})
    with pytest.raises(ParameterError, match="parameter 'n_embd'.*pos = 'rope'"):
        spec.resolve("ci", {"pos": "rope", "n_embd": 36, "n_head": 4})
    assert spec.resolve("ci", {"pos": "learned", "n_embd": 36, "n_head": 4}).n_embd == 36
    with pytest.raises(ParameterError, match="parameter 'p'.*a prime"):
        spec.resolve("ci", {"p": 9})
    with pytest.raises(ParameterError, match="parameter 'alphas'"):
        spec.resolve("ci", {"alphas": [0.1]})
    with pytest.raises(ParameterError, match="parameter 'pos'"):
        spec.resolve("ci", {"pos": "alibi"})
    with pytest.raises(ParameterError, match="parameter 'control_embd'.*multiple of n_head"):
        spec.resolve("ci", {"control_embd": 50})
    assert spec.resolve("cpu", {"control_embd": 128}).control_embd == 128
    assert {spec.resolve(pr, {}).control_embd for pr in ("ci", "cpu", "gpu")} == {0}  # the grid's width


def test_random_rule_draws_distinct_tasks_of_any_count():
    t = ModularTask(7, 13, 0.8, 6, seed=3, rule="random")
    ids = set(map(tuple, t.id_tasks.tolist()))
    assert len(ids) == 13 and not ids & set(map(tuple, t.ood_tasks.tolist()))
    assert len(ids) + t.ood_tasks.shape[0] == 49
    with pytest.raises(ValueError, match="rule"):
        ModularTask(7, 12, 0.8, 6, rule="grid")


def test_chapter4_steps_follow_a_larger_p_unless_given():
    from iclbook.chapters import get

    spec = get("04").params
    P = spec.resolve("ci", {"p": 11})
    assert P.steps == round(800 * (11 / 7) ** 2) and P.derived == ("steps",) and P.overridden == ("p",)
    assert spec.resolve("ci", {"p": 11, "steps": 300}).steps == 300  # an explicit value wins
    assert spec.resolve("ci", {"p": 5, "n_ids": [4, 16]}).steps == 800  # never fewer steps
    assert spec.resolve("gpu", {}).steps == 40000 and spec.resolve("gpu", {}).derived == ()
