"""Is 1 or 2 CPU threads faster for the book's models? Prints steps/s for each and their ratio, measured in one run.

Run on a quiet machine: `.venv/bin/python benchmarks/threads.py`. The result sets runtime.DEFAULT_CPU_THREADS.
"""
from __future__ import annotations

import time

import torch

from iclbook import closed_forms as cf
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.experiments.task_complexity import pretrain_sgd
from iclbook.tasks.regression import RegressionTask


def gpt_steps_per_s(n_layer: int, width: int, batch: int, d: int = 8, K: int = 17, seconds: float = 4.0) -> float:
    """Adam training steps/s of the interleaved-token regression transformer."""
    model = GPT(GPTConfig(n_layer=n_layer, n_embd=width, n_head=2, block_size=2 * K, d_in=d + 1, d_out=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(1, batch, 2 * K, d + 1)
    y = torch.randn(1, batch, 2 * K, 1)

    def step():
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def sgd_steps_per_s(d: int = 8, E: int = 8, T: int = 16384) -> float:
    """Chapter 1's one-pass SGD for Γ: steps/s (per run, E runs batched)."""
    task = RegressionTask(d=d, K=16, sigma2=1.0, psi2=1 / d)
    g0 = cf.suggested_gamma0(torch.ones(d), 16, 1.0, 1 / d)
    t0 = time.perf_counter()
    pretrain_sgd(task, T, list(range(E)), g0)
    return T / (time.perf_counter() - t0)


CASES = {
    "GPT 2x64, batch 64 (chapter 1/2 size)": lambda: gpt_steps_per_s(2, 64, 64),
    "GPT 4x64, batch 128": lambda: gpt_steps_per_s(4, 64, 128),
    "GPT 4x128, batch 64": lambda: gpt_steps_per_s(4, 128, 64),
    "Γ one-pass SGD, d=8, 8 runs": sgd_steps_per_s,
}

if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available by default")
    print(f"{'case':<42} {'1 thread':>10} {'2 threads':>10} {'2/1':>6}")
    for name, fn in CASES.items():
        rates = {}
        for n in (1, 2, 1, 2):  # interleaved, best of two, to damp drift
            torch.set_num_threads(n)
            rates[n] = max(rates.get(n, 0.0), fn())
        print(f"{name:<42} {rates[1]:>10.1f} {rates[2]:>10.1f} {rates[2] / rates[1]:>6.2f}")
