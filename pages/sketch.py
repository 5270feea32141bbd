"""Sketch & classify: draw a garment (or upload a picture) and see what a trained network makes of it.

Reads like the screen: model picker (or a one-click default model), then input on the left and the
answer on the right (winner, class probabilities, the 28x28 the model sees, what drove it), then the
most similar real test images. Models come only from the run store (fmnist_core.models_io); uploads
go through fmnist_core.sketch.load_upload and are cached by a SHA-256 of their bytes.
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
from fmnist_core.store import ACTIVE, Run
from fmnist_core.training import TrainConfig
from pages._shared import dataset_or_stop, get_runner, get_store

# The one-click model: the lab's MLP on all 48,000 training images for 5 epochs. Measured on this
# 2-core machine (shared): ~25 s of fit, ~40 s end to end, test accuracy 0.863. cnn_fast for 2 epochs
# reached 0.887 but took ~280 s under the same load.
DEFAULT_CONFIG = TrainConfig(model=PRESETS["lab_mlp"], epochs=5, batch_size=64)
DEFAULT_LABEL = "lab_mlp · Adam · default for Sketch"
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
THUMB_ZOOM = 4  # similar images shown at 112 px, upscaled without blur
DRAW_PROMPT = "Draw a garment on the black canvas: a trouser, a shoe, a bag… The model answers as you draw."
HINT = (
    "**Draw like the data:** items are *filled* silhouettes, large and centred, and shoes face **left** "
    "(toe on the left). Use thick strokes or the filled shapes, or tick *Fill closed outlines*."
)


# ------------------------------------------------------------------------------------ cached core calls


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_model(home: str, run_id: int, mtime: float):
    """A stored model, held across reruns and sessions; keyed by run id and file mtime so a
    retrained file is reloaded. Raises ModelLoadError (not cached)."""
    return models_io.load_stored_model(get_store(), run_id)


@st.cache_resource(show_spinner="Indexing the 10,000 test images…")
def similarity_bank(source: str, _x_test: np.ndarray) -> np.ndarray:
    return sketch.make_bank(_x_test)  # (10000, 784) unit rows, 31 MB, shared read-only


@st.cache_data(show_spinner=False, max_entries=32)
def prepare_upload(digest: str, background: str, fill: bool, _data: bytes) -> tuple[np.ndarray | None, str]:
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
    acc = f"{run.test_accuracy:.1%} test accuracy" if run.test_accuracy is not None else "no test score"
    what = run.label or preset_name(run)
    stopped = " · stopped early" if run.status == "stopped" else ""
    return f"Run #{run.id} · {what} · {acc}{stopped}"


def model_ui(models: list[Run]) -> Run:
    """The stored model to use; the best test accuracy comes first and is preselected."""
    by_id = {r.id: r for r in models}
    rid = st.selectbox(
        "Model",
        list(by_id),
        index=0,
        key="sketch_model",
        format_func=lambda i: model_label(by_id[i]),
        help="Finished runs from the Train page, best test accuracy first.",
    )
    return by_id.get(rid, models[0])


def request_default_model() -> None:
    """The button's callback: retire the clicked key (a click replayed after a reconnect then finds no
    such button) and leave the request for the script body. Callbacks run before app.py's
    st.navigation, where get_runner()'s first-visit navigation check would rerun instead of starting."""
    st.session_state["sketch_nonce"] = uuid.uuid4().hex
    st.session_state["sketch_start_requested"] = True


def start_default_model() -> None:
    """Queue the default model once; a run of it already queued or running is reused (atomically, so two
    sessions clicking at the same instant share one run)."""
    run_id, _ = get_runner().submit_once(DEFAULT_CONFIG, label=DEFAULT_LABEL)
    st.session_state["sketch_default_run"] = run_id


@st.fragment(run_every=1.0)
def default_model_progress(run_id: int) -> None:
    """Polls the store once a second while the default model trains (in the worker, never here)."""
    get_runner().reconcile()
    store = get_store()
    run = store.get_run(run_id)
    if run is None or run.status not in ACTIVE:
        st.rerun()  # done (or gone): redraw the page, which now lists the model
    if run.status == "queued":
        pos = store.queue_position(run_id)
        st.progress(0.0, text=f"Run #{run_id} is queued (position {pos}); the worker is starting…")
        get_runner().ensure_workers()
        return
    prog = run_progress(run.config, store.points(run_id), started=run.started)
    st.progress(prog.fraction, text=f"Training run #{run_id} · {prog.text}")


def no_model_ui(start_requested: bool) -> None:
    """Offer (or show the progress of) the one-click default model."""
    if start_requested:
        start_default_model()
    store = get_store()
    active = store.find_active(DEFAULT_CONFIG.key())
    rid = active.id if active is not None else None
    with st.container(border=True):
        if rid is not None:
            st.markdown(f"**Training a default model (run #{rid})** — you can draw meanwhile.")
            default_model_progress(rid)
            return
        st.markdown(
            "**No trained model yet.** Train a quick one here (the lab's MLP, 5 epochs on all 48,000 "
            "training images: under a minute here), or a stronger one on the **Train** page."
        )
        last = st.session_state.get("sketch_default_run")
        failed = store.get_run(last) if last is not None else None
        if failed is not None and failed.status in ("failed", "interrupted"):
            st.error(f"The default model's run #{failed.id} {failed.status}: {failed.error}")
        others = store.runs(status=ACTIVE, limit=5)
        if others:
            st.info(
                f"Run #{others[0].id} is {others[0].status} on the Train page; when it finishes its model "
                "appears here. A default model would wait in the queue behind it."
            )
        nonce = st.session_state.setdefault("sketch_nonce", uuid.uuid4().hex)
        st.button(
            "Train a default model",
            icon=":material/bolt:",
            type="primary",
            key=f"sketch_train_default_{nonce}",
            on_click=request_default_model,
        )


# -------------------------------------------------------------------------------------------- input


def canvas_ui(fill: bool) -> tuple[np.ndarray | None, str]:
    """The drawing canvas -> ((28, 28) input, "") or (None, prompt). A drawing too small to classify
    (a dot) is refused with a warning here."""
    c1, c2 = st.columns(2)
    mode = c1.selectbox("Tool", list(MODES), format_func=MODES.get, key="sketch_mode")
    width = c2.slider("Brush size", 4, 48, 22, 2, key="sketch_brush")
    result = st_canvas(
        fill_color=SHAPE_FILL,
        stroke_width=width,
        stroke_color="#ffffff",
        background_color="#000000",
        update_streamlit=True,
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode=mode or "freedraw",
        return_image_data=True,
        key="sketch_canvas",
    )
    st.caption(
        "The canvas' toolbar: undo, redo, edit (move or delete shapes) and the bin to clear. "
        + (
            "Polygon: click the corners, then the first corner again to close it. "
            if mode == "polygon"
            else ""
        )
        + HINT
    )
    rgba = result.image_data  # (H, W, 4) uint8, None until the first stroke
    if rgba is None:
        return None, DRAW_PROMPT
    try:
        return sketch.preprocess_canvas(rgba, fill=fill), ""
    except sketch.EmptyCanvasError as exc:
        if not (sketch.canvas_intensity(rgba) > sketch.LIT_THRESHOLD).any():
            return None, DRAW_PROMPT  # nothing drawn (or cleared): a prompt, not a problem
        st.warning(str(exc), icon=":material/zoom_in:")
        return None, ""
    except ValueError as exc:  # an image the canvas should never send
        st.warning(f"The drawing could not be read ({exc}).")
        return None, ""


def upload_ui(fill: bool) -> tuple[np.ndarray | None, str]:
    """An uploaded picture -> ((28, 28) input, "") or (None, prompt or error)."""
    uploaded = st.file_uploader(
        "A picture of one garment (PNG, JPEG, WebP, BMP or GIF, up to 5 MB)",
        type=UPLOAD_TYPES,
        key="sketch_upload",
    )
    background = st.radio(
        "Background",
        list(BACKGROUNDS),
        format_func=BACKGROUNDS.get,
        horizontal=True,
        key="sketch_background",
        help="Auto inverts a light background (the data has light items on black).",
    )
    if uploaded is None:
        return None, "Upload a photo or drawing of a single item, ideally on a plain background."
    data = uploaded.getvalue()  # only the bytes: the file name is never used
    x28, message = prepare_upload(hashlib.sha256(data).hexdigest(), background, fill, data)
    if x28 is None:
        st.error(message, icon=":material/broken_image:")
        return None, ""
    return x28, ""


# ------------------------------------------------------------------------------------------- answer


def render_answer(model, x28: np.ndarray) -> None:
    probs = sketch.predict_probs(model, x28[None])[0]
    order = np.argsort(-probs)
    best, runner_up = int(order[0]), int(order[1])
    st.markdown(f"## {CLASS_NAMES[best]} · {probs[best]:.0%}")
    st.caption(
        f"Runner-up: {CLASS_NAMES[runner_up]} ({probs[runner_up]:.0%})"
        + (" — the model is unsure: try a fuller, larger drawing." if probs[best] < 0.5 else "")
    )
    st.plotly_chart(
        charts.probability_bars(probs, CLASS_NAMES, top=5, title="Top classes"),
        width="stretch",
        key="sketch_probs_chart",
        config={"displayModeBar": False},
    )


def render_views(model, x28: np.ndarray) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.image_heatmap(x28, title="What the model sees (28×28)", height=280),
        width="stretch",
        key="sketch_input_chart",
        config={"displayModeBar": False},
    )
    if model is None:
        return
    if sketch.last_conv_layer(model) is not None:
        heat, title = sketch.grad_cam(model, x28), "Grad-CAM: regions behind the answer"
    else:
        heat, title = sketch.saliency_map(model, x28), "Saliency: pixels behind the answer"
    c2.plotly_chart(
        charts.saliency_overlay(x28, heat, title=title, height=280),
        width="stretch",
        key="sketch_saliency_chart",
        config={"displayModeBar": False},
    )


def render_similar(data: FashionMNIST, x28: np.ndarray) -> None:
    st.markdown("**Most similar real images** (10,000 test images, cosine similarity of pixels)")
    idx = sketch.similar_images(x28, similarity_bank(data.source, data.x_test), k=N_SIMILAR)
    cols = st.columns(N_SIMILAR)
    thumbs = explore.upscale(data.x_test[idx], THUMB_ZOOM)  # crisp pixels
    for col, i, big in zip(cols, idx, thumbs, strict=False):
        col.image(big, width="stretch", caption=f"{CLASS_NAMES[int(data.y_test[i])]} · #{int(i)}")


# --------------------------------------------------------------------------------------------- page

data = dataset_or_stop()
st.title("Sketch & classify")

store = get_store()
models = models_io.stored_models(store)
model = run = None
start_requested = st.session_state.pop("sketch_start_requested", False)  # one click, one use
if not models:
    no_model_ui(start_requested)
else:
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

left, right = st.columns([5, 6], gap="large")
with left:
    c1, c2 = st.columns(2, vertical_alignment="center")
    source = c1.segmented_control(
        "Input",
        list(SOURCES),
        default="draw",
        required=True,
        format_func=SOURCES.get,
        key="sketch_source",
        label_visibility="collapsed",
    )
    fill = c2.checkbox(
        "Fill closed outlines",
        key="sketch_fill",
        help="Items in the data are filled silhouettes: this fills whatever your strokes enclose.",
    )
    x28, message = (upload_ui if source == "upload" else canvas_ui)(fill)
    if source == "upload":
        st.caption(HINT)

with right:
    if x28 is None:
        if message:
            st.info(message, icon=":material/draw:")
    else:
        if model is not None:
            render_answer(model, x28)
        elif not models:
            st.info("Train a model (above) to see what it makes of your drawing.", icon=":material/bolt:")
        render_views(model, x28)

if x28 is not None:
    render_similar(data, x28)
