"""Chapter 3's figures, drawn from what ``iclbook.experiments.layer_causality`` trains and measures."""
from __future__ import annotations

import numpy as np

from ..analysis import update_similarity as us


def figure_pretraining(results: dict, K: int, n_labels: int):
    """Final label accuracy against the number of demonstrations per seed, and ZS / many-demonstration accuracy
    during pretraining (``results``: seed → training record)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for s, res in results.items():
        st, acc = res.eval_series("acc")
        acc = np.array(acc)
        axes[0].plot(np.arange(K + 1), acc[-1], "o-", ms=3, label=f"seed {s}")
        axes[1].plot(st, acc[:, 0], ":", label=f"ZS, seed {s}")
        axes[1].plot(st, acc[:, K // 2:].mean(1), "-", label=f"≥ {K // 2} demos, seed {s}")
    for ax in axes:
        ax.axhline(1 / n_labels, color="grey", lw=0.8, ls="--", label="chance")
    axes[0].set_xlabel("demonstrations before the query $k$")
    axes[0].set_ylabel("label accuracy")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("pretraining step")
    axes[1].set_ylabel("label accuracy")
    axes[1].legend(fontsize=8)
    return fig


def figure_control_depth(depths: list[int], probe: np.ndarray, trained_aou: float, n_layer: int):
    """SimAOU (GD) of random-weight models against their depth (``probe``: depths × seeds), and the trained
    model's."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.errorbar(depths, probe.mean(1), yerr=probe.std(1) if probe.shape[1] > 1 else None, marker="o", capsize=3,
                label="random weights")
    ax.axhline(trained_aou, color="C3", ls="--", label=f"trained model ({n_layer} layers)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("depth of the random-weight model (layers)")
    ax.set_ylabel("SimAOU (GD), layer-averaged")
    ax.legend(fontsize=8)
    return fig


def figure_per_layer(R: dict, KINDS: dict, METRICS: dict, n_layer: int):
    """Per-layer similarity of the ICL and fine-tuning updates (solid GD, dashed LCGD) for each model kind, averaged
    over episodes and seeds (``R``: kind → seed → comparison results)."""
    import matplotlib.pyplot as plt

    layers = np.arange(1, n_layer + 1)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    for ax, (k, name) in zip(axes, METRICS.items()):
        for kind, colour in zip(KINDS, ("C0", "C1", "C2")):
            for tag, ls in (("gd", "-"), ("lc", "--")):
                curves = np.array([us.layer_mean(R[kind][s][f"{k}_{tag}"]).numpy() for s in R[kind]])
                ax.plot(layers, curves.mean(0), ls, color=colour, marker="o", ms=3,
                        label=f"{KINDS[kind]}, {'GD' if tag == 'gd' else 'LCGD'}")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("layer $\\ell$")
        ax.set_ylabel(name)
        ax.set_xticks(layers)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_grad_norms(g: dict, K: int, n_layer: int):
    """‖∇ W_K, W_V‖ per demonstration (SGD step) and layer, for GD and layer-causal GD (``g``: tag → (K, L))."""
    import matplotlib.pyplot as plt

    from matplotlib.colors import LogNorm

    layers = np.arange(1, n_layer + 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    norm = LogNorm(vmin=min(v.min() for v in g.values()), vmax=max(v.max() for v in g.values()))
    for ax, tag in zip(axes, ("gd", "lc")):
        im = ax.imshow(g[tag].T, origin="lower", aspect="auto", norm=norm, cmap="viridis",
                       extent=(0.5, K + 0.5, 0.5, n_layer + 0.5))
        ax.set_xlabel("demonstration (SGD step)")
        ax.set_ylabel("layer $\\ell$")
        ax.set_yticks(layers)
        ax.grid(False)
        ax.set_title("GD" if tag == "gd" else "layer-causal GD")
    fig.colorbar(im, ax=axes, label="‖∇ W_K, W_V‖")
    return fig
