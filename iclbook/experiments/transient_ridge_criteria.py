"""Chapter 2's criteria over a study record (issue 34): rates pooled over members, trends along the scale ladder,
and rates among the known cases of the LLC check. The studies that use them, and why each threshold, are declared in
``transient_ridge_studies``, which passes each reader its thresholds; only the trend tests' level and the 4c cap
live here, beside the readers that use them."""
from __future__ import annotations

import math
from typing import Callable

from ..evidence.studies import wilson

P_TREND = 0.05  # one-sided
CPU_STEPS = 32000
GAP_CAP = math.log2(64)  # 4c: an infinite gap (no crossing or no onset) counts as the grid's whole span, log₂(64/1)


def pooled_rate(key: str, at_least: float, min_n: int, pools: tuple[int, ...] | None = None
                ) -> Callable[[dict], tuple[str, bool]]:
    """The share of members (over every point, or the points whose ``pool_seed`` is in ``pools``) whose boolean
    ``key`` is true is at least ``at_least``, over at least ``min_n`` members; the value names k/n and its interval."""
    def evaluate(record: dict) -> tuple[str, bool]:
        rows = [r for r in record["points"] if pools is None or r["point"]["pool_seed"] in pools]
        hits = [bool(m[key]) for r in rows for m in r["members"].values()]
        k, n = sum(hits), len(hits)
        lo, hi = wilson(k, n)
        return f"{k}/{n} [{lo:.2f}, {hi:.2f}]", n >= min_n and k / n >= at_least
    return evaluate


def every_point(key: str, min_each: int) -> Callable[[dict], tuple[str, bool]]:
    """Every point has at least one member whose ``key`` is true, and at least ``min_each`` members."""
    def evaluate(record: dict) -> tuple[str, bool]:
        counts = [(r["point"]["pool_seed"], sum(bool(m[key]) for m in r["members"].values()), len(r["members"]))
                  for r in record["points"]]
        value = ", ".join(f"pool {p}: {k}/{n}" for p, k, n in counts)
        return value, all(k >= 1 and n >= min_each for _, k, n in counts)
    return evaluate


def _values(record: dict, rung: str, key: str) -> list[float]:
    row = next(r for r in record["points"] if r["point"]["rung"] == rung)
    vals = [float(m[key]) for m in row["members"].values()]
    vals = [GAP_CAP if math.isinf(v) else v for v in vals]
    return [v for v in vals if not math.isnan(v)]


def _read(slope_sign: float, p_two: float, paper_sign: int) -> str:
    """'toward' / 'away' (one-sided p < P_TREND in the paper's direction or against it) or 'flat'."""
    if not math.isfinite(p_two) or slope_sign == 0 or p_two / 2 >= P_TREND:
        return "flat"
    return "toward" if (slope_sign > 0) == (paper_sign > 0) else "away"


def step_trend(key: str, paper_sign: int, min_each: int = 3) -> Callable[[dict], tuple[str, bool]]:
    """Along the step rungs (½×, 1×, 2×, width 64): the least-squares slope of the value on log₂(steps) over every
    member, read 'toward' / 'flat' / 'away' from the paper's side (``paper_sign`` +1: larger is the paper's side);
    holds when 'toward'. Booleans count as 0/1; an infinite 4c gap counts as ``GAP_CAP``; nan is left out."""
    def evaluate(record: dict) -> tuple[str, bool]:
        from scipy.stats import linregress

        xs, ys, ns = [], [], []
        for rung, steps in (("steps ½×", CPU_STEPS // 2), ("steps 1×", CPU_STEPS), ("steps 2×", 2 * CPU_STEPS)):
            v = _values(record, rung, key)
            xs += [math.log2(steps)] * len(v)
            ys += v
            ns.append(len(v))
        if min(ns) < min_each or len(set(ys)) < 2:
            reading, slope, p = ("too few members" if min(ns) < min_each else "flat"), 0.0, math.nan
        else:
            fit = linregress(xs, ys)
            slope, p = float(fit.slope), float(fit.pvalue)
            reading = _read(slope, p, paper_sign)
        return f"{reading}: slope {slope:+.3g} per doubling of steps (p two-sided {p:.2g}; n = {ns})", reading == "toward"
    return evaluate


def width_trend(key: str, paper_sign: int, min_each: int = 3) -> Callable[[dict], tuple[str, bool]]:
    """Width 128 against width 64 at the `cpu` steps: Welch's t-test on the members' values, read as ``step_trend``."""
    def evaluate(record: dict) -> tuple[str, bool]:
        from scipy.stats import ttest_ind

        a, b = _values(record, "steps 1×", key), _values(record, "width 2×", key)
        if min(len(a), len(b)) < min_each:
            return f"too few members (n = {len(a)}, {len(b)})", False
        diff = sum(b) / len(b) - sum(a) / len(a)
        p = float(ttest_ind(b, a, equal_var=False).pvalue) if len(set(a + b)) > 1 else math.nan
        reading = _read(diff, p, paper_sign)
        return f"{reading}: mean {diff:+.3g} at twice the width (Welch p two-sided {p:.2g})", reading == "toward"
    return evaluate


def among_known(key: str, at_least: float = 2 / 3, min_known: int = 2) -> Callable[[dict], tuple[str, bool]]:
    """Over the members whose distilled networks are all their targets (``known``), the share whose boolean ``key``
    is true is at least ``at_least``, over at least ``min_known`` of them; a failed distillation is no known case."""
    def evaluate(record: dict) -> tuple[str, bool]:
        ms = [m for r in record["points"] for m in r["members"].values()]
        hits = [bool(m[key]) for m in ms if m["known"]]
        k, n = sum(hits), len(hits)
        lo, hi = wilson(k, n)
        return f"{k}/{n} known cases [{lo:.2f}, {hi:.2f}] ({len(ms) - n} of {len(ms)} members not known)", \
            n >= min_known and k / n >= at_least
    return evaluate
