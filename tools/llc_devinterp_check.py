"""Cross-check iclbook's LLC estimator against the `devinterp` package on one chapter-2 model.

Trains (or reads from the run store) the chapter-2 `ci` sweep, takes one member (M = ∞ by default) as a single model,
and estimates its LLC twice with the same ε, γ, nβ, chains, draws and minibatch size: with
`iclbook.analysis.llc.estimate_llc` and with `devinterp.slt.llc.llc` (devinterp ≥ 2). Both use the SGLD update
Δw = ε/2 (−nβ ∇ℓ_b − γ (w − w*)) + N(0, ε). They differ in how ℓ_n(w*) is estimated (iclbook: paired, on the same
minibatch; devinterp: the mean over `num_init_loss_batches` batches at w*), so the two agree within their chain-to-chain
standard errors, not exactly. devinterp is not a dependency of iclbook (it pulls in datasets, transformers, xarray,
zarr, …): `.venv/bin/pip install devinterp` first.

    ICLBOOK_THREADS=1 .venv/bin/python tools/llc_devinterp_check.py [--M inf] [--chains 4] [--draws 300]
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from iclbook.analysis.llc import SGLDConfig, estimate_llc  # noqa: E402
from iclbook.chapters import get  # noqa: E402
from iclbook.models.gpt import GPT  # noqa: E402
from iclbook.models.regression_tokens import get_format  # noqa: E402
from iclbook import rng  # noqa: E402
from iclbook.runtime import set_threads  # noqa: E402
from iclbook.store import Store  # noqa: E402
from iclbook.experiments.transient_ridge import SweepConfig, m_label, make_probes, train_sweep  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--M", default="inf", help="which member of the ci sweep (an M of the ci profile, or inf)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--n", type=int, default=4096)
    args = ap.parse_args()
    try:
        from datasets import Dataset
        from devinterp.slt.llc import llc as devinterp_llc
    except ImportError as e:
        print(f"devinterp is not installed ({e}). It is not an iclbook dependency; to run this cross-check:\n"
              "  .venv/bin/pip install devinterp")
        return
    set_threads()
    P = get("02").params.resolve("ci")
    cfg = SweepConfig.from_params(P)
    dev = torch.device("cpu")
    runs = train_sweep(cfg, Store(), dev, make_probes(cfg, dev), batched=True, desc="ci sweep")
    key = m_label(math.inf if args.M == "inf" else int(args.M))
    r = runs[key]
    model = GPT(cfg.gpt(1))
    model.load_state_dict(r.model.member_state_dict(r.member))

    x, y, _ = cfg.task().sample_ensemble([r.M], args.n, rng.generator("eval", cfg.seed, 2, device=dev), dev)
    x, y = x[0], y[0]
    make, read, _, _ = get_format(cfg.tokens)

    def per_seq_loss(m, idx):  # (b,) MSE of each sequence, as trained
        return ((read(m(make(x[idx], y[idx])[None]))[0] - y[idx]) ** 2).mean(-1)

    sg = SGLDConfig(eps=P.llc_eps, gamma=P.llc_gamma, nbeta=P.llc_nbeta, chains=args.chains, burn_in=0,
                    draws=args.draws, batch_size=P.llc_batch, seed=1)
    ours = estimate_llc(model, lambda m, idx: per_seq_loss(m, idx).mean(), args.n, sg)

    ds = Dataset.from_dict({"input_ids": [[i, i] for i in range(args.n)]}).with_format("torch")

    def dv_loss(m, input_ids):  # devinterp's per-token loss (batch, seq − 1): one "token" per sequence here
        return per_seq_loss(m, input_ids[:, 0].long())[:, None]

    out = devinterp_llc(model, ds, {}, lr=sg.eps, n_beta=sg.nbeta, localization=sg.gamma, num_chains=sg.chains,
                        num_draws=sg.draws, batch_size=sg.batch_size, num_burnin_steps=0, loss_fn=dv_loss,
                        device="cpu")
    dv_chains = np.asarray(out["llc_per_chain"].values, dtype=float)
    dv_mean, dv_se = dv_chains.mean(), dv_chains.std(ddof=1) / math.sqrt(len(dv_chains))
    print(f"chapter-2 ci model, M = {key}: ε = {sg.eps:g}, γ = {sg.gamma:g}, nβ = {sg.nbeta:g}, "
          f"{sg.chains} chains × {sg.draws} draws, batch {sg.batch_size}, n = {args.n}")
    print(f"  iclbook   λ̂ = {ours.llc[0]:.2f} ± {ours.llc_se[0]:.2f}  (chains {np.round(ours.llc_chains[:, 0], 2)})")
    print(f"  devinterp λ̂ = {dv_mean:.2f} ± {dv_se:.2f}  (chains {np.round(dv_chains, 2)})")
    z = (ours.llc[0] - dv_mean) / math.sqrt(ours.llc_se[0] ** 2 + dv_se**2 + 1e-12)
    print(f"  difference = {ours.llc[0] - dv_mean:+.2f} ({z:+.1f} combined s.e.)")


if __name__ == "__main__":
    main()
