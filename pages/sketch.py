"""Sketch & classify: draw a garment (or upload a picture) and see what a trained network makes of it.

Reads like the screen: model picker (the sketch-robust default model preselected; it trains by itself
on a fresh server and the page switches to it when done), then input on the left and the answer on the
right (an honest verdict, the top guesses, the 28x28 the model sees, what drove it on demand), then
the most similar real test images. Models come only from the run store (fmnist_core.models_io);
uploads go through fmnist_core.sketch.load_upload and are cached by a SHA-256 of their bytes.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from fmnist_core import charts, explore, models_io, sketch
from fmnist_core.data import CLASS_NAMES, FashionMNIST
from fmnist_core.models import PRESETS, ModelSpec
from fmnist_core.progress import run_progress
from fmnist_core.sketch.default import (
    default_model_config,
    is_sketch_robust,
    preferred_model,
    queue_default_sketch_model,
)
from fmnist_core.store import ACTIVE, Run
from pages._shared import dataset_or_stop, get_runner, get_store
from pages._sketch_keras import keep_keras_warm
from pages._sketch_place import render_sketch_place
from pages._sketch_send import instant_send

CANVAS_PX = 336  # 12 canvas px per model px
# Shapes are filled with ~0.7 of the stroke's white: the interior level of real Fashion-MNIST items.
SHAPE_FILL = "#b3b3b3"
MODES = {
    "freedraw": "Freehand",
    "line": "Line",
    "rect": "Rectangle (filled)",
    "circle": "Circle (filled)",
    "polygon": "Polygon (filled)",
}
SOURCES = {"draw": ":material/draw: Draw", "upload": ":material/upload: Upload"}
BACKGROUNDS = {
    "auto": "Auto-detect",
    "light": "Light background (product photo)",
    "dark": "Dark background",
}
INVERT = {"auto": None, "light": True, "dark": False}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]
N_SIMILAR = 8
THUMB_ZOOM = 3  # similar images shown at 84 px (8 fit a row at 1280 px), upscaled without blur
DRAW_PROMPT = "Draw a garment on the black canvas: a trouser, a shoe, a bag… The model answers as you draw."
HINT = (
    "**Tip:** the data's items are *filled* silhouettes, large and centred, and its shoes face left; "
    "the default model also knows outlines and mirrored items, and closed outlines are filled for you."
)


# ------------------------------------------------------------------------------------ cached core calls


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(home: str, run_id: int, mtime: float):
    """A stored model, held across reruns and sessions; keyed by run id and file mtime so a
    retrained file is reloaded. Raises ModelLoadError (not cached)."""
    model = models_io.load_stored_model(get_store(), run_id)
    keep_keras_warm()  # Streamlit's per-run Keras reset keeps its compiled kernels (pages/_sketch_keras.py)
    return model


@st.cache_resource(show_spinner="Indexing the 10,000 test images…")
def similarity_bank(source: str, _x_test: np.ndarray) -> np.ndarray:
    return sketch.make_bank(_x_test)  # (10000, 784) unit rows, 31 MB, shared read-only


@st.cache_data(show_spinner=False, max_entries=32)
def prepare_upload(
    digest: str, background: str, fill: bool | str, _data: bytes
) -> tuple[np.ndarray | None, str]:
    """Upload bytes -> ((28, 28) input, "") or (None, message). Keyed on the bytes' SHA-256, never the
    bytes or arrays themselves."""
    try:
        image = sketch.load_upload(_data)
        return sketch.preprocess_image(image, invert=INVERT[background], fill=fill), ""
    except (sketch.BadImageError, sketch.EmptyCanvasError) as exc:
        return None, str(exc)
    except (ValueError, OSError) as exc:  # a decodable image that still cannot be framed
        return None, f"The image could not be processed ({exc})."


# ------------------------------------------------------------------------------------------- models


def preset_name(run: Run) -> str:
    try:
        spec = ModelSpec.from_dict(run.config.get("model", {}))
    except (TypeError, ValueError):
        return "custom model"
    return next((name for name, preset in PRESETS.items() if preset == spec), f"custom {spec.kind.upper()}")


def model_label(run: Run) -> str:
    acc = f"{run.test_accuracy:.1%} test" if run.test_accuracy is not None else "no test score"
    what = run.label or preset_name(run)
    robust = " · sketch-robust" if is_sketch_robust(run) and "sketch" not in what.lower() else ""
    stopped = " · stopped early" if run.status == "stopped" else ""
    return f"Run #{run.id} · {what}{robust} · {acc}{stopped}"


def model_ui(models: list[Run]) -> Run:
    """The stored model to use. The sketch-robust default is preselected, and selected again when a
    new one appears (the default model just finished); otherwise the user's choice stays."""
    by_id = {r.id: r for r in models}
    preferred = preferred_model(models)
    seen = st.session_state.get("sketch_seen_models")
    if preferred is not None and (seen is None or preferred.id not in seen):
        st.session_state["sketch_model"] = preferred.id
    if st.session_state.get("sketch_model") not in by_id:
        st.session_state["sketch_model"] = preferred.id if preferred else models[0].id
    st.session_state["sketch_seen_models"] = list(by_id)
    rid = st.selectbox(
        "Model",
        list(by_id),
        key="sketch_model",
        format_func=lambda i: model_label(by_id[i]),
        help="Every stored model from the Train page; the sketch-robust default is preselected.",
    )
    return by_id.get(rid, models[0])


def request_default_model() -> None:
    """The button's callback: retire the clicked key (a click replayed after a reconnect then finds no
    such button) and leave the request for the script body. Callbacks run before app.py's
    st.navigation, where get_runner()'s first-visit navigation check would rerun instead of starting."""
    st.session_state["sketch_nonce"] = uuid.uuid4().hex
    st.session_state["sketch_start_requested"] = True


def start_default_model() -> None:
    """Queue the default model once, as a background run (users' runs go first); a run of it already
    queued or running is reused (atomically, so two sessions clicking at the same instant share one run)."""
    st.session_state["sketch_default_run"] = queue_default_sketch_model(get_store())
    get_runner().ensure_workers()


@st.fragment(run_every=1.0)
def default_model_progress(run_id: int) -> None:
    """Polls the store once a second while the default model trains (in the worker, never here)."""
    get_runner().reconcile()
    store = get_store()
    run = store.get_run(run_id)
    if run is None or run.status not in ACTIVE:
        st.rerun()  # done (or gone): redraw the page, which now lists and selects the model
    if run.status == "queued":
        if run.started is not None:  # it yielded to users' runs, which go first
            prog = run_progress(run.config, store.points(run_id), started=run.started)
            st.progress(
                prog.fraction,
                text=f"Run #{run_id} is paused while runs from the Train page train (they go first); "
                "it continues after them",
            )
        else:
            pos = store.queue_position(run_id) or 1
            ahead = "" if pos == 1 else f" behind {pos - 1} run{'s' if pos > 2 else ''} from the Train page"
            st.progress(0.0, text=f"Run #{run_id} is queued{ahead}; the worker is starting…")
        get_runner().ensure_workers()
        return
    prog = run_progress(run.config, store.points(run_id), started=run.started)
    st.progress(prog.fraction, text=f"Training run #{run_id} · {prog.text}")


def default_model_ui(start_requested: bool, have_models: bool) -> None:
    """The default sketch model's progress while it trains (queued by itself on a fresh server), or a
    button to train it when no model is stored and none is on its way."""
    if start_requested:
        start_default_model()
    store = get_store()
    active = store.find_active(default_model_config().key())
    if active is not None:
        with st.container(border=True):
            st.markdown(
                f"**Training the sketch model (run #{active.id})**: a small CNN that learned from "
                "silhouettes, outlines, mirrored items and garment drawings, 2-3 minutes. You can draw meanwhile; "
                "the page switches to it when it is done."
            )
            default_model_progress(active.id)
        return
    if have_models:
        return
    with st.container(border=True):
        st.markdown(
            "**No trained model yet.** Train the sketch model here (a small CNN that knows drawings: "
            "2-3 minutes), or any model on the **Train** page."
        )
        last = st.session_state.get("sketch_default_run")
        failed = store.get_run(last) if last is not None else None
        if failed is not None and failed.status in ("failed", "interrupted"):
            st.warning(f"The last attempt (run #{failed.id}) {failed.status}. Try again.")
        others = store.runs(status=ACTIVE, limit=5)
        if others:
            st.info(
                f"Run #{others[0].id} is {others[0].status} on the Train page; when it finishes its model "
                "appears here. The sketch model would wait in the queue behind it."
            )
        nonce = st.session_state.setdefault("sketch_nonce", uuid.uuid4().hex)
        st.button(
            "Train the sketch model",
            icon=":material/bolt:",
            type="primary",
            key=f"sketch_train_default_{nonce}",
            on_click=request_default_model,
        )


# -------------------------------------------------------------------------------------------- input


def canvas_ui(fill: bool) -> tuple[np.ndarray | None, str, bool]:
    """The drawing canvas -> ((28, 28) input, "", filled?) or (None, prompt, False). A drawing too small
    to classify (a dot) or a painted-over canvas is refused with its own message here; one spread edge to
    edge like a scribble is answered, with a note."""
    result = st_canvas(
        fill_color=SHAPE_FILL,
        stroke_width=st.session_state.get("sketch_brush", 22),
        stroke_color="#ffffff",
        background_color="#000000",
        update_streamlit=True,
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode=st.session_state.get("sketch_mode") or "freedraw",
        return_image_data=True,
        key="sketch_canvas",
    )
    # The tools sit below the canvas: the canvas' own toolbar floats above its top edge, where it
    # covered the brush slider.
    c1, c2 = st.columns(2)
    mode = c1.selectbox("Tool", list(MODES), format_func=MODES.get, key="sketch_mode")
    c2.slider("Brush size", 4, 48, 22, 2, key="sketch_brush")
    st.caption(
        "The canvas' toolbar (top right): undo, redo, edit and the bin to clear. "
        + ("Polygon: click the corners, then the first corner again. " if mode == "polygon" else "")
        + HINT
    )
    instant_send(enabled=mode != "polygon")  # no 200 ms wait after each stroke (pages/_sketch_send.py)
    rgba = result.image_data  # (H, W, 4) uint8, None until the first stroke
    if rgba is None:
        return None, DRAW_PROMPT, False
    try:
        given = sketch.canvas_input(rgba, fill="auto" if fill else False)
    except sketch.FullCanvasError as exc:
        st.warning(str(exc), icon=":material/format_paint:")
        return None, "", False
    except sketch.EmptyCanvasError as exc:
        if not (sketch.canvas_intensity(rgba) > sketch.LIT_THRESHOLD).any():
            return None, DRAW_PROMPT, False  # nothing drawn (or cleared): a prompt, not a problem
        st.warning(str(exc), icon=":material/zoom_in:")
        return None, "", False
    except ValueError as exc:  # an image the canvas should never send
        st.warning(f"The drawing could not be read ({exc}).")
        return None, "", False
    if given.edge_to_edge:  # answered all the same (a big garment looks just like it), with a note
        st.warning(sketch.SCRIBBLE_NOTE, icon=":material/format_paint:")
    return given.x28, "", given.filled


def forget_rejected_upload() -> None:
    """A new file replaces a rejected one: the old error goes with it."""
    st.session_state.pop("sketch_upload_error", None)


def upload_ui(fill: bool) -> tuple[np.ndarray | None, str, bool]:
    """An uploaded picture -> ((28, 28) input, "", False) or (None, prompt or error, False). A rejected
    file is removed from the uploader (a fresh key) and its error shown once, until the next file."""
    nonce = st.session_state.setdefault("sketch_upload_nonce", 0)
    uploaded = st.file_uploader(
        "A picture of one garment (PNG, JPEG, WebP, BMP or GIF, up to 5 MB)",
        type=UPLOAD_TYPES,
        key="sketch_upload" if nonce == 0 else f"sketch_upload_{nonce}",
        on_change=forget_rejected_upload,
    )
    background = st.radio(
        "Background",
        list(BACKGROUNDS),
        format_func=BACKGROUNDS.get,
        horizontal=True,
        key="sketch_background",
        help="Auto inverts a light background (the data has light items on black).",
    )
    error = st.session_state.get("sketch_upload_error")
    if uploaded is None:
        if error:
            st.error(error, icon=":material/broken_image:")
            return None, "", False
        return None, "Upload a photo or drawing of a single item, ideally on a plain background.", False
    data = uploaded.getvalue()  # only the bytes: the file name is never used
    x28, message = prepare_upload(
        hashlib.sha256(data).hexdigest(), background, "auto" if fill else False, data
    )
    if x28 is None:
        st.session_state["sketch_upload_error"] = message
        st.session_state["sketch_upload_nonce"] = nonce + 1  # drop the rejected file from the uploader
        st.rerun()
    return x28, "", False


# ------------------------------------------------------------------------------------------- answer


def figure(kind: str, title: str, *arrays: np.ndarray):
    """The answer's Plotly figures. Not cached: each costs ~1 ms (charts reuses a validated frame and only
    assigns the data), less than a cache hit's unpickling, and every stroke is a new drawing."""
    if kind == "probs":
        return charts.probability_bars(arrays[0], CLASS_NAMES, top=5, title=title)
    if kind == "input":
        return charts.image_heatmap(arrays[0], title=title, height=280)
    return charts.saliency_overlay(arrays[0], arrays[1], title=title, height=280)


def digest_of(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def render_answer(answer: sketch.Answer) -> None:
    """The verdict: the class and its probability, or an honest "not a garment I know", then the top
    guesses either way."""
    probs = answer.probs
    order = np.argsort(-probs)
    best, runner_up = int(order[0]), int(order[1])
    if answer.garment:
        st.markdown(f"## {CLASS_NAMES[best]} · {probs[best]:.0%}")
        st.caption(f"Runner-up: {CLASS_NAMES[runner_up]} ({probs[runner_up]:.0%})")
        note = sketch.lookalike_note(answer)
        if note:
            st.caption(note)
    else:
        st.markdown("## Not a garment I know")
        st.caption(
            f"{answer.reason} Best guesses below: {CLASS_NAMES[best]} ({probs[best]:.0%}), "
            f"{CLASS_NAMES[runner_up]} ({probs[runner_up]:.0%})."
        )
    st.plotly_chart(
        figure("probs", "Top guesses" if not answer.garment else "Top classes", probs),
        width="stretch",
        key="sketch_probs_chart",
        config={"displayModeBar": False},
    )


@st.cache_data(show_spinner=False, max_entries=64)
def explanation(run_id: int, mtime: float, digest: str, _model, _x28: np.ndarray) -> tuple[np.ndarray, str]:
    """Grad-CAM (CNNs) or saliency (MLPs), computed once per model and input (keyed on a digest)."""
    if sketch.last_conv_layer(_model) is not None:
        return sketch.grad_cam(_model, _x28), "Grad-CAM: what drove it"
    return sketch.saliency_map(_model, _x28), "Saliency: what drove it"


def render_views(model, run: Run | None, mtime: float, x28: np.ndarray, *, filled: bool = False) -> None:
    c1, c2 = st.columns(2)
    # A chart, not st.image: its data travels with the answer, where an image is fetched afterwards.
    c1.plotly_chart(
        figure("input", "What the model sees (28×28)", x28),
        width="stretch",
        key="sketch_input_chart",
        config={"displayModeBar": False},
    )
    if filled:
        c1.caption("Your closed outline was filled, as the data's items are.")
    if model is None or run is None:
        return
    explain = c2.toggle(
        "Explain the answer",
        key="sketch_explain",
        help="Grad-CAM (or saliency for MLPs): the regions that pushed the model to its answer.",
    )
    if not explain:
        c2.caption("Turn on to see which regions drove the answer (Grad-CAM).")
        return
    heat, title = explanation(run.id, mtime, digest_of(x28), model, x28)
    c2.plotly_chart(
        figure("saliency", title, x28, heat),
        width="stretch",
        key="sketch_saliency_chart",
        config={"displayModeBar": False},
    )


def render_similar(data: FashionMNIST, idx: np.ndarray) -> None:
    st.markdown("**Most similar real images** (10,000 test images, cosine similarity of pixels)")
    thumbs = explore.upscale(data.x_test[idx], THUMB_ZOOM)  # crisp pixels
    st.image(
        list(thumbs),
        width=28 * THUMB_ZOOM,
        caption=[f"{CLASS_NAMES[int(data.y_test[i])]} · #{int(i)}" for i in idx],
    )


@st.fragment
def workbench(model, run: Run | None, mtime: float, have_models: bool) -> None:
    """Input on the left, the answer on the right, similar images below. A fragment: a stroke reruns
    only this part (not the navigation, the model picker or the store queries), which keeps mouse-up to
    answer short."""
    left, right = st.columns([5, 6], gap="large")
    with left:
        source = st.segmented_control(
            "Input",
            list(SOURCES),
            default="draw",
            required=True,
            format_func=SOURCES.get,
            key="sketch_source",
            label_visibility="collapsed",
        )
        fill = st.checkbox(
            "Fill closed outlines",
            value=True,
            key="sketch_fill",
            help="Items in the data are filled silhouettes: a drawing that is a closed outline is filled "
            "(filled drawings and open strokes are left as they are).",
        )
        x28, message, filled = (upload_ui if source == "upload" else canvas_ui)(fill)
        if source == "upload":
            st.caption(HINT)

    answer = None
    with right:
        if x28 is None:
            if message:
                st.info(message, icon=":material/draw:")
        else:
            if model is not None:
                bank = similarity_bank(data.source, data.x_test)
                answer = sketch.answer_for(model, x28, bank, k=N_SIMILAR, filled=filled)
                render_answer(answer)
            elif not have_models:
                st.info("The sketch model is on its way (above): then you see what it makes of your drawing.")
            render_views(model, run, mtime, x28, filled=filled)

    if x28 is not None:
        idx = (
            answer.nearest
            if answer is not None
            else sketch.similar_images(x28, similarity_bank(data.source, data.x_test), k=N_SIMILAR)
        )
        render_similar(data, idx)
        render_sketch_place(data, x28)


# --------------------------------------------------------------------------------------------- page

data = dataset_or_stop()
st.title("Sketch & classify")

store = get_store()
models = models_io.stored_models(store)
model = run = None
mtime = 0.0
start_requested = st.session_state.pop("sketch_start_requested", False)  # one click, one use
default_model_ui(start_requested, bool(models))
if models:
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    with c1:
        run = model_ui(models)
    c2.caption(
        "Draw an item of clothing, or upload a picture of one. Models come from the **Train** page; "
        "model files are never uploaded (loading someone else's model file can run their code)."
    )
    try:
        mtime = models_io.model_file(store, run.id).stat().st_mtime
        model = load_model(str(store.home), run.id, mtime)
    except (models_io.ModelLoadError, OSError) as exc:
        st.error(str(exc), icon=":material/error:")

workbench(model, run, mtime, bool(models))
