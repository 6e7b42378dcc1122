"""Chapter 5 (Bu et al. 2024): the concept model trained by plain SGD on fresh sparse-coding prompts."""
from __future__ import annotations

import torch

from .. import rng
from ..models.concept import ConceptModelConfig, ConceptTransformer, concept_loss
from ..tasks.concepts import sample
from ..train import OptimConfig, train


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

