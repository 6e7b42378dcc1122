"""Chapter 5's data-model family: each variant differs from the chapter's model as it says, the chapter's variant
takes the chapter's code path, and a member returns every value the study keeps (tiny sizes)."""

import pytest
import torch

from iclbook import rng
from iclbook.analysis.concept_probes import feature_products
from iclbook.experiments import multi_concept_family as F
from iclbook.experiments.multi_concept import ConceptExperiment
from iclbook.models.concept import ConceptModelConfig, ConceptTransformer
from iclbook.store import Store
from iclbook.tasks.concepts import ConceptTask, make_dictionary, sample

TINY = dict(steps=20, variant_steps=10, n_test=256, batch=16, dense_until=5, eval_every=5, L_test=[2, 16])


def gen(seed: int = 0) -> torch.Generator:
    return rng.generator("tasks", seed, device="cpu")


def test_random_dictionary_is_not_orthogonal_but_keeps_the_norms():
    task = ConceptTask(d=64, K=8)
    off = ~torch.eye(32, dtype=torch.bool)
    D = F.random_dictionary(task, gen()).all_directions()
    G = D @ D.T
    assert G[off].abs().max() > 0.2  # 32 random unit directions in d = 64: |cos| ~ 1/8, the largest far above
    assert torch.allclose(D.norm(dim=1), torch.tensor([1.0] * 8 + [0.8] * 8 + [1.0] * 8 + [0.8] * 8))
    D0 = make_dictionary(task, gen()).all_directions()
    assert (D0 @ D0.T)[off].abs().max() < 1e-5  # the chapter's: exactly orthogonal


@pytest.mark.parametrize("switch", [None, "labels"])
def test_fixed_polarity_writes_the_same_prompts_with_p_plus_one(switch):
    task = ConceptTask(d=64, K=8, L=8, eta=0.2)
    dic = make_dictionary(task, gen())
    b0 = sample(task, dic, 512, rng.generator("batch", 0, 0, device="cpu"), switch=switch)
    b = F.sample_fixed_polarity(task, dic, 512, rng.generator("batch", 0, 0, device="cpu"), switch=switch)
    assert (b0.polarity == -1).any() and (b.polarity == 1).all()
    same = b0.polarity == 1
    assert torch.equal(b.demos[same], b0.demos[same]) and torch.equal(b.query, b0.query)
    assert not torch.allclose(b.demos[~same], b0.demos[~same])
    # with p = +1 a demonstration's label is its own task-concept sign: the query's clean target where it shares
    # the query's sign, its negative where not
    assert torch.equal(b.demo_labels, torch.where(b.informative, b.y_clean[:, None], -b.y_clean[:, None]))
    label_k = (b.task + 1) % task.K if switch == "labels" else b.task
    written = torch.einsum("bld,bd->bl", b.demos, dic.vb[label_k]) / 0.64  # |vb|² = 0.64; the word noise is small
    assert torch.equal(torch.sign(written), b.demo_labels)
    assert torch.equal(b.y * b.y_clean, b0.y * b0.y_clean)  # the same query flips


def test_random_kq_init_has_no_preferred_direction_and_probes_read_the_learned_change():
    cfg = ConceptModelConfig(d=64, m=32, kq_init=0.0)
    m = F.RandomKQTransformer(cfg, gen=rng.generator("init", 0, device="cpu"), kq_scale=0.3)
    base = ConceptTransformer(cfg, gen=rng.generator("init", 0, device="cpu"))
    assert torch.equal(m.W, base.W)  # the MLP's init is the chapter's
    W0 = m.W_KQ.detach()
    assert W0[~torch.eye(64, dtype=torch.bool)].abs().max() > 0.05
    assert abs(float(W0.norm()) - 0.3 * 8) < 0.3  # Frobenius norm of 0.3·I in d = 64
    dic = make_dictionary(ConceptTask(d=64, K=8), gen())
    at_init = feature_products(F._LearnedChange(m), dic, 0.02, gen(1))
    assert at_init["attn_specific"] == at_init["attn_complement"] == at_init["attn_noise"] == 0.0
    assert feature_products(m, dic, 0.02, gen(1))["attn_complement"] > 0.01  # what the view removes


def test_parameter_variants_change_what_they_say(tmp_path):
    X0, P = F.experiment("chapter", "ci", 0, tmp_path, "cpu")
    assert F.experiment("kq-zero", "ci", 0, tmp_path, "cpu")[0].model_cfg().kq_init == 0.0 < X0.model_cfg().kq_init
    assert F.experiment("noisy", "ci", 0, tmp_path, "cpu")[0].task().sigma_xi == 0.1 > X0.task().sigma_xi
    assert X0.setting == ConceptExperiment.from_params(P, Store(tmp_path), "cpu").setting


def test_chapter_variant_shares_the_chapters_runs_and_hooked_variants_do_not(tmp_path):
    X0, P = F.experiment("chapter", "ci", 0, tmp_path, "cpu", **TINY)
    base = ConceptExperiment(X0.setting, str(tmp_path), "cpu")
    _, res, _, _ = base.run(5)
    assert X0.run(5)[1].from_store  # the same store key: the chapter's own run
    args = (5, X0.task(), X0.model_cfg(), 20, 1.0, 16, "logistic", True)
    keys = {name: F.experiment(name, "ci", 0, tmp_path, "cpu", **TINY)[0]._config(*args).get("family")
            for name in F.VARIANTS}
    assert keys == {**{n: None for n in F.VARIANTS if not F.VARIANTS[n].hooked},
                    **{n: n for n in F.VARIANTS if F.VARIANTS[n].hooked}}


@pytest.mark.parametrize("variant", list(F.VARIANTS))
def test_member_returns_every_kept_value(variant):
    out = F.family_member({"variant": variant}, 0, "ci", **TINY)
    assert set(out) == set(F.KEEP)
    for c in F.CLAIMS:
        assert isinstance(out[f"{c}_holds"], bool)
        assert out[f"{c}_value"] is None or isinstance(out[f"{c}_value"], float)


def test_study_declaration():
    from iclbook.experiments.multi_concept_studies import STUDIES

    s = STUDIES["data-model-family"]
    assert s.name == "data-model-family" and s.chapter == "05" and s.members == 3 and s.first_seed == 0
    assert s.points[0] == {"variant": "chapter"} and len(s.points) >= 5 and s.success in s.keep
    module, fn = s.member.split(":")
    assert module == F.__name__ and getattr(F, fn) is F.family_member
