"""Where and how computations run: device and CPU threads (random streams: ``iclbook.rng``).

Chosen once per process, so that no other module calls ``.cuda()`` or guesses a device.
"""
from __future__ import annotations

import os

import torch

# Measured by benchmarks/threads.py on the 2-core CI machine, quiet: 2 threads beat 1 for every model we train
# (GPT 2x64: 1.38x, 4x64: 1.48x, 4x128: 1.69x; chapter 1's Γ-SGD: 1.13x). Under contention 2 threads collapse,
# so parallel jobs should set ICLBOOK_THREADS=1.
DEFAULT_CPU_THREADS = 2


def device() -> torch.device:
    """CUDA when present, else CPU; ``ICLBOOK_DEVICE`` (e.g. ``cpu``, ``cuda:1``) overrides."""
    name = os.environ.get("ICLBOOK_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_profile() -> str:
    """The profile a chapter runs at when none is given: ``gpu`` with CUDA, ``cpu`` otherwise."""
    return "gpu" if device().type == "cuda" else "cpu"


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op CPU threads (``ICLBOOK_THREADS`` overrides the measured default)."""
    if n is None:
        n = int(os.environ.get("ICLBOOK_THREADS", DEFAULT_CPU_THREADS))
    n = max(1, min(n, os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n


def fast_matmul(dev: torch.device) -> None:
    """On CUDA, let float32 matmuls use TF32 tensor cores (about 8× the fp32 rate on an H100, ~1e-3 relative
    precision, far below the SGD noise of any model in this book). CPU results are unaffected."""
    if dev.type == "cuda":
        torch.set_float32_matmul_precision("high")
