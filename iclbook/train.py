"""One training loop for every chapter.

``train(model, loss_fn, steps, optim)`` runs ``steps`` optimiser updates. ``loss_fn(model, step)`` makes its own
batch as a pure function of ``(seed, step)`` on the model's device and returns the loss: a scalar, or one loss
per ensemble member (shape ``(E,)``), whose sum is minimised so that members train independently.

Around that core: a learning-rate schedule that is a pure function of the step (so resuming is exact),
evaluations and checkpoints at the union of linear and log-spaced steps, resume from the run store,
a NaN guard, and a progress bar that stays quiet in CI logs.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .store import Run

SCHEDULES = ("constant", "triangle", "warmup_cosine", "warmup_constant")
OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule (``warmup`` is a fraction of all steps)."""

    name: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0
    final_lr_frac: float = 0.0  # the cosine's floor, as a fraction of lr

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer name {self.name!r}: allowed {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: allowed {SCHEDULES}")
        if not (0.0 <= self.warmup <= 1.0):
            raise ValueError(f"warmup {self.warmup!r}: allowed a fraction in [0, 1]")
        if not self.lr > 0:
            raise ValueError(f"lr {self.lr!r}: must be > 0")

    def make(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimiser over ``model``'s parameters, weight decay by role (see ``decay_groups``)."""
        params = decay_groups(model, self.weight_decay)
        if self.name == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)
        cls = torch.optim.AdamW if self.name == "adamw" else torch.optim.Adam
        return cls(params, lr=self.lr, betas=self.betas, fused=fusable(params))


def decays(module: nn.Module, name: str) -> bool:
    """Whether parameter ``name`` of ``module`` (its owner) is decayed: weight matrices and embeddings are, biases and
    normalisation gains are not (the nanoGPT / Hugging Face rule).

    Decided by role, not by shape: with the ensemble axis a LayerNorm gain is (E, C) and a linear bias (E, 1, n), so
    "decay only tensors of two or more dimensions" would decay both. Decaying the gains kept chapter 4's models on
    the ln p plateau (see the pilots in its appendix)."""
    is_norm = isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)) or getattr(module, "is_norm", False)
    return not (is_norm or name.endswith("bias"))


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Parameter groups ``[{params: decayed, weight_decay}, {params: the rest, weight_decay: 0}]`` (empty ones left
    out), every parameter exactly once, in the model's order."""
    decay, keep, seen = [], [], set()
    for mod in model.modules():
        for name, p in mod.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            (decay if decays(mod, name) else keep).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def fusable(params) -> bool:
    """Whether Adam's fused kernel applies: every tensor a float on the CPU or a CUDA device.

    On a small model the optimiser's per-tensor loop is a large part of a step: fused Adam made the chapter-2
    model's training step 1.04-1.26x faster on this CPU than the default (foreach) implementation, depending on
    threads and run (benchmarks/train_throughput.py)."""
    tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
    return bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors)


def lr_factor(step: int, steps: int, cfg: OptimConfig) -> float:
    """The schedule's multiplier for update number ``step`` (0-based) out of ``steps``.

    triangle: linear rise to the peak over ``warmup`` of the steps, then linear fall to 0 (Carroll et al.).
    warmup_cosine: linear warm-up, then cosine decay to ``final_lr_frac`` (He et al.).
    """
    warm = cfg.warmup * steps
    if cfg.schedule == "constant":
        return 1.0
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "warmup_constant":
        return 1.0
    progress = (step - warm) / max(1.0, steps - warm)
    if cfg.schedule == "triangle":
        return max(0.0, 1.0 - progress)
    return cfg.final_lr_frac + (1 - cfg.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def checkpoint_steps(steps: int, n_linear: int = 50, n_log: int = 30) -> list[int]:
    """The union of ``n_linear`` evenly spaced and ``n_log`` log-spaced steps in [0, steps] (both ends kept).

    Log-spaced steps resolve the early, fast dynamics (e.g. the transient ridge); linear ones the rest.
    """
    lin = np.linspace(0, steps, n_linear + 1)
    log = np.logspace(0, math.log10(max(steps, 1)), n_log) if steps >= 1 else np.array([])
    return sorted({int(round(s)) for s in np.concatenate([lin, log]) if 0 <= s <= steps})


def progress_enabled() -> bool:
    """Progress bars are off in CI logs (``CI`` set) or with ``ICLBOOK_PROGRESS=0``."""
    if os.environ.get("ICLBOOK_PROGRESS") is not None:
        return os.environ["ICLBOOK_PROGRESS"] not in ("0", "false", "False", "")
    return os.environ.get("CI", "").lower() not in ("1", "true", "yes")


@dataclass
class TrainResult:
    """What a training run leaves: per-step losses, the evaluations at checkpoints, and bookkeeping."""

    losses: np.ndarray  # (steps,) or (steps, E): the training loss of each update
    evals: list[dict[str, Any]] = field(default_factory=list)  # one dict per checkpoint step, with "step"
    resumed_from: int | None = None
    from_store: bool = False
    seconds: float = 0.0

    def eval_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one evaluated quantity across checkpoints."""
        rows = [e for e in self.evals if key in e]
        return np.array([e["step"] for e in rows]), np.array([e[key] for e in rows])


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, int], torch.Tensor],
    steps: int,
    optim: OptimConfig,
    *,
    run: Run | None = None,
    checkpoints: list[int] | None = None,
    evaluate: Callable[[nn.Module, int], dict[str, Any]] | None = None,
    desc: str = "training",
    stop_after: int | None = None,
    nan_check_every: int | None = None,
) -> TrainResult:
    """Train ``model`` in place; with a ``run``, reuse a finished result or resume an interrupted one.

    ``stop_after`` ends the loop after that many updates, as an interruption would (used by tests).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    checkpoints = sorted(set(checkpoints if checkpoints is not None else checkpoint_steps(steps)) | {steps})
    if checkpoints[0] < 0 or checkpoints[-1] > steps:
        raise ValueError(f"checkpoint steps must lie in [0, {steps}]")

    if run is not None:
        with run.lock():
            result = run.load("result.pt")
            if result is not None:
                model.load_state_dict(result["model"])
                return TrainResult(result["losses"].numpy(), result["evals"], None, True, 0.0)
            return _train(model, loss_fn, steps, optim, run, checkpoints, evaluate, desc, stop_after, nan_check_every)
    return _train(model, loss_fn, steps, optim, None, checkpoints, evaluate, desc, stop_after, nan_check_every)


def _train(model, loss_fn, steps, optim, run, checkpoints, evaluate, desc, stop_after, nan_check_every):
    from tqdm import tqdm  # the text bar: it works in terminals and notebooks alike, without ipywidgets

    device = next(model.parameters()).device
    opt = optim.make(model)
    losses: torch.Tensor | None = None
    evals: list[dict[str, Any]] = []
    start, resumed_from = 0, None
    if run is not None and (ckpt := run.load("ckpt.pt")) is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        losses, evals, start = ckpt["losses"].to(device), ckpt["evals"], int(ckpt["step"])
        resumed_from = start
    if nan_check_every is None:
        nan_check_every = 1 if device.type == "cpu" else 50
    ckpt_set = set(checkpoints)
    if start == 0 and 0 in ckpt_set and evaluate is not None:
        evals.append({"step": 0, **_evaluate(evaluate, model, 0)})

    t0 = time.perf_counter()
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not progress_enabled(), mininterval=1.0, leave=False)
    model.train()
    for step in range(start, steps):
        for group in opt.param_groups:
            group["lr"] = optim.lr * lr_factor(step, steps, optim)
        loss = loss_fn(model, step)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        loss = loss.detach()
        if losses is None:
            losses = torch.zeros((steps, *loss.shape), device=device)
        losses[step] = loss
        if (step + 1) % nan_check_every == 0 or step + 1 == steps:
            _nan_guard(losses, step, nan_check_every)
        done = step + 1
        bar.update(1)
        if done in ckpt_set:
            _nan_guard(losses, step, done)
            if evaluate is not None:
                evals.append({"step": done, **_evaluate(evaluate, model, done)})
            bar.set_postfix(loss=f"{losses[step].mean().item():.4g}", refresh=False)
            if run is not None and done < steps:
                run.save("ckpt.pt", {"model": model.state_dict(), "opt": opt.state_dict(), "losses": losses.cpu(),
                                     "evals": evals, "step": done})
        if stop_after is not None and done >= stop_after:
            bar.close()
            return TrainResult(losses[:done].cpu().numpy(), evals, resumed_from, False, time.perf_counter() - t0)
    bar.close()
    model.eval()
    result = TrainResult(losses.cpu().numpy(), evals, resumed_from, False, time.perf_counter() - t0)
    if run is not None:
        run.save("result.pt", {"model": model.state_dict(), "losses": losses.cpu(), "evals": evals})
        run.delete("ckpt.pt")
    return result


def _evaluate(evaluate, model, step) -> dict[str, Any]:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = evaluate(model, step)
    model.train(was_training)
    return {k: _plain(v) for k, v in out.items()}


def _plain(v: Any) -> Any:
    """Evaluation values are stored as plain numbers / lists so checkpoints load with weights_only=True."""
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 else v.detach().cpu().tolist()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _nan_guard(losses: torch.Tensor, step: int, window: int) -> None:
    recent = losses[max(0, step + 1 - window): step + 1]
    if not torch.isfinite(recent).all():
        bad = int(torch.nonzero(~torch.isfinite(recent.reshape(len(recent), -1)).all(dim=1))[0]) + max(0, step + 1 - window)
        raise FloatingPointError(
            f"training diverged: loss {losses[bad].tolist()} at step {bad + 1}; lower the learning rate"
        )


__all__ = ["OptimConfig", "decay_groups", "decays", "TrainResult", "train", "lr_factor", "checkpoint_steps", "progress_enabled"]
