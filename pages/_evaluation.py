"""The Train page's results of an ended run: the test-set evaluation (confusion matrix, per-class table,
most confident mistakes) and the downloads. Drawn by pages/train.py below the run it shows."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from fmnist_core import charts, evaluate
from fmnist_core.data import CLASS_NAMES
from fmnist_core.store import Run
from pages._shared import dataset_or_stop, get_store


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(run_id: int, finished: float | None, test_accuracy: float | None) -> dict | None:
    # keyed on (run id, finish time, test accuracy): a run's results never change once evaluated
    probs = get_store().load_test_probs(run_id)
    if probs is None:
        return None
    y = dataset_or_stop().y_test
    pred = probs.argmax(1)
    return {
        "cm": evaluate.confusion_matrix(y, pred),
        "report": evaluate.per_class_report(y, pred),
        "wrong": evaluate.misclassified(y, probs, k=24),
    }


def render_evaluation(run: Run) -> None:
    ev = _evaluation(run.id, run.finished, run.test_accuracy)
    if ev is None:
        return
    st.subheader(f"Run #{run.id} on the 10,000 test images")
    norm = st.toggle("Normalise rows (recall per class)", True, key="train_cm_norm")
    st.plotly_chart(
        charts.confusion_matrix_figure(ev["cm"], CLASS_NAMES, normalize=norm),
        width="stretch",
        key="train_cm_chart",
    )
    st.markdown(
        "**Per class** (precision: of the images called this class, the share that were; recall: of "
        "this class's images, the share found)"
    )
    st.dataframe(
        ev["report"],
        hide_index=True,
        width="stretch",
        column_config={
            "precision": st.column_config.NumberColumn(format="%.3f"),
            "recall": st.column_config.NumberColumn(format="%.3f"),
            "f1": st.column_config.ProgressColumn("F1", min_value=0.0, max_value=1.0, format="%.3f"),
        },
    )
    st.markdown("**Most confident mistakes** (true → predicted, confidence)")
    render_mistakes(ev["wrong"])


def render_mistakes(wrong: pd.DataFrame) -> None:
    x_test = dataset_or_stop().x_test
    rows = list(wrong.head(16).itertuples())
    for start in range(0, len(rows), 8):  # a row of columns per row of images: wrapped captions stay aligned
        cols = st.columns(8)
        for col, row in zip(cols, rows[start : start + 8], strict=False):
            col.image(
                x_test[int(row.index)],
                width="stretch",
                caption=f"{CLASS_NAMES[int(row.true)]} → {CLASS_NAMES[int(row.pred)]} ({row.confidence:.0%})",
            )


def render_downloads(run: Run, points: pd.DataFrame) -> None:
    c1, c2 = st.columns(2)
    if run.model_path and os.path.exists(run.model_path):
        path = run.model_path
        c1.download_button(
            "Model (.keras)",
            lambda: Path(path).read_bytes(),  # read on click, not on every rerun
            icon=":material/download:",
            file_name=f"fmnist-run-{run.id}.keras",
            mime="application/octet-stream",
            key="train_dl_model",
        )
    c2.download_button(
        "Metrics (CSV)",
        icon=":material/download:",
        data=points.to_csv(index=False).encode(),
        file_name=f"fmnist-run-{run.id}.csv",
        mime="text/csv",
        key="train_dl_csv",
    )
