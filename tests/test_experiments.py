"""The chapters' experiment modules: a tiny setting of each trains, is read back from the store the second time,
and keeps the store keys the chapters used before the modules existed."""
import torch

from iclbook.chapters import get
from iclbook.store import Store


def test_layer_causality_pretrains_compares_and_reuses_the_store(tmp_path):
    from iclbook.experiments.layer_causality import LayerCausality, merge

    P = get("03").params.resolve("ci", {"steps": 3, "n_embd": 16, "n_layer": 2, "n_head": 2, "episodes": 4,
                                        "lr_grid": [0.1], "chunk": 4, "depth_episodes": 4})
    X = LayerCausality.from_params(P, Store(tmp_path), "cpu")
    ev = X.eval_episodes(0, n=8)
    model, res = X.pretrain(0, ev)
    assert not res.from_store and X.acc_by_demos(model, ev).shape == (P.K + 1,)
    again, res2 = X.pretrain(0, ev)
    assert res2.from_store and all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    r = merge([X.run_compare(kind, 0, 0, model) for kind in ("trained", "random")])
    assert r["icl_ok"].shape == (8,) and set(r["family"].tolist()) == {0}
    emb = X.control("emb", 0, model)
    assert torch.equal(emb.state_dict()["wte"], model.state_dict()["wte"])
    d = X.depth_control(1, 0)
    assert set(d) == {"sim_aou", "icl_gain"}


def test_concept_experiment_runs_and_reuses_the_store(tmp_path):
    from iclbook.experiments.multi_concept import ConceptExperiment, at_step, eps_steps, series

    P = get("05").params.resolve("ci", {"steps": 20, "variant_steps": 10, "n_test": 256, "batch": 16,
                                        "dense_until": 5, "eval_every": 5})
    X = ConceptExperiment.from_params(P, Store(tmp_path), "cpu")
    assert X.checkpoints(20) == [0, 5, 20]
    model, res, dic, task = X.run(3)
    assert not res.from_store and series(res, "test_err").shape == (3,)  # steps 0, 5, 20
    assert at_step(res, "test_err", 7) == series(res, "test_err")[1] and eps_steps(res).shape == (7,)
    _, res2, _, _ = X.run(3)
    assert res2.from_store
    out = X.knob_sweeps(res, 3, {"L": ("L", [4])})
    assert set(out) == {("L", 4), ("L", P.L)} and out["L", P.L]["final_clean"] == at_step(res, "test_err_clean", 10)
