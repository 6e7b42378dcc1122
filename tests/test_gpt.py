import pytest
import torch

from iclbook import rng

from iclbook.models.gpt import GPT, GPTConfig
from iclbook.models.regression_tokens import get_format, interleave, pairs, predictions_interleaved, predictions_pairs

torch.set_num_threads(1)


def small(**kw):
    base = dict(n_layer=2, n_embd=16, n_head=2, block_size=12, d_in=5, d_out=1, n_models=3)
    base.update(kw)
    return GPTConfig(**base)


CONFIGS = {
    "continuous": small(),
    "tokens_rope_tied": small(d_in=None, d_out=None, vocab_size=11, pos="rope", bias=False, tie_embeddings=True,
                              activation="relu"),
    "tokens_none": small(d_in=None, d_out=7, vocab_size=11, pos="none"),
}


def inputs_for(cfg, E, B=4, T=10, seed=0):
    g = rng.generator("test", seed)
    if cfg.vocab_size is not None:
        return torch.randint(cfg.vocab_size, (E, B, T), generator=g)
    return torch.randn(E, B, T, cfg.d_in, generator=g)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shapes_and_internals_agree_with_fast_path(name):
    cfg = CONFIGS[name]
    m = GPT(cfg, generator=rng.generator("test", 0))
    x = inputs_for(cfg, 3)
    out = m(x)
    assert out.shape == (3, 4, 10, cfg.d_out)
    out2, internals = m(x, return_internals=True)
    assert torch.allclose(out, out2, atol=1e-5)
    assert len(internals["attn_out"]) == len(internals["attn_logits"]) == len(internals["resid"]) == 2
    assert internals["attn_out"][0].shape == (3, 4, 10, 16) and internals["resid"][1].shape == (3, 4, 10, 16)
    logits = internals["attn_logits"][1]
    assert logits.shape == (3, 4, 2, 10, 10)
    assert torch.isinf(logits[..., 0, 1:]).all() and torch.isfinite(logits[..., -1, :]).all()
    # blocks one at a time reproduce the forward (chapter 3's layer-causal fine-tuning needs this)
    h = m.embed(x)
    for blk in m.blocks:
        h = blk(h)
    assert torch.allclose(m.readout(m.ln_f(h)), out, atol=1e-6)
    assert torch.allclose(h, internals["resid"][-1], atol=1e-5)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_ensemble_member_equals_single_model(name):
    cfg = CONFIGS[name]
    ens = GPT(cfg, generator=rng.generator("test", 1))
    x = inputs_for(cfg, 3, seed=2)
    out = ens(x)
    for e in range(3):
        single = GPT(GPTConfig(**{**cfg.__dict__, "n_models": 1}))
        single.load_state_dict(ens.member_state_dict(e))
        assert torch.allclose(single(x[e:e + 1])[0], out[e], atol=1e-5)
    assert not torch.allclose(out[0], out[1])  # members are initialised independently


def test_ensemble_training_is_independent():
    cfg = small(n_models=2)
    ens = GPT(cfg, generator=rng.generator("test", 3))
    x = inputs_for(cfg, 2)
    target = torch.randn(2, 4, 10, 1)
    loss = ((ens(x) - target) ** 2).mean(dim=(1, 2, 3))
    loss[0].backward()
    assert all(p.grad[1].abs().max() == 0 for p in ens.parameters() if p.grad is not None)


def test_init_scales_and_load_member():
    cfg = small(n_layer=4, n_embd=64, n_head=4, n_models=2)
    m = GPT(cfg, generator=rng.generator("test", 0))
    assert abs(m.blocks[0].attn.c_attn.weight.std().item() - 0.02) < 2e-3
    assert abs(m.blocks[0].mlp.c_proj.weight.std().item() - 0.02 / 8 ** 0.5) < 1e-3
    assert torch.all(m.blocks[0].ln_1.weight == 1)
    m.load_member(1, m.member_state_dict(0))
    x = inputs_for(cfg, 2)
    out = m(x[[0, 0]])
    assert torch.allclose(out[0], out[1], atol=1e-6)
    assert m.num_params() == sum(p.numel() for p in m.parameters()) // 2


def test_rope_attention_depends_on_relative_position_only():
    cfg = small(n_layer=1, d_in=None, d_out=None, vocab_size=5, pos="rope", n_models=1)
    m = GPT(cfg, generator=rng.generator("test", 0))
    tok = torch.tensor([[[1, 2, 3, 4]]])
    _, a = m(tok, return_internals=True)
    _, b = m(torch.cat([torch.tensor([[[0, 0]]]), tok], -1), return_internals=True)
    # logits between the same two tokens at the same distance agree wherever they sit
    assert torch.allclose(a["attn_logits"][0][..., 3, 1], b["attn_logits"][0][..., 5, 3], atol=1e-5)


@pytest.mark.parametrize("kw, field", [
    (dict(n_head=3), "n_head"), (dict(activation="tanh"), "activation"), (dict(pos="sin"), "pos"),
    (dict(vocab_size=4), "d_in"), (dict(d_in=None), "d_in"), (dict(d_out=None), "d_out"),
    (dict(tie_embeddings=True), "tie_embeddings"), (dict(n_layer=0), "n_layer"),
])
def test_config_validation_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        small(**kw)


def test_wrong_ensemble_axis_and_too_long_sequence():
    m = GPT(small())
    with pytest.raises(ValueError, match="n_models"):
        m(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="block_size"):
        m(torch.randn(3, 1, 13, 5))


@pytest.mark.parametrize("fmt", ["interleaved", "pair"])
def test_token_formats_are_causal_for_labels(fmt):
    tokens, preds, width, length = get_format(fmt)
    D, K = 3, 5
    cfg = GPTConfig(n_layer=2, n_embd=16, n_head=2, block_size=length(K), d_in=width(D), d_out=1)
    m = GPT(cfg, generator=rng.generator("test", 0))
    g = rng.generator("test", 1)
    x, y = torch.randn(1, 4, K, D, generator=g), torch.randn(1, 4, K, generator=g)
    assert tokens(x, y).shape == (1, 4, length(K), width(D))
    base = preds(m(tokens(x, y)))
    assert base.shape == (1, 4, K)
    for k in range(K):
        y2 = y.clone()
        y2[..., k] += 10.0
        p = preds(m(tokens(x, y2)))
        assert torch.equal(p[..., : k + 1], base[..., : k + 1])  # y_k is invisible to predictions 1..k
        if k < K - 1:
            assert not torch.allclose(p[..., k + 1:], base[..., k + 1:])  # ... and seen by later ones


def test_token_layouts():
    x = torch.arange(6.0).reshape(2, 3) + 1  # K = 2 pairs, D = 3
    y = torch.tensor([10.0, 20.0])
    assert interleave(x, y).tolist() == [[0, 1, 2, 3], [10, 0, 0, 0], [0, 4, 5, 6], [20, 0, 0, 0]]
    assert pairs(x, y).tolist() == [[1, 2, 3, 0, 0, 0, 0], [4, 5, 6, 1, 2, 3, 10]]
    out = torch.arange(4.0)[:, None]
    assert predictions_interleaved(out).tolist() == [0, 2] and predictions_pairs(out[:2]).tolist() == [0, 1]
    with pytest.raises(ValueError, match="interleaved"):
        get_format("single")


def test_token_embedding_gradient_is_bitwise_reproducible_with_two_threads():
    """With 2 threads, wte[e, token] (index_put_ accumulation) gave a different wte gradient from call to call,
    which made chapter 3's pretraining differ from run to run; the embedding must sum in a fixed order."""
    cfg = small(d_in=None, d_out=None, vocab_size=39, n_embd=64, block_size=64, tie_embeddings=True, n_models=1)
    model = GPT(cfg, generator=rng.generator("test", 0))
    x = torch.randint(39, (1, 32, 60), generator=rng.generator("test", 1))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = []
        for _ in range(20):
            model.zero_grad()
            model(x).square().mean().backward()
            grads.append(model.wte.grad.clone())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(grads[0], g) for g in grads[1:])
