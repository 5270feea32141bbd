"""The Train page's results of an ended run: the test-set evaluation (a clickable confusion matrix with the
images of the chosen cell, per-class table, most confident mistakes), what the network learned, how its
errors evolved over the epochs, and the downloads (model, metrics, run bundle) and bundle import.
Drawn by pages/train.py below the run it shows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from fmnist_core import bundle, charts, evaluate, insight
from fmnist_core.data import CLASS_NAMES
from fmnist_core.store import Run
from fmnist_core.text import md_escape
from pages._shared import dataset_or_stop, get_store, show_error

CELL_PARAM = "cell"  # ?cell=6,0: true class 6 predicted as 0
PER_PAGE = 16
GALLERY_COLS = 8


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


@st.cache_data(show_spinner=False, max_entries=16)
def _cell(run_id: int, finished: float | None, true_class: int, pred_class: int) -> pd.DataFrame:
    probs = get_store().load_test_probs(run_id)
    return insight.cell_images(dataset_or_stop().y_test, probs, true_class, pred_class)


def render_evaluation(run: Run) -> None:
    if getattr(run, "imported", 0):
        render_imported_summary(run)
        return
    ev = _evaluation(run.id, run.finished, run.test_accuracy)
    if ev is None:
        return
    st.subheader(f"Run #{run.id} on the 10,000 test images")
    norm = st.toggle("Normalise rows (recall per class)", True, key="train_cm_norm")
    event = st.plotly_chart(
        charts.confusion_matrix_figure(ev["cm"], CLASS_NAMES, normalize=norm, selectable=True),
        width="stretch",
        key=f"train_cm_chart_{st.session_state.get('train_cm_nonce', 0)}",  # a new key clears the selection
        on_select="rerun",
        selection_mode="points",
    )
    cell = chosen_cell(event)
    if cell is None:
        st.caption(
            ":material/touch_app: Click a cell to see its test images: off the diagonal, the mistakes "
            "(most confident first); on it, the correct answers the model was least sure of."
        )
    else:
        render_cell_gallery(run, cell, int(ev["cm"][cell]))
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
    render_error_evolution(run)
    render_inside(run)


# ------------------------------------------------------------------------------------ the clicked cell


def cell_from_selection(selection: dict | None) -> tuple[int, int] | None:
    """(true, predicted) of the clicked cell. Plotly cannot select heatmap cells, so the figure has a
    transparent marker per cell; Streamlit reports its x (predicted) and y (true) category names and its
    point_index (row * 10 + column)."""
    points = (selection or {}).get("points") or []
    if not points:
        return None
    pt = points[0]
    x, y = pt.get("x"), pt.get("y")
    if x in CLASS_NAMES and y in CLASS_NAMES:
        return CLASS_NAMES.index(y), CLASS_NAMES.index(x)
    idx = pt.get("point_index")
    if isinstance(idx, int) and 0 <= idx < len(CLASS_NAMES) ** 2:
        return divmod(idx, len(CLASS_NAMES))
    return None


def chosen_cell(event) -> tuple[int, int] | None:
    """The cell on screen: a new click wins and goes into the URL (`?cell=6,0`); otherwise the URL's."""
    selection = event.selection if event is not None and hasattr(event, "selection") else None
    picked = cell_from_selection(dict(selection) if selection is not None else None)
    if picked != st.session_state.get("train_cm_picked"):  # the user clicked (or cleared) a cell
        st.session_state["train_cm_picked"] = picked
        if picked is not None:
            st.query_params[CELL_PARAM] = f"{picked[0]},{picked[1]}"
        elif CELL_PARAM in st.query_params:
            del st.query_params[CELL_PARAM]
    return insight.parse_cell(st.query_params.get(CELL_PARAM))


def top3_caption(top3: list[tuple[int, float]]) -> str:
    return "  \n".join(f"{p:.0%} {CLASS_NAMES[c]}" for c, p in top3)


def render_cell_gallery(run: Run, cell: tuple[int, int], count: int) -> None:
    t, p = cell
    frame = _cell(run.id, run.finished, t, p)
    if t == p:
        head = f"**{CLASS_NAMES[t]}, correctly recognised** ({count:,} images): least confident first"
    else:
        head = f"**{CLASS_NAMES[t]} taken for {CLASS_NAMES[p]}** ({count:,} images): most confident first"
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.markdown(head + " · under each image, the model's top 3 probabilities")
    if c2.button("Clear", icon=":material/close:", key="train_cell_clear", width="stretch"):
        st.session_state["train_cm_picked"] = None
        st.session_state["train_cm_nonce"] = st.session_state.get("train_cm_nonce", 0) + 1
        st.query_params.pop(CELL_PARAM, None)
        st.rerun()
    if frame.empty:
        st.caption("No test images in this cell.")
        return
    pages = max(1, -(-len(frame) // PER_PAGE))
    page = 1
    if pages > 1:
        narrow, _ = st.columns([1, 4])
        page = int(
            narrow.number_input(
                f"Page (of {pages})",
                min_value=1,
                max_value=pages,
                value=1,
                step=1,
                key=f"train_cell_page_{t}_{p}",
            )
        )
    rows, page, _ = insight.page_of(frame, page, PER_PAGE)
    x_test = dataset_or_stop().x_test
    items = list(rows.itertuples())
    with st.container(key="train_cell_gallery"):
        for start in range(0, len(items), GALLERY_COLS):
            cols = st.columns(GALLERY_COLS)
            for col, row in zip(cols, items[start : start + GALLERY_COLS], strict=False):
                col.image(x_test[int(row.index)], width="stretch")
                col.caption(f"test #{int(row.index)}  \n" + top3_caption(row.top3))


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


# ------------------------------------------------------------------------------------ errors over the epochs


def render_error_evolution(run: Run) -> None:
    epochs, counts, seconds = get_store().epoch_confusions(run.id)
    if not epochs:
        return
    st.markdown("**How the errors evolved** (validation images, at the end of each epoch)")
    used = int(counts[-1].sum())
    i = 0
    if len(epochs) > 1:
        pick = st.select_slider("Epoch", options=epochs, value=epochs[-1], key=f"train_cm_epoch_{run.id}")
        i = epochs.index(pick)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(
        charts.confusion_matrix_figure(
            counts[i], CLASS_NAMES, normalize=True, title=f"After epoch {epochs[i]}"
        ),
        width="stretch",
        key="train_cm_epoch_chart",
    )
    c2.plotly_chart(
        charts.per_class_accuracy_figure(insight.per_class_accuracy(counts[i]), title="Accuracy per class"),
        width="stretch",
        key="train_cm_epoch_acc",
    )
    if np.isfinite(seconds).any() and run.seconds:
        st.caption(
            f"Counted on {used:,} validation images at the last epoch end; recording took "
            f"{np.nanmean(seconds):.2f} s an epoch against {run.seconds / max(run.epochs_done, 1):.1f} s of "
            "training. The pass is kept within about 10% of an epoch (a slow model counts fewer images); "
            "FMNIST_EPOCH_CONFUSION=all counts every image, =0 turns it off."
        )


# ------------------------------------------------------------------------------------ inside the network


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _model(run_id: int, finished: float | None):
    from fmnist_core.models_io import load_stored_model

    return load_stored_model(get_store(), run_id)  # our own file, by run id, safe_mode=True


def render_inside(run: Run) -> None:
    if not (run.model_path and os.path.exists(run.model_path)):
        return
    st.markdown("**What the network learned**")
    if not st.toggle("Look inside the network (loads the model)", False, key="train_inside"):
        return
    try:
        model = _model(run.id, run.finished)
    except Exception as exc:
        show_error("The model could not be loaded to look inside it.", exc)
        return
    first = insight.first_layer(model)
    if first is None:
        st.caption("This model has no dense or convolutional layer to show.")
        return
    kind, kernel = first
    if kind == "dense":
        images, units, norms = insight.dense_templates(kernel, top=16)
        st.plotly_chart(
            charts.weight_images_figure(images, [f"unit {u}" for u in units], cols=8),
            width="stretch",
            key="train_templates",
        )
        st.caption(
            f"The first dense layer's weights on the 784 pixels, drawn as 28×28 images: the 16 of its "
            f"{kernel.shape[1]} units with the largest weights. Red pixels push the unit up when they are bright, "
            "blue ones push it down, white ones do not matter: each unit is a template it matches the image against."
        )
        return
    filters = insight.conv_templates(kernel)
    st.plotly_chart(
        charts.weight_images_figure(filters, [f"f{i + 1}" for i in range(len(filters))], cols=8),
        width="stretch",
        key="train_templates",
    )
    st.caption(
        f"The first convolution's {len(filters)} filters, each 3×3: red weights respond to bright pixels, blue "
        "to dark ones. Side by side red and blue make edge detectors; all one colour, a blob or brightness detector."
    )
    render_feature_maps(model)


def render_feature_maps(model) -> None:
    x_test, y_test = dataset_or_stop().x_test, dataset_or_stop().y_test
    c1, c2 = st.columns([1, 5])
    idx = int(c1.number_input("Test image #", 0, len(x_test) - 1, step=1, key="train_fmap_image"))
    c1.image(x_test[idx], caption=f"true class: {CLASS_NAMES[int(y_test[idx])]}", width="stretch")
    with c2:
        for n, (caption, maps) in enumerate(insight.feature_maps(model, x_test[idx], per_layer=16)):
            st.plotly_chart(
                charts.feature_maps_figure(maps, cols=8, title=caption),
                width="stretch",
                key=f"train_fmap_{n}",
            )
    st.caption(
        "Feature maps: what each convolution layer outputs for this image (after its activation), the 16 "
        "strongest channels, each scaled to its own peak. Bright where the channel's pattern is present; later "
        "layers are smaller (after pooling) and respond to larger, more abstract parts."
    )


# ------------------------------------------------------------------------------------ imported runs


def render_imported_summary(run: Run) -> None:
    st.subheader(f"Run #{run.id} (imported)")
    st.caption(
        "Imported from a run bundle: its set-up, metrics and summary only. The model file was not "
        "imported (models from elsewhere are never loaded), so there is no per-image view here."
    )
    summary = get_store().imported_summary(run.id) or {}
    table = _imported_table(summary)
    if not table.empty:
        st.markdown("**Per class, as the bundle reports it**")
        st.dataframe(table, hide_index=True, width="stretch")
    vers = summary.get("versions")
    if isinstance(vers, dict):
        text = ", ".join(
            f"{md_escape(str(k))[:30]} {md_escape(str(v))[:30]}" for k, v in list(vers.items())[:6]
        )
        st.caption(
            f"Trained with {text}; dataset fingerprint `{md_escape(str(summary.get('dataset_fingerprint')))[:40]}`."
        )


def _imported_table(summary: dict) -> pd.DataFrame:
    """The per-class table of an imported summary, as numbers and text only (it came from a file)."""
    rows = summary.get("per_class") or []
    cols = ["class", "precision", "recall", "f1", "support"]
    table = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows if isinstance(r, dict)], columns=cols)
    for c in cols[1:]:
        table[c] = pd.to_numeric(table[c], errors="coerce")
    table["class"] = table["class"].astype(str)
    return table


# ------------------------------------------------------------------------------------ downloads and import


def _per_class(run: Run) -> pd.DataFrame | None:
    if getattr(run, "imported", 0):  # no test predictions here: pass on the table the bundle brought
        table = _imported_table(get_store().imported_summary(run.id) or {})
        return None if table.empty else table
    ev = _evaluation(run.id, run.finished, run.test_accuracy)
    return None if ev is None else ev["report"]


def render_downloads(run: Run, points: pd.DataFrame) -> None:
    c1, c2, c3 = st.columns(3)
    model_path = run.model_path if run.model_path and os.path.exists(run.model_path) else None
    if model_path:
        c1.download_button(
            "Model (.keras)",
            lambda: Path(model_path).read_bytes(),  # read on click, not on every rerun
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
    c3.download_button(
        "Download run",
        lambda: bundle.export_bundle(run, points, per_class=_per_class(run), model_path=model_path),
        icon=":material/folder_zip:",
        file_name=f"fmnist-run-{run.id}.zip",
        mime="application/zip",
        key="train_dl_bundle",
        help="One zip: config.json, metrics.csv, summary.json (final metrics, per-class table, versions, "
        "dataset fingerprint) and model.keras.",
    )


def render_import() -> int | None:
    """“Import run”: a bundle's config, metrics and summary become a run in the history, marked imported.
    Returns the new run's id once imported (the caller may open it), else None."""
    with st.expander("Import a run bundle", icon=":material/upload:"):
        st.caption(
            "A zip from “Download run”. Only its config.json, metrics.csv and summary.json are imported; "
            "a model.keras in it is **never opened or stored** (model files from elsewhere can run code)."
        )
        nonce = st.session_state.get("train_import_nonce", 0)
        up = st.file_uploader(
            "Run bundle (.zip)",
            type=["zip"],
            key=f"train_import_file_{nonce}",
            max_upload_size=bundle.MAX_BUNDLE_BYTES // 2**20,  # a big CNN's model.keras makes it > 5 MB
        )
        if up is None:
            return None
        if not st.button(
            "Import run", icon=":material/upload:", key=f"train_import_go_{nonce}", type="primary"
        ):
            return None
        try:
            run_id = bundle.import_bundle(get_store(), up.getvalue())
        except bundle.BundleError as exc:
            st.error(md_escape(str(exc)))
            return None
        except Exception as exc:
            show_error("The run bundle could not be imported.", exc)
            return None
        st.session_state["train_import_nonce"] = nonce + 1  # clears the uploader
        st.toast(f"Imported as run #{run_id}")
        return run_id


# ------------------------------------------------------------------------------------ other runs overlaid

OVERLAY_KEY = "train_overlay"
OVERLAY_LIMIT = 300  # newest runs offered for overlay


def overlay_name(run: Run, *, width: int = 40) -> str:
    """“#12 label (imported)”, plain text (a multiselect option, a legend name, a table cell), the label
    cut to `width` characters (legends in a half-width chart take about 20)."""
    label = " ".join(str(run.label or "").split())
    if len(label) > width:
        label = label[: width - 1] + "…"
    return (
        f"#{run.id}" + (f" {label}" if label else "") + (" (imported)" if getattr(run, "imported", 0) else "")
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _epoch_points(stamps: tuple[tuple[int, float | None], ...]) -> pd.DataFrame:
    # keyed on (run id, finish time) pairs: an ended run's points no longer change
    df = get_store().points_for([rid for rid, _ in stamps])
    return df[df["kind"] == "epoch"].reset_index(drop=True)


def overlay_table(runs: list[Run], points: pd.DataFrame) -> pd.DataFrame:
    """Run, best and last validation accuracy, test accuracy and epochs of each run, in order; the
    validation numbers from its epoch points when the run row has none."""
    rows = []
    for r in runs:
        val = points[points["run_id"] == r.id].sort_values("epoch", kind="stable")["val_accuracy"].dropna()
        rows.append(
            {
                "run": overlay_name(r, width=18),
                "best val acc": r.best_val_accuracy
                if r.best_val_accuracy is not None
                else (float(val.max()) if len(val) else None),
                "last val acc": r.last_val_accuracy
                if r.last_val_accuracy is not None
                else (float(val.iloc[-1]) if len(val) else None),
                "test acc": r.test_accuracy,
                "epochs": int(r.epochs_done or 0),
            }
        )
    table = pd.DataFrame(rows, columns=["run", "best val acc", "last val acc", "test acc", "epochs"])
    for c in ("best val acc", "last val acc", "test acc"):
        table[c] = pd.to_numeric(table[c], errors="coerce")
    return table


def render_overlay(run: Run) -> None:
    """“Overlay other runs”: other ended runs with epochs (imported ones too) drawn dashed on this run's
    validation accuracy and loss, and their numbers in a table beside this run's."""
    others = [
        r
        for r in get_store().runs(limit=OVERLAY_LIMIT)
        if r.id != run.id and not r.active and (r.epochs_done or 0) > 0
    ]
    if not others:
        return
    by_id = {r.id: r for r in others}
    chosen = st.session_state.get(OVERLAY_KEY)
    if chosen and any(rid not in by_id for rid in chosen):  # a run deleted, or the one now shown
        st.session_state[OVERLAY_KEY] = [rid for rid in chosen if rid in by_id]
    picked = st.multiselect(
        "Overlay other runs",
        list(by_id),
        format_func=lambda rid: overlay_name(by_id[rid]),
        key=OVERLAY_KEY,
        placeholder="Choose runs to compare with this one",
        help="Their validation accuracy and loss per epoch, dashed, on charts of this run's; imported runs "
        "included.",
    )
    if not picked:
        return
    runs = [run, *(by_id[rid] for rid in picked)]
    points = _epoch_points(tuple((r.id, r.finished) for r in runs))
    per_run = {
        overlay_name(r, width=18): points[points["run_id"] == r.id] for r in runs
    }  # "#id" keeps them apart
    current = (overlay_name(run, width=18), per_run.pop(overlay_name(run, width=18)))
    st.markdown("**Compared with other runs**")
    c1, c2 = st.columns(2)
    for col, metric, title in (
        (c1, "val_accuracy", "Validation accuracy"),
        (c2, "val_loss", "Validation loss"),
    ):
        col.plotly_chart(
            charts.overlay_figure(current, per_run, metric=metric, title=title),
            width="stretch",
            key=f"train_overlay_{metric}_{run.id}",
        )
    missing = [name for name, p in per_run.items() if p["val_accuracy"].dropna().empty]
    if missing:
        st.caption(md_escape(f"No validation points to draw for {', '.join(missing)}."))
    st.dataframe(
        overlay_table(runs, points),
        hide_index=True,
        width="stretch",
        key=f"train_overlay_table_{run.id}",
        column_config={
            "run": st.column_config.TextColumn(width=170, pinned=True),
            "best val acc": st.column_config.NumberColumn("best val", format="percent", width="small"),
            "last val acc": st.column_config.NumberColumn("last val", format="percent", width="small"),
            "test acc": st.column_config.NumberColumn("test", format="percent", width="small"),
            "epochs": st.column_config.NumberColumn(width=60),
        },
    )
    st.caption("This run is the solid line and the first row; the runs overlaid are dashed.")
