"""Probes of the multi-concept model: correct attention, weight-feature products, MLP summaries, convergence rates.

They read a trained `ConceptTransformer` against the `ConceptDictionary` that made its data (Bu et al. 2024, Fig. 2:
correct attention weight; largest products with concept-specific features, complement features and noise; MLP weights).
Concept-specific features are the contrast directions that carry a word's sign (v_k) and a label's sign (vb_k);
complement features are the shared directions u_k, ub_k, present in both signs and so useless for the label; noise is
drawn from the data's ξ.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from iclbook.models.concept import ConceptTransformer
from iclbook.tasks.concepts import ConceptDictionary


def correct_attention(alpha: torch.Tensor, informative: torch.Tensor) -> float:
    """Mean share of attention on the demonstrations that share the query's task-concept sign.

    Σ_{informative} α_l / Σ_l |α_l|: for softmax this is the attention mass on them (1/2 at uniform attention when
    the demos are balanced); for linear attention, whose α can be negative, it lies in [-1, 1].
    """
    num = (alpha * informative.to(alpha.dtype)).sum(-1)
    den = alpha.abs().sum(-1).clamp_min(1e-30)
    return float((num / den).mean())


@torch.no_grad()
def feature_products(
    model: ConceptTransformer, dic: ConceptDictionary, sigma_xi: float, gen: torch.Generator, n_noise: int = 256
) -> dict[str, float]:
    """Largest |product| of the weights with concept-specific features, complement features and noise.

    Attention (W_KQ): specific = max_k |v_k^T W_KQ v_k| (query sign × demo sign of one concept); complement = max over
    the other pairs of dictionary directions, the identity init removed from the shared u_k^T W u_k diagonal so
    that only learned change counts; noise = max |ξ^T W_KQ ξ'|. MLP (w_r): specific = max |w_r·vb_k|; complement =
    max |w_r·f| over f in {u_k, v_k, ub_k}; noise = max |w_r·ξ|.
    """
    out: dict[str, float] = {}
    xi = sigma_xi * torch.randn(n_noise, dic.u.shape[1], generator=gen, device=gen.device)
    if model.cfg.attention != "none":
        D = dic.all_directions()  # (4K, d): u, v, ub, vb
        K = dic.u.shape[0]
        W = model.W_KQ - model.cfg.kq_init * torch.eye(model.W_KQ.shape[0], device=model.W_KQ.device)
        P = D @ W @ D.T  # (4K, 4K)
        idx = torch.arange(K, device=P.device)
        spec = P[K + idx, K + idx]
        mask = torch.ones_like(P, dtype=torch.bool)
        mask[K + idx, K + idx] = False
        out["attn_specific"] = float(spec.abs().max())
        out["attn_complement"] = float(P.abs()[mask].max())
        out["attn_noise"] = float((xi[: n_noise // 2] @ W @ xi[n_noise // 2 :].T).abs().max())
    Wm = model.W
    out["mlp_specific"] = float((Wm @ dic.vb.T).abs().max())
    comp = torch.cat([dic.u, dic.v, dic.ub])
    out["mlp_complement"] = float((Wm @ comp.T).abs().max())
    out["mlp_noise"] = float((Wm @ xi.T).abs().max())
    return out


@torch.no_grad()
def mlp_summary(model: ConceptTransformer, dic: ConceptDictionary) -> dict[str, float]:
    """MLP weights: mean neuron norm, and the mean signed read-out s_r·w_r·vb_k/|vb_k| over neurons and concepts."""
    s = torch.sign(model.a)
    vb_hat = dic.vb / dic.vb.norm(dim=1, keepdim=True)
    readout = (s[:, None] * (model.W @ vb_hat.T)).mean()
    return {"mlp_norm": float(model.W.norm(dim=1).mean()), "mlp_label_readout": float(readout)}


def suffix_max(x: np.ndarray) -> np.ndarray:
    """M(t) = max_{s >= t} x(s): the smallest non-increasing curve above x (the level x stays below from t on)."""
    return np.flip(np.maximum.accumulate(np.flip(np.asarray(x, dtype=float))))


def decay_window(
    steps: np.ndarray, errors: np.ndarray, floor: float = 0.0, start: float = 0.3, resolution: float = 1e-3,
    envelope: bool = False,
) -> tuple[np.ndarray, np.ndarray] | int:
    """The decaying part of a 0-1 error curve as (steps, log(err - floor)); with fewer than 3 points, their number.

    It starts after the last evaluation with err > start (the plateau and SGD's excursions from it) and ends at the
    last point whose err - floor is above what the test set resolves; points below the resolution are left out.
    envelope=True uses the suffix maximum max_{s>=t} err(s) (see `fit_exponential_rate`).
    """
    steps = np.asarray(steps, dtype=float)
    errors = suffix_max(errors) if envelope else np.asarray(errors, dtype=float)
    gap = errors - floor
    high = np.nonzero(gap + floor > start)[0]
    i0 = int(high[-1]) + 1 if len(high) else 0
    if i0 >= len(gap):
        return 0
    above = np.nonzero(gap > resolution)[0]
    above = above[above >= i0]
    if len(above) < 3:
        return int(len(above))
    sel = np.arange(i0, above[-1] + 1)
    sel = sel[gap[sel] > resolution]
    return steps[sel], np.log(gap[sel])


def _line(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares (intercept, slope) of y on t, and R²."""
    A = np.stack([np.ones_like(t), t], 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    return coef, float(1 - resid.var() / max(y.var(), 1e-30))


def fit_exponential_rate(
    steps: np.ndarray, errors: np.ndarray, floor: float = 0.0, start: float = 0.3, resolution: float = 1e-3,
    envelope: bool = False,
) -> dict[str, float]:
    """Fit log(err - floor) = c - rate·t on the decaying part of a 0-1 error curve (`decay_window`).

    Returns rate (per step), the e-folding time 1/rate, R² of the fit, the number of points used, and the line itself
    (log_c, over t_first..t_last).

    envelope=True fits the suffix maximum max_{s>=t} err(s) instead of err(t). A bound err(t) <= C e^{-rate·t} holds
    for err if and only if it holds for this envelope, so the fit tests the bound's shape without being pulled by the
    dips between SGD's excursions; it is the same "stays below" reading as `steps_to_eps(hold=True)`.
    """
    w = decay_window(steps, errors, floor, start, resolution, envelope)
    if isinstance(w, int):
        return {"rate": math.nan, "e_fold": math.nan, "r2": math.nan, "n": w}
    t, y = w
    coef, r2 = _line(t, y)
    rate = -coef[1]
    return {"rate": float(rate), "e_fold": float(1 / rate) if rate > 0 else math.inf, "r2": float(r2), "n": int(len(t)),
            "log_c": float(coef[0]), "t_first": float(t[0]), "t_last": float(t[-1])}


def rate_by_thirds(
    steps: np.ndarray, errors: np.ndarray, floor: float = 0.0, start: float = 0.3, resolution: float = 1e-3,
    envelope: bool = True,
) -> dict[str, float]:
    """Decay rates of log(err) in the first and the last third (in steps) of the decaying window, and their ratio.

    Tells an exponential from a power law in the step count: an exponential keeps one rate (ratio 1; above 1 while
    the descent still speeds up out of the plateau), while t^-a, timed from the start of training, has the rate a/t,
    which falls along the window. Over a window from 0.3 to 1e-3 the ratio is about 0.41 for t^-4 and 0.31 for t^-3.
    ``power_a`` is the exponent a power law from step 0 needs to fall across this window's error range in its
    steps, and ``power_ratio`` the ratio such a law would show here: the steepest power law the test can refute.
    """
    nan = {"ratio": math.nan, "rate_first": math.nan, "rate_last": math.nan, "power_a": math.nan,
           "power_ratio": math.nan}
    w = decay_window(steps, errors, floor, start, resolution, envelope)
    if isinstance(w, int):
        return nan
    t, y = w
    third = (t[-1] - t[0]) / 3
    first, last = t <= t[0] + third, t >= t[-1] - third
    if first.sum() < 2 or last.sum() < 2 or t[0] <= 0:
        return nan
    r1, r3 = -_line(t[first], y[first])[0][1], -_line(t[last], y[last])[0][1]
    a = (y[0] - y[-1]) / math.log(t[-1] / t[0])
    law = -a * np.log(t)
    p1, p3 = -_line(t[first], law[first])[0][1], -_line(t[last], law[last])[0][1]
    ratio = r3 / r1 if r1 > 0 else (math.inf if r3 > 0 else math.nan)
    return {"ratio": float(ratio), "rate_first": float(r1), "rate_last": float(r3), "power_a": float(a),
            "power_ratio": float(p3 / p1) if p1 > 0 else math.nan}


def steps_to_eps(steps: np.ndarray, errors: np.ndarray, eps: float, floor: float = 0.0, hold: bool = True) -> float:
    """First step at which err - floor <= eps (nan if never); with hold, the first step from which it stays <= eps.

    hold makes the count robust to SGD's brief excursions of the test error above ε after it first got there.
    """
    ok = np.asarray(errors, dtype=float) - floor <= eps
    if hold:
        ok = np.flip(np.logical_and.accumulate(np.flip(ok)))
    hit = np.nonzero(ok)[0]
    return float(np.asarray(steps)[hit[0]]) if len(hit) else math.nan


def log_eps_slope(eps: np.ndarray, n_steps: np.ndarray) -> dict[str, float]:
    """Least-squares slope of steps-to-ε against log(1/ε), and R²: linear means the log(1/ε) efficiency law."""
    ok = np.isfinite(n_steps)
    x, y = np.log(1 / np.asarray(eps, dtype=float)[ok]), np.asarray(n_steps, dtype=float)[ok]
    if len(x) < 2:
        return {"slope": math.nan, "r2": math.nan, "n": int(len(x))}
    A = np.stack([np.ones_like(x), x], 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    r2 = 1 - resid.var() / max(y.var(), 1e-30)
    return {"slope": float(coef[1]), "r2": float(r2), "n": int(len(x))}


@torch.no_grad()
def evaluate_prompts(model: ConceptTransformer, batch, loss: str = "logistic") -> dict[str, float]:
    """On one prompt set: 0-1 error against the observed target (err) and the noiseless one (err_clean), the mean
    training loss, and the correct attention weight (absent for the no-context control)."""
    from iclbook.models.concept import concept_loss

    o, alpha = model.attend(batch.demos, batch.query)
    f = model.mlp(o)
    pred = torch.where(f > 0, 1.0, -1.0)
    out = {"err": float((pred != batch.y).float().mean()), "err_clean": float((pred != batch.y_clean).float().mean()),
           "loss": float(concept_loss(f, batch.y, loss))}
    if alpha is not None:
        out["correct_attn"] = correct_attention(alpha, batch.informative)
    return out
