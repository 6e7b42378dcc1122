# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning to grok: in-context modular arithmetic
#
# {cite:t}`he2024` train GPT-style decoders on sequences of examples $x\ y\ z$ of one *linear modular function*
# $z = (a x + b y) \bmod p$, with the task vector $(a, b)$ never shown. A model that has seen enough pretraining tasks
# stops memorising them and starts to solve **tasks it has never seen**, from the examples in its prompt: in-context
# learning as an emergent, grokking-like transition. They map the phases over the number of pretraining tasks
# $n_{\rm i.d.}$ and the fraction $\alpha$ of inputs seen in training, find that two blocks are the smallest depth that
# generalises out of distribution, and open up the model: its heads implement "ratio matching" and "modular
# regression" over the examples.
#
# This chapter trains those models itself, at a size a CPU can afford (the `gpu` profile runs the paper's $p = 29$),
# and checks the paper's claims by computation. Three need the `gpu` profile: unseen tasks on unseen inputs (1d),
# the threshold at 15–30 % of the tasks (1e) and transient o.o.d. generalisation in deeper models (5). Claim 2 (one
# block fails where two succeed) is computed at `cpu` but fails there for a structural reason: our depth-1 control
# never learns even its own tasks, so the contrast the paper draws cannot be made (section "How we test the
# claims"). Eight depth-1 controls given more time than a depth-2 model needs (the study in *Depth as a rate*) say
# why: each learns exactly what one example in its prompt can tell, and no more. At `cpu` the o.o.d. phase itself
# (1b) shows in half the recorded seeds; the rate curve measures how often a model solves unseen tasks. The ledger
# at the end says which claims hold in this run, and the recorded studies' rate claims stand under it.
#
# **What this chapter does not test.** The paper's phase diagram spans two axes, the number of pretraining tasks
# and the fraction $\alpha$ of inputs seen in training. Our `ci` and `cpu` profiles train one $\alpha$, so they map
# the $n_{\rm i.d.}$ axis only; the `gpu` profile's grid has four values of $\alpha$, but no claim reads how the
# phases move with $\alpha$ (1e and 1f take the best $\alpha$ at each $n_{\rm i.d.}$). The paper's phase diagram is
# of a six-layer model, ours of two blocks (below). And *skill composition*, the other half of the paper's title,
# is not tested here at all: no claim of the ledger is about it.
#
# *Computing this page took {glue:text}`wall_time` at profile {glue:text}`wall_profile`, on
# {glue:text}`wall_where`; {glue:text}`wall_store` (see {doc}`status`).*

# %% tags=["remove-cell"]

from iclbook.analysis.modular import accuracy_by_shot, one_example_accuracy, phase
from iclbook.notebook import open_chapter
from iclbook import rng
from iclbook.experiments import modular_arithmetic_claims as claims
from iclbook.experiments.modular_arithmetic import query_grid, shot_sequences, train_sweep
from iclbook.experiments.modular_arithmetic_figures import (figure_depth, figure_embeddings, figure_phase_diagram,
                                                            figure_ratio_matching, figure_shots, figure_task_family,
                                                            figure_training_curves)
from iclbook.tasks.modular import ModularTask
from iclbook.train import OptimConfig, checkpoint_steps

ch = open_chapter("04", globals())

# %% tags=["parameters", "hide-cell"]
profile = None  # "ci" | "cpu" | "gpu"; None: gpu with CUDA, else cpu. Every None below takes the profile's value.
p = None  # the modulus
n_ex = None  # examples per sequence
n_ids = None  # numbers of pretraining tasks (the phase diagram's columns)
tasks = None  # "rectangle" (the paper's rule) or "random"
alphas = None  # fractions of inputs used in training (its rows)
n_layer = None  # depth of the phase-diagram models
control_layers = None  # depth of the shallow control
control_embd = None  # its width (0: n_embd)
deep_layers = None  # depth of the deeper model (claim 5; 0 skips it)
n_embd = None
n_head = None
pos = None
bias = None
steps = None
batch = None
lr = None
weight_decay = None
warmup = None
n_eval = None
n_ckpt = None
tau = None  # accuracy threshold of the phases
group = None  # grid points per stacked ensemble
seed = None

# %% tags=["remove-input"]
P = ch.resolve(globals())
ch.md(ch.describe())
dev = ch.device
CHANCE = 1 / P.p
OOD_TEST_AT = ("gpu",)  # where claim 1d (o.o.d. generalisation) is expected: see "What we tried on the CPU"
ch.glue(tau=f"{P.tau:g}", p=str(P.p), n_tasks=str(P.p**2), task_rule=f"{P.tasks} tasks",
        arch=("rotary position embeddings" if P.pos == "rope" else "learned positions")
        + (", biases" if P.bias else ", no biases"))

# %% [markdown]
# ## The task family
#
# - A **task** is $(a, b) \in \mathbb Z_p^2$; there are $p^2$ = {glue:text}`n_tasks` of them. A **sequence** is
#   $n$ examples $x_1 y_1 z_1\, x_2 y_2 z_2 \dots$ of one task, each number a token; no separator, no task token.
#   The model predicts every token, but the loss and the accuracy count only the $z$ tokens: $z_k$ is read from the
#   output at $y_k$, after $k - 1$ complete examples ("$k - 1$ shots").
# - **Pretraining tasks** follow the paper's *rectangle rule* with `tasks = "rectangle"`: draw $(a, b)$ and fresh
#   $x', y'$ and take the four corners $(a, b), (a, y'), (x', b), (x', y')$, so $n_{\rm i.d.} = 4m$ and every task
#   shares a component with others. With small $p$ the fresh corners run out; the search is bounded and says so.
#   With `tasks = "random"`, every profile's choice (see *Where this chapter differs*), they are $n_{\rm i.d.}$
#   distinct tasks drawn uniformly. This run: {glue:text}`task_rule`.
# - **Inputs**: the $p^2$ pairs $(x, y)$ are shuffled once and split: a fraction $\alpha$ are *train inputs*. Training
#   sequences use only pretraining tasks on train inputs, drawn without replacement within a sequence, balanced over
#   the tasks, fresh every step.
# - **Four evaluation sets** cross i.d. (pretraining) or o.o.d. (all other) tasks with train or test inputs. The
#   context examples always come from the train inputs; only the last example, the query, comes from the set's inputs.
#   *Last-shot accuracy* is the accuracy on that query.

# %%
demo = ModularTask(P.p, P.n_ids[-1], P.alphas[-1], P.n_ex, seed=P.seed, rule=P.tasks)
ch.show(figure_task_family(demo, rng.generator("eval", P.seed, 0)), "task_family")

# %% [markdown]
# ## The phase diagram
#
# Every point $(n_{\rm i.d.}, \alpha)$ of the grid is its own model: a pre-LN decoder with a ReLU MLP and tied
# embeddings ({glue:text}`arch`), trained with AdamW ($\beta_2 = 0.98$, strong weight decay on the weight matrices
# and embeddings, none on biases and LayerNorm gains) under a warm-up and a cosine decay to a tenth. The whole grid trains from one call; on a GPU as one stacked
# ensemble, on a CPU one model after another, which is faster there (see `iclbook/experiments/modular_arithmetic.py`). A point's
# **phase** is the most general of the four whose last-shot accuracy reaches τ = {glue:text}`tau`: o.o.d.
# generalisation (unseen tasks on unseen inputs), o.o.d. memorisation (unseen tasks, train inputs only),
# i.d. generalisation, i.d. memorisation.

# %%
model_cfg = dict(n_layer=P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos, bias=P.bias,
                 tie_embeddings=True)
optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                    final_lr_frac=0.1)
ckpts = checkpoint_steps(P.steps, n_linear=P.n_ckpt, n_log=0)
grid = [(n, al) for al in P.alphas for n in P.n_ids]
grid_seeds = rng.member_seeds(P.seed, len(grid))  # member i's tasks, initialisation, batches and evaluation sets
grid_tasks = [ModularTask(P.p, n, al, P.n_ex, seed=s, device=dev, rule=P.tasks) for s, (n, al) in zip(grid_seeds, grid)]


def sweep(tasks, seeds, layers, desc, n_embd=P.n_embd):
    """Train one model per task at the given depth and width (same recipe as the grid)."""
    cfg = dict(model_cfg, n_layer=layers, n_embd=n_embd)
    return train_sweep(tasks, cfg, optim, P.steps, P.batch, seeds, ch.store, P.group or len(tasks), ckpts,
                       P.n_eval, dev, desc=desc)


members = sweep(grid_tasks, grid_seeds, P.n_layer, f"depth {P.n_layer} grid")
final = {pt: m.final() for pt, m in zip(grid, members)}
phases = {pt: phase(acc, P.tau) for pt, acc in final.items()}

# %%
ch.show(figure_phase_diagram(final, phases, P.n_ids, P.alphas, P.p, P.n_layer, P.tau), "phase_diagram")

# %% [markdown]
# Each cell lists the four last-shot accuracies after training. The columns also give $n_{\rm i.d.}$ as a share of
# all tasks, the scale on which the paper's threshold (15–30 % of the tasks at $p = 29$) can be compared with ours.
# In this run the o.o.d. phase (unseen tasks solved on train inputs) appears {glue:text}`transition` (claim 1e).
# At $p = 7$ a model sees most of the $p^2$ tasks before it solves the others in context, so the threshold sits at a
# much larger share than the paper's; claim 1e is expected at the `gpu` profile's $p = 29$. Claim 1f asks only for
# a threshold, at any share: the fewest tasks leave unseen tasks unsolved, and from the first $n_{\rm i.d.}$ that
# solves them every larger one does too. A grid where a larger $n_{\rm i.d.}$ falls back below τ fails it: the o.o.d.
# phase would then depend on the member's luck, not on the number of tasks. At `cpu` the o.o.d. phase (1b, 1f) shows
# in three of the six recorded seeds: in the others the member with the most tasks memorised them (the sections
# after the pilots, below).
#
# ### How often a model solves unseen tasks: the rate curve
#
# The phase diagram above is, like the paper's, one model per cell, and near the threshold which phase a model lands
# in is partly the luck of its seed. The study `solve-rate` (declared, with its criteria, before its first member:
# *From single runs to rates*, below) asks how often instead: at each of four values of $n_{\rm i.d.}$ it trains
# eight independent models on member seeds nobody used to choose anything, with the recipe its screen adopted (the
# learning rate held at its peak after the warm-up), and counts those whose last-shot o.o.d.-train accuracy reaches
# τ. The error bars are Wilson intervals (the figure's axis names their level); the numbers under the figure are
# read from the record. Claims 1a, 1b,
# 1d, 1f, 3, 4a and 4b as rates over this curve are at the end of the page, under the ledger.

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show_curve(ch, "solve-rate", x="n_id")

# %% [markdown]
# **What the curve shows** (recorded December 2026; every count is the record's, above). At the two smallest
# $n_{\rm i.d.}$ no member solved unseen tasks: every one learned its own tasks and stayed near chance on the others
# (claim 1a-rate). At the two largest the members split three ways: some solved unseen tasks, some memorised, and a
# few never left the plateau, not learning even their own tasks (the screen's `constant-lr` had one such member too).
# The rise from the fewest to the most tasks is a threshold by claim 1f-rate's criterion, committed before the
# first member: the rate at the smallest point is at most an eighth, at the largest at least a half, and the two
# intervals do not overlap. Eight members per point cannot say where between the middle points the threshold lies:
# the third point's interval overlaps both neighbours'. What the curve does not show is the paper's o.o.d.
# *generalisation* phase: at the largest point few members reach τ on unseen tasks with unseen inputs (claim
# 1d-rate fails), as in the chapter's own runs, and the shift away from ratio matching (4b-rate) shows in fewer
# than half of the members. Claim r-early, which failed on the screen, holds on the curve; part of that separation
# comes from the points themselves (below the third point no member solves and every early ratio is small), so the
# screen, at one point, remains the sharper test, and it was run under the cosine schedule, not the constant rate
# the curve used.

# %%
small = [m for pt, m in zip(grid, members) if pt[0] == P.n_ids[0]]
large = [m for pt, m in zip(grid, members) if pt[0] == P.n_ids[-1]]
low = max(small, key=lambda m: m.final()["ood_train"])  # the fewest tasks' point closest to solving unseen tasks
best = max(large, key=lambda m: m.final()["ood_train"])
best_pt = (best.task.n_id, best.task.alpha)
lf, bf = low.final(), best.final()
PHASE_SRC = "He et al. 2024: phase diagram over (n_i.d., α) of a 6-layer model, four phases"
r = claims.claim_1a(lf, P.tau)
ch.ledger.add("1a", "With few pretraining tasks the model learns them (i.d.) but does not solve unseen tasks …",
              r.value, r.criterion, detail=f"n_i.d. = {P.n_ids[0]} (α = {low.task.alpha:g}): {r.detail}",
              source=PHASE_SRC + " (i.d. memorisation / generalisation at few tasks)", kind="paper")
r = claims.claim_1b(bf, P.tau, P.n_ids[-1], P.p)
ch.ledger.add("1b", "… with many it solves unseen tasks in context, on train inputs (o.o.d. memorisation or beyond)",
              r.value, r.criterion, expected_at=("cpu", "gpu"), detail=f"best point (α = {best_pt[1]:g}): {r.detail}",
              source="He et al. 2024: the i.d. → o.o.d. transition between n_i.d. = 128 and 256 of 841 tasks "
                     "(15–30 %), p = 29", kind="paper")
r = claims.claim_1c(final.values(), P.tau)
ch.ledger.add("1c", "The i.d. tasks are learned at every grid point (memorisation at least)", r.value, r.criterion,
              expected_at=("cpu", "gpu"), detail=r.detail,
              source="none: a check that every grid model learned its training tasks", kind="check")
r = claims.claim_1d(bf, P.tau, P.p)
ch.ledger.add("1d", "… and unseen tasks on unseen inputs (o.o.d. generalisation)", r.value, r.criterion,
              expected_at=OOD_TEST_AT, detail=f"same model; {r.detail}",
              source=PHASE_SRC + " (the o.o.d. generalisation phase)", kind="paper")
ood_by_n = {n: max(final[(m, al)]["ood_train"] for (m, al) in grid if m == n) for n in P.n_ids}
r = claims.claim_1e(ood_by_n, P.tau, P.p)
lo_share, hi_share = claims.transition(ood_by_n, P.tau, P.p)
ch.glue(transition=(f"between {100 * lo_share:.0f} % and {100 * hi_share:.0f} % of the tasks" if lo_share == lo_share
                    else "nowhere that this grid brackets"))
ch.ledger.add("1e", "The i.d. → o.o.d. transition lies between 15 % and 30 % of all tasks", r.value, r.criterion,
              expected_at=("gpu",), detail=r.detail,
              source="He et al. 2024: the transition sits between n_i.d. = 128 and 256 of 841 tasks (about 15–30 %), "
                     "p = 29", kind="paper")
r = claims.claim_1f(ood_by_n, P.tau, P.p)
ch.ledger.add("1f", "The o.o.d. phase sets in at a threshold number of pretraining tasks: below it unseen tasks stay "
              "unsolved, from it on they are solved", r.value, r.criterion, expected_at=("cpu", "gpu"), detail=r.detail,
              source="He et al. 2024: the phase diagram's i.d. → o.o.d. transition as n_i.d. grows, at every α where "
                     "the o.o.d. phase exists", kind="paper")

# %% [markdown]
# ## Training curves below and above the threshold
#
# The four last-shot accuracies against the step, for the best model with the fewest tasks (left) and with the
# most (right). Training first sits on a plateau near the loss $\ln p$, where the model only knows how often each
# answer occurs; when, and whether, it leaves the plateau within the step budget decides the phase.

# %%
ch.show(figure_training_curves((low, best), P.p, P.tau), "training_curves")

# %% [markdown]
# ## Depth: one block is not enough
#
# The same recipe at depth {glue:text}`control_layers` (width {glue:text}`control_embd`) and at the point where the
# depth-2 grid did best. Claim 2 compares models that learned their own tasks: a depth-1 model that failed even
# those would fail o.o.d. without telling us anything about generalisation. One block has a hard limit here. Its
# heads fetch single tokens by position, so four heads can read the query's $x$ and one whole earlier example;
# one example leaves several pretraining tasks that fit it, and the best a learner can do from one example and the
# query is {glue:text}`one_example` on this point's pretraining tasks (computed exactly). To learn its tasks the
# model must combine two examples in its one MLP. At `cpu` claim 2 fails in every recorded seed, and in every run
# we read the depth-1 control had not learned its own tasks: it fails for that reason, not because one block learned
# its tasks and then failed o.o.d. (see "How we test the claims").

# %%
one_ex = one_example_accuracy(best.task.id_tasks, best.task.train_pairs, P.p)
ch.glue(control_layers=str(P.control_layers), control_embd=str(P.control_embd or P.n_embd), one_example=f"{one_ex:.2f}")
shallow = sweep([best.task], [grid_seeds[grid.index(best_pt)]], P.control_layers, f"depth {P.control_layers}",
                n_embd=P.control_embd or P.n_embd)[0]
ch.show(figure_depth({f"depth {P.n_layer}": best, f"depth {P.control_layers}": shallow}, P.p), "depth")
r = claims.claim_2(best.final(), shallow.final(), P.tau, P.n_layer, P.control_layers)
ch.ledger.add("2", f"At the same n_i.d., a depth-{P.control_layers} model that learned its tasks fails o.o.d. where "
              f"depth {P.n_layer} succeeds", r.value, r.criterion, expected_at=("cpu", "gpu"),
              detail=f"{r.detail} (last shot; n_i.d. = {best_pt[0]}, α = {best_pt[1]:g}; from one example and the "
                     f"query at best {one_ex:.2f} i.d.)",
              source="He et al. 2024: depth 2 is the smallest depth that generalises o.o.d.", kind="paper")

# %% [markdown]
# ### Depth as a rate: the `depth` study
#
# One control per run cannot say whether a depth-1 model would learn these tasks given more time, nor how often. The
# study `depth` (declared with the others under *From single runs to rates*) trains eight depth-1 controls at
# $n_{\rm i.d.} = 44$, on member seeds nobody used to choose anything, with two and a half times a depth-2 member's
# steps, and compares how often they solve unseen tasks with the rate curve's eight depth-2 members at that point.
# Check control-time reads off the record that the controls had at least a depth-2 member's wall time on the same
# machine. Claim 2-rate, committed before any member ran, asks for a depth-1 rate of at most 1/8 and a depth-2 rate
# of at least 1/2, their intervals apart. The table sets each control's accuracy on its own tasks beside the best a
# learner can reach from one context example and the query on those same tasks (computed exactly from the member's
# seed).

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
from iclbook.experiments.modular_arithmetic_figures import one_block_table
recorded_studies.show_claims(ch, "depth", ["2-rate", "control-time"])
ch.md(one_block_table(recorded_studies.load("04_modular_arithmetic", "depth")))

# %% [markdown]
# **What it shows.** Claim 2-rate holds by its letter: no control solved unseen tasks where most depth-2 members did,
# and the controls had more wall time (check control-time). It does not hold for the paper's reason. No control
# learned even its own tasks: with more time than a depth-2 member needs to solve *unseen* tasks, each ended close to
# the best accuracy that one context example and the query allow on its own tasks (the table), and at about chance
# on unseen ones. In every member, one block learned what one example tells and nothing more. That is the limit
# argued above: its heads fetch single tokens, and to use more than one example a model must first bind each
# example's $x$, $y$ and $z$ at one position and then match the query against the bound examples, two attention
# steps in sequence, as an induction head composes a previous-token head with a matching head {cite}`olsson2022`.
# So what claim 2 shows here is narrower than the paper's statement: **with one token per number, two blocks are the
# smallest depth that learns this task family at all**. Whether a one-block model that had learned its own tasks
# would still fail unseen ones, the contrast the paper draws, our controls cannot say. A tokenisation that puts a
# whole example in one token would let one block read every example, and is the experiment that would test the
# paper's statement as it stands; we have not run it.

# %% [markdown]
# ## Accuracy against the number of shots
#
# For the best model, the accuracy on each example of fresh sequences of unseen tasks: after $k$ examples, it has
# $k$ chances to infer $(a, b)$. Two generic examples determine the task ($a, b$ solve a 2×2 system mod $p$), so a
# model that inferred the task exactly would be perfect from the third example on.

# %%
shots_sets = {w: shot_sequences(best, w, 4 * P.n_eval, 10 + j, dev) for j, w in enumerate(("id_train", "ood_train"))}
by_shot = {w: accuracy_by_shot(best.model, t)[0].cpu().numpy() for w, t in shots_sets.items()}
by_shot_low = accuracy_by_shot(low.model, shot_sequences(low, "ood_train", 4 * P.n_eval, 12, dev))[0].cpu().numpy()
ch.show(figure_shots(by_shot, by_shot_low, best.task.n_id, low.task.n_id, P.p), "accuracy_vs_shots")
r = claims.claim_3(by_shot["ood_train"])
ch.ledger.add("3", "Accuracy on unseen tasks rises with the number of in-context examples", r.value, r.criterion,
              expected_at=("cpu", "gpu"), detail=r.detail,
              source="He et al. 2024: ≈ 3 % at 0 shots, 43 % at 4, 80 % at 8, 91–96 % from ≈ 11 (p = 29)", kind="paper")
ch.table(["shots", *range(P.n_ex)], [["o.o.d. accuracy", *(f"{v:.2f}" for v in by_shot["ood_train"])]])

# %% [markdown]
# ## Inside the model: ratio matching
#
# {cite:t}`he2024` find that with few shots the model uses **ratio matching**: if the query is a multiple of an
# earlier example, $(x, y) = c\,(x_i, y_i)$, then $z = c\,z_i$ whatever the task. With more shots it switches to
# *modular regression*, combining several examples. The oracle below applies ratio matching exactly; we split the
# model's accuracy at each shot count by whether the oracle applies, **on contexts whose examples determine the task**
# (their inputs span $\mathbb Z_p^2$). Only there does a gap say something about the model: with one example, or
# with collinear ones, the answer to a query off their line is undetermined, so any learner that infers the task as
# well as the context allows is right where ratio matching applies and near chance elsewhere. On a determining
# context an exact learner is right on every query and shows no gap; a model that leans on ratio matching does.
# The paper's shift to modular regression then shows as a gap that shrinks with the shots (claim 4b). On the right,
# one context of unseen-task examples and every possible query $(x, y)$: where the model is right, and where ratio
# matching would be.

# %%
seqs = shots_sets["ood_train"]
rm = claims.ratio_matching_gaps(best.model, seqs, P.p)[0]  # per shot, on contexts that determine the task
k_grid = claims.FEW_SHOTS[-1]  # the query grid: one context of k examples of an unseen task, every (x, y) as the query
qg = query_grid(best.model, best.task, seqs[0, 0, : 3 * k_grid])
ch.show(figure_ratio_matching(rm, qg), "ratio_matching")
RM_SRC = "He et al. 2024: ratio matching at few shots, modular regression at many"
r = claims.claim_4(best.model, seqs, P.p, P.tau)
ch.ledger.add("4a", "Interpretability: with few shots the model is right far more often where ratio matching applies",
              r.value, r.criterion, expected_at=("cpu", "gpu"), detail=r.detail, source=RM_SRC, kind="paper")
r = claims.claim_4b(best.model, seqs, P.p, P.tau)
ch.ledger.add("4b", "… and that gap shrinks with more shots (ratio matching gives way to modular regression)",
              r.value, r.criterion, expected_at=("cpu", "gpu"), detail=r.detail, source=RM_SRC, kind="paper")

# %% [markdown]
# The embeddings of the $p$ number tokens, projected on their first two principal components: a model that computes
# modulo $p$ tends to place the numbers on circles.

# %%
ch.show(figure_embeddings(best.model, P.p), "embeddings_pca")

# %% [markdown]
# ## Deeper models: transient o.o.d. generalisation (`gpu`)
#
# In deeper models the paper finds o.o.d. accuracy rising, then falling while i.d. accuracy keeps improving.

# %%
if P.deep_layers:
    deep = sweep([best.task], [grid_seeds[grid.index(best_pt)]], P.deep_layers, f"depth {P.deep_layers}")[0]
    ch.show(figure_depth({f"depth {P.deep_layers}": deep}, P.p), "deep_model")
    st, ood = deep.curve("ood_test")
    r = claims.claim_5(st, ood, deep.curve("id_train")[1], P.tau)
else:  # nothing measured: the claim does not hold
    r = claims.claim_5([0], [0.0], [0.0], P.tau)._replace(detail=f"not run at `{P.profile}` (deep_layers = 0)")
    ch.md(f"*Not run at this profile (`{P.profile}`): set `deep_layers` or use the `gpu` profile.*")
ch.ledger.add("5", "A deeper model shows transient o.o.d. generalisation (peak, then decline)", r.value, r.criterion,
              expected_at=("gpu",), detail=r.detail, kind="paper",
              source="He et al. 2024: in deeper models o.o.d. accuracy rises, then falls while i.d. keeps "
                     "improving; early stopping is needed")

# %% [markdown]
# %% [markdown]
# ## Where this chapter differs from the paper, and what we tried
#
# - **Scale.** The paper uses $p = 29$, 32 examples per sequence, width 512 and 200k steps of batch 1024. The `cpu`
#   profile uses $p = 7$, 16 examples, width 64 and 10 000 steps of batch 128, at one $\alpha = 0.8$: about $10^5$
#   times less compute. With $p = 7$ there are only 49 tasks, so $n_{\rm i.d.}$ is a much larger share of all tasks.
# - **Depth.** The paper's phase diagram (the source of claims 1a–1f) is of a six-layer model; every profile here,
#   `gpu` included, maps it with two blocks (`n_layer`), the smallest depth the paper finds to generalise
#   o.o.d. A two-block model may place the phases elsewhere than a six-block one does, so 1a–1f test the phases
#   at depth 2, not the paper's diagram itself.
# - **One $\alpha$, no skill composition.** `ci` and `cpu` train one fraction of inputs, so the diagram's $\alpha$ axis
#   is not tested there; the `gpu` grid has four values, but no claim reads the phases' dependence on $\alpha$.
#   The paper's skill-composition results are not tested at any profile.
# - **Positions and biases (`pos`, `bias`).** The paper's blocks use rotary position embeddings and no biases. Every
#   profile here uses learned positions and linear and LayerNorm biases: with RoPE, or without biases, the
#   CPU-sized models were still on the $\ln p$ plateau after 2500–3500 steps (the pilots below and the spec's
#   table), while with both changes they left it in 1500–3500.
# - **Random pretraining tasks (`tasks`).** The paper draws its pretraining tasks by a rectangle rule. At $p = 7$ the
#   rule cannot place more than about 40 tasks, and a rectangle-rule pilot with the fixed recipe was still on the
#   plateau at 3000 steps where the same run with random tasks had left it, so every profile draws $n_{\rm i.d.}$
#   distinct tasks uniformly. Both rules are a declared choice.
# - **The `gpu` profile is our recipe at $p = 29$, not the paper's (decided December 2026, issue 37).** Until then
#   the `gpu` profile switched to the paper's RoPE, no biases and rectangle rule, a recipe no run had tried at a size
#   where ours learns. The study `gpu-recipe` below trained it at the `cpu` scale beside ours on the same two member
#   seeds, under a check committed before it ran (the `gpu` recipe learns its own tasks in every member and solves
#   unseen tasks in at least as many members as ours): it learned its tasks in both members but solved unseen tasks
#   in neither, where ours solved both. So the `gpu` profile now trains our recipe (learned positions, biases,
#   random tasks, our warm-up) at the paper's $p = 29$, batch 128 (one GPU finishes it in about an hour, README);
#   the paper's choices stay one override away, `pos='rope'`, `bias=False`, `tasks='rectangle'` (with `batch=512`
#   the size this profile had before), and they are what a run at the paper's width might need, which we could not
#   test.
# - **Evaluation sets.** We draw the context of every evaluation sequence from the train inputs and only the query
#   from the set's inputs: at $p = 7$ the test split has too few pairs to fill a sequence. The paper's exact
#   construction of its test-input sequences may differ.
# - **Balanced batches.** Each pretraining task gets $\lfloor B/n \rfloor$ or $\lceil B/n \rceil$ rows of a batch.
# - **Initialisation.** Every weight starts at GPT-2's N(0, 0.02²), embeddings included.
# - **Claims on train inputs.** Claims 1b, 2 and 3 measure unseen tasks on train inputs (the paper's o.o.d.
#   memorisation phase or beyond); claim 1d asks for unseen inputs as well (o.o.d. generalisation) and is expected
#   only at `gpu`, for the reason given after the pilots.
#
# ### Pilots before the weight-decay fix
#
# :::{admonition} History, at commit `cca9f3d` and its successors up to the weight-decay fix
# *Measured with the code of November 2026; no command reproduces these rows from today's code.*
#
# The spec's earlier pilot reported a working setting (random pretraining tasks, $p = 7$, 16 examples, width 64,
# learned positions, AdamW 2e-3 with weight decay 1, 5000 steps): o.o.d. accuracy 0.75 with 40 of 49 tasks, after
# a plateau of 1000–1500 steps. **We could not reproduce it.** Thirteen pilots, all at $p = 7$, $\alpha = 0.8$,
# $n_{\rm i.d.} = 40$, depth 2, 4 heads, batch 128, AdamW $\beta_2 = 0.98$, 200 warm-up steps then cosine, one CPU
# thread each and two at a time (about 8–14 steps/s), last-shot accuracies at the last evaluation (chance 0.14):
#
# | pilot | change from the base (width 64, 16 examples, RoPE, rectangle rule, lr 2e-3, wd 1) | steps | i.d.-train | o.o.d.-test | z loss ($\ln 7 = 1.95$) |
# |---|---|---|---|---|---|
# | 1 | — | 3500 | 0.20 | 0.25 | 1.88 |
# | 2 | width 48, 12 examples, lr 3e-3 | 2500 | 0.18 | 0.19 | 1.89 |
# | 3 | learned positions | 5000 | 0.34 | 0.21 | 1.67 |
# | 4 | no weight decay on the LayerNorm gains | 4000 | 0.27 | 0.21 | 1.75 |
# | 5 | learned positions, random tasks (the spec's recipe) | 2000 | 0.26 | 0.23 | 1.86 |
# | 6 | token embeddings initialised N(0, 1) | 1500 | 0.18 | 0.17 | 1.90 |
# | 7 | as 2, embeddings N(0, 1) | 3000 | 0.19 | 0.23 | 1.88 |
# | 8 | embeddings N(0, 1), lr 5e-3, wd 0.5 | 1500 | 0.18 | 0.19 | 1.89 |
# | 9 | as 5, lr 5e-3 | 2000 | 0.25 | 0.22 | 1.89 |
# | 10 | fan-in initialisation (std $1/\sqrt{\text{fan-in}}$), embeddings std 0.3 | 2500 | 0.25 | 0.12 | 1.82 |
# | 11 | 8 examples, batch 256, lr 3e-3 | 2000 | 0.19 | 0.17 | 1.90 |
# | 12 | as 5, 12 000 steps (cosine over 12 000) | 12 000 | 0.24 | 0.23 | 1.80 |
# | 13 | as 5, PyTorch-style initialisation (linear std $1/\sqrt{\text{fan-in}}$, embeddings N(0, 1)) | 5000 | 0.33 | 0.22 | 1.59 |
#
# Pilots stopped early were still on the plateau when stopped. The longest (12, the spec's recipe run 2.4 times
# longer) never left chance o.o.d.; 3 and 13 left the plateau but only began to learn the pretraining tasks
# (i.d.-test ≈ i.d.-train ≈ 0.3: they learn tasks, not input pairs). In none did the o.o.d. accuracy leave chance.
# The `cpu` profile of that time ran the base recipe for 5000 steps at $n_{\rm i.d.} \in \{8, 40\}$ and
# $\alpha \in \{0.6, 0.8\}$ (about 25 minutes): only claim 1a held, and the best o.o.d.-test last-shot accuracy was
# 0.24 (chance 0.14). Every pilot of this table decayed the LayerNorm gains (and most lacked biases), which is what
# kept them on the plateau; see the next table.
# :::
#
# ### Pilots after the weight-decay fix (December 2026)
#
# :::{admonition} History, at commit `141c22e` and its neighbours
# *Measured through `tools/ch04_pilot.py`, before the `cpu` profile's 10 000-step schedule; not recorded, so the rows
# stay as they were reported.*
#
# The pilots above ran before the trainer learned to spare biases and LayerNorm gains from weight decay. A plain,
# self-contained training loop, kept beside the project as a reference, then showed that
# the library's decoder and task sets do learn this task once the recipe is fixed: learned positions, linear
# biases, and weight decay on the weight matrices and embeddings only. The trainer now applies that rule to every
# chapter. The runs below go through the library's own trainer (`train_sweep`, via `tools/ch04_pilot.py`): $p = 7$,
# 16 examples, $\alpha = 0.8$, width 64, depth 2, 4 heads, ReLU, learned positions, biases, random tasks, AdamW
# 2e-3, $\beta = (0.9, 0.98)$, weight decay 1, 200 warm-up steps then cosine to 0.1×, one CPU thread each.
# Last-shot accuracies at the last evaluation (chance 0.14); "key" is the pilot's seed (rows marked † drew their
# streams with the arithmetic seeds the book used before `iclbook/rng.py`).
#
# | key | change | steps | i.d.-train | o.o.d.-train | o.o.d.-test |
# |---|---|---|---|---|---|
# | 0 † | — ($n_{\rm i.d.} = 40$, batch 128) | 5000 | 1.00 | **0.81** | 0.31 |
# | 1 † | — | 5000 | 0.95 | 0.33 | 0.20 |
# | 1 | batch 256 | 3000 (stopped) | 0.99 | 0.42 | 0.16 |
# | 2 | batch 256 | 3000 (stopped) | 0.99 | 0.29 | 0.25 |
# | 1 | weight decay 3 | 3500 (stopped) | 0.85 | 0.39 | 0.40 |
# | 1 | $n_{\rm i.d.} = 44$ (5 unseen tasks) | 3500 (stopped) | 0.33 | 0.23 | 0.14 |
# | 2 | $n_{\rm i.d.} = 44$ | 3500 (stopped) | 0.43 | 0.31 | 0.18 |
# | 1 | lr 4e-3 | 2500 (stopped) | 0.22 | 0.16 | 0.18 |
# | 2 | lr 4e-3 | 2500 (stopped) | 0.22 | 0.16 | 0.20 |
# | 1 | $p = 11$, $n_{\rm i.d.} = 96$ of 121 | 3500 (stopped) | 0.12 | 0.11 | 0.09 |
#
# What they show:
# - **Every run leaves the $\ln p$ plateau** except the $p = 11$ one and the higher learning rate (both still on
#   it when stopped), so the trainer is no longer what holds the chapter back.
# - **Leaving the plateau is not enough: which solution the model finds depends on the seed.** Key 0 † solved the
#   unseen tasks (o.o.d.-train 0.75–0.90 on each of its nine unseen tasks). Key 1 † memorised its 40 tasks
#   (i.d.-train 0.95) and reached only 0.22–0.45 on each unseen task, with accuracy rising slowly with the shots:
#   a partial, uniform generalisation, not a few solved tasks. Larger batches, stronger weight decay and more
#   pretraining tasks all left the model in that memorising solution within the steps we could afford.
# - **Unseen inputs stayed hard in these 5000-step pilots**: even the model that solved unseen tasks answered only
#   about a third of the queries on the ten held-out input pairs, for seen and unseen tasks alike (i.d.-test ≈
#   o.o.d.-test ≈ 0.3). It related the train inputs to one another rather than computing $a x + b y$.
#
# The `cpu` profile of that round ran the base recipe of this table ($n_{\rm i.d.} \in \{8, 40\}$, $\alpha = 0.8$,
# 5000 steps, batch 128, and the depth-1 control), and whether claim 1b held depended on the seed. Not tried for
# lack of CPU time: widths above 64 at full length, $p = 11$ beyond 3500 steps.
# :::
#
# Unseen inputs are not out of reach at $p = 7$ with today's 10 000-step schedule: in the `cpu` record, every seed
# whose $n_{\rm i.d.} = 40$ member solves unseen tasks on train inputs (1b) also passes τ on unseen inputs (1d).
#
# :::{admonition} History, at commit `39be919`: the `cpu` record in the appendix
# Claim 1d (o.o.d.-test) reached 0.56, 0.65 and 0.57 in seeds 3, 4 and 5, the seeds where 1b holds, and 0.19–0.24
# in seeds 0, 1 and 2, where the member memorised. 1d holds in three seeds of six, always together with 1b, so it
# stays expected at `gpu`.
# :::
#
# ### The `cpu` profile: a 10 000-step schedule (December 2026)
#
# :::{admonition} History, at commit `d03dc45`: the two-point grid
# *Measured under the criteria of that time, on the two-point grid $n_{\rm i.d.} \in \{8, 40\}$; the per-seed tables
# since are the records in the section "Recorded results" below.*
#
# With the base recipe at 5000 steps, the `cpu` ledgers of seeds 0, 1 and 2 reached o.o.d.-train 0.31, 0.54 and
# 0.26 at $n_{\rm i.d.} = 40$, and in seeds 0 and 2 the model had not even learned all its i.d. tasks (claim 1c:
# 0.46 and 0.41). The same members (the chapter's own member seeds of those three runs, keys below) were then
# trained on a **10 000-step** schedule (warm-up 4 %, cosine to 0.1×; everything else unchanged) through the
# library's trainer on `--executor local:2`. Last-shot accuracies, i.d.-train / o.o.d.-train, at $n_{\rm i.d.} = 40$:
#
# | `cpu` seed (member key) | 2000 | 4000 | 6000 | 8000 | 10000 |
# |---|---|---|---|---|---|
# | 0 (1856302979) | 0.26 / 0.15 | 0.99 / 0.88 | 1.00 / 0.90 | 1.00 / 0.89 | 1.00 / 0.87 |
# | 1 (1288747847) | 0.54 / 0.30 | 0.98 / 0.70 | 1.00 / 0.70 | 1.00 / 0.73 | 1.00 / 0.70 |
# | 2 (1690809793) | 0.42 / 0.30 | 0.45 / 0.35 | 0.98 / 0.52 | 1.00 / 0.60 | 1.00 / 0.60 |
#
# The longer schedule keeps the learning rate high for longer: every model left the plateau and learned its tasks by
# step 6000, and each passed τ = 0.5 on unseen tasks. These were the two-point grid's members; on today's three-point
# grid a member's seed follows its position, so `cpu` seeds 0–2 train other members at $n_{\rm i.d.} = 40$, and those
# fail 1b (the record in the appendix; see "Two recipes tried" below). The `cpu` profile then ran this schedule
# (`steps` 10 000, `n_ckpt` 10) for the three models its claims needed: the two grid points and the depth-1 control.
# Its ledgers for seeds 0, 1, 2, 3, 4 (`iclbook seeds 04 --profile cpu --seeds 0 1 2 3 4`; the page *How often do the
# claims hold?* shows the latest table), last-shot accuracies after training:
#
# | seed | $n_{\rm i.d.} = 8$: i.d.-train / o.o.d.-train (1a) | $n_{\rm i.d.} = 40$: o.o.d.-train (1b) | o.o.d.-test (1d) | depth 1: o.o.d.-train (old 2) | rise with shots (3) | ratio-matching gap, all contexts (old 4) |
# |---|---|---|---|---|---|---|
# | 0 | 1.00 / 0.15 | 0.87 | 0.83 | 0.18 | 0.75 | 0.92 |
# | 1 | 1.00 / 0.11 | 0.70 | 0.29 | 0.12 | 0.56 | 0.96 |
# | 2 | 1.00 / 0.14 | 0.60 | 0.32 | 0.13 | 0.47 | 0.84 |
# | 3 (not tuned on) | 1.00 / 0.12 | 0.72 | 0.30 | 0.12 | 0.60 | 0.97 |
# | 4 (not tuned on) | 1.00 / 0.11 | 0.38 | 0.23 | 0.13 | 0.27 | 0.90 |
#
# Over seeds 0–4 (seeds 3 and 4 were not used to choose the schedule) the claims hold in: 1a 5 of 5, 1b 4 of 5,
# 1c 5 of 5, 2 4 of 5, 3 4 of 5, 4 5 of 5 (claims 2 and 4 under their old criteria; see the next section). In seed 4 the $n_{\rm i.d.} = 40$ model memorised its tasks (i.d.-train
# 1.00) but reached only 0.38 on unseen ones, so 1b, 2 and 3 fail there: which solution the model finds within
# 10 000 steps still depends on the seed, as in the pilots above, and at `cpu` these claims hold for most seeds,
# not for all.
# Claim 1d (unseen tasks on unseen inputs) reached 0.83, 0.29, 0.32, 0.30 and 0.23 in seeds 0–4, one seed of
# five, so it stays a `gpu` claim, whose $p = 29$ has 168 held-out input pairs at $\alpha = 0.8$ against our ten.
# The depth-1 control never learned even its own 40 tasks (i.d.-train ≈ 0.3), so claim 2's contrast at this
# scale was between a model that solves unseen tasks and one that solves none; the next section says what changed.
#
# **Cost.** With two one-thread workers busy, a depth-2 member took about 21 minutes for its 10 000 steps and a
# depth-1 control 8–11. With `--executor local:2` the chapter trains its two grid points in parallel, then the
# control: about half an hour on two cores, more than the 25 minutes we aimed for. A shorter schedule would
# have to keep seed 2, which passed τ only at step 6000; we did not search for one.
# :::
#
# ### A third grid point: where the threshold lies (December 2026)
#
# Two grid points ($n_{\rm i.d.} = 8$ and 40, 16 % and 82 % of the tasks) say that a transition exists, not where.
# The `cpu` grid now has a third point, $n_{\rm i.d.} = 28$ (57 %), where the 5000-step pilot of the chapter's spec
# found a partial solution (an o.o.d. peak that faded again, in the project's design notes, measured with the pilot
# script before this chapter's code existed), so it is the point whose outcome was least certain. Claim
# 1e reads the transition off the grid (the largest $n_{\rm i.d.}$ below the first that solves unseen tasks, and that
# first one) and asks for the paper's bracket, 128 and 256 of 841 tasks. Its criterion was fixed in the commit that
# added the point, before any run evaluated it. At $p = 7$ no grid point lies inside 15–30 % but $n_{\rm i.d.} = 8$,
# which memorises, so 1e is expected at `gpu`; what the `cpu` runs say is the bracket itself, in the detail of 1e and
# in the records below. The third member adds about a third to the chapter's training time.
#
# ### Two recipes tried on seeds nobody had tuned on (December 2026)
#
# The first record of the three-point grid (seeds 0–2, in the appendix) failed 1b and 3 in every seed. The recipe
# had not changed, but a member's seed follows its position in the grid, so adding $n_{\rm i.d.} = 28$ gave the
# $n_{\rm i.d.} = 40$ point new members: two left the plateau only after step 7000 and one memorised its tasks.
# The members at $n_{\rm i.d.} = 40$ trained at `cpu` with this recipe come from two sources that should not be
# mixed up: of the two-point grid's five (seeds 0–4, the history table above at commit `d03dc45`, no record), four
# solved unseen tasks; of the three-point grid's six (seeds 0–5, the record at commit `39be919` in the appendix),
# three did. Either way, the o.o.d. phase at $n_{\rm i.d.} = 40$ is close to a coin flip at this scale, not a property
# of the recipe.
#
# We tried two levers on seeds 4 and 5, on the grid $n_{\rm i.d.} \in \{28, 40\}$ (the member at 8 memorises in
# every record, so the pilots skip it), each recorded with its overrides in the appendix:
# - **weight decay 2**, the paper's value (He et al. write that weight decay matters for the transitions), same cost;
# - **batch 256 at the same number of sequences** (5000 steps), the lever that once took a slow seed off the
#   plateau, same cost.
#
# Each pilot took 45 minutes for both seeds (two one-thread processes). Both gave the same split: seed 5's
# $n_{\rm i.d.} = 40$ member (key 407452164) solved unseen tasks and seed 4's did not. Seed 4's is the member (key
# 2405928847) that memorised at the profile's recipe in the two-point grid's seed 4 above, so the pilots gave the
# failing member two more chances, and it failed all three.
#
# :::{admonition} History, at commit `3f8b8bc`: read from the run store of the two pilots' records
# With weight decay 2, seed 4's member sat near i.d.-train 0.4 from step 3000 to step 8000 and had not finished
# learning its own tasks at the end; with batch 256 the same member (same tasks, same initialisation) left that
# plateau at step 3000, learned its tasks, and memorised them, staying near 0.3 on unseen ones. At
# $n_{\rm i.d.} = 28$ every pilot member ended below τ on unseen tasks; one (weight decay 2, seed 4) first solved them
# (o.o.d.-train 0.65 at step 2000) and then lost most of it to memorisation (0.38 at the end); the three-point
# grid's seed-1 member at 28 did the same at weight decay 1 but ended just above τ.
# :::
#
# So neither lever
# beats the profile's recipe on the seeds that decide, and the profile keeps it: a larger batch or a stronger decay
# changes when the model leaves the plateau, not which solution it finds. What we did not try, for lack of CPU
# time: schedules longer than 10 000 steps (the members that left the plateau late were still rising), and
# $p = 11$, whose 121 tasks would put $n_{\rm i.d.}$ at the paper's share but whose plateau grows with $p^2$
# (`steps_for_p` would ask for about 25 000 steps).
#
# **Where the threshold lies.** Claim 1f reads a threshold off each run's grid, and its detail lists o.o.d.-train
# per $n_{\rm i.d.}$; the claim × seed table says in how many seeds the grid shows one. At `cpu` the o.o.d. phase,
# where it appears, appears at 57 % (28 of 49 tasks) or 82 % (40) of the tasks: far above the paper's 15–30 % at
# $p = 29$, as expected for so few tasks. It is not a sharp threshold at this scale: a member at 28 can solve unseen
# tasks while the member at 40 of the same run memorises (the three-point grid's seed 1), which 1f counts as a fail.
#
# **How often the o.o.d. phase shows at `cpu`: seeds 0–5.** The plain `cpu` record in the appendix (recorded at
# commit `39be919`; seeds 3, 4 and 5 were never used to choose anything) is the chapter's claim × seed table, and the
# introduction counts it: 1b, 1f and 3 hold in 3 of 6 seeds (3, 4 and 5), 1a and 1c in 6 of 6, 4a in 5, 4b in 2,
# and claim 2 in none, for the reason given below. The recipe does not reach the 5 of 6 we aimed for, and neither
# pilot did better on the seeds that decide, so the chapter states the measured count. In each failing seed the
# $n_{\rm i.d.} = 40$ member **memorised**.
#
# :::{admonition} History, at commit `39be919`: the `cpu` record, and the run store of its models
# In seeds 0, 1 and 2 the $n_{\rm i.d.} = 40$ member learned its own tasks (i.d.-train 0.95–1.00, claim 1c) while
# unseen tasks stayed near 0.3 (1b: 0.33, 0.25, 0.31). Read from the run store of the record's models: seed 1's
# member left the plateau at step 3000 and memorised at once; seeds 0 and 2 left it only after step 7000 and
# memorised on the way, so a longer schedule might have changed those two, which we did not try. In the passing
# seeds o.o.d.-train rose together with i.d.-train (seed 5: i.d. 0.70 / o.o.d. 0.36 at step 5000, 0.95 / 0.79 at
# 6000). At $n_{\rm i.d.} = 28$ four of six members ended below τ on unseen tasks (seeds 1 and 4 solved them);
# seed 5's reached 0.49 at step 2000 and memorised down to 0.25, so its grid (8 and 28 unsolved, 40 solved) shows
# the threshold 1f asks for.
# :::
#
# ### How we test the claims, and what changed (December 2026)
#
# Each claim's reading and criterion is one function in `iclbook/experiments/modular_arithmetic_claims.py`, and
# `tests/test_modular_claims.py` feeds each an input on which the claim is false (it must fail) and one on which it
# is true (it must hold); the ratio-matching claims are fed small fake models with a known algorithm. A review of
# the ledger found four criteria that a model without the paper's behaviour could pass. They were changed, and the
# changes committed, before any run evaluated them:
# - **1b** now gives $n_{\rm i.d.}$ as a share of the $p^2$ tasks beside the paper's 15–30 %: our 40 tasks are
#   82 % of 49, so 1b says that the model solves unseen tasks, not that the threshold sits where the paper's does.
# - **2** was "depth-1 o.o.d.-train < τ ≤ depth-2 o.o.d.-train". The depth-1 control never learned even its own
#   tasks (in the two-point grid's seeds 0–4, history below), so its failing o.o.d. said nothing about
#   generalisation. Claim 2 now also asks that the depth-1 model learned its tasks (i.d.-train ≥ τ), and fails if it
#   did not. We looked for what the control needs to learn its tasks, on the `cpu` point of seed 0
#   ($n_{\rm i.d.} = 40$, member key 1856302979), through the library's trainer with a 3000-step schedule:
#
#   :::{admonition} History, at commit `c4b22e8`: the depth-1 control pilots
#   Last-shot i.d.-train / o.o.d.-train: width 64 with 8 heads (so that the heads can fetch two whole examples and
#   the query) 0.26 / 0.17; width 128 with 8 heads (a wider MLP to combine them) 0.27 / 0.14. The `cpu` controls of
#   the two-point grid's seeds 0–4 (width 64, 4 heads, 10 000 steps) sat at about 0.3. Every one stays at the best a
#   learner can do from one example and the query, 0.28 on these 40 tasks (`one_example_accuracy`).
#   :::
#
#   So neither heads, width nor steps, in the amounts we can afford, let one block learn its tasks. The control
#   keeps the grid's recipe (`control_embd` is there to try
#   a wider one), and claim 2 stays expected at `cpu`, where we expect it to **fail for this reason**: at our scale
#   we cannot show the paper's depth contrast between two models that both learned their tasks.
# - **4a** was a lower bound on "accuracy where ratio matching applies minus where it does not", averaged over 1–3
#   shots, over all contexts. After one example, or collinear ones, the answer off their line is undetermined, so a
#   learner that infers the task exactly, and does no ratio matching, shows that gap too, and the old criterion
#   passed it (history below). 4a now reads the gap at 2–3 shots on contexts that determine the task, where the
#   exact learner's gap is zero (a unit test checks both). The first `ci` run of that criterion found a gap in one
#   seed from a model at chance on unseen tasks (history below): a small bias, not ratio matching. So 4a also asks
#   that the model be right on at least τ of the queries where ratio matching applies; this tightening was
#   committed before any `cpu` run.
#
#   :::{admonition} History, at commits `b752282` and `5960b12`
#   The old criterion asked for a gap above 0.1. In the review's simulation at $p = 7$ (committed with the new
#   criterion in `b752282`) the exact learner's gap over all contexts was 0.86, 0.14 and 0.02 at 1, 2 and 3 shots.
#   The first `ci` run of the new criterion (seeds 0–9, at `5960b12`) found a gap of 0.11 in seed 6 from a model at
#   chance on unseen tasks (o.o.d.-train 0.13).
#   :::
# - **4b** is new: the paper's shift from ratio matching to modular regression. The few-shot gap of 4a must exist
#   (by 4a's criterion) and be at most half as large at the last two shots. The exact learner fails it (no gap to begin with),
#   and so does a ratio matcher that never shifts.
# - **5** was a small lower bound on "peak − final o.o.d.-test accuracy", which noise around a low curve passes. It
#   now asks for a peak ≥ τ, then a fall of at least 0.1 while i.d.-train stays ≥ τ at every evaluation from the peak
#   on, so that the fall is neither noise (the largest of some forty noisy evaluations sits well above the curve) nor
#   a collapse of training.
# - **Kinds.** 1c (every grid model learned its own tasks) checks our training, which the phase diagram needs; the
#   paper does not state it as a result, so it is a *check*. The others are the paper's results.
#
# ### From single runs to rates: the chapter's studies (December 2026)
#
# Near the threshold a model of this size either memorises or solves unseen tasks, and which one it does comes and
# goes with the seed (1b holds in three of the six recorded `cpu` seeds). One run's verdict therefore says little,
# and the paper's phase diagram, one seed per cell, says no more. The chapter's claims about the threshold are
# being restated as rates over many independent members, each a k of n with a Wilson interval, in *studies*
# (`iclbook study 04 …`, declared in `iclbook/experiments/modular_arithmetic_studies.py`, members in
# `modular_arithmetic_members.py`). Their criteria were committed before any member ran (commit `6d77f31`; the
# rehearsal's in `c436c8d`), and their member seeds (1000 and up) were never used to choose anything:
# - **`recipe-screen`**: today's recipe against three candidates the literature suggests (a learning rate held at
#   its peak after the warm-up, Grokfast's gradient filter, and the official code's batches in which every sequence
#   shows the same inputs), six members each at $n_{\rm i.d.} = 40$. A fixed rule adopts a candidate only if it
#   solves unseen tasks in at least two more members than today's recipe at about the same cost. Every member also
#   keeps the *early ratio* r, its o.o.d. over its i.d. accuracy (each above chance) at the first evaluation where it
#   has learned its own tasks; claim r-early asks whether r tells early which members will solve unseen tasks
#   (solvers' r larger by a one-sided Mann-Whitney test and a large area under the ROC curve, the rule in the
#   ledger), on the screen and again on the curve.
# - **`solve-rate`**: with the adopted recipe, the rate at which models solve unseen tasks at $n_{\rm i.d.}$ = 8, 20,
#   32 and 44 of the 49 tasks, eight members each; claims 1a, 1b, 1d, 1f, 3, 4a and 4b as rates on that curve.
# - **`depth`**: claim 2 as the paper states it: eight depth-1 controls at $n_{\rm i.d.} = 44$ with two and a half
#   times the steps (a depth-1 step costs less than half a depth-2 step, so this gives each control at least a
#   depth-2 member's wall time, which a check reads off the record), against the curve's depth-2 members there. The
#   declaration first trained both depths at $n_{\rm i.d.} = 40$, six members each; it changed before any member ran,
#   because at that point depth 2 solves in only about two members of three, too few for six members to set the two
#   rates' intervals apart. The claim's value also says whether the controls learned their own tasks: if they did
#   not, depth 1 fails unseen tasks for the reason given in *Depth: one block is not enough*, which is what the
#   eight controls showed (*Depth as a rate*).
# - **`gpu-recipe`**: the paper's recipe, the `gpu` profile's until December 2026 (rotary positions, no biases, the
#   rectangle rule), at the `cpu` scale, beside the `cpu` recipe on the same seeds: does it learn where ours does? It
#   did not (above, *Where this chapter differs*), and the `gpu` profile changed to our recipe.
#
# A study's record (`results/04_modular_arithmetic/study-<name>.json`) is written member by member, so the studies
# run over several sittings; the book's page *How often do the claims hold?* shows every recorded study with its
# rates, intervals and claims. The chapter's ledger keeps its own run's single-run claims; the rate claims of the
# recorded studies stand under it.
#
# **What the screen found.** By its rule, committed before its first member, the screen adopts **`constant-lr`**
# (the table below): with the learning rate held at its peak after the warm-up, five of six members solved unseen
# tasks, against three of six with today's cosine decay, at the same cost per member. This is what the late solvers
# of the six-seed record suggested: they left the plateau after most of the decay and were still rising when it
# ended. The sixth `constant-lr` member never left the plateau (it did not learn even its own tasks), so a constant
# rate makes solving more likely, not certain. The two other candidates did worse than today's recipe. Grokfast's gradient filter learned the
# pretraining tasks more slowly (some members had not learned them after 10 000 steps) and solved in fewer
# members: what sped up grokking of one fixed task does not carry over to learning a family of tasks in context.
# The official code's batches, where every sequence of a batch shows the same inputs, did not learn even the
# pretraining tasks in any member (i.d.-train at about chance, its training loss barely below $\ln 7$): a step
# of ours shows 128 sequences of 16 freshly drawn input pairs each, a step of theirs 16 pairs in all, and at our
# batch size and step count that is far too little; He et al. trained for many more steps. Claim r-early fails: a
# member's early ratio r, read when it first learns its own tasks, does not sort the members that go on to solve
# unseen tasks from those that do not (the claim's row gives the area under the ROC curve), so a reader cannot
# tell early from r whether a run will solve them.
#
# The rate curve (`solve-rate`) and the depth controls therefore train with the constant learning rate (set in the
# studies' module as `CURVE_RECIPE`, committed before the curve's first member). The chapter's own run keeps its
# cosine schedule for now: the schedule is part of the chapter's declaration, so switching it would make every
# record of this chapter stale, and the screen's own members with it, and renewing the `cpu` record costs about
# three hours here; the curve, not the single run, is the chapter's measurement of how often a model solves unseen
# tasks.

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show(ch, "gpu-recipe")
recorded_studies.show(ch, "recipe-screen")
recorded_studies.show(ch, "solve-rate")
recorded_studies.show(ch, "depth")

# %% [markdown]
# ## Recorded results
#
# The recorded claim × seed tables of this chapter (`iclbook seeds … --record`), newest first, each with the commit
# it ran at; a *stale* one ran on code that has changed since.

# %% tags=["remove-input"]
ch.records_appendix()

# %% [markdown]
# ## Claim ledger

# %% tags=["remove-input"]
ch.finish()

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show_ledger(ch, ["gpu-recipe", "recipe-screen", "solve-rate", "depth"])
