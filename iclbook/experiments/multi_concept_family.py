"""Chapter 5 over a family of data models: the ledger of Bu et al. 2024 (arXiv 2411.02199) read on variants.

The chapter checks every claim on one prompt model we designed (an exactly orthogonal dictionary, a per-prompt
label polarity, W_KQ started at a positive multiple of the identity, little word noise). Each variant below changes
one of those choices, by composing the chapter's own classes and functions, so that a study (`multi_concept_studies`) can say
which claims depend on which choice. `family_member` is one member of that study: one chapter-5 run of a variant at
a profile's parameters, read with the chapter's own claim functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from .. import paths, rng, runtime
from ..analysis.concept_probes import evaluate_prompts, feature_products, mlp_summary
from ..chapters import get as get_chapter
from ..models.concept import ConceptModelConfig, ConceptTransformer
from ..tasks.concepts import (ConceptBatch, ConceptDictionary, ConceptTask, bayes_error, make_dictionary, sample,
                              skewed_probs)
from . import multi_concept_claims as C
from .multi_concept import EPS, ConceptExperiment, efficiency, summarise, train_concept

CLAIMS = ("1a", "1b", "2", "3a", "3b", "4a", "4b", "5")  # chapter 5's ledger, in its order


# --- the variants' three hooks: the dictionary, the prompt sampler, the model's initialisation -------------------

def random_dictionary(task: ConceptTask, gen: torch.Generator) -> ConceptDictionary:
    """4K independent random unit directions, scaled like `make_dictionary`'s: nearly orthogonal (|cos| ~ 1/√d)."""
    g = torch.randn(4 * task.K, task.d, generator=gen, device=gen.device)
    rows = g / g.norm(dim=1, keepdim=True)
    K = task.K
    return ConceptDictionary(u=task.u_norm * rows[:K], v=task.v_norm * rows[K:2 * K],
                             ub=task.u_norm * rows[2 * K:3 * K], vb=task.v_norm * rows[3 * K:])


def sample_fixed_polarity(task: ConceptTask, dic: ConceptDictionary, B: int, gen: torch.Generator,
                          **kw: Any) -> ConceptBatch:
    """`sample`'s prompts (same random stream) with the polarity p set to +1: b_k^+ always means "+1".

    A demonstration's label part is ub + p·y·vb; for p = -1 prompts it becomes ub - p·y·vb, and the targets flip."""
    b = sample(task, dic, B, gen, **kw)
    p = b.polarity
    label_k = (b.task + 1) % task.K if kw.get("switch") == "labels" else b.task
    shift = ((p - 1)[:, None] * b.demo_labels)[..., None] * dic.vb[label_k][:, None, :]
    return replace(b, demos=b.demos + shift, y=p * b.y, y_clean=p * b.y_clean, demo_labels=p[:, None] * b.demo_labels,
                   polarity=torch.ones_like(p))


class RandomKQTransformer(ConceptTransformer):
    """The chapter's model with W_KQ(0) = kq_init·I + A, A_ij ~ N(0, kq_scale²/d): no preferred direction when
    kq_init = 0 (A has the Frobenius norm of kq_scale·I). W_KQ(0) is kept so that the probes read ΔW_KQ."""

    def __init__(self, cfg: ConceptModelConfig, gen: torch.Generator | None = None, kq_scale: float = 0.3) -> None:
        super().__init__(cfg, gen=gen)  # the MLP's init draws first, as in the chapter's model
        dev = gen.device if gen is not None else None
        with torch.no_grad():
            self.W_KQ.add_(kq_scale / math.sqrt(cfg.d) * torch.randn(cfg.d, cfg.d, generator=gen, device=dev))
        self.register_buffer("W_KQ0", self.W_KQ.detach().clone())


class _LearnedChange:
    """A view of a model whose W_KQ is the learned change W_KQ - W_KQ(0), for `feature_products`/`mlp_summary`."""

    def __init__(self, model: RandomKQTransformer) -> None:
        self.cfg = replace(model.cfg, kq_init=0.0)
        self.W_KQ, self.W, self.a = model.W_KQ - model.W_KQ0, model.W, model.a


# --- the variants ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """One data model of the family: the chapter's parameters with ``setting`` on top, and optional hooks."""

    name: str
    reason: str  # one line: what this variant tests
    setting: dict[str, Any] = field(default_factory=dict)  # overrides of the chapter's parameters (task, model)
    dictionary: Callable[[ConceptTask, torch.Generator], ConceptDictionary] | None = None  # None: make_dictionary
    sampler: Callable[..., ConceptBatch] | None = None  # None: the chapter's `sample`
    kq_scale: float | None = None  # W_KQ(0) gets a random part of this scale (RandomKQTransformer)

    @property
    def hooked(self) -> bool:
        """Does it change the code path (not only parameters)? Its runs then carry its name in their store key."""
        return self.dictionary is not None or self.sampler is not None or self.kq_scale is not None


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("chapter", "the chapter's own data model, exactly as its ledger runs it"),
    Variant("random-dictionary", "directions drawn at random, nearly orthogonal as in the paper's model, not exactly "
            "orthogonal", dictionary=random_dictionary),
    Variant("no-polarity", "one fixed label polarity: the query's own features could decide its label, if the model "
            "knew which of its concepts is the task's", sampler=sample_fixed_polarity),
    Variant("kq-zero", "W_KQ starts at 0: nothing but the MLP's random init breaks the copy / anti-copy symmetry",
            setting={"kq_init": 0.0}),
    Variant("kq-random", "W_KQ starts at a random matrix (Frobenius norm of the chapter's 0.3·I) with no preferred "
            "direction", setting={"kq_init": 0.0}, kq_scale=0.3),
    Variant("noisy", "five times the word noise: σ_ξ = 0.1, so |ξ| ≈ |v_k| (the paper assumes low noise)",
            setting={"sigma_xi": 0.1}),
)}


@dataclass(frozen=True)
class FamilyExperiment(ConceptExperiment):
    """The chapter's experiment on a variant's data model. The chapter's variant takes the chapter's code path
    unchanged (same store entries); a hooked variant goes through the overrides below, which differ from
    `ConceptExperiment`'s only in calling the variant's dictionary, sampler and model."""

    variant: Variant = VARIANTS["chapter"]

    def sample(self, task: ConceptTask, dic: ConceptDictionary, B: int, gen: torch.Generator, **kw) -> ConceptBatch:
        return (self.variant.sampler or sample)(task, dic, B, gen, **kw)

    def run(self, seed: int, task: ConceptTask | None = None, loss: str = "logistic", lr: float | None = None,
            probes: bool = True, tag: str = "main", n_steps: int | None = None, batch: int | None = None,
            **model_over):
        if not self.variant.hooked:
            return super().run(seed, task, loss, lr, probes, tag, n_steps, batch, **model_over)
        # as ConceptExperiment.run, with the variant's dictionary and trained by `_train`
        n_steps = n_steps or (self.steps if tag == "main" else self.variant_steps)
        task = task or self.task()
        lr = self.lr if lr is None else lr
        batch = self.batch if batch is None else batch
        cfg = self.model_cfg(**model_over)
        dic = (self.variant.dictionary or make_dictionary)(task, rng.generator("tasks", seed, device=self.dev))
        config = self._config(seed, task, cfg, n_steps, lr, batch, loss, probes)
        model, res = self._train(task, dic, cfg, n_steps, lr, batch, seed, loss,
                                 self.make_evaluate(seed, task, dic, loss, batch, probes),
                                 self.store().run("ch05-concept", config), f"{self.variant.name} {tag} seed {seed}")
        return model, res, dic, task

    def _train(self, task, dic, cfg, n_steps, lr, batch, seed, loss, evaluate, run, desc):
        """`train_concept` with the variant's model and sampler (``train_concept`` itself when it has neither)."""
        if self.variant.sampler is None and self.variant.kq_scale is None:
            return train_concept(task, dic, cfg, steps=n_steps, lr=lr, batch=batch, seed=seed, loss=loss,
                                 evaluate=evaluate, checkpoints=self.checkpoints(n_steps), run=run, device=self.dev,
                                 desc=desc)
        from ..models.concept import concept_loss
        from ..train import OptimConfig, train

        dev = self.dev
        gen = rng.generator("init", seed, device=dev)
        model = (ConceptTransformer(cfg, gen=gen) if self.variant.kq_scale is None
                 else RandomKQTransformer(cfg, gen=gen, kq_scale=self.variant.kq_scale))

        def loss_fn(m, step: int) -> torch.Tensor:
            b = self.sample(task, dic, batch, rng.generator("batch", seed, step, device=dev), combos="train")
            return concept_loss(m(b.demos, b.query), b.y, loss)

        res = train(model, loss_fn, n_steps, OptimConfig("sgd", lr=lr, schedule="constant"), run=run,
                    checkpoints=self.checkpoints(n_steps), evaluate=evaluate, desc=desc)
        return model, res

    def _config(self, seed, task, cfg, n_steps, lr, batch, loss, probes) -> dict:
        config = super()._config(seed, task, cfg, n_steps, lr, batch, loss, probes)
        return {**config, "family": self.variant.name} if self.variant.hooked else config

    def eval_sets(self, seed: int, task: ConceptTask, dic, batch: int) -> tuple[ConceptBatch, ConceptBatch]:
        if self.variant.sampler is None:
            return super().eval_sets(seed, task, dic, batch)
        dev = self.dev  # as ConceptExperiment.eval_sets, with the variant's sampler
        test = self.sample(task, dic, self.n_test, rng.generator("eval", seed, 1, device=dev), combos="train")
        n_b = max(1, min(self.n_test // 4, 1024) // batch)
        train_set = ConceptBatch.cat([self.sample(task, dic, batch, rng.generator("batch", seed, t, device=dev),
                                                  combos="train") for t in range(n_b)])
        return test, train_set

    def make_evaluate(self, seed: int, task: ConceptTask, dic, loss: str, batch: int, probes: bool = True):
        if self.variant.kq_scale is None:
            return super().make_evaluate(seed, task, dic, loss, batch, probes)
        test, train_set = self.eval_sets(seed, task, dic, batch)

        def evaluate(model, step):  # as ConceptExperiment.make_evaluate, the probes on ΔW_KQ = W_KQ - W_KQ(0)
            out = {f"test_{k}": v for k, v in evaluate_prompts(model, test, loss).items()}
            out.update({f"train_{k}": v for k, v in evaluate_prompts(model, train_set, loss).items()})
            if probes:
                view = _LearnedChange(model)
                out.update(feature_products(view, dic, task.sigma_xi, rng.generator("eval", seed, 7, device=self.dev)))
                out.update(mlp_summary(view, dic))
            return out

        return evaluate

    def ood_results(self, main: dict, control: tuple, linear: tuple, L_test: list[int], seed: int) -> tuple[dict, dict]:
        if self.variant.sampler is None:
            return super().ood_results(main, control, linear, L_test, seed)
        task, dev = self.task(), self.dev  # as ConceptExperiment.ood_results, with the variant's sampler
        ood_sets = [(f"L = {Lq}", dict(L=Lq)) for Lq in L_test] + [
            ("skewed concepts", dict(concept_probs=skewed_probs(self.K, 0.5, device=dev))),
            ("switched words", dict(switch="words")),
            ("switched labels", dict(switch="labels")),
            ("unseen combinations", dict(combos="test")),
        ]

        def on(model, dic, kw: dict, i: int) -> dict:
            return evaluate_prompts(model, self.sample(task, dic, self.n_test,
                                                       rng.generator("eval", seed, 100 + i, device=dev), **kw))

        (ctrl, ctrl_dic), (lin, lin_dic), s0 = control, linear, next(iter(main))
        ood = {name: {"model": [on(m[0], m[2], kw, i) for m in main.values()], "control": on(ctrl, ctrl_dic, kw, i),
                      "linear": on(lin, lin_dic, kw, i)} for i, (name, kw) in enumerate(ood_sets)}
        in_dist = {"model": [evaluate_prompts(m[0], self.eval_sets(s, task, m[2], self.batch)[0])
                             for s, m in main.items()],
                   "control": evaluate_prompts(ctrl, self.eval_sets(s0, task, ctrl_dic, self.batch)[0]),
                   "linear": evaluate_prompts(lin, self.eval_sets(s0, task, lin_dic, self.batch)[0])}
        return in_dist, ood


def experiment(variant: str, profile: str, seed: int, store_root: str | None = None, device: str | None = None,
               **overrides: Any) -> tuple[FamilyExperiment, Any]:
    """The variant's experiment and the chapter's resolved parameters (profile, then ``overrides``, then seed)."""
    v = VARIANTS[variant]
    P = get_chapter("05").params.resolve(profile, {**overrides, "seed": seed})
    setting = {**{k: getattr(P, k) for k in FamilyExperiment.FIELDS}, **v.setting}
    dev = str(device or runtime.device())
    return FamilyExperiment(setting, str(store_root or paths.store_root()), dev, v), P


def _plain(x: float) -> float | None:
    """A JSON-safe value: non-finite (a ratio over a zero product, an undefined rate) becomes None."""
    return float(x) if x is not None and math.isfinite(x) else None


def family_member(point: dict, seed: int, profile: str, **overrides: Any) -> dict[str, float | bool | None]:
    """One member of the data-model-family study: chapter 5's ledger at ``seed`` on ``point["variant"]``.

    Trains (or reads from the run store) what the chapter's ledger reads: the main runs of the chapter's member seeds
    and the no-context control; then computes every claim as the chapter does (its claim cells, repeated here).
    Returns, per claim c, ``{c}_value`` (None where not finite) and ``{c}_holds``. ``overrides`` (parameters of the
    chapter) are for tests at tiny sizes.
    """
    X, P = experiment(point["variant"], profile, seed, **overrides)
    runtime.fast_matmul(X.dev)
    seeds = rng.member_seeds(P.seed, P.seeds)
    main = {s: X.run(s) for s in seeds}
    s0 = seeds[0]
    # chapters/05_multi_concept.py's ledger computations, repeated: from `bayes = bayes_error(...)` through the
    # claim cells (1a-3b), the control and `ood_results` (4a, 4b) to the main runs' `efficiency` (5)
    bayes = bayes_error(P.L, P.eta)
    sm = summarise(main)
    final = list(sm.final.values())
    ctrl_model, _, ctrl_dic, _ = X.run(s0, attention="none", probes=False, tag="no-context control")
    # 4a and 4b read the main models and the control only: the chapter's linear-attention column is not trained here
    in_dist, ood = X.ood_results(main, (ctrl_model, ctrl_dic), (ctrl_model, ctrl_dic), P.L_test, P.seed)
    main_eff = efficiency({"main": [r[1] for r in main.values()]}, P.variant_steps)["main"]
    readings = {
        "1a": C.bayes_reached([f["test_err_clean"] for f in final], sm.median["test_err"], bayes),
        "1b": C.exponential_not_power_law([m[1].eval_series("test_err_clean") for m in main.values()], X.resolution),
        "2": C.attention_correct([f["test_correct_attn"] for f in final], sm.attn0),
        "3a": C.weights_align(final, "attn"),
        "3b": C.weights_align(final, "mlp", sm.growth),
        "4a": C.ood_near_bayes(in_dist, ood, bayes),
        "4b": C.control_fails(in_dist, ood),
        "5": C.eps_law_linear(EPS, main_eff["n_eps"]),
    }
    out: dict[str, float | bool | None] = {}
    for c in CLAIMS:
        out[f"{c}_value"] = _plain(readings[c].value)
        out[f"{c}_holds"] = bool(readings[c].holds())
    return out


KEEP = tuple(f"{c}_{what}" for c in CLAIMS for what in ("value", "holds"))  # what a member returns
