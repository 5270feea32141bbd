"""Train: configure a network, start/stop it, watch it learn live, inspect the results.

Training runs in the job runner's worker process; this page only writes requests to the
run store and reads points back, so reruns, page switches and reloads lose nothing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from fmnist_core import charts, evaluate
from fmnist_core.data import CLASS_NAMES
from fmnist_core.models import ACTIVATIONS, OPTIMIZERS, PRESET_INFO, PRESETS, ModelSpec, describe, param_count
from fmnist_core.progress import format_seconds, n_train_images, run_progress
from fmnist_core.store import ACTIVE, Run
from fmnist_core.training import LIMITS, TrainConfig
from pages._shared import dataset_or_stop, get_runner, get_store

STATUS_BADGE = {
    "queued": (":material/schedule:", "gray"),
    "running": (":material/directions_run:", "blue"),
    "finished": (":material/check_circle:", "green"),
    "stopped": (":material/stop_circle:", "orange"),
    "failed": (":material/error:", "red"),
    "interrupted": (":material/warning:", "orange"),
}
BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]


def _parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError as exc:
        raise ValueError(f"{what}: write whole numbers separated by commas, e.g. 128, 64") from exc


def _parse_floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError as exc:
        raise ValueError(f"{what}: write numbers separated by commas, e.g. 0.5, 0.2") from exc


def model_ui() -> ModelSpec:
    """Preset or custom architecture; raises ValueError with a readable reason for a bad one."""
    names = [*PRESETS, "custom"]
    preset = st.selectbox(
        "Model",
        names,
        key="train_preset",
        format_func=lambda n: PRESET_INFO[n]["label"] if n in PRESET_INFO else "Custom architecture…",
        bind="query-params",
    )
    if preset != "custom":
        return PRESETS[preset]
    kind = st.radio("Kind", ["mlp", "cnn"], key="train_kind", horizontal=True, format_func=str.upper)
    c1, c2 = st.columns(2)
    if kind == "cnn":
        conv = _parse_ints(
            c1.text_input("Conv filters per block", "32, 64", key="train_conv"), "Conv filters"
        )
        double = c2.checkbox("Two convs per block", key="train_double_conv")
        conv_drop = st.slider("Dropout after each conv block", 0.0, 0.7, 0.0, 0.05, key="train_conv_dropout")
        hidden_default, drop_default = "128", "0.3"
    else:
        conv, double, conv_drop = (), False, 0.0
        hidden_default, drop_default = "128, 64", "0.5"
    hidden = _parse_ints(
        c1.text_input("Dense layer sizes", hidden_default, key="train_hidden"), "Dense layer sizes"
    )
    dropout = _parse_floats(
        c2.text_input(
            "Dropout after each dense layer",
            drop_default,
            key="train_dropout",
            help="One rate per dense layer; missing rates mean no dropout there.",
        ),
        "Dropout",
    )
    c3, c4, c5 = st.columns(3)
    activation = c3.selectbox("Activation", ACTIVATIONS, key="train_activation")
    l2 = c4.number_input("L2 penalty", 0.0, 0.1, 0.0, 1e-4, format="%.4f", key="train_l2")
    bn = c5.checkbox("Batch norm", key="train_bn")
    return ModelSpec(
        kind=kind,
        hidden=hidden,
        conv_filters=conv,
        double_conv=double,
        activation=activation,
        dropout=dropout,
        conv_dropout=conv_drop,
        l2=l2,
        batch_norm=bn,
        input="image" if kind == "cnn" else "flat",
    )


def config_ui() -> TrainConfig:
    """All of TrainConfig as bounded widgets. Raises ValueError with the reason for a bad combination."""
    spec = model_ui()
    preset = st.session_state.get("train_preset", "lab_mlp")
    info = PRESET_INFO.get(preset, {"epochs": 10, "batch_size": 64})
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox(
        "Optimizer",
        list(OPTIMIZERS),
        index=list(OPTIMIZERS).index("adam"),
        key="train_optimizer",
        format_func=lambda o: OPTIMIZERS[o].label,
        bind="query-params",
    )
    default_lr = OPTIMIZERS[optimizer].default_lr
    use_default = c2.checkbox(f"Keras' default rate ({default_lr:g})", True, key="train_lr_default")
    lr = None
    if not use_default:
        lr = c2.number_input(
            "Learning rate", *LIMITS["learning_rate"], value=default_lr, format="%.5f", key="train_lr"
        )
    if OPTIMIZERS[optimizer].note:
        st.caption(f"{OPTIMIZERS[optimizer].label}: {OPTIMIZERS[optimizer].note}")
    c1, c2, c3 = st.columns(3)
    epochs = c1.number_input(
        "Epochs", *LIMITS["epochs"], value=info["epochs"], key="train_epochs", bind="query-params"
    )
    batch = c2.selectbox(
        "Batch size",
        BATCH_SIZES,
        index=BATCH_SIZES.index(info["batch_size"]),
        key="train_batch",
        bind="query-params",
    )
    seed = c3.number_input(
        "Seed",
        0,
        2**31 - 1,
        42,
        key="train_seed",
        bind="query-params",
        help="Seeds weights, dropout and batch order: same seed, same numbers.",
    )
    c1, c2 = st.columns(2)
    val_fraction = c1.slider(
        "Validation fraction",
        0.05,
        0.5,
        0.2,
        0.05,
        key="train_val_fraction",
        help="Of the 60,000 training images, split with the lab's fixed seed 42.",
    )
    n_split = n_train_images({"val_fraction": val_fraction})
    subset = c2.number_input(
        "Training images (subset)",
        100,
        n_split,
        n_split,
        step=1000,
        key="train_subset",
        help="Fewer images train faster: handy for a live demo.",
    )
    return TrainConfig(
        model=spec,
        optimizer=optimizer,
        learning_rate=lr,
        epochs=int(epochs),
        batch_size=int(batch),
        val_fraction=float(val_fraction),
        seed=int(seed),
        train_subset=None if subset >= n_split else int(subset),
    )


def start_run(config: TrainConfig) -> None:
    """Queue the run (or reopen an identical finished one). Called once per click: the button's key
    changes after each start, so a replayed click after a reconnect cannot start a second run."""
    store, runner = get_store(), get_runner()
    st.session_state["train_nonce"] = uuid.uuid4().hex
    same = store.find_finished(config.key())
    if same is not None and not st.session_state.get("train_force", False):
        st.session_state["train_run_id"] = same.id
        st.session_state["train_notice"] = (
            f"Run #{same.id} already trained this exact configuration and seed, so it was reopened instead of "
            "training again (same seed and config give the same numbers). Tick “Train again anyway” to repeat it."
        )
        return
    run_id, created = runner.submit_once(config, label=_label(config))
    st.session_state["train_run_id"] = run_id
    if created:
        st.session_state.pop("train_notice", None)
    else:
        st.session_state["train_notice"] = (
            f"Run #{run_id} with this exact configuration is already queued or running."
        )


def _label(config: TrainConfig) -> str:
    preset = st.session_state.get("train_preset", "custom")
    return f"{preset} · {OPTIMIZERS[config.optimizer].label}"


def current_run_id() -> int | None:
    """The run this page shows: chosen in this session, else from the URL, else the newest active run."""
    rid = st.session_state.get("train_run_id")
    if rid is None and "run" in st.query_params:
        try:
            rid = int(st.query_params["run"])
        except ValueError:
            rid = None
    if rid is None:  # the newest active run, else the newest run: a reload shows what was going on
        latest = get_store().runs(status=ACTIVE, limit=1) or get_store().runs(limit=1)
        rid = latest[0].id if latest else None
    if rid is not None and get_store().get_run(rid) is None:
        rid = None
    st.session_state["train_run_id"] = rid
    return rid


def render_header(run: Run) -> None:
    icon, color = STATUS_BADGE.get(run.status, ("", "gray"))
    cfg = run.config
    st.markdown(
        f"#### Run #{run.id} &nbsp; :{color}-badge[{icon} {run.status}]  \n"
        f"<small>{run.label or ''} · {cfg['epochs']} epochs · batch {cfg['batch_size']} · seed {cfg['seed']}"
        f"{' · ' + format(cfg['train_subset'], ',') + ' images' if cfg.get('train_subset') else ''}</small>",
        unsafe_allow_html=True,
    )


def render_curves(run: Run, points: pd.DataFrame) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.training_curves(points, metric="loss", title="Loss"),
        width="stretch",
        key=f"train_loss_chart_{run.id}",
    )
    c2.plotly_chart(
        charts.training_curves(points, metric="accuracy", title="Accuracy"),
        width="stretch",
        key=f"train_acc_chart_{run.id}",
    )
    st.caption(
        "Thin lines inside an epoch are Keras' running means over the epoch so far; markers are epoch ends."
    )


@st.fragment(run_every=1.0)
def live_view(run_id: int, seen_status: str) -> None:
    """Polls the store once a second while the run is queued or running; never trains here."""
    store = get_store()
    get_runner().reconcile()
    run = store.get_run(run_id)
    if run is None:
        st.warning("This run was deleted.")
        return
    if run.status != seen_status:
        st.rerun()  # started or ended: redraw the whole page (history, results; polling stops when done)
    render_header(run)
    points = store.points(run_id)
    if run.status == "queued":
        pos = store.queue_position(run_id)
        st.info(
            f"Queued (position {pos}): it starts when the runs ahead of it finish. "
            "You can leave this page; it keeps its place."
        )
        get_runner().ensure_workers()
    else:
        prog = run_progress(run.config, points, started=run.started)
        st.progress(prog.fraction, text=prog.text)
    st.button(
        "Stop",
        icon=":material/stop:",
        key=f"train_stop_{run_id}",
        on_click=get_runner().stop,
        args=(run_id,),
        help="Stops after the current batch group; keeps the history and the model so far.",
    )
    render_curves(run, points)


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(run_id: int, finished: float | None) -> dict | None:
    # keyed on (run id, finish time): a run's results never change once it has ended
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


def render_results(run: Run) -> None:
    store = get_store()
    if run.status == "failed":
        st.error(f"Training failed: {run.error}")
    elif run.status == "interrupted":
        st.warning(f"Interrupted: {run.error}. Everything it logged is kept below.")
    elif run.status == "stopped" and run.error:
        st.info(f"Stopped: {run.error}.")
    points = store.points(run.id)
    if run.test_accuracy is not None:
        m = st.columns(5)
        m[0].metric("Test accuracy", f"{run.test_accuracy:.4f}")
        m[1].metric("Test loss", f"{run.test_loss:.4f}")
        m[2].metric("Best val. accuracy", f"{run.best_val_accuracy:.4f}" if run.best_val_accuracy else "–")
        m[3].metric("Epochs", f"{run.epochs_done}/{run.epochs}")
        m[4].metric("Training time", f"{run.seconds or 0:.0f} s", help=format_seconds(run.seconds or 0))
    render_curves(run, points)
    render_downloads(run, points)


def render_evaluation(run: Run) -> None:
    ev = _evaluation(run.id, run.finished)
    if ev is not None:
        st.subheader(f"Run #{run.id} on the 10,000 test images")
        c1, c2 = st.columns([1, 1], gap="large")
        norm = c1.toggle("Normalise rows (recall per class)", True, key="train_cm_norm")
        c1.plotly_chart(
            charts.confusion_matrix_figure(ev["cm"], CLASS_NAMES, normalize=norm),
            width="stretch",
            key="train_cm_chart",
        )
        c2.dataframe(
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
    cols = st.columns(8)
    for i, row in enumerate(wrong.head(16).itertuples()):
        cols[i % 8].image(
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


def render_history() -> None:
    store = get_store()
    df = store.runs_frame(limit=200)
    if df.empty:
        st.caption("No runs yet.")
        return
    event = st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="train_history",
        column_config={
            "best val acc": st.column_config.NumberColumn(format="%.4f"),
            "test acc": st.column_config.NumberColumn(format="%.4f"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    rows = event.selection.rows if event and event.selection else []
    if rows:
        rid = int(df.iloc[rows[0]]["id"])
        c1, c2 = st.columns(2)
        if c1.button(f"Open run #{rid}", key="train_open", type="primary"):
            st.session_state["train_run_id"] = rid
            st.rerun()
        if c2.button(f"Delete run #{rid}", key="train_delete"):
            if store.delete_run(rid):
                if st.session_state.get("train_run_id") == rid:
                    st.session_state["train_run_id"] = None
                st.toast(f"Deleted run #{rid}")
                st.rerun()
            else:
                st.warning("A queued or running run cannot be deleted: stop it first.")


# ---------------------------------------------------------------------------------------------------------

data = dataset_or_stop()
st.title("Train a network")
st.caption(
    "Build an MLP or a CNN, train it on the lab's 48,000/12,000 split, and watch it learn live. "
    "Training runs in a background worker: switch pages or reload, it keeps going."
)

setup, view = st.columns([1, 2], gap="large")
with setup:
    st.subheader("Set-up")
    try:
        config = config_ui()
        error = None
    except ValueError as exc:
        config, error = None, str(exc)
    if error:
        st.error(f"Cannot train this: {error}")
    else:
        with st.expander(f"Architecture · {param_count(config.model):,} parameters", expanded=False):
            st.dataframe(pd.DataFrame(describe(config.model)), hide_index=True, width="stretch")
        st.checkbox("Train again anyway if an identical run exists", key="train_force")
        nonce = st.session_state.setdefault("train_nonce", uuid.uuid4().hex)
        if st.button(
            "Start training",
            icon=":material/play_arrow:",
            type="primary",
            key=f"train_start_{nonce}",
            width="stretch",
        ):
            start_run(config)

run = None
with view:
    if st.session_state.get("train_notice"):
        st.info(st.session_state["train_notice"])
    run_id = current_run_id()
    if run_id is None:
        st.info(
            "No run yet: choose a set-up on the left and press **Start training**. "
            "The lab's MLP on all 48,000 images takes about 10-20 s an epoch here."
        )
    else:
        st.query_params["run"] = str(run_id)
        run = get_store().get_run(run_id)
        if run.status in ACTIVE:
            live_view(run_id, run.status)
        else:
            render_header(run)
            render_results(run)

if run is not None and run.status not in ACTIVE:
    st.divider()
    render_evaluation(run)

st.divider()
st.subheader("Run history")
render_history()
