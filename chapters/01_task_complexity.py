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
# # How many pretraining tasks does in-context regression need?
#
# A transformer pretrained on many linear-regression prompts learns to regress *in context*: shown a few pairs
# $(x_i, y_i)$ of a task it has never seen, it predicts $y$ for a new $x$. How many distinct pretraining tasks does
# that take? {cite:t}`wu2023` answer it exactly for the simplest model that does in-context regression, a single
# layer of linear attention, and show that the answer is governed by the *effective* dimension of the data rather
# than by the $d^2$ parameters of the model. They also show that the pretrained model is nearly Bayes-optimal at the
# context length it was pretrained on, and not at others.
#
# This chapter checks each of those statements with a computation: the exact risk formula against Monte Carlo,
# the $1/T$ decay of the pretraining error, the task counts for flat and decaying spectra, the near-optimality
# against Bayes-optimal ridge, and, as a bridge to chapter 2, a GPT-style transformer trained on the same prompts.
#
# *Computing this page took {glue:text}`wall_time` at profile {glue:text}`wall_profile`, on
# {glue:text}`wall_where`; {glue:text}`wall_store` (see {doc}`status`).*

# %% tags=["remove-cell"]
import math

import numpy as np
import torch

from iclbook import closed_forms as cf
from iclbook.chapters.task_complexity import COUNT_REACH, t_count_range, t_large
from iclbook.claims import above, below, is_true
from iclbook.experiments.task_complexity import (RATE_RESOLUTION, decaying_need_fewer, mc_risk, optimality_readout,
                                                 pretrain_sgd_sweep, rate_fit, tasks_growth, tasks_needed, train_gpt,
                                                 unreached_note)
from iclbook.experiments.task_complexity_figures import (figure_excess_risk, figure_gpt_vs_ridge,
                                                         figure_risk_vs_context, figure_tasks_needed)
from iclbook.notebook import markdown_table, open_chapter
from iclbook import rng
from iclbook.tasks.regression import RegressionTask
from iclbook.tasks.spectra import SPECTRA, spectrum

ch = open_chapter("01", globals())

# %% tags=["parameters", "hide-cell"]
profile = None  # "ci" | "cpu" | "gpu"; None: gpu with CUDA, else cpu. Every None below takes the profile's value.
d = None  # dimension of x and β
N = None  # pretraining context length
psi2 = None  # prior variance ψ² of β
sigma2 = None  # label noise σ²
T_grid = None  # numbers of pretraining tasks T
seeds = None  # SGD runs per setting
d_grid = None  # dimensions for the task-count experiment
mc_samples = None  # Monte Carlo prompts
gpt_tokens = None  # "pair" or "interleaved"
gpt_steps = None  # transformer training steps
gpt_layers = None
gpt_width = None
gpt_batch = None
gpt_lr = None
seed = None

# %% tags=["remove-input"]
P = ch.resolve(globals())
ch.md(ch.describe())
H = torch.ones(P.d, dtype=torch.float64)  # the main setting: isotropic x
seed_list = rng.member_seeds(P.seed, P.seeds)

# %% [markdown]
# ## The setting
#
# Covariates $x \sim \mathcal N(0, H)$ in $\mathbb R^d$, a task $\beta \sim \mathcal N(0, \psi^2 I_d)$ and labels
# $y = x^\top\beta + \varepsilon$ with $\varepsilon \sim \mathcal N(0, \sigma^2)$. A prompt holds $N$ context pairs
# $(X, \mathbf y)$ and a query $x$. Single-layer linear attention, in the parameterisation of {cite:t}`wu2023`,
# predicts
#
# $$\hat y = x^\top \Gamma \, \frac{X^\top \mathbf y}{N}, \qquad \Gamma \in \mathbb R^{d\times d},$$
#
# one step of preconditioned gradient descent from zero on the in-context least squares {cite:p}`vonoswald2023`.
# With $c = \operatorname{tr} H + \sigma^2/\psi^2$ and $\tilde H_n = \psi^2[(1 + 1/n) H^2 + c H / n]$ (the second
# moment of $X^\top\mathbf y / n$), its risk at context length $n$ is a quadratic in $\Gamma$,
#
# $$\mathcal R_n(\Gamma) = \sigma^2 + \psi^2 \operatorname{tr} H - 2\psi^2 \operatorname{tr}(\Gamma H^2)
#   + \operatorname{tr}(\Gamma^\top H \Gamma \tilde H_n),$$
#
# minimised by $\Gamma^*_N = \big(\tfrac{N+1}{N} H + \tfrac cN I\big)^{-1}$. The Bayes-optimal predictor is ridge
# regression with $\lambda = \sigma^2/\psi^2$.
#
# ## Claim 1: the risk formula is exact
#
# We compare $\mathcal R_N(\Gamma)$ with a Monte Carlo estimate over fresh prompts, for $\Gamma = 0$, $\Gamma^*_N$
# and a random $\Gamma$, and for three spectra of $H$: flat, power law $\lambda_i = i^{-1}$ and exponential
# $\lambda_i = 2^{-(i-1)}$.

# %%
rows, rel_errors = [], []
for name in SPECTRA:
    lam = spectrum(name, P.d)
    task = RegressionTask(d=P.d, K=P.N, sigma2=P.sigma2, psi2=P.psi2, H=lam)
    G_rand = torch.randn(P.d, P.d, generator=rng.generator("noise", P.seed, 0), dtype=torch.float64) / P.d
    for label, G in [("0", torch.zeros(P.d, P.d)), ("Γ*", cf.gamma_star(lam, P.N, P.sigma2, P.psi2)),
                     ("random", G_rand)]:
        exact = float(cf.risk(G, lam, P.N, P.sigma2, P.psi2))
        mc, se = mc_risk(G.double(), task, P.N, P.mc_samples, seed=P.seed)
        rel_errors.append(abs(mc - exact) / exact)
        rows.append([name, label, f"{exact:.4f}", f"{mc:.4f} ± {se:.4f}", f"{rel_errors[-1]:.2%}"])
ch.table(["spectrum", "Γ", "formula", "Monte Carlo ± s.e.", "rel. error"], rows)
ch.ledger.add("1", "The exact risk formula matches Monte Carlo", max(rel_errors), below(0.03),
              detail=f"largest relative error over {len(rel_errors)} (spectrum, Γ) pairs, {P.mc_samples} prompts",
              source="the chapter's derivation (Wu et al. 2023, paper: abstract only)", kind="check")

# %% [markdown]
# ## Claim 2: pretraining converges like $1/T$
#
# Pretraining is one-pass SGD from $\Gamma_0 = 0$: each step sees one fresh task and one prompt, so $T$ steps
# use $T$ tasks. The step size is $\gamma_0 = 1/(2\operatorname{tr}H \operatorname{tr}\tilde H_N)$ for about
# $T/\ln T$ steps and then halves after each further such phase. Because the schedule depends on $T$, every $T$ is
# its own run; {glue:text}`n_seeds` seeds run together as one batched ensemble. We measure the excess risk
# $\mathcal R_N(\Gamma_T) - \mathcal R_N(\Gamma^*_N)$ exactly, with the formula of claim 1, and fit its slope on
# the tail $T \ge 16d^2$, many times the $d^2$ entries of $\Gamma$: before that the risk still bends.
#
# :::{admonition} History, at commit `85f0179`
# At $d = 16$, $\psi^2 = 1/16$ the slope was −0.62 between $T$ = 1024 and 16384, and
# −0.93 from 4096 on.
# :::

# %%
task = RegressionTask(d=P.d, K=P.N, sigma2=P.sigma2, psi2=P.psi2, H=H)
gamma0 = cf.suggested_gamma0(H, P.N, P.sigma2, P.psi2)
R_star = cf.risk_star(H, P.N, P.sigma2, P.psi2)
Gammas = {T: G.cpu() for T, G in pretrain_sgd_sweep(task, P.T_grid, seed_list, gamma0, device=ch.device).items()}
excess = np.array([(cf.risk(Gammas[T], H, P.N, P.sigma2, P.psi2) - R_star).numpy() for T in P.T_grid])  # (T, seed)
excess_mean = excess.mean(1)
large = np.array(P.T_grid) >= t_large(P.d)
fit = rate_fit(np.array(P.T_grid)[large], excess[large], seed=P.seed)
slope = fit.slope

ch.glue(n_seeds=P.seeds, slope=f"{slope:.2f}", slope_se=f"{fit.se:.3f}", log_slope=f"{fit.theory[1]:.2f}",
        rate_limit=f"{fit.limit:.2f}", rate_resolution=f"{RATE_RESOLUTION:g}",
        rate_verdict="holds" if fit.criterion()(slope) else "fails")
ch.show(figure_excess_risk(np.array(P.T_grid), excess, large,
                           f"One-pass SGD, d = {P.d}, N = {P.N}, ψ² = {P.psi2:g}, σ² = {P.sigma2:g}"), "excess_risk_vs_T")
ch.ledger.add("2", "SGD-pretrained Γ_T approaches Γ*: excess risk O(1/T) up to a log factor", slope,
              fit.criterion(), detail=f"log-log slope of the mean excess risk for T ≥ 16·d² = {t_large(P.d)}; "
              f"s.e. {fit.se:.3f} (bootstrap over the {P.seeds} SGD seeds)",
              source="Wu et al. 2023 (paper: abstract only): excess risk O(1/T) up to logs", kind="paper")

# %% [markdown]
# *Figure: excess risk of the SGD-pretrained $\Gamma_T$ against the number of pretraining tasks, with the range
# over seeds and a $1/T$ guide.* The excess risk falls with a log-log slope of {glue:text}`slope` (standard error
# {glue:text}`slope_se`, from resampling the SGD seeds) over the large-$T$ range, against $-1$ for an exact $1/T$
# law and {glue:text}`log_slope` for $\log T / T$ over the same range; by the test below, claim 2
# {glue:text}`rate_verdict` in this run.
#
# *How we test claim 2.* The paper bounds the excess risk from above: $O(1/T)$ up to a log factor. The log factor
# is that of the step-size schedule, whose last constant-step phase is about $T/\ln T$ steps long, so the slowest
# decay the statement allows is $\log T/T$, and a decay faster than $1/T$ does not contradict a bound from above.
# The test is therefore one-sided: the slope must be at most that of $\log T/T$ over the fitted window plus two
# standard errors of our own measurement (here {glue:text}`rate_limit`), and the measurement must be precise
# enough to decide (two standard errors at most {glue:text}`rate_resolution`). `tests/test_task_complexity_claims.py`
# feeds it synthetic curves: $T^{-7/10}$ and $\log^2 T/T$ fail; $1/T$, $\log T/T$ and $T^{-3/2}$ hold.
#
# :::{admonition} History, at commit `0891c71`
# The criterion was a fixed window $[-1.35, -0.65]$, which a $T^{-0.7}$ rate passed.
# :::
#
# :::{admonition} History, at commit `094ff62`
# The criterion was two-sided: the slope had to lie between −1 and the slope of
# $\log T/T$, each widened by two standard errors. A decay slightly faster than $1/T$ failed it: in the recorded
# `ci` seeds (commit `da100e4`), seed 3 had a slope of −1.033.
# :::
#
# ## Claim 3: few tasks suffice, fewer for decaying spectra
#
# How many tasks does pretraining need to get within a fixed excess risk $\varepsilon$? We repeat the experiment
# for three spectra and several $d$, keeping the signal-to-noise ratio fixed ($\psi^2 \operatorname{tr} H =
# \sigma^2$) so that the problems are comparable, and read off the first $T$ at which the excess risk of a typical
# run (the median over seeds) falls to $\varepsilon = \sigma^2/10$, interpolating between powers of two.
# Learning $\Gamma$ is a linear regression on the $d^2$ features $x h^\top$ whose covariance is
# $H \otimes \tilde H_N$; SGD only needs to resolve its large eigenvalues. So the theory predicts that a flat
# spectrum needs a number of tasks that grows like $d^2$, while a fast-decaying one needs about the same number
# whatever $d$ is: the effective dimension ($\operatorname{tr}H/\lVert H\rVert$: $d$, about $\ln d$, about 2)
# sets the task complexity, not the $d^2$ entries of $\Gamma$.
#
# The counts must reach every $d$ they are read at, so the task range runs over the powers of two from 16 up to
# {glue:text}`count_reach` $d^2$ at the largest $d$ (and at least to the largest $T$ of claim 2), here up to
# $T$ = {glue:text}`count_t_max`. At large $d$ the flat spectrum needs the most tasks, and its count grows a
# little faster than $d^2$; this reach is more than twice what its counts at small $d$ extrapolate to at the
# largest $d$ (`iclbook/chapters/task_complexity.py` keeps that history). Every $T$ is its own SGD run, and the count is the
# first $T$ that reaches $\varepsilon$, so each sweep stops there: the long range costs time only for the
# flat spectrum at the largest $d$.

# %%
eps = 0.1 * P.sigma2
T_fine = t_count_range(P.d_grid, P.T_grid)
ch.glue(count_reach=COUNT_REACH, count_t_max=T_fine[-1])
needed, curves = tasks_needed(P.d_grid, P.N, P.sigma2, T_fine, seed_list, eps, ch.device)
d_min, d_max = min(P.d_grid), max(P.d_grid)
ch.glue(flat_slope=f"{tasks_growth(needed, 'identity', P.d_grid):.2f}",
        power_slope=f"{tasks_growth(needed, 'power', P.d_grid):.2f}",
        exp_slope=f"{tasks_growth(needed, 'exp', P.d_grid):.2f}", count_d_range=f"{d_min}…{d_max}",
        count_unreached=unreached_note(needed, P.d_grid, T_fine[-1]))
ch.show(figure_tasks_needed(curves, needed, T_fine, P.d_grid, eps), "tasks_needed")

ch.md(markdown_table(["spectrum", *(f"d = {dd}" for dd in P.d_grid)],
                    [[name, *(f"{needed[name, dd]:.0f}" if math.isfinite(needed[name, dd]) else f"> {T_fine[-1]}"
                              for dd in P.d_grid)] for name in SPECTRA]
                    + [["$d^2$", *(dd * dd for dd in P.d_grid)]]) + "\n")

# %% [markdown]
# *Figure and table: left, the median excess risk against $T$ at the largest $d$ for the three spectra, each up to
# where it reaches $\varepsilon$; right and in the table, the tasks needed to reach $\varepsilon$ against $d$, with
# $d^2$ for scale.* Over $d$ = {glue:text}`count_d_range`, the log-log slope of the count against $d$ is
# {glue:text}`flat_slope` for the flat spectrum ($d^2$ would be 2), {glue:text}`exp_slope` for the exponential one
# and {glue:text}`power_slope` for the power law, whose effective dimension grows like $\ln d$ (a slope shows as
# nan where a count was not reached). {glue:text}`count_unreached`
#
# *How we test claims 3a to 3d.* 3a and 3b read the slope over every $d$ of the grid: a $d$ whose count never
# reaches $\varepsilon$ makes the slope undefined and the claim fail, rather than leaving that $d$ out. 3c asks
# that all three spectra reach $\varepsilon$ at the largest $d$, and both decaying ones with fewer tasks than the
# flat one. 3d compares the exponential spectrum's count at the largest $d$ with $d^2$, so it needs a $d$ at which
# $d^2$ is well above that count (the table): at `ci` the largest $d$ is 16 and $d^2$ = 256 lies below the count,
# so 3d fails there; it is expected from `cpu` on ($d$ up to 64).
#
# :::{admonition} History, at commit `0891c71`
# A flat spectrum that never reached $\varepsilon$ (an infinite count) made "fewer"
# hold without any comparison.
# :::
#
# :::{admonition} History, at commit `d2f3cd8`
# The task range ended at the largest $T$ of claim 2, 65536 at `cpu`, which the
# flat spectrum at $d = 64$ never reached: 3c failed in all three recorded `cpu` seeds, and 3a's slope left
# $d = 64$ out without saying so.
# :::

# %%
WU = "Wu et al. 2023 (paper: abstract only)"
ch.ledger.add("3a", "Flat spectrum: the tasks needed grow like d² (the effective dimension is d)",
              tasks_growth(needed, "identity", P.d_grid), above(1.5),
              detail=f"log-log slope of tasks needed vs d, d = {d_min}…{d_max}, T ≤ {T_fine[-1]}",
              source=f"{WU}: task complexity set by the effective dimension", kind="paper")
ch.ledger.add("3b", "Exponential spectrum: the tasks needed do not grow with d", tasks_growth(needed, "exp", P.d_grid),
              below(0.75), detail=f"log-log slope of tasks needed vs d, d = {d_min}…{d_max} (flat: ≈ 2)",
              source=f"{WU}: task complexity set by the effective dimension", kind="paper")
ch.ledger.add("3c", "Decaying spectra need fewer tasks than flat at the largest d",
              decaying_need_fewer(needed, d_max),
              is_true(f"all three reach ε by T = {T_fine[-1]}, power and exp with fewer tasks than identity"),
              detail=", ".join(f"{s}: {needed[s, d_max]:.0f}" for s in SPECTRA) + f" at d = {d_max}",
              source=f"{WU}: fewer tasks for a smaller effective dimension", kind="paper")
ch.ledger.add("3d", "For a decaying spectrum the tasks needed are far below d²", needed["exp", d_max] / d_max**2,
              below(0.5), expected_at=("cpu", "gpu"),
              detail=f"tasks needed / d² for the exponential spectrum at d = {d_max}",
              source=f"{WU}: far fewer tasks than the d² parameters of Γ", kind="paper")

# %% [markdown]
# ## Claim 4: nearly Bayes-optimal at the pretraining length, and only there
#
# In the high-noise regime ($\psi^2 \operatorname{tr} H \lesssim \sigma^2$) the pretrained $\Gamma_T$ should be
# within a small factor of the Bayes risk (optimally tuned ridge) at the context length $N$ it was trained on. At
# other test lengths $M$ it is not: $\Gamma^*_N$ is tuned to $N$. We evaluate, for each $M$, the risks of
# $\Gamma_T$ (the largest $T$), $\Gamma^*_N$ and $\Gamma^*_M$ exactly, and the Bayes risk by Monte Carlo.

# %%
M_grid = sorted({1, 2, 4, P.N // 4, P.N // 2, P.N, 2 * P.N, 4 * P.N, 8 * P.N, 16 * P.N} - {0})
G_T = Gammas[max(P.T_grid)]
R_T = np.array([float(cf.risk(G_T, H, M, P.sigma2, P.psi2).mean()) for M in M_grid])
R_starN = np.array([float(cf.risk(cf.gamma_star(H, P.N, P.sigma2, P.psi2), H, M, P.sigma2, P.psi2)) for M in M_grid])
R_starM = np.array([cf.risk_star(H, M, P.sigma2, P.psi2) for M in M_grid])
bayes = np.array([cf.bayes_risk(H, M, P.sigma2, P.psi2, n_mc=P.mc_samples // 4, seed=P.seed)[0] for M in M_grid])

ch.show(figure_risk_vs_context(M_grid, {r"$\Gamma_T$ (pretrained, $T$ = " + f"{max(P.T_grid)})": (R_T, "o-", None),
                                         r"$\Gamma^*_N$ (best for $N$)": (R_starN, "--", None),
                                         r"$\Gamma^*_M$ (best for each $M$)": (R_starM, ":", None),
                                         "Bayes (ridge, λ = σ²/ψ²)": (bayes, "k-", 1)},
                                P.N, f"d = {P.d}, N = {P.N}, ψ² tr H = {P.psi2 * P.d:g}, σ² = {P.sigma2:g}"),
        "risk_vs_context_length")

ratio = R_T / bayes
iN = M_grid.index(P.N)
at_N, margin = optimality_readout(ratio, iN)
ch.glue(ratio_N=f"{ratio[iN]:.3f}", ratio_ends=f"{ratio[0]:.2f} and {ratio[-1]:.2f}")
ch.ledger.add("4a", "At the pretraining length N, Γ_T is within ≈1.1× of the Bayes risk (high noise)",
              at_N, below(1.1), detail=f"R_N(Γ_T) / Bayes_N, ψ² tr H = {P.psi2 * P.d:g} σ²",
              source=f"{WU}: nearly Bayes-optimal; our closed form gives ≈ 1.065 for Γ*", kind="paper")
ch.ledger.add("4b", "Away from N (M ≪ N and M ≫ N) Γ_T is clearly sub-optimal", margin, above(0.02),
              detail=f"min(ratio at M = {M_grid[0]}, M = {M_grid[-1]}) − ratio at N",
              source=f"{WU}: optimal at the pretraining length only", kind="paper")

# %% [markdown]
# *Figure: risk at test context length $M$ of the pretrained $\Gamma_T$, of $\Gamma^*_N$ and $\Gamma^*_M$, and the
# Bayes risk.* At $M = N$ the pretrained model's risk is {glue:text}`ratio_N` times the Bayes risk; at the shortest and longest
# test contexts the ratio is {glue:text}`ratio_ends`.
#
# ## Claim 5: a GPT-style transformer ends near the Bayes predictor
#
# The same prompts, now for a GPT-style decoder (pre-LN, causal, learned positions). {cite:t}`garg2022` and
# {cite:t}`raventos2023` feed a prompt as interleaved tokens $[0, x_k]$ and $[y_k, 0, \dots, 0]$ and read the
# prediction of $y_k$ at the $x_k$ token. On a CPU budget that format sat on its plateau (predicting 0) for all of
# the 3,000–6,000 steps we could afford, at $d = 8$ and even at $d = 4$. By default this chapter therefore uses one
# token per pair, $[x_k, x_{k-1}, y_{k-1}]$, which keeps each earlier pair inside one token: the prediction of
# $y_k$ is read at token $k$ and still sees only the $k-1$ earlier pairs. This format learned within a few thousand
# steps in the same high-noise regime. The token format is used here: {glue:text}`gpt_tokens`. The loss is the MSE
# averaged over all $N + 1$ positions. We compare, on one evaluation set, the transformer with
# ridge at $\lambda = \sigma^2/\psi^2$ (the Bayes predictor here), position by position.

# %%
K = P.N + 1
ch.glue(gpt_tokens=P.gpt_tokens)
model, res, (x_ev, y_ev, ridge_ev) = train_gpt(P, ch.store, ch.device)

steps, mse_hist = res.eval_series("mse")
mse_final = np.array(mse_hist[-1])
mse_ridge = ((ridge_ev - y_ev) ** 2).mean(0).cpu().numpy()
mse_zero = (y_ev**2).mean(0).cpu().numpy()
ch.show(figure_gpt_vs_ridge(steps, mse_hist, mse_ridge, mse_zero), "gpt_vs_ridge")

gap = float((mse_final[-1] - mse_ridge[-1]) / (mse_zero[-1] - mse_ridge[-1]))
ch.glue(gpt_gap=f"{gap:.2f}", gpt_params=f"{model.num_params():,}")
ch.ledger.add("5", "A GPT-style transformer trained on the same prompts ends close to the Bayes (ridge) predictor",
              gap, below(0.2), expected_at=("cpu", "gpu"),
              detail=f"(MSE − Bayes) / (MSE of 0 − Bayes) at position {K}, after {P.gpt_steps} steps",
              source="not in Wu et al.; Garg et al. 2022 and Raventós et al. 2023 (papers: abstracts only)", kind="extension")

# %% [markdown]
# *Figure: left, the transformer's MSE at each position against ridge (the Bayes predictor) and against predicting
# 0, on one evaluation set; right, the MSE at the last position during training.*
# The transformer ({glue:text}`gpt_params` parameters) closes all but a fraction {glue:text}`gpt_gap` of the gap
# between predicting zero and the Bayes predictor at the last position. At `ci` it trains for too few steps to
# come near the Bayes predictor, so claim 5 fails there (in every recorded `ci` seed); it is expected from the
# `cpu` profile on, and even there one recorded seed of three stopped short (history below). Chapter 2 follows this model when the pretraining tasks come from a finite
# pool.
#
# :::{admonition} History, at commit `d2f3cd8`
# In the recorded `cpu` seeds 0, 1 and 2 the remaining fraction of the gap was
# 0.24, 0.046 and 0.16: seed 0 missed the criterion (below 0.2), so claim 5 held in two of the three seeds.
# :::
#
# ## Where this chapter differs from the paper
#
# - The paper's theory covers general $H$ and step-size schedules; we check it numerically on three spectra with
#   $\lambda_1 = 1$ and the signal-to-noise ratio fixed at $\psi^2 \operatorname{tr} H = \sigma^2$.
# - "Tasks needed" uses a fixed excess risk $\varepsilon = \sigma^2/10$ and interpolates between powers of two.
#   We use the median over seeds: with few seeds the mean is dominated by the occasional run that SGD's heavy-tailed
#   gradients kick away. $\varepsilon = \sigma^2/10$ rather than smaller because a smaller $\varepsilon$ needs
#   more seeds to rise above that noise. At `ci` the largest $d$ is 16, where $d^2 = 256$ is too small for claim 3d
#   (far below $d^2$) to be meaningful; it is expected from the `cpu` profile on ($d$ up to 64).
# - Claim 5 is not in the paper; it links to chapter 2. Its transformer is small (2 layers) at `ci`/`cpu`, and it
#   reads one token per pair instead of the papers' interleaved tokens (see claim 5 for why). At `ci` it trains for
#   too few steps to come near the Bayes predictor, so claim 5 is only expected from the `cpu` profile on.
#
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
