"""One training step of each chapter's `gpu` configuration, built from the experiment modules' own pieces.

Shared by benchmarks/gpu_cost.py (FLOPs, kernels and CPU time per step) and benchmarks/gpu_check.py (CPU against
GPU, steps per second). A ``Unit`` is one kind of model a chapter trains: ``batch(step, device)`` draws the step's data
as the chapter does (the same sampler, a generator on ``device``), ``loss(model, batch)`` is the chapter's loss, one
value per ensemble member, and ``optim`` the chapter's optimiser. ``members`` is the ensemble size the `gpu` chapter
trains the unit at; the builders take ``E`` and ``batch`` so that the same code runs at tiny sizes on a CPU.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import Tensor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from iclbook import rng  # noqa: E402
from iclbook.chapters import get  # noqa: E402
from iclbook.models.gpt import GPT, GPTConfig  # noqa: E402
from iclbook.train import OptimConfig  # noqa: E402


@dataclass
class Unit:
    """One trained model family of a chapter, at one size."""

    chapter: str
    name: str
    make_model: Callable[[torch.device], torch.nn.Module]  # the model (all members), initialised as the chapter does
    batch: Callable[[int, torch.device], tuple]  # step's data, drawn on the device
    loss: Callable[[torch.nn.Module, tuple], Tensor]  # (E,) or a scalar
    optim: OptimConfig
    gpt: GPTConfig | None  # the decoder's config (None: chapter 5's concept model)
    batch_size: int  # sequences (prompts) per member and step
    tokens: int  # tokens per sequence

    def step(self, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int, device: torch.device,
             data: tuple | None = None) -> Tensor:
        """One optimiser step as iclbook.train does it (without the schedule); the losses, detached."""
        loss = self.loss(model, data if data is not None else self.batch(step, device))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        return loss.detach()


OVERRIDES: dict[str, dict[str, Any]] = {}  # chapter → parameters set on top of the `gpu` profile everywhere


def params(chapter: str, **over: Any):
    """The chapter's `gpu` profile, with ``OVERRIDES[chapter]`` and then ``over`` on top."""
    return get(chapter).params.resolve("gpu", {**OVERRIDES.get(chapter, {}), **over})


def _to(batch: tuple, device: torch.device) -> tuple:
    return tuple(b.to(device) if isinstance(b, Tensor) else b for b in batch)


def ch01_gpt(P, E: int = 1, batch: int | None = None) -> Unit:
    """Claim 5's GPT (iclbook.experiments.task_complexity.train_gpt's model, loss and optimiser)."""
    from iclbook.models.regression_tokens import get_format
    from iclbook.tasks.regression import RegressionTask

    B = batch or P.gpt_batch
    K = P.N + 1
    make, read, width, length = get_format(P.gpt_tokens)
    cfg = GPTConfig(n_layer=P.gpt_layers, n_embd=P.gpt_width, n_head=2, block_size=length(K), d_in=width(P.d),
                    d_out=1, n_models=E)
    task = RegressionTask(d=P.d, K=K, sigma2=P.sigma2, psi2=P.psi2)

    def data(step, dev):
        x, y, _ = task.sample(B, rng.generator("batch", P.seed, step, device=dev))
        tokens = make(x, y)
        return tokens.expand(E, *tokens.shape), y

    return Unit("01", "GPT (claim 5)", lambda dev: GPT(cfg, generator=rng.generator("init", P.seed)).to(dev), data,
                lambda m, b: ((read(m(b[0])) - b[1]) ** 2).mean((1, 2)),
                OptimConfig("adam", lr=P.gpt_lr, schedule="warmup_cosine", warmup=0.05, final_lr_frac=0.1), cfg, B,
                length(K))


def ch02_sweep(P, E: int | None = None, batch: int | None = None) -> Unit:
    """The task-diversity sweep: all M as one ensemble (transient_ridge.train_sweep's model, make_loss's loss)."""
    import math

    from iclbook.experiments.transient_ridge import SweepConfig, make_loss

    cfg = SweepConfig.from_params(P)
    Ms = list(cfg.Ms) if E is None else ([*cfg.Ms[:E - 1], math.inf] if E > 1 else [math.inf])
    cfg = replace(cfg, Ms=tuple(Ms), batch=batch or cfg.batch)
    gcfg = cfg.gpt(len(Ms))
    from iclbook.models.regression_tokens import get_format

    make, read, _, length = get_format(cfg.tokens)
    task = cfg.task()

    def data(step, dev):
        x, y, _ = task.sample_ensemble(Ms, cfg.batch, rng.generator("batch", cfg.seed, step, device=dev), dev)
        return make(x, y), y

    assert make_loss  # the loss below is make_loss's, on a batch that can be moved between devices
    return Unit("02", "M sweep (all M, one ensemble)",
                lambda dev: GPT(gcfg, generator=rng.generator("init", cfg.seed)).to(dev), data,
                lambda m, b: ((read(m(b[0])) - b[1]) ** 2).mean((1, 2)),
                OptimConfig("adam", lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup), gcfg, cfg.batch,
                length(cfg.K))


def ch03_pretrain(P, E: int = 1, batch: int | None = None) -> Unit:
    """Causal-LM pretraining on label-mapping prompts (layer_causality.LayerCausality.pretrain)."""
    from iclbook.experiments.layer_causality import LayerCausality, lm_loss

    X = LayerCausality({k: getattr(P, k) for k in LayerCausality.FIELDS}, "", "cpu")
    task, cfg = X.task, replace(X.cfg, n_models=E)
    B = batch or P.batch

    def data(step, dev):
        x = task.sample(B, rng.generator("batch", P.seed, step, device=dev)).train_tokens()
        return (x.expand(E, *x.shape),)

    return Unit("03", "pretraining", lambda dev: GPT(cfg, generator=rng.generator("init", P.seed)).to(dev), data,
                lambda m, b: lm_loss(m(b[0]), b[0]),
                OptimConfig("adam", lr=P.lr, schedule="warmup_cosine", warmup=0.05, final_lr_frac=0.1), cfg, B,
                task.seq_len() + 1)


def ch04_grid(P, E: int | None = None, batch: int | None = None, n_layer: int | None = None) -> Unit:
    """The phase diagram's grid, every point in one ensemble (`group` 0; modular_arithmetic.train_group)."""
    from iclbook.analysis.modular import z_loss
    from iclbook.tasks.modular import ModularTask

    grid = [(n, al) for al in P.alphas for n in P.n_ids][:E]
    seeds = rng.member_seeds(P.seed, len(grid))
    tasks = [ModularTask(P.p, n, al, P.n_ex, seed=s, rule=P.tasks) for s, (n, al) in zip(seeds, grid)]
    B = batch or P.batch
    model_cfg = dict(n_layer=n_layer or P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos,
                     bias=P.bias, tie_embeddings=True)
    cfg = GPTConfig(**model_cfg, vocab_size=P.p, block_size=3 * P.n_ex, n_models=len(grid))
    moved: dict[str, list] = {}

    def on(dev):  # the tasks' index tensors on the device (ModularTask(device=…) in the chapter)
        if str(dev) not in moved:
            moved[str(dev)] = [ModularTask(**t.spec(), device=dev) for t in tasks]
        return moved[str(dev)]

    def make_model(dev):
        model = GPT(cfg)
        with torch.no_grad():
            for i, s in enumerate(seeds):
                single = GPT(replace(cfg, n_models=1), rng.generator("init", s))
                model.load_member(i, single.state_dict())
        return model.to(dev)

    def data(step, dev):
        return (torch.stack([t.train_batch(B, rng.generator("batch", s, step, device=dev))
                             for t, s in zip(on(dev), seeds)]),)

    optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                        final_lr_frac=0.1)
    return Unit("04", f"grid, depth {model_cfg['n_layer']}", make_model, data, lambda m, b: z_loss(m, b[0]), optim,
                cfg, B, 3 * P.n_ex)


def ch05_concept(P, E: int = 1, batch: int | None = None) -> Unit:
    """The concept model trained by SGD on fresh prompts (multi_concept.train_concept)."""
    from iclbook.experiments.multi_concept import ConceptExperiment
    from iclbook.models.concept import ConceptTransformer, concept_loss
    from iclbook.tasks.concepts import make_dictionary, sample

    X = ConceptExperiment({k: getattr(P, k) for k in ConceptExperiment.FIELDS}, "", "cpu")
    task, mcfg = X.task(), X.model_cfg()
    B = batch or P.batch
    dics: dict[str, Any] = {}

    def dic(dev):  # drawn once on the CPU and moved, so that both devices see one dictionary
        if str(dev) not in dics:
            d = make_dictionary(task, rng.generator("tasks", P.seed))
            dics[str(dev)] = type(d)(**{k: (v.to(dev) if isinstance(v, Tensor) else v) for k, v in vars(d).items()})
        return dics[str(dev)]

    def data(step, dev):
        b = sample(task, dic(dev), B, rng.generator("batch", P.seed, step, device=dev), combos="train")
        return b.demos, b.query, b.y

    def make_model(dev):
        return ConceptTransformer(mcfg, gen=rng.generator("init", P.seed)).to(dev)

    return Unit("05", "concept model (one run)", make_model, data, lambda m, b: concept_loss(m(b[0], b[1]), b[2]),
                OptimConfig("sgd", lr=P.lr, schedule="constant"), None, B, P.L + 1)


BUILDERS = {"01": ch01_gpt, "02": ch02_sweep, "03": ch03_pretrain, "04": ch04_grid, "05": ch05_concept}


def moved(batch: tuple, device: torch.device) -> tuple:
    """A batch drawn on one device, on another (the CPU-against-GPU comparison feeds both the same data)."""
    return _to(batch, device)
