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
# # Is in-context learning gradient descent? Layer-causal fine-tuning
#
# {cite:t}`barnatan2023` revisit a popular claim: that a language model doing in-context learning (ICL) implicitly
# runs gradient descent on its demonstrations. The evidence for it was similarity: the change that the
# demonstrations make to a model's attention outputs looks like the change that fine-tuning (FT) on the same
# demonstrations makes. Bar Natan et al. show three things. The similarity metric had a normalisation artefact that
# makes pure noise look similar. Untrained models, which cannot do ICL at all, score as high on it. And ICL and
# gradient descent differ in a structural way: in ICL, layer $\ell$'s change can only depend on the layers below
# it, while backpropagation sends information from the top down. Their *layer-causal* variant of gradient descent
# (LCGD) respects that order, and its updates are somewhat more similar to ICL's, though all similarities stay low.
#
# No pretrained language model can be downloaded here, so this chapter trains its own small causal transformer on a
# synthetic in-context label-mapping language and runs the paper's protocol on it. What reproduces at our scale: the
# normalisation artefact (claim 1), a model that learns in context and that fine-tuning on its demonstrations helps
# (claim 2), and that LCGD's gradients below the top layer exceed GD's (5a, with a control that fails where it
# should). What does not: that LCGD's updates are more ICL-like than GD's (4a, 4b), neither reliably over
# pretraining seeds (a single run's verdict changes sign from seed to seed), nor per model on the paper's own statistical unit (a rate over a dozen models, section *Studies*), nor on a ladder
# of three CPU scales toward the `gpu` model, where neither comparison shows a trend toward the paper. Untrained
# controls do come to match the trained model as the model grows (3a), but mostly because the trained model's
# similarity falls, while the controls' barely rises.
#
# *Computing this page took {glue:text}`wall_time` at profile {glue:text}`wall_profile`, on
# {glue:text}`wall_where`; {glue:text}`wall_store` (see {doc}`status`).*

# %% tags=["remove-cell"]
import numpy as np

from iclbook.analysis import update_similarity as us
from iclbook.claims import above, below, is_true, near
from iclbook.experiments.layer_causality import (KINDS, METRICS, Comparisons, LayerCausality, held_out_ft_ok,
                                                 depth_trend, lower_layers_lcgd_over_gd, merge, seed_t)
from iclbook.experiments.layer_causality_figures import (figure_control_depth, figure_grad_norms, figure_per_layer,
                                                         figure_pretraining)
from iclbook.notebook import open_chapter
from iclbook import rng

ch = open_chapter("03", globals())

# %% tags=["parameters", "hide-cell"]
profile = None  # "ci" | "cpu" | "gpu"; None: gpu with CUDA, else cpu. Every None below takes the profile's value.
n_classes = None  # C: latent classes per task family
tokens_per_class = None
n_labels = None
n_x = None  # content tokens per input
K = None  # demonstrations per prompt
p_default = None  # fraction of prompts with the fixed default map
n_families = None  # task families (stand-ins for datasets)
n_layer = None
n_embd = None
n_head = None
steps = None  # pretraining steps
batch = None
lr = None  # pretraining learning rate
episodes = None  # test episodes per model, seed and family
lr_grid = None  # FT learning rates
seeds = None  # pretraining seeds
control_depths = None  # depths of the random-weight controls in the depth probe
depth_episodes = None  # test episodes per depth and seed in the depth probe
chunk = None  # episodes fine-tuned at once
control_init = None  # "fan_in" or "gpt2": initialisation of the untrained controls and the depth probe
seed = None

# %% tags=["remove-input"]
P = ch.resolve(globals())
ch.md(ch.describe())
dev = ch.device
seed_list = rng.member_seeds(P.seed, P.seeds)

# %% [markdown]
# ## The metrics, and a normalisation artefact
#
# For each layer $\ell$, record at the last prompt position the attention sub-layer's output $h$ (before the
# residual add) and its pre-softmax attention logits $m$ to the query tokens, under three conditions: zero-shot (ZS,
# the query alone), in-context (ICL, demonstrations then query) and fine-tuned (FT, the query alone after fine-tuning
# on the demonstrations). {cite:t}`barnatan2023` compare the updates with
#
# - $\mathrm{SimAOU}_{\rm norm} = \cos(\hat h_{\rm ICL} - \hat h_{\rm ZS},\ \hat h_{\rm FT} - \hat h_{\rm ZS})$,
#   $\hat h = h/\lVert h\rVert$ (the earlier version), and $\mathrm{SimAOU}$, the same without normalising;
# - a random baseline $\cos(\hat h_{\rm ICL} - \hat h_{\rm ZS},\ r)$ with $r \sim U[0,1)^d$;
# - $\mathrm{SimAM} = \cos(m_{\rm ICL}, m_{\rm FT})$ and $\mathrm{SimAM}_\Delta = \cos(m_{\rm ICL} - m_{\rm ZS},
#   m_{\rm FT} - m_{\rm ZS})$ (averaged over heads);
# - $\mathrm{Rec2FTP}$, the fraction of the queries that FT fixes (FT right, ZS wrong) that ICL also gets right.
#
# Normalisation alone creates similarity. Let $z = h_{\rm ZS}$ and let the ICL and FT outputs be $z + r$ and
# $z + r'$, with $r, r'$ independent noise orthogonal to $z$ and $\lVert r\rVert^2 = \lVert r'\rVert^2 =
# 3\lVert z\rVert^2$. Both normalised outputs move towards $-\hat z$ by the same amount, so
# $\mathrm{SimAOU}_{\rm norm} = 1/4$ in high dimension, while $\mathrm{SimAOU} \approx 0$.

# %%
icl_n, zs_n, ft_n = us.noise_updates(4000, 256, 3.0, rng.generator("noise", P.seed, 11))
noise = {
    "SimAOU_norm": us.sim_aou_norm(icl_n, zs_n, ft_n).mean().item(),
    "SimAOU": us.sim_aou(icl_n, zs_n, ft_n).mean().item(),
    "random baseline": us.random_baseline(icl_n, zs_n, rng.generator("noise", P.seed, 12)).mean().item(),
}
ch.table(["pure-noise updates, d = 256, 4000 draws", "measured", "closed form"],
         [["SimAOU_norm", f"{noise['SimAOU_norm']:.4f}", f"{us.expected_sim_aou_norm(3.0):.4f}"],
          ["SimAOU", f"{noise['SimAOU']:.4f}", "0"], ["random baseline", f"{noise['random baseline']:.4f}", "≈ 0"]])
ch.ledger.add("1a", "Pure-noise updates score SimAOU_norm ≈ 0.25 (the normalisation artefact)",
              noise["SimAOU_norm"], near(0.25, 0.02), detail="‖r‖² = 3‖z‖², r ⟂ z, d = 256",
              source="Bar Natan et al. 2023, §3: 1/4", kind="check")
ch.ledger.add("1b", "… while un-normalised SimAOU ≈ 0", abs(noise["SimAOU"]), below(0.02),
              detail="|mean SimAOU| on the same noise", source="Bar Natan et al. 2023, §3", kind="check")

# %% [markdown]
# ## The in-context label-mapping language
#
# A prompt is `BOS  x1 x2 : y </s>  …  x1 x2 :` with $K$ demonstrations and a query (here with
# {glue:text}`n_x` content tokens per input). The content tokens of one input come from one of $C$ latent classes;
# each prompt draws its own map from classes to label tokens, so the query's label can only be read off the
# demonstrations. A fraction {glue:text}`p_default` of prompts uses a fixed default map instead, which gives the
# model a label prior: its zero-shot accuracy is above chance, as a language model's is on sentiment labels. Test
# episodes come from the same mixture. A small pre-LN GPT with tied embeddings is pretrained with the causal-LM loss
# on whole prompts (Adam, warm-up and cosine decay); every label position then shows the model's prediction after
# $0, 1, \dots, K$ demonstrations.

# %%
X = LayerCausality.from_params(P, ch.store, dev)  # the language, the model's config, where runs are stored
task, cfg = X.task, X.cfg
ev = X.eval_episodes(P.seed)  # streams that training never uses
acc_by_demos = X.acc_by_demos


pretrained = X.pretrain_seeds(seed_list, P.seed)  # on the executor (ICLBOOK_EXECUTOR), then read from the store
trained = {s: model for s, (model, _) in pretrained.items()}
ch.show(figure_pretraining({s: res for s, (_, res) in pretrained.items()}, P.K, P.n_labels), "icl_accuracy")
final_acc = np.array([acc_by_demos(trained[s], ev).cpu().numpy() for s in seed_list])
ch.glue(n_x=P.n_x, width=P.n_embd, K_demos=P.K, p_default=f"{P.p_default:g}",
        n_params=f"{trained[seed_list[0]].num_params():,}", acc_zs_eval=f"{final_acc[:, 0].mean():.2f}",
        acc_full_eval=f"{final_acc[:, -1].mean():.2f}")

# %% [markdown]
# Left: accuracy of the pretrained model ({glue:text}`n_params` parameters) against the number of demonstrations
# before the query. Right: zero-shot accuracy and accuracy with at least $K/2$ demonstrations during pretraining.
# With no demonstration the model is at {glue:text}`acc_zs_eval` (the default map's prior; chance is $1/L$); with
# $K$ demonstrations it is at {glue:text}`acc_full_eval`, short of 1 only by queries whose class no demonstration
# showed.
#
# ## ZS, ICL, FT and layer-causal FT, episode by episode
#
# Each test episode has its own map, so fine-tuning is redone per episode: a copy of the model is trained on the
# episode's $K$ demonstrations (each one a sequence `BOS x : y </s>`), updating only $W_K$ and $W_V$ of every layer,
# with plain SGD, batch 1, one pass in prompt order, causal-LM loss on every demonstration token — exactly as
# {cite:t}`barnatan2023`. The learning rate is picked on a small grid by FT accuracy, as Dai et al. did. LCGD uses
# the same settings but detaches each block's input and sums early-exit losses read out through the frozen final
# LayerNorm and unembedding, so that layer $\ell$'s update depends only on the layers below it. We also run the two
# untrained controls of the paper: *random weights*, and *trained embeddings* (random blocks, but the pretrained
# embeddings, LayerNorms and unembedding).

# %%
R = {kind: {s: merge([X.run_compare(kind, s, f, trained[s]) for f in range(P.n_families)]) for s in seed_list}
     for kind in KINDS}

# %% [markdown]
# The table shows accuracies and layer-averaged similarities (mean ± standard deviation over seeds; each seed's value
# is the mean over episodes, then layers). "GD → LC" gives the metric for vanilla fine-tuning and for layer-causal
# fine-tuning.

# %%
C = Comparisons(R, seed_list)
per_seed = C.per_seed  # one number per seed: accuracy (mean over episodes) or metric (over episodes, then layers)
ch.table(["model", "ZS acc", "ICL acc", "FT acc", "FT_LC acc", "Rec2FTP", "FT lr"], C.accuracy_rows())
ch.table(["model", *(f"{v} (GD → LC)" for v in METRICS.values()), "α", "random baseline"], C.similarity_rows())

rb = per_seed("trained", "random_baseline")
ch.ledger.add("1c", "The random baseline is ≈ 0 on the trained model's real ICL updates", float(abs(rb.mean())),
              below(0.05), detail=f"|cos(ĥ_ICL − ĥ_ZS, r)|, r ~ U[0,1)^d, layer-averaged, mean {rb.mean():+.3f}",
              source="Dai et al. 2023; Bar Natan et al. 2023: ≈ 0", kind="check")

# %% [markdown]
# ## Does the model learn in context, and does fine-tuning help?

# %%
zs, icl, ft = (per_seed("trained", k) for k in ("zs_ok", "icl_ok", "ft_ok"))
all_t = merge([R["trained"][s] for s in seed_list])
rec = us.rec2ftp(all_t["zs_ok"], all_t["icl_ok"], all_t["ft_ok"])
ch.glue(acc_zs=f"{zs.mean():.2f}", acc_icl=f"{icl.mean():.2f}", acc_ft=f"{ft.mean():.2f}", rec2ftp=f"{rec:.2f}")
ch.ledger.add("2a", "The trained model learns in context: ICL accuracy ≫ ZS accuracy", (icl - zs).mean(), above(0.3),
              detail=f"ICL − ZS accuracy, mean of {P.seeds} seed(s): ZS {zs.mean():.2f}, ICL {icl.mean():.2f}",
              expected_at=("cpu", "gpu"), source="Bar Natan et al. 2023, Table 1 (ICL ≫ ZS on all six datasets)", kind="paper")
ft_ho = np.array([held_out_ft_ok(R["trained"][s]["ft_ok_grid"]).float().mean().item() for s in seed_list])
ch.glue(acc_ft_ho=f"{ft_ho.mean():.2f}")
ch.ledger.add("2b", "Fine-tuning on the demonstrations (W_K, W_V only) helps too", (ft_ho - zs).mean(), above(0.02),
              detail=f"FT − ZS accuracy with the learning rate chosen on held-out episodes (FT {ft_ho.mean():.2f}); "
                     f"the paper's protocol (rate chosen on the scored episodes): FT − ZS {(ft - zs).mean():.3f}; "
                     f"Rec2FTP = {rec:.2f} over all episodes",
              source="Dai et al. 2023; Bar Natan et al. 2023, Table 1", kind="paper")

# %% [markdown]
# Zero-shot the trained model is right on {glue:text}`acc_zs` of the queries, in context on {glue:text}`acc_icl`,
# and after fine-tuning on the demonstrations on {glue:text}`acc_ft` with the paper's protocol, where the learning
# rate is the one that did best on these same episodes (Dai et al. 2023 and the paper do this), or on
# {glue:text}`acc_ft_ho` when each half of the episodes is scored with the rate chosen on the other half. Claim 2b
# uses the held-out choice, a departure from the paper's protocol (since December 2026): choosing the rate on the
# scored episodes adds accuracy by selection alone, about one episode's worth at `ci`, which is the size of the
# criterion's margin. Of the queries that fine-tuning fixes, ICL gets
# a fraction {glue:text}`rec2ftp` right (Rec2FTP).
#
# ## Similarity is weak evidence: untrained models score as high
#
# The paper's second point: if models that cannot do ICL at all reach the same update similarity, the similarity
# says little about whether ICL is gradient descent.
#
# *How the controls are initialised (decided in December 2026, before the runs that test it).* The paper's controls
# are randomly initialised 1.3B models: GPT-2's std 0.02 at width 2048 gives each layer a gain of about
# $0.02\sqrt{2048} \approx 0.9$. The same std at our width 64 gives about 0.16, and the untrained network is nearly
# dead, which our earlier runs (controls' SimAOU ≈ 0) may have measured rather than the paper's point. So the
# controls and the depth probe use a fan-in initialisation by default (matrix weights $\mathcal N(0, 1/\text{width})$,
# gain ≈ 1 at any width, residual projections scaled by $1/\sqrt{2L}$): `control_init = "fan_in"`, the paper's
# regime; `-p control_init gpt2` gives the old controls for comparison. Claim 3c, our own, states what the depth
# probe showed before: random models' SimAOU rises with depth while they still cannot learn in context.
#
# With the fan-in controls, check 3b (the controls cannot learn in context, |ICL − ZS| < 0.1) is expected from
# `cpu` on, not at `ci`: a live random network's accuracy moves with its context by chance, and at `ci`'s 48
# episodes one episode is 1/48 of accuracy; `cpu` scores 200 episodes per seed.
#
# :::{admonition} History, at commit `0fba852`: the `ci` record of that commit (the appendix holds its renewal)
# In `ci` seeds 0–9 (fan-in controls) the largest ICL − ZS of the two controls was above 0.1 in four seeds (0.104,
# 5 episodes of 48, in three; 0.125 in one) and at most 0.0625 in the other six, with 3a then holding in 9 of the 10.
# :::

# %%
aou = {kind: per_seed(kind, "sim_aou_gd") for kind in KINDS}
best_ctrl = max(("random", "emb"), key=lambda k: aou[k].mean())
gap_icl = max((per_seed(k, "icl_ok") - per_seed(k, "zs_ok")).mean() for k in ("random", "emb"))
ch.ledger.add("3a", "Untrained models reach SimAOU comparable to the trained model's",
              aou[best_ctrl].mean() - aou["trained"].mean(), above(-0.05),
              detail=f"best control ({KINDS[best_ctrl]}, {P.control_init} init) − trained, GD, layer-averaged: "
                     + ", ".join(f"{KINDS[k]} {aou[k].mean():.3f}" for k in KINDS),
              expected_at=("gpu",),
              source="Bar Natan et al. 2023, Table 2: as high as trained on 4 of 5 datasets", kind="paper")
ch.ledger.add("3b", "… while the untrained models fail at ICL", gap_icl, below(0.1),
              detail=f"largest ICL − ZS accuracy of the two controls, over {P.episodes} episodes per seed",
              expected_at=("cpu", "gpu"), source="Bar Natan et al. 2023, Table 2", kind="check")

# %% [markdown]
# ### The controls' depth
#
# Our controls have the trained model's depth; the paper's 1.3B controls have 24 layers. Does depth alone make an
# untrained model's updates look alike? The cell below builds random-weight models of the chapter's width at
# several depths and measures their SimAOU (GD, layer-averaged) with the same fine-tuning protocol, on fresh test
# episodes.

# %%
depths = sorted(P.control_depths)
probe_runs = [[X.depth_control(d, s) for s in seed_list] for d in depths]  # each (depth, seed) loaded once
probe = np.array([[float(r["sim_aou"]) for r in row] for row in probe_runs])  # (depths, seeds)
probe_gain = np.array([[float(r["icl_gain"]) for r in row] for row in probe_runs])
ch.show(figure_control_depth(depths, probe, aou["trained"].mean(), P.n_layer), "control_depth")
deepest = probe[-1].mean()
gain = np.abs(probe_gain).max()
ch.glue(depth_probe=", ".join(f"{v:+.3f} at {d}" for d, v in zip(depths, probe.mean(1))),
        depth_gain=(f"None of these models learns in context (largest |ICL − ZS| accuracy {gain:.2f})" if gain < 0.1 else
                    f"Their largest |ICL − ZS| accuracy is {gain:.2f}, from only {P.depth_episodes} episodes per "
                    f"depth and seed"),
        depth_verdict=(f"the deepest random model comes within 0.05 of the trained model's {aou['trained'].mean():.3f}"
                       if deepest >= aou["trained"].mean() - 0.05 else
                       f"even the deepest random model stays more than 0.05 below the trained model's "
                       f"{aou['trained'].mean():.3f}"))

t_depth, gain_depth = depth_trend(probe, probe_gain)
ch.ledger.add("3c", "Untrained models' SimAOU rises with depth, while they still cannot learn in context",
              bool(t_depth > 1 and gain_depth < 0.1), is_true("t > 1 and |ICL − ZS| < 0.1"),
              detail=f"t over seeds of SimAOU(depth {depths[-1]}) − SimAOU(depth {depths[0]}) = {t_depth:.2f}; "
                     f"largest |ICL − ZS| {gain_depth:.2f}; {P.control_init} init",
              expected_at=("cpu", "gpu"), source="ours: the paper's controls have 24 layers, ours the trained "
              "model's depth", kind="extension")

# %% [markdown]
# Random-weight SimAOU by depth: {glue:text}`depth_probe` layers; {glue:text}`depth_verdict`.
# {glue:text}`depth_gain`.
#
# :::{admonition} History, at commit `39dd4de`: GPT-2 initialisation of the controls
# In our `cpu` run the random model's SimAOU rose steadily with depth, from about +0.02 at three layers to +0.10 at
# 24 (six seeds; the paper's trained 1.3B model scores 0.10), without any training. Depth alone thus moves untrained
# models toward the similarity the paper measured, which is its point; at our width it did not reach our trained
# three-layer model's 0.14, and claim 3a, which compares controls of the trained model's own depth, does not see it.
# :::
#
# *What the `cpu` seeds say (the first runs under today's criteria and fan-in controls).*
#
# :::{admonition} History, at commit `2282233`: the `cpu` record of that commit (the appendix holds its renewal)
# Claim 3a held in two of the three seeds and missed by a hair in the third: the best untrained control came within
# the criterion's 0.05 of the trained model twice (best control − trained: +0.011, −0.048, −0.061). Our extension
# 3c failed in all three: with the fan-in initialisation the random model's SimAOU did not rise with depth
# consistently over the seeds, and, by those runs' ledgers (the record keeps only 3c's verdict), some random models
# of the probe came above 0.1 in ICL − ZS accuracy.
# :::
#
# The renewed record (every model retrained at today's code) has 3a in every seed, still within a few hundredths of
# the criterion's edge, and 3c in none.
#
# With fan-in controls the untrained network is no longer dead, which is the paper's regime, but at three layers and
# width 64 "comparable" sits on the edge of the criterion, so 3a is left to `gpu` in the ledger, as the issue that
# changed the controls said it would be if it still failed. What rose with depth under GPT-2's initialisation (history
# above) was the network coming alive, not a property of depth. Whether a larger model moves toward either claim is
# no longer a promise: the study `ladder` (section *Studies*) measured both at three CPU scales toward the `gpu`
# model. 3a moved toward the paper, but mostly because the trained model's SimAOU fell (the best control's rose a
# little), so the ledger keeps it at `gpu`, where that trend points; 3c stayed flat, so the ledger expects it from
# `cpu` on, where it fails: it is not reproduced at any scale we ran.
#
# ## Layer causality: LCGD against GD, layer by layer
#
# Look for the LCGD curves (dashed) above the GD curves (solid) for the trained model, and for where in depth the
# difference lies.

# %%
ch.show(figure_per_layer(R, KINDS, METRICS, P.n_layer), "per_layer_similarity")

d_aou = per_seed("trained", "sim_aou_lc") - per_seed("trained", "sim_aou_gd")
d_amd = per_seed("trained", "sim_am_delta_lc") - per_seed("trained", "sim_am_delta_gd")
t_aou, t_amd = seed_t(d_aou), seed_t(d_amd)
ch.ledger.add("4a", "LCGD's updates are more similar to ICL than GD's: SimAOU (layer-averaged)", t_aou[2],
              above(1.0), detail=f"t = mean / s.e. over seeds of SimAOU(LCGD) − SimAOU(GD): {t_aou[0]:+.3f} ± "
                                 f"{t_aou[1]:.3f}; per seed " + ", ".join(f"{v:+.3f}" for v in d_aou),
              expected_at=("cpu", "gpu"), source="Bar Natan et al. 2023, Table 3: 0.10 → 0.17", kind="paper")
ch.ledger.add("4b", "… and SimAM_Δ (layer-averaged)", t_amd[2], above(1.0),
              detail=f"t = mean / s.e. over seeds of SimAM_Δ(LCGD) − SimAM_Δ(GD): {t_amd[0]:+.3f} ± "
                     f"{t_amd[1]:.3f}; per seed " + ", ".join(f"{v:+.3f}" for v in d_amd),
              expected_at=("cpu", "gpu"), source="Bar Natan et al. 2023, Table 3: 0.27 → 0.34", kind="paper")

# %% [markdown]
# Per-layer similarity between the ICL update and the fine-tuning update, for the trained model and the two
# untrained controls (solid: GD, dashed: LCGD), averaged over episodes and seeds.
#
# ## Where the gradient goes
#
# In backpropagation the lower layers only receive what flows down from the loss at the top; in LCGD every layer
# has its own early-exit loss. The heatmap shows the norm of the $W_K, W_V$ gradient of each layer at each of the $K$
# SGD steps (one per demonstration), for the trained model, averaged over episodes and seeds.

# %%
gn = C.grad_norms()  # g: (K, L) per method; layer 1 / top ratios, overall and per seed; each layer / the top one
ch.show(figure_grad_norms(gn["g"], P.K, P.n_layer), "grad_norm_heatmap")

ratio, seed_ratio = gn["ratio"], gn["seed_ratio"]
ch.glue(ratio_gd=f"{ratio['gd']:.2f}", ratio_lc=f"{ratio['lc']:.2f}",
        seed_ratio_gd=", ".join(f"{v:.2f}" for v in seed_ratio["gd"]),
        profile_gd=", ".join(f"{v:.2f}" for v in gn["profile"]["gd"]),
        profile_lc=", ".join(f"{v:.2f}" for v in gn["profile"]["lc"]))
lc_over_gd, lc_over_gd_layers = lower_layers_lcgd_over_gd(gn["k0"]["gd"], gn["k0"]["lc"])
ch.ledger.add("5a", "Below the top layer, LCGD's gradient norms exceed GD's", lc_over_gd, above(1.0),
              detail="smallest over layers 1…L−1 of ‖∇_LCGD‖ / ‖∇_GD‖ at the first fine-tuning step (same weights), "
                     "mean over seeds; per layer " + ", ".join(f"{v:.2f}" for v in lc_over_gd_layers),
              expected_at=("cpu", "gpu"), source="Bar Natan et al. 2023, App. C, Fig. 4 (text: LCGD's norms exceed "
              "GD's)", kind="paper")
ch.ledger.add("5b", "… LCGD's do not", ratio["lc"], above(1.0),
              detail="same ratio for layer-causal GD", expected_at=("cpu", "gpu"),
              source="Bar Natan et al. 2023, App. C, Fig. 4", kind="paper")

# %% [markdown]
# The lowest layer's gradient is {glue:text}`ratio_gd` times the top layer's under GD (per seed:
# {glue:text}`seed_ratio_gd`) and {glue:text}`ratio_lc` times under LCGD. Layer by layer, from the bottom, the
# gradient norm relative to the top layer's is {glue:text}`profile_gd` under GD and {glue:text}`profile_lc` under
# LCGD: the claim compares only the two ends, so read the whole profile too.

# %% [markdown]
# ## Beside the paper's 1.3B numbers
#
# The paper's values are the mean over six datasets for a 1.3B-parameter GPT model (GD → LCGD); ours are for the
# trained model, mean over seeds.

# %%
ch.table(["metric", "paper, 1.3B (GD → LCGD)", "ours (GD → LCGD)"], C.paper_rows())
if P.n_families > 1:
    ch.table(["family", "ZS", "ICL", "FT", "SimAOU (GD → LC)", "SimAM_Δ (GD → LC)"], C.family_rows(P.n_families))

# %% [markdown]
# ## What reproduced and what did not
#
# The normalisation artefact (claims 1a–1c) is a computation and holds at every profile. Our model learns in
# context and fine-tuning on the demonstrations helps it (2a: {glue:text}`claim2a_status`; 2b:
# {glue:text}`claim2b_status`), and the untrained controls cannot do ICL (3b: {glue:text}`claim3b_status`). The
# other claims are the ones to read carefully in this run's ledger: whether the controls reach the trained model's
# un-normalised SimAOU (3a: {glue:text}`claim3a_status`), whether LCGD's updates are closer to ICL's than GD's (4a:
# {glue:text}`claim4a_status`; 4b: {glue:text}`claim4b_status`) and whether LCGD's gradient norms exceed GD's below
# the top layer (5a: {glue:text}`claim5a_status`; 5b: {glue:text}`claim5b_status`).
#
# :::{admonition} History, at commit `39dd4de` and earlier
# *Measured under the criteria before December 2026 (4a/4b: mean > 0; 5a: GD's layer-1 / top ratio < 1), with the
# GPT-2 initialisation for the controls; no command reproduces it from today's code.*
#
# In our `cpu` runs the controls reached
# the trained model's *normalised* SimAOU_norm but not its SimAOU, the LCGD − GD differences changed sign from seed to
# seed (so with three seeds 4a and 4b held in some runs and failed in others), and GD's lowest-layer gradient was on
# average larger, not smaller, than the top layer's (2.55 and 1.21 times in two three-seed runs; per seed from 0.47
# to 4.4). Those two runs differed only in rounding: with two CPU threads the token embedding's gradient was summed
# in an order that varied from run to run (since fixed), and that alone was enough to move these claims. The `cpu`
# profile therefore averages six seeds, not the spec's three. In two six-seed runs (before that fix), LCGD − GD was
# positive on average in SimAOU (+0.051 and +0.081, with four seeds of six positive each time) and in SimAM_Δ
# (+0.132 and +0.073), while the gradient ratio of claim 5a stayed above 1 (1.36 and 1.97). The first run after the
# fix (now repeatable bit for bit) gave SimAOU −0.017 (two seeds of six positive), SimAM_Δ +0.118 (all six
# positive) and 5a 1.71. So 4b held in all three six-seed runs and 4a in two of three: read them as tendencies, not
# rules, at this scale.
#
# For claims 4 and 5, depth is not what is missing, as far as a CPU can test it (for claim
# 3a, see the depth probe above). We ran the `cpu` profile with six layers instead of
# three (`-p n_layer 6`; 4 min 42 s). Claims 3a, 4a and 5a still failed: the controls' SimAOU was −0.005 and −0.038
# against the trained model's 0.206; LCGD − GD in SimAOU was −0.087, +0.027 and −0.032 for the three seeds; and the
# lowest layer's GD gradient was 4.9 times the top layer's. Claim 4b held narrowly (+0.023). In the six-layer heatmap
# the lowest layer is the exception: under GD its gradient grows with every demonstration, while the five layers
# above it stay within a factor of about two of one another.
# :::
#
# The `gpu` profile (eight layers, width 256, six task families, and six pretraining seeds as at `cpu`: it had
# three until December 2026, too few for effects that change sign between models) has not been run: no GPU has been
# available to us.
#
# *How we test claims 4 and 5 (changed in December 2026, before the runs that test them).* 4a and 4b asked for a mean
# LCGD − GD difference above 0 over the seeds; per-seed values change sign (in the history above, two to four seeds of
# six were positive), so six seeds decided the sign by luck. They now ask for the mean to lie more than one standard
# error above 0 ($t > 1$). 5a asked that GD's gradient norms decay toward the lower layers, which is our spec's
# expectation, not the paper's statement, and averaged over all fine-tuning steps, which mixes in the learning rate.
# It now states what the paper's text says (LCGD's norms exceed GD's), below the top layer, at the first fine-tuning
# step where both start from the same weights; GD's own layer profile is shown above, not claimed.
#
# *What the first `cpu` seeds under these criteria said (the record at commit `3ed7a91`, since renewed).* 5a and 5b
# held in every seed. 4a and 4b held in one seed of three: the six internal seeds' mean LCGD − GD difference was more than one standard
# error above 0 in seed 0, and within it (or below) in seeds 1 and 2. With the uncertainty stated, the paper's
# "LCGD is more similar to ICL" is not something our three-layer model shows, so 4a and 4b were at first left to
# `gpu` (six task families and wider models); raising the `cpu` profile's internal seeds would narrow the error bar
# but not move a mean that changes sign between runs. The studies below test both on the paper's own unit (per
# model) and on a ladder of three CPU scales toward the `gpu` model: neither reproduces at any scale we ran, and
# neither shows a trend toward the paper as the model grows (4a's small rise is within its noise, 4b drifts the
# other way). So the ledger no longer promises them at `gpu`: it expects them from `cpu` on. The renewed `cpu`
# record (every model retrained at today's code) shows again why one run's verdict is not the reading to trust: 4a
# holds in no seed and 4b in two of three, with the signs of both moving between seeds and between the two records;
# the per-model rate in *Studies* is the claim's verdict at this scale, and it fails.
#
# ## Where this chapter differs from the paper
#
# - **No language model.** No pretrained LLM can be downloaded here, so we train our own small GPT-style model on a
#   synthetic in-context label-mapping language instead of using a 1.3B model on SST-2, SST-5, MR, Subj, AGNews and
#   CB. Our "datasets" are task families of that language (one family at `ci` and `cpu`, six at `gpu`). The model
#   is tiny at `ci` and `cpu` (a few layers of width {glue:text}`width`), so absolute numbers are not comparable with
#   the paper's; the direction of each effect is what we test.
# - Demonstrations are {glue:text}`K_demos` rather than 32, so FT makes {glue:text}`K_demos` SGD steps.
# - SimAOU is computed on the attention output after the output projection (the sub-layer's output, as the spec
#   says), as one vector per layer, not per head; SimAM is per head and then averaged.
# - The fine-tuning learning rate is chosen per model (trained and each control) and seed on our grid, by FT
#   accuracy. The similarities (claims 3 and 4), Rec2FTP and the table's FT accuracy use the rate that did best on
#   the scored test episodes themselves, as Dai et al. chose it per dataset; claim 2b instead scores each half of the
#   episodes with the rate chosen on the other half (a held-out choice, see above).
# - At `ci` the model trains for a few hundred steps only, which is about when ICL emerges in this language, so it
#   is only partly an in-context learner. Of the claims about the trained model, 2a, 5a and 5b are meant to hold from
#   `cpu` on, where six internal seeds (the spec says three; see above for why six) each pretrain for the profile's
#   steps and learn in context (2a holds in every recorded `cpu` seed). 3c, 4a and 4b are expected from `cpu` on as
#   well: 3c fails there, 4a and 4b fail as a rate over models (a single seed's verdict changes sign from run to run),
#   and the study `ladder` found no trend toward the paper over three CPU scales toward `gpu`. 3a
#   alone is marked `gpu` in the ledger, because the ladder moved it toward the paper (for the reason given above).
# - Claim 3's "comparable" is a difference of at most 0.05 in layer-averaged SimAOU; claim 5a summarises the heatmap
#   by the smallest, over the layers below the top, of LCGD's gradient norm over GD's at the first fine-tuning step,
#   and 5b by the ratio of LCGD's lowest to its top layer's gradient norm.
#
# ## Studies: the comparison on the paper's statistical unit (December 2026)
#
# Bar Natan et al.'s spread is over demonstration seeds and orders of one fixed model; ours, above, is over
# pretraining seeds, whose model-to-model spread swamps an effect of the paper's size. The studies below take the
# paper's unit: per pretrained model, LCGD − GD over hundreds of episodes and demonstration orders with a paired
# test, and the claim becomes "more ICL-like in k of n models" (the paper: five of six datasets). They also read
# each layer's early exit (can LCGD's per-layer objectives mean anything here?), choose the similarity metrics'
# learning rate on held-out episodes, compare GD and LCGD at matched update sizes, and put claims 3a, 3c, 4a and
# 4b on a ladder of three CPU scales with the trend's direction fixed before any run
# (`iclbook/experiments/layer_causality_studies.py`, criteria committed before any member ran). A study not yet
# recorded says so, with the command that records it.

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show(ch, "per-model")
recorded_studies.show(ch, "per-model-aux-exit")
recorded_studies.show(ch, "ladder")
recorded_studies.show_trend(ch, "ladder", {
    "ctrl_minus_trained": "3a: best control − trained SimAOU", "depth_rise": "3c: random SimAOU, 4× depth − own",
    "d_aou": "4a: LCGD − GD, SimAOU", "d_am": "4b: LCGD − GD, SimAM_Δ"},
    ["n_layer", "n_embd", "n_embd", "steps"], label="n_embd")

# %% [markdown]
# :::{admonition} History, at commit `edaea26` (the members of the `per-model` record)
# *What the `per-model` study said when it was recorded: twelve models, member seeds 1000–1011, recorded on
# 2026-12-07; the table above is the record as it stands.*
#
# LCGD's update was more ICL-like than GD's (a one-sided paired test per model over 200 episodes × 3 demonstration
# orders) in 4 of 12 models on SimAOU (95 % Wilson interval 0.14–0.61) and in 7 of 12 on SimAM_Δ (0.32–0.81); at
# matched update size, in 2 of 12 and 6 of 12. The paper's five datasets of six correspond to a rate of at least
# five in six here, and neither metric comes near it: on the paper's own statistical unit, claims 4a and 4b do not
# reproduce at the `cpu` scale. The early-exit read-out says part of why: every layer below the top read the label
# out above chance (by 0.1) in 3 of 12 models only, so in most models LCGD's lower-layer objectives fit an exit that
# carries little label information. Claim 5a held in 12 of 12 models, also after dividing out the larger error
# signal of the early exits (12 of 12), while its control, a network whose exits equal its output, failed in every
# model, as a control must: LCGD's larger gradients below the top are the part of the paper's mechanism that
# reproduces here. The variant `per-model-aux-exit` asks whether models pretrained to be readable at every layer
# change the comparison.
# :::
#
# :::{admonition} History, at commit `ed8227b` (the members of the `per-model-aux-exit` record)
# *What the labelled variant said when it was recorded (2026-12-07): the same twelve member seeds, so each model has
# a twin in `per-model` with the same initialisation and batches, pretrained with an auxiliary loss on every layer's
# early exit.*
#
# The auxiliary loss did what it was for: every layer below the top read the label out in 12 of 12 models (3 of 12
# without it), and the models learned in context as well as their twins (ICL accuracy 0.90 against 0.91, zero-shot
# 0.44 in both). LCGD then looked more ICL-like than GD in 7 of 12 models on SimAOU (interval 0.32–0.81) and 8 of 12
# on SimAM_Δ (0.39–0.86); at matched update size in 5 and 6 of 12; 5a held in 11 of 12, its control in none. So
# unreadable lower layers explain part of the plain models' result (4 of 12 became 7 of 12), but with readable
# layers too the rate stays below the paper's five in six, and claims 4a and 4b do not reproduce at this scale as a
# rate over models. The ladder study asks whether the rate grows toward the `gpu` model.
# :::
#
# :::{admonition} History, at commit `dd0853b` (the members of the `ladder` record)
# *What the CPU ladder said when it was recorded (2026-12-07): four models at each of three scales, member seeds
# 2000–2003, from (2 layers, width 32, 1500 steps) through the `cpu` model (3, 64, 3000) to (4, 128, 6000); each
# trend a least-squares line against log₂ width, read at one-sided p < 0.05 in the direction fixed before any run.*
#
# - **3a rises, toward the paper, for a reason the paper does not give.** The best untrained control's SimAOU minus
#   the trained model's went from −0.13 (width 32) through −0.05 (64) to +0.15 (128) on average (slope +0.14 per
#   doubling, p 0.011), and at width 128 the control was comparable or above in 4 of 4 models (0 of 4 at width 32, 2
#   of 4 at 64). The controls did not rise (random 0.16, 0.07, 0.18; embedding 0.11, 0.10, 0.16); the trained
#   model's SimAOU fell (0.29, 0.17, 0.06), while its ICL accuracy stayed high (0.68, 0.94, 0.86; zero-shot 0.41).
#   So a larger model satisfies the criterion because its in-context computation resembles a GD update's attention
#   output less, not because random networks come to resemble it more: the measured trend supports 3a's verdict at
#   `gpu` but not the paper's reading of it (that SimAOU does not single out trained models, as it does not here).
# - **3c is flat.** Random models' SimAOU at four times the depth minus at the model's own: +0.08, +0.12, −0.00
#   (slope −0.04, p 0.18): at a larger width depth adds no similarity, so the ladder gives no support to 3c at `gpu`.
# - **4a and 4b are flat.** LCGD − GD per model in SimAOU: +0.06, +0.00, +0.17 (slope +0.05, p 0.15; LCGD more
#   ICL-like by its paired test in 2, 1 and 2 of 4 models); in SimAM_Δ: +0.12, +0.04, +0.02 (slope −0.05, p 0.12,
#   if anything away from the paper; 3 of 4 models at every scale). Over a fourfold width, twice the depth and four
#   times the steps neither comparison moves toward the paper's "LCGD is more ICL-like", so we report 4a and 4b as
#   not reproduced at any scale we can run, and the ledger expects them from `cpu` on, where their per-model rate
#   fails.
# :::
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

# %% tags=["remove-input", "render-only"]
from iclbook.evidence import studies as recorded_studies
recorded_studies.show_ledger(ch, ["per-model", "per-model-aux-exit", "ladder"])
