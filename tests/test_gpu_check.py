"""The device check's CPU half (benchmarks/gpu_check.py, issue 37 part 4), as CI runs it: every chapter's `gpu` code
path at tiny sizes, the fp32-against-fp64 reference comparisons within the GPU tolerances, and the plain statement
that the GPU half was skipped."""
import importlib
import math
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """A benchmarks/ script as a module (benchmarks/ is not a package)."""
    import sys

    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def test_cpu_half_runs_every_chapter_and_says_the_gpu_half_was_skipped(capsys, monkeypatch):
    monkeypatch.setenv("ICLBOOK_DEVICE", "cpu")
    check = _load("gpu_check")
    assert check.main(["--cpu-only", "--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "GPU half skipped: --cpu-only was given" in out or "GPU half skipped: no CUDA device" in out
    for c in ("01", "02", "03", "04", "05"):
        assert f"| {c} |" in out and f"chapter {c}: " in out
    assert "FAILED" not in out


def test_the_tolerances_catch_a_wrong_model_and_pass_fp32_rounding(monkeypatch):
    """compare() at fp64 against fp32 stays far inside the tolerances (they are not tighter than fp32 rounding),
    while a model whose causal mask is off (attention that sees the future) fails the forward tolerance."""
    check = _load("gpu_check")
    r = check.compare("02", torch.device("cpu"), torch.float64)
    assert r["fwd32"] < check.TOL["fwd32"] / 10 and r["loss"] < check.TOL["loss"] and r["update"] < check.TOL["update"]
    import torch.nn.functional as F

    real = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention",
                        lambda q, k, v, is_causal=False, **kw: real(q, k, v, is_causal=False, **kw)
                        if q.dtype == torch.float64 else real(q, k, v, is_causal=is_causal, **kw))
    bad = check.compare("02", torch.device("cpu"), torch.float64)
    assert not math.isnan(bad["fwd32"]) and bad["fwd32"] > check.TOL["fwd32"]


def test_the_gpu_half_runs_its_steps_on_the_cpu_at_tiny_sizes(monkeypatch):
    """The GPU half's own control flow (steps/s of the full step, main-training hours, the path, the comparison),
    on the CPU with every `gpu` parameter shrunk, so that a slip in it does not first show on a reader's GPU."""
    check = _load("gpu_check")
    monkeypatch.setattr(check.G, "OVERRIDES", {"01": {**check.TINY["01"], "gpt_batch": 4}})
    rows = check.check(["01"], True, torch.device("cpu"), steps=5, seconds=0.1, log=lambda s: None)
    assert not rows[0].failed() and rows[0].steps_per_s > 0 and rows[0].main_hours > 0
    assert "steps" in rows[0].path and "full gpu step" in check.table(rows, True, torch.device("cpu"))
