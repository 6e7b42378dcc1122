"""Chapter 3's study members and criteria (issue 35): the per-model paired test, the logit lens, 5a's control (where
it must fail), 5b as a check, 2a and 3a failing and holding on synthetic cases, matched update sizes, the ladder's
trend reading, and a member that returns every value its studies keep."""
import numpy as np
import pytest
import torch

from iclbook import rng
from iclbook.claims import above
from iclbook.analysis import logit_lens
from iclbook.experiments import layer_causality_claims as cl
from iclbook.experiments import layer_causality_members as mem
from iclbook.experiments import layer_causality_studies as st
from iclbook.experiments.layer_causality import lm_loss
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.tasks.label_mapping import LabelMappingTask

torch.set_num_threads(1)
TASK = LabelMappingTask(n_classes=2, tokens_per_class=3, n_labels=2, n_x=2, K=3)


def gpt(n_layer=3, seed=0, scheme="fan_in") -> GPT:
    cfg = GPTConfig(n_layer=n_layer, n_embd=16, n_head=4, block_size=TASK.seq_len() + 1,
                    vocab_size=TASK.vocab_size, tie_embeddings=True)
    m = GPT(cfg)
    m.reset_parameters(rng.generator("test", seed), scheme=scheme)
    return m.eval()


# ---- (a) the per-model paired test ------------------------------------------------------------------------------
def test_paired_test_fails_on_noise_and_holds_on_a_consistent_gain():
    g = np.random.default_rng(0)
    gd = g.normal(0.1, 0.3, 200)
    assert not cl.paired_test(gd + g.normal(0.0, 0.3, 200), gd)["more"]  # no effect
    assert not cl.paired_test(gd - 0.1 + g.normal(0.0, 0.3, 200), gd)["more"]  # the other way
    res = cl.paired_test(gd + 0.065 + g.normal(0.0, 0.3, 200), gd)  # the paper's gain, per-episode SD 0.3
    assert res["more"] and res["mean"] > 0 and res["p"] < 0.05 and res["n"] == 200
    same = cl.paired_test(gd, gd)
    assert not same["more"] and np.isnan(same["t"])


# ---- (b) the logit lens ---------------------------------------------------------------------------------------
def test_logit_lens_top_exit_is_the_models_output_and_losses_match():
    m = gpt()
    ep = TASK.sample(6, rng.generator("test", 1))
    exits = logit_lens.exit_logits(m, ep.icl_tokens()[None])
    assert len(exits) == 3 and torch.allclose(exits[-1], m(ep.icl_tokens()[None]), atol=1e-5)
    acc = logit_lens.label_accuracy(m, ep.icl_tokens(), ep.target, TASK.label_tokens)
    top = (m(ep.icl_tokens()[None])[0, :, -1, TASK.label_tokens].argmax(-1) == ep.target).float().mean()
    assert acc.shape == (3,) and torch.isclose(acc[-1], top)
    seqs = ep.demo_sequences()[:, 0]
    loss, gnorm = logit_lens.exit_losses(m, seqs)
    assert torch.allclose(loss[:, -1], torch.stack([lm_loss(m(s[None, None]), s[None, None])[0] for s in seqs]),
                          atol=1e-5)
    logits = m(seqs[:1][None]).detach().requires_grad_(True)  # the logit-gradient norm, by autograd
    lm_loss(logits, seqs[:1][None]).sum().backward()
    assert torch.isclose(gnorm[0, -1], logits.grad.norm(), atol=1e-6)


def test_lower_layers_readable_needs_every_layer_below_the_top_above_chance_by_the_margin():
    assert cl.lower_layers_readable([0.40, 0.50, 0.90], n_labels=4)
    assert not cl.lower_layers_readable([0.30, 0.50, 0.90], n_labels=4)  # layer 1: chance + 0.05 only
    assert not cl.lower_layers_readable([0.25, 0.25, 0.90], n_labels=4)  # a lens at chance below the top
    assert not cl.lower_layers_readable([0.90], n_labels=4)  # one layer: nothing below the top


# ---- 5a, its control, and 5b as a check ---------------------------------------------------------------------------
def test_5a_fails_on_its_control_network_whose_exits_equal_the_output():
    m = gpt()
    seqs = TASK.sample(8, rng.generator("test", 2)).demo_sequences()
    for layer in (1, 2):  # above `layer` nothing is added: every exit from there up has the output's loss
        loss, _ = logit_lens.exit_losses(cl.silence_above(m, layer), seqs[:, 0])
        assert torch.allclose(loss[:, layer - 1:], loss[:, -1:].expand(-1, 3 - layer + 1))
    value, per_layer = cl.control_5a(m, seqs)
    assert per_layer.shape == (2,) and value == pytest.approx(1.0, abs=1e-6)
    assert not above(1.0)(value)  # the chapter's 5a criterion fails here, for any weights
    assert cl.control_5a(gpt(1), seqs)[1].size == 0  # one layer: nothing below the top


def test_normalised_5a_fails_where_the_larger_exit_error_explains_lcgd_and_holds_beyond_it():
    gd = np.array([[0.2, 0.5, 1.0]])  # (models, L), the top layer last
    scale = np.array([[3.0, 2.0, 1.0]])  # low exits' error signals are larger
    assert above(1.0)(cl.lower_layers_lcgd_over_gd(gd, gd * scale)[0])  # raw 5a: holds "by construction"
    assert not above(1.0)(cl.normalised_5a(gd, gd * scale, scale)[0])  # ... explained by the error signal: fails
    assert above(1.0)(cl.normalised_5a(gd, gd * scale * 1.5, scale)[0])  # beyond it: holds
    assert not above(1.0)(cl.normalised_5a(gd, gd * scale * [[1.5, 0.9, 1.0]], scale)[0])  # one layer short


def test_5b_check_fails_on_a_decaying_lcgd_profile_and_holds_on_a_flat_or_rising_one():
    assert not above(1.0)(cl.claim_5b_check(np.array([[0.2, 0.5, 1.0], [0.4, 0.6, 1.0]])))
    assert above(1.0)(cl.claim_5b_check(np.array([[2.0, 1.5, 1.0], [1.2, 1.1, 1.0]])))


# ---- 2a and 3a as the chapter computes them --------------------------------------------------------------------------
def test_claim_2a_fails_when_icl_barely_beats_zs_and_holds_when_far_above():
    zs = np.array([0.44, 0.45, 0.43])
    assert not above(cl.CLAIM_2A_MIN)(cl.claim_2a(zs + 0.1, zs))
    assert not above(cl.CLAIM_2A_MIN)(cl.claim_2a(zs + [0.6, 0.0, 0.0], zs))  # one seed alone: mean 0.2
    assert above(cl.CLAIM_2A_MIN)(cl.claim_2a(zs + 0.5, zs))


def test_claim_3a_fails_when_both_controls_are_far_below_and_holds_when_one_is_comparable():
    trained = np.array([0.20, 0.22, 0.18])
    far = {"trained": trained, "random": trained - 0.15, "emb": trained - 0.10}
    value, _ = cl.claim_3a(far)
    assert not above(cl.CLAIM_3A_MIN)(value)
    value, best = cl.claim_3a({**far, "emb": trained - 0.02})
    assert best == "emb" and above(cl.CLAIM_3A_MIN)(value)


# ---- demonstration orders and matched update size ------------------------------------------------------------
def test_reorder_permutes_demonstrations_with_their_labels_and_keeps_the_query():
    ep = TASK.sample(5, rng.generator("test", 3))
    perm = torch.stack([torch.randperm(3, generator=rng.generator("test", i)) for i in range(5)])
    r = mem.reorder(ep, perm)
    assert torch.equal(r.query, ep.query) and torch.equal(r.target, ep.target)
    assert torch.equal(r.demos[:, :, -2] - 3, r.labels[:, :-1])  # each demonstration keeps its label
    assert torch.equal(r.demos[1, 0], ep.demos[1, perm[1, 0]])


def test_matched_lcgd_update_size_comes_close_to_gds():
    m = gpt(seed=4)
    ep = TASK.sample(8, rng.generator("test", 5))
    gd, lc = mem.finetune(m, ep, 0.3, "gd", 8), mem.finetune(m, ep, 0.3, "lcgd", 8)
    run = mem.matched(m, ep, 0.3, gd["dw"], lc["dw"], 8)
    before = (lc["dw"] / gd["dw"]).log().abs().median()
    after = (run["dw"] / gd["dw"]).log().abs().median()
    assert after < before and after < np.log(1.05)


# ---- the studies' criteria -------------------------------------------------------------------------------------
def _record(points: list[tuple[dict, list[dict]]]) -> dict:
    return {"points": [{"point": p, "members": {str(i): m for i, m in enumerate(ms)}, "n": len(ms)}
                       for p, ms in points]}


def test_rate_above_half_needs_ten_of_twelve_and_the_control_must_never_hold():
    crit = st.rate_above("ok")
    assert crit(_record([({}, [{"ok": i < 10} for i in range(12)])]))[1]
    assert not crit(_record([({}, [{"ok": i < 9} for i in range(12)])]))[1]  # 9 of 12: interval reaches 0.47
    assert not crit(_record([({}, [{"ok": True} for _ in range(8)])]))[1]  # too few models
    assert st.never("c")(_record([({}, [{"c": False} for _ in range(12)])]))[1]
    assert not st.never("c")(_record([({}, [{"c": i == 3} for i in range(12)])]))[1]


def test_ladder_trend_reads_rises_flat_and_falls():
    g = np.random.default_rng(1)

    def ladder(slope, sd):
        return _record([({"n_embd": w}, [{"v": slope * np.log2(w) + g.normal(0, sd)} for _ in range(4)])
                        for w in (32, 64, 128)])

    crit = st.trend("v", "rises")
    assert crit(ladder(0.05, 0.02))[1]
    assert not crit(ladder(0.0, 0.05))[1]  # flat
    assert not crit(ladder(-0.05, 0.02))[1] and "falls" in crit(ladder(-0.05, 0.02))[0]
    few = _record([({"n_embd": w}, [{"v": 0.05 * np.log2(w)} for _ in range(2)]) for w in (32, 64, 128)])
    assert not crit(few)[1]  # fewer than 4 members a scale


def test_studies_are_declared_as_the_issue_asks():
    per, lad = st.STUDIES["per-model"], st.STUDIES["ladder"]
    assert per.members >= 8 and per.first_seed >= 1000 and per.success == "lcgd_more_icl_aou"
    assert len(lad.points) >= 3 and lad.members >= 3 and lad.first_seed >= 1000
    assert set(per.seeds()).isdisjoint(lad.seeds())
    chapter_seeds = {s for base in range(10) for s in rng.member_seeds(base, 10)}
    assert chapter_seeds.isdisjoint(per.seeds() + lad.seeds())


def test_a_member_returns_every_kept_value(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    point = {"steps": 4, "n_layer": 2, "n_embd": 8, "n_head": 2, "episodes": 4, "lr_grid": [0.1], "chunk": 4,
             "heldout": 4, "orders": 2, "controls": True, "control_depths": [1, 2], "depth_episodes": 4}
    out = mem.member(point, 1000, "ci")
    assert set(st.LADDER_KEEP) <= set(out) and set(st.PER_MODEL_KEEP) <= set(out)
    assert isinstance(out["lcgd_more_icl_aou"], bool) and out["n_scored"] == 4 and len(out["lens_acc"]) == 2
    assert out["control_5a"] == pytest.approx(1.0, abs=1e-6) and not out["holds_control_5a"]


def test_aux_exit_pretraining_with_weight_zero_is_the_chapters_pretraining(tmp_path):
    from iclbook.chapters import get
    from iclbook.experiments.layer_causality import LayerCausality

    P = get("03").params.resolve("ci", {"steps": 6, "n_layer": 2, "n_embd": 8, "n_head": 2, "seed": 0})
    X = LayerCausality({k: getattr(P, k) for k in LayerCausality.FIELDS}, str(tmp_path / "a"), "cpu")
    Y = LayerCausality({k: getattr(P, k) for k in LayerCausality.FIELDS}, str(tmp_path / "b"), "cpu")
    ev = X.eval_episodes(0, 16)
    a, ra = X.pretrain(1000, ev)
    b, rb = mem.pretrain_aux(Y, 1000, ev, weight=0.0)
    assert np.allclose(np.asarray(ra.losses), np.asarray(rb.losses), atol=1e-6)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    c, rc = mem.pretrain_aux(Y, 1000, ev, weight=0.2)  # the variant: another objective, another model
    assert not np.allclose(np.asarray(ra.losses)[1:], np.asarray(rc.losses)[1:])
