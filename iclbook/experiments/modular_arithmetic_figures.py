"""Chapter 4's figures, drawn from what ``iclbook.experiments.modular_arithmetic`` trains and measures."""
from __future__ import annotations

import numpy as np
import torch

from ..analysis.modular import PHASES, one_example_accuracy, phase
from ..tasks.modular import EVAL_SETS, ModularTask


def figure_task_family(demo: ModularTask, generator: torch.Generator):
    """One training sequence of ``demo``, its pretraining tasks in Z_p², and its split of the input pairs."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap

    from ..plotting import PALETTE

    p = demo.p
    toks = demo.train_batch(1, generator)[0].view(-1, 3)
    a, b = next((a, b) for a, b in demo.id_tasks.tolist()
                if all((a * x + b * y) % p == z for x, y, z in toks.tolist()))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    show = toks[: min(6, demo.n_ex)]
    for i, (x, y, z) in enumerate(show.tolist()):
        for j, (v, c) in enumerate(zip((x, y, z), (PALETTE[0], PALETTE[0], PALETTE[1]))):
            axes[0].add_patch(plt.Rectangle((3 * i + j, 0), 0.9, 0.9, color=c, alpha=0.25 if j < 2 else 0.45))
            axes[0].text(3 * i + j + 0.45, 0.45, str(v), ha="center", va="center", fontsize=12)
    axes[0].set_xlim(0, 3 * len(show))
    axes[0].set_ylim(-0.2, 1.1)
    axes[0].set_yticks([])
    axes[0].set_xticks([3 * i + 1.45 for i in range(len(show))], [f"example {i + 1}" for i in range(len(show))])
    axes[0].set_xlabel("position (blue: x, y inputs; orange: z, the only tokens scored)")
    axes[0].set_ylabel("token")
    axes[0].set_title(f"a training sequence of task (a, b) = ({a}, {b}): z = ({a}x + {b}y) mod {p}")
    axes[0].grid(False)
    for ax, cells, colours, (xl, yl) in ((axes[1], demo.id_tasks, ["#dddddd", PALETTE[2]], "ab"),
                                         (axes[2], demo.train_pairs, [PALETTE[3], "#dddddd"], "xy")):
        marked = np.zeros((p, p))  # a p × p map of Z_p²: 1 where a pair is listed
        marked[tuple(cells.T.tolist())] = 1
        ax.imshow(marked.T, origin="lower", cmap=ListedColormap(colours))
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(False)
    axes[1].set_title(f"{demo.n_id} pretraining tasks (green), {demo.rule} rule")
    axes[2].set_title(f"inputs: train (grey, α = {demo.alpha:g}), test (pink)")
    fig.tight_layout()
    return fig


PHASE_COLOURS = ["#eeeeee", "#c6dbef", "#6baed6", "#fdae6b", "#d94801"]


def figure_phase_diagram(final: dict, phases: dict, n_ids: list[int], alphas: list[float], p: int, n_layer: int,
                         tau: float):
    """Each grid point's phase (colour) and its four last-shot accuracies (text)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap


    fig, ax = plt.subplots(figsize=(1.6 + 1.35 * len(n_ids), 1.2 + 1.0 * len(alphas)))
    codes = np.array([[PHASES.index(phases[n, al]) for n in n_ids] for al in alphas])
    ax.imshow(codes, cmap=ListedColormap(PHASE_COLOURS), vmin=-0.5, vmax=len(PHASES) - 0.5, aspect="auto",
              origin="lower")
    for i, al in enumerate(alphas):
        for j, n in enumerate(n_ids):
            acc = final[n, al]
            ax.text(j, i, "\n".join(f"{k.replace('_', ' ')} {acc[k]:.2f}" for k in EVAL_SETS), ha="center",
                    va="center", fontsize=6.5)
    ax.set_xticks(range(len(n_ids)), [f"{n}\n({n / p ** 2:.0%})" for n in n_ids])
    ax.set_yticks(range(len(alphas)), [f"{al:g}" for al in alphas])
    ax.set_xlabel(r"pretraining tasks $n_{\rm i.d.}$ (share of all $p^2$ tasks)")
    ax.set_ylabel(r"fraction of train inputs $\alpha$")
    ax.set_title(f"phases at depth {n_layer} (τ = {tau:g}; chance {1 / p:.2f})")
    ax.grid(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in PHASE_COLOURS]
    ax.legend(handles, [ph.replace("_", " ") for ph in PHASES], loc="upper left", bbox_to_anchor=(1.01, 1),
              fontsize=8)
    return fig



def figure_ratio_matching(rm: np.ndarray, qg: dict):
    """Accuracy by shot split by whether ratio matching applies, and the query grid of ``query_grid``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from ..plotting import PALETTE

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    axes[0].plot(rm[:, 0], rm[:, 2], "o-", label="ratio matching applies")
    axes[0].plot(rm[:, 0], rm[:, 3], "s-", label="it does not")
    axes[0].plot(rm[:, 0], rm[:, 1], ":", color="grey", label="share of queries where it applies")
    axes[0].set_xlabel("in-context examples before the query (shots)")
    axes[0].set_ylabel("accuracy on unseen tasks / share")
    axes[0].set_title("contexts whose examples determine the task (none at 1 shot)", fontsize=9)
    axes[0].legend()
    cells = 2 * qg["oracle"] + qg["model_right"]  # 0 both wrong, 1 model only, 2 oracle only, 3 both
    axes[1].imshow(cells.T, origin="lower", cmap=ListedColormap(["#eeeeee", PALETTE[0], PALETTE[1], PALETTE[2]]),
                   vmin=-0.5, vmax=3.5)
    for x, y, _ in qg["ctx"]:
        axes[1].plot(x, y, "k*", ms=10)
    axes[1].set_xlabel("query x")
    axes[1].set_ylabel("query y")
    qa, qb = qg["task"]
    axes[1].set_title(f"task ({qa}, {qb}) after {qg['k']} examples (stars): green both right, blue model only,\n"
                      "orange ratio matching only, grey neither", fontsize=9)
    axes[1].grid(False)
    return fig


def figure_training_curves(members, p: int, tau: float):
    """The four last-shot accuracies across training, one panel per member (e.g. the fewest and most tasks)."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
    for ax, m in zip(axes, members):
        for k, c in zip(EVAL_SETS, PALETTE):
            st, acc = m.curve(k)
            ax.plot(st, acc, "o-", ms=3, color=c, label=k.replace("_", " "))
        ax.axhline(1 / p, color="grey", lw=0.8, ls="--", label="chance 1/p")
        ax.axhline(tau, color="k", lw=0.6, ls=":", label="τ")
        ax.set_xlabel("training step")
        ax.set_title(f"n_i.d. = {m.task.n_id}, α = {m.task.alpha:g}: {phase(m.final(), tau).replace('_', ' ')}")
    axes[0].set_ylabel("last-shot accuracy")
    axes[1].set_ylabel("last-shot accuracy")
    axes[1].legend(loc="center right")
    return fig


def figure_depth(models: dict, p: int):
    """Last-shot accuracies across training of models of different depth at one grid point (``models``: name →
    member; solid, dashed, dotted in that order)."""
    import matplotlib.pyplot as plt

    from ..plotting import PALETTE

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for (name, m), ls in zip(models.items(), ("-", "--", ":")):
        for k, c in zip(EVAL_SETS, PALETTE):
            st, acc = m.curve(k)
            ax.plot(st, acc, ls, color=c, label=f"{name}, {k.replace('_', ' ')}")
    ax.axhline(1 / p, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("training step")
    ax.set_ylabel("last-shot accuracy")
    first = next(iter(models.values())).task
    ax.set_title(f"n_i.d. = {first.n_id}, α = {first.alpha:g}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7.5)
    return fig


def figure_shots(by_shot: dict, by_shot_low: np.ndarray, n_high: int, n_low: int, p: int):
    """Accuracy against the number of shots: unseen and pretraining tasks at the high n_i.d., unseen at the low."""
    import matplotlib.pyplot as plt

    k = np.arange(len(by_shot["ood_train"]))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(k, by_shot["ood_train"], "o-", label=f"o.o.d. tasks, n_i.d. = {n_high}")
    ax.plot(k, by_shot["id_train"], "s-", label=f"i.d. tasks, n_i.d. = {n_high}")
    ax.plot(k, by_shot_low, "^--", label=f"o.o.d. tasks, n_i.d. = {n_low}")
    ax.axhline(1 / p, color="grey", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("in-context examples before the query (shots)")
    ax.set_ylabel("accuracy")
    ax.legend()
    return fig


def figure_embeddings(model, p: int):
    """The p number tokens' embeddings on their first two principal components: a model that computes modulo p tends
    to place the numbers on circles."""
    import matplotlib.pyplot as plt

    W = model.wte[0].detach().cpu()
    W = W - W.mean(0)
    U, S, _ = torch.linalg.svd(W, full_matrices=False)
    pc = (U[:, :2] * S[:2]).numpy()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(pc[:, 0], pc[:, 1], c=np.arange(p), cmap="twilight", s=60)
    for i, (u, v) in enumerate(pc):
        ax.annotate(str(i), (u, v), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(f"PC 1 ({S[0] ** 2 / (S ** 2).sum():.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({S[1] ** 2 / (S ** 2).sum():.0%})")
    ax.set_title("token embeddings")
    return fig


def one_block_table(record: dict | None) -> str:
    """Each member of a recorded chapter-4 study beside the best accuracy on its own pretraining tasks that a learner
    reaching one context example and the query can have (``one_example_accuracy``, exact at p = 7). Why: the depth-1
    controls of study ``depth`` end far below i.d. τ; if they end at this bound, one block learned exactly what one
    example can tell, which is the structural limit the chapter describes, not a short budget. The tasks are rebuilt
    from each member's seed as the member built them (render-only: it reads the record, trains nothing)."""
    if record is None or not any(r["n"] for r in record["points"]):
        return "*No members recorded yet.*"
    from ..chapters import get

    lines = ["| point | member seed | i.d.-train (last shot) | from one example and the query, at best | "
             "o.o.d.-train |", "|---|---|---|---|---|"]
    for row in record["points"]:
        point = row["point"]
        overrides = {k: v for k, v in point.items() if k not in ("n_id", "recipe")}
        P = get("04").params.resolve(record["profile"], {**overrides, "seed": 0})
        for seed, m in sorted(row["members"].items(), key=lambda kv: int(kv[0])):
            task = ModularTask(P.p, point["n_id"], P.alphas[-1], P.n_ex, seed=int(seed), device="cpu", rule=P.tasks)
            bound = one_example_accuracy(task.id_tasks, task.train_pairs, P.p)
            where = ", ".join(f"{k} = {v}" for k, v in point.items())
            lines.append(f"| {where} | {seed} | {m['id_train']:.2f} | {bound:.2f} | {m['ood_train']:.2f} |")
    return "\n".join(lines)
