"""Chapter 2's figures, drawn from what ``iclbook.experiments.transient_ridge`` trains and measures."""
from __future__ import annotations

import math


def m_axis(ax, keys: list[str], x_of: dict) -> None:
    """Log-M axis with ∞ at the right end (``x_of``: where each M label sits)."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ticks = [x_of[k] for k in keys]
    ax.set_xticks(ticks, keys)
    ax.xaxis.set_minor_locator(NullLocator())  # only the M ticks on x; y keeps its (log) tick labels
    if min(b / a for a, b in zip(ticks, ticks[1:])) < 1.5:  # neighbours such as 13 and 16 would overlap
        ax.tick_params(axis="x", labelrotation=60)
    ax.set_xlabel("number of pretraining tasks $M$")


def figure_threshold(final: dict, base: dict, keys: list[str], x_of: dict, ridge_loss: float, M_star: float,
                     steps: int):
    """Final OOD / ID loss against M with the dMMSE_M and ridge baselines, and the final Δ to each."""
    import matplotlib.pyplot as plt

    from ..plotting import BASELINE

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    xs = [x_of[k] for k in keys]
    axes[0].plot(xs, [final[k]["ood"] for k in keys], "o-", label="transformer, OOD")
    axes[0].plot(xs, [final[k]["id"] for k in keys], "s--", ms=4, label="transformer, ID (own pool)")
    axes[0].plot(xs, [base[k]["dmmse"] for k in keys], "^:", color=BASELINE["dmmse"], label="dMMSE$_M$, OOD")
    axes[0].axhline(ridge_loss, color=BASELINE["ridge"], lw=1, label="ridge, OOD")
    axes[0].set_ylabel("final loss (MSE / D)")
    axes[1].plot(xs, [final[k]["d_ridge"] for k in keys], "o-", color=BASELINE["ridge"], label=r"$\Delta$(model, ridge)")
    axes[1].plot(xs, [final[k]["d_dmmse"] for k in keys], "o-", color=BASELINE["dmmse"],
                 label=r"$\Delta$(model, dMMSE$_M$)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"final $\Delta$ (OOD set)")
    for ax in axes:
        m_axis(ax, keys, x_of)
        if math.isfinite(M_star):
            ax.axvline(M_star, color="grey", ls="--", lw=1, label="threshold")
        ax.legend()
    fig.suptitle(f"After {steps} steps")
    return fig


def figure_transient(runs: dict, keys: list[str], finite: list[str], base: dict, tcrit: dict, ridge_loss: float,
                     x_of: dict):
    """OOD loss across training per M with t_crit marked, and Δ to ridge / dMMSE_M at t_crit and at the end."""
    import matplotlib.pyplot as plt

    from ..plotting import BASELINE, PALETTE

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for c, k in zip(PALETTE, keys):
        r = runs[k]
        axes[0].plot(r.steps[1:], r.evals["ood"][1:], color=c, label=f"M = {k}")
        if k != "∞":
            axes[0].axhline(base[k]["dmmse"], color=c, ls=":", lw=1)
        t, v, _ = tcrit[k]
        axes[0].plot([t], [v], "v", color=c, ms=7)
    axes[0].axhline(ridge_loss, color=BASELINE["ridge"], lw=1, label="ridge")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel("OOD loss (MSE / D)")
    axes[0].set_title(r"dotted: dMMSE$_M$; ▼: $t_{\rm crit}$")
    axes[0].legend(ncol=2)
    at = {k: runs[k].evals for k in keys}
    idx = {k: tcrit[k][2] for k in keys}
    xs_f = [x_of[k] for k in finite]
    axes[1].plot(xs_f, [at[k]["d_ridge"][idx[k]] for k in finite], "o-", color=BASELINE["ridge"],
                 label=r"$\Delta$(ridge) at $t_{\rm crit}$")
    axes[1].plot(xs_f, [at[k]["d_ridge"][-1] for k in finite], "o--", color=BASELINE["ridge"], mfc="white",
                 label=r"$\Delta$(ridge) at the end")
    axes[1].plot(xs_f, [at[k]["d_dmmse"][idx[k]] for k in finite], "s-", color=BASELINE["dmmse"],
                 label=r"$\Delta$(dMMSE$_M$) at $t_{\rm crit}$")
    axes[1].plot(xs_f, [at[k]["d_dmmse"][-1] for k in finite], "s--", color=BASELINE["dmmse"], mfc="white",
                 label=r"$\Delta$(dMMSE$_M$) at the end")
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"$\Delta$ (OOD set)")
    m_axis(axes[1], keys, x_of)
    axes[1].set_xticks(xs_f, finite)
    axes[1].legend()
    return fig


def figure_trajectory_pca(pca, curves: dict, proj: dict, keys: list[str]):
    """Every M's trajectory in the plane of the joint PCA, with ridge and the dMMSE_M points projected into it."""
    import matplotlib.pyplot as plt

    from ..plotting import BASELINE, PALETTE

    fig, ax = plt.subplots(figsize=(7, 5))
    for c, k in zip(PALETTE, keys):
        ax.plot(curves[k][:, 0], curves[k][:, 1], "-", color=c, lw=1.3, label=f"M = {k}")
        ax.plot(curves[k][-1, 0], curves[k][-1, 1], "o", color=c, ms=5)
        if k != "∞":
            ax.plot(*proj[f"dmmse {k}"], "*", color=c, ms=13, mec="k", mew=0.5)
    ax.plot(*proj["ridge"], "P", color=BASELINE["ridge"], ms=12, label="ridge")
    ax.plot(curves[keys[0]][0, 0], curves[keys[0]][0, 1], "x", color="grey", ms=8, label="initialisation")
    ax.set_xlabel(f"PC1 ({pca.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({pca.explained[1]:.0%} of variance)")
    ax.set_title("★: dMMSE$_M$ (projected, not fitted); ●: end of training")
    ax.legend()
    return fig


def figure_llc(llc: dict, keys: list[str], xs: list[float], x_of: dict, M_star: float, nbeta: float, burn_in: int):
    """λ̂ of each final model against M, and every SGLD chain's trace of nβ(ℓ_b(w_t) − ℓ_b(w*))."""
    import matplotlib.pyplot as plt

    from ..plotting import BASELINE, PALETTE

    lam = {k: llc[k]["llc"] for k in keys}
    se = {k: llc[k]["se"] for k in keys}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].errorbar(xs, [lam[k] for k in keys], yerr=[2 * se[k] for k in keys], fmt="o-", capsize=3,
                     label=r"$\hat\lambda$ ± 2 s.e. over chains")
    axes[0].axhline(lam["∞"], color=BASELINE["ridge"], lw=1, ls=":", label=r"$\hat\lambda$ at M = ∞ (ridge)")
    if math.isfinite(M_star):
        axes[0].axvline(M_star, color="grey", ls="--", lw=1, label="threshold")
    m_axis(axes[0], keys, x_of)
    axes[0].set_ylabel(r"LLC $\hat\lambda$ of the final model")
    axes[0].legend()
    for c, k in zip(PALETTE, keys):
        d = nbeta * (llc[k]["trace"] - llc[k]["init"])  # (chains, steps)
        for j, row in enumerate(d):
            axes[1].plot(row, color=c, lw=0.6, alpha=0.7, label=f"M = {k}" if j == 0 else None)
    axes[1].axvline(burn_in, color="grey", lw=1, ls="--")
    axes[1].set_xlabel("SGLD step (dashed: end of burn-in)")
    axes[1].set_ylabel(r"$n\beta\,(\ell_b(w_t) - \ell_b(w^*))$")
    axes[1].set_title("every chain of every M")
    axes[1].legend(ncol=2)
    return fig


def figure_llc_ratio(ratio: dict, keys: list[str], x_of: dict, onset: float, cross: float):
    """Claim 4c: λ̂(M)/λ̂(∞) ± 1 s.e. against M, with the transient's onset and the first M at or above ridge's LLC."""
    import matplotlib.pyplot as plt

    from ..plotting import BASELINE

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [x_of[k] for k in keys]
    ax.errorbar(xs, [ratio[k][0] for k in keys], yerr=[ratio[k][1] for k in keys], fmt="o-", capsize=3,
                label=r"$\hat\lambda(M)/\hat\lambda(\infty)$ ± 1 s.e.")
    ax.axhline(1.0, color=BASELINE["ridge"], lw=1, ls=":", label="ridge's LLC (M = ∞)")
    if math.isfinite(onset):
        ax.axvline(onset, color="grey", ls="--", lw=1, label=f"onset of the transient (M = {onset:g})")
    if math.isfinite(cross):
        ax.axvline(cross, color="tab:red", ls="-.", lw=1, label=f"first M with λ̂ ≥ λ̂(∞) (M = {cross:g})")
    m_axis(ax, keys, x_of)
    ax.set_ylabel(r"$\hat\lambda(M)\,/\,\hat\lambda(\infty)$")
    ax.set_title("claim 4c: where the LLC crosses ridge's")
    ax.legend(fontsize=8)
    return fig


def figure_1d_vs_2b(points: list[tuple[str, float, float]], lim_1d: float = 0.15, lim_2b: float = 1.2):
    """Claims 1d and 2b against each other, (label, 1d, 2b) each: history rows (label ending " (history)", typed
    data with no record) as open grey squares, recorded seeds as filled circles, so that a reader tells them apart.
    No history row reached the corner where both hold (1d below its limit, 2b above); recorded seeds land on both
    sides of 2b's line, which is why 1d is expected only at `gpu`."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.axvspan(0, lim_1d, ymin=0, ymax=1, color="0.93", zorder=0)
    ax.axvline(lim_1d, color="0.5", lw=1, ls="--")
    ax.axhline(lim_2b, color="0.5", lw=1, ls="--")
    # history rows (typed data, no record behind them) and recorded seeds must not be mistaken for one another
    legend_done = set()
    for label, x, y in points:
        history = label.endswith(" (history)")
        kind = "history row (no record)" if history else "recorded seed"
        style = dict(marker="s", mfc="none", mec="0.45", color="0.45") if history else \
            dict(marker="o", color="tab:blue")
        ax.plot(x, y, ls="none", ms=6, label=None if kind in legend_done else kind, **style)
        legend_done.add(kind)
        ax.annotate(label.replace(" (history)", "*"), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7,
                    color="0.45" if history else "black")
    ax.fill_between([0, lim_1d], lim_2b, max(lim_2b + 0.2, max(p[2] for p in points) + 0.05), color="tab:green",
                    alpha=0.12, label="both hold")
    ax.set_xlim(0, max(lim_1d * 1.6, max(p[1] for p in points) * 1.8))
    ax.set_xlabel("claim 1d: (OOD loss of $M = \\infty$ − ridge) / ridge")
    ax.set_ylabel("claim 2b: $\\Delta$(ridge) at the end / at $t_{\\rm crit}$")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
