"""What chapter 4's claims read off the runs, each with its criterion: one small function per claim.

Each returns a ``Reading`` (value, criterion, detail) so that the notebook only adds it to the ledger and the tests
can feed a claim an input on which it must fail and one on which it must hold. Accuracies are last-shot accuracies
keyed as in ``EVAL_SETS``; ``tau`` is the phase threshold.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from ..claims import Criterion, above, at_least, is_true
from .modular_arithmetic import ratio_matching_by_shot

FEW_SHOTS = (2, 3)  # claim 4: the fewest shots that can determine a task (one example never does)
RM_GAP = 0.1  # claim 4: the least gap that counts as leaning on ratio matching
SHRINK = 0.5  # claim 4b: the gap at the most shots is at most this share of the few-shot gap
DECLINE = 0.1  # claim 5: the least fall of o.o.d.-test accuracy from its peak
# claim 1e: He et al.'s transition lies between n_i.d. = 128 and 256 of the 841 tasks at p = 29 (15.2 % and 30.4 %)
PAPER_SHARES = (128 / 29**2, 256 / 29**2)


class Reading(NamedTuple):
    value: Any
    criterion: Criterion
    detail: str


def claim_1a(low: dict[str, float], tau: float) -> Reading:
    """Few tasks: the model learns them (i.d.-train ≥ τ) but not unseen ones (o.o.d.-train < τ)."""
    return Reading(bool(low["id_train"] >= tau > low["ood_train"]), is_true("i.d.-train ≥ τ > o.o.d.-train"),
                   f"i.d.-train {low['id_train']:.2f}, o.o.d.-train {low['ood_train']:.2f} (last shot)")


def claim_1b(best: dict[str, float], tau: float, n_id: int, p: int) -> Reading:
    """Many tasks: unseen tasks solved in context on train inputs; n_i.d. also as a share of the p² tasks."""
    return Reading(best["ood_train"], at_least(tau),
                   f"o.o.d.-train last-shot accuracy at n_i.d. = {n_id} = {100 * n_id / p**2:.0f} % of the p² = {p**2} "
                   f"tasks (paper: 15–30 %); chance {1 / p:.2f}")


def claim_1c(finals: Sequence[dict[str, float]], tau: float) -> Reading:
    """Every grid model learned its own pretraining tasks (the phase diagram's floor)."""
    return Reading(min(a["id_train"] for a in finals), at_least(tau), "lowest i.d.-train last-shot accuracy over the grid")


def claim_1d(best: dict[str, float], tau: float, p: int) -> Reading:
    """Unseen tasks on unseen inputs (o.o.d. generalisation)."""
    return Reading(best["ood_test"], at_least(tau), f"o.o.d.-test last-shot accuracy; chance {1 / p:.2f}")


def transition(ood_train: dict[int, float], tau: float, p: int) -> tuple[float, float]:
    """Where the o.o.d. phase appears along the grid, as shares of the p² tasks: (the largest n_i.d. below the first
    that solves unseen tasks, that first one). ``ood_train`` maps n_i.d. to its o.o.d.-train last-shot accuracy
    (the best over α). NaN where there is no such point: no solver, or no point below the first solver."""
    ns = sorted(ood_train)
    first = next((n for n in ns if ood_train[n] >= tau), None)
    if first is None:
        return float("nan"), float("nan")
    below = [n for n in ns if n < first]
    return (below[-1] / p**2 if below else float("nan")), first / p**2


def claim_1e(ood_train: dict[int, float], tau: float, p: int) -> Reading:
    """The threshold's location: the paper's transition lies between 128 and 256 of 841 tasks, so the largest grid
    n_i.d. below the first that solves unseen tasks must be at least 15.2 % of the tasks and that first one at most
    30.4 %. A grid that shows no transition (none solves, or the smallest already does) fails: it cannot locate it."""
    lo, hi = transition(ood_train, tau, p)
    a, b = PAPER_SHARES
    per = ", ".join(f"{n} ({100 * n / p**2:.0f} %): {ood_train[n]:.2f}" for n in sorted(ood_train))
    where = (f"the o.o.d. phase appears between {100 * lo:.0f} % and {100 * hi:.0f} % of the tasks"
             if np.isfinite(lo) else "the grid does not bracket the transition")
    return Reading(hi, Criterion(f"share of the first solving n_i.d. ≤ {100 * b:.1f} %, and of the one below it "
                                 f"≥ {100 * a:.1f} %", lambda v: np.isfinite(lo) and lo >= a and v <= b),
                   f"o.o.d.-train last shot per n_i.d. (share of the p² = {p**2} tasks): {per}; {where} "
                   f"(paper: {100 * a:.1f}–{100 * b:.1f} %)")


def claim_1f(ood_train: dict[int, float], tau: float, p: int) -> Reading:
    """A threshold in n_i.d., at any scale: the fewest tasks leave unseen tasks unsolved, and from the first n_i.d.
    that solves them (o.o.d.-train ≥ τ) every larger one does too. A grid where none solves, where the smallest
    already does, or where a larger n_i.d. falls back below τ (the phase is then luck, not a threshold) fails. The
    value is the first solving n_i.d. as a share of the p² tasks; 1e asks for the paper's shares on top."""
    ns = sorted(ood_train)
    lo, hi = transition(ood_train, tau, p)
    first = round(hi * p**2) if np.isfinite(hi) else None
    ok = np.isfinite(lo) and all(ood_train[n] >= tau for n in ns if n >= first)
    per = ", ".join(f"{n} ({100 * n / p**2:.0f} %): {ood_train[n]:.2f}" for n in ns)
    return Reading(hi, Criterion("some n_i.d. below the first that reaches τ on unseen tasks, and every one from it "
                                 "on reaches τ", lambda v: bool(ok)),
                   f"o.o.d.-train last shot per n_i.d. (share of the p² = {p**2} tasks): {per}")


def claim_2(deep: dict[str, float], shallow: dict[str, float], tau: float, d_deep: int, d_shallow: int) -> Reading:
    """Depth: the shallow model learned its own tasks, and only the deeper one solves unseen tasks. Without the
    first condition "fails o.o.d." would say nothing about generalisation: a model that learned nothing fails too."""
    ok = shallow["id_train"] >= tau and shallow["ood_train"] < tau <= deep["ood_train"]
    return Reading(bool(ok), is_true(f"depth-{d_shallow} i.d.-train ≥ τ, depth-{d_shallow} o.o.d.-train < τ ≤ "
                                     f"depth-{d_deep} o.o.d.-train"),
                   f"depth {d_shallow}: i.d.-train {shallow['id_train']:.2f}, o.o.d.-train {shallow['ood_train']:.2f}; "
                   f"depth {d_deep}: o.o.d.-train {deep['ood_train']:.2f}")


def claim_3(ood_by_shot: np.ndarray) -> Reading:
    """Accuracy on unseen tasks rises from 1 shot to the last."""
    rise = float(ood_by_shot[-1] - ood_by_shot[1])
    return Reading(rise, above(0.3), f"o.o.d. accuracy after {len(ood_by_shot) - 1} shots minus after 1 shot "
                                      f"({ood_by_shot[1]:.2f} → {ood_by_shot[-1]:.2f})")


def _gap(rm: np.ndarray, shots: Sequence[int]) -> float:
    """Mean over ``shots`` of (accuracy where ratio matching applies − where it does not); NaN if either is empty."""
    rows = rm[np.isin(rm[:, 0], list(shots))]
    d = rows[:, 2] - rows[:, 3]
    return float(np.mean(d)) if len(d) and np.isfinite(d).all() else float("nan")


def ratio_matching_gaps(model, seqs: torch.Tensor, p: int) -> tuple[np.ndarray, float, float, tuple[int, ...], float]:
    """The per-shot table on contexts that determine the task, the gap at FEW_SHOTS and at as many of the most
    shots, and the accuracy where ratio matching applies at FEW_SHOTS."""
    rm = ratio_matching_by_shot(model, seqs, p, determined_only=True)
    n = int(rm[-1, 0])
    many = tuple(range(n - len(FEW_SHOTS) + 1, n + 1))
    where = rm[np.isin(rm[:, 0], list(FEW_SHOTS)), 2]
    return rm, _gap(rm, FEW_SHOTS), _gap(rm, many), many, float(np.mean(where)) if len(where) else float("nan")


def _leans_on_ratio_matching(tau: float) -> str:
    return f"> {RM_GAP:g}, and ≥ τ = {tau:g} right where ratio matching applies"


def claim_4(model, seqs: torch.Tensor, p: int, tau: float) -> Reading:
    """Few shots: more often right where ratio matching applies, on contexts that determine the task, where the
    exact learner is right on every query (so it shows no gap); and mostly right there (≥ τ), because a model near
    chance can show a small gap from a bias alone (at `ci`, one at chance o.o.d. showed 0.11)."""
    _, few, _, _, where = ratio_matching_gaps(model, seqs, p)
    return Reading(few, Criterion(_leans_on_ratio_matching(tau), lambda v: v > RM_GAP and where >= tau),
                   f"accuracy where the oracle applies ({where:.2f}) minus where it does not, mean over "
                   f"{FEW_SHOTS[0]}–{FEW_SHOTS[-1]} shots, unseen tasks, contexts that determine the task, "
                   "queries with z ≠ 0")


def claim_4b(model, seqs: torch.Tensor, p: int, tau: float) -> Reading:
    """Ratio matching gives way to modular regression: the few-shot gap holds claim 4a's criterion and at the most
    shots is at most SHRINK of it. The exact learner has no gap to begin with, so it fails."""
    _, few, many_gap, many, where = ratio_matching_gaps(model, seqs, p)
    ok = few > RM_GAP and where >= tau and many_gap <= SHRINK * few
    return Reading(bool(ok), is_true(f"gap at {FEW_SHOTS[0]}–{FEW_SHOTS[-1]} shots as in 4a, and at the most "
                                     f"shots ≤ {SHRINK:g} × it"),
                   f"gap {few:.2f} at {FEW_SHOTS[0]}–{FEW_SHOTS[-1]} shots, {many_gap:.2f} at {many[0]}–{many[-1]} "
                   "shots (contexts that determine the task)")


def claim_5(steps: Sequence[int], ood_test: Sequence[float], id_train: Sequence[float], tau: float) -> Reading:
    """Transient o.o.d. generalisation: o.o.d.-test peaks at ≥ τ, then falls by ≥ DECLINE while i.d.-train stays
    ≥ τ at every evaluation from the peak on (so the fall is not a collapse of training)."""
    ood, idt = np.asarray(ood_test, float), np.asarray(id_train, float)
    i = int(np.argmax(ood))
    ok = ood[i] >= tau and ood[i] - ood[-1] >= DECLINE and bool((idt[i:] >= tau).all())
    return Reading(bool(ok), is_true(f"o.o.d.-test peak ≥ τ, then a fall ≥ {DECLINE:g} while i.d.-train ≥ τ"),
                   f"o.o.d.-test peak {ood[i]:.2f} at step {steps[i]}, final {ood[-1]:.2f}; lowest i.d.-train from "
                   f"the peak on {idt[i:].min():.2f}")
