"""Chapter 4's study members: the candidate recipes' training path is the chapter's with one change, the shared-(x, y)
batches share their pairs, Grokfast adds λ × the gradients' EMA, and a member returns every value its studies keep."""
import torch

from iclbook import rng
from iclbook.experiments import modular_arithmetic_members as mm
from iclbook.experiments.modular_arithmetic import train_sweep
from iclbook.experiments.modular_arithmetic_studies import KEEP
from iclbook.executor import Executor
from iclbook.store import Store
from iclbook.tasks.modular import ModularTask
from iclbook.train import OptimConfig

CFG = dict(n_layer=1, n_embd=16, n_head=2, activation="relu", pos="learned", bias=True, tie_embeddings=True)
OPT = OptimConfig("adamw", 3e-3, (0.9, 0.98), 1.0, schedule="warmup_cosine", warmup=0.1, final_lr_frac=0.1)


def test_the_variant_path_without_a_change_is_the_chapters_path(tmp_path):
    task = ModularTask(5, 8, 0.8, 4, seed=3, rule="random")
    a = train_sweep([task], CFG, OPT, 6, 16, [3], Store(tmp_path / "a"), 1, [0, 6], 32, "cpu",
                    executor=Executor("inline"))[0]
    b = mm.train_variant(task, 3, "today", CFG, OPT, 6, 16, Store(tmp_path / "b"), [0, 6], 32, "cpu", "t")
    assert torch.allclose(torch.as_tensor(a.result.losses), torch.as_tensor(b.result.losses), atol=1e-6)
    assert a.final() == b.final()


def test_shared_xy_batches_differ_only_in_z():
    task = ModularTask(7, 8, 0.8, 5, seed=1, rule="random")
    toks = mm.shared_xy_batch(task, 16, rng.generator("batch", 0, 0)).view(16, 5, 3)
    assert (toks[:, :, :2] == toks[:1, :, :2]).all()  # every row: the same (x, y) in the same order
    assert len({tuple(r) for r in toks[:, :, 2].tolist()}) > 1  # ... and other z
    assert len({tuple(p) for p in toks[0, :, :2].tolist()}) == 5  # distinct pairs within a sequence


def test_grokfast_adds_lambda_times_the_gradient_ema():
    lin = torch.nn.Linear(2, 1, bias=False)
    mm.grokfast_hooks(lin, 0.5, 2.0)
    grads = []
    for x in (torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])):
        lin.zero_grad()
        lin(x).sum().backward()
        grads.append(lin.weight.grad.clone())
    assert torch.allclose(grads[0], torch.tensor([[3.0, 0.0]]))  # g + 2 · g (the EMA starts at g)
    assert torch.allclose(grads[1], torch.tensor([[1.0, 2.0]]))  # ema = (0.5, 0.5): (0, 1) + 2 · (0.5, 0.5)


def test_a_member_returns_every_kept_value_for_every_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    for recipe in mm.RECIPES:
        out = mm.member({"n_id": 8, "recipe": recipe, "steps": 12, "n_embd": 16, "n_eval": 32, "n_ckpt": 2}, 1000,
                        "ci")
        assert set(KEEP) <= set(out) and isinstance(out["solved"], bool) and 0 <= out["ood_train"] <= 1


def _record(rs_solved: list[tuple[float | None, bool]]) -> dict:
    return {"points": [{"members": {str(i): {"r_early": r, "solved": s} for i, (r, s) in enumerate(rs_solved)}}]}


def test_the_early_ratio_predicts_when_solvers_start_higher_and_not_when_mixed():
    from iclbook.experiments.modular_arithmetic_studies import R_CLAIM, STUDIES, early_ratio

    clear = _record([(0.5 + 0.05 * i, True) for i in range(6)] + [(0.1 + 0.02 * i, False) for i in range(6)])
    e = early_ratio([clear])
    assert e["predicts"] and e["auc"] == 1.0 and e["sorted"] == 12 and 0.2 < e["r_star"] <= 0.5
    mixed = _record([(0.1 * i, i % 2 == 0) for i in range(12)])  # no relation: AUC about 1/2
    assert not early_ratio([mixed])["predicts"]
    reversed_ = _record([(r, not s) for r, s in [(0.5 + 0.05 * i, True) for i in range(6)]
                         + [(0.1 + 0.02 * i, False) for i in range(6)]])
    assert not early_ratio([reversed_])["predicts"]  # one-sided: solvers starting lower is no prediction
    few = _record([(0.5, True)] * 3 + [(0.1, False)] * 6 + [(None, False)] * 2)
    e = early_ratio([few])
    assert not e["predicts"] and e["auc"] is None and e["read"] == 9 and e["members"] == 11
    assert R_CLAIM.evaluate(clear)[1] and not R_CLAIM.evaluate(few)[1] and "too few" in R_CLAIM.evaluate(few)[0]
    assert all(R_CLAIM in STUDIES[n].claims for n in ("recipe-screen", "solve-rate"))


def _rate_row(point: dict, k: int, n: int, learned: int, wall: float) -> tuple[dict, dict]:
    from iclbook.evidence.studies import point_key, wilson

    members = {str(3000 + i): {"solved": i < k, "learned": i < learned} for i in range(n)}
    row = {"point": point, "k": k, "n": n, "interval": list(wilson(k, n)), "members": members}
    return row, {f"{point_key(point)} | {s}": {"wall_seconds": wall} for s in members}


def test_claim_2_needs_depth_1_rare_depth_2_common_and_their_intervals_apart(monkeypatch):
    from iclbook.evidence import studies
    from iclbook.experiments import modular_arithmetic_studies as ms

    depth2 = {"n_id": ms.DEPTH_N, "recipe": "today"}
    depth1 = {**depth2, "n_layer": 1, "steps": ms.DEPTH1_STEPS}
    claim, timing = (c for c in ms.STUDIES["depth"].claims)

    def records(k1, k2, learned1=0, wall1=2000.0, wall2=1500.0):
        r1, p1 = _rate_row(depth1, k1, 8, learned1, wall1)
        r2, p2 = _rate_row(depth2, k2, 8, 8, wall2)
        curve = {"points": [_rate_row({"n_id": 8, "recipe": "today"}, 0, 8, 8, 900.0)[0], r2], "provenance": p2}
        monkeypatch.setattr(studies, "load", lambda slug, name: curve if name == "solve-rate" else None)
        return {"points": [r1], "provenance": p1}

    value, holds = claim.evaluate(records(0, 7))
    assert holds and "does not learn even its own tasks" in value
    assert not claim.evaluate(records(3, 7, learned1=8))[1]  # depth 1 solves too often: the claim is false
    assert not claim.evaluate(records(0, 5))[1]  # [0, 0.32] and [0.31, 0.86] overlap: too few to tell
    assert not claim.evaluate(records(0, 3))[1]  # depth 2 rarely solves either
    assert timing.evaluate(records(0, 7))[1] and not timing.evaluate(records(0, 7, wall1=1000.0))[1]
    monkeypatch.setattr(studies, "load", lambda slug, name: None)
    assert claim.evaluate({"points": [_rate_row(depth1, 0, 8, 0, 1.0)[0]], "provenance": {}}) == (
        f"no depth-2 members at n_i.d. = {ms.DEPTH_N} (record solve-rate first)", False)


def test_the_one_block_table_sets_each_control_beside_the_bound_of_its_own_tasks():
    """The depth section's table (issue 33, item 4: why depth 1 fails) rebuilds each member's pretraining tasks from
    its seed and point, so its bound is one_example_accuracy of exactly those tasks, members in seed order."""
    from iclbook.analysis.modular import one_example_accuracy
    from iclbook.chapters import get
    from iclbook.experiments.modular_arithmetic_figures import one_block_table

    point = {"n_id": 44, "recipe": "constant-lr", "n_layer": 1, "steps": 25000}
    members = {"3001": {"id_train": 0.236, "ood_train": 0.117}, "3000": {"id_train": 0.264, "ood_train": 0.128}}
    table = one_block_table({"profile": "cpu", "points": [{"point": point, "n": 2, "members": members}]})
    P = get("04").params.resolve("cpu", {"n_layer": 1, "steps": 25000, "seed": 0})
    for seed, m in (("3000", members["3000"]), ("3001", members["3001"])):
        task = ModularTask(P.p, 44, P.alphas[-1], P.n_ex, seed=int(seed), device="cpu", rule=P.tasks)
        bound = one_example_accuracy(task.id_tasks, task.train_pairs, P.p)
        assert f"| {seed} | {m['id_train']:.2f} | {bound:.2f} | {m['ood_train']:.2f} |" in table
    assert table.index("| 3000 |") < table.index("| 3001 |")
    assert one_block_table(None) == "*No members recorded yet.*"
