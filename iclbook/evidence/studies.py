"""Studies: one experiment of a chapter over many independent members, whose claims are rates.

Near a threshold a small model is bimodal (one seed memorises, the next generalises), so one run's verdict says
little. A study declares the points (the varied values), how many members each point gets, which values a member
keeps and which boolean counts as success; each point's rate is k of n with a 95 % Wilson interval, and its claims
are criteria over those rates, committed before the study runs. ``iclbook study CHAPTER NAME`` (``studies_run``)
trains the missing members and writes ``results/<slug>/study-<name>.json`` after each one, so a study can run over
several sittings and machines; a member from other code (another fingerprint) is refused, never merged.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from . import records
from .fingerprint import PROFILE_RULE

LEVEL = 0.95  # every interval of a study: a 95 % Wilson score interval


@dataclass(frozen=True)
class RateClaim:
    """A claim over a study's rates: ``evaluate(record)`` gives (value, holds)."""

    id: str
    kind: str  # "paper" | "extension" | "check"
    statement: str
    criterion: str  # the rule in words, as committed before the study ran
    evaluate: Callable[[dict], tuple[Any, bool]]


@dataclass(frozen=True)
class Study:
    """A declared experiment: the same member function at every point, ``members`` member seeds per point."""

    name: str  # file-name-safe
    chapter: str  # chapter id, e.g. "04"
    profile: str  # the profile whose parameters a member starts from
    points: tuple[dict, ...]  # the varied values, one plain-JSON dict per point
    members: int  # member seeds per point
    member: str  # "package.module:function", called as function(point=dict, seed=int, profile=str) -> dict
    keep: tuple[str, ...]  # the member values kept in the record
    success: str  # the boolean value counted as k at each point
    claims: tuple[RateClaim, ...] = ()
    first_seed: int = 1000  # member seeds: first_seed, first_seed + 1, … (the same at every point)
    description: str = ""

    def __post_init__(self):
        if not self.points or self.members < 1:
            raise ValueError(f"study {self.name!r}: needs at least one point and one member per point")
        if self.success not in self.keep:
            raise ValueError(f"study {self.name!r}: success value {self.success!r} is not among keep {self.keep}")

    def seeds(self, members: int | None = None) -> list[int]:
        return list(range(self.first_seed, self.first_seed + (members or self.members)))


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials (scipy.stats); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def point_key(point: dict) -> str:
    """A point as the table and the error messages name it."""
    return ", ".join(f"{k} = {v}" for k, v in point.items())


def new_record(study: Study, slug: str, title: str, fingerprint: str, depends_on: list[str]) -> dict:
    """An empty study record: the declaration's fields and its points with no member yet."""
    return {"study": study.name, "label": f"study: {study.name}", "chapter": study.chapter, "slug": slug,
            "title": title, "profile": study.profile, "overrides": {}, "description": study.description,
            "member": study.member, "keep": list(study.keep), "success": study.success,
            "first_seed": study.first_seed, "members_per_point": study.members,
            "points": [{"point": dict(pt), "members": {}, "k": 0, "n": 0, "interval": list(wilson(0, 0))}
                       for pt in study.points],
            "claims": [], "fingerprint": fingerprint, "fingerprint_of": PROFILE_RULE, "depends_on": list(depends_on),
            "commit": "", "recorded": "", "provenance": {}}


class StudyError(RuntimeError):
    """A member that cannot join a study honestly (other code, unknown point, missing values, a second copy)."""


def add_member(record: dict, study: Study, point: dict, seed: int, values: dict, provenance: dict) -> dict:
    """Add one finished member to ``record`` (in place) and recount its point and the claims.

    Refused: a member whose code fingerprint is not the record's (``provenance['fingerprint']``), a point the record
    does not hold, a value of ``keep`` the member did not return, and a seed the point already has."""
    if provenance.get("fingerprint") != record["fingerprint"]:
        raise StudyError(f"study {record['study']!r}: member {seed} at {point_key(point)} ran on other code "
                         f"(fingerprint {provenance.get('fingerprint')}, the record's {record['fingerprint']}); "
                         "members of different code are never merged: renew the whole study (--restart)")
    row = next((r for r in record["points"] if r["point"] == point), None)
    if row is None:
        raise StudyError(f"study {record['study']!r}: no point {point_key(point)} in the record")
    missing = [k for k in study.keep if k not in values]
    if missing:
        raise StudyError(f"study {record['study']!r}: member {seed} returned no {missing}")
    if str(seed) in row["members"]:
        raise StudyError(f"study {record['study']!r}: member {seed} at {point_key(point)} is already counted")
    row["members"][str(seed)] = {k: values[k] for k in study.keep}
    record["provenance"][f"{point_key(point)} | {seed}"] = provenance
    recount(record, study)
    record["recorded"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return record


def recount(record: dict, study: Study | None = None) -> None:
    """Each point's k, n and Wilson interval from its members, and the claims' verdicts (when ``study`` is given)."""
    for row in record["points"]:
        hits = [bool(m[record["success"]]) for m in row["members"].values()]
        row["k"], row["n"] = sum(hits), len(hits)
        row["interval"] = list(wilson(row["k"], row["n"]))
    if study is not None:
        record["claims"] = []
        for c in study.claims:
            value, holds = c.evaluate(record)
            record["claims"].append({"id": c.id, "kind": c.kind, "statement": c.statement,
                                     "criterion": c.criterion, "value": value, "holds": bool(holds)})


def rates(record: dict, x: str) -> list[tuple[Any, int, int, float, float]]:
    """(x value, k, n, interval low, high) per point, ordered by the point's value ``x``."""
    rows = sorted(record["points"], key=lambda r: r["point"][x])
    return [(r["point"][x], r["k"], r["n"], *r["interval"]) for r in rows]


def rate_rise(x: str, low_max: float, high_min: float, min_n: int) -> Callable[[dict], tuple[str, bool]]:
    """A criterion over the rate curve along ``x``: at the smallest x the rate is at most ``low_max``, at the largest
    at least ``high_min``, their Wilson intervals do not overlap, and both points have at least ``min_n`` members."""
    def evaluate(record: dict) -> tuple[str, bool]:
        curve = rates(record, x)
        (x0, k0, n0, _, hi0), (x1, k1, n1, lo1, _) = curve[0], curve[-1]
        value = f"{k0}/{n0} at {x} = {x0}, {k1}/{n1} at {x} = {x1}"
        if min(n0, n1) < min_n:
            return value + f" (fewer than {min_n} members)", False
        return value, k0 / n0 <= low_max and k1 / n1 >= high_min and hi0 < lo1
    return evaluate


def rate_at(x: str, end: str, key: str, at_least: float, min_n: int) -> Callable[[dict], tuple[str, bool]]:
    """A criterion at one end of the curve along ``x`` (``end`` "min" or "max"): the share of members whose boolean
    ``key`` is true is at least ``at_least``, over at least ``min_n`` members."""
    if end not in ("min", "max"):
        raise ValueError(f"rate_at: end must be 'min' or 'max', got {end!r}")

    def evaluate(record: dict) -> tuple[str, bool]:
        rows = sorted(record["points"], key=lambda r: r["point"][x])
        row = rows[0] if end == "min" else rows[-1]
        hits = [bool(m[key]) for m in row["members"].values()]
        k, n = sum(hits), len(hits)
        lo, hi = wilson(k, n)
        value = f"{k}/{n} [{lo:.2f}, {hi:.2f}] at {x} = {row['point'][x]}"
        return value, n >= min_n and k / n >= at_least
    return evaluate


def load(slug: str, name: str) -> dict | None:
    """The recorded study ``name`` of a chapter (``results/<slug>/study-<name>.json``), or None."""
    path = records.results_dir() / slug / f"study-{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def section(slug: str, name: str) -> str:
    """A recorded study as a chapter shows it (``markdown``), or how to record it when there is none yet."""
    record = load(slug, name)
    if record is None:
        return (f"*Study `{name}` not recorded yet: run `iclbook study {slug[:2]} {name}` from a clean tree and "
                "commit `results/" + slug + f"/study-{name}.json`.*")
    return markdown(record)


def show(ch, name: str, x: str | None = None) -> None:
    """Show a chapter's recorded study in its page (``ch`` is the chapter's ``ChapterRun``): the rate figure along
    ``x`` (when given and recorded), then the table and claims (``section``). For a render-only cell."""
    record = load(ch.chapter.slug, name)
    if record is not None and x is not None and any(r["n"] for r in record["points"]):
        ch.show(figure(record, x), f"study_{name}")
    ch.md(section(ch.chapter.slug, name))


def curve_summary(record: dict, x: str) -> str:
    """One paragraph that reads a rate curve off its record, for the place in a chapter where the curve stands beside
    a single run's result: the study, its commit and progress, then k of n with the 95 % interval at every ``x``."""
    done, total = progress(record)
    where = f"at commit `{record['commit'][:10]}`" if record["commit"] else "not committed"
    state = (f"{done} of {total} members recorded, so its claims are pending" if done < total
             else f"all {total} members") + (", **stale**: its code has changed since" if is_stale(record) else "")
    rows = "; ".join(f"{k} of {n} [{lo:.2f}, {hi:.2f}] at {x} = {xv}" for xv, k, n, lo, hi in rates(record, x))
    return (f"*Study `{record['study']}` {where} ({state}; member seeds from {record['first_seed']}): "
            f"P({record['success']}) = {rows}.*")


def show_curve(ch, name: str, x: str) -> None:
    """Show a recorded study's rate curve along ``x`` with ``curve_summary`` under it (or how to record it), without
    its table: for a render-only cell beside the single-run result the curve restates; ``show`` gives the table."""
    record = load(ch.chapter.slug, name)
    if record is None or not any(r["n"] for r in record["points"]):
        ch.md(section(ch.chapter.slug, name) if record is None else f"*Study `{name}`: no members recorded yet.*")
        return
    ch.show(figure(record, x), f"study_{name}_curve")
    ch.md(curve_summary(record, x))


def claims_summary(record: dict, ids: Sequence[str]) -> str:
    """One paragraph that reads some of a study's claims off its record, for the section of a chapter that discusses
    them: the study, its commit and progress, then each claim's verdict (pending while members are missing) and
    value, so that prose beside it needs no typed number."""
    done, total = progress(record)
    where = f"at commit `{record['commit'][:10]}`" if record["commit"] else "not committed"
    state = f"{done} of {total} members" + (", **stale**: its code has changed since" if is_stale(record) else "")
    by_id = {c["id"]: c for c in record["claims"]}
    parts = [f"claim {i} {verdict(record, by_id[i])}: {by_id[i]['value']}" for i in ids]
    return f"*Study `{record['study']}` {where} ({state}): " + "; ".join(parts) + ".*"


def show_claims(ch, name: str, ids: Sequence[str]) -> None:
    """Show ``claims_summary`` of a chapter's recorded study ``name`` (or how to record it). For a render-only cell."""
    record = load(ch.chapter.slug, name)
    ch.md(section(ch.chapter.slug, name) if record is None else claims_summary(record, ids))


def progress(record: dict) -> tuple[int, int]:
    """(members recorded, members declared): a study is complete when every point has its declared members (or as
    many as the most extended point, after ``--members``)."""
    per = max([record.get("members_per_point", 0), *(r["n"] for r in record["points"])])
    return sum(r["n"] for r in record["points"]), per * len(record["points"])


def verdict(record: dict, claim: dict) -> str:
    """"✓" / "✗" for a claim of a complete study; "pending" while members are missing, because a rate claim read off
    part of a study (say, "fewer than 6 members") is not yet its verdict."""
    done, total = progress(record)
    if done < total:
        return f"pending ({done} of {total} members)"
    return "✓" if claim["holds"] else "✗"


def ledger(slug: str, names: Sequence[str]) -> str:
    """The chapter's rate claims, read from its recorded studies (issue 33): one row per claim of every recorded
    study in ``names`` (paper claims first), each marked with the study, its commit, and *stale* when the code its
    members ran has changed since; a study not recorded yet is named with the command that records it. These
    verdicts are not the run's: they come from the record, so a render-only cell shows them under the ledger."""
    rows, missing = [], []
    for name in names:
        record = load(slug, name)
        if record is None:
            missing.append(f"`{name}` (`iclbook study {slug[:2]} {name}`)")
            continue
        where = f"`{name}` at `{record['commit'][:10]}`" + (" (**stale**)" if is_stale(record) else "")
        rows += [(c["kind"] != "paper", c["id"], c["statement"], c["kind"], c["criterion"], c["value"],
                  verdict(record, c), where) for c in record["claims"]]
    lines = ["**Rate claims, from the recorded studies** (each verdict is the record's, at the commit named; the "
             "ledger above is this run's):", ""]
    if rows:
        lines += ["| claim | statement | kind | criterion | value (k/n [95 % interval]) | holds | study |",
                  "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(map(str, r[1:])) + " |" for r in sorted(rows, key=lambda r: r[0])]
    else:
        lines.append("*None recorded yet.*")
    if missing:
        lines += ["", "Not recorded yet: " + ", ".join(missing) + "."]
    return "\n".join(lines)


def related(slug: str, claim_id: str) -> list[str]:
    """What the chapter's recorded studies say about ledger claim ``claim_id``: one short entry per rate claim whose id
    is ``f"{claim_id}-…"`` (e.g. ``4a-models``, ``4a-ladder`` for 4a), "✓"/"✗", its value up to the first bracketed
    detail, the study and *stale* where its code has changed. So a claim the ledger leaves to a larger profile shows,
    beside that expectation, what the studies measured at the scales we ran."""
    out = []
    for path in sorted((records.results_dir() / slug).glob("study-*.json")):
        record = json.loads(path.read_text())
        where = record["study"] + (", stale" if is_stale(record) else "")
        out += [f"{verdict(record, c).split(' (')[0]} {c['id']} {c['value'].split(' (')[0]} ({where})"
                for c in record["claims"] if c["id"].startswith(f"{claim_id}-")]
    return out


def show_ledger(ch, names: Sequence[str]) -> None:
    """Show ``ledger`` in a chapter's page (``ch`` is its ``ChapterRun``). For a render-only cell."""
    ch.md(ledger(ch.chapter.slug, names))


def is_stale(record: dict) -> bool:
    return records.is_stale(record)


def command(record: dict) -> str:
    return f"iclbook study {record['chapter']} {record['study']}"


def markdown(record: dict) -> str:
    """A study as the book shows it: provenance (with staleness), one row per point (k of n of the success value
    with its interval, then k of n of every other kept boolean, then the mean of each kept number), the claims."""
    pts = record["points"]
    n_all = sum(r["n"] for r in pts)
    walls = [p["wall_seconds"] for p in record["provenance"].values() if _trained(p)]
    cost = (f"; median {sorted(walls)[len(walls) // 2] / 60:.1f} min per member that trained, on "
            + " and ".join(machines(record)) + " (wall times compare only on one machine)") if walls else \
        "; every member read its models from the run store (its wall time is not what training costs)"
    head = (f"*Study `{record['study']}`* at `{record['profile']}`: {record['description']} {n_all} members over "
            f"{len(pts)} points, member seeds from {record['first_seed']}"
            + (f"; recorded {record['recorded']} at commit `{record['commit'][:10]}`" if record["commit"] else "")
            + f"{cost}.")
    done, total = progress(record)
    if done < total:
        head += f" **In progress: {done} of {total} members recorded; its claims are pending until it is complete.**"
    if record["commit"] and is_stale(record):
        head += (f" **Stale: recorded at commit `{record['commit'][:10]}`; the code its members ran has changed "
                 "since** (renew it with the command below and `--restart`).")
    members = [m for r in pts for m in r["members"].values()]
    bools = [k for k in record["keep"] if k != record["success"] and members and
             all(isinstance(m[k], bool) for m in members)]
    nums = [k for k in record["keep"] if k not in bools and k != record["success"] and members and
            all(isinstance(m[k], (int, float)) and not isinstance(m[k], bool) for m in members)]
    header = ["point", f"{record['success']}: k of n", "95 % interval", *(f"{b}: k of n" for b in bools),
              *(f"mean {v}" for v in nums), "min per member"]
    lines = [head, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in pts:
        ms = list(r["members"].values())
        lo, hi = r["interval"]
        cells = [point_key(r["point"]), f"{r['k']} of {r['n']}", f"[{lo:.2f}, {hi:.2f}]"]
        cells += [f"{sum(bool(m[b]) for m in ms)} of {len(ms)}" for b in bools]
        cells += [_mean([m[v] for m in ms]) for v in nums]
        cells.append(_point_cost(record, r))
        lines.append("| " + " | ".join(cells) + " |")
    if record["claims"]:
        lines += ["", "| claim | kind | criterion | value | holds |", "|---|---|---|---|---|"]
        lines += [f"| {c['id']}: {c['statement']} | {c['kind']} | {c['criterion']} | {c['value']} | "
                  f"{verdict(record, c)} |" for c in record["claims"]]
    lines += ["", f"Run or extend: `{command(record)}`"]
    return "\n".join(lines)


def _trained(prov: dict) -> bool:
    """A member that trained (rather than read its models from the run store), so that its wall time is a cost."""
    return bool(prov.get("wall_seconds")) and prov.get("trained_entries", 1) > 0


def median_seconds(record: dict, machine: str | None = None) -> dict[str, float]:
    """Median wall seconds per point (its ``point_key``) over the members that trained: a member read from the run
    store costs nothing, and counting it would make a point look cheap. With ``machine``, only the members whose
    provenance names that ``cpu_model`` ("?" where none is named): wall times compare only on one machine."""
    walls: dict[str, list[float]] = {}
    for key, prov in record["provenance"].items():
        if machine is not None and prov.get("cpu_model", "?") != machine:
            continue
        if _trained(prov):
            walls.setdefault(key.rsplit(" | ", 1)[0], []).append(prov["wall_seconds"])
    return {k: sorted(v)[len(v) // 2] for k, v in walls.items()}


def machines(record: dict) -> list[str]:
    """The ``cpu_model`` of every member that trained ("?" where its provenance names none), each once."""
    return sorted({p.get("cpu_model", "?") for p in record["provenance"].values()
                   if _trained(p)})


def _point_cost(record: dict, row: dict) -> str:
    """The median wall minutes of a point's members that trained, so that points (a recipe screen's recipes) compare
    on cost too."""
    seconds = median_seconds(record).get(point_key(row["point"]))
    return f"{seconds / 60:.1f}" if seconds else "–"


def _mean(xs: list) -> str:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return f"{sum(xs) / len(xs):.2f}" if xs else "–"


def figure(record: dict, x: str, label: str = ""):
    """The rate of the success value against ``x``, with its 95 % Wilson intervals as error bars."""
    import matplotlib.pyplot as plt

    curve = rates(record, x)
    xs = [c[0] for c in curve]
    rate = [c[1] / c[2] if c[2] else float("nan") for c in curve]
    err = [[r - c[3] for r, c in zip(rate, curve)], [c[4] - r for r, c in zip(rate, curve)]]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.errorbar(xs, rate, yerr=err, fmt="o-", capsize=4, label=label or f"study {record['study']}")
    for xv, r, c in zip(xs, rate, curve):
        ax.annotate(f"{c[1]}/{c[2]}", (xv, r), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set(xlabel=x, ylabel=f"P({record['success']}) (95 % Wilson interval)", ylim=(-0.05, 1.05))
    ax.legend(loc="upper left")
    return fig


def compute_of(record: dict, row: dict, member: dict, factors: Sequence[str]) -> float:
    """A member's training compute up to a constant: the product of ``factors``, each read from the member's kept
    values or else its point (e.g. ("n_params", "steps"), or ("n_layer", "n_embd", "n_embd", "steps"))."""
    out = 1.0
    for f in factors:
        v = member.get(f, row["point"].get(f))
        if v is None:
            raise KeyError(f"study {record['study']!r}: no {f!r} in a member or its point")
        out *= float(v)
    return out


def trend_figure(record: dict, keys: Sequence[str] | dict[str, str], factors: Sequence[str], label: str = "rung"):
    """A ladder study as a figure: for each kept number in ``keys`` (a list, or {key: panel title}), every member's
    value (dots) and each point's mean ± 1 standard error against training compute (``compute_of``, relative to the
    cheapest point, log₂ axis), each point labelled by its value ``label``, so that a trend toward or away from a
    paper's value is seen with its spread."""
    import matplotlib.pyplot as plt

    titles = dict(keys) if isinstance(keys, dict) else {k: k for k in keys}  # {key: panel title}
    keys = list(titles)
    pts = [r for r in record["points"] if r["members"]]
    base = min(compute_of(record, r, m, factors) for r in pts for m in r["members"].values())
    cols = min(4, len(keys))
    rows_n = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 2.8 * rows_n), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for r in pts:
            ms = [m for m in r["members"].values() if isinstance(m.get(key), (int, float)) and not (
                isinstance(m[key], float) and math.isnan(m[key]))]
            if not ms:
                continue
            xs = [compute_of(record, r, m, factors) / base for m in ms]
            ys = [float(m[key]) for m in ms]
            ax.scatter(xs, ys, s=12, alpha=0.5, color="tab:gray")
            mean = sum(ys) / len(ys)
            se = (sum((y - mean) ** 2 for y in ys) / (len(ys) - 1)) ** 0.5 / len(ys) ** 0.5 if len(ys) > 1 else 0.0
            x = sum(xs) / len(xs)
            ax.errorbar([x], [mean], yerr=[se], fmt="o", color="tab:blue", capsize=4)
            if label in r["point"]:
                text = r["point"][label] if label == "rung" else f"{label} {r['point'][label]}"
                ax.annotate(str(text), (x, mean), textcoords="offset points", xytext=(5, 5), fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set(xlabel="training compute (× the cheapest)", ylabel=key)
        ax.set_title(titles[key], fontsize=9)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(f"study {record['study']}: members (dots), mean ± 1 s.e. per point", fontsize=9)
    fig.tight_layout()
    return fig


def show_trend(ch, name: str, keys: Sequence[str] | dict[str, str], factors: Sequence[str],
               label: str = "rung") -> None:
    """``trend_figure`` of a chapter's recorded study in its page, when it has members. For a render-only cell."""
    record = load(ch.chapter.slug, name)
    if record is not None and any(r["n"] for r in record["points"]):
        ch.show(trend_figure(record, keys, factors, label), f"study_{name}_trend")
