"""Train: configure a network, start/stop it, watch it learn live, inspect the results.

Training runs in the job runner's worker process; this page only writes requests to the
run store and reads points back, so reruns, page switches and reloads lose nothing.

The form and the URL agree: `?run=N` opens run N with its set-up in the form, the form's fields
that differ from the lab's defaults are in the URL by short name, and a field out of range is
refused (Start is disabled and the field says its range), never silently replaced.
"""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from fmnist_core import forms, replay
from fmnist_core.augment import AUGMENTS
from fmnist_core.history import history_table
from fmnist_core.models import (
    ACTIVATIONS,
    BACKEND_LABELS,
    BACKEND_SECONDS_PER_EPOCH,
    OPTIMIZERS,
    PRESET_INFO,
    PRESETS,
    describe,
    param_count,
    preset_recipe,
)
from fmnist_core.progress import (
    LIVE_POLL_SECONDS,
    format_seconds,
    live_poll_seconds,
    n_train_images,
    run_progress,
)
from fmnist_core.store import ACTIVE, QueueFull, Run
from fmnist_core.text import md_escape
from fmnist_core.training import BACKENDS, TrainConfig
from pages._evaluation import render_downloads, render_evaluation, render_import, render_overlay
from pages._live import (
    big_numbers,
    chart_controls_ui,
    presenter_toggle,
    read_view_params,
    render_curves,
    replay_controls,
    replay_polling,
    replay_state,
    replay_view,
    start_replay,
    write_view_params,
)
from pages._shared import dataset_or_stop, get_runner, get_store, show_error

STATUS_BADGE = {
    "queued": (":material/schedule:", "gray"),
    "running": (":material/directions_run:", "blue"),
    "finished": (":material/check_circle:", "green"),
    "stopped": (":material/stop_circle:", "orange"),
    "failed": (":material/error:", "red"),
    "interrupted": (":material/warning:", "orange"),
}
KEEP = {"persist_state": "session"}  # the form survives page switches
BACKEND_HELP = (
    "Keras runs the same model on either. Measured here: TensorFlow trains the lab MLP about 1.4x faster "
    "and the CNNs 3-4x faster. Each backend has its own worker, started on first use."
)
TEST_EVAL_WAIT_SECONDS = 180  # after this, a stopped run without test metrics is shown as it is


# ------------------------------------------------------------------------------------ the form and the URL


def init_form() -> None:
    """Fill the form's state before any widget is drawn: defaults, then a pending set-up to show
    (a run opened from the history), then, on a session's first visit, what the URL says."""
    for key, value in forms.default_state().items():
        st.session_state.setdefault(key, value)
    pending = st.session_state.pop("train_pending_form", None)
    if pending is not None:
        _apply_form(pending)
    if not st.session_state.get("train_link_read"):
        st.session_state["train_link_read"] = True
        follow_link()


def _apply_form(values: dict) -> None:
    for key, value in values.items():
        st.session_state[key] = value


def follow_link() -> None:
    """A link opens the run it names, with that run's set-up in the form, then any form fields it names."""
    params = st.query_params
    if "run" in params:
        raw = params.get("run")
        rid = forms.parse_run_id(raw)
        run = get_store().get_run(rid) if rid is not None else None
        if run is None:
            st.session_state["train_run_id"] = None
            st.session_state["train_missing"] = forms.describe_bad_id(raw)
        else:
            st.session_state["train_run_id"] = run.id
            show_setup_of(run)
            speed = replay.parse_speed(params.get("replay")) if "replay" in params else None
            if speed and run.status not in ACTIVE:
                start_replay(run.id, speed)
    state, ignored = forms.query_to_state({k: params.get(k) for k in params})
    if state.get("train_preset") in PRESET_INFO:  # a preset brings its recipe; the link's own fields win
        recipe = TrainConfig(model=PRESETS[state["train_preset"]], **preset_recipe(state["train_preset"]))
        _apply_form(forms.form_state(recipe))
    _apply_form(state)
    if ignored:
        st.session_state["train_notice"] = (
            "Some settings in this link could not be read and were left as they were: "
            + ", ".join(ignored)
            + "."
        )
    if state and "run" not in params:  # a set-up link: open the identical finished run if there is one
        try:
            same = get_store().find_finished(forms.config_from_state(st.session_state).key())
        except ValueError:
            same = None
        st.session_state["train_run_id"] = None  # not "the newest run", whose set-up would replace the link's
        if same is not None:
            st.session_state["train_run_id"] = same.id
            st.session_state["train_notice"] = (
                f"Run #{same.id} already trained this set-up: here it is. Tick “Train again” to repeat it."
            )


def show_setup_of(run: Run) -> None:
    """Put a run's set-up into the form (when its config is one this version can read)."""
    try:
        _apply_form(forms.form_state(TrainConfig.from_dict(run.config)))
    except (TypeError, ValueError, KeyError):
        st.session_state["train_notice"] = f"Run #{run.id}'s set-up cannot be shown in this form."


def sync_url(run_id: int | None) -> None:
    """The URL names the run on screen and the form's non-default fields, nothing else of this page."""
    wanted = forms.state_to_query(st.session_state)
    if run_id is not None:
        wanted["run"] = str(run_id)
    rs = replay_state()
    if rs is not None and rs["run"] == run_id:
        wanted["replay"] = str(rs["speed"])
    elif "replay" in st.query_params:
        del st.query_params["replay"]
    for key in ("run", *forms.URL_KEYS, *forms.URL_NAMES.values()):
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def _preset_changed() -> None:
    # A preset comes with the recipe it was measured with: epochs, batch, optimizer and rate, schedule,
    # augmentation (the same as `python -m fmnist_core train --preset NAME` with no other flags).
    name = st.session_state.get("train_preset")
    if name in PRESET_INFO:
        recipe = TrainConfig(model=PRESETS[name], **preset_recipe(name))
        keep = {k: st.session_state.get(k) for k in ("train_seed", "train_val_fraction", "train_subset")}
        _apply_form({**forms.form_state(recipe), **{k: v for k, v in keep.items() if v is not None}})


def _split_changed() -> None:
    # "All images" of the old split becomes all images of the new one; a chosen subset is kept.
    old = st.session_state.get("train_val_fraction_seen", 0.2)
    st.session_state["train_subset"] = forms.follow_split(st.session_state, old)


def _note(col, key: str, problems: dict[str, str]) -> None:
    """The valid range under a field whose value cannot train."""
    if key in problems:
        col.markdown(f":red[{problems[key]}]")


def model_ui() -> None:
    st.selectbox(
        "Model",
        [*PRESETS, forms.CUSTOM],
        key="train_preset",
        format_func=lambda n: PRESET_INFO[n]["label"] if n in PRESET_INFO else "Custom architecture…",
        on_change=_preset_changed,
        **KEEP,
    )
    if st.session_state["train_preset"] != forms.CUSTOM:
        measured = PRESET_INFO[st.session_state["train_preset"]].get("measured")
        if measured:
            st.caption(f"Measured: {measured}.")
        return
    for key, value in {
        "train_kind": "mlp",
        "train_conv": "32, 64",
        "train_double_conv": False,
        "train_conv_dropout": 0.0,
        "train_hidden": "128, 64",
        "train_dropout": "0.5",
        "train_activation": "relu",
        "train_l2": 0.0,
        "train_bn": False,
    }.items():
        st.session_state.setdefault(key, value)
    kind = st.radio("Kind", ["mlp", "cnn"], key="train_kind", horizontal=True, format_func=str.upper, **KEEP)
    c1, c2 = st.columns(2)
    if kind == "cnn":
        c1.text_input("Conv filters per block", key="train_conv", **KEEP)
        c2.checkbox("Two convs per block", key="train_double_conv", **KEEP)
        st.slider("Dropout after each conv block", 0.0, 0.7, step=0.05, key="train_conv_dropout", **KEEP)
    c1.text_input("Dense layer sizes", key="train_hidden", **KEEP)
    c2.text_input(
        "Dropout per dense layer",
        key="train_dropout",
        help="One rate per dense layer; missing rates mean no dropout there.",
        **KEEP,
    )
    c3, c4, c5 = st.columns(3)
    c3.selectbox("Activation", ACTIVATIONS, key="train_activation", **KEEP)
    c4.number_input("L2 penalty", 0.0, 0.1, step=1e-4, format="%.4f", key="train_l2", **KEEP)
    c5.checkbox("Batch norm", key="train_bn", **KEEP)


def config_ui():
    """Every field of TrainConfig. Returns (config or None, reason it cannot train or None)."""
    model_ui()
    problems = forms.field_problems(st.session_state)
    optimizer = st.selectbox(
        "Optimizer",
        list(OPTIMIZERS),
        key="train_optimizer",
        format_func=lambda o: OPTIMIZERS[o].label,
        **KEEP,
    )
    default_lr = OPTIMIZERS[optimizer].default_lr
    st.checkbox(
        f"Keras' default learning rate ({default_lr:g})",
        key="train_lr_default",
        help="Keras' own default rate for this optimizer, as the lab used. Untick to set your own.",
        **KEEP,
    )
    if not st.session_state["train_lr_default"]:
        st.number_input("Learning rate", step=None, format="%.5f", key="train_lr", **KEEP)
        _note(st, "train_lr", problems)
    if OPTIMIZERS[optimizer].note:
        st.caption(f"{OPTIMIZERS[optimizer].label}: {OPTIMIZERS[optimizer].note}")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Epochs", step=1, key="train_epochs", **KEEP)
    _note(c1, "train_epochs", problems)
    c2.selectbox("Batch size", forms.BATCH_SIZES, key="train_batch", **KEEP)
    c3.number_input(
        "Seed",
        step=1,
        key="train_seed",
        help="Seeds weights, dropout and batch order: same seed, same numbers.",
        **KEEP,
    )
    _note(c3, "train_seed", problems)
    c1, c2 = st.columns(2)
    c1.slider(
        "Validation share",
        0.05,
        0.5,
        step=0.05,
        key="train_val_fraction",
        help="Of the 60,000 training images, split with the lab's fixed seed 42.",
        on_change=_split_changed,
        **KEEP,
    )
    st.session_state["train_val_fraction_seen"] = st.session_state["train_val_fraction"]
    n_split = n_train_images({"val_fraction": st.session_state["train_val_fraction"]})
    c2.number_input(
        "Training images",
        step=1000,
        key="train_subset",
        help=f"Use only the first N of the {n_split:,} training images (100 to {n_split:,}): "
        "fewer train faster, handy for a live demo.",
        **KEEP,
    )
    _note(c2, "train_subset", problems)
    c1, c2 = st.columns(2)
    c1.selectbox(
        "LR schedule",
        forms.SCHEDULE_OPTIONS,
        key="train_schedule",
        format_func={"constant": "Constant", "cosine": "Cosine decay", "onecycle": "One-cycle"}.get,
        help="Over the whole run (Keras' schedules): cosine decays the rate to 0; one-cycle warms up over the "
        "first 30% of the steps, then decays.",
        **KEEP,
    )
    c2.selectbox(
        "Backend",
        BACKENDS,
        key="train_backend",
        format_func={"tensorflow": "TensorFlow", "jax": "JAX"}.get,
        help=BACKEND_HELP,
        **KEEP,
    )
    kind = (
        "cnn"
        if st.session_state.get("train_preset", "").startswith("cnn")
        or (
            st.session_state.get("train_preset") == forms.CUSTOM
            and st.session_state.get("train_kind") == "cnn"
        )
        else "mlp"
    )
    speeds = BACKEND_SECONDS_PER_EPOCH.get(kind, {})
    if speeds:
        st.caption(
            f"Measured here for {kind.upper()}s (all 48,000 images): "
            + ", ".join(
                f"{BACKEND_LABELS.get(b, b).split(' ')[0]} {sec:g} s/epoch" for b, sec in speeds.items()
            )
            + "."
        )
    st.selectbox(
        "Augmentation",
        forms.AUGMENT_OPTIONS,
        key="train_augment",
        format_func=lambda a: (
            "None (the images as they are)" if a == forms.NO_AUGMENT else AUGMENTS[a].capitalize()
        ),
        help="Applied on the fly to each training batch, seeded. “Sketch-like” teaches the model what drawings "
        "on the Sketch page look like (mirrored items, filled silhouettes, outlines), and adds 12.5% of "
        "procedural garment drawings (a coat's opening and lapels, a shirt's collar); it costs a little test "
        "accuracy on the photos.",
        **KEEP,
    )
    try:
        return forms.config_from_state(st.session_state), None
    except ValueError as exc:
        return None, str(exc)


def start_run(config) -> None:
    """Queue the run (or reopen an identical finished one). Called once per click: the button's key
    changes after each start, so a replayed click after a reconnect cannot start a second run."""
    store, runner = get_store(), get_runner()
    st.session_state["train_nonce"] = uuid.uuid4().hex
    same = store.find_finished(config.key())
    if same is not None and not st.session_state.get("train_force", False):
        st.session_state["train_run_id"] = same.id
        st.session_state["train_notice"] = (
            f"Run #{same.id} already trained this exact set-up and seed, so it was reopened instead of "
            "training again (same seed and set-up give the same numbers). Tick “Train again” to repeat it."
        )
    else:
        try:
            run_id, created = runner.submit_once(config, label=_label())
        except QueueFull as exc:  # the server's queue limit: the message says what to do
            st.warning(md_escape(exc))
            return
        except Exception as exc:  # a read-only store, say: a sentence and an id, the details in the log
            show_error("The run could not be queued.", exc)
            return
        st.session_state["train_run_id"] = run_id
        st.session_state["train_notice_run"] = None if created else run_id
        st.session_state.pop("train_notice", None)
    st.session_state.pop("train_missing", None)
    st.query_params["run"] = str(st.session_state["train_run_id"])  # the link names the new run at once


def _label() -> str:
    preset = st.session_state.get("train_preset", forms.CUSTOM)
    return f"{preset} · {OPTIMIZERS[st.session_state['train_optimizer']].label}"


def setup_panel():
    st.subheader("Set-up")
    config, error = config_ui()
    if config is not None:
        with st.expander(f"Architecture · {param_count(config.model):,} parameters", expanded=False):
            st.dataframe(pd.DataFrame(describe(config.model)), hide_index=True, width="stretch")
    elif error and not forms.field_problems(st.session_state):
        st.error(f"Cannot train this: {error}")  # an architecture problem; number fields say theirs
    st.checkbox(
        "Train again",
        key="train_force",
        help="Train even if a finished run has this exact set-up and seed (it would give the same numbers).",
    )
    nonce = st.session_state.setdefault("train_nonce", uuid.uuid4().hex)
    if st.button(
        "Start training",
        icon=":material/play_arrow:",
        type="primary",
        key=f"train_start_{nonce}",
        width="stretch",
        disabled=config is None,
        help="Fix what is marked in red first." if config is None else None,
    ):
        start_run(config)
    share_ui()


def share_ui() -> None:
    """The set-up as a link to copy (the form's fields that differ from the lab's defaults)."""
    from urllib.parse import urlencode

    base = (st.context.url or "").split("?")[0] or "/train"
    query = forms.state_to_query(st.session_state)
    with st.popover("Copy link to this set-up", icon=":material/link:", width="stretch"):
        st.code(f"{base}?{urlencode(query)}" if query else base, language=None, wrap_lines=True)
        st.caption("Opening it fills this form; if an identical finished run exists, it opens that run.")


# ------------------------------------------------------------------------------------ the run on screen


def current_run_id() -> int | None:
    """The run this page shows: chosen in this session (or by the link), else the newest active run a
    user started, else the newest such run (not the app's background runs). After a delete or a bad
    link, nothing until the user picks one."""
    if "train_run_id" not in st.session_state:
        latest = get_store().newest_user_run()
        st.session_state["train_run_id"] = latest.id if latest else None
        if latest:
            show_setup_of(latest)  # called before the form is drawn: the form shows this run's set-up
    rid = st.session_state["train_run_id"]
    if rid is not None and get_store().get_run(rid) is None:
        st.session_state["train_missing"] = f"#{rid}"
        st.session_state["train_run_id"] = rid = None
    return rid


def render_header(run: Run) -> None:
    icon, color = STATUS_BADGE.get(run.status, ("", "gray"))
    cfg = run.config
    epochs = cfg["epochs"]
    parts = [
        md_escape(run.label) if run.label else None,
        f"{epochs} epoch{'s' if epochs != 1 else ''}",
        f"batch {cfg['batch_size']}",
        f"seed {cfg['seed']}",
        f"{cfg['train_subset']:,} images" if cfg.get("train_subset") else None,
        f"augment: {cfg['augment']}" if cfg.get("augment") else None,
    ]
    st.markdown(f"#### Run #{run.id} &nbsp; :{color}-badge[{icon} {run.status}]")
    st.caption(" · ".join(p for p in parts if p))


def _request_stop(run_id: int) -> None:
    get_runner().stop(run_id)
    st.session_state["train_stopping"] = run_id


def live_view(run_id: int, seen_status: str, waiting_for_points: bool) -> None:
    """Polls the store while the run is queued or running (a fragment: run_every is live_poll_seconds);
    never trains here."""
    store = get_store()
    get_runner().reconcile()
    run = store.get_run(run_id)
    if run is None:
        st.warning("This run was deleted.")
        return
    # Started or ended: redraw the whole page (history, results; polling stops when done). A run that has just
    # started is drawn here first, and the page is redrawn once its first point is on screen (below): a full
    # redraw before that would hold the first point back by a whole page run.
    just_started = seen_status == "queued" and run.status == "running" and waiting_for_points
    if run.status != seen_status and not just_started:
        st.rerun()
    render_header(run)
    points = store.points(run_id)
    stopping = run.stopping or st.session_state.get("train_stopping") == run_id
    if run.status == "queued":
        pos = store.queue_position(run_id)
        st.info(
            f"Queued (position {pos}): it starts when the runs ahead of it finish. "
            "You can leave this page; it keeps its place."
        )
        get_runner().ensure_workers()
        if problem := get_runner().problem():
            st.warning(problem)
    else:
        prog = run_progress(run.config, points, started=run.started)
        st.progress(prog.fraction, text=("Stopping… · " if stopping else "") + prog.text)
        if st.session_state.get("train_present"):
            big_numbers(run, points)
    st.button(
        "Stopping…" if stopping else "Stop",
        icon=":material/stop:",
        key=f"train_stop_{run_id}",
        on_click=_request_stop,
        args=(run_id,),
        disabled=stopping,
        help="Stops within a second or two, mid-epoch; keeps the history and the model at that moment.",
    )
    render_curves(run, points)
    if waiting_for_points and run.status == "running" and len(points):
        st.rerun()  # the first point is drawn: redraw the page once to poll at the calmer pace


def _awaiting_test(run: Run | None) -> bool:
    # The worker marks a stopped run ended at once (so Stop is quick), then saves it and tests it.
    return run is not None and bool(getattr(run, "finalizing", 0))


@st.fragment(run_every=1.0)
def await_test_results(run_id: int) -> None:
    """A stopped or finished run is evaluated on the test set after it ends: show that, then redraw."""
    if not _awaiting_test(get_store().get_run(run_id)):
        st.rerun()
    st.caption(":material/hourglass_top: Saving the model and evaluating it on the 10,000 test images…")


def render_results(run: Run) -> None:
    store = get_store()
    if run.status == "failed":
        st.error(f"Training failed: {md_escape(run.error or 'no reason recorded')}")
    elif run.status == "interrupted":
        st.warning(
            f"Interrupted: {md_escape(run.error or '')}. Everything it logged is kept below; Resume continues "
            "it from its last completed epoch, under the same run number."
        )
        if st.button("Resume", icon=":material/play_arrow:", key=f"train_resume_{run.id}", type="primary"):
            ok, message = get_runner().resume(run.id)
            (st.toast if ok else st.warning)(md_escape(message))
            if ok:
                st.rerun()
    elif run.status == "stopped" and run.error:
        st.info(f"Stopped: {md_escape(run.error)}.")
    if _awaiting_test(run):
        await_test_results(run.id)
    points = store.points(run.id)
    if run.test_accuracy is not None or run.best_val_accuracy is not None:
        m = st.columns(3)
        m[0].metric("Test accuracy", f"{run.test_accuracy:.4f}" if run.test_accuracy is not None else "–")
        m[1].metric("Test loss", f"{run.test_loss:.4f}" if run.test_loss is not None else "–")
        m[2].metric("Best val. accuracy", f"{run.best_val_accuracy:.4f}" if run.best_val_accuracy else "–")
        m = st.columns(3)
        m[0].metric("Epochs", f"{run.epochs_done}/{run.epochs}")
        m[1].metric("Training time", format_seconds(run.seconds or 0))
        m[2].metric("Parameters", f"{run.params:,}" if run.params else "–")
    if len(points):
        replay_controls(run)
    render_curves(run, points)
    render_overlay(run)
    render_downloads(run, points)


# ------------------------------------------------------------------------------------ the history


@st.dialog("Delete this run?")
def confirm_delete(run_id: int) -> None:
    run = get_store().get_run(run_id)
    if run is None:
        st.write(f"Run #{run_id} no longer exists.")
        return
    st.write(
        f"Run #{run.id} ({md_escape(run.label or 'no label')}, {run.status}) and its metrics and model file "
        "will be deleted. This cannot be undone."
    )
    c1, c2 = st.columns(2)
    if c1.button("Cancel", key="train_delete_cancel", width="stretch"):
        st.rerun()
    if c2.button(f"Delete run #{run.id}", key="train_delete_confirm", type="primary", width="stretch"):
        if get_store().delete_run(run.id):
            st.session_state["train_history_nonce"] = st.session_state.get("train_history_nonce", 0) + 1
            if st.session_state.get("train_run_id") == run.id:
                st.session_state["train_run_id"] = None  # show nothing rather than another run
            st.session_state.pop("train_missing", None)
            st.toast(f"Deleted run #{run.id}")
        else:
            st.session_state["train_notice"] = (
                f"Run #{run.id} is queued or running: stop it before deleting it."
            )
        st.rerun()


def render_history(any_active: bool) -> None:
    poll = 2.0 if any_active else None

    @st.fragment(run_every=poll)
    def history() -> None:
        df = get_store().runs_frame(limit=200)
        if df.empty:
            st.caption("No runs yet.")
            return
        table = history_table(df)
        nonce = st.session_state.get("train_history_nonce", 0)  # a new key clears the selection
        event = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=f"train_history_{nonce}",
            column_config={
                "best val acc": st.column_config.NumberColumn(format="%.4f"),
                "test acc": st.column_config.NumberColumn(format="%.4f"),
                "seconds": st.column_config.NumberColumn(format="%.1f"),
                "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        rows = event.selection.rows if event and event.selection else []
        if not rows:
            st.caption("Select a row to open or delete that run.")
            return
        rid = int(table.iloc[rows[0]]["id"])
        c1, c2, _ = st.columns([1, 1, 2])
        if c1.button(f"Open run #{rid}", key="train_open", type="primary", width="stretch"):
            open_run(rid)
        if c2.button(f"Delete run #{rid}…", key="train_delete", width="stretch"):
            confirm_delete(rid)

    history()


def open_run(rid: int) -> None:
    st.query_params.pop("cell", None)  # a confusion-matrix cell belongs to the run that was on screen
    run = get_store().get_run(rid)
    st.session_state["train_run_id"] = rid if run else None
    st.session_state.pop("train_missing", None)
    st.session_state.pop("train_notice", None)
    if run is not None:
        try:
            st.session_state["train_pending_form"] = forms.form_state(TrainConfig.from_dict(run.config))
        except (TypeError, ValueError, KeyError):
            pass
    st.rerun()


# ---------------------------------------------------------------------------------------------------------

data = dataset_or_stop()
read_view_params()
init_form()
current_run_id()
present = presenter_toggle()
if not present:
    st.title("Train a network")
    st.caption(
        "Build an MLP or a CNN, train it on the lab's 48,000/12,000 split, and watch it learn live. "
        "Training runs in a background worker: switch pages or reload, it keeps going."
    )

if present:  # the set-up folded away, the run full width: the curves fit a 1280x720 projector
    top_left, top_right = st.columns([3, 1], vertical_alignment="top")
    with top_left.expander("Set-up", expanded=False, icon=":material/tune:"):
        setup_panel()
    with top_right:
        chart_controls_ui()
    view = st.container()
else:
    setup, view = st.columns([5, 8], gap="large")
    with setup:
        setup_panel()
run_id = st.session_state.get("train_run_id")

run = None
with view:
    if st.session_state.get("train_notice"):
        st.info(st.session_state["train_notice"])
    missing = st.session_state.get("train_missing")
    if missing:
        st.warning(f"Run {missing} not found: it may have been deleted. Open a run from the history below.")
    run = get_store().get_run(run_id) if run_id is not None else None
    if run is None:
        if not missing:
            st.info(
                "No run on screen: choose a set-up and press **Start training**, or open a run from the "
                "history below. The lab's MLP on all 48,000 images takes a few seconds an epoch here."
            )
    else:
        if st.session_state.get("train_notice_run") == run.id and run.status in ACTIVE:
            st.info(f"Run #{run.id} with this exact set-up was already queued or running: this is it.")
        if not present:
            chart_controls_ui()
        rs = replay_state()
        if run.status in ACTIVE:
            poll = live_poll_seconds(run.status, bool(len(get_store().points(run.id))))
            st.fragment(run_every=poll)(live_view)(run.id, run.status, poll < LIVE_POLL_SECONDS)
        elif rs is not None and rs["run"] == run.id:
            render_header(run)
            points = get_store().points(run.id)
            polling = replay_polling(run, points)
            st.fragment(run_every=0.25 if polling else None)(replay_view)(run, points, polling)
        else:
            render_header(run)
            render_results(run)

if run is not None and run.status not in ACTIVE and not present:
    st.divider()
    render_evaluation(run)

if not present:
    st.divider()
    st.subheader("Run history")
    imported = render_import()
    if imported is not None:
        open_run(imported)
    render_history(bool(get_store().runs(status=ACTIVE, limit=1)))
sync_url(run.id if run is not None else None)
write_view_params()
