"""Chapter 5's figures, drawn from what ``iclbook.experiments.multi_concept`` trains and measures."""
from __future__ import annotations

import numpy as np
import torch

from ..analysis.concept_probes import suffix_max
from ..tasks.concepts import ConceptBatch, ConceptTask
from .multi_concept import EPS, eps_steps, series


def figure_data_model(task: ConceptTask, dic, ex: ConceptBatch):
    """The dictionary's Gram matrix, the words of one prompt in the concept basis, and its demonstration labels."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    words = torch.cat([ex.demos[0] - dic.label(ex.task.expand(task.L), ex.demo_labels[0]), ex.query]).cpu()
    coef_sign = (words @ dic.v.T.cpu()) / task.v_norm**2  # signed activation σ_j of each concept (± 1 or 0)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4), gridspec_kw={"width_ratios": [1, 1.1, 1.2]})
    kk = torch.arange(min(task.K, 4), device=dic.u.device)
    feats = torch.cat([dic.word(kk, torch.ones_like(kk)), dic.word(kk, -torch.ones_like(kk))]).cpu()
    order = torch.arange(2 * len(kk)).view(2, -1).T.reshape(-1)
    G = (feats @ feats.T)[order][:, order]
    names = [f"$a_{k}^{s}$" for k in range(len(kk)) for s in "+-"]
    im = axes[0].imshow(G, cmap="RdBu_r", vmin=-2, vmax=2)
    axes[0].set_xticks(range(len(names)), names)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].set_xlabel("word feature")
    axes[0].set_ylabel("word feature")
    axes[0].set_title("Gram matrix: overlap within, orthogonal across concepts")
    axes[0].grid(False)
    fig.colorbar(im, ax=axes[0], fraction=0.046, label="inner product")
    im = axes[1].imshow(coef_sign.T, cmap="RdBu_r", vmin=-1.2, vmax=1.2, aspect="auto")
    axes[1].set_xticks(range(task.L + 1), [f"$x_{l + 1}$" for l in range(task.L)] + ["$x_q$"])
    axes[1].set_xlabel("word of the prompt")
    axes[1].set_ylabel("concept $k$")
    axes[1].set_title(f"words are sparse: $|S| = {task.S}$ signed concepts ($k^* = {int(ex.task)}$)")
    axes[1].grid(False)
    fig.colorbar(im, ax=axes[1], fraction=0.046, label=r"$\langle x, v_k\rangle / \|v\|^2$ (sign $\sigma_k$)")
    kstar = int(ex.task)
    axes[1].axhline(kstar - 0.5, color="k", lw=0.6)
    axes[1].axhline(kstar + 0.5, color="k", lw=0.6)
    lab = ex.demo_labels[0].cpu().numpy()
    inf = ex.informative[0].cpu().numpy()
    cols = [PALETTE[2] if i else PALETTE[1] for i in inf]
    axes[2].bar(range(1, task.L + 1), lab, color=cols)
    axes[2].axhline(0, color="k", lw=0.6)
    axes[2].set_xlabel("demonstration $l$")
    axes[2].set_ylabel(r"label $p\,\sigma_{k^*}(x_l)$ written in")
    axes[2].set_title(f"polarity $p = {int(ex.polarity):+d}$; query target ${int(ex.y_clean):+d}$; "
                      "green = same sign as query")
    return fig


def figure_dynamics(main: dict, f0: dict, bayes: float, n_test: int):
    """Loss and error, correct attention, weight-feature products and MLP weights across training (first seed
    bold, the others faint); ``f0`` is the first seed's rate fit."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    s0 = next(iter(main))
    res0 = main[s0][1]
    st = res0.eval_series("test_err")[0]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    for i, (s, (_, r, _, _)) in enumerate(main.items()):
        lab = (lambda t: t) if i == 0 else (lambda t: None)
        ax.semilogy(st, series(r, "test_err"), color=PALETTE[0], lw=1.2, alpha=1 if i == 0 else 0.4,
                    label=lab("test 0-1 error"))
        ax.semilogy(st, np.maximum(series(r, "test_err_clean"), 0.5 / n_test), color=PALETTE[1], lw=1.2,
                    alpha=1 if i == 0 else 0.4, label=lab("test clean 0-1 error"))
        ax.semilogy(st, series(r, "test_loss"), color=PALETTE[2], lw=1, alpha=1 if i == 0 else 0.4,
                    label=lab("test loss"))
        ax.semilogy(st, series(r, "train_loss"), color=PALETTE[3], lw=1, ls=":", alpha=1 if i == 0 else 0.4,
                    label=lab("train loss (seen prompts)"))
    env0 = suffix_max(res0.eval_series("test_err_clean")[1])
    ax.semilogy(st, np.maximum(env0, 0.5 / n_test), color="k", lw=0.8, ls=":",
                label=r"envelope $\max_{s \geq t}$ clean error")
    if f0["n"] >= 3:
        tt = np.linspace(f0["t_first"], f0["t_last"], 50)
        ax.semilogy(tt, np.exp(f0["log_c"] - f0["rate"] * tt), "k--", lw=1,
                    label=f"fit to the envelope: rate {f0['rate']:.3f}/step")
    ax.axhline(bayes, color="grey", lw=0.8, ls="--", label=f"Bayes error η = {bayes:g}")
    ax.set_ylim(0.5 / n_test, 1.5)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("loss / 0-1 error")
    ax.set_title("loss and error (faint: other seeds)")
    ax.legend(loc="lower left")
    ax = axes[0, 1]
    for i, (s, (_, r, _, _)) in enumerate(main.items()):
        a = 1 if i == 0 else 0.4
        ax.plot(st, series(r, "test_correct_attn"), color=PALETTE[0], alpha=a, label="test prompts" if i == 0 else None)
        ax.plot(st, series(r, "train_correct_attn"), color=PALETTE[1], ls="--", alpha=a,
                label="train prompts" if i == 0 else None)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("attention on same-sign demonstrations")
    ax.set_title("correct attention weight")
    ax.legend()
    ax = axes[1, 0]
    for key, c in (("specific", PALETTE[0]), ("complement", PALETTE[1]), ("noise", PALETTE[2])):
        ax.semilogy(st, np.maximum(series(res0, f"attn_{key}"), 1e-5), color=c, label=f"attention, {key}")
        ax.semilogy(st, np.maximum(series(res0, f"mlp_{key}"), 1e-5), color=c, ls="--", label=f"MLP, {key}")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("largest |product|")
    ax.set_title(f"weights against features (seed {s0})")
    ax.legend(ncol=2)
    ax = axes[1, 1]
    ax.plot(st, series(res0, "mlp_norm"), label=r"mean neuron norm $\|w_r\|$")
    ax.plot(st, series(res0, "mlp_label_readout"), label=r"signed read-out $s_r w_r^\top \hat{\bar v}_k$ (mean)")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("MLP weights")
    ax.set_title("evolution of the MLP")
    ax.legend()
    fig.tight_layout()
    return fig


def figure_mlp_weights(model, dic, K: int):
    """The final MLP weights as products s_r w_rᵀ f with every dictionary direction f."""
    import matplotlib.pyplot as plt

    D = dic.all_directions()
    prod = ((torch.sign(model.a)[:, None] * model.W.detach()) @ D.T).cpu().numpy()
    fig, ax = plt.subplots(figsize=(11, 3.4))
    lim = np.abs(prod).max()
    im = ax.imshow(prod, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for j in range(1, 4):
        ax.axvline(j * K - 0.5, color="k", lw=0.8)
    ax.set_xticks([K * (j + 0.5) - 0.5 for j in range(4)], [r"$u_k$", r"$v_k$", r"$\bar u_k$", r"$\bar v_k$ (label)"])
    ax.set_xlabel("dictionary direction")
    ax.set_ylabel("neuron $r$")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.03, label=r"$s_r\, w_r^\top f$")
    return fig


def figure_ood(in_dist: dict, ood: dict, bayes: float, L: int, L_test: list[int]):
    """Test error on each shifted set: the softmax model (median over seeds), linear attention, the no-context
    control, against the Bayes error."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharey=True)

    def bars(ax, names, title):
        xs = np.arange(len(names))
        src = {"in distribution": in_dist, **ood}
        med_err = [np.median([x["err"] for x in src[n]["model"]]) for n in names]
        ax.bar(xs - 0.27, med_err, 0.27, label="softmax attention + MLP", color=PALETTE[0])
        ax.bar(xs, [src[n]["linear"]["err"] for n in names], 0.27, label="linear attention", color=PALETTE[2])
        ax.bar(xs + 0.27, [src[n]["control"]["err"] for n in names], 0.27, label="no-context control",
               color=PALETTE[1])
        ax.axhline(bayes, color="k", lw=1, ls="--", label="Bayes error")
        ax.set_xticks(xs, [n.replace(" ", "\n", 1) for n in names])
        ax.set_xlabel("test set")
        ax.set_ylabel("test 0-1 error")
        ax.set_title(title)

    bars(axes[0], [f"L = {Lq}" for Lq in sorted(set(L_test) | {L}) if Lq != L][:2] + ["in distribution"]
         + [f"L = {Lq}" for Lq in L_test if Lq > L], f"prompt length (trained at L = {L})")
    bars(axes[1], ["in distribution", "skewed concepts"], "skewed concept distribution")
    bars(axes[2], ["in distribution", "switched words", "switched labels"], "switched semantic features")
    bars(axes[3], ["in distribution", "unseen combinations"], "unseen concept combinations")
    axes[0].legend(loc="upper left")
    axes[0].set_ylim(0, 0.6)
    fig.tight_layout()
    return fig


def figure_efficiency(eff: dict, variants: dict, n_test: int, s0: int):
    """Steps to ε against log(1/ε) per variant, and the variants' clean error curves."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, (name, e) in enumerate(eff.items()):
        for j, n in enumerate(e["n_eps"]):
            axes[0].plot(np.log(1 / EPS), n, "o-", color=PALETTE[i], ms=4, alpha=1 if j == 0 else 0.4,
                         label=f"{name}: {e['slope']:.1f} steps/nat" if j == 0 else None)
        r = variants[name][0]
        axes[1].semilogy(r.eval_series("test_err_clean")[0],
                         np.maximum(series(r, "test_err_clean"), 0.5 / n_test), color=PALETTE[i], label=name)
    axes[0].set_xlabel(r"$\log(1/\varepsilon)$")
    axes[0].set_ylabel(r"steps until clean error $\leq \varepsilon$ (and stays)")
    axes[0].set_title(r"steps to $\varepsilon$, $\varepsilon$ = " + f"{EPS[0]:g} … {EPS[-1]:g}")
    axes[0].legend()
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("clean test 0-1 error")
    axes[1].set_title(f"the variants' error curves (seed {s0})")
    fig.tight_layout()
    return fig


def figure_batch_noise(main: dict, small: dict, batch: int, small_batch: int, K: int, n_test: int, steps: int):
    """The clean error of the same seeds at the main batch and at a quarter of it (``main``, ``small``: seed →
    result)."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, ax = plt.subplots(figsize=(8, 4))
    for i, s in enumerate(main):
        for r, c, b in ((main[s], PALETTE[0], batch), (small[s], PALETTE[1], small_batch)):
            t, e = r.eval_series("test_err_clean")
            ax.semilogy(t, np.maximum(e, 0.5 / n_test), color=c, lw=1.1, alpha=1 if i == 0 else 0.45,
                        label=f"batch {b} ({b / K:.0f} prompts per concept)" if i == 0 else None)
    reached = [eps_steps(r)[-1] for r in [*small.values(), *main.values()]]
    ax.set_xlim(0, min(steps, 1.5 * np.nanmax(reached)) if np.isfinite(reached).all() else steps)
    ax.set_ylim(0.5 / n_test, 1)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("clean test 0-1 error")
    ax.set_title(f"the same runs at two batch sizes ({len(main)} seeds; pale: the other seeds)")
    ax.legend()
    return fig


def figure_sweeps(sweep_out: dict):
    """Steps to clean error 0.01 and the e-folding time against each swept knob."""
    import matplotlib.pyplot as plt

    knobs = list(dict.fromkeys(k for k, _ in sweep_out))
    fig, axes = plt.subplots(1, len(knobs), figsize=(14, 3.6), squeeze=False)
    for ax, label in zip(axes[0], knobs):
        values = [v for k, v in sweep_out if k == label]
        ax.plot(values, [sweep_out[label, v]["n01"] for v in values], "o-", label="steps to clean error 0.01")
        ax.plot(values, [1 / sweep_out[label, v]["rate"] for v in values], "s--", label="e-folding time (steps)")
        ax.set_xlabel(label)
        ax.set_ylabel("steps")
        ax.set_yscale("log")
        ax.legend()
    fig.tight_layout()
    return fig


def figure_init_sign(side: dict, bayes: float):
    """Test error and correct attention across training for each initialisation of W_KQ (``side``: name → run)."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for i, (name, r) in enumerate(side.items()):
        axes[0].plot(r.eval_series("test_err")[0], series(r, "test_err"), color=PALETTE[i], label=name)
        axes[1].plot(r.eval_series("test_err")[0], series(r, "test_correct_attn"), color=PALETTE[i], label=name)
    axes[0].axhline(bayes, color="k", lw=0.8, ls="--", label="Bayes error")
    axes[0].set_xlabel("SGD step")
    axes[0].set_ylabel("test 0-1 error")
    axes[0].legend()
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("correct attention weight")
    axes[1].set_ylim(0, 1.05)
    fig.tight_layout()
    return fig
