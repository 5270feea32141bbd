"""The fair race: reading a learning-rate sweep (pure functions of its runs table).

Each optimizer's best rate is chosen on validation (the mean over seeds of last-epoch validation
accuracy); the comparison at those rates is then reported on the test set, which played no part in the
choice. The comparison's runs are the sweep's own runs at the chosen rates: the same configs and seeds,
so they are reused, never trained twice.
"""

from __future__ import annotations

import pandas as pd

from fmnist_core.models import OPTIMIZERS

SELECT_BY = "last_val_accuracy"  # choose on validation...
REPORT_BY = "test"  # ...report on test (a summary prefix, see stats.METRICS)


def sweep_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (optimizer, learning rate), over finished runs: n, mean and sample sd of last-epoch
    validation accuracy and of test accuracy, plus runs that failed (e.g. diverged at a high rate).
    Sorted by optimizer (first appearance) then rate."""
    cols = ["optimizer", "learning_rate", "n", "failed", "val_mean", "val_std", "test_mean", "test_std"]
    if not len(runs):
        return pd.DataFrame(columns=cols)
    rows = []
    order = list(dict.fromkeys(runs["optimizer"]))
    for (opt, lr), g in runs.groupby(["optimizer", "learning_rate"], sort=False):
        done = g[g["status"] == "finished"]
        val, test = done[SELECT_BY].astype(float).dropna(), done["test_accuracy"].astype(float).dropna()
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
    """optimizer -> its best learning rate on validation. Only rates with as many finished seeds as the
    optimizer's best-covered rate compete (a lucky single seed does not beat three); ties go to the lower
    rate. Optimizers with no finished run are left out."""
    table = sweep_table(runs)
    out: dict[str, float] = {}
    for opt, g in table.groupby("optimizer", sort=False):
        g = g[(g["n"] > 0) & (g["n"] == g["n"].max())]
        if len(g):
            out[str(opt)] = float(
                g.sort_values(["val_mean", "learning_rate"], ascending=[False, True]).iloc[0]["learning_rate"]
            )
    return out


def comparison_runs(runs: pd.DataFrame, best: dict[str, float]) -> pd.DataFrame:
    """The sweep's runs at each optimizer's best rate, as an optimizer study's runs table: variant is the
    optimizer, and the label says which rate it got ('Adam (lr 0.003)')."""
    if not len(runs) or not best:
        return runs.iloc[0:0]
    pick = runs[[best.get(o) == lr for o, lr in zip(runs["optimizer"], runs["learning_rate"], strict=True)]]
    pick = pick.copy()
    pick["variant"] = pick["optimizer"]
    pick["label"] = [
        f"{OPTIMIZERS[o].label if o in OPTIMIZERS else o} (lr {best[o]:g})" for o in pick["optimizer"]
    ]
    return pick.reset_index(drop=True)
