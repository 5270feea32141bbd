"""The run history as a readable table (UI-free): no "None", epochs that follow the run."""

from __future__ import annotations

import pandas as pd

from fmnist_core.models import OPTIMIZERS


def history_table(runs: pd.DataFrame) -> pd.DataFrame:
    """`RunStore.runs_frame()` with missing values said in words: a default rate, all images."""
    if runs.empty:
        return runs
    df = runs.copy()

    def rate(row: pd.Series) -> str:
        lr = row.get("lr")
        if lr is None or pd.isna(lr):
            info = OPTIMIZERS.get(row.get("optimizer"))
            return f"default ({info.default_lr:g})" if info else "default"
        return f"{float(lr):g}"

    df["lr"] = df.apply(rate, axis=1)
    df["subset"] = [
        "all" if s is None or pd.isna(s) else f"{int(s):,}" for s in df.get("subset", [None] * len(df))
    ]
    df["label"] = df["label"].fillna("").astype(str)
    if "study" in df:
        df["study"] = df["study"].fillna("")
    return df
