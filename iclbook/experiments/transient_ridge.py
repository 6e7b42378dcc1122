"""A sweep over task-pool sizes M (Raventós et al. 2023; Carroll et al. 2025): train, evaluate at checkpoints, LLC.

One call trains a GPT for every M. ``batched=True`` trains all M as one ensemble (member e on pool M_e: one bmm
per layer, the fast path on a GPU); ``batched=False`` trains them one after another (E = 1 each). At every checkpoint
the ``evaluate`` callback measures, on fixed probe sets drawn with evaluation-only seeds:
  - ``ood``: MSE/D on fresh Gaussian tasks; ``id``: MSE/D on the member's own pool;
  - ``d_ridge``, ``d_dmmse``: Δ = mean squared prediction difference / D to ridge and to dMMSE_M, on the OOD set;
  - ``probe``: the predictions on B sequences of the root task t₁ (one row of the joint trajectory PCA).
Everything lands in the run store with the run, so re-rendering the chapter does not retrain.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from .. import baselines, rng
from ..analysis.llc import LLCResult, SGLDConfig, SGLDDiverged, estimate_llc
from ..analysis.transient import threshold_between
from ..models.gpt import GPT, GPTConfig
from ..models.regression_tokens import get_format
from ..store import Store
from ..tasks.regression import RegressionTask, _is_inf
from ..train import OptimConfig, TrainResult, checkpoint_steps, train



@dataclass(frozen=True)
class SweepConfig:
    """One task-diversity sweep; ``Ms`` may contain math.inf (a fresh task for every sequence)."""

    Ms: tuple  # task-pool sizes M
    D: int = 4  # input dimension
    K: int = 8  # context length (pairs per sequence)
    sigma2: float = 0.125  # σ²: label noise
    tokens: str = "pair"  # "pair" ([x_k, x_{k−1}, y_{k−1}]) | "interleaved" ([0, x_k], [y_k, 0…0])
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 2
    mlp_ratio: int = 4
    steps: int = 3000
    batch: int = 64  # sequences per step and member
    lr: float = 3e-3  # peak Adam learning rate
    schedule: str = "warmup_constant"  # or "triangle" (Carroll et al.)
    warmup: float = 0.05  # fraction of the steps
    seed: int = 0
    pool_seed: int = 0  # the fixed task sequence t₁, t₂, … (nested pools)
    n_eval: int = 256  # OOD / ID evaluation sequences
    n_probe: int = 64  # root-task probe sequences (PCA rows have n_probe·K entries)
    n_linear: int = 20  # linear checkpoints
    n_log: int = 15  # log-spaced checkpoints

    @classmethod
    def from_params(cls, P) -> "SweepConfig":
        """The sweep of chapter 2's resolved parameters: its finite Ms plus M = ∞."""
        names = [f for f in cls.__dataclass_fields__ if f != "Ms"]
        return cls(Ms=tuple(P.Ms) + (math.inf,), **{f: getattr(P, f) for f in names})

    def task(self) -> RegressionTask:
        return RegressionTask(d=self.D, K=self.K, sigma2=self.sigma2, pool_seed=self.pool_seed)

    def gpt(self, E: int) -> GPTConfig:
        _, _, width, length = get_format(self.tokens)
        return GPTConfig(n_layer=self.n_layer, n_embd=self.n_embd, n_head=self.n_head, mlp_ratio=self.mlp_ratio,
                         block_size=length(self.K), d_in=width(self.D), d_out=1, n_models=E)

    def plain(self) -> dict:
        """JSON-able form for the store key (inf → "inf")."""
        d = asdict(self)
        d["Ms"] = [_m_str(m) for m in self.Ms]
        return d


def _m_str(M) -> str | int:
    return "inf" if _is_inf(M) else int(M)


def m_label(M) -> str:
    """'∞' or the integer, for tables and legends."""
    return "∞" if _is_inf(M) else str(int(M))


@dataclass
class ProbeSets:
    """Fixed evaluation data and the baselines' predictions on it (computed once per sweep)."""

    x_ood: Tensor  # (B, K, D) fresh tasks
    y_ood: Tensor
    x_probe: Tensor  # (B_p, K, D) root task t₁
    y_probe: Tensor
    ridge_ood: Tensor  # (B, K)
    ridge_probe: Tensor  # (B_p, K)
    dmmse_ood: dict = field(default_factory=dict)  # m_label(M) → (B, K); '∞' → ridge (the Bayes predictor there)
    dmmse_probe: dict = field(default_factory=dict)
    id_sets: dict = field(default_factory=dict)  # M → (x, y) from the pool

    def dmmse_to_ridge(self, M) -> float:
        """Δ(dMMSE_M, ridge) on the OOD set (mean squared prediction difference / D): claim 1c's scale."""
        D = self.x_ood.shape[-1]
        return float(((self.dmmse_ood[m_label(M)] - self.ridge_ood) ** 2).mean() / D)

    def baseline_losses(self, M) -> dict:
        """OOD MSE/D of ridge and of dMMSE_M."""
        D = self.x_ood.shape[-1]
        return {"ridge": float(((self.ridge_ood - self.y_ood) ** 2).mean() / D),
                "dmmse": float(((self.dmmse_ood[m_label(M)] - self.y_ood) ** 2).mean() / D)}

    def references(self, finite: list[str]) -> dict[str, np.ndarray]:
        """The predictions of ridge and of each finite M's dMMSE_M on the probe set, flattened, as the trajectory
        PCA projects them ("ridge", "dmmse <M>")."""
        return {"ridge": self.ridge_probe.reshape(-1).cpu().numpy(),
                **{f"dmmse {k}": self.dmmse_probe[k].reshape(-1).cpu().numpy() for k in finite}}


def make_probes(cfg: SweepConfig, device) -> ProbeSets:
    """The OOD set, the t₁ probe set, the ID sets and both baselines on them, all from evaluation-only seeds."""
    task = cfg.task()
    x, y, _ = task.sample_fresh(cfg.n_eval, rng.generator("eval", cfg.seed, 0, device=device), device)
    gp = rng.generator("eval", cfg.seed, 1, device=device)
    xp = torch.randn(cfg.n_probe, cfg.K, cfg.D, generator=gp, device=device)
    t1 = task.pool(1, device=device)[0]
    yp = xp @ t1 + torch.randn(cfg.n_probe, cfg.K, generator=gp, device=device) * math.sqrt(cfg.sigma2)
    P = ProbeSets(x, y, xp, yp, baselines.ridge_predictions(x, y, cfg.sigma2),
                  baselines.ridge_predictions(xp, yp, cfg.sigma2))
    for i, M in enumerate(cfg.Ms):
        key = m_label(M)
        if _is_inf(M):
            P.dmmse_ood[key], P.dmmse_probe[key] = P.ridge_ood, P.ridge_probe
            P.id_sets[key] = (x, y)
        else:
            pool = task.pool(int(M), device=device)
            P.dmmse_ood[key] = baselines.dmmse_predictions(x, y, pool, cfg.sigma2)
            P.dmmse_probe[key] = baselines.dmmse_predictions(xp, yp, pool, cfg.sigma2)
            xi, yi, _ = task.sample_ensemble([M], cfg.n_eval, rng.generator("eval", cfg.seed, 10 + i, device=device), device)
            P.id_sets[key] = (xi[0], yi[0])
    return P


def predict(model: GPT, x: Tensor, y: Tensor, tokens: str) -> Tensor:
    """Model predictions (E, B, K) for x (E, B, K, D) or (B, K, D) shared by all members."""
    make, read, _, _ = get_format(tokens)
    E = model.cfg.n_models
    if x.ndim == 3:
        x, y = x.expand(E, *x.shape), y.expand(E, *y.shape)
    return read(model(make(x, y)))


def make_evaluate(cfg: SweepConfig, group: list, P: ProbeSets):
    """The checkpoint callback for one ensemble whose member e trains on pool ``group[e]``."""
    keys = [m_label(M) for M in group]
    D = cfg.D
    dmmse = torch.stack([P.dmmse_ood[k] for k in keys])  # (E, B, K)
    x_id = torch.stack([P.id_sets[k][0] for k in keys])
    y_id = torch.stack([P.id_sets[k][1] for k in keys])

    def evaluate(model: GPT, step: int) -> dict:
        pred = predict(model, P.x_ood, P.y_ood, cfg.tokens)
        pred_id = predict(model, x_id, y_id, cfg.tokens)
        probe = predict(model, P.x_probe, P.y_probe, cfg.tokens)
        return {"ood": ((pred - P.y_ood) ** 2).mean((1, 2)) / D,
                "id": ((pred_id - y_id) ** 2).mean((1, 2)) / D,
                "d_ridge": ((pred - P.ridge_ood) ** 2).mean((1, 2)) / D,
                "d_dmmse": ((pred - dmmse) ** 2).mean((1, 2)) / D,
                "probe": probe.reshape(len(group), -1)}
    return evaluate


def make_loss(cfg: SweepConfig, group: list, device):
    """Training loss: per-member MSE over all K predictions; the batch is a pure function of (seed, step)."""
    task = cfg.task()
    make, read, _, _ = get_format(cfg.tokens)

    def loss_fn(model: GPT, step: int) -> Tensor:
        x, y, _ = task.sample_ensemble(group, cfg.batch, rng.generator("batch", cfg.seed, step, device=device), device)
        return ((read(model(make(x, y))) - y) ** 2).mean((1, 2))
    return loss_fn


@dataclass
class MemberRun:
    """One M's share of a sweep."""

    M: float | int
    steps: np.ndarray  # checkpoint steps
    evals: dict  # key → (n_checkpoints, …) array
    losses: np.ndarray  # (steps,) training loss
    model: GPT  # the group's trained ensemble
    member: int  # this M's index in ``model``


def train_sweep(cfg: SweepConfig, store: Store, device, P: ProbeSets, batched: bool = True,
                desc: str = "M sweep") -> dict:
    """Train every M of ``cfg.Ms`` (one ensemble, or one after another); return {m_label(M): MemberRun}."""
    groups = [list(cfg.Ms)] if batched else [[M] for M in cfg.Ms]
    out = {}
    for group in groups:
        E = len(group)
        model = GPT(cfg.gpt(E), generator=rng.generator("init", cfg.seed)).to(device)
        run = store.run("ch02-sweep", {**cfg.plain(), "group": [_m_str(M) for M in group]})
        opt = OptimConfig("adam", lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup)
        res: TrainResult = train(model, make_loss(cfg, group, device), cfg.steps, opt, run=run,
                                 checkpoints=checkpoint_steps(cfg.steps, cfg.n_linear, cfg.n_log),
                                 evaluate=make_evaluate(cfg, group, P),
                                 desc=f"{desc} M={','.join(m_label(M) for M in group)}")
        steps = np.array([e["step"] for e in res.evals])
        for e, M in enumerate(group):
            # one-member values were stored as plain floats: reshape every value to (E, …) before picking member e
            ev = {k: np.stack([np.asarray(row[k]).reshape(E, -1)[e] for row in res.evals]).squeeze(-1)
                  if k != "probe" else np.stack([np.asarray(row[k]).reshape(E, -1)[e] for row in res.evals])
                  for k in ("ood", "id", "d_ridge", "d_dmmse", "probe")}
            losses = res.losses[:, e] if res.losses.ndim == 2 else res.losses
            out[m_label(M)] = MemberRun(M, steps, ev, losses, model, e)
    return out


LLC_EPS_GRID = (3e-3, 1e-3, 3e-4, 1e-4, 3e-5)  # SGLD step sizes tried, largest first, when none is given


def calibrated_llc(cfg: SweepConfig, runs: dict, store: Store, sgld: SGLDConfig, n: int,
                   eps_grid: tuple = LLC_EPS_GRID) -> tuple[dict, SGLDConfig]:
    """λ̂ of every model at one SGLD step size for the whole sweep: the largest ε of ``eps_grid`` at which every
    chain of every M stays finite, so that λ̂ compares across M. Returns ({m_label: result}, ``sgld`` at that ε).

    The rule looks only at finiteness, never at the chains' drift, which a claim checks separately. If even the
    smallest ε diverges for some M, those M are "not estimated" (λ̂ = nan, ``diverged`` True) at that ε, and the
    others keep their values."""
    grid = sorted({float(e) for e in eps_grid}, reverse=True)
    if not grid or grid[-1] <= 0:
        raise ValueError(f"calibrated_llc: eps_grid must hold positive step sizes, got {eps_grid}")
    for eps in grid:
        out = sweep_llc(cfg, runs, store, replace(sgld, eps=eps), n, on_divergence="mark",
                        key_extra={"eps_grid": grid})
        if not any(r["diverged"] for r in out.values()):
            return out, replace(sgld, eps=eps)
    return out, replace(sgld, eps=grid[-1])


def sweep_llc(cfg: SweepConfig, runs: dict, store: Store, sgld: SGLDConfig, n: int, on_divergence: str = "raise",
              key_extra: dict | None = None) -> dict:
    """λ̂ of every trained model at its final weights, on n sequences of its own training distribution (cached).

    A diverged chain raises ``SGLDDiverged`` naming the M (``on_divergence="raise"``), or marks that ensemble's
    diverged members ``diverged`` with λ̂ = nan (``"mark"``; the outcome is cached too)."""
    if on_divergence not in ("raise", "mark"):
        raise ValueError(f"on_divergence {on_divergence!r}: allowed 'raise', 'mark'")
    out = {}
    models = {}
    for key, r in runs.items():
        models.setdefault(id(r.model), (r.model, []))[1].append(key)
    for model, keys in models.values():
        group = [runs[k].M for k in keys]
        device = next(model.parameters()).device
        run = store.run("ch02-llc", {**cfg.plain(), "group": [_m_str(M) for M in group], "sgld": asdict(sgld), "n": n,
                                     **(key_extra or {})})

        def compute() -> dict:  # called at once, inside this iteration
            x, y, _ = cfg.task().sample_ensemble(group, n, rng.generator("eval", cfg.seed, 2, device=device), device)
            make, read, _, _ = get_format(cfg.tokens)
            if [runs[k].member for k in keys] != list(range(len(keys))):
                raise RuntimeError("sweep_llc: an ensemble's members are not in the order of its M values")

            def batch_loss(m: GPT, idx: Tensor) -> Tensor:
                return ((read(m(make(x[:, idx], y[:, idx]))) - y[:, idx]) ** 2).mean((1, 2))

            try:
                res = estimate_llc(model, batch_loss, n, sgld, allow_divergence=on_divergence == "mark")
            except SGLDDiverged as err:  # name the M and the chapter's parameters, not ensemble indices
                Ms = ", ".join(m_label(group[e]) for e in err.members)
                raise SGLDDiverged(err.members, f"the LLC's SGLD chains diverged for M = {Ms} at llc_eps = "
                                   f"{sgld.eps:g}: lower llc_eps or raise llc_gamma (the same for every M), or set "
                                   "llc_eps = 0 to calibrate it") from err
            return {"llc_chains": torch.from_numpy(res.llc_chains), "loss_trace": torch.from_numpy(res.loss_trace),
                    "init_trace": torch.from_numpy(res.init_trace), "burn_in": res.burn_in}
        cached = run.cached("llc.pt", compute)
        res = LLCResult(cached["llc_chains"].numpy(), cached["loss_trace"].numpy(), cached["init_trace"].numpy(),
                        int(cached["burn_in"]))
        for e, key in enumerate(keys):
            diverged = not np.isfinite(res.loss_trace[:, :, e]).all()
            out[key] = {"llc": math.nan if diverged else float(res.llc[e]),
                        "se": math.nan if diverged else float(res.llc_se[e]), "chains": res.llc_chains[:, e],
                        "trace": res.loss_trace[:, :, e], "init": res.init_trace[:, :, e], "burn_in": res.burn_in,
                        "diverged": diverged, "eps": sgld.eps}
    return out

# -- what the ledger reads -------------------------------------------------------------------------------------------
def threshold_M(final: dict, finite: list[str], x_of: dict, ridge_loss: float,
                dmmse_top: float) -> tuple[float, dict[str, bool]]:
    """The task-diversity threshold M* (claim 1e): between the last M whose final model ends on the dMMSE side and the
    first that ends on the ridge side, over the finite M *and* ∞; nan if the sides interleave or one is empty.

    A finite M is on the ridge side when its model is closer to ridge than to dMMSE_M. For ∞ there is no dMMSE_∞
    (it is ridge), so ∞ is on the ridge side when its OOD loss lies nearer ridge's than the largest finite pool's
    dMMSE loss ``dmmse_top``. Until December 2026 ∞'s side was never looked at: with every finite M on the dMMSE side
    M* was put between the largest M and ∞ whatever ∞ did, so the claim could not fail."""
    ridge_side = {k: final[k]["d_ridge"] < final[k]["d_dmmse"] for k in finite}
    ood = final["∞"]["ood"]
    ridge_side["∞"] = ood - ridge_loss < dmmse_top - ood
    order = [*finite, "∞"]
    return threshold_between([x_of[k] for k in order], [ridge_side[k] for k in order]), ridge_side


def on_ridge_side(run: MemberRun, early: int) -> np.ndarray:
    """Per checkpoint from step ``early`` on (the first steps predict ≈ 0): is the model closer to ridge than to
    dMMSE_M?"""
    keep = run.steps >= early
    return run.evals["d_ridge"][keep] < run.evals["d_dmmse"][keep]


def pca_geometry(pca_out: tuple, keys: list[str], finite: list[str]) -> dict:
    """Claims 3a and 3c from a joint trajectory PCA (``joint_trajectory_pca``'s (pca, curves, proj)): the
    components that separate ridge from every dMMSE_M point, and per finite M whether it ends nearer its dMMSE_M
    point than ridge. (Claim 3b reads the full probe space: ``detour_toward_ridge``.)"""
    _, curves, proj = pca_out
    ridge_pt, dm_pts = proj["ridge"], np.stack([proj[f"dmmse {k}"] for k in finite])
    dist_r = {k: np.linalg.norm(curves[k] - ridge_pt, axis=1) for k in keys}
    return {"separating": [c for c in range(2) if ridge_pt[c] > dm_pts[:, c].max() or ridge_pt[c] < dm_pts[:, c].min()],
            "end_near": {k: bool(np.linalg.norm(curves[k][-1] - proj[f"dmmse {k}"]) < dist_r[k][-1]) for k in finite}}


def llc_geometry(llc: dict, keys: list[str], finite: list[str], ridge_side: dict, transient: dict, x_of: dict,
                 burn_in: int, nbeta: float, draws: int) -> dict:
    """Claims 4a–4d from the LLC sweep: Kendall's τ between M and λ̂ over every dMMSE-side M (claim 4a; nan with
    fewer than three), the z-score of λ̂ between the smallest and largest dMMSE-side M (a, b), the
    relative spread of λ̂ over the ridge-side models, where λ̂ first reaches λ̂(∞) against where the transient
    starts (|log₂| of their ratio; nan if any chain diverged), and each M's drift between the first and second
    half of its draws (× nβ)."""
    lam, se = {k: llc[k]["llc"] for k in keys}, {k: llc[k]["se"] for k in keys}
    dm_side, r_side = [k for k in finite if not ridge_side[k]], [k for k in finite if ridge_side[k]] + ["∞"]
    if len(dm_side) >= 2:
        a, b = dm_side[0], dm_side[-1]
        z = (lam[b] - lam[a]) / math.sqrt(se[a] ** 2 + se[b] ** 2 + 1e-12)
    else:
        a = b = dm_side[0] if dm_side else "none"
        z = math.nan
    tau = kendall_tau([x_of[k] for k in dm_side], [lam[k] for k in dm_side]) if len(dm_side) >= 3 else math.nan
    spread = ((max(lam[k] for k in r_side) - min(lam[k] for k in r_side)) / np.mean([lam[k] for k in r_side])
              if len(r_side) >= 2 else math.nan)  # needs two ridge-side models
    diverged = any(llc[k]["diverged"] for k in keys)
    cross = math.nan if diverged else next((x_of[k] for k in finite if lam[k] >= lam["∞"]), math.inf)
    onset = next((x_of[k] for k in finite if transient[k]), math.inf)
    gap = abs(math.log2(cross / onset)) if math.isfinite(cross) and math.isfinite(onset) else math.inf
    half = draws // 2

    def drift(k: str) -> float:
        d = llc[k]["trace"][:, burn_in:] - llc[k]["init"][:, burn_in:]
        return float(abs(d[:, half:].mean() - d[:, :half].mean()) * nbeta)

    return {"lam": lam, "a": a, "b": b, "z": z, "tau": tau, "r_side": r_side, "spread": float(spread), "cross": cross,
            "onset": onset, "gap": math.nan if diverged else gap, "drift": {k: drift(k) for k in keys}}


def llc_ratio(lam: dict, se: dict, keys: list[str], ref: str = "∞") -> dict[str, tuple[float, float]]:
    """λ̂(M)/λ̂(ref) and its standard error by the delta method, r·√((s_M/λ_M)² + (s_ref/λ_ref)²), the chains of
    two M being independent (the reference's own ratio is 1 with no error). Claim 4c's figure: the crossing of 1
    against the transient's onset."""
    out = {}
    for k in keys:
        r = lam[k] / lam[ref]
        out[k] = (r, 0.0 if k == ref else abs(r) * math.hypot(se[k] / lam[k], se[ref] / lam[ref]))
    return out


def kendall_tau(x, y) -> float:
    """Kendall's rank correlation (τ-a): concordant minus discordant pairs over all pairs; 1 for a rising sequence.

    Claim 4a reads it over every dMMSE-side M, where the end points alone hid a λ̂ that fell in between."""
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) * np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    return float(s / (n * (n - 1) / 2)) if n >= 2 else math.nan


def detour_toward_ridge(traj: np.ndarray, steps: np.ndarray, ridge: np.ndarray, dmmse: np.ndarray,
                        early: int) -> float:
    """Claim 3b in the full probe space (no PCA): how far toward ridge the trajectory went beyond where it ends.

    With c(f) = ⟨f − dMMSE_M, ridge − dMMSE_M⟩ / ‖ridge − dMMSE_M‖² (0 at dMMSE_M, 1 at ridge), the value is the
    largest c over the checkpoints from step ``early`` on that were on ridge's side (c > 1/2: closer to ridge than
    to dMMSE_M) and within ‖ridge − dMMSE_M‖ of ridge, minus c at the end (0 if there were none). Normalised by the ridge–dMMSE_M distance as claim 2a is by its loss gap, so it does not
    blow up when M ends near the boundary; the first steps, where a near-zero predictor can project anywhere, and
    checkpoints far from both baselines do not count."""
    axis = ridge - dmmse
    scale = float(axis @ axis)
    c = (traj - dmmse) @ axis / scale
    near_ridge = np.linalg.norm(traj - ridge, axis=1) < math.sqrt(scale)
    keep = (steps >= early) & near_ridge & (c > 0.5)
    return float(max(c[keep].max() - c[-1], 0.0)) if keep.any() else 0.0


def trade_off_points(slug: str) -> list[tuple[str, float, float]]:
    """Claims 1d and 2b per pilot: the history file's rows (``results/<slug>/history/1d-vs-2b.json``) and every
    recorded run of the chapter at `cpu`, one point per seed."""
    import json

    from .. import records

    path = records.results_dir() / slug / "history" / "1d-vs-2b.json"
    points = [(f"{r['setting']} (history)", r["claim_1d"], r["claim_2b"])
              for r in (json.loads(path.read_text())["rows"] if path.exists() else [])]
    for rec in records.load_all(slug):
        rows = {c["id"]: c["per_seed"] for c in rec["claims"]}
        if rec["profile"] != "cpu" or "1d" not in rows or "2b" not in rows:
            continue
        for s in rec["seeds"]:
            a, b = rows["1d"].get(str(s)), rows["2b"].get(str(s))
            if a and b:
                points.append((f"{rec['label'] or 'cpu profile'}, seed {s}", a["value"], b["value"]))
    return points
