"""The multi-concept prompt model, the concept transformer and its probes (chapter 5)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iclbook import rng

from iclbook.analysis.concept_probes import (
    correct_attention, feature_products, fit_exponential_rate, log_eps_slope, steps_to_eps, suffix_max,
)
from iclbook.models.concept import ConceptModelConfig, ConceptTransformer
from iclbook.tasks.concepts import (
    ConceptTask, bayes_error, combo_mask, make_dictionary, sample, skewed_probs,
)

CPU = torch.device("cpu")


def gen(seed: int) -> torch.Generator:
    return rng.generator("test", seed, device=CPU)


@pytest.fixture(scope="module")
def setup():
    task = ConceptTask(d=64, K=8, L=8, S=2, sigma_xi=0.0)
    return task, make_dictionary(task, gen(0))


def sign_on(x: torch.Tensor, dirs: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Sign of the component of x (..., d) along dirs[k] (k broadcast over x's leading dims)."""
    return torch.sign((x * dirs[k]).sum(-1))


def test_dictionary_orthogonal(setup):
    task, dic = setup
    D = dic.all_directions()
    G = D @ D.T
    norms2 = torch.cat([torch.full((task.K,), task.u_norm**2), torch.full((task.K,), task.v_norm**2)] * 2)
    assert torch.allclose(G, torch.diag(norms2), atol=1e-5)
    # two features of one concept overlap positively; features of different concepts are orthogonal
    k = torch.arange(task.K)
    ap, am = dic.word(k, torch.ones(task.K)), dic.word(k, -torch.ones(task.K))
    assert torch.allclose((ap * am).sum(-1), torch.full((task.K,), task.u_norm**2 - task.v_norm**2), atol=1e-5)
    assert abs(float(ap[0] @ ap[1])) < 1e-5


def test_shapes_and_determinism(setup):
    task, dic = setup
    b1, b2 = sample(task, dic, 32, gen(5)), sample(task, dic, 32, gen(5))
    assert b1.demos.shape == (32, task.L, task.d) and b1.query.shape == (32, task.d)
    assert b1.y.shape == b1.task.shape == b1.polarity.shape == (32,)
    assert b1.informative.shape == b1.demo_labels.shape == (32, task.L) and b1.informative.dtype == torch.bool
    for f in ("demos", "query", "y", "informative", "task", "polarity"):
        assert torch.equal(getattr(b1, f), getattr(b2, f))
    assert not torch.equal(b1.demos, sample(task, dic, 32, gen(6)).demos)


def test_label_rule(setup):
    """Query target = p·σ_{k*}(x_q); each demo carries b_{k*}^{p·σ_{k*}(x_l)}; informative = same σ_{k*} as the query."""
    task, dic = setup
    b = sample(task, dic, 256, gen(1))
    kq = b.task
    sig_q = sign_on(b.query, dic.v, kq)
    assert torch.equal(b.y, b.polarity * sig_q) and torch.equal(b.y, b.y_clean)
    kl = kq[:, None].expand_as(b.informative)
    sig_l = sign_on(b.demos, dic.v, kl)
    assert torch.equal(b.demo_labels, b.polarity[:, None] * sig_l)
    assert torch.equal(sign_on(b.demos, dic.vb, kl), b.demo_labels)  # the label feature written in
    assert torch.equal(b.informative, sig_l == sig_q[:, None])
    # balanced demos: half of each task-concept sign
    assert torch.equal(sig_l.sum(1), torch.zeros(256))
    # the task concept is active in every word
    assert bool(((b.query * dic.u[kq]).sum(-1) > 0.5).all())


def test_label_flips_at_rate_eta_and_oracle_reaches_bayes(setup):
    _, dic = setup
    eta, n = 0.1, 40_000
    task = ConceptTask(d=64, K=8, L=8, S=2, sigma_xi=0.02, eta=eta)
    b = sample(task, dic, n, gen(2))
    flip_rate = float((b.y != b.y_clean).float().mean())
    mc = 4 * math.sqrt(eta * (1 - eta) / n)
    assert abs(flip_rate - eta) < mc
    assert torch.equal(b.demo_labels.abs(), torch.ones_like(b.demo_labels))
    # the oracle knows the rule: read k* off the labels, p off one demo, then predict p·σ_{k*}(x_q)
    k_hat = (b.demos[:, 0] @ dic.vb.T).abs().argmax(-1)
    assert torch.equal(k_hat, b.task)
    p_hat = b.demo_labels[:, 0] * sign_on(b.demos[:, 0], dic.v, k_hat)
    pred = p_hat * sign_on(b.query, dic.v, k_hat)
    oracle_err = float((pred != b.y).float().mean())
    assert abs(oracle_err - bayes_error(8, eta)) < mc
    assert bayes_error(8, eta) == eta
    assert eta < bayes_error(4, eta, noisy_demos=True) < 0.2


def test_ood_variants(setup):
    task, dic = setup
    # prompt length
    assert sample(task, dic, 8, gen(3), L=16).demos.shape == (8, 16, task.d)
    # skewed concept distribution
    probs = skewed_probs(task.K, 0.5)
    b = sample(task, dic, 4000, gen(3), concept_probs=probs)
    freq = torch.bincount(b.task, minlength=task.K).float() / 4000
    assert abs(float(freq[0]) - float(probs[0])) < 0.03 and float(freq[-1]) < 0.02
    # unseen combinations: co-concepts of the task concept come from disjoint pair sets
    train, test = combo_mask(task.K, "train"), combo_mask(task.K, "test")
    assert not bool((train & test).any()) and bool(test.any(1).all())
    for split, mask in (("train", train), ("test", test)):
        b = sample(task, dic, 500, gen(4), combos=split)
        active = (b.query @ dic.u.T) > 0.5  # (B, K)
        active[torch.arange(500), b.task] = False
        assert bool(mask[b.task][active].all())
    # switched word features: a_k^± -> a_k^∓, so the query's feature sign is minus its latent sign
    b = sample(task, dic, 256, gen(7), switch="words")
    assert torch.equal(b.y, -b.polarity * sign_on(b.query, dic.v, b.task))
    # switched label features: concept k*'s labels written with concept (k*+1)'s label features
    b = sample(task, dic, 256, gen(7), switch="labels")
    k_lab = (b.demos[:, 0] @ dic.vb.T).abs().argmax(-1)
    assert torch.equal(k_lab, (b.task + 1) % task.K)
    with pytest.raises(ValueError):
        sample(task, dic, 4, gen(7), switch="nonsense")


def test_config_checks():
    with pytest.raises(ValueError):
        ConceptTask(d=16, K=8)
    with pytest.raises(KeyError):
        ConceptTask.from_dict({"d": 64, "KK": 3})
    with pytest.raises(ValueError):
        ConceptModelConfig(attention="cosine")


@pytest.mark.parametrize("attention", ["softmax", "linear", "none"])
def test_model_forward_shapes(setup, attention):
    task, dic = setup
    model = ConceptTransformer(ConceptModelConfig(d=task.d, m=16, attention=attention), gen=gen(0))
    b = sample(task, dic, 10, gen(8))
    f = model(b.demos, b.query)
    assert f.shape == (10,)
    o, alpha = model.attend(b.demos, b.query)
    assert o.shape == (10, task.d)
    if attention == "none":
        assert alpha is None
    else:
        assert alpha.shape == (10, task.L)
        if attention == "softmax":
            assert torch.allclose(alpha.sum(-1), torch.ones(10))


def test_no_context_control_ignores_demonstrations(setup):
    task, dic = setup
    model = ConceptTransformer(ConceptModelConfig(d=task.d, m=16, attention="none", w_init=0.3), gen=gen(0))
    b = sample(task, dic, 10, gen(9))
    f1 = model(b.demos, b.query)
    f2 = model(torch.randn(10, 5, task.d, generator=gen(1)), b.query)
    assert torch.equal(f1, f2) and bool(f1.abs().max() > 0)
    soft = ConceptTransformer(ConceptModelConfig(d=task.d, m=16, kq_init=1.0, w_init=0.3), gen=gen(0))
    assert not torch.allclose(soft(b.demos, b.query), soft(b.demos.flip(0), b.query))


def test_probes():
    alpha = torch.tensor([[0.7, 0.1, 0.2], [0.25, 0.25, 0.5]])
    inf = torch.tensor([[True, False, True], [False, False, True]])
    assert correct_attention(alpha, inf) == pytest.approx((0.9 + 0.5) / 2)
    t = np.arange(0, 200, 10.0)
    err = np.minimum(0.45, 0.3 * np.exp(-0.05 * (t - 40)))
    fit = fit_exponential_rate(t, err, start=0.3, resolution=1e-4)
    assert fit["rate"] == pytest.approx(0.05, rel=1e-6) and fit["r2"] > 0.999
    eps = np.array([0.1, 0.01, 0.001])
    n = np.array([steps_to_eps(t, err, e) for e in eps])
    assert np.all(np.diff(n) > 0)
    assert log_eps_slope(eps, n)["slope"] == pytest.approx(20.0, rel=0.2)
    bounce = np.array([0.5, 0.05, 0.2, 0.04, 0.03])
    assert steps_to_eps(np.arange(5), bounce, 0.1) == 3 and steps_to_eps(np.arange(5), bounce, 0.1, hold=False) == 1
    assert np.array_equal(suffix_max(bounce), [0.5, 0.2, 0.2, 0.04, 0.03])
    # an exponential bound touched every 4th evaluation, with dips below it in between: the envelope fit finds its rate
    t = np.arange(0, 400, 5.0)
    dips = np.where(np.arange(len(t)) % 4 == 0, 1.0, 0.2)
    jagged = np.minimum(0.45, 0.3 * np.exp(-0.03 * (t - 40))) * dips
    env = fit_exponential_rate(t, jagged, start=0.3, resolution=1e-4, envelope=True)
    assert env["r2"] > 0.95 and env["rate"] == pytest.approx(0.03, rel=0.15)
    assert fit_exponential_rate(t, jagged, start=0.3, resolution=1e-4)["r2"] < env["r2"]


def test_feature_products_at_init(setup):
    task, dic = setup
    model = ConceptTransformer(ConceptModelConfig(d=task.d, m=16), gen=gen(0))
    pr = feature_products(model, dic, 0.02, gen(1))
    assert pr["attn_specific"] == pytest.approx(0.0, abs=1e-6)  # the identity init is not counted as learned
    assert set(pr) == {"attn_specific", "attn_complement", "attn_noise", "mlp_specific", "mlp_complement", "mlp_noise"}


def test_concept_loss_values_and_gradient_ratio_at_zero():
    from iclbook.models.concept import concept_loss

    f, y = torch.tensor([0.0, 2.0]), torch.tensor([1.0, -1.0])
    assert float(concept_loss(f, y)) == pytest.approx((math.log(2) + math.log1p(math.exp(2))) / 2)
    assert float(concept_loss(f, y, "mse")) == pytest.approx((1 + 9) / 2)
    # at f = 0 the squared loss's derivative (2) is four times the logistic loss's (1/2)
    z = torch.zeros(3, requires_grad=True)
    yy = torch.tensor([1.0, -1.0, 1.0])
    g_log = torch.autograd.grad(concept_loss(z, yy), z)[0]
    g_mse = torch.autograd.grad(concept_loss(z, yy, "mse"), z)[0]
    assert torch.allclose(g_mse, 4 * g_log)
    with pytest.raises(ValueError):
        concept_loss(f, y, "hinge")


def test_batch_cat_and_evaluate_prompts(setup):
    from iclbook.analysis.concept_probes import evaluate_prompts
    from iclbook.tasks.concepts import ConceptBatch

    task, dic = setup
    b1, b2 = sample(task, dic, 7, gen(1)), sample(task, dic, 5, gen(2))
    b = ConceptBatch.cat([b1, b2])
    assert b.demos.shape == (12, task.L, task.d) and torch.equal(b.y[7:], b2.y)
    model = ConceptTransformer(ConceptModelConfig(d=task.d, m=16, attention="softmax"), gen=gen(0))
    out = evaluate_prompts(model, b)
    f = model(b.demos, b.query)
    assert out["err"] == pytest.approx(float((torch.where(f > 0, 1.0, -1.0) != b.y).float().mean()))
    assert set(out) == {"err", "err_clean", "loss", "correct_attn"}
    ctrl = ConceptTransformer(ConceptModelConfig(d=task.d, m=16, attention="none"), gen=gen(0))
    assert "correct_attn" not in evaluate_prompts(ctrl, b)


def test_train_concept_learns_is_deterministic_and_reuses_the_store():
    from iclbook.experiments.multi_concept import train_concept
    from iclbook.store import Store

    task = ConceptTask(d=32, K=4, L=6, S=2, sigma_xi=0.02, eta=0.0)
    dic = make_dictionary(task, gen(0))
    cfg = ConceptModelConfig(d=32, m=8)
    test = sample(task, dic, 512, gen(10**9))
    calls = []

    def ev(m, step):
        calls.append(step)
        return {"err": float((torch.sign(m(test.demos, test.query)) != test.y).float().mean())}

    kw = dict(steps=400, lr=1.0, batch=64, seed=3, evaluate=ev, checkpoints=[0, 200, 400])
    run = Store().run("test-concept", {"x": 1})
    m1, r1 = train_concept(task, dic, cfg, run=run, **kw)
    errs = r1.eval_series("err")[1]
    assert calls == [0, 200, 400] and errs[0] > 0.3 and errs[-1] < 0.05  # from chance to nearly solved
    m2, r2 = train_concept(task, dic, cfg, **kw)  # same seed, no store: the same run
    assert torch.equal(m1.W_KQ, m2.W_KQ) and np.array_equal(r1.losses, r2.losses)
    m3, r3 = train_concept(task, dic, cfg, run=run, **kw)  # from the store: no training, same weights
    assert r3.from_store and torch.equal(m3.W, m1.W)


def test_chapter_params_reject_impossible_sparsity():
    from iclbook.chapters import get
    from iclbook.profiles import ParameterError

    spec = get("05").params
    for prof in ("ci", "cpu", "gpu"):
        spec.resolve(prof)
    with pytest.raises(ParameterError, match="held-out partners"):
        spec.resolve("ci", {"S": 4, "K": 8})  # K = 8: some concept has only 2 held-out partners
    with pytest.raises(ParameterError, match="d >= 4K"):
        spec.resolve("ci", {"d": 16})


def test_chapter_params_follow_K_and_S():
    """A larger K keeps prompts and steps per concept (and d >= 4K); a larger |S| raises K ∝ |S| - 1."""
    from iclbook.chapters import get

    spec = get("05").params
    ci = spec.resolve("ci")
    k16 = spec.resolve("ci", {"K": 16})
    assert (k16.batch, k16.steps, k16.variant_steps, k16.dense_until, k16.d) == (
        2 * ci.batch, 2 * ci.steps, 2 * ci.variant_steps, 2 * ci.dense_until, ci.d)
    assert spec.resolve("ci", {"K": 32}).d == 128 and spec.resolve("ci", {"K": 4}).steps == ci.steps
    s3 = spec.resolve("ci", {"S": 3})
    assert (s3.K, s3.batch, s3.steps) == (16, k16.batch, k16.steps) and "K" in s3.derived
    explicit = spec.resolve("ci", {"S": 3, "K": 8, "steps": 500})
    assert (explicit.K, explicit.steps, explicit.batch) == (8, 500, ci.batch)  # explicit values win
    assert spec.resolve("cpu").as_dict() == spec.resolve("cpu", {"K": 16, "S": 3}).as_dict()
