"""Chapter 5 (Bu et al. 2024): the concept model trained by plain SGD on fresh sparse-coding prompts."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from .. import executor as executors
from .. import rng, runtime
from ..analysis.concept_probes import (evaluate_prompts, feature_products, fit_exponential_rate, log_eps_slope,
                                      mlp_summary, steps_to_eps)
from ..executor import Executor, Job, run_jobs
from ..models.concept import ConceptModelConfig, ConceptTransformer, concept_loss
from ..tasks.concepts import ConceptBatch, ConceptTask, make_dictionary, sample, skewed_probs
from ..train import OptimConfig, train
from .setting import Experiment


def train_concept(
    task,
    dic,
    cfg: ConceptModelConfig,
    *,
    steps: int,
    lr: float,
    batch: int,
    seed: int,
    loss: str = "logistic",
    evaluate=None,
    checkpoints: list[int] | None = None,
    run=None,
    device: torch.device | str = "cpu",
    desc: str = "concept model",
):
    """Plain SGD (constant step) on fresh prompts with `iclbook.train.train`; returns (model, TrainResult).

    Step t's batch is a pure function of (seed, t), drawn on `device` from the training concept pairs
    (combos="train"), so the held-out pairs stay unseen. Initialisation uses the generator seeded with `seed`.
    """
    device = torch.device(device)
    model = ConceptTransformer(cfg, gen=rng.generator("init", seed, device=device))

    def loss_fn(m: ConceptTransformer, step: int) -> torch.Tensor:
        b = sample(task, dic, batch, rng.generator("batch", seed, step, device=device), combos="train")
        return concept_loss(m(b.demos, b.query), b.y, loss)

    res = train(model, loss_fn, steps, OptimConfig("sgd", lr=lr, schedule="constant"), run=run,
                checkpoints=checkpoints, evaluate=evaluate, desc=desc)
    return model, res



EPS = np.array([0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002])  # clean-error targets of the efficiency law (claim 5)
SETTING_FIELDS = ("d", "K", "L", "S", "m", "sigma_xi", "eta", "batch", "lr", "steps", "variant_steps", "kq_init",
                  "w_init", "n_test", "eval_every", "dense_until")


class RateFits(NamedTuple):
    """Claim 1b's reading of the main runs: per seed, the log-linear fit to the envelope of the clean error."""

    fits: dict[int, dict]  # seed → fit_exponential_rate's output on the envelope
    rate: float  # median rate per step
    r2: float  # median R² of the envelope fits
    r2_raw: float  # median R² of the same fit on the raw curve, for reference
    n: int  # median number of points per fit


class ConceptExperiment(Experiment):
    """The chapter's setting (plain data) with where its runs live: builds tasks and models, trains, reads results."""

    FIELDS = SETTING_FIELDS

    @property
    def resolution(self) -> float:
        """Errors below this are not resolved by the test set."""
        return max(3.0 / self.n_test, 1e-3)

    def task(self, **over) -> ConceptTask:
        """The chapter's prompt model, with some fields overridden (the sweeps)."""
        base = dict(d=self.d, K=self.K, L=self.L, S=self.S, sigma_xi=self.sigma_xi, eta=self.eta)
        return ConceptTask(**{**base, **over})

    def model_cfg(self, **over) -> ConceptModelConfig:
        return ConceptModelConfig(**{**dict(d=self.d, m=self.m, kq_init=self.kq_init, w_init=self.w_init), **over})

    def checkpoints(self, n_steps: int) -> list[int]:
        """Every eval_every steps up to dense_until (the descent), five times sparser after (the attention's rise)."""
        return sorted(set(range(0, min(self.dense_until, n_steps) + 1, self.eval_every))
                      | set(range(0, n_steps + 1, 5 * self.eval_every)) | {n_steps})

    def eval_sets(self, seed: int, task: ConceptTask, dic, batch: int) -> tuple[ConceptBatch, ConceptBatch]:
        """A held-out test set (an evaluation stream) and a train set (the run's own first training batches)."""
        dev = self.dev
        test = sample(task, dic, self.n_test, rng.generator("eval", seed, 1, device=dev), combos="train")
        n_b = max(1, min(self.n_test // 4, 1024) // batch)
        train_set = ConceptBatch.cat([sample(task, dic, batch, rng.generator("batch", seed, t, device=dev),
                                             combos="train") for t in range(n_b)])
        return test, train_set

    def make_evaluate(self, seed: int, task: ConceptTask, dic, loss: str, batch: int, probes: bool = True):
        test, train_set = self.eval_sets(seed, task, dic, batch)

        def evaluate(model, step):
            out = {f"test_{k}": v for k, v in evaluate_prompts(model, test, loss).items()}
            out.update({f"train_{k}": v for k, v in evaluate_prompts(model, train_set, loss).items()})
            if probes:
                out.update(feature_products(model, dic, task.sigma_xi, rng.generator("eval", seed, 7, device=self.dev)))
                out.update(mlp_summary(model, dic))
            return out

        return evaluate

    def run(self, seed: int, task: ConceptTask | None = None, loss: str = "logistic", lr: float | None = None,
            probes: bool = True, tag: str = "main", n_steps: int | None = None, batch: int | None = None,
            **model_over):
        """Train (or load from the run store) one concept model; return (model, result, dictionary, task).

        The main runs take `steps`; the variants (tag other than "main") `variant_steps` unless n_steps is given."""
        n_steps = n_steps or (self.steps if tag == "main" else self.variant_steps)
        task = task or self.task()
        lr = self.lr if lr is None else lr
        batch = self.batch if batch is None else batch
        cfg = self.model_cfg(**model_over)
        dic = make_dictionary(task, rng.generator("tasks", seed, device=self.dev))
        config = self._config(seed, task, cfg, n_steps, lr, batch, loss, probes)
        model, res = train_concept(task, dic, cfg, steps=n_steps, lr=lr, batch=batch, seed=seed, loss=loss,
                                   evaluate=self.make_evaluate(seed, task, dic, loss, batch, probes),
                                   checkpoints=self.checkpoints(n_steps),
                                   run=self.store().run("ch05-concept", config), device=self.dev,
                                   desc=f"{tag} seed {seed}")
        return model, res, dic, task

    def _config(self, seed, task, cfg, n_steps, lr, batch, loss, probes) -> dict:
        return {"chapter": "05", "task": vars(task), "model": vars(cfg), "steps": n_steps, "lr": lr,
                "batch": batch, "loss": loss, "seed": seed, "n_test": self.n_test,
                "checkpoints": self.checkpoints(n_steps), "probes": probes, "eval_version": 1,
                "device": self.dev.type}

    def run_seeds(self, seeds: list[int], executor: Executor | None = None) -> dict:
        """The main run of every seed, trained on the executor (default: ICLBOOK_EXECUTOR), then read back."""
        ex = executor or executors.current()
        if ex.kind != "inline":
            key = lambda s: self.store().run("ch05-concept", self._config(  # noqa: E731
                s, self.task(), self.model_cfg(), self.steps, self.lr, self.batch, "logistic", True)).key
            run_jobs([Job("iclbook.experiments.multi_concept:run_job",
                          dict(setting=self.setting, store_root=self.store_root, device=self.device, seed=s),
                          key="ch05-concept-" + key(s)) for s in seeds], ex, desc="main runs")
        return {s: self.run(s) for s in seeds}

    def knob_sweeps(self, main_result, seed: int, sweeps: dict[str, tuple[str, list]]) -> dict:
        """One run per value of each knob (label → (task field, values); the main value always included, read
        from ``main_result``), trained for variant_steps; returns {(label, value): rate, R², steps to 0.01, …}."""
        out = {}
        for label, (field, grid) in sweeps.items():
            for v in (sorted(set(grid) | {self.setting[field]}) if grid else []):
                r = main_result if v == self.setting[field] else self.run(
                    seed, task=self.task(**{field: v}), probes=False, tag=f"{field}={v}")[1]
                f = self.rate_fit(r)
                out[label, v] = {"rate": f["rate"], "r2": f["r2"], "n01": float(eps_steps(r)[4]),
                                 "final_clean": at_step(r, "test_err_clean", self.variant_steps),
                                 "attn": at_step(r, "test_correct_attn", self.variant_steps)}
        return out

    def ood_results(self, main: dict, control: tuple, linear: tuple, L_test: list[int], seed: int) -> tuple[dict, dict]:
        """Errors of the main models (``main``: seed → run), the no-context control and linear attention ((model,
        dictionary) each) on the in-distribution test set and on every shifted set: length, skewed concepts,
        switched words and labels, unseen combinations. Returns (in_dist, {set name: results})."""
        task, dev = self.task(), self.dev
        ood_sets = [(f"L = {Lq}", dict(L=Lq)) for Lq in L_test] + [
            ("skewed concepts", dict(concept_probs=skewed_probs(self.K, 0.5, device=dev))),
            ("switched words", dict(switch="words")),
            ("switched labels", dict(switch="labels")),
            ("unseen combinations", dict(combos="test")),
        ]

        def on(model, dic, kw: dict, i: int) -> dict:
            b = sample(task, dic, self.n_test, rng.generator("eval", seed, 100 + i, device=dev), **kw)
            return evaluate_prompts(model, b)

        (ctrl, ctrl_dic), (lin, lin_dic), s0 = control, linear, next(iter(main))
        ood = {name: {"model": [on(m[0], m[2], kw, i) for m in main.values()], "control": on(ctrl, ctrl_dic, kw, i),
                      "linear": on(lin, lin_dic, kw, i)} for i, (name, kw) in enumerate(ood_sets)}
        in_dist = {"model": [evaluate_prompts(m[0], self.eval_sets(s, task, m[2], self.batch)[0])
                             for s, m in main.items()],
                   "control": evaluate_prompts(ctrl, self.eval_sets(s0, task, ctrl_dic, self.batch)[0]),
                   "linear": evaluate_prompts(lin, self.eval_sets(s0, task, lin_dic, self.batch)[0])}
        return in_dist, ood

    def gradient_ratio(self, seed: int, task: ConceptTask, dic) -> float:
        """Norm of the logistic loss's first gradient over the MSE loss's, on the first batch at initialisation; a
        batch with every ReLU off has no gradient to match, and then the ratio of dℓ/df at f = 0 (1/2 over 2)."""
        def first_grad_norm(loss: str) -> float:
            m = ConceptTransformer(self.model_cfg(), gen=rng.generator("init", seed, device=self.dev))
            b = sample(task, dic, self.batch, rng.generator("batch", seed, 0, device=self.dev), combos="train")
            concept_loss(m(b.demos, b.query), b.y, loss).backward()
            return float(torch.sqrt(sum((p.grad**2).sum() for p in m.parameters())))

        r = ratio(first_grad_norm("logistic"), first_grad_norm("mse"))
        return r if math.isfinite(r) and r > 0 else 0.25

    def loss_variants(self, main: dict, linear_result, g_ratio: float) -> dict[str, list]:
        """The runs compared by the efficiency law (claim 5), name → results: the main runs; softmax attention with
        the MSE loss at the same lr and at the lr scaled by ``g_ratio`` (logistic / MSE first-gradient norm); linear
        attention with the logistic loss (``linear_result``). The variants use the first main seed."""
        s0, lr_matched = next(iter(main)), self.lr * g_ratio
        return {"softmax + logistic (main)": [r[1] for r in main.values()],
                f"softmax + MSE, lr {self.lr:g}": [self.run(s0, loss="mse", probes=False, tag="MSE")[1]],
                f"softmax + MSE, lr {lr_matched:.3g} (gradient-matched)": [
                    self.run(s0, loss="mse", lr=lr_matched, probes=False, tag="MSE matched")[1]],
                "linear attention + logistic": [linear_result]}

    def init_sign_runs(self, seed: int, main_result) -> dict:
        """W_KQ started at +kq_init·I (the main run, ``main_result``), 0 and −kq_init·I: name → result."""
        k = self.kq_init
        return {f"W_KQ = {v:g}·I": main_result if v == k else self.run(seed, kq_init=v, tag=f"kq_init {v:g}")[1]
                for v in (k, 0.0, -k)}

    def rate_fits(self, main: dict) -> RateFits:
        """The exponential fit of every main run (``main``: seed → (model, result, …)) and their medians."""
        fits = {s: self.rate_fit(r[1]) for s, r in main.items()}
        raw = [self.rate_fit(r[1], envelope=False)["r2"] for r in main.values()]
        return RateFits(fits, float(np.median([f["rate"] for f in fits.values()])),
                        float(np.median([f["r2"] for f in fits.values()])), float(np.median(raw)),
                        int(np.median([f["n"] for f in fits.values()])))

    def rate_fit(self, res, envelope: bool = True) -> dict:
        """Exponential fit of the clean test error on its decaying part (after the plateau, above the resolution).

        envelope=True (the ledger's reading) fits max_{s>=t} err(s), the level the error stays below from t on."""
        st, e = res.eval_series("test_err_clean")
        return fit_exponential_rate(st, e, floor=0.0, start=0.3, resolution=self.resolution, envelope=envelope)


def run_job(setting: dict, store_root: str, device: str, seed: int) -> None:
    """One main run from plain data, as an executor's worker runs it; the result goes to the store. A worker's own
    device (e.g. the GPU a local worker was given) replaces the notebook's when both are of one type, which the
    store key records."""
    here = runtime.device()
    ConceptExperiment(setting, store_root, str(here) if here.type == torch.device(device).type else device).run(seed)


def series(res, key: str) -> np.ndarray:
    return res.eval_series(key)[1]


def at_step(res, key: str, step: int) -> float:
    """The last evaluation of `key` at or before `step` (compares a main run with the shorter variants)."""
    t, v = res.eval_series(key)
    return float(v[t <= step][-1])


def eps_steps(res) -> np.ndarray:
    """Steps until the clean test error falls below each ε of EPS and stays there."""
    st, e = res.eval_series("test_err_clean")
    return np.array([steps_to_eps(st, e, x) for x in EPS])


def ratio(a: float, b: float) -> float:
    """a / b, with a zero denominator giving inf (a > 0) or nan (a ≤ 0): e.g. σ_ξ = 0 leaves no noise direction."""
    return a / b if b > 0 else (math.inf if a > 0 else math.nan)


FINAL_KEYS = ("test_err", "test_err_clean", "test_correct_attn", "attn_specific", "attn_complement", "attn_noise",
              "mlp_specific", "mlp_complement", "mlp_noise")


class MainSummary(NamedTuple):
    """The main runs at the end of training, as claims 1a–3b read them (a minimum over seeds where one bad seed
    should fail the claim)."""

    final: dict[int, dict[str, float]]  # seed → FINAL_KEYS at the last evaluation
    median: dict[str, float]  # FINAL_KEYS, median over seeds
    attn0: float  # median correct attention at initialisation
    max_clean: float  # largest final clean error
    attn_ratio: float  # min over seeds: specific / max(complement, noise) product of ΔW_KQ
    mlp_ratio: float  # the same for the MLP weights
    growth: float  # min over seeds: how many times the MLP's specific product grew from initialisation


def summarise(main: dict) -> MainSummary:
    """``main``: seed → (model, result, dictionary, …) of the main runs."""
    final = {s: {k: float(series(r[1], k)[-1]) for k in FINAL_KEYS} for s, r in main.items()}

    def specific_over_rest(f: dict, part: str) -> float:
        return ratio(f[f"{part}_specific"], max(f[f"{part}_complement"], f[f"{part}_noise"]))

    return MainSummary(
        final, {k: float(np.median([f[k] for f in final.values()])) for k in FINAL_KEYS},
        float(np.median([series(r[1], "test_correct_attn")[0] for r in main.values()])),
        max(f["test_err_clean"] for f in final.values()),
        min(specific_over_rest(f, "attn") for f in final.values()),
        min(specific_over_rest(f, "mlp") for f in final.values()),
        min(ratio(series(r[1], "mlp_specific")[-1], series(r[1], "mlp_specific")[0]) for r in main.values()))


def rate_range(fits: dict) -> str:
    """The fitted rates of several runs as "min–max" (one run: its rate)."""
    v = [x["rate"] for x in fits.values()]
    return f"{min(v):.4f}–{max(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"


def ood_rows(in_dist: dict, ood: dict) -> list[list[str]]:
    """Rows of the out-of-distribution table: per test set, the main models' error (median, max), their largest
    clean error and median correct attention, then linear attention's and the no-context control's error."""
    rows = []
    for name, r in [("in distribution", in_dist), *ood.items()]:
        errs = [x["err"] for x in r["model"]]
        rows.append([name, f"{np.median(errs):.3f} (max {max(errs):.3f})",
                     f"{max(x['err_clean'] for x in r['model']):.4f}",
                     f"{np.median([x['correct_attn'] for x in r['model']]):.3f}",
                     f"{r['linear']['err']:.3f} ({r['linear']['err_clean']:.4f})", f"{r['control']['err']:.3f}"])
    return rows


def ood_summary(in_dist: dict, ood: dict, bayes: float) -> tuple[float, str, float]:
    """Claims 4a/4b: the largest excess of a main model's error over Bayes on the shifted sets, the set where it
    occurs, and the no-context control's smallest error over all sets."""
    worst = max(ood, key=lambda n: max(x["err"] for x in ood[n]["model"]))
    excess = max(max(x["err"] for x in r["model"]) - bayes for r in ood.values())
    return excess, worst, min(r["control"]["err"] for r in [in_dist, *ood.values()])


def efficiency(variants: dict[str, list], step: int) -> dict[str, dict]:
    """Per variant (name → its runs): steps to each ε of EPS (runs × ε), the median slope and R² of steps-to-ε
    against log(1/ε), and the median clean error at ``step`` (where the shorter variants end)."""
    eff = {}
    for name, results in variants.items():
        n_eps = np.array([eps_steps(r) for r in results])
        laws = [log_eps_slope(EPS, n) for n in n_eps]
        eff[name] = {"n_eps": n_eps, "slope": float(np.median([x["slope"] for x in laws])),
                     "r2": float(np.median([x["r2"] for x in laws])),
                     "final_clean": float(np.median([at_step(r, "test_err_clean", step) for r in results]))}
    return eff


def batch_rows(by_batch: list[tuple[int, dict, list]], K: int) -> list[list]:
    """Rows of the batch-noise table, one per (batch, fits per seed, results): prompts per concept, the rates'
    range, R² per seed, steps to clean error 0.01 per seed."""
    return [[b, f"{b / K:.0f}", rate_range(f), ", ".join(f"{x['r2']:.2f}" for x in f.values()),
             ", ".join(f"{eps_steps(r)[4]:.0f}" for r in rr)] for b, f, rr in by_batch]


def efficiency_rows(eff: dict) -> list[list[str]]:
    """Rows of the efficiency table (``efficiency``'s output): slope, R², median steps to ε = 0.01, final error."""
    return [[n, f"{e['slope']:.1f}", f"{e['r2']:.2f}", f"{np.median(e['n_eps'][:, 4]):.0f}", f"{e['final_clean']:.4f}"]
            for n, e in eff.items()]


def sweep_rows(sweep_out: dict) -> list[list[str]]:
    """Rows of the knob-sweep table (``ConceptExperiment.knob_sweeps``'s output)."""
    return [[k, f"{v:g}", f"{o['rate']:.3f}", f"{o['r2']:.2f}", f"{o['n01']:.0f}", f"{o['final_clean']:.4f}",
             f"{o['attn']:.3f}"] for (k, v), o in sweep_out.items()]
