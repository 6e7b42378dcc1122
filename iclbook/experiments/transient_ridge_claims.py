"""What chapter 2's claims read off a sweep, each with its criterion: one small function per claim.

Each returns a ``Reading`` (value, criterion, detail), so that a notebook only adds it to the ledger and the tests can
feed a claim an input on which it must fail and one on which it must hold. The values are the ones the chapter
computes inline today (``chapters/02_transient_ridge.py``, claims 1a–1d, 2a–2d, 3b, 3c, 4a–4c), reproduced exactly;
the chapter will call these functions when it is wired to them (issue 34), with renewed records. Two changes wait
for that wiring and live here already: 2a–2c move out of the notebook (``transient_readings``), and claim 1e needs a
finite M on the ridge side (``claim_1e``).

Inputs are plain numbers and arrays: ``final[k]`` holds a model's last evaluation ("ood", "d_ridge", "d_dmmse") for
the M labelled k, losses are MSE / D, Δ is the mean squared prediction difference / D on the OOD set.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..analysis.transient import smoothed_minimum, threshold_between
from ..claims import Criterion, above, at_least, below, is_true


class Reading(NamedTuple):
    value: Any
    criterion: Criterion
    detail: str

    @property
    def holds(self) -> bool:
        return self.criterion(self.value)


# -- 1: the threshold ------------------------------------------------------------------------------------------------
def claim_1a(low: dict) -> Reading:
    """Small M ends at dMMSE_M, not ridge: Δ(model, dMMSE_M) / Δ(model, ridge) at the end (Raventós et al., Fig. 2)."""
    return Reading(low["d_dmmse"] / low["d_ridge"], below(0.3), "Δ(model, dMMSE_M) / Δ(model, ridge) at the end")


def claim_1b(low: dict, ridge_loss: float, dmmse_low: float, label: str) -> Reading:
    """Small M does badly on fresh tasks: (OOD − ridge) / (dMMSE_M − ridge) at the smallest M."""
    return Reading((low["ood"] - ridge_loss) / (dmmse_low - ridge_loss), above(0.5),
                   f"(OOD − ridge) / (dMMSE_M − ridge) at M = {label}")


def claim_1c(d_ridge_inf: float, dmmse_to_ridge_top: float, top: str) -> Reading:
    """M = ∞ matches ridge: Δ(model, ridge) / Δ(dMMSE_top, ridge), 0.25 for a model halfway between the two."""
    return Reading(d_ridge_inf / dmmse_to_ridge_top, below(0.1),
                   f"Δ(model, ridge) / Δ(dMMSE_{top}, ridge) on the OOD set (a model halfway between ridge and "
                   f"dMMSE_{top} scores 0.25)")


def claim_1d(ood_inf: float, ridge_loss: float) -> Reading:
    """M = ∞ solves fresh tasks near the Bayes risk: (OOD − ridge) / ridge."""
    return Reading((ood_inf - ridge_loss) / ridge_loss, below(0.15), "(OOD − ridge) / ridge at M = ∞")


def claim_1e(ridge_side: dict[str, bool], finite: Sequence[str], x_of: dict[str, float]) -> Reading:
    """One threshold, placed by the grid: the sides separate over the finite M and ∞ (``threshold_between``) *and*
    some finite M ends on the ridge side. With every finite M on the dMMSE side only ∞ is ridge-side, and the grid
    cannot place the threshold (it could sit anywhere above the largest M): the claim fails and says so (until
    December 2026 it held in that case; the science review found it held at `ci` in 10 of 10 seeds while 1c and 1d
    held in none)."""
    order = [*finite, "∞"]
    M_star = threshold_between([x_of[k] for k in order], [ridge_side[k] for k in order])
    sides = "; ".join(f"M = {k}: {'ridge' if ridge_side[k] else 'dMMSE'}" for k in order)
    if not any(ridge_side[k] for k in finite):
        return Reading(False, is_true("sides separate at a finite M"),
                       f"{sides}; no finite M ends on the ridge side, so the grid cannot place a threshold")
    return Reading(bool(math.isfinite(M_star)), is_true("sides separate at a finite M"),
                   sides + (f"; M* ≈ {M_star:.1f}" if math.isfinite(M_star) else "; the sides interleave"))


# -- 2: the transient ------------------------------------------------------------------------------------------------
def t_crit(steps: np.ndarray, ood: np.ndarray) -> tuple[int, float, int]:
    """(t_crit, smoothed OOD loss there, its index): the minimum of the OOD loss averaged over five checkpoints."""
    return smoothed_minimum(steps, ood, half_window=2)


def claim_2a(steps, ood, dmmse_loss: float, ridge_loss: float, label: str) -> Reading:
    """The OOD loss falls, then rises toward dMMSE_M: (final OOD − smoothed minimum) / (dMMSE_M − ridge)
    (Carroll et al. 2025, Fig. 1)."""
    t_c, ood_min, _ = t_crit(steps, ood)
    return Reading((float(ood[-1]) - ood_min) / (dmmse_loss - ridge_loss), above(0.05),
                   f"(final OOD − smoothed minimum) / (dMMSE_M − ridge) at M = {label}; t_crit = {t_c}")


def claim_2b(steps, ood, d_ridge) -> Reading:
    """At t_crit the model is closer to ridge than at the end: Δ(model, ridge) at the end / at t_crit."""
    _, _, i_c = t_crit(steps, ood)
    return Reading(float(d_ridge[-1]) / float(d_ridge[i_c]), above(1.2), "Δ(model, ridge) at the end / at t_crit")


def claim_2c(steps, ood, d_ridge, d_dmmse) -> Reading:
    """The ridge → dMMSE_M crossover: closer to ridge than to dMMSE_M at t_crit, closer to dMMSE_M at the end."""
    _, _, i_c = t_crit(steps, ood)
    value = bool(d_ridge[i_c] < d_dmmse[i_c] and d_dmmse[-1] < d_ridge[-1])
    return Reading(value, is_true("crossover"),
                   f"Δ ridge / dMMSE: {d_ridge[i_c]:.3f} / {d_dmmse[i_c]:.3f} at t_crit, "
                   f"{d_ridge[-1]:.3f} / {d_dmmse[-1]:.3f} at the end")


def transient_readings(steps, evals: dict, dmmse_loss: float, ridge_loss: float, label: str) -> dict[str, Reading]:
    """Claims 2a, 2b and 2c of one model (``evals`` with "ood", "d_ridge", "d_dmmse" per checkpoint)."""
    ood, dr, dd = (np.asarray(evals[k], dtype=float) for k in ("ood", "d_ridge", "d_dmmse"))
    return {"2a": claim_2a(steps, ood, dmmse_loss, ridge_loss, label), "2b": claim_2b(steps, ood, dr),
            "2c": claim_2c(steps, ood, dr, dd)}


def has_transient(side: np.ndarray) -> bool:
    """The chapter's per-M transient (claim 2d's detail, 4c's onset): on the ridge side at some checkpoint after the
    first 2 % of training (``transient_ridge.on_ridge_side``), on the dMMSE side at the end."""
    return bool(side.any() and not side[-1])


def claim_2d(side_low: np.ndarray, side_high: np.ndarray, low: str, high: str) -> Reading:
    """No transient below the window (the smallest M is never on the ridge side) and none above it (the largest
    finite M is always on it), from 2 % of training on."""
    return Reading(bool(not side_low.any() and side_high.all()), is_true("both"),
                   f"M = {low} on the ridge side at {side_low.mean():.0%} of checkpoints, M = {high} at "
                   f"{side_high.mean():.0%}")


# -- 3: the trajectory PCA -------------------------------------------------------------------------------------------
def claim_3b(detour: float) -> Reading:
    """The M_transient trajectory detours toward ridge (``transient_ridge.detour_toward_ridge``, full probe space)."""
    return Reading(detour, above(0.3), "largest coordinate along dMMSE_M → ridge of a ridge-side checkpoint near "
                   "ridge, minus the coordinate at the end")


def claim_3c(end_near: dict[str, bool], low: str, high: str) -> Reading:
    """Low M ends at its dMMSE_M point, high M nearer ridge (``transient_ridge.pca_geometry``'s ``end_near``)."""
    return Reading(bool(end_near[low] and not end_near[high]), is_true("both"),
                   "; ".join(f"M = {k}: {'dMMSE' if v else 'ridge'}" for k, v in end_near.items()))


# -- 4: the LLC (readings of ``transient_ridge.llc_geometry``) -------------------------------------------------------
def claim_4a(g: dict) -> Reading:
    """The LLC of dMMSE-side models rises with M: Kendall's τ over every dMMSE-side M (Carroll et al., Fig. 4)."""
    return Reading(g["tau"], at_least(0.8), "Kendall's τ between M and λ̂ over every dMMSE-side M (needs ≥ 3)")


def claim_4b(g: dict) -> Reading:
    """Ridge-side models share roughly one LLC: (max − min) / mean of λ̂ over the ridge-side M."""
    return Reading(g["spread"], below(0.25), f"(max − min) / mean of λ̂ over M = {', '.join(g['r_side'])}")


def claim_4c(g: dict) -> Reading:
    """The dMMSE-side LLC crosses ridge's near the transient's onset: |log₂(M_cross / M_onset)|."""
    return Reading(g["gap"], below(1.01), f"|log₂(M_cross / M_onset)|: first M with λ̂ ≥ λ̂(∞) = {g['cross']:g}, "
                   f"first M with a transient = {g['onset']:g}")


def finite_or(value: float, cap: float) -> float:
    """An infinite reading (no crossing, no onset) as ``cap`` for a trend; nan stays nan."""
    return cap if isinstance(value, float) and math.isinf(value) else value
