"""Training throughput: iclbook's GPT against a reference built on HF transformers' GPT2Model (as Garg et al.'s
in-context-learning code builds its model), on the same tokens, batch, Adam hyperparameters and threads.

iclbook is timed with the optimiser its trainer builds (fused Adam) and, to separate the model from the optimiser,
with torch's default Adam, which is what the reference (like Garg et al.'s code) uses.

Prints, per model config, thread count and torch.compile setting: steps/s of both, their ratio, and iclbook's achieved
FLOP/s (counted by torch's FlopCounterMode on one training step) as a fraction of a large fp32 matmul's FLOP/s measured
here at the same thread count. transformers is a benchmark-only dependency (`pip install transformers`).

    .venv/bin/python benchmarks/train_throughput.py [--seconds 3] [--threads 1 2] [--no-compile]

On a shared machine, timings are inflated by whatever else runs: the script prints the load average next to them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import torch

from iclbook import rng
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from iclbook.models.gpt import GPT, GPTConfig  # noqa: E402
from iclbook.models.regression_tokens import get_format  # noqa: E402
from iclbook.tasks.regression import RegressionTask  # noqa: E402
from iclbook.train import OptimConfig  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    n_layer: int
    n_embd: int
    n_head: int
    D: int
    K: int
    batch: int
    tokens: str


CONFIGS = (
    Bench("chapter-2 model (pair tokens)", 2, 64, 2, 4, 8, 64, "pair"),
    Bench("Raventós small (interleaved)", 4, 64, 2, 8, 16, 256, "interleaved"),
)


class HFReference(nn.Module):
    """Garg et al.'s TransformerModel: read-in Linear → GPT2Model (inputs_embeds) → read-out Linear, dropout 0."""

    def __init__(self, b: Bench, d_in: int, T: int):
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        cfg = GPT2Config(n_positions=T, n_embd=b.n_embd, n_layer=b.n_layer, n_head=b.n_head, resid_pdrop=0.0,
                         embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False)
        self._read_in = nn.Linear(d_in, b.n_embd)
        self._backbone = GPT2Model(cfg)
        self._read_out = nn.Linear(b.n_embd, 1)

    def forward(self, tokens):  # (B, T, d_in) → (B, T, 1)
        return self._read_out(self._backbone(inputs_embeds=self._read_in(tokens)).last_hidden_state)


def make_step(model: nn.Module, b: Bench, ensemble_axis: bool, trainer_adam: bool = False):
    """One Adam step on a fixed batch of this config's tokens (data generation excluded from both).

    trainer_adam: the optimiser iclbook's trainer builds (`OptimConfig.make`: fused Adam on CPU/CUDA); otherwise
    torch's default Adam, as Garg et al.'s code uses."""
    make, read, width, length = get_format(b.tokens)
    task = RegressionTask(d=b.D, K=b.K, sigma2=0.125)
    x, y, _ = task.sample(b.batch, rng.generator("test", 0), "cpu", tasks="fresh")
    tok = make(x, y)
    if ensemble_axis:
        tok, y = tok[None], y[None]
    opt = OptimConfig("adam", lr=1e-3).make(model) if trainer_adam else \
        torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = ((read(model(tok)) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def steps_per_s(step, seconds: float, warmup: int = 5) -> float:
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while (time.perf_counter() - t0) < seconds or n < 5:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def flops_per_step(step) -> int:
    with FlopCounterMode(display=False) as fc:
        step()
    return fc.get_total_flops()


def matmul_peak(threads: int, n: int = 2048, seconds: float = 2.0) -> float:
    """FLOP/s of an n×n×n fp32 matmul at this thread count (the achievable peak on this machine)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    k, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        k += 1
    return 2 * n**3 * k / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    args = ap.parse_args()
    try:
        import transformers
    except ImportError:
        print("transformers is not installed: the HF GPT2Model reference cannot run.\n"
              "It is a benchmark-only dependency: `.venv/bin/pip install transformers`, then rerun.")
        transformers = None
    print(f"torch {torch.__version__}, transformers {getattr(transformers, '__version__', '—')}, "
          f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}")
    peaks = {t: matmul_peak(t) for t in args.threads}
    print("fp32 matmul peak (2048³): " + ", ".join(f"{t} thread(s) {p / 1e9:.0f} GFLOP/s" for t, p in peaks.items()))
    for b in CONFIGS:
        _, _, width, length = get_format(b.tokens)
        T, d_in = length(b.K), width(b.D)
        ours = GPT(GPTConfig(n_layer=b.n_layer, n_embd=b.n_embd, n_head=b.n_head, block_size=T, d_in=d_in, d_out=1))
        ref = HFReference(b, d_in, T) if transformers is not None else None
        flops = flops_per_step(make_step(ours, b, True))
        for compiled in ([False] if args.no_compile else [False, True]):
            m_ours = torch.compile(ours) if compiled else ours
            step_ours = make_step(m_ours, b, True, trainer_adam=True)
            step_plain = make_step(m_ours, b, True)
            step_ref = None
            if ref is not None:
                step_ref = make_step(torch.compile(ref) if compiled else ref, b, False)
            if compiled:  # compile once, outside the timings
                torch.set_num_threads(args.threads[0])
                step_ours()
                step_plain()
                if step_ref:
                    step_ref()
            for t in args.threads:
                torch.set_num_threads(t)
                s_ours = steps_per_s(step_ours, args.seconds)
                s_plain = steps_per_s(step_plain, args.seconds)
                s_ref = steps_per_s(step_ref, args.seconds) if step_ref else float("nan")
                print(f"{b.name:32s} threads={t} compile={'yes' if compiled else 'no ':3s} iclbook {s_ours:7.1f} "
                      f"steps/s (with torch's default Adam {s_plain:7.1f})  HF-GPT2 ref {s_ref:7.1f} steps/s  "
                      f"ratio {s_ours / s_ref:5.2f}× (model alone {s_plain / s_ref:4.2f}×)  "
                      f"iclbook {flops * s_ours / 1e9:6.1f} GFLOP/s = {flops * s_ours / peaks[t]:5.1%} of peak  "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
        print(f"  ({b.name}: {flops / 1e6:.1f} MFLOP per training step, "
              f"{ours.num_params():,} parameters in iclbook's model)")


if __name__ == "__main__":
    main()
