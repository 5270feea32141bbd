"""The Train page's curves and how people watch them: chart controls (smoothing, log loss, images on x),
presenter mode for a projector, big numbers, and replays of recorded runs. All kept in the URL."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from fmnist_core import charts, replay
from fmnist_core.progress import n_train_images
from fmnist_core.store import Run

# Large type for a projector: metric values, headings, captions and chart fonts grow; no user text here.
PRESENTER_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem !important; }
[data-testid="stMain"] [data-testid="stMetricValue"], [data-testid="stMain"] [data-testid="stMetricValue"] * {
  font-size: 3.4rem !important; line-height: 1.1 !important; }
[data-testid="stMain"] [data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stMain"] h1 { font-size: 2.6rem !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.15rem !important; }
</style>"""
VIEW_PARAMS = {"train_smooth": "smooth", "train_log": "log", "train_x": "x", "train_present": "present"}


@dataclass(frozen=True)
class ChartOptions:
    smoothing: float = 0.0
    log_loss: bool = False
    x_unit: str = "epochs"
    present: bool = False


def read_view_params() -> None:
    """Once per session: the chart controls and presenter mode from the URL (bad values are ignored)."""
    if st.session_state.get("train_view_read"):
        return
    st.session_state["train_view_read"] = True
    q = st.query_params
    try:
        smooth = float(q.get("smooth", "0"))
        if 0.0 <= smooth <= 0.95:
            st.session_state["train_smooth"] = round(smooth / 0.05) * 0.05
    except ValueError:
        pass
    st.session_state["train_log"] = q.get("log") == "1"
    if q.get("x") in ("epochs", "images"):
        st.session_state["train_x"] = q.get("x")
    st.session_state["train_present"] = q.get("present") == "1"


def write_view_params() -> None:
    o = options()
    wanted = {
        "smooth": f"{o.smoothing:g}" if o.smoothing else None,
        "log": "1" if o.log_loss else None,
        "x": "images" if o.x_unit == "images" else None,
        "present": "1" if o.present else None,
    }
    for name, value in wanted.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value


def options() -> ChartOptions:
    return ChartOptions(
        smoothing=float(st.session_state.get("train_smooth", 0.0)),
        log_loss=bool(st.session_state.get("train_log", False)),
        x_unit=st.session_state.get("train_x", "epochs"),
        present=bool(st.session_state.get("train_present", False)),
    )


def presenter_toggle(
    key: str = "train_present",
    help: str = "For a projector: large type, the set-up folded away, the live charts full width.",
) -> bool:
    """The presenter-mode switch (sidebar) of a page; also `?present=1`. Returns whether it is on."""
    st.session_state.setdefault(key, False)
    on = st.sidebar.toggle("Presenter mode", key=key, help=help)
    if on:
        st.html(PRESENTER_CSS)
    return on


def chart_controls_ui() -> None:
    """Smoothing, log-scale loss and the x axis, as TensorBoard offers them (in a popover: the charts
    keep the room)."""
    for key, value in (("train_smooth", 0.0), ("train_log", False), ("train_x", "epochs")):
        st.session_state.setdefault(key, value)
    o = options()
    changed = sum([o.smoothing > 0, o.log_loss, o.x_unit == "images"])
    label = f"Chart options ({changed})" if changed else "Chart options"
    with st.popover(label, icon=":material/tune:"):
        st.slider(
            "Smoothing",
            0.0,
            0.95,
            step=0.05,
            key="train_smooth",
            help="Exponential moving average of the within-epoch curve (TensorBoard's); the raw curve stays "
            "faint behind it.",
        )
        st.toggle("Log-scale loss", key="train_log")
        st.radio(
            "x axis",
            ["epochs", "images"],
            key="train_x",
            horizontal=True,
            format_func=lambda v: "images seen" if v == "images" else "epochs",
        )


def render_curves(run: Run, points: pd.DataFrame, *, key: str = "") -> None:
    o = options()
    per_epoch = n_train_images(run.config)
    height = 420 if o.present else 380
    common = dict(
        smoothing=o.smoothing, x_unit=o.x_unit or "epochs", images_per_epoch=per_epoch, height=height
    )
    loss = charts.training_curves(points, metric="loss", title="Loss", log_y=o.log_loss, **common)
    acc = charts.training_curves(points, metric="accuracy", title="Accuracy", **common)
    if o.present:  # readable from the back of a classroom
        for fig in (loss, acc):
            fig.update_layout(font=dict(size=16), title_font=dict(size=22), legend_font=dict(size=15))
    c1, c2 = st.columns(2)
    c1.plotly_chart(loss, width="stretch", key=f"train_loss_chart_{run.id}{key}")
    c2.plotly_chart(acc, width="stretch", key=f"train_acc_chart_{run.id}{key}")
    if not o.present:
        st.caption(
            "Thin lines inside an epoch are Keras' running means over the epoch so far; markers are epoch ends."
        )


def big_numbers(run: Run, points: pd.DataFrame) -> None:
    """Epoch, loss and accuracy in large type (the newest values)."""
    epochs = int(run.config.get("epochs", 0))
    m = st.columns(4)
    if points is None or points.empty:
        m[0].metric("Epoch", f"0/{epochs}")
        return
    last = points.iloc[-1]
    epoch_rows = points[points["kind"] == "epoch"]
    val = epoch_rows["val_accuracy"].dropna()
    m[0].metric("Epoch", f"{int(last['epoch'])}/{epochs}")
    m[1].metric("Loss", f"{float(last['loss']):.3f}" if pd.notna(last["loss"]) else "–")
    m[2].metric("Accuracy", f"{float(last['accuracy']):.1%}" if pd.notna(last["accuracy"]) else "–")
    m[3].metric("Validation acc.", f"{float(val.iloc[-1]):.1%}" if len(val) else "–")


# -- replay -------------------------------------------------------------------------------------------------


def start_replay(run_id: int, speed: int) -> None:
    st.session_state["train_replay"] = {"run": run_id, "speed": speed, "t0": time.time(), "paused": None}


def replay_state() -> dict | None:
    return st.session_state.get("train_replay")


def _elapsed(state: dict) -> float:
    end = state["paused"] if state["paused"] is not None else time.time()
    return end - state["t0"]


def _toggle_pause() -> None:
    state = st.session_state["train_replay"]
    if state["paused"] is None:
        state["paused"] = time.time()
    else:  # resume: move the start forward by the pause
        state["t0"] += time.time() - state["paused"]
        state["paused"] = None


def _stop_replay() -> None:
    st.session_state.pop("train_replay", None)
    if "replay" in st.query_params:
        del st.query_params["replay"]


def replay_controls(run: Run) -> None:
    """Replay this ended run as if it were training live, at 1x (its real timing), 4x or 16x."""
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    speed = c1.segmented_control(
        "Replay speed",
        replay.SPEEDS,
        default=4,
        key=f"train_replay_speed_{run.id}",
        format_func=lambda s: f"{s}×",
    )
    if c2.button("Replay", icon=":material/replay:", key=f"train_replay_{run.id}", width="stretch"):
        start_replay(run.id, int(speed or 4))
        st.query_params["replay"] = str(int(speed or 4))
        st.rerun()


def replay_polling(run: Run, points: pd.DataFrame) -> bool:
    """Whether the replay of `run` needs the clock (playing and not at its end)."""
    state = replay_state()
    if state is None or state["run"] != run.id or state["paused"] is not None:
        return False
    return not replay.replay_at(points, _elapsed(state), state["speed"]).done


def replay_view(run: Run, points: pd.DataFrame, polling: bool) -> None:
    """The replay's progress, controls and curves. Drawn in a fragment that polls only while it plays."""
    state = replay_state()
    if state is None or state["run"] != run.id:
        return
    now = replay.replay_at(points, _elapsed(state), state["speed"])
    if polling and now.done:
        st.rerun()  # the end: redraw once without the clock
    shown = now.shown
    epochs = int(run.config.get("epochs", 0))
    epoch = int(shown["epoch"].max()) if len(shown) else 0
    status = "paused" if state["paused"] is not None else ("done" if now.done else "playing")
    st.progress(
        now.fraction,
        text=f"Replay {state['speed']}× · {status} · epoch {epoch}/{epochs} · {now.seconds_left:.0f} s left",
    )
    c1, c2, c3 = st.columns(3)
    paused = state["paused"] is not None
    # (three buttons on one row: in presenter mode the curves must fit a 720-pixel-high screen)
    if c1.button(
        "Resume" if paused else "Pause",
        icon=":material/play_arrow:" if paused else ":material/pause:",
        key="train_replay_pause",
        disabled=now.done,
        width="stretch",
    ):
        _toggle_pause()
        st.rerun()  # the whole page: the fragment's clock starts or stops
    if c2.button("Restart", icon=":material/restart_alt:", key="train_replay_restart", width="stretch"):
        start_replay(run.id, state["speed"])
        st.rerun()
    if c3.button("End replay", icon=":material/close:", key="train_replay_end", width="stretch"):
        _stop_replay()
        st.rerun()
    if options().present:
        big_numbers(run, shown)
    render_curves(run, shown, key="_replay")
