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
# # Task diversity and the transient ridge
#
# Chapter 1 trained a transformer on a fresh regression task for every prompt. What if pretraining only ever shows
# $M$ tasks, drawn from a fixed pool? {cite:t}`raventos2023` found a *task-diversity threshold*: below it the
# transformer learns the Bayes predictor for the pool (dMMSE$_M$, which fails on new tasks); above it, it learns
# ridge regression, the Bayes predictor for the Gaussian task prior, and solves tasks it has never seen.
# {cite:t}`carroll2025` looked at the training *dynamics* near the threshold and found that, for intermediate $M$,
# the transformer first moves toward ridge and only later turns to dMMSE$_M$: a *transient ridge*. They explain it
# by a trade-off between loss and complexity, measured with the local learning coefficient (LLC).
#
# This chapter runs the four pieces, the threshold, the transient, the joint trajectory PCA that shows the detour,
# and the LLC against $M$, and checks each against the papers' claims. At the `cpu` profile not all of them
# reproduce. In the three recorded `cpu` seeds (the record in the appendix) the threshold holds in every seed
# (claims 1a, 1b, 1e); the transient (2a–2c) shows in two seeds of three and is weak, and over twelve (seed, pool)
# pairs, new task pools included, in a third of them (the study `transient`, section *Studies*), so at this scale it
# is a property of some pools and seeds, not a rule; the trajectories end where they should (3c) in every seed, but
# the detour test (3b) holds in two; and the LLC's explanation fails in every seed: $\hat\lambda$ does not rise with $M$ on the dMMSE side (4a) and does not
# cross ridge's near the transient's onset (4c), because $\hat\lambda(4)$ comes out above $\hat\lambda(8)$. Each
# section says where the reader meets a claim that fails at this scale, and why.
#
# *Computing this page took {glue:text}`wall_time` at profile {glue:text}`wall_profile`, on
# {glue:text}`wall_where`; {glue:text}`wall_store` (see {doc}`status`).*

# %% tags=["remove-cell"]
import math
import time

from iclbook.analysis.llc import SGLDConfig
from iclbook.analysis.trajectory_pca import joint_trajectory_pca
from iclbook.claims import is_true
from iclbook.notebook import markdown_table, open_chapter
from iclbook.experiments import transient_ridge_claims as tc
from iclbook.experiments.transient_ridge import (LLC_EPS_GRID, SweepConfig, calibrated_llc, detour_toward_ridge,
                                                 llc_geometry, llc_ratio, m_label, make_probes, on_ridge_side, pca_geometry,
                                                 sweep_llc, threshold_M, trade_off_points, train_sweep)
from iclbook.experiments.transient_ridge_figures import (figure_1d_vs_2b, figure_llc, figure_llc_ratio,
                                                         figure_threshold, figure_trajectory_pca, figure_transient)


def add(id: str, statement: str, r: tc.Reading, more: str = "", **kw) -> None:
    """A ledger entry from one claim function's reading (value, criterion, detail), with ``more`` detail appended."""
    ch.ledger.add(id, statement, r.value, r.criterion, detail=r.detail + more, **kw)


ch = open_chapter("02", globals())  # after every helper: names defined later and before the parameters are refused

# %% tags=["parameters", "hide-cell"]
profile = None  # "ci" | "cpu" | "gpu"; None: gpu with CUDA, else cpu. Every None below takes the profile's value.
D = None  # input dimension
K = None  # context length (pairs per sequence)
sigma2 = None  # label noise σ²
Ms = None  # finite task-pool sizes M (∞ is always added)
M_transient = None  # the intermediate M where the transient is looked for
tokens = None  # token format
n_layer = None
n_embd = None
n_head = None
mlp_ratio = None
steps = None
batch = None
lr = None
schedule = None
warmup = None
n_eval = None
n_probe = None
n_linear = None
n_log = None
llc_eps = None
llc_nbeta = None
llc_gamma = None
llc_chains = None
llc_burn_in = None
llc_draws = None
llc_n = None
llc_batch = None
seed = None
pool_seed = None  # the task sequence the pools are drawn from

# %% tags=["remove-input"]
P = ch.resolve(globals())
ch.md(ch.describe())

# %% [markdown]
# ## The setting
#
# A sequence holds $K$ pairs $(x_k, y_k)$ with $x_k \sim \mathcal N(0, I_D)$ and $y_k = t^\top x_k + \varepsilon_k$,
# $\varepsilon_k \sim \mathcal N(0, \sigma^2)$. The task $t$ comes from a pool: one fixed sequence
# $t_1, t_2, \dots \sim \mathcal N(0, I_D)$ is drawn once, and the pool of size $M$ is $\{t_1, \dots, t_M\}$, so
# pools are nested and the root task $t_1$ is in every one. $M = \infty$ means a fresh task for every sequence.
# The transformer predicts every $y_k$ from $x_k$ and the earlier pairs, trained with the mean squared error over
# all $K$ positions.
#
# Two Bayes predictors bracket what it can learn:
# - **ridge** with $\lambda = \sigma^2$, optimal for tasks from $\mathcal N(0, I_D)$;
# - **dMMSE$_M$**, the posterior mean over the pool, optimal for the training distribution with $M$ tasks.
#
# Every $M$ is trained with the same seed and hyperparameters. All $M$ values train together as one ensemble (one
# batched matrix product per layer), which `benchmarks/sweep_ensemble.py` measured to be no slower than training
# them one after another on the book's 2-core CPU, and which is much faster on a GPU. Losses below are MSE$/D$,
# measured at checkpoints on fixed evaluation sets: fresh Gaussian tasks (out of distribution, *OOD*) and each
# model's own pool (*ID*). $\Delta$ is the mean squared difference of two predictors' outputs$/D$ on the OOD set.

# %%
Ms_all = [*P.Ms, math.inf]
keys = [m_label(M) for M in Ms_all]
cfg = SweepConfig.from_params(P)
probes = make_probes(cfg, ch.device)
base = {m_label(M): probes.baseline_losses(M) for M in Ms_all}
ridge_loss = base["∞"]["ridge"]
ch.md(markdown_table(["M", *keys], [["dMMSE$_M$ OOD loss", *(f"{base[k]['dmmse']:.3f}" for k in keys)]])
      + f"\n\nRidge's OOD loss is {ridge_loss:.3f}; dMMSE$_\\infty$ is ridge.")

t0 = time.time()
runs = train_sweep(cfg, ch.store, ch.device, probes, batched=True, desc="task-diversity sweep")
train_seconds = time.time() - t0
ch.timed("training", train_seconds)
ch.glue(n_params=f"{runs[keys[0]].model.num_params():,}", n_probe=P.n_probe,
        tokens_used="[x_k, x_{k−1}, y_{k−1}]" if P.tokens == "pair" else "interleaved [0, x_k], [y_k, 0…0]")

# %% [markdown]
# The model is a pre-LN GPT-style decoder ({glue:text}`n_params` parameters per $M$) reading tokens
# {glue:text}`tokens_used`.
#
# ## 1. The task-diversity threshold
#
# After training, where does each $M$ end? Small pools should end at dMMSE$_M$ (small $\Delta$ to dMMSE$_M$, large
# OOD loss); large pools at ridge.

# %%
finite = [m_label(M) for M in P.Ms]
x_of = {**{m_label(M): float(M) for M in P.Ms}, "∞": 2.0 * max(P.Ms)}  # ∞ one octave right of the largest M


final = {k: {q: float(runs[k].evals[q][-1]) for q in ("ood", "id", "d_ridge", "d_dmmse")} for k in keys}
# and per M: does it end on the ridge side?
M_star, ridge_side = threshold_M(final, finite, x_of, ridge_loss, base[finite[-1]]["dmmse"])
r1e = tc.claim_1e(ridge_side, finite, x_of)
M_star = M_star if r1e.value else math.nan  # no threshold drawn where claim 1e says the grid cannot place one

ch.show(figure_threshold(final, base, keys, x_of, ridge_loss, M_star, P.steps), "threshold")

low, high = finite[0], finite[-1]
ch.glue(M_star=f"{M_star:.1f}" if math.isfinite(M_star) else "not found")
add("1a", f"Small M (M = {low}): the final model matches dMMSE_M, not ridge", tc.claim_1a(final[low]),
    expected_at=("cpu", "gpu"), source="Raventós et al. 2023, Fig. 2", kind="paper")
add("1b", "Small M does badly on fresh tasks: OOD loss above halfway from ridge to dMMSE_M",
    tc.claim_1b(final[low], ridge_loss, base[low]["dmmse"], low), kind="paper")
add("1c", "Large M (∞): the final model matches ridge",
    tc.claim_1c(final["∞"]["d_ridge"], probes.dmmse_to_ridge(high), high), expected_at=("gpu",),
    source="Raventós et al. 2023, Fig. 2", kind="paper")
add("1d", "Large M (∞) solves fresh tasks near the Bayes risk (ridge)", tc.claim_1d(final["∞"]["ood"], ridge_loss),
    expected_at=("gpu",), kind="paper")
add("1e", "One threshold: every dMMSE-side M lies below every ridge-side M", r1e, expected_at=("cpu", "gpu"),
    kind="paper")

# %% [markdown]
# Final models with $M$ below the threshold (dashed, at $M \approx$ {glue:text}`M_star`) sit on dMMSE$_M$; above it
# they sit on ridge. The threshold is where $\Delta$ to ridge and $\Delta$ to dMMSE$_M$ cross. Claim 1c (the
# $M = \infty$ model *matches* ridge) fails in every seed recorded with the `cpu` profile's settings: that model ends
# on ridge's side but, after our short training, not at ridge, so 1c is expected only at `gpu` (section 4 says how this was decided).
#
# *How we test claim 1e.* The sides must separate over every $M$ *including* $M = \infty$, which has no dMMSE$_\infty$
# of its own: it counts as ridge-side when its OOD loss lies nearer ridge's than the largest finite pool's dMMSE
# loss. And some finite $M$ must end on the ridge side: with every finite $M$ on the dMMSE side only $M = \infty$ is
# ridge-side, the threshold could sit anywhere above the largest $M$, and the grid cannot place it, so the claim
# fails and says so (and the figure draws no threshold). Until December 2026 $M = \infty$'s side was never looked
# at, so with every finite $M$ on the dMMSE side the claim held whatever $M = \infty$ did. The second condition, a
# finite $M$ on the ridge side, was added in December 2026 before any run evaluated it (issue 34: the science review
# found that at `ci` the old 1e held in 10 of 10 seeds while 1c and 1d held in none). At `ci` the grid's finite
# pools are $M$ = 4 and 8, both far below any threshold a few thousand steps can show, so 1e is expected from `cpu`
# on, whose grid reaches pools large enough to end on the ridge side.
#
# ## 2. The transient ridge
#
# Now the whole training run. For intermediate $M$, the OOD loss should first fall toward ridge's and then rise
# toward dMMSE$_M$'s. We mark $t_{\rm crit}$, the minimum of the lightly smoothed OOD loss (a centred average over
# five checkpoints).

# %%
tcrit = {k: tc.t_crit(runs[k].steps, runs[k].evals["ood"]) for k in keys}
# per checkpoint, ignoring the first 2% of training (the model still predicts ≈ 0): closer to ridge than dMMSE_M?
side = {k: on_ridge_side(runs[k], early=max(1, P.steps // 50)) for k in keys}


ch.show(figure_transient(runs, keys, finite, base, tcrit, ridge_loss, x_of), "transient")

kt = m_label(P.M_transient)
rt = runs[kt]
r2 = tc.transient_readings(rt.steps, rt.evals, base[kt]["dmmse"], ridge_loss, kt)
transient = {k: tc.has_transient(side[k]) for k in finite}
ch.glue(t_crit=f"{tcrit[kt][0]}", M_transient=kt, rise=f"{r2['2a'].value:.2f}",
        transient_list=", ".join(f"M = {k}" for k in finite if transient[k]) or "no M of this run")
add("2a", f"M = {kt}: the OOD loss falls, then rises toward dMMSE_M", r2["2a"], expected_at=("gpu",),
    source="Carroll et al. 2025, Fig. 1", kind="paper")
add("2b", f"M = {kt}: at t_crit the model is closer to ridge than at the end", r2["2b"], expected_at=("gpu",),
    kind="paper")
add("2c", f"M = {kt}: closer to ridge than to dMMSE_M at t_crit, closer to dMMSE_M at the end", r2["2c"],
    expected_at=("gpu",), kind="paper")
add("2d", f"No transient below the window (M = {low} is never on the ridge side); above it "
    f"(M = {high}) the model stays on the ridge side", tc.claim_2d(side[low], side[high], low, high),
    "; transient at M = " + (", ".join(k for k in finite if transient[k]) or "none"), expected_at=("cpu", "gpu"),
    kind="paper")

# %% [markdown]
# For $M$ = {glue:text}`M_transient` the smoothed OOD loss is lowest at $t_{\rm crit}$ = {glue:text}`t_crit`
# steps; from there to the end it changes by a fraction {glue:text}`rise` of the gap between ridge and dMMSE$_M$
# (a transient needs a clear rise). Counting a transient as "closer to ridge than to dMMSE$_M$ at some checkpoint
# after the first 2% of training, and closer to dMMSE$_M$ at the end", this run has one at:
# {glue:text}`transient_list`. The right panel compares the model with both baselines at $t_{\rm crit}$ (filled)
# and at the end (open).
#
# *How often a CPU shows it.* In the first three `cpu` seeds under today's criteria (the records in the appendix)
# the transient was clear in two and weak in the third, where $M = 13$'s OOD loss rose too little for 2a and 2b.
# A claim that holds in two seeds of three is not one a reader can expect on rerunning, so 2a–2c are expected at
# `gpu` only (the papers' 150k–500k steps and wider models); the records say how often they hold at `cpu`.
#
# ## 3. The trajectories in one picture
#
# Each checkpoint of each $M$ becomes one row: its predictions on {glue:text}`n_probe` fixed sequences of the root
# task $t_1$, which every pool contains. One PCA is fitted on the rows of all $M$ together. The predictions of
# ridge and of each dMMSE$_M$ on the same sequences are then projected into it; they take no part in the fit.

# %%
pca_out = joint_trajectory_pca({k: runs[k].evals["probe"] for k in keys}, probes.references(finite), k=2,
                               half_window=1)  # (pca, smoothed curves, projected references)
ch.show(figure_trajectory_pca(*pca_out, keys), "trajectory_pca")
geo = pca_geometry(pca_out, keys, finite)
separating, end_near = geo["separating"], geo["end_near"]
ch.ledger.add("3a", "One principal component separates the dMMSE_M points from ridge", bool(separating),
              is_true("PC found"), detail=f"separating component(s): {', '.join(f'PC{c + 1}' for c in separating) or 'none'}",
              source="Carroll et al. 2025, Fig. 1", kind="check")
refs = probes.references(finite)
detour = detour_toward_ridge(rt.evals["probe"], rt.steps, refs["ridge"], refs[f"dmmse {kt}"], early=max(1, P.steps // 50))
add("3b", f"The M = {kt} trajectory detours toward ridge before it settles at dMMSE_M", tc.claim_3b(detour),
    " (0 at dMMSE_M, 1 at ridge; near: within ‖ridge − dMMSE_M‖ of ridge), in the full probe space from 2% of "
    "training on", expected_at=("gpu",), source="Carroll et al. 2025, Fig. 1", kind="paper")
add("3c", f"Low M ({low}) ends at its dMMSE_M point; high M ({high}, ∞) ends nearer ridge than dMMSE_M",
    tc.claim_3c(end_near, low, high), expected_at=("cpu", "gpu"), kind="paper")

# %% [markdown]
# *How we test claim 3b (changed in December 2026, before the runs that test it).* It read the closest approach to
# ridge in the PCA plane over the final distance, against a fixed bound, from the second checkpoint on. It held where
# the OOD loss barely rose and failed where the transient was strongest: the first checkpoints, where a near-zero
# predictor passes near ridge's projection, counted; two components dropped most of the difference; and a model ending
# near the boundary made the denominator small. It now reads the full probe space from 2% of training on, counts only
# checkpoints that were on ridge's side and near ridge, and is normalised by the ridge–dMMSE$_M$ distance
# (`tests/test_readouts.py`: a straight path to dMMSE$_M$ and a visit to ridge that never leaves fail it).
#
# *What the validation showed (the first runs under it).* On a run whose OOD loss barely rises (3 layers, 16 000
# steps: 2a and 2b fail; the recorded pilot in the appendix) the new 3b fails, as it should. But on the `cpu` seeds
# it failed in seed 0, whose transient is among the clearest, and held in seed 2, whose transient is the weakest
# (records in the appendix): at this scale it does not read the detour that 2a and 2b see, so it is expected at `gpu` only, and the figure
# below is the evidence to look at. The criterion itself is unchanged.
#
# In the plane of the first two components, trajectories start at the grey cross. Look for the curves of small
# $M$ heading straight to their dMMSE$_M$ star, the intermediate ones bending toward the ridge marker before turning
# to their star, and large $M$ staying near ridge.
#
# ## 4. The local learning coefficient
#
# Why would a model visit ridge first? {cite:t}`carroll2025` measure each solution's complexity with the LLC
# $\lambda$ of singular learning theory: the Bayesian posterior prefers, at a given sample size, a trade-off of low
# loss and low $\lambda$, so a simple solution can win early even if a more complex one fits better. We estimate
# $\hat\lambda = n\beta\,(\mathbb E_w[\ell_n(w)] - \ell_n(w^*))$ at each final model $w^*$, sampling $w$ with SGLD
# from $\exp(-n\beta\,\ell_n(w) - \tfrac\gamma2\lVert w - w^*\rVert^2)$ on $n$ sequences of the model's own training
# distribution. All $M$ share ε, γ, nβ and $n$. The estimator passes analytic checks in `tests/test_llc.py`
# (linear regression: $\lambda = d/2$; $w_1w_2x$: $\lambda = 1/2$; $w^2x$: $\lambda = 1/4$).
#
# **The step size ε** is chosen by one rule for the whole sweep, unless `llc_eps` is given: the largest ε of a fixed
# grid at which every chain of every $M$ stays finite. The rule looks only at finiteness, not at whether the chains
# settle, which claim 4d checks on its own. Here ε = {glue:text}`llc_eps`. A model whose chains diverge even at the
# grid's smallest ε is reported as *not estimated*, and every claim that needs its λ̂ fails and says so.

# %%
sgld = SGLDConfig(eps=P.llc_eps or LLC_EPS_GRID[0], gamma=P.llc_gamma, nbeta=P.llc_nbeta, chains=P.llc_chains,
                  burn_in=P.llc_burn_in, draws=P.llc_draws, batch_size=P.llc_batch, seed=P.seed)
# an explicit llc_eps is used as given; otherwise the largest ε of the grid at which every chain stays finite
llc, sgld = (sweep_llc(cfg, runs, ch.store, sgld, n=P.llc_n, on_divergence="mark"), sgld) if P.llc_eps > 0 else \
    calibrated_llc(cfg, runs, ch.store, sgld, n=P.llc_n, eps_grid=LLC_EPS_GRID)
ch.glue(llc_eps=f"{sgld.eps:g}" + (" (given)" if P.llc_eps > 0 else
                                  f" (grid {', '.join(f'{e:g}' for e in LLC_EPS_GRID)})"))
not_estimated = [k for k in keys if llc[k]["diverged"]]
why_nan = f"; not estimated (SGLD diverged at ε = {sgld.eps:g}) for M = {', '.join(not_estimated)}" if not_estimated else ""

ch.show(figure_llc(llc, keys, [x_of[k] for k in keys], x_of, M_star, P.llc_nbeta, P.llc_burn_in), "llc")

# what claims 4a-4d read: λ̂ per M, its z-score across the dMMSE side, the ridge side's spread, the crossing of
# λ̂(∞) against the transient's onset, and each M's drift |second-half mean − first-half mean| · nβ after burn-in
g = llc_geometry(llc, keys, finite, ridge_side, transient, x_of, P.llc_burn_in, P.llc_nbeta, P.llc_draws)
lam, drift = g["lam"], g["drift"]
add("4a", "The LLC of models that end at dMMSE_M increases with M", tc.claim_4a(g),
    f"; end points: z = {g['z']:.1f}; λ̂ = " + ", ".join(f"{k}: {lam[k]:.1f}" for k in keys) + why_nan,
    expected_at=("gpu",), source="Carroll et al. 2025, Fig. 4", kind="paper")
add("4b", "Models that end at ridge share roughly one LLC", tc.claim_4b(g), why_nan, expected_at=("cpu", "gpu"),
    kind="paper")
add("4c", "The LLC of the dMMSE-side models crosses ridge's near the onset of the transient", tc.claim_4c(g), why_nan,
    expected_at=("gpu",), kind="paper")
ch.show(figure_llc_ratio(llc_ratio(lam, {k: llc[k]["se"] for k in keys}, keys), keys, x_of, g["onset"], g["cross"]),
        "llc_ratio")
ch.ledger.add("4d", "The LLC estimates are positive and the chains have settled (no drift after burn-in)",
              bool(all(lam[k] > 0 and drift[k] < 0.25 * lam[k] for k in keys)), is_true("stable"),
              expected_at=("cpu", "gpu"),
              detail="λ̂ > 0 and the draws' second-half mean within λ̂/4 of their first-half mean, for every M; drifts: "
                     + ", ".join(f"{k}: {drift[k]:.1f}" for k in keys) + why_nan, kind="check")

# %% [markdown]
# The second figure is claim 4c's reading: each dMMSE-side model's $\hat\lambda$ as a ratio to ridge's
# ($M = \infty$), with one standard error over the chains (delta method), the transient's onset (the smallest $M$
# whose OOD loss rises after $t_{\rm crit}$) and the first $M$ whose LLC reaches ridge's. The paper's claim is that
# these two lines meet.
#
# Left: $\hat\lambda$ of each final model. Right: the chains' traces of $n\beta(\ell_b(w_t) - \ell_b(w^*))$ on the
# same minibatch, whose mean after burn-in is $\hat\lambda$. A flat trace after the dashed line means the chain has
# settled; a trace that keeps climbing would mean that ε or γ is too small to hold the chain near $w^*$.
#
# :::{admonition} History, at commits `7302d8d` and `b5adcca`, seed 0
# In our `cpu` runs the dMMSE-side LLCs did not rise monotonically with $M$: $M = 4$ came out above $M = 8$ and
# above ridge's (183 against 144 and 146), so the crossing of claim 4c fell at $M = 4$, well below the transient's
# $M = 13$. This is not sampling noise. With twice the chains and twice the draws (`-p llc_chains 8 -p llc_draws
# 800`, same trained models) the values were 182, 146 and 148. Models trained at batch 128 and 256 (pilot table
# below) gave the same order: λ̂(4) = 200 and 179 against λ̂(8) = 168 and 154. Nor is it the calibration of nβ: on
# the batch-128 models, nβ = 20 instead of 60 shrank every λ̂ by a factor 2.5–2.9 (the localisation γ weighs more)
# and kept the order, λ̂(4) = 79 > λ̂(∞) = 65 > λ̂(8) = 58; at nβ = 180 every chain diverged at ε = 1e-3.
# :::
#
# *How we test claims 1c and 4 (changed in December 2026, before the runs that test them).* Claim 1c divided the
# $M = \infty$ model's distance to ridge by how badly the smallest $M$ does, a scale so large that a model well off
# ridge passed; it now divides by the distance between ridge and dMMSE of the largest finite pool, so that a model
# halfway between the two (0.25) fails "< 0.1". Claim 4a compared only the smallest and largest dMMSE-side $M$,
# which hid a $\hat\lambda(4)$ above $\hat\lambda(8)$; it is now a rank test over every dMMSE-side $M$ (Kendall's
# $\tau \ge 0.8$). Claim 4c is expected only at `gpu`: the order $\hat\lambda(4) > \hat\lambda(\infty) >
# \hat\lambda(8)$ survived twice the chains and draws, two batch sizes and a third of nβ, which we read then as a
# result of our small models rather than of the estimator. The known-case check (study `llc-known-long`, under
# *Studies* below) has since found the same reversal between networks known to compute dMMSE_4 and ridge, so that
# reading is now in doubt.
#
# *Which of them a CPU can show (decided on the first `cpu` runs under these criteria, seeds 0 and 1; the per-seed
# values are the records in the appendix).* Claims 1c and 4a are expected at `gpu` only. Under the new 1c the
# $M = \infty$ model ended on ridge's side but farther from ridge than the criterion allows in both seeds: after 32 000 steps (the papers train 150k–500k) it is on its way to ridge, not at it, which is what the
# scale note below says of every ridge-side model here. Under the rank test 4a failed in both seeds for the same
# reason as 4c: $\hat\lambda(4)$ came out above $\hat\lambda(8)$ and $\hat\lambda(13)$ again, the order that
# every pilot above reproduced. Neither criterion changed; only the profile at which we expect them to hold.
#
# ## Where this chapter differs from the papers
#
# - **Scale.** The papers use $D = 8$, $K = 16$ and 150k–500k steps; the `ci` and `cpu` profiles use $D = 4$,
#   $K = 8$, a 2-layer width-64 model and 3000 (`ci`) or 32 000 (`cpu`) steps, so that the threshold falls at small $M$ and the
#   runs fit a laptop CPU. The models are under-trained there: "ends at ridge" means "on the ridge side", not
#   converged to it. The `gpu` profile runs the papers' task scale ($D = 8$, $K = 16$, $M$ on the half-power-of-two
#   grid up to $2^{15}$ and $\infty$, 150k steps) with the same code, at width 128 (the papers': 256), so that one
#   GPU finishes it in about an hour (README); `n_embd=256` is the papers' width, about four times the cost.
# - **Claims 3c and 4d are `cpu` claims.** At `ci` the largest finite pool is $M = 8$, which after 3000 steps still
#   ends on the dMMSE side (then no finite $M$ is ridge-side and claim 1e fails: the grid cannot place the
#   threshold), so "high $M$ ends nearer ridge" (3c) holds in fewer than half of the `ci` seeds, and two chains of 100 draws are too
#   short for the drift test of 4d to hold in every seed. At `cpu`
#   ($M$ up to 64, four chains of 400 draws) they are expected to hold; the records in the appendix count how often
#   each did, at both profiles.
# - **Tokens.** The papers interleave tokens $[0, x_k]$ and $[y_k, 0, \dots]$. At `ci`/`cpu` each token is one pair
#   $[x_k, x_{k-1}, y_{k-1}]$: the prediction for $y_k$ is read at token $k$, which sees $x_k$ and all earlier pairs,
#   exactly the information the interleaved $x_k$ token sees. A CPU pilot found that interleaving (or the token
#   $[x_k, y_{k-1}]$) needed far more steps at this size; this format halves the sequence and learned fast. Until
#   December 2026 the `gpu` profile switched to the papers' interleaved tokens and learning rate 1e-3. The study
#   `gpu-recipe` below trained that recipe at the `cpu` scale beside ours on the same seeds, under a check
#   committed before it ran; the check failed (the transient in none of its members, against one of two of ours,
#   and neither recipe ended near a Bayes predictor at $M = 13$, so its "learns" half could not tell them apart).
#   By the rule issue 37 set, the `gpu` profile now trains our recipe (pair tokens, 3e-3) at the papers' task
#   scale; `tokens='interleaved'`, `lr=1e-3` give the papers' recipe back.
# - **Schedule.** `ci` uses Adam with a 5% warm-up and then a constant rate (3000 steps are too few for a decay to
#   matter); `cpu` and `gpu` use the papers' triangle (linear rise for half the steps, then linear fall to 0). On
#   the CPU the $M = \infty$ model ended nearer ridge's loss under the triangle than under a constant rate (the
#   pilots below).
# - **Measurements.** $\Delta$ is measured on fresh tasks only; $t_{\rm crit}$ is the minimum of the smoothed OOD
#   loss over checkpoints (linear ∪ log-spaced), not of a dense curve. The LLC uses a paired estimate of
#   $\ell_n(w^*)$ (the same minibatch at $w^*$), which is unbiased and less noisy than a single initial loss, and the
#   same (ε, γ, nβ, $n$) for every $M$; it is checked against the `devinterp` package by
#   `tools/llc_devinterp_check.py`, not in the book build.
# - **Which claims need which profile.** Claims marked `cpu, gpu` in the ledger need more training than `ci` gives.
#   At `ci` (3000 steps, $M \in \{4, 8, \infty\}$) the two ends of the threshold show in almost every seed (small $M$
#   on the dMMSE side and bad on fresh tasks, $M = \infty$ on the ridge side), but no finite pool reaches the ridge side, so the grid
#   cannot place the threshold (1e is a `cpu` claim), and the transient does not show: the $M = 8$ model's OOD loss is still
#   falling, or flat within noise, at 3000 steps. Models that are still moving are also not at a local minimum,
#   which the LLC assumes, so the LLC claims are only checked from `cpu` on; at `ci` the LLC figure shows the
#   estimator running.
#
# ### CPU pilots for the `cpu` profile (history)
#
# :::{admonition} History, at commit `0f71512` and earlier
# *Measured with the code of December 2026 up to that commit, under the criteria of that time (claim 3b read the
# PCA plane, 1c divided by the smallest $M$'s gap, 4a compared end points); no command reproduces these rows from
# today's code. Pilots made since are records, rendered from `results/` in the appendix.*
#
# The spec's earlier CPU pilot saw the transient at $M = 8$ with a different task pool, whose dMMSE$_8$ was further
# from ridge (OOD loss 1.09) than this book's (0.82–0.89, depending on the evaluation set): with this book's pool
# (`pool_seed` 0), $M = 8$ already sits where that pool's $M \approx 16$ did. Pilots with this book's code and pool,
# 2 layers, width 64, batch 64 (unless a row says otherwise), peak rate 3e-3, all $M$ of a row trained together
# (seed 0), OOD loss / D (ridge 0.398):
#
# | schedule, steps | $M$ with a crossover (ridge side, then dMMSE side) | end of $M = \infty$ | note |
# |---|---|---|---|
# | 5% warm-up + constant, 12 000, $M \in \{1, 4, 8, 16, 32\}$ (the earlier `cpu` profile) | none at $M = 8$ | — | claims 1d, 2b, 2c, 3b and 4c failed |
# | 5% warm-up + constant, 16 000, $M \in \{4, 6, 8, 11, 16\}$ | none | 0.49 | $M = 6$–11 rise by 0.09–0.11 of the ridge–dMMSE gap, always on the dMMSE side; $M = 16$ ends on the ridge side |
# | triangle, 16 000, $M \in \{6, 8, 11, 13, 16, 23\}$ | 13 | 0.48 | $M = 13$: Δ ridge / dMMSE 0.22 / 0.29 at $t_{\rm crit}$, 0.26 / 0.23 at the end |
# | triangle, 24 000, $M \in \{4, 11, 13, 16, 32\}$ | 13 (barely) | 0.44 | $M = 13$: 0.26 / 0.27 at $t_{\rm crit}$, 0.29 / 0.19 at the end |
# | triangle, 24 000, $M \in \{1, 4, 8, 13, 16, 64\}$ | 13 | 0.46 | $M = 13$: 0.23 / 0.29 at $t_{\rm crit}$, 0.27 / 0.23 at the end; claim 2b 1.18 (fails), 1d, 3b, 4c fail |
# | triangle, 32 000, $M \in \{1, 4, 8, 13, 16, 64\}$ | 13 | 0.48 | $M = 13$: 0.21 / 0.27 at $t_{\rm crit}$, 0.28 / 0.22 at the end; claim 2b 1.32, 1d, 3b, 4c fail |
# | triangle, 16 000 at batch 128 (the same sequences), same $M$ | 13 | 0.44 | $M = 13$: 0.22 / 0.27 at $t_{\rm crit}$, 0.26 / 0.22 at the end; 1d holds (10.2%); 2b 1.15, 3b 0.72 and 4c fail |
# | triangle, 8 000 at batch 256 (the same sequences), same $M$ | 13 | 0.44 | $M = 13$: 0.24 / 0.28 at $t_{\rm crit}$, 0.26 / 0.23 at the end; 1d (10.5%) and 3b (0.69) hold; 2b 1.07 and 4c fail; an SGLD chain diverged at ε = 1e-3, so the LLC used 5e-4 |
# | triangle, 16 000, **3 layers**, $M \in \{4, 8, 13, 16, 64\}$ | 13 (barely) | 0.42 | $M = 13$: 0.23 / 0.29 at $t_{\rm crit}$, 0.24 / 0.22 at the end; 1d (4.7%) and 3b (0.30) hold; the OOD loss of $M = 8$–16 barely rises (2a 0.02, 2b 1.03 fail) |
# | triangle, 24 000, **3 layers**, $M \in \{1, 4, 8, 13, 16, 64\}$ | 13 (barely) | 0.43 | $M = 13$: 0.23 / 0.28 at $t_{\rm crit}$, 0.24 / 0.20 at the end; 13 of 16 hold: 1d (9.3%), 3b (0.68), 4a and 4b hold; 2a (0.02), 2b (1.04) and 4c fail; 21 min |
# | triangle, 16 000, **MLP ratio 8** (Carroll et al.'s wide MLP), $M \in \{4, 8, 13, 16, 64\}$ | 13 | 0.44 | $M = 13$: 0.22 / 0.30 at $t_{\rm crit}$, 0.25 / 0.23 at the end; 1d (11.5%) and 3b (0.33) hold; 2a 0.045 and 2b 1.13 fail |
# | triangle, 24 000, **MLP ratio 8**, $M \in \{1, 4, 8, 13, 16, 64\}$ | 8, 13 | 0.44 | $M = 13$: 0.24 / 0.29 at $t_{\rm crit}$, 0.26 / 0.22 at the end; 13 of 16 hold: 1d (10.3%), 4a, 4b and 4c hold (4c because $M = 8$ now has a crossover too; λ̂(4) is still the largest finite-$M$ value); 2a 0.049, 2b 1.06 and 3b 0.73 fail ($M = 8$, not the chosen $M$, rose most: Δ to ridge 0.26 → 0.34); 21 min |
#
# The `cpu` profile is the 32 000-step row's setting, with $M$ = 13 as the transient's $M$, chosen from these pilots
# (about 19 minutes on two cores). The transient is weak at this scale: at $t_{\rm crit}$ the model is only about a
# quarter closer to ridge than at the end, where Carroll et al.'s models come close to ridge first. Longer training
# strengthened the transient but did not bring $M = \infty$ closer to ridge (claim 1d). A larger batch over the same
# number of sequences (the batch-128 and batch-256 rows, each about as long as the profile) does: $M = \infty$ ends
# about 10% above ridge in both runs (at batch 64 it ended 19% above ridge in seed 0 and 6.5% in seed 1). But it
# weakens the transient: at batch 256 the $M = 13$ model is only 7% closer to ridge at $t_{\rm crit}$ than at the
# end (claim 2b needs 20%). A third layer (the two 3-layer rows) does the same: $M = \infty$ ends 5–9% above ridge
# even at batch 64, but the intermediate models then go more or less straight to their final mixture, with a rise of
# only 2% of the ridge–dMMSE gap. A wider MLP (ratio 8, the two rows after them) lands in between: $M = \infty$
# within 10–12% of ridge, and a rise just short of claims 2a and 2b. Whatever fitted ridge better at this budget, a
# larger batch, a deeper model or a wider MLP, also weakened the transient. No setting we tried within the budget
# held 1d and 2b together; we kept 2 layers, MLP ratio 4 and batch 64, because 2b is the transient itself, and 1d
# only asks how well the $M = \infty$ model is trained.
#
# Rerun with `seed` 1 (same pool, other initialisation and batches), the `cpu` profile again held 13 of 16
# claims, but not the same ones: the crossover at $M = 13$ (2c), the rise (2a) and the threshold hold again,
# 1d now holds ($M = \infty$ 6.5% above ridge) and 2b now fails (1.11). 3b and 4c failed for both seeds. Claims
# 1d and 2b sit close to their criteria at this scale, so one draw decides them. Each member's initialisation
# depends on which $M$ train beside it in the ensemble, so the numbers of the ledger below come from a fresh draw,
# not from the pilot rows.
# :::
#
# :::{admonition} History, at commit `aa00576`: the `cpu` record in the appendix
# Under today's code, at the profile's batch 64, the $M = \infty$ model ended 9.3%, 10.5% and 7.8% above ridge in
# `cpu` seeds 0, 1 and 2, so claim 1d held in each, while the transient's claim 2b read 1.31, 1.25 and 1.08 (it
# fails in seed 2, whose transient was weak).
# :::
#
# The pool is a parameter too: `-p pool_seed 1` (papermill: `pool_seed=1`) reruns the
# chapter on another task sequence $t_1, t_2, \dots$, whose threshold may sit at another $M$.
#
# ### Claims 1d and 2b against each other

# %% tags=["remove-input"]
ch.show(figure_1d_vs_2b(trade_off_points(ch.chapter.slug)), "trade_off_1d_2b")

# %% [markdown]
# ### Studies: the transient as a rate, and a ladder of CPU scales (December 2026)
#
# Every record above uses one task pool, and the transient's $M$ was chosen on seed 0's pilots. The study
# `transient` takes $M_{\rm transient}$ from a rule fixed before any training (the training-free Bayes gap between
# dMMSE$_M$ and ridge, `iclbook/analysis/bayes_gap.py`) and counts how often 2a–2c hold over (seed, pool) pairs,
# new pools included; the study `ladder` measures the claims left to `gpu` at three CPU scales and one wider model,
# each read against a direction fixed before any run (`iclbook/experiments/transient_ridge_studies.py`); the study
# `gpu-recipe` trains the papers' recipe (interleaved tokens, learning rate 1e-3; the `gpu` profile's until December
# 2026) at the `cpu` scale beside ours on the same seeds, and led to the `gpu` profile's change of recipe (*Tokens*,
# under *Where this chapter differs*). The study `llc-known` checks the instrument before section 4's order is read
# as our models': the same estimator on the chapter's architecture distilled onto dMMSE_4, dMMSE_8, dMMSE_16 and
# ridge, whose functions are known (`iclbook/experiments/transient_ridge_llc_known.py`); its 4000-step
# distillation did not reach the targets (history below), so `llc-known-long` repeats it, criteria unchanged, with
# the distillation as long as the chapter's `cpu` training, on fresh member seeds; that fitted dMMSE_4 and ridge but
# not dMMSE_8 and dMMSE_16, and the estimator ranked the two fitted networks as it ranks our models (history
# below). The study `llc-nbeta` asks whether that reversal is the chapter's nβ: the same networks, the estimator at
# nβ from the chapter's value up to $n / \log n$, with criteria fixed before it ran. A study not yet recorded says
# so, with the command that records it.

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show(ch, "transient")
recorded_studies.show(ch, "ladder")
recorded_studies.show_trend(ch, "ladder", {
    "t1c": "1c: M = ∞ to ridge (< 0.1)", "t1d": "1d: M = ∞ OOD excess (< 0.15)", "t2a": "2a: OOD rise (> 0.05)",
    "t2b": "2b: ridge-ward ratio (> 1.2)", "t3b": "3b: PCA detour (> 0.3)", "t4a": "4a: Kendall τ (≥ 0.8)",
    "t4c": "4c: crossing gap (< 1.01)"}, ["n_params", "steps"])
recorded_studies.show(ch, "gpu-recipe")
recorded_studies.show(ch, "llc-known")
recorded_studies.show(ch, "llc-known-long")
recorded_studies.show(ch, "llc-nbeta")

# %% [markdown]
# :::{admonition} History, at commit `f7d3702` (the members of the `transient` record)
# *What the `transient` study said when it was recorded: four task pools (0, the book's, and 1000–1002, which no run
# had used) × member seeds 1000–1002, recorded on 2026-12-07; the table above is the record as it stands.*
#
# The rule put $M_{\rm transient}$ at 13 on pools 0, 1000 and 1001 and at 15 on pool 1002. The whole transient (2a,
# 2b and 2c together) showed in 4 of 12 (seed, pool) pairs (95 % Wilson interval 0.14–0.61): 2 of 3 on pool 0, 2 of
# 3 on pool 1001, none on pools 1000 and 1002, so 2 of 9 on the new pools. The rise after $t_{\rm crit}$ alone (2a)
# held in 8 of 12, 2b in 5 of 12 and the crossover 2c in 4 of 12; only 2a's rate claim holds. On pools 1000 and 1002
# the models at the rule's $M$ ended nearer ridge (final OOD loss per dimension 0.57–0.62; ridge 0.40, dMMSE at the
# rule's $M$ 0.86–0.92 on the four pools) than on pools 0 and 1001 (0.65–0.79): there the model had not specialised
# to its pool by the end, so there was no rise toward dMMSE to see, and the Bayes gap alone, which is nearly the
# same on all four pools, does not place a pool's transient. At the `cpu` scale the transient is a property of some
# pools and some seeds, not of the setting: it does not reproduce here as a rate above one half, and the
# single-pool records above (two of three seeds) overstated how often it shows.
# :::
#
# :::{admonition} History, at commit `58713dd` (the members of the `llc-known` record)
# *What the known-case check of the LLC said when it was recorded (2026-12-07; member seeds 1000–1002, pool 0).*
#
# The check cannot vouch for the estimator yet: its first condition failed. After 4000 distillation steps only the
# networks distilled onto ridge were their target (mean squared distance a tenth of ridge's distance to the nearest
# other predictor, against a bound of a quarter); those distilled onto dMMSE_4, dMMSE_8 and dMMSE_16 stayed at 0.75
# to 3.4 times that distance in every member, so no member was a known case and the order claims had nothing to
# read. What the estimator returned on these imperfect networks repeats the chapter's order: λ̂ was highest for the
# dMMSE_4 network (168–193), then ridge's (156–164), then dMMSE_8's and dMMSE_16's (137–153), with the same ε in all
# three members. The check needs longer distillation before it can say whether that order belongs to the
# estimator or to the networks; until then section 4's order is the estimator's reading of our models, unverified.
# :::
#
# :::{admonition} History, at commit `8a88d23` (the members of the `llc-known-long` record)
# *What the known-case check said with the distillation as long as the chapter's training (32 000 steps; recorded
# 2026-12-08; member seeds 1010–1012, pool 0).*
#
# Longer distillation made two of the four networks their targets and left two short, so again no member was a
# known case in full, and the committed claims fail for want of known cases (`known` 0 of 3). In every member the
# networks distilled onto dMMSE_4 and onto ridge compute their targets (distance 0.03 and 0.07 of the distance to the
# nearest other predictor, against the bound of a quarter); those distilled onto dMMSE_8 and dMMSE_16 stayed at
# 0.41–0.88 and 0.67–0.68: at this width, 32 000 steps do not fit predictors that weigh 8 or 16 task vectors. On the
# two networks that did reach their targets, the estimator ranks them as it ranks our models: λ̂(dMMSE_4) above
# λ̂(ridge) in every member (167–275 against 129–177), where the check expects, as the chapter's claim 4 does, the
# four-task memoriser to be the simpler solution. So the reversal section 4 measures, λ̂(4) above λ̂(∞), appears also
# between networks whose functions are known, and cannot be read as a property of our models' solutions: at these
# settings the estimator, or this parametrisation of the two functions, puts it there. What the issue asks next, a
# calibration of the estimator (an ε × nβ sweep, as devinterp recommends) on these known networks before 4a and 4c
# are read again, has not been run.
# :::

# %% [markdown]
# *Figure: claim 1d (how far the $M = \infty$ model ends above ridge's loss; it holds left of the dashed line) against
# claim 2b (how much closer to ridge the transient's $M$ was at $t_{\rm crit}$ than at the end; it holds above the
# other dashed line). Open grey squares, labels ending in \*: the history rows of the pilot table above (commit
# `0f71512` and earlier, kept as data in `results/02_transient_ridge/history/`; no record reproduces them). Filled
# circles: one per seed of each recorded `cpu` run (the records in the appendix, today's code).* A setting in the
# green corner would hold both.
#
# **Claim 1d is expected only at `gpu` (decided December 2026).** The one knob no earlier pilot had touched was the
# peak learning rate: the profile's 3e-3 matches the Timaeus width-64 runs, Raventós et al.'s example configuration
# (and our `gpu` profile until December 2026) use 1e-3. The pilot (recorded below as *lr 1e-3 (issue 23 pilot)*, seeds 0 and 1, the
# profile otherwise unchanged) was to be adopted if it held 1d and 2b together in both seeds. It brought $M = \infty$
# within claim 1d's bound of ridge in both seeds, but the transient's 2b held in seed 0 only, so the profile keeps
# 3e-3 and 1d moves to `gpu`: at this scale, whatever fits ridge better also tends to weaken the transient, and no CPU
# setting we tried held both in every seed. The `cpu` seeds recorded since under today's code (trained at
# one thread each, points "cpu profile" in the figure) land on both sides of the line again: 1d held in each of
# them, 2b in all but the seed whose transient was weak. So the trade-off is a matter of where a seed lands, and 1d
# stays a `gpu` claim that a CPU run often shows, as the records count.
#
# ### Recorded pilots and seeds
#
# Every pilot recorded with `iclbook seeds 02 … --record --label …` since, newest first, with the commit it ran at
# (a *stale* one ran on code that has changed since), then the recorded per-seed tables of the profiles:

# %% tags=["remove-input"]
ch.records_appendix()

# %% [markdown]
# ## Claim ledger

# %% tags=["remove-input"]
ch.md(f"Training took {train_seconds:.0f} s.")
ch.finish()

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show_ledger(ch, ["transient", "llc-known", "llc-known-long", "llc-nbeta", "ladder", "gpu-recipe"])
