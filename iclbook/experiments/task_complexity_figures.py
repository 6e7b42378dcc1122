"""Chapter 1's figures, drawn from what ``iclbook.experiments.task_complexity`` computes."""
from __future__ import annotations

import math

import numpy as np

from ..tasks.spectra import SPECTRA, effective_dim, spectrum


def figure_excess_risk(Ts: np.ndarray, excess: np.ndarray, large: np.ndarray, title: str):
    """Excess risk of the SGD-pretrained Γ_T against T (``excess``: (T, seed)), the range over seeds, and a 1/T guide
    through the first point of the ``large``-T range."""
    import matplotlib.pyplot as plt

    mean = excess.mean(1)
    fig, ax = plt.subplots()
    ax.loglog(Ts, mean, "o-", label=r"SGD, mean of seeds")
    ax.fill_between(Ts, excess.min(1).clip(1e-6), excess.max(1), alpha=0.2, label="range over seeds")
    ax.loglog(Ts[large], mean[large][0] * Ts[large][0] / Ts[large], "k--", lw=1, label=r"$\propto 1/T$")
    ax.set_xlabel("pretraining tasks $T$ (= SGD steps)")
    ax.set_ylabel(r"excess risk $\mathcal{R}_N(\Gamma_T) - \mathcal{R}_N(\Gamma^*_N)$")
    ax.set_title(title)
    ax.legend()
    return fig


def figure_risk_vs_context(M_grid: list[int], risks: dict, N: int, title: str):
    """Risk against the test context length M (``risks``: label → (values, format, line width or None)), the
    pretraining length N marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for label, (values, fmt, lw) in risks.items():
        ax.semilogx(M_grid, values, fmt, label=label, **({"lw": lw} if lw else {}))
    ax.axvline(N, color="grey", lw=0.8)
    ax.set_xlabel("test context length $M$")
    ax.set_ylabel("risk (MSE on the query)")
    ax.set_title(title)
    ax.legend()
    return fig


def figure_tasks_needed(curves: dict, needed: dict, T_fine: list[int], d_grid: list[int], eps: float):
    """Excess risk against T at the largest d per spectrum (each curve stops where it reached ``eps``: see
    ``tasks_needed``), and the tasks needed against d; a count never reached is drawn as an open marker at the end
    of the T range."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    d_max = max(d_grid)
    for name in SPECTRA:
        curve = curves[name, d_max]
        axes[0].loglog(T_fine[:len(curve)], curve.clip(1e-5), "o-", ms=3,
                       label=f"{name} (d_eff ≈ {effective_dim(spectrum(name, d_max)):.1f})")
        finite = [dd for dd in d_grid if math.isfinite(needed[name, dd])]
        line, = axes[1].loglog(finite, [needed[name, dd] for dd in finite], "o-", label=name)
        missed = [dd for dd in d_grid if not math.isfinite(needed[name, dd])]
        if missed:
            axes[1].loglog(missed, [T_fine[-1]] * len(missed), "^", mfc="none", color=line.get_color(),
                           label=f"{name}: not reached by T = {T_fine[-1]}")
    axes[0].axhline(eps, color="k", lw=1, ls=":", label=r"$\varepsilon$")
    axes[0].set_xlabel("pretraining tasks $T$")
    axes[0].set_ylabel("excess risk (median of seeds)")
    axes[0].set_title(f"d = {d_max}")
    axes[0].legend()
    axes[1].loglog(d_grid, np.array(d_grid, float) ** 2, "k--", lw=1, label="$d^2$")
    axes[1].set_xticks(d_grid, [str(dd) for dd in d_grid])
    axes[1].minorticks_off()
    axes[1].set_xlabel("dimension $d$")
    axes[1].set_ylabel(r"tasks needed for excess risk $\leq \varepsilon$")
    axes[1].legend()
    return fig


def figure_gpt_vs_ridge(steps, mse_hist, mse_ridge, mse_zero):
    """The transformer's MSE per position against ridge and the zero predictor, and its last-position MSE over
    training."""
    import matplotlib.pyplot as plt

    K = len(mse_ridge)
    mse_final = np.array(mse_hist[-1])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(np.arange(1, K + 1), mse_final, "o-", label="transformer")
    axes[0].plot(np.arange(1, K + 1), mse_ridge, "k-", label="ridge λ = σ²/ψ² (Bayes)")
    axes[0].plot(np.arange(1, K + 1), mse_zero, ":", color="grey", label="predict 0")
    axes[0].set_xlabel("position $k$ (pairs seen: $k-1$)")
    axes[0].set_ylabel("MSE")
    axes[0].legend()
    axes[1].plot(steps[1:], np.array(mse_hist)[1:, -1], label="transformer, last position")
    axes[1].axhline(mse_ridge[-1], color="k", lw=1, label="Bayes")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel(f"MSE at position {K}")
    axes[1].legend()
    return fig
