"""Compare optimizers (or regularizers) over several seeds: what the lab meant, honestly.

Reads like the screen: pick a study (new or past), set it up, start it; then live curves, progress
and, as runs finish, the leaderboard with its one-sentence verdict. Training happens in the job
runner's worker; this page only schedules runs and reads the store (a fragment polls it while the
study is active), so leaving or reloading the page does not stop a study.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from fmnist_core import charts, compare
from fmnist_core.forms import NumberField
from fmnist_core.models import OPTIMIZERS, PRESET_INFO, PRESETS
from fmnist_core.store import QueueFull
from fmnist_core.text import md_escape
from fmnist_core.training import TrainConfig
from pages._shared import get_runner, get_store

NEW = "new"  # selectbox option for "set up a new study" (study ids are timestamps, never "new")
POLL_SECONDS = 2.0
SHARED_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
KINDS = {"optimizer": "Optimizers", "regularization": "Regularization"}


# ------------------------------------------------------------------------------------ choosing a study


def choose_study_ui() -> str:
    """The study selector. The choice lives in session state and in the URL (`?study=<id>`), so a
    reload or a shared link reopens the study."""
    studies = {s["id"]: s for s in get_store().studies()}
    pending = st.session_state.pop("compare_pending_study", None)
    from_url = st.query_params.get("study")
    if pending is not None:  # set before the widget is drawn: Streamlit forbids changing it afterwards
        st.session_state["compare_study"] = pending
    elif from_url in studies and "compare_study" not in st.session_state:
        st.session_state["compare_study"] = from_url
    if st.session_state.get("compare_study") not in (NEW, *studies):
        st.session_state.pop("compare_study", None)  # deleted, or a stale link

    def label(sid: str) -> str:
        if sid == NEW:
            return "New study…"
        s = studies[sid]
        when = dt.datetime.fromtimestamp(s["created"]).strftime("%d %b %H:%M")
        return f"{s['name']} — {when}"

    selected = st.selectbox(
        "Study",
        [NEW, *studies],
        format_func=label,
        key="compare_study",
        persist_state="session",
        help="Studies keep running when you leave this page; pick one to see its progress and results.",
    )
    if selected == NEW:
        st.query_params.pop("study", None)
    elif st.query_params.get("study") != selected:
        st.query_params["study"] = selected
    return selected


# ------------------------------------------------------------------------------------ setting one up

FIELDS = {
    "compare_epochs": NumberField("Epochs", 1, 100),
    "compare_seeds": NumberField("Seeds", 1, 10),
    "compare_target": NumberField("Target", 0.5, 0.99, integer=False),
    "compare_train_subset": NumberField("Training images", 100, 48000),
    "compare_val_subset": NumberField("Validation images", 100, 12000),
}


def _field_problems(state) -> dict[str, str]:
    """Fields whose value cannot run, with their valid range (a value on screen is the value that runs)."""
    keys = list(FIELDS) if state.get("compare_quick") else list(FIELDS)[:3]
    return {k: p for k in keys if k in state and (p := FIELDS[k].problem(state[k]))}


def setup_ui() -> tuple[compare.StudySpec | None, str]:
    """The study form; returns (spec, name), spec None (with the reason shown) when it cannot run."""
    keep = {"persist_state": "session"}  # the form survives viewing a past study and page switches
    top = st.columns([2, 3, 2])
    kind = top[0].radio(
        "Compare",
        list(KINDS),
        format_func=KINDS.get,
        horizontal=True,
        key="compare_kind",
        help="Optimizers: the same network trained with each optimizer. Regularization: variants of the "
        "network (dropout, L2, batch norm) trained with one optimizer.",
        **keep,
    )
    preset = top[1].selectbox(
        "Base model",
        list(PRESETS),
        index=list(PRESETS).index("lab_mlp"),
        format_func=lambda p: PRESET_INFO[p]["label"],
        key="compare_preset",
        **keep,
    )
    optimizer = "adam"
    if kind == "optimizer":
        variants = st.multiselect(
            "Optimizers",
            list(OPTIMIZERS),
            default=list(compare.DEFAULT_OPTIMIZERS),
            format_func=lambda o: OPTIMIZERS[o].label,
            key="compare_optimizers",
            help="The lab's five are preselected.",
            **keep,
        )
    else:
        optimizer = top[2].selectbox(
            "Optimizer",
            list(OPTIMIZERS),
            index=list(OPTIMIZERS).index("adam"),
            format_func=lambda o: OPTIMIZERS[o].label,
            key="compare_optimizer",
            **keep,
        )
        variants = st.multiselect(
            "Regularization variants",
            list(compare.REGULARIZATION_VARIANTS),
            default=list(compare.REGULARIZATION_VARIANTS),
            format_func=compare.REGULARIZATION_LABELS.get,
            key="compare_regularizers",
            help="Each adds one regularizer to the base network with its dropout removed.",
            **keep,
        )
    row = st.columns(4)
    for key, value in (
        ("compare_epochs", 10),
        ("compare_seeds", 3),
        ("compare_target", compare.DEFAULT_TARGET),
    ):
        st.session_state.setdefault(key, value)
    row[0].number_input("Epochs", step=1, key="compare_epochs", **keep)
    batch_size = row[1].selectbox(
        "Batch size", BATCH_SIZES, index=BATCH_SIZES.index(64), key="compare_batch_size", **keep
    )
    row[2].number_input(
        "Seeds per variant",
        step=1,
        key="compare_seeds",
        help="Seeds 0, 1, 2, …: for a given seed every variant starts from the same weights and batch order.",
        **keep,
    )
    row[3].number_input(
        "Target val. accuracy",
        step=0.01,
        format="%.2f",
        key="compare_target",
        help="The leaderboard counts the epochs each run needed to reach this validation accuracy.",
        **keep,
    )
    problems = _field_problems(st.session_state)
    for col, key in zip(row, ("compare_epochs", None, "compare_seeds", "compare_target"), strict=True):
        if key in problems:
            col.markdown(f":red[{problems[key]}]")
    lr_col, subset_col = st.columns(2)
    with lr_col:
        policy = st.radio(
            "Learning rate",
            ["default", "shared"],
            format_func={"default": "Each optimizer's Keras default", "shared": "One shared rate"}.get,
            horizontal=True,
            key="compare_lr_policy",
            **keep,
        )
        shared_lr = None
        if policy == "shared":
            shared_lr = st.select_slider(
                "Shared learning rate",
                SHARED_LRS,
                value=1e-3,
                format_func=lambda v: f"{v:g}",
                key="compare_lr",
                **keep,
            )
    with subset_col:
        quick = st.toggle(
            "Quick demo on a subset",
            key="compare_quick",
            help="Train and validate on the first N images of the lab's split: minutes become seconds.",
            **keep,
        )
        train_subset = val_subset = None
        if quick:
            a, b = st.columns(2)
            st.session_state.setdefault("compare_train_subset", 5000)
            st.session_state.setdefault("compare_val_subset", 2000)
            a.number_input("Training images", step=500, key="compare_train_subset", **keep)
            b.number_input("Validation images", step=500, key="compare_val_subset", **keep)
            problems = _field_problems(st.session_state)
            for col, key in ((a, "compare_train_subset"), (b, "compare_val_subset")):
                if key in problems:
                    col.markdown(f":red[{problems[key]}]")
            train_subset = st.session_state["compare_train_subset"]
            val_subset = st.session_state["compare_val_subset"]
    name = st.text_input("Name (optional)", key="compare_name", max_chars=80, **keep)

    problems = _field_problems(st.session_state)
    if problems:
        st.warning(
            "This study cannot run until the fields marked in red are in range; the counts below are not "
            "shown for it.",
            icon=":material/block:",
        )
        return None, name
    epochs, seeds, target = (
        st.session_state[k] for k in ("compare_epochs", "compare_seeds", "compare_target")
    )
    try:
        base = TrainConfig(
            model=PRESETS[preset],
            optimizer=optimizer,
            epochs=int(epochs),
            batch_size=int(batch_size),
            train_subset=int(train_subset) if train_subset else None,
            val_subset=int(val_subset) if val_subset else None,
        )
        spec = compare.StudySpec(
            base=base,
            variants=tuple(variants),
            seeds=tuple(range(int(seeds))),
            kind=kind,
            lr_policy=policy,
            shared_lr=shared_lr,
            target=float(target),
        )
    except ValueError as exc:
        st.warning(f"This study cannot run: {exc}.")
        return None, name
    if kind == "optimizer" and policy == "default":
        rates = ", ".join(f"{OPTIMIZERS[v].label} {OPTIMIZERS[v].default_lr:g}" for v in variants)
        notes = [f"{OPTIMIZERS[v].label}: {OPTIMIZERS[v].note}" for v in variants if OPTIMIZERS[v].note]
        st.caption(f"Learning rates (Keras defaults, as the lab used): {rates}. " + " ".join(notes))
    if len(spec.seeds) == 1:
        st.caption("With one seed per variant the spread is unknown: the verdict will say so.")
    return spec, name


def estimate_ui(spec: compare.StudySpec) -> None:
    store = get_store()
    plan = compare.plan_study(store, spec)
    reused = sum(p.source == "reused" for p in plan)
    running = sum(p.source == "already_running" for p in plan)
    cols = st.columns(4)
    cols[0].metric("Runs", spec.n_runs, help=f"{len(spec.variants)} variants × {len(spec.seeds)} seeds")
    cols[1].metric("To train", spec.n_runs - reused - running)
    cols[2].metric(
        "Reused", reused, help="Finished runs with an identical config and seed are not trained again."
    )
    seconds = compare.estimate_seconds(spec, store)
    cols[3].metric(
        "Estimated time",
        compare.format_duration(seconds),
        help="One run at a time, from similar past runs on this machine (or a prior when there are none).",
    )
    if seconds > 3600:
        st.caption("That is long: a quick demo on a subset, fewer epochs or fewer variants cut it down.")
    if running:
        st.caption(f"{running} identical run(s) are already queued or training; the study will use them.")


def start_ui(spec: compare.StudySpec | None, name: str) -> None:
    # A double click or a replayed rerun reuses this id, and schedule_study is idempotent per id:
    # exactly one study is created per click.
    start_id = st.session_state.setdefault("compare_start_id", compare.new_study_id())
    if st.button(
        "Start study",
        key="compare_start",
        type="primary",
        disabled=spec is None,
        icon=":material/play_arrow:",
    ):
        try:
            study_id, counts = compare.schedule_study(
                get_runner(), spec, name=name.strip(), study_id=start_id
            )
        except QueueFull as exc:  # the server's queue limit; runs queued before it stay queued
            st.warning(f"{md_escape(exc)} Runs queued before the limit was reached keep their place.")
            return
        st.session_state.pop("compare_start_id", None)
        st.session_state["compare_pending_study"] = study_id
        st.session_state["compare_started"] = (study_id, counts)
        st.rerun()


# ------------------------------------------------------------------------------------ showing one


def render_study(study_id: str) -> None:
    store = get_store()
    study = store.get_study(study_id)
    if study is None:
        st.warning("This study no longer exists. Pick another one or start a new study.")
        return
    spec = compare.get_spec(store, study_id)
    st.subheader(md_escape(study["name"]) or "Unnamed study")
    lr = f"shared learning rate {spec.shared_lr:g}" if spec.lr_policy == "shared" else "Keras' default rates"
    subset = f" · {spec.base.train_subset:,} training images" if spec.base.train_subset else ""
    st.caption(
        f"Study `{study_id}` · batch {spec.base.batch_size} · {lr} · seeds {', '.join(map(str, spec.seeds))}"
        f"{subset} · target {spec.target:.0%}"
    )
    started = st.session_state.pop("compare_started", None)
    if started and started[0] == study_id:
        c = started[1]
        st.success(
            f"Study started: {c.get('queued', 0)} runs queued, {c.get('reused', 0)} reused, "
            f"{c.get('already_running', 0)} already training. It keeps running if you leave this page."
        )
    runs = compare.study_runs(store, study_id)
    active = compare.is_active(runs)
    if (runs["status"] == "queued").any():
        get_runner().ensure_workers()  # after an app restart, queued runs need a worker again
    if active and st.button("Stop study", key="compare_stop", icon=":material/stop:"):
        out = compare.stop_study(store, study_id)
        msg = f"Cancelled {out['cancelled']} queued run(s); stopping {out['stopping']} running."
        if out["elsewhere"]:
            msg += f" {out['elsewhere']} identical run(s) started elsewhere keep going."
        st.info(msg)
        runs = compare.study_runs(store, study_id)
        active = compare.is_active(runs)

    live = st.fragment(run_every=POLL_SECONDS if active else None)(live_panel)
    live(study_id, spec, active)
    if not active and len(runs):
        results_ui(study_id, runs)


def live_panel(study_id: str, spec: compare.StudySpec, was_active: bool) -> None:
    """Progress, curves and the leaderboard so far; polls the store while the study is active."""
    store = get_store()
    get_runner().reconcile()  # a worker that died shows up as interrupted, not as running forever
    runs = compare.study_runs(store, study_id)
    if was_active and not compare.is_active(runs):
        st.rerun()  # done: redraw the whole page once, without polling
    prior = compare.sec_per_epoch_estimate(spec.base, store)
    progress_ui(compare.study_progress(runs, sec_per_epoch=prior), active=was_active)
    points = compare.study_points(store, runs)
    # Full width, one under the other: five variants' legend fits on one line above each chart.
    st.plotly_chart(
        charts.compare_curves(points, metric="val_accuracy", title="Validation accuracy"),
        key="compare_acc_chart",
    )
    st.plotly_chart(
        charts.compare_curves(points, metric="val_loss", title="Validation loss"), key="compare_loss_chart"
    )
    st.caption("Thin lines: one run per seed. Thick line and band: mean ± 1 sample std across seeds.")
    if spec.kind == "regularization":
        st.plotly_chart(
            charts.train_val_gap(points, metric="accuracy", title="Overfitting: train − validation accuracy"),
            key="compare_gap_chart",
        )
    leaderboard_ui(runs, spec, active=was_active)


def progress_ui(p: compare.StudyProgress, *, active: bool) -> None:
    parts = [f"{p.done} / {p.total} runs done"]
    if p.running:
        parts.append(f"{p.running} training")
    if p.queued:
        parts.append(f"{p.queued} queued")
    if active:
        parts.append(f"about {compare.format_duration(p.eta_seconds)} left")
    st.progress(p.fraction, text=" · ".join(parts))
    if p.failed or p.stopped:
        st.warning(
            f"{p.failed} run(s) failed or were interrupted and {p.stopped} stopped: the leaderboard uses "
            "finished runs only. Starting the same study again trains just the missing runs."
        )


def leaderboard_ui(runs: pd.DataFrame, spec: compare.StudySpec, *, active: bool) -> None:
    summary = compare.summarize(runs)
    if not len(summary) or not (summary["runs"] > 0).any():
        st.info("The leaderboard appears when the first runs finish.")
        return
    st.subheader("Leaderboard so far" if active else "Leaderboard")
    # Green only for a real separation; an undecided comparison is information, not a result.
    box = st.success if compare.separation(summary) == "separated" else st.info
    box(compare.verdict(summary), icon=":material/balance:")
    table = compare.leaderboard_table(summary, target=spec.target)
    best = summary["best"].tolist()
    styled = table.style.apply(
        lambda row: (
            ["background-color: rgba(57,105,172,0.15); font-weight: 600" if best[row.name] else ""] * len(row)
        ),
        axis=1,
    )
    st.dataframe(styled, hide_index=True, key="compare_leaderboard")
    st.caption(
        "Ranked by last-epoch validation accuracy (what the lab compared). ± is the sample standard deviation "
        "across seeds (ddof=1); min–max is the range. Test accuracy is shown for reference, not used to rank."
    )
    bars = summary[summary["runs"] > 0].rename(
        columns={"last_val_mean": "last-epoch validation accuracy", "last_val_std": "std"}
    )
    st.plotly_chart(
        charts.leaderboard_bars(
            bars,
            value="last-epoch validation accuracy",
            error="std",
            label="label",
            title="Mean ± std across seeds",
        ),
        key="compare_bars",
    )


def results_ui(study_id: str, runs: pd.DataFrame) -> None:
    with st.expander(f"Every run ({len(runs)})"):
        cols = [
            "run_id",
            "label",
            "seed",
            "status",
            "source",
            "epochs_done",
            "last_val_accuracy",
            "best_val_accuracy",
            "test_accuracy",
            "epochs_to_target",
            "seconds_per_epoch",
            "error",
        ]
        st.dataframe(runs[cols], hide_index=True, key="compare_runs_table")
    st.download_button(
        "Download every run (CSV)",
        compare.runs_csv(runs),
        file_name=f"study-{study_id}.csv",
        mime="text/csv",
        key="compare_download",
        icon=":material/download:",
    )


# ------------------------------------------------------------------------------------ the page

st.title("Compare optimizers")
st.caption(
    "The lab trained each optimizer once and called RMSprop (0.8752) better than Adam (0.8735). One run each "
    "cannot tell those apart: here every variant runs with several seeds, and the verdict says whether the "
    "winner is ahead by more than the seed-to-seed spread."
)
selected = choose_study_ui()
if selected == NEW:
    spec, name = setup_ui()
    if spec is not None:
        estimate_ui(spec)
    start_ui(spec, name)
else:
    render_study(selected)
