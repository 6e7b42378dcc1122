"""The LLC where the answer is known (issue 34, item 4): chapter 2's estimator on networks distilled onto Bayes
predictors.

Every `cpu` run of chapter 2 measures λ̂(4) > λ̂(∞) > λ̂(8), against Carroll et al. (2025), for whom dMMSE_M's
complexity grows with M and ridge (the M = ∞ solution) is simpler than dMMSE_M at large M. Before reading that order
as a property of our models, this module asks whether the estimator orders cases whose function is known: the
chapter's architecture distilled (regression of its outputs onto a predictor's outputs) onto dMMSE_4, dMMSE_8,
dMMSE_16 (pools: prefixes of the chapter's task sequence) and ridge, then λ̂ of each with exactly the chapter's
estimator (``sweep_llc``: the same SGLD settings, n sequences of the target's own training distribution, the
chapter's MSE to the noisy labels, and the chapter's ε rule over the four networks).

Distillation data are half the target's own distribution (pool M; fresh tasks for ridge) and half fresh tasks, so
the network is the target as a function on both the LLC's data and the OOD set on which the chapter calls a model
"at dMMSE_M". A network counts as its target when its mean squared distance to it (/D, on held-out sequences of
either half) is under ``FIT_FRAC`` of the distance from its target to the nearest other target there: nearer its
target than any other known predictor by a factor 2 in RMS. A Bayes predictor minimises the expected loss on its own
distribution, so a network that fits its target sits near a minimum of the loss the LLC is estimated on.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from .. import baselines, rng, runtime
from ..analysis.llc import SGLDConfig
from ..chapters import get
from ..models.gpt import GPT
from ..models.regression_tokens import get_format
from ..paths import store_root
from ..store import Store
from ..tasks.regression import _is_inf
from ..train import OptimConfig, checkpoint_steps, train
from .transient_ridge import LLC_EPS_GRID, MemberRun, SweepConfig, m_label, sweep_llc

TARGETS = (4, 8, 16, math.inf)  # dMMSE_4, dMMSE_8, dMMSE_16 and ridge (the Bayes predictor at M = ∞)
NAMES = ("dmmse_4", "dmmse_8", "dmmse_16", "ridge")  # the kept values' suffixes, in the order of TARGETS
DISTIL_STEPS = 4000  # Adam steps of the distillation (the chapter's recipe and schedule over these steps)
CHECKPOINTS = (10, 5)  # linear and log-spaced checkpoints of the distillation (resume points and the fit's curve)
FIT_FRAC = 0.25  # fit / (Δ to the nearest other target) below this: the network is its target
FIT_SETS = (20, 21)  # the fit's evaluation sets ("eval", seed, ·): own distribution, fresh tasks (unused by chapter 2)
OWN_KEYS = ("distil_steps",)  # point keys of this module, not chapter parameters
PER_TARGET = ("llc", "se", "fit", "fit_fresh", "fit_ratio")  # kept per target as f"{value}_{name}"
KEEP = ("distil_steps", "eps", *(f"{v}_{name}" for name in NAMES for v in PER_TARGET),
        "diverged", "known", "settled", "d4_lt_d8", "d4_lt_ridge", "mono", "ridge_lt_d16", "order", "order_known")


def targets(cfg: SweepConfig, x: Tensor, y: Tensor, device) -> Tensor:
    """Each member's target predictor on its rows of x (E, B, K, D), y (E, B, K): dMMSE_M on pool M, ridge at M = ∞
    (both with the chapter's σ²; ridge's λ = σ² makes it the Bayes predictor for unit-variance tasks). (E, B, K)."""
    task = cfg.task()
    out = [baselines.ridge_predictions(x[e], y[e], cfg.sigma2) if _is_inf(M) else
           baselines.dmmse_predictions(x[e], y[e], task.pool(int(M), device=device), cfg.sigma2)
           for e, M in enumerate(cfg.Ms)]
    return torch.stack(out)


def distil_data(cfg: SweepConfig, n: int, g: torch.Generator, device) -> tuple[Tensor, Tensor]:
    """n sequences per member from its own distribution (pool M, or fresh tasks), then n of fresh tasks: (E, 2n, …)."""
    task = cfg.task()
    x_own, y_own, _ = task.sample_ensemble(list(cfg.Ms), n, g, device)
    x_new, y_new, _ = task.sample_ensemble([math.inf] * len(cfg.Ms), n, g, device)
    return torch.cat([x_own, x_new], 1), torch.cat([y_own, y_new], 1)


def make_distil_loss(cfg: SweepConfig, device):
    """The distillation loss: per member, the MSE between the network's predictions and its target's, on a batch of
    ``cfg.batch`` sequences (half own distribution, half fresh tasks) that is a pure function of (seed, step)."""
    make, read, _, _ = get_format(cfg.tokens)
    half = max(1, cfg.batch // 2)

    def loss_fn(model: GPT, step: int) -> Tensor:
        x, y = distil_data(cfg, half, rng.generator("batch", cfg.seed, step, device=device), device)
        with torch.no_grad():
            t = targets(cfg, x, y, device)
        return ((read(model(make(x, y))) - t) ** 2).mean((1, 2))
    return loss_fn


def fit_sets(cfg: SweepConfig, device) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """Held-out (x, y, target) per half ("own", "fresh"), ``cfg.n_eval`` sequences each, from evaluation-only seeds."""
    task = cfg.task()
    own = task.sample_ensemble(list(cfg.Ms), cfg.n_eval, rng.generator("eval", cfg.seed, FIT_SETS[0], device=device),
                               device)[:2]
    fresh = task.sample_ensemble([math.inf] * len(cfg.Ms), cfg.n_eval,
                                 rng.generator("eval", cfg.seed, FIT_SETS[1], device=device), device)[:2]
    return {name: (x, y, targets(cfg, x, y, device)) for name, (x, y) in (("own", own), ("fresh", fresh))}


def target_gaps(cfg: SweepConfig, sets: dict, device) -> dict[str, np.ndarray]:
    """Per half and member e: Δ (mean squared prediction difference / D) from e's target to the nearest other
    target, on e's own held-out sequences. The scale a fit is judged on."""
    out = {}
    for name, (x, y, _) in sets.items():
        E = len(cfg.Ms)
        preds = torch.stack([targets(replace(cfg, Ms=(M,) * E), x, y, device) for M in cfg.Ms])  # (F, E, B, K)
        d = ((preds[:, None] - preds[None]) ** 2).mean((-2, -1)) / cfg.D  # (F, F', E): target F vs F' on e's data
        out[name] = np.array([min(float(d[e, f, e]) for f in range(E) if f != e) for e in range(E)])
    return out


def make_fit_evaluate(cfg: SweepConfig, sets: dict):
    """The checkpoint callback: each member's fit, MSE to its target / D, on both held-out halves."""
    make, read, _, _ = get_format(cfg.tokens)

    def evaluate(model: GPT, step: int) -> dict:
        return {f"fit_{name}": ((read(model(make(x, y))) - t) ** 2).mean((1, 2)) / cfg.D
                for name, (x, y, t) in sets.items()}
    return evaluate


def distil(cfg: SweepConfig, store: Store, device, sets: dict, desc: str = "distillation") -> dict[str, MemberRun]:
    """Distil one ensemble, member e onto target ``cfg.Ms[e]``, with the chapter's optimiser and schedule over
    ``cfg.steps``; in the run store, so an interrupted member resumes. Returns {m_label(M): MemberRun} whose
    ``evals`` hold ``fit_own`` and ``fit_fresh`` (on ``sets``, from ``fit_sets``) per checkpoint."""
    E = len(cfg.Ms)
    model = GPT(cfg.gpt(E), generator=rng.generator("init", cfg.seed)).to(device)
    run = store.run("ch02-distil", {**cfg.plain(), "distil": "half own, half fresh; targets dMMSE_M / ridge"})
    opt = OptimConfig("adam", lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup)
    res = train(model, make_distil_loss(cfg, device), cfg.steps, opt, run=run,
                checkpoints=checkpoint_steps(cfg.steps, cfg.n_linear, cfg.n_log),
                evaluate=make_fit_evaluate(cfg, sets), desc=desc)
    steps = np.array([e["step"] for e in res.evals])
    losses = res.losses if res.losses.ndim == 2 else res.losses[:, None]
    return {m_label(M): MemberRun(M, steps, {k: np.array([np.asarray(r[k]).reshape(E)[e] for r in res.evals])
                                             for k in ("fit_own", "fit_fresh")}, losses[:, e], model, e)
            for e, M in enumerate(cfg.Ms)}


def known_llc(cfg: SweepConfig, runs: dict, store: Store, sgld: SGLDConfig, n: int,
              eps_grid: tuple = LLC_EPS_GRID) -> tuple[dict, SGLDConfig]:
    """λ̂ of the distilled networks by the chapter's rule (``calibrated_llc``): the largest ε of the grid at which
    every chain stays finite, else the smallest with the diverged ones marked. Under its own store key, so that a
    chapter sweep with the same Ms, steps and seed can never share a cached estimate with a distilled ensemble."""
    grid = sorted({float(e) for e in eps_grid}, reverse=True)
    extra = {"eps_grid": grid, "distilled": True}
    for eps in grid:
        out = sweep_llc(cfg, runs, store, replace(sgld, eps=eps), n, on_divergence="mark", key_extra=extra)
        if not any(r["diverged"] for r in out.values()):
            return out, replace(sgld, eps=eps)
    return out, replace(sgld, eps=grid[-1])


def orders(lam: dict[str, float]) -> dict[str, bool]:
    """The orders the theory expects of the known cases (a nan λ̂ fails every order it is in): dMMSE_M rising with
    M (``mono``), ridge below dMMSE_16, both (``order``); and the chapter's two reversed pairs on their own, dMMSE_4
    below dMMSE_8 and below ridge (the reasons: ``transient_ridge_studies``)."""
    d4, d8, d16, r = (lam[k] for k in NAMES)
    mono, ridge_lt = bool(d4 < d8 < d16), bool(r < d16)
    return {"d4_lt_d8": bool(d4 < d8), "d4_lt_ridge": bool(d4 < r), "mono": mono, "ridge_lt_d16": ridge_lt,
            "order": mono and ridge_lt}


def settled(llc: dict, burn_in: int, nbeta: float, draws: int) -> bool:
    """The chapter's claim 4d on the four networks: λ̂ > 0 and the draws' second-half mean within λ̂/4 of the first."""
    half = draws // 2
    for r in llc.values():
        d = r["trace"][:, burn_in:] - r["init"][:, burn_in:]
        if not (r["llc"] > 0 and abs(d[:, half:].mean() - d[:, :half].mean()) * nbeta < 0.25 * r["llc"]):
            return False
    return True


def resolve(point: dict, seed: int, profile: str):
    """The chapter's parameters at ``profile`` with the point's chapter overrides and the member's seed; the sweep
    config of the four targets (steps: the distillation's). Returns (P, cfg)."""
    spec = get("02").params
    P = spec.resolve(profile, {**{k: v for k, v in point.items() if k not in OWN_KEYS}, "seed": seed})
    cfg = replace(SweepConfig.from_params(P), Ms=TARGETS, steps=int(point.get("distil_steps", DISTIL_STEPS)),
                  n_linear=CHECKPOINTS[0], n_log=CHECKPOINTS[1])
    return P, cfg


def llc_known_member(point: dict, seed: int, profile: str) -> dict:
    """One member of the ``llc-known`` study: distil the four targets, estimate their λ̂ as the chapter does, and keep
    per target λ̂, its s.e., the fit (own data; fresh tasks) and its ratio to the nearest other target's distance,
    with ε and the orders."""
    P, cfg = resolve(point, seed, profile)
    dev = runtime.device()
    store = Store(store_root())
    sets = fit_sets(cfg, dev)
    runs = distil(cfg, store, dev, sets, desc=f"llc-known member {seed}: distillation")
    gaps = target_gaps(cfg, sets, dev)
    sgld = SGLDConfig(eps=P.llc_eps or LLC_EPS_GRID[0], gamma=P.llc_gamma, nbeta=P.llc_nbeta, chains=P.llc_chains,
                      burn_in=P.llc_burn_in, draws=P.llc_draws, batch_size=P.llc_batch, seed=P.seed)
    llc, sgld = (sweep_llc(cfg, runs, store, sgld, n=P.llc_n, on_divergence="mark",
                           key_extra={"distilled": True}), sgld) if P.llc_eps > 0 else \
        known_llc(cfg, runs, store, sgld, n=P.llc_n)
    out: dict = {"distil_steps": cfg.steps, "eps": sgld.eps}
    ok = []
    for e, (M, name) in enumerate(zip(TARGETS, NAMES)):
        k = m_label(M)
        fit, fresh = float(runs[k].evals["fit_own"][-1]), float(runs[k].evals["fit_fresh"][-1])
        ratio = max(fit / gaps["own"][e], fresh / gaps["fresh"][e])
        ok.append(bool(ratio < FIT_FRAC))
        out |= {f"llc_{name}": float(llc[k]["llc"]), f"se_{name}": float(llc[k]["se"]), f"fit_{name}": fit,
                f"fit_fresh_{name}": fresh, f"fit_ratio_{name}": float(ratio)}
    o = orders({name: out[f"llc_{name}"] for name in NAMES})
    out |= {"diverged": any(r["diverged"] for r in llc.values()), "known": all(ok),
            "settled": settled(llc, P.llc_burn_in, P.llc_nbeta, P.llc_draws), **o,
            "order_known": all(ok) and o["order"]}
    return out
