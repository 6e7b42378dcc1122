"""Chapter 3's library: label-mapping task, update-similarity metrics, GD / layer-causal GD on W_K, W_V."""
import math

import numpy as np

import pytest
import torch

from iclbook import rng

from iclbook.analysis import update_similarity as us
from iclbook.experiments.layer_causality import finetune_kv, kv_mask, layer_causal_losses, lm_loss, record_last_position, replicate
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.tasks.label_mapping import BOS, COLON, EOS, LabelMappingTask

torch.set_num_threads(1)


def gen(seed=0):
    return rng.generator("test", seed)


# ---- task ---------------------------------------------------------------------------------------------------
def test_prompt_layout_and_map_consistency():
    task = LabelMappingTask(n_classes=3, tokens_per_class=5, n_labels=2, n_x=3, K=4, p_default=0.0, n_families=2)
    ep = task.sample(64, gen())
    x = ep.icl_tokens()
    assert x.shape == (64, task.seq_len()) and int(x.max()) < task.vocab_size
    assert (x[:, 0] == BOS).all()
    pos = task.label_positions()
    assert (x[:, pos] == COLON).all()
    assert (x[:, pos[:-1] + 1] == ep.label_targets()[:, :-1]).all()  # the token after ':' is the label
    assert (x[:, pos[:-1] + 2] == EOS).all()
    # content tokens of one input share a class and that class's label is given by the prompt's map
    content = ep.demos[:, :, :3] - 3 - task.n_labels
    cls_global = content // task.tokens_per_class
    assert (cls_global == cls_global[..., :1]).all()
    cls = cls_global[..., 0] - ep.family[:, None] * task.n_classes
    assert ((cls >= 0) & (cls < task.n_classes)).all()
    assert (ep.cmap.gather(1, cls) == ep.labels[:, :-1]).all()
    assert ep.zs_tokens().shape == (64, 1 + task.n_x + 1)
    assert ep.demo_sequences().shape == (64, 4, 1 + task.demo_len)
    assert (ep.query_positions(x.shape[1]) == torch.arange(x.shape[1] - 4, x.shape[1])).all()


def test_sampling_is_pure_and_default_map_fraction():
    task = LabelMappingTask(K=2, p_default=0.3)
    a, b = task.sample(4000, gen(5)), task.sample(4000, gen(5))
    assert torch.equal(a.icl_tokens(), b.icl_tokens())
    assert abs(a.is_default.float().mean().item() - 0.3) < 0.03
    assert (a.cmap[a.is_default] == task.default_map(0)).all()


# ---- metrics ------------------------------------------------------------------------------------------------
def test_normalisation_artefact_matches_closed_form():
    for rho in (3.0, 8.0):
        icl, zs, ft = us.noise_updates(4000, 256, rho, gen(1))
        assert torch.allclose((icl - zs).norm(dim=-1) ** 2, rho * zs.norm(dim=-1) ** 2)
        assert (((icl - zs) * zs).sum(-1).abs() < 1e-8 * zs.norm(dim=-1) ** 2).all()
        assert abs(us.sim_aou_norm(icl, zs, ft).mean().item() - us.expected_sim_aou_norm(rho)) < 0.01
        assert abs(us.sim_aou(icl, zs, ft).mean().item()) < 0.01
    assert us.expected_sim_aou_norm(3.0) == pytest.approx(0.25)
    icl, zs, _ = us.noise_updates(4000, 256, 3.0, gen(2))
    assert abs(us.random_baseline(icl, zs, gen(3)).mean().item()) < 0.01


def test_metric_shapes_and_identities():
    m_zs, m_icl = torch.randn(5, 3, 4, 6), torch.randn(5, 3, 4, 6)
    assert us.sim_am(m_icl, m_icl).shape == (5, 3)
    assert torch.allclose(us.sim_am(m_icl, 2 * m_icl), torch.ones(5, 3))
    assert torch.allclose(us.sim_am_delta(m_icl, m_zs, m_icl), torch.ones(5, 3))
    assert torch.allclose(us.alpha(m_icl, m_zs, 2 * m_icl - m_zs), torch.ones(5, 3))
    assert us.layer_mean(torch.arange(6.0).view(2, 3)).tolist() == [1.5, 2.5, 3.5]
    zs = torch.tensor([0, 0, 1, 0], dtype=torch.bool)
    icl = torch.tensor([1, 0, 1, 1], dtype=torch.bool)
    ft = torch.tensor([1, 1, 1, 0], dtype=torch.bool)
    assert us.rec2ftp(zs, icl, ft) == 0.5  # FT ✓ ∧ ZS ✗ : items 0, 1; ICL ✓ on item 0
    assert math.isnan(us.rec2ftp(zs, icl, torch.zeros(4, dtype=torch.bool)))


# ---- fine-tuning --------------------------------------------------------------------------------------------
def tiny(E=1, n_layer=3):
    cfg = GPTConfig(n_layer=n_layer, n_embd=16, n_head=4, block_size=16, vocab_size=20, tie_embeddings=True,
                    n_models=E)
    return GPT(cfg, generator=gen(0))


def test_replicate_copies_member_zero():
    m = tiny()
    r = replicate(m, 3)
    x = torch.randint(20, (1, 2, 8), generator=gen(1))
    assert torch.allclose(r(x.expand(3, -1, -1)), m(x).expand(3, -1, -1, -1), atol=1e-6)


@pytest.mark.parametrize("mode", ["gd", "lcgd"])
def test_only_wk_wv_change(mode):
    m = replicate(tiny(), 2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    seqs = torch.randint(20, (2, 3, 7), generator=gen(2))
    norms = finetune_kv(m, seqs, torch.tensor([0.5, 1.0]), mode)
    assert norms.shape == (2, 3, 3) and (norms > 0).all()
    C = m.cfg.n_embd
    for k, v in m.state_dict().items():
        if k.endswith("attn.c_attn.weight"):
            assert torch.equal(v[..., :C], before[k][..., :C])  # W_Q untouched
            assert not torch.equal(v[..., C:2 * C], before[k][..., C:2 * C])  # W_K trained
            assert not torch.equal(v[..., 2 * C:], before[k][..., 2 * C:])  # W_V trained
        else:
            assert torch.equal(v, before[k]), k


def test_members_are_independent_and_match_single_model():
    seqs = torch.randint(20, (2, 3, 7), generator=gen(3))
    both = replicate(tiny(), 2)
    finetune_kv(both, seqs, 0.7, "lcgd")
    one = replicate(tiny(), 1)
    finetune_kv(one, seqs[1:], 0.7, "lcgd")
    for (k, a), b in zip(both.state_dict().items(), one.state_dict().values()):
        assert torch.allclose(a[1:], b, atol=1e-6), k


def test_lcgd_sends_no_gradient_to_lower_layers():
    m = tiny(n_layer=3)
    x = torch.randint(20, (1, 2, 8), generator=gen(4))
    losses = layer_causal_losses(m, x)[0]
    W = [b.attn.c_attn.weight for b in m.blocks]
    for l in range(3):
        grads = torch.autograd.grad(losses[l], W, allow_unused=True, retain_graph=True)
        for j, g in enumerate(grads):
            if j != l:
                assert g is None or torch.count_nonzero(g) == 0, (l, j)
            else:
                assert g is not None and torch.count_nonzero(g) > 0
    # the summed LCGD loss gives block l exactly the gradient of its own early exit
    total = torch.autograd.grad(losses.sum(), W, retain_graph=True)
    for l in range(3):
        own = torch.autograd.grad(losses[l], W[l], retain_graph=True)[0]
        assert torch.allclose(total[l], own)
    # while plain GD's final loss reaches every block
    gd = torch.autograd.grad(lm_loss(m(x), x).sum(), W)
    assert all(torch.count_nonzero(g) > 0 for g in gd)
    assert kv_mask(m)[:, :16].sum() == 0


def test_record_last_position_shapes():
    m = replicate(tiny(), 2)
    x = torch.randint(20, (2, 5, 9), generator=gen(5))
    rec = record_last_position(m, x, 4, torch.tensor([3, 4]))
    assert rec["h"].shape == (2, 5, 3, 16)
    assert rec["m"].shape == (2, 5, 3, 4, 4)
    assert rec["label_logits"].shape == (2, 5, 2)
    assert torch.isfinite(rec["m"]).all()


def test_compare_returns_every_metric():
    from iclbook.experiments.layer_causality import compare

    task = LabelMappingTask(n_classes=2, tokens_per_class=3, n_labels=2, n_x=2, K=3)
    cfg = GPTConfig(n_layer=2, n_embd=16, n_head=4, block_size=task.seq_len(), vocab_size=task.vocab_size,
                    tie_embeddings=True)
    m = GPT(cfg, generator=gen(0))
    ep = task.sample(10, gen(6))
    out = compare(m, ep, [0.1, 1.0], chunk=4)
    assert out["lr"] in (0.1, 1.0) and len(out["ft_acc_grid"]) == 2
    for k in ("sim_aou_gd", "sim_aou_norm_lc", "sim_am_gd", "sim_am_delta_lc", "alpha", "random_baseline"):
        assert out[k].shape == (10, 2) and torch.isfinite(out[k]).all(), k
    assert out["grad_norm_gd"].shape == (10, 3, 2)
    assert out["zs_ok"].dtype == torch.bool and out["zs_ok"].shape == (10,)
    # chunking does not change the fine-tuned result
    out2 = compare(m, ep, [out["lr"]], chunk=10)
    assert torch.allclose(out["sim_aou_gd"], out2["sim_aou_gd"], atol=1e-4)


def test_claims_4a_4b_fail_on_sign_changing_seeds_and_hold_on_consistent_ones():
    from iclbook.claims import above
    from iclbook.experiments.layer_causality import seed_t

    flipping = [0.12, -0.10, 0.15, -0.13, 0.08, -0.02]  # mean +0.017, s.e. ≈ 0.046
    assert not above(1.0)(seed_t(flipping)[2])
    assert above(1.0)(seed_t([0.10, 0.14, 0.07, 0.12, 0.11, 0.16])[2])
    assert math.isnan(seed_t([0.3])[2]) and not above(1.0)(seed_t([0.3])[2])  # one seed cannot decide


def test_claim_5a_holds_when_lcgd_exceeds_gd_below_the_top_and_fails_otherwise():
    from iclbook.claims import above
    from iclbook.experiments.layer_causality import lower_layers_lcgd_over_gd

    gd = np.array([[0.2, 0.5, 1.0], [0.3, 0.6, 1.0]])  # (seeds, L): the top layer is last
    assert above(1.0)(lower_layers_lcgd_over_gd(gd, gd * [[2.0, 1.5, 1.0]])[0])
    assert not above(1.0)(lower_layers_lcgd_over_gd(gd, gd * [[2.0, 0.9, 3.0]])[0])  # layer 2 below GD's
    assert not above(1.0)(lower_layers_lcgd_over_gd(gd[:, -1:], gd[:, -1:])[0])  # one layer: nothing to compare


def test_claim_2b_held_out_rate_removes_selection_gain():
    """Pure luck: each rate is right on a random half of the episodes. Choosing on the scored episodes finds a rate
    above chance by selection; the held-out choice stays at chance, so claim 2b (FT − ZS > 0.02) fails on it."""
    from iclbook.claims import above
    from iclbook.experiments.layer_causality import held_out_ft_ok

    gen = torch.Generator().manual_seed(0)
    grids = torch.rand(200, 40, 6, generator=gen) < 0.5  # 200 draws of (episodes, rates), independent of the rate
    in_sample = grids.float().mean(1).max(1).values.mean() - 0.5
    held_out = torch.stack([held_out_ft_ok(g).float().mean() for g in grids]).mean() - 0.5
    assert in_sample > 0.05 and not above(0.02)(float(held_out))
    good = torch.zeros(40, 6, dtype=torch.bool)
    good[:, 2] = True  # one rate that really helps: both protocols find it
    assert above(0.02)(float(held_out_ft_ok(good).float().mean() - 0.5))


def test_claim_3c_depth_trend_holds_on_a_rise_and_fails_on_noise_or_icl():
    from iclbook.experiments.layer_causality import depth_trend

    rising = np.array([[0.01, 0.02, 0.03], [0.05, 0.06, 0.04], [0.10, 0.09, 0.12]])  # (depths, seeds)
    t, gain = depth_trend(rising, np.zeros((3, 3)))
    assert t > 1 and gain < 0.1
    t, _ = depth_trend(np.array([[0.02, -0.03, 0.01], [0.01, 0.02, -0.02]]), np.zeros((2, 3)))
    assert not t > 1  # no rise beyond the seeds' scatter
    assert depth_trend(rising, np.full((3, 3), 0.3))[1] >= 0.1  # a random model that learns in context


def test_fan_in_init_keeps_each_layer_alive_at_small_width():
    cfg = GPTConfig(n_layer=2, n_embd=64, n_head=4, block_size=8, vocab_size=16)
    for scheme, lo, hi in (("gpt2", 0.1, 0.25), ("fan_in", 0.7, 1.3)):
        m = GPT(cfg)
        m.reset_parameters(torch.Generator().manual_seed(0), scheme=scheme)
        w = dict(m.named_parameters())["blocks.0.attn.c_attn.weight"][0]  # (n_in, n_out)
        gain = float(w.detach().std() * math.sqrt(w.shape[0]))
        assert lo < gain < hi, (scheme, gain)
    with pytest.raises(ValueError, match="allowed gpt2, fan_in"):
        GPT(cfg).reset_parameters(scheme="xavier")
