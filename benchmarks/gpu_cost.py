"""What a `gpu` chapter costs on one GPU: FLOPs and kernels per step, steps and members, estimated hours.

For each chapter's `gpu` profile this counts what the chapter trains (read off its notebook and experiment module:
grids, controls, seeds, SGLD draws, per-episode fine-tuning, sweeps), and per step of each phase:

- FLOPs, counted by hand: 6 × (matmul parameters) × tokens for a decoder's training step (forward 2, backward 4),
  plus attention's quadratic term 12 × layers × T × width per token (scores and mix, forward and backward, the full
  T × T matrix); an SGLD step is a training step plus a forward pass on w* (8 instead of 6); chapter 1's Γ-SGD and
  chapter 5's one-layer model by their own formulas (``sgd_flops``, ``concept_flops``). Embedding lookups, norms,
  activations, softmax and the optimiser are left out (memory-bound, a few % of the FLOPs at these widths).
- kernels: the aten operators (views excluded) that one step dispatches, counted on the CPU at tiny widths with the
  `gpu` profile's depth and ensemble size (the count depends on those, not on width or batch). On CUDA most operators
  launch one kernel; this is the number that bounds a small model's step from below, at ``--us-per-kernel`` each
  (eager PyTorch on a current GPU: roughly 10–30 µs per operator, the Python and dispatcher overhead included).

The estimate per phase is max(FLOP-bound, launch-bound): FLOPs / (fraction × peak), and kernels × µs per kernel.
Defaults: an H100 SXM's dense TF32 peak, 494.7 TFLOP/s (the chapters enable TF32 through runtime.fast_matmul), at 5 %
(24.7 TFLOP/s, about a third of its 67 TFLOP/s fp32 CUDA-core peak): a model of width 128–256 spends much of a step in
memory-bound layer norms, activations and small matmuls. Our own CPU measurement of the chapter-2 model, 22–50 % of
the measured fp32 matmul peak (README, Performance notes), is the same order; benchmarks/gpu_check.py measures the
real steps per second on a GPU, which replaces this assumption wherever it has been run.

``--measure`` also times a few steps of each `gpu` model on this CPU (one member, a smaller batch, 1 thread) and
compares the hand count with torch's FlopCounterMode and with a large matmul's FLOP rate, as a check of the count.

    .venv/bin/python benchmarks/gpu_cost.py [--fraction 0.05] [--peak-tflops 494.7] [--us-per-kernel 20] [--measure]
    .venv/bin/python benchmarks/gpu_cost.py --chapters 04 -p 04 batch 128          # the cost of a proposal
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.dirname(__file__))
import gpu_steps as G  # noqa: E402
from iclbook import rng  # noqa: E402
from iclbook.models.gpt import GPT, GPTConfig  # noqa: E402
from iclbook.train import checkpoint_steps  # noqa: E402

CPU = torch.device("cpu")
TINY = 16  # the width at which kernels are counted


class KernelCount(TorchDispatchMode):
    """Counts the aten operators dispatched inside the ``with`` block (views, which launch nothing, excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view:
            self.n += 1
        return func(*args, **(kwargs or {}))


def count_kernels(fn) -> int:
    with KernelCount() as kc:
        fn()
    return kc.n


# ---- FLOPs by hand --------------------------------------------------------------------------------------------

def matmul_params(cfg: GPTConfig, n_layer: int | None = None) -> int:
    """Parameters that enter a matmul, per member: blocks (4C² attention, 2rC² MLP), read-in and read-out."""
    C, L = cfg.n_embd, n_layer or cfg.n_layer
    n = L * (4 + 2 * cfg.mlp_ratio) * C * C
    n += (cfg.d_in or 0) * C
    n += C * cfg.d_out  # read-out, or the tied unembedding C × V
    return n


def gpt_train_flops(cfg: GPTConfig, batch: int, T: int, E: int | None = None, per_token: float = 6.0) -> float:
    """FLOPs of one training step of E members: (per_token × matmul params + 12·L·T·C) per token; per_token 6 for a
    training step, 8 for an SGLD step (training step + forward on w*)."""
    E = cfg.n_models if E is None else E
    tokens = batch * T
    attn = 12 * cfg.n_layer * T * cfg.n_embd * per_token / 6
    return E * tokens * (per_token * matmul_params(cfg) + attn)


def gpt_forward_flops(cfg: GPTConfig, sequences: int, T: int, E: int | None = None) -> float:
    E = cfg.n_models if E is None else E
    return E * sequences * T * (2 * matmul_params(cfg) + 4 * cfg.n_layer * T * cfg.n_embd)


def sgd_flops(d: int, E: int, chunk: int = 64) -> float:
    """Chapter 1's Γ-SGD, per SGD step of E runs: residuals x·Γh (2d²), the update r·x hᵀ (2d²), the chunk's Gram
    matrices (2 × 2·chunk·d / chunk steps … per step 4·chunk·d / 2) and the triangular solve (chunk per step)."""
    return E * (4 * d * d + 2 * chunk * d + chunk)


def concept_flops(d: int, L: int, m: int, batch: int, train: bool = True) -> float:
    """Chapter 5's model per step: x_q·W_KQ (2d²), scores and mix (4Ld), MLP (2md + 2m), per prompt; ×3 to train."""
    f = batch * (2 * d * d + 4 * L * d + 2 * m * d + 2 * m)
    return 3 * f if train else f


# ---- phases -------------------------------------------------------------------------------------------------------

@dataclass
class Phase:
    chapter: str
    name: str
    flops_per_step: float  # all members together
    steps: float  # steps of this phase in the whole chapter (all runs)
    members: int  # ensemble members trained at once
    kernels_per_step: float
    note: str = ""

    def hours(self, flops_rate: float, s_per_kernel: float) -> tuple[float, float]:
        """(FLOP-bound, launch-bound) hours."""
        return (self.flops_per_step * self.steps / flops_rate / 3600,
                self.kernels_per_step * self.steps * s_per_kernel / 3600)


def unit_kernels(unit: G.Unit) -> int:
    """Operators of one training step of a unit (data, forward, backward, optimiser), after one warm-up step."""
    model = unit.make_model(CPU)
    opt = unit.optim.make(model)
    unit.step(model, opt, 0, CPU)
    return count_kernels(lambda: unit.step(model, opt, 1, CPU))


def ch01_phases() -> list[Phase]:
    from iclbook.experiments.task_complexity import pretrain_sgd
    from iclbook.tasks.regression import RegressionTask

    P = G.params("01")
    gpt = G.ch01_gpt(P)
    tiny = G.ch01_gpt(G.params("01", gpt_width=TINY), batch=2)
    seeds = rng.member_seeds(P.seed, P.seeds)
    task = RegressionTask(d=4, K=P.N, sigma2=P.sigma2, psi2=P.psi2)
    per_step = count_kernels(lambda: pretrain_sgd(task, 2048, seeds, 0.01)) / 2048  # blocks of data and chunks
    T_fine = [2**k for k in range(4, int(math.log2(max(P.T_grid))) + 1)]
    out = [Phase("01", "GPT (claim 5)", gpt_train_flops(gpt.gpt, gpt.batch_size, gpt.tokens), P.gpt_steps, 1,
                 unit_kernels(tiny)),
           Phase("01", f"Γ-SGD, T grid (d = {P.d})", sgd_flops(P.d, P.seeds), sum(P.T_grid), P.seeds, per_step)]
    for d in P.d_grid:
        out.append(Phase("01", f"Γ-SGD, tasks needed (d = {d}, 3 spectra)", sgd_flops(d, P.seeds), 3 * sum(T_fine),
                         P.seeds, per_step))
    return out


def ch02_phases() -> list[Phase]:
    from iclbook.analysis.llc import SGLDConfig, estimate_llc

    P = G.params("02")
    u = G.ch02_sweep(P)
    tiny = G.ch02_sweep(G.params("02", n_embd=TINY), batch=2)
    E = u.gpt.n_models
    ckpts = len(checkpoint_steps(P.steps, P.n_linear, P.n_log))
    ev_seqs = 2 * P.n_eval + P.n_probe
    model = tiny.make_model(CPU)
    data = tiny.batch(0, CPU)
    fwd = count_kernels(lambda: model(data[0]))
    sgld = SGLDConfig(chains=1, burn_in=0, draws=4, batch_size=2)
    x, y = data

    def llc_run():
        estimate_llc(model, lambda m, idx: tiny.loss(m, (x[:, idx], y[:, idx])), 2, sgld)
    per_sgld = count_kernels(llc_run) / 4
    sgld_steps = P.llc_chains * (P.llc_burn_in + P.llc_draws)
    return [Phase("02", f"sweep: {E} members (M = 1 … 2¹⁵, ∞)", gpt_train_flops(u.gpt, u.batch_size, u.tokens),
                  P.steps, E, unit_kernels(tiny)),
            Phase("02", f"evaluations ({ckpts} checkpoints)", gpt_forward_flops(u.gpt, ev_seqs, u.tokens), ckpts, E,
                  3 * fwd + 20, "3 forward passes on the OOD, ID and probe sets"),
            Phase("02", "LLC: SGLD, one ε of the grid", gpt_train_flops(u.gpt, P.llc_batch, u.tokens, per_token=8),
                  sgld_steps, E, per_sgld, f"{P.llc_chains} chains × {P.llc_burn_in + P.llc_draws} steps; the ε "
                  "calibration tries up to 5 ε (then up to 5×)")]


def ch03_phases() -> list[Phase]:
    from iclbook.experiments.layer_causality import KINDS, finetune_kv, replicate

    P = G.params("03")
    u = G.ch03_pretrain(P)
    tiny_P = G.params("03", n_embd=TINY, n_head=8 if TINY % 8 == 0 else 1)
    tiny = G.ch03_pretrain(tiny_P, batch=2)
    demo_T = P.n_x + 4  # BOS x1 … x_n : y </s>
    chunks = math.ceil(P.episodes / P.chunk)
    per_compare = (len(P.lr_grid) + 1) * chunks * P.K  # GD at every rate, then LCGD at the best
    n_compare = len(KINDS) * P.seeds * P.n_families
    seqs = torch.randint(0, tiny.gpt.vocab_size, (3, 2, demo_T), generator=rng.generator("test", 0))

    def ft_count(depth: int) -> float:  # per SGD step: 2 steps of each mode, as the rates' mix of GD and LCGD
        m = replicate(GPT(replace(tiny.gpt, n_layer=depth)), 3)
        gd = count_kernels(lambda: finetune_kv(m, seqs, 0.1, "gd"))
        lc = count_kernels(lambda: finetune_kv(m, seqs, 0.1, "lcgd"))
        return (len(P.lr_grid) * gd + lc) / (len(P.lr_grid) + 1) / 2

    one, two = ft_count(1), ft_count(2)  # the count is linear in depth: counted at 1 and 2, extrapolated

    def ft_kernels(depth: int) -> float:
        return one + (two - one) * (depth - 1)

    def ft_flops(depth: int) -> float:
        cfg = replace(u.gpt, n_layer=depth, n_models=P.chunk)
        lc_readouts = 6 * (depth - 1) * cfg.n_embd * cfg.vocab_size / (len(P.lr_grid) + 1)
        return gpt_train_flops(cfg, 1, demo_T) + P.chunk * demo_T * lc_readouts

    out = [Phase("03", f"pretraining ({P.seeds} seeds)", gpt_train_flops(u.gpt, u.batch_size, u.tokens),
                 P.seeds * P.steps, 1, unit_kernels(tiny)),
           Phase("03", f"fine-tuning: {n_compare} comparisons (3 models × {P.seeds} seeds × {P.n_families} families)",
                 ft_flops(P.n_layer), n_compare * per_compare, P.chunk, ft_kernels(P.n_layer),
                 f"{len(P.lr_grid)} GD rates + LCGD, {chunks} chunks of {P.chunk} episodes, K = {P.K} SGD steps")]
    depth_chunks = math.ceil(P.depth_episodes / P.chunk)
    for depth in P.control_depths:
        out.append(Phase("03", f"depth probe: depth {depth} ({P.seeds} seeds)", ft_flops(depth),
                         P.seeds * (len(P.lr_grid) + 1) * depth_chunks * P.K, P.chunk, ft_kernels(depth)))
    return out


def ch04_phases() -> list[Phase]:
    P = G.params("04")
    out = []
    for name, E, layers in (("grid", None, P.n_layer), ("shallow control", 1, P.control_layers),
                            ("deep model (claim 5)", 1, P.deep_layers)):
        if not layers:
            continue
        u = G.ch04_grid(P, E=E, n_layer=layers)
        tiny = G.ch04_grid(G.params("04", n_embd=TINY), E=E, batch=4, n_layer=layers)
        out.append(Phase("04", f"{name}: {u.gpt.n_models} member(s), depth {layers}",
                         gpt_train_flops(u.gpt, u.batch_size, u.tokens), P.steps, u.gpt.n_models, unit_kernels(tiny)))
    return out


def ch05_phases() -> list[Phase]:
    from iclbook.experiments.multi_concept import ConceptExperiment

    P = G.params("05")
    tiny_P = G.params("05", batch=8, n_test=256)
    tiny = G.ch05_concept(tiny_P, batch=8)
    sweeps = sum(len(set(g) - {cur}) for g, cur in ((P.S_grid, P.S), (P.sigma_grid, P.sigma_xi), (P.L_grid, P.L)))
    runs_big = P.seeds + 2 + 2 + 2 + sweeps  # main, no-context + linear, two MSE, two W_KQ signs, sweeps
    X = ConceptExperiment({k: getattr(tiny_P, k) for k in ConceptExperiment.FIELDS}, "/nonexistent", "cpu")
    task = X.task()
    from iclbook.tasks.concepts import make_dictionary
    dic = make_dictionary(task, rng.generator("tasks", 0))
    ev = X.make_evaluate(0, task, dic, "logistic", 8)
    model = tiny.make_model(CPU)
    ev_kernels = count_kernels(lambda: ev(model, 0))
    n_ckpt = len(replace_setting(X, P).checkpoints(P.steps))
    ev_prompts = P.n_test + max(1, min(P.n_test // 4, 1024) // P.batch) * P.batch
    step_k = unit_kernels(tiny)
    return [Phase("05", f"{runs_big} runs at batch {P.batch}", concept_flops(P.d, P.L, P.m, P.batch),
                  runs_big * P.steps, 1, step_k, "main seeds, controls, loss variants, W_KQ signs, sweeps"),
            Phase("05", f"{P.seeds} runs at batch {P.batch // 4}", concept_flops(P.d, P.L, P.m, P.batch // 4),
                  P.seeds * P.steps, 1, step_k),
            Phase("05", f"evaluations ({n_ckpt} per run)", concept_flops(P.d, P.L, P.m, ev_prompts, train=False),
                  (runs_big + P.seeds) * n_ckpt, 1, ev_kernels, "test and train sets, attention and MLP probes")]


def replace_setting(X, P):
    """The same experiment with the full `gpu` setting (its checkpoint schedule)."""
    return type(X)({k: getattr(P, k) for k in type(X).FIELDS}, X.store_root, X.device)


PHASES = {"01": ch01_phases, "02": ch02_phases, "03": ch03_phases, "04": ch04_phases, "05": ch05_phases}


def table(phases: list[Phase], flops_rate: float, s_per_kernel: float) -> str:
    rows = ["| chapter | phase | FLOPs/step | steps | members | kernels/step | FLOP-bound h | launch-bound h | "
            "estimate h |", "|---|---|---|---|---|---|---|---|---|"]
    totals: dict[str, float] = {}
    for ph in phases:
        f, k = ph.hours(flops_rate, s_per_kernel)
        totals[ph.chapter] = totals.get(ph.chapter, 0.0) + max(f, k)
        rows.append(f"| {ph.chapter} | {ph.name} | {ph.flops_per_step:.2e} | {ph.steps:,.0f} | {ph.members} | "
                    f"{ph.kernels_per_step:,.0f} | {f:.2f} | {k:.2f} | **{max(f, k):.2f}** |")
    rows.append("")
    rows.append("| chapter | estimated hours on one GPU |")
    rows.append("|---|---|")
    rows += [f"| {c} | {h:.1f} |" for c, h in totals.items()]
    return "\n".join(rows)


# ---- the CPU check of the count ---------------------------------------------------------------------------------

def matmul_peak(seconds: float = 2.0) -> float:
    """FLOP/s of a 1024² fp32 matmul on this CPU at the current thread count."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return n * 2 * 1024**3 / (time.perf_counter() - t0)


def measure(seconds: float = 3.0) -> str:
    """Per `gpu` model at one member and a smaller batch: hand-counted FLOPs, FlopCounterMode's count, CPU time."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(1)
    peak = matmul_peak()
    cases = [(G.ch01_gpt(G.params("01"), batch=32), None), (G.ch02_sweep(G.params("02"), E=1, batch=16), None),
             (G.ch03_pretrain(G.params("03"), batch=8), None), (G.ch04_grid(G.params("04"), E=1, batch=16), None),
             (G.ch05_concept(G.params("05"), batch=1024), G.params("05"))]
    rows = [f"1-thread fp32 matmul peak here: {peak / 1e9:.1f} GFLOP/s", "",
            "| model (one member) | batch | hand count | FlopCounterMode | s/step | GFLOP/s (hand) | of peak |",
            "|---|---|---|---|---|---|---|"]
    for u, P5 in cases:
        model, opt = u.make_model(CPU), None
        opt = u.optim.make(model)
        data = u.batch(0, CPU)
        u.step(model, opt, 0, CPU, data)
        with FlopCounterMode(display=False) as fc:
            u.step(model, opt, 0, CPU, data)
        counted = fc.get_total_flops()
        hand = (gpt_train_flops(u.gpt, u.batch_size, u.tokens) if u.gpt is not None else
                concept_flops(P5.d, P5.L, P5.m, u.batch_size))
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 2:
            u.step(model, opt, n, CPU, data)
            n += 1
        s = (time.perf_counter() - t0) / n
        rows.append(f"| {u.chapter}: {u.name} | {u.batch_size} | {hand:.3e} | {counted:.3e} | {s:.3f} | "
                    f"{hand / s / 1e9:.1f} | {hand / s / peak:.0%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peak-tflops", type=float, default=494.7, help="the GPU's peak (default: H100 SXM dense TF32)")
    ap.add_argument("--fraction", type=float, default=0.05, help="fraction of the peak a step reaches")
    ap.add_argument("--us-per-kernel", type=float, default=20.0, help="launch overhead per operator (µs)")
    ap.add_argument("--chapters", nargs="*", default=list(PHASES))
    ap.add_argument("--measure", action="store_true", help="also time the `gpu` models on this CPU")
    ap.add_argument("-p", nargs=3, action="append", default=[], metavar=("CHAPTER", "NAME", "VALUE"),
                    help="cost a proposal: a parameter on top of the `gpu` profile (VALUE as JSON), "
                         "e.g. -p 02 n_embd 128")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    for chapter, name, value in a.p:
        G.OVERRIDES.setdefault(chapter.zfill(2), {})[name] = json.loads(value)
    if G.OVERRIDES:
        print(f"Overrides on top of the `gpu` profile: {G.OVERRIDES}")
    phases = [ph for c in a.chapters for ph in PHASES[c]()]
    print(f"Assumption: {a.fraction:.0%} of {a.peak_tflops:g} TFLOP/s = {a.fraction * a.peak_tflops:.1f} TFLOP/s, "
          f"{a.us_per_kernel:g} µs per kernel; estimate = max(FLOP-bound, launch-bound) per phase.\n")
    print(table(phases, a.fraction * a.peak_tflops * 1e12, a.us_per_kernel * 1e-6))
    for ph in phases:
        if ph.note:
            print(f"- {ph.chapter} {ph.name}: {ph.note}")
    if a.measure:
        print()
        print(measure())


if __name__ == "__main__":
    main()
