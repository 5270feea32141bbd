"""Summary, paired statistics and the verdict of a study (pure functions of its runs table).

Runs with the same seed share initial weights and batch order across variants, so two variants are
compared seed by seed: the mean paired difference, a t interval and the paired t-test's p-value
(`scipy.stats.ttest_rel`), a bootstrap interval from 5 seeds on, and how many seeds would separate the
two at the observed difference and spread. Mean ± sample sd stays the description of each variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from fmnist_core.studies.spec import DEFAULT_TARGET, RANK_BY

ALPHA = 0.05  # two-sided; "distinguishable" means the 95% interval of the difference excludes 0
POWER = 0.8  # for "seeds needed": the usual 80% chance of separating a real difference of this size
MIN_BOOTSTRAP_SEEDS = 5
MAX_SEEDS_NEEDED = 1000
EXACT = 1e-12  # differences this small are rounding, not a spread

METRICS = {  # summary prefix -> runs-table column
    "val": "kept_val_accuracy",  # the weights each run kept (readback.kept_validation)
    "last_val": "last_val_accuracy",
    "best_val": "best_val_accuracy",
    "test": "test_accuracy",
    "epochs_to_target": "epochs_to_target",
    "sec_per_epoch": "seconds_per_epoch",
}
METRIC_TITLES = {
    "val": "validation accuracy of the weights kept",
    "last_val": "last-epoch validation accuracy",
    "best_val": "best-epoch validation accuracy",
    "test": "test accuracy",
    "epochs_to_target": "epochs to target",
    "sec_per_epoch": "seconds per epoch",
}


def mean_sd(mean: float, std: float, fmt: str = ".3f") -> str:
    """'0.874 ± 0.002' (sample sd), just the mean when the sd is unknown, '–' when there is no mean."""
    if mean is None or not np.isfinite(mean):
        return "–"
    return f"{mean:{fmt}} ± {std:{fmt}}" if std is not None and np.isfinite(std) else f"{mean:{fmt}}"


# -- per-variant summary ----------------------------------------------------------------------------


def summarize(runs_table: pd.DataFrame, *, rank_by: str = RANK_BY) -> pd.DataFrame:
    """Per variant, over its *finished* runs: mean, sample std (ddof=1; NaN with one run), min and max
    of each metric in METRICS, plus counts and a rank (1 = highest mean of `rank_by`).

    Columns: variant, label, runs (finished), total (all runs), reached (runs that hit the target),
    `{metric}_{mean,std,min,max}`, rank, best. Rows sorted by rank; variants with no finished run last.
    Epochs-to-target statistics cover the runs that reached it.
    """
    if rank_by not in METRICS:
        raise ValueError(f"rank_by must be one of {', '.join(METRICS)}")
    rows = []
    df = with_kept(runs_table)
    if "label" not in df:
        df = df.assign(label=df["variant"])
    for variant, g in df.groupby("variant", sort=False):
        done = g[g["status"] == "finished"]
        row: dict[str, Any] = {
            "variant": variant,
            "label": str(g["label"].iloc[0]),
            "runs": len(done),
            "total": len(g),
            "reached": int(done["epochs_to_target"].notna().sum()) if "epochs_to_target" in done else 0,
        }
        for prefix, col in METRICS.items():
            v = done[col].astype(float).dropna() if col in done else pd.Series(dtype=float)
            row[f"{prefix}_mean"] = v.mean() if len(v) else math.nan
            row[f"{prefix}_std"] = v.std(ddof=1) if len(v) >= 2 else math.nan
            row[f"{prefix}_min"] = v.min() if len(v) else math.nan
            row[f"{prefix}_max"] = v.max() if len(v) else math.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    if not len(out):
        out = pd.DataFrame(columns=["variant", "label", "runs", "total", "reached", "rank", "best"])
        out.attrs["rank_by"] = rank_by
        return out
    key = f"{rank_by}_mean"
    out["rank"] = out[key].rank(ascending=False, method="min").astype("Int64")
    out = out.sort_values(key, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    out["best"] = out["rank"].eq(1).fillna(False).astype(bool)
    out.attrs["rank_by"] = rank_by
    return out


# -- paired statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paired:
    """Variant a against variant b over the seeds both finished (differences a - b, as fractions)."""

    a: str  # display labels
    b: str
    n: int  # paired seeds
    diff: float  # mean paired difference
    sd: float  # sample sd of the differences (NaN with one seed)
    ci: tuple[float, float] | None  # 95% t interval of the mean difference
    p: float | None  # paired t-test, two-sided
    boot_ci: tuple[float, float] | None  # 95% bootstrap (BCa) interval, from 5 seeds on
    seeds_needed: int | None  # for an 80% chance of p < 0.05 at this difference and spread
    why: str = ""  # why there is no test, when there is none

    @property
    def decision(self) -> str:
        """'distinguishable', 'not distinguishable', 'identical' or 'no verdict'."""
        if self.n >= 2 and self.sd <= EXACT and abs(self.diff) <= EXACT:
            return "identical"
        if self.p is None:
            return "no verdict"
        return "distinguishable" if self.p < ALPHA else "not distinguishable"


def with_kept(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with a kept-weights validation accuracy: a table made without one (by hand, or before
    early stopping existed) kept its last epoch's weights."""
    if "kept_val_accuracy" in runs or "last_val_accuracy" not in runs:
        return runs
    return runs.assign(kept_val_accuracy=runs["last_val_accuracy"])


def paired_values(runs: pd.DataFrame, variant: str, column: str) -> pd.Series:
    """seed -> value of `column` over the variant's finished runs."""
    runs = with_kept(runs)
    g = runs[(runs["variant"] == variant) & (runs["status"] == "finished")]
    return g.set_index("seed")[column].astype(float).dropna()


def seeds_needed(diff: float, sd: float, *, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Paired seeds for the t-test to reach p < alpha with probability `power` when the true difference
    and spread are the observed ones (noncentral t). None when there is no difference to find;
    MAX_SEEDS_NEEDED + 1 for "more than that"."""
    if not (np.isfinite(diff) and np.isfinite(sd)) or abs(diff) <= EXACT:
        return None
    if sd <= EXACT:
        return 2
    d = abs(diff) / sd
    for n in range(2, MAX_SEEDS_NEEDED + 1):
        df = n - 1
        t_crit = sps.t.ppf(1 - alpha / 2, df)
        nc = d * math.sqrt(n)
        if sps.nct.sf(t_crit, df, nc) + sps.nct.cdf(-t_crit, df, nc) >= power:
            return n
    return MAX_SEEDS_NEEDED + 1


def paired_stats(a: pd.Series, b: pd.Series, *, a_label: str = "a", b_label: str = "b") -> Paired:
    """Compare two seed-indexed series on the seeds they share."""
    common = a.index.intersection(b.index)
    x, y = a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)
    n = len(common)
    d = x - y
    if n == 0:
        return Paired(a_label, b_label, 0, math.nan, math.nan, None, None, None, None, "no seed ran both")
    diff = float(d.mean())
    if n == 1:
        why = "with one paired seed the spread is unknown, so there is no interval and no p-value"
        return Paired(a_label, b_label, 1, diff, math.nan, None, None, None, None, why)
    sd = float(d.std(ddof=1))
    if sd <= EXACT:  # the same difference on every seed: the t statistic is undefined (0/0) or infinite
        p = 1.0 if abs(diff) <= EXACT else 0.0
        return Paired(a_label, b_label, n, diff, 0.0, (diff, diff), p, None, seeds_needed(diff, 0.0))
    res = sps.ttest_rel(x, y)
    ci = res.confidence_interval(confidence_level=1 - ALPHA)
    boot = None
    if n >= MIN_BOOTSTRAP_SEEDS:
        b_res = sps.bootstrap(
            (d,),
            np.mean,
            confidence_level=1 - ALPHA,
            n_resamples=9999,
            method="BCa",
            rng=np.random.default_rng(0),
        )
        lo, hi = float(b_res.confidence_interval.low), float(b_res.confidence_interval.high)
        boot = (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None
    return Paired(
        a_label,
        b_label,
        n,
        diff,
        sd,
        (float(ci.low), float(ci.high)),
        float(res.pvalue),
        boot,
        seeds_needed(diff, sd),
    )


def paired_vs_top(
    summary: pd.DataFrame, runs: pd.DataFrame, *, rank_by: str | None = None
) -> dict[str, Paired]:
    """variant -> the top variant against it (paired over seeds), for every other variant with runs."""
    rank_by = rank_by or summary.attrs.get("rank_by", RANK_BY)
    ranked = summary[summary["runs"] > 0] if len(summary) else summary
    if len(ranked) < 2:
        return {}
    column = METRICS[rank_by]
    top = ranked.iloc[0]
    a = paired_values(runs, top["variant"], column)
    return {
        r["variant"]: paired_stats(
            a, paired_values(runs, r["variant"], column), a_label=top["label"], b_label=r["label"]
        )
        for _, r in ranked.iloc[1:].iterrows()
    }


def _points(v: float) -> str:
    return f"{v * 100:.1f}".replace("-", "−")


def format_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def seeds_sentence(n: int | None) -> str:
    if n is None:
        return ""
    if n > MAX_SEEDS_NEEDED:
        return f"more than {MAX_SEEDS_NEEDED} seeds would be needed to separate them at this difference and spread"
    return f"about {n} paired seeds would separate them at this difference and spread (80% power)"


def paired_sentence(pr: Paired) -> str:
    """'Adam is ahead of RMSprop by 0.4 points (95% CI −0.3 to 1.1, p = 0.19, 3 paired seeds): not
    distinguishable; about 12 paired seeds would separate them …'."""
    if pr.n == 0:
        return f"{pr.a} and {pr.b} have no seed in common yet: nothing to pair."
    if pr.decision == "no verdict":
        return (
            f"{pr.a} is ahead of {pr.b} by {_points(pr.diff)} points on the one seed both ran: no verdict, "
            f"because {pr.why}. Run at least 2 seeds, better 3 or more."
        )
    if pr.decision == "identical":
        return f"{pr.a} and {pr.b} gave identical results on all {pr.n} paired seeds: no difference to find."
    lo, hi = pr.ci
    where = f"95% CI {_points(lo)} to {_points(hi)}, {format_p(pr.p)}, {pr.n} paired seeds"
    if pr.boot_ci is not None:
        where += f"; bootstrap {_points(pr.boot_ci[0])} to {_points(pr.boot_ci[1])}"
    s = f"{pr.a} is ahead of {pr.b} by {_points(pr.diff)} points ({where}): {pr.decision}"
    if pr.decision == "not distinguishable" and (more := seeds_sentence(pr.seeds_needed)):
        s += f"; {more}"
    return s + "."


# -- the verdict ------------------------------------------------------------------------------------


def _top_two(summary: pd.DataFrame, rank_by: str) -> tuple[pd.Series | None, pd.Series | None]:
    key = f"{rank_by}_mean"
    ranked = summary[summary["runs"] > 0] if len(summary) else summary
    ranked = ranked.sort_values(key, ascending=False, kind="stable") if len(ranked) else ranked
    return (ranked.iloc[0] if len(ranked) else None), (ranked.iloc[1] if len(ranked) > 1 else None)


def separation(summary: pd.DataFrame, runs: pd.DataFrame, *, rank_by: str | None = None) -> str:
    """How the top two variants compare, by the paired test: "separated" (p < 0.05), "within",
    "unknown" (one paired seed: no spread), or "none" (fewer than two variants with finished runs)."""
    rank_by = rank_by or summary.attrs.get("rank_by", RANK_BY)
    a, b = _top_two(summary, rank_by)
    if a is None or b is None:
        return "none"
    pr = paired_vs_top(summary, runs, rank_by=rank_by).get(b["variant"])
    if pr is None or pr.decision == "no verdict":
        return "unknown"
    return "separated" if pr.decision == "distinguishable" else "within"


def verdict(summary: pd.DataFrame, runs: pd.DataFrame, *, rank_by: str | None = None) -> str:
    """One plain sentence about the top two variants, from the paired test (see `paired_sentence`)."""
    rank_by = rank_by or summary.attrs.get("rank_by", RANK_BY)
    a, b = _top_two(summary, rank_by)
    if a is None:
        return "No run has finished yet: nothing to compare."
    if b is None:
        return f"Only {a['label']} has finished runs so far: nothing to compare it with yet."
    return paired_sentence(paired_vs_top(summary, runs, rank_by=rank_by)[b["variant"]])


def leaderboard_table(
    summary: pd.DataFrame, runs: pd.DataFrame | None = None, *, target: float = DEFAULT_TARGET
) -> pd.DataFrame:
    """The summary as display strings (mean ± sample sd, [min–max]) and, given the runs, the top
    variant against each other one: mean paired difference, 95% CI, p-value, seeds to separate.

    Columns: rank, variant, runs, the ranking metric and its min–max, the paired comparison, then the
    other metrics. "last val acc" appears beside "val acc" only where they differ (early stopping kept
    another epoch's weights) or when it is the ranking metric."""
    rank_by = summary.attrs.get("rank_by", RANK_BY)
    paired = paired_vs_top(summary, runs, rank_by=rank_by) if runs is not None and len(summary) else {}
    last_differs = _last_differs(summary)
    rows = []
    for _, r in summary.iterrows():
        reach = "–"
        if r["runs"]:
            reach = (
                mean_sd(r["epochs_to_target_mean"], r["epochs_to_target_std"], ".1f")
                if r["reached"]
                else "never"
            )
            if r["reached"] and r["reached"] < r["runs"]:
                reach += f" ({r['reached']}/{r['runs']} runs)"
        lo, hi = r.get(f"{rank_by}_min", math.nan), r.get(f"{rank_by}_max", math.nan)
        row = {
            "rank": "" if pd.isna(r["rank"]) else int(r["rank"]),
            "variant": r["label"],
            "runs": f"{r['runs']}/{r['total']}",
            "val acc": mean_sd(r.get("val_mean", math.nan), r.get("val_std", math.nan)),
            "last val acc": mean_sd(r["last_val_mean"], r["last_val_std"]),
            "min–max": f"{lo:.3f}–{hi:.3f}" if np.isfinite(lo) and rank_by in METRIC_LABELS else "–",
            "best val acc": mean_sd(r["best_val_mean"], r["best_val_std"]),
            "test acc": mean_sd(r["test_mean"], r["test_std"]),
            f"epochs to {target:.0%}": reach,
            "s / epoch": mean_sd(r["sec_per_epoch_mean"], r["sec_per_epoch_std"], ".2f"),
        }
        if runs is not None:
            row.update(_paired_cells(paired.get(r["variant"]), is_top=bool(r["best"]) and r["runs"] > 0))
        rows.append(row)
    out = pd.DataFrame(rows)
    if not len(out):
        return out
    ranked = METRIC_LABELS.get(rank_by, "val acc")
    if rank_by != "last_val" and not last_differs:
        out = out.drop(columns="last val acc")  # the same numbers as "val acc" in every row
    # The ranking metric and its range, then the paired comparison with the top, then the rest
    first = ["rank", "variant", "runs", ranked, "min–max"]
    paired_cols = ["top ahead by (points)", "95% CI", "p", "seeds to separate"]
    order = first + [c for c in paired_cols if c in out] + [c for c in out if c not in first + paired_cols]
    return out[order]


METRIC_LABELS = {"val": "val acc", "last_val": "last val acc", "best_val": "best val acc", "test": "test acc"}


def _last_differs(summary: pd.DataFrame) -> bool:
    """Whether some variant's kept-weights validation accuracy differs from its last epoch's."""
    if not len(summary) or "val_mean" not in summary:
        return False
    a, b = summary["val_mean"].to_numpy(float), summary["last_val_mean"].to_numpy(float)
    both = np.isfinite(a) & np.isfinite(b)
    return bool((np.abs(a[both] - b[both]) > EXACT).any())


def _paired_cells(pr: Paired | None, *, is_top: bool) -> dict[str, str]:
    blank = "(top)" if is_top else "–"
    if pr is None or pr.n == 0:
        return {"top ahead by (points)": blank, "95% CI": "", "p": "", "seeds to separate": ""}
    cells = {"top ahead by (points)": _points(pr.diff), "95% CI": "", "p": "", "seeds to separate": ""}
    if pr.ci is not None:
        cells["95% CI"] = f"{_points(pr.ci[0])} to {_points(pr.ci[1])}"
        if pr.boot_ci is not None:
            cells["95% CI"] += f" (bootstrap {_points(pr.boot_ci[0])} to {_points(pr.boot_ci[1])})"
        cells["p"] = format_p(pr.p).removeprefix("p = ").replace("p ", "")
    else:
        cells["p"] = "1 seed: none"
    if pr.decision == "not distinguishable" and pr.seeds_needed is not None:
        cells["seeds to separate"] = (
            f">{MAX_SEEDS_NEEDED}" if pr.seeds_needed > MAX_SEEDS_NEEDED else f"~{pr.seeds_needed}"
        )
    elif pr.decision in ("distinguishable", "identical"):
        cells["seeds to separate"] = pr.decision
    return cells
