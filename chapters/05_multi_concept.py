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
# # Multi-concept word semantics: in-context classification, exponentially fast
#
# Words mean several things at once. {cite:t}`bu2024` model this with a *concept-based sparse coding* prompt
# model: a word's embedding is a sparse sum of the feature vectors of a few concepts, features of one concept
# overlap, features of different concepts are nearly orthogonal, and a prompt's *task concept* decides the labels of
# its demonstrations and its query. For a transformer made of one softmax attention layer and a ReLU MLP, trained by
# SGD with the cross-entropy loss from a small initialisation, they prove that the 0-1 loss falls exponentially fast
# to the Bayes error, that the attention learns to look at the right demonstrations, that the weights align with the
# task concept's features and not with the noise, and that the trained model still learns in context under shifts of
# the prompt distribution.
#
# **The data model below is our own.** The paper's exact definitions were not available to us (only its abstract
# and third-party summaries), so we built a concrete prompt model with the properties it describes and check each
# claim on it. Where our model or our measurements could differ from the paper's, the chapter says so.
#
# *Computing this page took {glue:text}`wall_time` at profile {glue:text}`wall_profile`, on
# {glue:text}`wall_where`; {glue:text}`wall_store` (see {doc}`status`).*

# %% tags=["remove-cell"]
import numpy as np

from iclbook.experiments import multi_concept_claims as C
from iclbook.experiments.multi_concept import (EPS, ConceptExperiment, batch_rows, efficiency, efficiency_rows,
                                               ood_rows, series, summarise, sweep_rows)
from iclbook.experiments.multi_concept_figures import (figure_batch_noise, figure_data_model, figure_dynamics,
                                                       figure_efficiency, figure_init_sign, figure_mlp_weights,
                                                       figure_ood, figure_sweeps)
from iclbook.notebook import open_chapter
from iclbook import rng
from iclbook.tasks.concepts import bayes_error, make_dictionary, sample

ch = open_chapter("05", globals())

# %% tags=["parameters", "hide-cell"]
profile = None  # "ci" | "cpu" | "gpu"; None: gpu with CUDA, else cpu. Every None below takes the profile's value.
d = None  # embedding dimension
K = None  # number of concepts
L = None  # demonstrations per prompt
S = None  # concepts active in a word, |S|
m = None  # MLP width
sigma_xi = None  # word noise σ_ξ
eta = None  # query label-flip probability η (the Bayes error)
batch = None  # fresh prompts per SGD step
lr = None  # SGD step size
steps = None  # SGD steps of the main runs
variant_steps = None  # SGD steps of the variants, controls and sweeps
kq_init = None  # W_KQ starts at kq_init·I
w_init = None  # MLP init scale
n_test = None  # prompts per evaluation set
eval_every = None  # steps between evaluations
dense_until = None  # dense evaluations up to this step
seeds = None  # runs of the main model
L_test = None  # test prompt lengths (length shift)
S_grid = None  # sweeps (cpu / gpu)
sigma_grid = None
L_grid = None
seed = None

# %% tags=["remove-input"]
P = ch.resolve(globals())
ch.md(ch.describe())
dev = ch.device
X = ConceptExperiment.from_params(P, ch.store, dev)  # the setting, and where its runs are stored
seed_list = rng.member_seeds(P.seed, P.seeds)  # each run's dictionary, init, batches, test set

# %% [markdown]
# ## The data model
#
# - There are $K$ concepts. Concept $k$ owns a shared direction $u_k$ and a contrast direction $v_k$; its two word
#   features are $a_k^\pm = u_k \pm v_k$, and its two label features $b_k^\pm = \bar u_k \pm \bar v_k$ are built the
#   same way. All $4K$ directions are mutually orthogonal (scaled columns of one random orthogonal matrix), with
#   $\lVert u\rVert = 1 > \lVert v\rVert = 0.8$, so that the two features of one concept have a positive inner
#   product $\lVert u\rVert^2 - \lVert v\rVert^2$ and features of different concepts are orthogonal.
# - A word activates $|S|$ concepts, each with a sign: $x = \sum_{j \in S} a_j^{\sigma_j} + \xi$,
#   $\xi \sim \mathcal N(0, \sigma_\xi^2 I_d)$. The set $S$ always contains the prompt's task concept $k^*$; the
#   other concepts are the word's other meanings (polysemy).
# - A prompt has $L$ demonstrations $z_l = x_l + b_{k^*}^{p\,\sigma_{k^*}(x_l)}$ and a query $x_q$ with target
#   $y_q = p\,\sigma_{k^*}(x_q)$, flipped with probability $\eta$, so the Bayes error is $\eta$. The demonstrations
#   show both signs of the task concept equally often.
# - The **polarity** $p = \pm 1$ is drawn afresh for every prompt: which of the two label features means "+1" changes
#   from prompt to prompt. Without it the query alone would decide its label and a model could ignore the context;
#   with it, the label can only be read off the demonstrations that share the query's task-concept sign.
# - The model is one softmax attention layer, the query attending over the demonstrations, followed by a ReLU MLP
#   with a fixed read-out: $f = \frac1m \sum_r s_r \,\mathrm{ReLU}(w_r^\top o)$ with
#   $o = \sum_l \alpha_l z_l$, $\alpha = \mathrm{softmax}_l(x_q^\top W_{KQ} z_l)$ and $s_r = \pm1$. $W_{KQ}$ starts at
#   $0.3\,I$ and the $w_r$ at a tiny random scale; both are trained by SGD on the logistic (cross-entropy) loss,
#   fresh prompts at every step. A third of the (task concept, co-concept) pairs never occur in training; they are
#   kept for the out-of-distribution test.
#
# The picture shows the dictionary's Gram matrix, a few words written in the concept basis, and one prompt.

# %%
task = X.task()
dic0 = make_dictionary(task, rng.generator("tasks", seed_list[0], device=dev))
ch.show(figure_data_model(task, dic0, sample(task, dic0, 1, rng.generator("eval", P.seed, 0, device=dev))), "data_model")

# %% [markdown]
# Left: the two features of a concept overlap ($\langle a_k^+, a_k^-\rangle = 0.36$), features of different concepts
# do not. Middle: each word of one prompt in the concept basis (red $+$, blue $-$): the task concept (framed row) is
# active in every word, with both signs among the demonstrations; each word has other meanings as well. Right: the
# labels written into the demonstrations. The query's label is the label of the green demonstrations, those that
# share its task-concept sign; the polarity $p$ makes that the only way to find it.
#
# ## Training dynamics
#
# We train the model {glue:text}`n_seeds` times (different dictionary, initialisation and data), and evaluate it
# every {glue:text}`eval_every` steps (five times less often after step {glue:text}`dense_until`) on
# {glue:text}`n_test` held-out prompts and on prompts it was trained on. We
# record the logistic loss, the 0-1 error against the observed target (whose floor is the Bayes error $\eta$) and
# against the noiseless target (the *clean* error, whose floor is 0; the observed error is
# $\eta + (1 - 2\eta)\times$ clean error), the **correct attention** (the softmax mass on the demonstrations sharing the
# query's task-concept sign), and the products of the weights with the dictionary:
#
# - attention: *specific* $\max_k |v_k^\top \Delta W_{KQ} v_k|$ (query sign against demonstration sign), *complement*
#   the largest product over every other pair of dictionary directions, *noise* $\max |\xi^\top \Delta W_{KQ} \xi'|$,
#   with $\Delta W_{KQ} = W_{KQ} - 0.3 I$ the learned change;
# - MLP: *specific* $\max_{r,k} |w_r^\top \bar v_k|$ (the label-carrying directions), *complement*
#   $\max |w_r^\top f|$ over the other directions $u_k, v_k, \bar u_k$, and *noise* $\max |w_r^\top \xi|$.

# %%
main = X.run_seeds(seed_list)  # on the executor (ICLBOOK_EXECUTOR), then read back from the store
bayes = bayes_error(P.L, P.eta)
rf = X.rate_fits(main)  # per seed, the exponential fit to the clean error's envelope; medians (and the raw curve's R²)
fits = rf.fits
ch.glue(n_seeds=P.seeds, eval_every=P.eval_every, dense_until=P.dense_until, n_test=P.n_test, steps=P.steps,
        variant_steps=P.variant_steps, eta=f"{bayes:g}")

# %% [markdown]
# Look for a plateau at error one half, then a short and steep descent to the Bayes error; on the log scale the
# clean error should fall along a straight line (dashed: the fitted exponential). The correct attention should
# climb from about one half to near one, the specific products should grow far above the complement and noise
# products, and the MLP's neurons should turn to read the label feature (a positive signed read-out).

# %%
s0 = seed_list[0]
model0, res0, dic0, _ = main[s0]
ch.show(figure_dynamics(main, fits[s0], bayes, P.n_test), "training_dynamics")

# %% [markdown]
# The final MLP weights, as products $s_r\, w_r^\top f$ with every dictionary direction $f$ (neurons sorted by their
# read-out sign $s_r$), show where the learned weight sits.

# %%
ch.show(figure_mlp_weights(model0, dic0, P.K), "mlp_weights")

# %%
sm = summarise(main)  # final values per seed, medians, and the weight-feature ratios of claims 3a/3b
med, attn0, max_clean = sm.median, sm.attn0, sm.max_clean
r1b = C.exponential_not_power_law([m[1].eval_series("test_err_clean") for m in main.values()], X.resolution)
ch.glue(rate=f"{rf.rate:.3f}", efold=f"{1 / rf.rate:.0f}", r2=f"{rf.r2:.2f}", fit_n=f"{rf.n}", r2_raw=f"{rf.r2_raw:.2f}",
        ratio1b=f"{r1b.value:.2f}", r2_verdict="so claim 1b holds" if r1b.holds() else
        "so at this profile we do not reproduce an exponential law (claim 1b)",
        final_err=f"{med['test_err']:.3f}", max_clean=f"{max_clean:.4f}", attn0=f"{attn0:.2f}",
        attn1=f"{med['test_correct_attn']:.3f}",
        prods=f"attention {med['attn_specific']:.2f} / {med['attn_complement']:.2f} / {med['attn_noise']:.3f}, "
        f"MLP {med['mlp_specific']:.2f} / {med['mlp_complement']:.2f} / {med['mlp_noise']:.2f}")

PAPER = "(paper: abstract only)"  # our notes on Bu et al. have the abstract; its simulations we could not read
final = list(sm.final.values())
C.bayes_reached([f["test_err_clean"] for f in final], med["test_err"], bayes).record(
    ch.ledger, "1a", "The 0-1 error reaches the Bayes error: clean (noiseless) test error ≈ 0 at the end",
    source="Bu et al. 2024 (our notes): the Bayes-optimal test error is reached", kind="paper")
r1b.record(ch.ledger, "1b", "Exponential, not power-law, convergence: the clean error's envelope keeps its decay rate "
           "through the descent", expected_at=("cpu", "gpu"), kind="paper",
           source="Bu et al. 2024, abstract: exponential 0-1 loss convergence")
C.attention_correct([f["test_correct_attn"] for f in final], attn0).record(
    ch.ledger, "2", "The attention puts its mass on the label-informative (same-sign) demonstrations", source=PAPER,
    kind="paper")
C.weights_align(final, "attn").record(ch.ledger, "3a", "Attention weights align with the task concept's features, "
                                      "not complement or noise", source=PAPER, kind="paper")
C.weights_align(final, "mlp", sm.growth).record(ch.ledger, "3b", "MLP weights align with the label features, not "
                                                "complement or noise", source=PAPER, kind="paper")

# %% [markdown]
# At the end of training the observed test error is {glue:text}`final_err` against a Bayes error of $\eta$, and the
# largest clean error over the seeds is {glue:text}`max_clean`.
#
# *How we test "exponentially fast".* SGD makes the clean error jump up and down on its way down (first panel; far
# more at small batches, see the next section). A statement
# "error $\leq C e^{-\text{rate}\cdot t}$" is a bound, and it holds for the error curve exactly when it holds for the
# curve's envelope $\max_{s \geq t}$ error$(s)$, the level below which the error stays from step $t$ on (dotted).
# We therefore read the descent off this envelope, from the last step above 0.3 to the resolution of the test set.
# A straight line in log scale is not enough there: over a window this short, power laws timed from the start of
# training (the claim is a rate in the step count) look straight too.
#
# :::{admonition} History, at commit `42f4a36`: synthetic power laws over such a window
# Fitted over a window like the runs', $t^{-4}$ gave $R^2 = 0.97$, $t^{-3}$ 0.93–0.95, $t^{-2}$ 0.87–0.91.
# :::
#
# What tells them apart is the rate: an exponential keeps its
# decay rate through the descent (and speeds up while it leaves the plateau), while $t^{-a}$ decays at the rate $a/t$,
# which falls. Claim 1b therefore reads, per seed, the envelope's decay rate (the slope of a line in log scale) in the
# last third of the window over that in its first third, and asks that the smallest over the seeds be at least 0.7,
# with, as before, a median $R^2$ above 0.9 for the straight line over the whole window. A power law from step 0
# slows down along the window, so its ratio stays below 1, and the steeper the law, the closer to 1 it comes; the
# unit tests check that $t^{-3}$ and $t^{-4}$ fail the criterion on a synthetic window. The ledger's detail gives,
# per seed, the exponent that a power law from step 0 would need to fall across the measured window in its steps,
# and the ratio it would show there: a short, late descent can only refute laws below that exponent. (Up to this
# version claim 1b asked for $R^2 > 0.9$ alone, which $t^{-3}$ and $t^{-4}$ pass; the rate test was fixed, with
# synthetic power laws and exponentials as its only evidence, before the runs it is reported for, and
# `tests/test_concept_claims.py` checks that it fails on $t^{-3}$ and $t^{-4}$ and holds on exponentials.) The same
# "stays below" reading defines the steps-to-$\varepsilon$ of the efficiency section. After
# the plateau the envelope falls at a median rate of {glue:text}`rate` per step (an e-folding every
# {glue:text}`efold` steps); the smallest rate ratio is {glue:text}`ratio1b` and the median $R^2$ {glue:text}`r2`
# over about {glue:text}`fit_n` evaluations, {glue:text}`r2_verdict`. Fitted to the raw, jagged curve instead, the
# median $R^2$ is {glue:text}`r2_raw`. The correct
# attention rises from {glue:text}`attn0` to {glue:text}`attn1`; the final products (specific / complement / noise)
# are {glue:text}`prods`. Two things the figure shows that the claims do not: the error reaches the Bayes limit
# while the correct attention is still far from one (the attention keeps sharpening long after the error has
# converged), and the logistic loss is still near $\log 2$ at the end, because the logit $f$ is small: the $1/m$
# read-out and the small initialisation keep the margins small, and SGD is still growing them.
#
# ### Why the batch is large: SGD noise unlearns concepts
#
# A batch of $B$ prompts holds about $B/K$ prompts of each task concept, and a concept's own weights (its products
# with $W_{KQ}$ and with the MLP) are driven by those prompts only.
#
# :::{admonition} History, at commit `baf0244`: pilots at small batches
# At the spec's suggested batch of 256 with $K = 16$ (16 prompts per concept per step), the error of single concepts
# jumped between 0 and 0.5 for hundreds of steps: concepts were learned, unlearned and learned again, the rate
# fitted to the descent varied twofold from seed to seed, and the log-linear fit fell below $R^2 = 0.9$ for two seeds
# of three. Lowering the learning rate to 0.3 or 0.1 at that batch, or widening the MLP to $m = 512$, did not remove
# the excursions; a batch of 1024 or 2048 did.
# :::
#
# The theorem is about the expected dynamics, which a larger batch follows more
# closely, so the `cpu` and `gpu` profiles use about 64 prompts per concept per step ($B = 1024$ at $K = 16$,
# $B = 4096$ at $K = 64$); `ci` keeps 256 at $K = 8$. Here every seed is rerun at a quarter of the batch, for the
# same number of steps and otherwise unchanged, to show the difference in this run rather than in our pilots.
#
# For the same reason the parameters follow $K$ and $|S|$ when only those are changed (`follow_K` and `follow_S` in
# `iclbook/chapters/multi_concept.py`; explicit values win). A larger $K$ keeps the profile's prompts per concept
# per step ($B \propto K$) and its steps per concept (steps $\propto K$), because each concept learns from its own
# $1/K$ of the batch. A larger $|S|$ raises $K \propto |S| - 1$: a query's other concepts also sit in some
# demonstrations, where they score like the task concept.
#
# :::{admonition} History, at commit `42f4a36`: pilots, not recorded
# At `ci`'s 1000 steps, $K = 16$ ended at correct attention 0.78 in each of seeds 0–6, with 2000 steps at 0.94. At
# $|S| = 3$, $K = 8$ the two-demonstration length shift missed claim 4a by 0.030–0.043 in seeds 0–2 however long we
# trained (at $K = 16$: 0.007 and 0.009).
# :::

# %%
small_batch = max(P.batch // 4, 1)
small = {s: X.run(s, batch=small_batch, probes=False, tag=f"batch {small_batch}", n_steps=P.steps)[1] for s in seed_list}
fits_small = {s: X.rate_fit(r) for s, r in small.items()}
ch.show(figure_batch_noise({s: r[1] for s, r in main.items()}, small, P.batch, small_batch, P.K, P.n_test, P.steps),
        "batch_noise")


ch.table(["batch", "prompts per concept", "rate per step (min–max over seeds)", "R² of the envelope fit, per seed",
          "steps to clean error 0.01, per seed"],
         batch_rows([(P.batch, fits, [r[1] for r in main.values()]), (small_batch, fits_small, list(small.values()))],
                    P.K))

r2_big, r2_small = rf.r2, np.median([x["r2"] for x in fits_small.values()])
ch.glue(batch_verdict=(f"the main batch's envelope fits are straighter than the quarter batch's (median R² "
                       f"{r2_big:.2f} against {r2_small:.2f})") if r2_big > r2_small else
        (f"the quarter batch's envelope fits are not less straight than the main batch's (median R² {r2_small:.2f} "
         f"against {r2_big:.2f}), so at this profile the comparison does not show the effect seen in our pilots"))

# %% [markdown]
# In this run {glue:text}`batch_verdict`. The ledger's claims 1b and 5 are read from the main runs only.
#
# ## Out-of-distribution in-context learning
#
# The trained models are tested, without further training, on prompts from shifted distributions:
#
# - **length**: shorter and longer prompts than the $L$ of training;
# - **skewed concepts**: task concepts drawn with probabilities $\propto 0.5^k$ instead of uniformly;
# - **switched features**: (i) *words*: every word feature $a_k^\pm$ replaced by $a_k^\mp$. In our model this shift is
#   a symmetry: it has the same effect as flipping the polarity $p$, which is already random per prompt, so it is no
#   harder than the training distribution. (ii) *labels*: prompts of task concept $k^*$ labelled with the label
#   features of concept $k^* + 1$, a (word concept, label concept) pairing never seen in training;
# - **unseen combinations**: words whose co-concepts come only from the third of the (task concept, co-concept)
#   pairs held out of training.
#
# The controls: the same MLP without attention, which sees only the query and therefore cannot know the polarity
# (expected error one half), and the linear-attention variant. All errors are against the observed target, whose
# Bayes error is $\eta$ = {glue:text}`eta` on every set (the demonstrations are noiseless, so any $L \ge 1$ determines
# $p$). In brackets the table gives the clean (noiseless-target) error, whose floor is 0. Models evaluated on one set
# see the same prompts and label flips, so models with zero clean error show the same observed error.

# %%
ctrl_model, _, ctrl_dic, _ = X.run(s0, attention="none", probes=False, tag="no-context control")
lin_model, lin_res, lin_dic, _ = X.run(s0, attention="linear", tag="linear attention")
in_dist, ood = X.ood_results(main, (ctrl_model, ctrl_dic), (lin_model, lin_dic), P.L_test, P.seed)
ch.table(["test set", "softmax model: error, median over seeds", "its largest clean error", "correct attention",
          "linear attention", "no-context control"], ood_rows(in_dist, ood))

# %% [markdown]
# Look for the softmax model's error staying at $\eta$ on every set while the no-context control stays at one half.

# %%
ch.show(figure_ood(in_dist, ood, bayes, P.L, P.L_test), "ood")

r4a, r4b = C.ood_near_bayes(in_dist, ood, bayes), C.control_fails(in_dist, ood)
ood_excess, ctrl_min = r4a.value, r4b.value
r4a.record(ch.ledger, "4a", "Out of distribution (length, skew, switched features, unseen combinations) the error "
           "stays near the Bayes limit", source="Bu et al. 2024, abstract: out-of-distribution ICL", kind="paper")
r4b.record(ch.ledger, "4b", "A model that cannot read its context fails (true by construction: a check of the "
           "prompts)", kind="check")

# %% [markdown]
# On the shifted sets the softmax model's error exceeds the Bayes error by at most {glue:text}`ood_excess`; the
# no-context control never gets below {glue:text}`ctrl_min`. The switched-words row is, as said, not a real shift in
# our model, and the length shift is mild for a model that averages over demonstrations with softmax weights: more
# demonstrations only make the average cleaner. The linear-attention variant does not normalise its weights, so its
# output scales with $L$; the table shows whether that mattered.
#
# ## Efficiency: steps to reach error $\varepsilon$
#
# If the error falls exponentially after a plateau of $T_0$ steps, the number of steps to reach clean error
# $\varepsilon$ is $T_0 + \log(1/\varepsilon)/\text{rate}$: linear in $\log(1/\varepsilon)$, with slope
# $1/\text{rate}$ steps per nat. We read the first step from which the clean test error stays below $\varepsilon$,
# for $\varepsilon$ from 0.2 to 0.002, and compare with two variants (trained for {glue:text}`variant_steps`
# steps; the table's final error is read at that step for every model): the MSE loss $(f - y)^2$ instead of the
# logistic loss, and linear instead of softmax attention.
#
# A fair comparison of losses needs care with the step size. At initialisation ($f \approx 0$) the derivative of the
# loss with respect to $f$ is $1/2$ for the logistic loss and $2$ for the squared loss, so at one learning rate the
# MSE model takes four times larger first steps. We therefore train MSE twice: at the same learning rate, and at a
# *gradient-matched* learning rate, scaled so that its first gradient has the norm of the logistic loss's first
# gradient (measured on one batch). The slope (steps per nat) is read after the plateau, so a shorter plateau alone
# does not change it.

# %%
g_ratio = X.gradient_ratio(s0, task, dic0)  # first-gradient norm, logistic / MSE
variants = X.loss_variants(main, lin_res, g_ratio)  # name → runs: main, MSE at lr and gradient-matched, linear
eff = efficiency(variants, P.variant_steps)  # steps to each ε, and the law's slope and R², per variant

ch.show(figure_efficiency(eff, variants, P.n_test, s0), "efficiency")

ch.table(["model", "steps per nat (slope)", "R²", "steps to ε = 0.01", "final clean error"], efficiency_rows(eff))
main_eff = eff["softmax + logistic (main)"]
C.eps_law_linear(EPS, main_eff["n_eps"]).record(
    ch.ledger, "5", "The steps to reach error ε grow linearly in log(1/ε) (claim 1b's envelope, inverted)",
    expected_at=("cpu", "gpu"), kind="check",
    source="Bu et al. 2024 (our notes): Bayes-optimal error after a logarithmic number of iterations")
ch.glue(ood_excess=f"{ood_excess:.3f}", ctrl_min=f"{ctrl_min:.2f}", g_ratio=f"{1 / g_ratio:.1f}",
        slope_main=f"{main_eff['slope']:.1f}", r2_eff=f"{main_eff['r2']:.2f}",
        r2_eff_verdict="so the slopes below are read off near-straight lines" if main_eff["r2"] > 0.9 else
        "so at this profile the steps-to-ε curve is bent (check 5 fails): the staircase of the error curve, one "
        "concept after another, bends it, and the slopes below are rough summaries")
# the fair comparisons leave out the same-lr MSE run, which takes 4× larger steps
fastest = min((n for n in eff if n != f"softmax + MSE, lr {P.lr:g}"), key=lambda n: eff[n]["slope"])
ch.glue(eff_verdict="the main model has the smallest slope of the three fair comparisons "
        "(main, gradient-matched MSE, linear attention)" if fastest == "softmax + logistic (main)"
        else f"the smallest slope is that of *{fastest}* ({eff[fastest]['slope']:.1f} steps per nat), not the main "
        "model's, so this experiment does not show an efficiency advantage of softmax attention with the "
        "cross-entropy loss over these variants")

# %% [markdown]
# For the main model the steps to $\varepsilon$ follow $\log(1/\varepsilon)$ with median $R^2$ =
# {glue:text}`r2_eff` (check 5 asks for more than 0.9), {glue:text}`r2_eff_verdict`; the slope is
# {glue:text}`slope_main` steps per nat. The MSE model's
# first gradient is {glue:text}`g_ratio` times larger at the same learning rate, so it should be compared at the
# gradient-matched learning rate. In this run {glue:text}`eff_verdict`. The paper's efficiency statement is about a
# logarithmic number of steps; the comparison with these variants is ours.
#
# ## Side note: the sign of the attention's initialisation
#
# A task with labels $\pm 1$ can be solved in two ways: attend to the demonstrations that *share* the query's
# task-concept sign and copy their label, or attend to those with the *opposite* sign and negate theirs. Both reach
# the Bayes error. With $W_{KQ} = 0$ at initialisation nothing but the tiny random MLP breaks the symmetry; a small
# positive multiple of the identity scores a demonstration by its similarity to the query, which favours copying.

# %%
side = X.init_sign_runs(s0, res0)  # W_KQ = +, 0 and − kq_init·I (the + run is the main one)
ch.show(figure_init_sign(side, bayes), "kq_init_sign")
side_final = {n: (float(series(r, "test_err")[-1]), float(series(r, "test_correct_attn")[-1])) for n, r in side.items()}
_, (e_zero, a_zero), (e_neg, a_neg) = side_final.values()
ch.glue(side_zero=f"the zero initialisation ends at error {e_zero:.3f} and correct attention {a_zero:.3f}"
        + (" — still on the plateau" if e_zero > 0.4 else ""),
        side_neg=f"the negative one ends at error {e_neg:.3f} with correct attention {a_neg:.3f}"
        + (" — the anti-copying solution" if a_neg < 0.2 and e_neg < bayes + 0.03 else ""))
ch.table(["initialisation", "final test error", "final correct attention"],
         [[n, f"{e:.3f}", f"{a:.3f}"] for n, (e, a) in side_final.items()])

# %% [markdown]
# After {glue:text}`variant_steps` steps, {glue:text}`side_zero`; {glue:text}`side_neg` (the positive
# initialisation is the main run, trained for {glue:text}`steps` steps). Where the anti-copying solution
# appears, claim 2 holds only for the solution that the positive initialisation selects: the attention learns to
# *separate* the two
# signs, but which side it picks is set by the initialisation. The paper's own initialisation may break this symmetry
# differently.
#
# ## Sweeps over sparsity, noise and prompt length
#
# At the `cpu` and `gpu` profiles we repeat the main run (one seed) with one knob changed at a time: the number of
# active concepts $|S|$, the word noise $\sigma_\xi$ and the training prompt length $L$, each for
# {glue:text}`variant_steps` steps; the table's final error and attention are read at that step for the main run too.

# %%

sweeps = {"|S|": ("S", P.S_grid), "σ_ξ": ("sigma_xi", P.sigma_grid), "L": ("L", P.L_grid)}
sweep_out = X.knob_sweeps(main[s0][1], s0, sweeps)
if sweep_out:
    ch.show(figure_sweeps(sweep_out), "sweeps")
    ch.table(["knob", "value", "rate / step", "R²", "steps to 0.01", "final clean error", "correct attention"],
             sweep_rows(sweep_out))
else:
    ch.md("*The sweeps are not run at this profile (`ci`); run the chapter at `cpu` or `gpu`.*")

# %% [markdown]
# ## Where this chapter differs from the paper
#
# - The data model is ours: orthogonal concept directions with a shared and a contrast part, words as signed sparse
#   sums, a per-prompt label polarity that makes the context necessary, and label noise on the query only. The paper
#   {cite:p}`bu2024` uses its own concept-based low-noise sparse coding model, whose exact constants, noise model and
#   feature geometry we could not read; its theorems are not checked against their own assumptions here.
# - Our model reads the demonstrations through an identity value map and a ReLU MLP with a fixed $\pm 1/m$ read-out;
#   $W_{KQ}$ starts at a small positive multiple of the identity (see the side note).
# - "Exponential convergence" is checked on the noiseless 0-1 error after the plateau, through its envelope
#   $\max_{s \geq t}$ error$(s)$ (a bound on the error is a bound on its envelope), not on the raw jagged curve.
#   The descent is short (a few e-foldings before the test set's resolution), so the log-linear fit has few points;
#   the plateau before it is not part of the exponential phase. An exponential is told from a power law timed from
#   the start of training by its rate, which must not fall along the descent (claim 1b); a short, late descent can
#   only refute power laws up to the exponent the ledger reports. Claim 1b is a `cpu`/`gpu` claim: at `ci`
#   (batch 256, $K = 8$) the descent is still a noisy staircase. Entry 5 (steps to $\varepsilon$ linear in
#   $\log(1/\varepsilon)$) reads the same envelope, inverted, so it is a check of the efficiency table, not a
#   second test of the paper; entry 4b is a check too, since the per-prompt polarity holds any context-blind
#   predictor at one half by construction.
# - Our notes on {cite:t}`bu2024` hold its abstract only, so the ledger's sources quote the abstract, or our notes of
#   it, and say "(paper: abstract only)" where the claim comes from the paper's simulations, which we could not read.
# - The batch is larger than the spec's suggested 64–256 at `cpu` and `gpu` (about 64 prompts per concept per step),
#   because at 16 prompts per concept SGD's noise unlearns concepts and the exponential law does not show (the
#   batch section above measures this in every run).
# - "Switched semantic features" in the paper may mean a different shift; our *switched words* is a symmetry of our
#   prompt model, our *switched labels* is a genuine shift.
# - The efficiency comparison with the MSE and linear-attention variants is ours; the paper compares its rate with
#   earlier theory, not with these variants.

# %% [markdown]
# ## The same claims on other data models
#
# Every claim above is checked on one prompt model, and we chose its details. {cite:t}`bu2024` state their results
# for a family of concept-based sparse-coding models, so one member that we picked says little about which of our
# choices the verdicts depend on. The study *data-model-family* (`iclbook/experiments/multi_concept_family.py`)
# therefore repeats this chapter's ledger on the chapter's own model and on five variants, each of which changes one
# choice and keeps everything else, at the `ci` profile with seeds 0, 1 and 2 each:
#
# - **`random-dictionary`**: the $4K$ directions drawn independently at random instead of exactly orthogonal, so that
#   features of different concepts are only nearly orthogonal ($|\cos| \sim 1/\sqrt d$), as the paper describes
#   them. Do claims 3a and 3b, alignment with the task concept's features rather than with the complement, need
#   exact orthogonality?
# - **`no-polarity`**: the label polarity $p$ fixed at $+1$. The context is still needed to tell which of the query's
#   concepts is the task concept, but no longer to tell what a label feature means. Check 4b (a context-blind model
#   sits at one half) holds by construction of the polarity; this variant shows what is left of it without, and
#   whether the attention still learns to pick the same-sign demonstrations (claim 2) when the query's own features
#   carry its label up to the choice of concept.
# - **`kq-zero`** and **`kq-random`**: $W_{KQ}$ starts at zero, or at a Gaussian matrix with the Frobenius norm of
#   the chapter's initial $W_{KQ}$ and no preferred direction. The chapter starts the attention at a positive
#   multiple of the identity, which favours copying over anti-copying (see the side note). Do the claims need that
#   choice? In both variants claim 3a reads the learned change $\Delta W_{KQ}$ from the variant's own
#   initialisation.
# - **`noisy`**: five times the chapter's word noise $\sigma_\xi$, so that the noise's norm is about that of a
#   contrast direction $v_k$. The paper's model is a *low*-noise sparse-coding model; this variant leaves that regime.
#
# A member of the study trains what the ledger reads (the main runs of its seed and the no-context control, on the
# variant's prompts, for the `ci` profile's steps) and computes every claim with the chapter's own claim functions
# and criteria: nothing is tuned per variant, and the point `chapter` is this chapter's ledger at `ci` for those
# seeds. The table below is rendered from the recorded study
# (`results/05_multi_concept/study-data-model-family.json`): for each data model and each claim, in how many of the
# three seeds the claim holds, so it says where each claim holds and where it breaks. Claims 1b and 5 are
# `cpu`/`gpu` claims (see above) and can fail at `ci` on the chapter's own model too: read a variant's row for them
# against the chapter's row.

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show(ch, "data-model-family")

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
