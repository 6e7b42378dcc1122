"""The ten-minute device check: run this first on a machine with a GPU.

    .venv/bin/python benchmarks/gpu_check.py            # about 3-8 minutes on one H100-class GPU
    .venv/bin/python benchmarks/gpu_check.py --cpu-only # the CPU half alone (what CI runs)

For every chapter, on the device that ``iclbook.runtime.device()`` picks (CUDA when present):

1. **path**: the chapter's `gpu` code path, through the experiment module's own functions and the trainer, for a few
   hundred steps (fewer where a chapter's steps are slow: each path gets about a minute), at the `gpu` profile's sizes
   with small evaluation sets, into a temporary run store; losses must stay finite.
2. **CPU against GPU**: the chapter's `gpu` model (full width and depth, two members where it is an ensemble, a small
   batch) built on the CPU and copied to the GPU, fed the same batches: one forward pass, then five optimiser steps.
   Tolerances, as relative errors ‖a − b‖ / ‖b‖:
   - forward, fp32 (``highest`` matmul precision): 1e-4. fp32 rounds at 6e-8 relative; a forward pass of at most
     eight layers of width ≤ 256 accumulates rounding of order 1e-6, so 1e-4 leaves a wide margin while any real
     bug (a wrong mask, layout, dtype or position) gives errors of order 1.
   - forward, TF32 (``high``, what the chapters run with, runtime.fast_matmul): 1e-2. TF32 keeps a 10-bit mantissa
     (rounding 5e-4): about 1e-3 per matmul, a few matmuls deep.
   - five steps, fp32: the losses within 1e-3, and the parameters' change from their start (not the parameters, whose
     change is small next to them) within 5e-2: Adam divides each gradient by its own running size, so a coordinate
     whose gradient is at the rounding level can move differently on the two devices. (Until December 2026 this was
     1e-2, which fp32 rounding alone exceeded: chapter 4's AdamW change at fp32 against fp64 on the CPU was 1.1e-2 on
     an AVX-512 Xeon, spread over every weight matrix. A wrong step, a learning rate, weight decay or gradient
     off, changes it by order 1, and the losses' 1e-3 still holds the steps themselves close.)
   The CPU half applies the same comparisons to fp32 against fp64 on the CPU, which shows that these tolerances
   are not tighter than fp32 rounding itself.
3. **steps/s**: the chapter's full `gpu` training step (every ensemble member, the profile's batch, TF32), timed
   after warm-up, and the hours its main training takes at that rate (profile steps / steps per second).

Without CUDA, it runs the CPU half (the same code paths at tiny sizes, a few steps; the fp32-against-fp64
reference comparisons at the `gpu` width; steps/s of the tiny configurations) and says that the GPU half was
skipped. Exit status 1 if a path fails or a comparison exceeds its tolerance.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import gpu_steps as G  # noqa: E402
from iclbook import rng, runtime  # noqa: E402
from iclbook.store import Store  # noqa: E402

CPU = torch.device("cpu")
TOL = {"fwd32": 1e-4, "fwdtf32": 1e-2, "loss": 1e-3, "update": 5e-2}
COMPARE_STEPS = 5
PATH_SECONDS = 60.0  # the budget of one chapter's path run on a GPU

# the CPU half's sizes: the `gpu` profile with sizes shrunk (as tests/test_gpu_paths.py)
TINY = {"01": dict(gpt_width=32, gpt_batch=4, d=16),
        "02": dict(n_embd=16, batch=4, n_eval=16, n_probe=4, n_linear=2, n_log=0, Ms=[1, 8, 64, 512, 2**15]),
        "03": dict(n_layer=2, n_embd=16, n_head=8, batch=4, K=4, episodes=4, lr_grid=[0.1, 1.0], chunk=3),
        "04": dict(n_embd=16, batch=8, n_eval=16, n_ckpt=2, n_ids=[64, 128], alphas=[0.5]),
        "05": dict(d=256, batch=32, n_test=256, dense_until=10)}
# the GPU half's path runs: the full `gpu` sizes, small evaluation sets and few checkpoints
PATH = {"01": dict(), "02": dict(n_linear=4, n_log=0), "03": dict(episodes=128),
        "04": dict(n_ckpt=2, n_eval=256), "05": dict(n_test=2048, dense_until=0)}
STEP_PARAM = {"01": "gpt_steps", "02": "steps", "03": "steps", "04": "steps", "05": "steps"}


@dataclass
class Row:
    chapter: str
    path: str = "–"
    fwd32: float = math.nan
    fwdtf32: float = math.nan
    loss: float = math.nan
    update: float = math.nan
    steps_per_s: float = math.nan
    main_hours: float = math.nan
    errors: list[str] = field(default_factory=list)

    def failed(self) -> bool:
        over = [k for k in TOL if getattr(self, k) > TOL[k]]
        return bool(self.errors or over)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


# ---- 1. the chapters' code paths, through their own functions ------------------------------------------------------

def path_run(chapter: str, P, store: Store, dev: torch.device) -> tuple[np.ndarray, str]:
    """The chapter's `gpu` path with these parameters; (training losses, what ran)."""
    if chapter == "01":
        from iclbook.experiments.task_complexity import pretrain_sgd, train_gpt
        from iclbook.tasks.regression import RegressionTask

        _, res, _ = train_gpt(P, store, dev)
        task = RegressionTask(d=P.d, K=P.N, sigma2=P.sigma2, psi2=P.psi2)
        G_T, _ = pretrain_sgd(task, 2048, rng.member_seeds(P.seed, P.seeds), 0.01, device=dev)
        assert torch.isfinite(G_T).all()
        return res.losses, f"GPT + Γ-SGD (d = {P.d}, {P.seeds} runs)"
    if chapter == "02":
        from iclbook.analysis.llc import SGLDConfig
        from iclbook.experiments.transient_ridge import SweepConfig, make_probes, sweep_llc, train_sweep

        cfg = SweepConfig.from_params(P)
        runs = train_sweep(cfg, store, dev, make_probes(cfg, dev), batched=True)
        llc = sweep_llc(cfg, runs, store, SGLDConfig(eps=1e-4, chains=1, burn_in=2, draws=8,
                                                     batch_size=P.llc_batch), n=1024, on_divergence="mark")
        assert len(llc) == len(cfg.Ms)
        return runs["∞"].losses, f"{len(cfg.Ms)}-member sweep ({P.tokens}) + LLC"
    if chapter == "03":
        from iclbook.experiments.layer_causality import LayerCausality

        X = LayerCausality.from_params(P, store, dev)
        model, res = X.pretrain(P.seed, X.eval_episodes(P.seed, 64))
        r = X.run_compare("trained", P.seed, P.n_families - 1, model)
        assert torch.isfinite(r["grad_norm_lc"]).all()
        return res.losses, f"pretraining + fine-tuning, family {P.n_families - 1} of {P.n_families}"
    if chapter == "04":
        from iclbook.experiments.modular_arithmetic import train_sweep
        from iclbook.tasks.modular import ModularTask
        from iclbook.train import OptimConfig, checkpoint_steps

        grid = [(n, al) for al in P.alphas for n in P.n_ids]
        seeds = rng.member_seeds(P.seed, len(grid))
        tasks = [ModularTask(P.p, n, al, P.n_ex, seed=s, device=dev, rule=P.tasks) for s, (n, al) in zip(seeds, grid)]
        model_cfg = dict(n_layer=P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos,
                         bias=P.bias, tie_embeddings=True)
        optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                            final_lr_frac=0.1)
        members = train_sweep(tasks, model_cfg, optim, P.steps, P.batch, seeds, store, P.group or len(tasks),
                              checkpoint_steps(P.steps, n_linear=P.n_ckpt, n_log=0), P.n_eval, dev)
        return np.stack([m.result.losses for m in members], 1), f"{len(members)}-point grid ({P.pos}, {P.tasks})"
    if chapter == "05":
        from iclbook.experiments.multi_concept import ConceptExperiment

        X = ConceptExperiment.from_params(P, store, dev)
        _, res, _, _ = X.run(P.seed)
        _, res_s, _, _ = X.run(P.seed, task=X.task(S=max(P.S_grid)), probes=False, tag="sweep")
        assert np.isfinite(res_s.losses).all()
        return res.losses, f"main run + |S| = {max(P.S_grid)} sweep run (K = {P.K}, d = {P.d})"
    raise KeyError(chapter)


def run_path(chapter: str, over: dict, dev: torch.device, steps: int) -> str:
    n_steps = {STEP_PARAM[chapter]: steps, **({"variant_steps": steps} if chapter == "05" else {})}
    P = G.params(chapter, **{**over, **n_steps})
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        losses, what = path_run(chapter, P, Store(d), dev)
        secs = time.perf_counter() - t0
    losses = np.asarray(losses, dtype=float)
    if not np.isfinite(losses).all():
        raise FloatingPointError(f"non-finite training loss on the {chapter} path")
    first, last = losses[: max(1, len(losses) // 10)].mean(), losses[-max(1, len(losses) // 10):].mean()
    return f"{what}: {steps} steps, {secs:.0f} s, loss {first:.3g} → {last:.3g}"


# ---- 2. the same model and batches on two devices (or at two precisions) ------------------------------------------

def small_unit(chapter: str) -> G.Unit:
    """The chapter's `gpu` model at full width and depth, at most two members, a small batch."""
    P = G.params(chapter)
    if chapter == "02":
        return G.ch02_sweep(P, E=2, batch=8)
    if chapter == "04":
        return G.ch04_grid(P, E=2, batch=8)
    return G.BUILDERS[chapter](P, batch=256 if chapter == "05" else 4)


def _as(batch: tuple, dev: torch.device, dtype: torch.dtype) -> tuple:
    return tuple(b.to(dev, dtype) if b.is_floating_point() else b.to(dev) for b in batch)


def compare(chapter: str, dev: torch.device, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """fp32 on the CPU (the reference) against the same model on ``dev`` in ``dtype``: forward at fp32 and at TF32
    matmul precision, then COMPARE_STEPS optimiser steps at fp32 (losses, and the parameters' change)."""
    unit = small_unit(chapter)
    ref = unit.make_model(CPU)
    other = copy.deepcopy(ref).to(dev, dtype)
    start = [p.detach().clone() for p in ref.parameters()]
    data = [unit.batch(s, CPU) for s in range(COMPARE_STEPS)]
    out: dict[str, float] = {}
    before = torch.get_float32_matmul_precision()
    try:
        for key, precision in (("fwd32", "highest"), ("fwdtf32", "high")):
            if key == "fwdtf32" and dev.type != "cuda":
                continue
            torch.set_float32_matmul_precision(precision)
            with torch.no_grad():
                a = unit.loss(ref, data[0]) if unit.gpt is None else ref(data[0][0])
                b = unit.loss(other, _as(data[0], dev, dtype)) if unit.gpt is None else other(
                    _as(data[0], dev, dtype)[0])
            out[key] = rel(b, a)
        torch.set_float32_matmul_precision("highest")
        opt_a, opt_b = unit.optim.make(ref), unit.optim.make(other)
        la = torch.stack([unit.step(ref, opt_a, s, CPU, data[s]) for s in range(COMPARE_STEPS)])
        lb = torch.stack([unit.step(other, opt_b, s, dev, _as(data[s], dev, dtype)) for s in range(COMPARE_STEPS)])
        out["loss"] = rel(lb, la)
        da = torch.cat([(p.detach() - s).flatten() for p, s in zip(ref.parameters(), start)])
        db = torch.cat([(p.detach().cpu().to(s.dtype) - s).flatten() for p, s in zip(other.parameters(), start)])
        out["update"] = rel(db, da)
    finally:
        torch.set_float32_matmul_precision(before)
    return out


# ---- 3. steps per second of the full `gpu` training step ----------------------------------------------------------

def main_steps(chapter: str, P) -> float:
    """Steps of the chapter's main training (the unit ``steps_per_second`` times), over the whole chapter."""
    if chapter == "01":
        return P.gpt_steps
    if chapter == "03":
        return P.seeds * P.steps
    if chapter == "05":  # main and quarter-batch seeds, controls, loss variants, W_KQ signs, sweeps
        sweeps = sum(len(set(g) - {c}) for g, c in ((P.S_grid, P.S), (P.sigma_grid, P.sigma_xi), (P.L_grid, P.L)))
        return (2 * P.seeds + 6 + sweeps) * P.steps
    return P.steps


def steps_per_second(unit: G.Unit, dev: torch.device, seconds: float) -> float:
    model = unit.make_model(dev)
    opt = unit.optim.make(model)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for s in range(3):
        unit.step(model, opt, s, dev)
    sync()
    n, t0 = 0, time.perf_counter()
    while n < 5 or (time.perf_counter() - t0 < seconds and n < 200):
        unit.step(model, opt, 3 + n, dev)
        n += 1
        if n % 5 == 0:
            sync()
    sync()
    return n / (time.perf_counter() - t0)


# ---- the check ----------------------------------------------------------------------------------------------

def check(chapters: list[str], gpu: bool, dev: torch.device, steps: int, seconds: float,
          log: Callable[[str], Any] = print) -> list[Row]:
    rows = []
    for c in chapters:
        row = Row(c)
        rows.append(row)
        try:
            if gpu:
                runtime.fast_matmul(dev)
                rate = steps_per_second(G.BUILDERS[c](G.params(c)), dev, seconds)
                row.steps_per_s = rate
                row.main_hours = main_steps(c, G.params(c)) / rate / 3600
                n = int(max(20, min(steps, PATH_SECONDS * rate)))
                row.path = run_path(c, PATH[c], dev, n)
                for k, v in compare(c, dev).items():
                    setattr(row, k, v)
            else:
                row.path = run_path(c, TINY[c], CPU, 10)
                sizes = {k: v for k, v in TINY[c].items() if k in ("gpt_width", "n_embd", "n_layer", "n_head", "d")}
                tiny = G.BUILDERS[c](G.params(c, **sizes), batch=4, **({"E": 2} if c in ("02", "04") else {}))
                row.steps_per_s = steps_per_second(tiny, CPU, min(seconds, 1.0))
                for k, v in compare(c, CPU, torch.float64).items():
                    setattr(row, k, v)
        except Exception as err:  # noqa: BLE001 - reported in the table, the other chapters still run
            row.errors.append(f"{type(err).__name__}: {err}")
            log(traceback.format_exc())
        log(f"chapter {c}: {row.path}" + (f"; FAILED: {row.errors}" if row.errors else ""))
    return rows


def table(rows: list[Row], gpu: bool, dev: torch.device) -> str:
    name = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""
    other = f"{dev}{name}" if gpu else "CPU fp64 (reference check of the tolerances)"
    head = ("| chapter | forward fp32 (≤ {fwd32:g}) | forward TF32 (≤ {fwdtf32:g}) | {n} steps: losses (≤ {loss:g}) | "
            "parameter change (≤ {update:g}) | steps/s ({where}) | main training (h) | verdict |"
            ).format(n=COMPARE_STEPS, where="full gpu step" if gpu else "tiny sizes, CPU", **TOL)
    out = [f"CPU fp32 against {other}; relative errors ‖a − b‖ / ‖b‖.", "", head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = lambda x: "–" if math.isnan(x) else f"{x:.1e}"  # noqa: E731
        out.append(f"| {r.chapter} | {f(r.fwd32)} | {f(r.fwdtf32)} | {f(r.loss)} | {f(r.update)} | "
                   f"{'–' if math.isnan(r.steps_per_s) else f'{r.steps_per_s:.2f}'} | "
                   f"{'–' if math.isnan(r.main_hours) else f'{r.main_hours:.2f}'} | "
                   f"{'FAILED' if r.failed() else 'ok'} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The ten-minute device check (see the module docstring).")
    ap.add_argument("--cpu-only", action="store_true", help="run the CPU half even where CUDA is present")
    ap.add_argument("--chapters", nargs="*", default=list(G.BUILDERS))
    ap.add_argument("--steps", type=int, default=300, help="steps of each path run on the GPU (fewer if slow)")
    ap.add_argument("--seconds", type=float, default=5.0, help="timing window of each steps/s measurement")
    a = ap.parse_args(argv)
    dev = runtime.device()
    gpu = dev.type == "cuda" and not a.cpu_only
    runtime.set_threads()
    t0 = time.perf_counter()
    print(f"device: {dev}; torch {torch.__version__}; " + ("GPU half" if gpu else "CPU half"), flush=True)
    rows = check(a.chapters, gpu, dev, a.steps, a.seconds, log=lambda s: print(s, flush=True))
    print()
    print(table(rows, gpu, dev))
    if not gpu:
        why = "--cpu-only was given" if dev.type == "cuda" else f"no CUDA device (runtime.device() is {dev})"
        print(f"\nGPU half skipped: {why}. Only the CPU half ran: the chapters' gpu code paths at tiny sizes and the "
              "fp32-against-fp64 reference comparisons.")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    failed = [r.chapter for r in rows if r.failed()]
    if failed:
        print(f"FAILED: chapter(s) {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
