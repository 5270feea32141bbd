"""The fair race: reading a learning-rate sweep (pure functions of its runs table).

Each optimizer's best rate is chosen on validation (the mean over the selection seeds of the validation
accuracy of the weights each run kept); the comparison at those rates then runs on fresh seeds, disjoint
from the selection seeds, and is reported on the test set. Neither the seeds nor the images that chose a
rate judge it: reusing the selection runs would favour whichever optimizer's best rate was luckiest on
those seeds (selection bias). Sweeps saved before fresh seeds existed (`StudySpec.final_seeds == ()`)
still compare their own selection runs, and the page says so.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from fmnist_core.models import OPTIMIZERS
from fmnist_core.studies.readback import FINAL, SELECT
from fmnist_core.studies.spec import StudySpec, sweep_variant

SELECT_BY = "kept_val_accuracy"  # choose on validation...
REPORT_BY = "test"  # ...report on test (a summary prefix, see stats.METRICS)
FinalState = Literal["legacy", "waiting", "ready", "blocked", "scheduled"]


def selection_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that choose the rates (every run of a table without phases)."""
    return runs[runs["phase"] == SELECT] if "phase" in runs and len(runs) else runs


def final_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The final comparison's runs (fresh seeds at the chosen rates)."""
    return runs[runs["phase"] == FINAL] if "phase" in runs and len(runs) else runs.iloc[0:0]


def sweep_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (optimizer, learning rate), over the selection phase's finished runs: n, mean and sample sd of
    the kept weights' validation accuracy and of test accuracy, plus runs that failed (e.g. diverged at a
    high rate). Sorted by optimizer (first appearance) then rate."""
    cols = ["optimizer", "learning_rate", "n", "failed", "val_mean", "val_std", "test_mean", "test_std"]
    runs = selection_runs(runs)
    if not len(runs):
        return pd.DataFrame(columns=cols)
    select_by = SELECT_BY if SELECT_BY in runs else "last_val_accuracy"
    rows = []
    order = list(dict.fromkeys(runs["optimizer"]))
    for (opt, lr), g in runs.groupby(["optimizer", "learning_rate"], sort=False):
        done = g[g["status"] == "finished"]
        val, test = done[select_by].astype(float).dropna(), done["test_accuracy"].astype(float).dropna()
        rows.append(
            {
                "optimizer": opt,
                "learning_rate": float(lr),
                "n": len(val),
                "failed": int(g["status"].isin(("failed", "interrupted")).sum()),
                "val_mean": val.mean() if len(val) else float("nan"),
                "val_std": val.std(ddof=1) if len(val) >= 2 else float("nan"),
                "test_mean": test.mean() if len(test) else float("nan"),
                "test_std": test.std(ddof=1) if len(test) >= 2 else float("nan"),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out["_o"] = out["optimizer"].map({o: i for i, o in enumerate(order)})
    return out.sort_values(["_o", "learning_rate"]).drop(columns="_o").reset_index(drop=True)


def best_rates(runs: pd.DataFrame) -> dict[str, float]:
    """optimizer -> its best learning rate on validation, from the selection runs only. Only rates with as
    many finished seeds as the optimizer's best-covered rate compete (a lucky single seed does not beat
    three); ties go to the lower rate. Optimizers with no finished run are left out."""
    table = sweep_table(runs)
    out: dict[str, float] = {}
    for opt, g in table.groupby("optimizer", sort=False):
        g = g[(g["n"] > 0) & (g["n"] == g["n"].max())]
        if len(g):
            out[str(opt)] = float(
                g.sort_values(["val_mean", "learning_rate"], ascending=[False, True]).iloc[0]["learning_rate"]
            )
    return out


def comparison_runs(
    runs: pd.DataFrame, best: dict[str, float], *, reuse_selection: bool = False
) -> pd.DataFrame:
    """The final comparison as an optimizer study's runs table: each optimizer's runs at its best rate on
    the fresh seeds (variant is the optimizer, and the label says which rate it got: 'Adam (lr 0.003)').

    `reuse_selection=True` (sweeps saved before fresh seeds existed, or a table without phases) takes the
    selection runs at the best rates instead: biased towards the luckiest rate, and said so on the page."""
    if not len(runs) or not best:
        return runs.iloc[0:0]
    pool = selection_runs(runs) if reuse_selection or "phase" not in runs else final_runs(runs)
    at_best = [best.get(o) == lr for o, lr in zip(pool["optimizer"], pool["learning_rate"], strict=True)]
    pick = pool[at_best].copy()
    pick["variant"] = pick["optimizer"]
    pick["label"] = [
        f"{OPTIMIZERS[o].label if o in OPTIMIZERS else o} (lr {best[o]:g})" for o in pick["optimizer"]
    ]
    return pick.reset_index(drop=True)


def final_members(spec: StudySpec, best: dict[str, float]) -> list[tuple[str, int]]:
    """(variant, seed) of the final comparison: every optimizer with a best rate, on every fresh seed,
    seed-major like the selection runs (the first runs already cover every optimizer)."""
    return [
        (sweep_variant(opt, best[opt]), seed)
        for seed in spec.final_seeds
        for opt in spec.variants
        if opt in best
    ]


def final_state(spec: StudySpec, runs: pd.DataFrame, *, scheduled: bool) -> FinalState:
    """Where a sweep's final comparison stands:

    legacy     saved before fresh seeds: its comparison is the selection runs themselves
    scheduled  its runs are queued, training or done
    waiting    selection runs are still queued or training
    ready      every selection run ended finished or failed (a diverged rate is a result): start it
    blocked    some selection run was stopped or interrupted: the rates may be chosen on fewer seeds
               than planned, so it starts only when asked (or after the missing runs are trained)
    """
    if not spec.final_seeds:
        return "legacy"
    if scheduled:
        return "scheduled"
    select = selection_runs(runs)
    status = select["status"] if len(select) else pd.Series(dtype=str)
    if not len(select) or status.isin(("queued", "running")).any():
        return "waiting"
    if not best_rates(runs):
        return "blocked"
    return "ready" if status.isin(("finished", "failed")).all() else "blocked"
