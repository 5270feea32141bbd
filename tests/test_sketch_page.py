"""AppTest of the sketch page through app.py's navigation: the default sketch model (one click, or
queued by itself; idempotent; preselected and switched to when done), model choice, a drawing injected
under the canvas' key coming back as an honest answer, and bad input (dots, painted-over canvases, bad
uploads, bad stored models) as messages, never tracebacks."""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fmnist_core.jobs import JobRunner
from fmnist_core.sketch.default import DEFAULT_LABEL, default_model_config
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from tests.test_sketch import photo, png_bytes, png_declaring

CANVAS = "sketch_canvas"


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


@pytest.fixture
def app_home(fmnist_home, monkeypatch):
    """A private store whose job runner never starts workers here. (The page's cached runner and
    loaded models are keyed by the store's home, and the dataset may stay cached across tests.)"""
    monkeypatch.setattr(JobRunner, "ensure_workers", lambda self: 0)  # runs stay queued: no training
    return fmnist_home


def tiny_model(keras, *, cnn: bool = False, outputs: int = 10):
    keras.utils.set_random_seed(0)
    if cnn:
        layers = [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
        ]
    else:
        layers = [keras.Input((784,))]
    return keras.Sequential([*layers, keras.layers.Dense(outputs, activation="softmax")])


def store_model(
    home, model, *, acc: float = 0.8, label: str = "tiny", config: TrainConfig | None = None
) -> int:
    store = RunStore(home)
    run_id = store.create_run(config or TrainConfig(epochs=1), label=label, status="running")
    path = store.save_model(run_id, model)
    store.finish_run(run_id, status="finished", test_accuracy=acc, model_path=str(path), seconds=3.0)
    store.close()
    return run_id


def canvas_state(rgba: np.ndarray) -> dict:
    """What the canvas component sends back: Fabric JSON plus a PNG data URL of the canvas."""
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}}


def trouser_canvas() -> np.ndarray:
    """Two thick white legs joined by a waistband, on the black 336x336 canvas."""
    a = np.zeros((336, 336, 4), np.uint8)
    a[..., 3] = 255
    for rows, cols in ((slice(30, 310), slice(110, 160)), (slice(30, 310), slice(180, 230))):
        a[rows, cols, :3] = 255
    a[30:80, 110:230, :3] = 255
    return a


def open_sketch(**state) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/sketch.py")
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def headings(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("## ")]


def is_answer(heading: str) -> bool:
    """A class and its probability, or the honest "not a garment" (a random tiny model is unsure)."""
    return heading == "## Not a garment I know" or (heading.endswith("%") and " · " in heading)


def chart_titles(at: AppTest) -> str:
    return " ".join(
        json.loads(c.proto.spec).get("layout", {}).get("title", {}).get("text", "")
        for c in at.get("plotly_chart")
    )


def plotly_array(z) -> np.ndarray:
    """A Plotly 6 JSON array ({"dtype", "bdata", "shape"} or plain lists) as numpy."""
    if isinstance(z, dict):
        shape = [int(n) for n in str(z.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=float)


def test_without_a_model_the_page_offers_a_default_model_and_starting_it_is_idempotent(app_home):
    at = open_sketch()
    assert at.title[0].value == "Sketch & classify"
    assert not at.error
    [button] = [b for b in at.button if b.key.startswith("sketch_train_default_")]
    assert button.label == "Train the sketch model"
    assert any(i.value.startswith("Draw a garment") for i in at.info)
    assert any("**Train** page" in m.value for m in at.markdown)

    old_key = button.key
    button.click().run()
    assert not at.exception, at.exception
    store = RunStore(app_home)
    [run] = store.runs()
    assert run.status == "queued" and run.config_key == default_model_config().key()
    assert run.config["augment"] == "sketch" and run.config["model"]["kind"] == "cnn"
    # While it is queued the page shows its progress instead of another button ...
    assert not [b for b in at.button if b.key.startswith("sketch_train_default_")]
    assert any(f"Run #{run.id} is queued" in p.proto.text for p in at.get("progress"))
    # ... and a replay of the old click (a reconnect) finds no such button.
    assert old_key not in [b.key for b in at.button]
    at.run()
    assert len(store.runs()) == 1
    store.close()


def test_a_drawing_comes_back_as_a_prediction_with_its_views(app_home, keras):
    store_model(app_home, tiny_model(keras))
    at = open_sketch(**{CANVAS: canvas_state(trouser_canvas())})
    assert not at.error, [e.value for e in at.error]
    [heading] = headings(at)
    assert is_answer(heading), heading
    titles = chart_titles(at)
    assert "Top " in titles and "What the model sees" in titles
    assert "Saliency" not in titles  # explanations only on demand (they cost most of a rerun)
    assert any("Most similar real images" in m.value for m in at.markdown)
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 8 and all(" · #" in c for c in captions)
    at.toggle(key="sketch_explain").set_value(True).run()
    assert not at.exception and "Saliency" in chart_titles(at)
    # Inference survives Streamlit's clear_session between runs: the same answer again.
    at.run()
    assert not at.exception and headings(at) == [heading]


def constant_model(keras, label: int):
    """A model that answers `label` for any input (zero weights, a one-hot bias): ~100%."""
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")
    model = keras.Sequential([keras.Input((784,)), dense])
    dense.bias.assign(np.eye(10, dtype=np.float32)[label] * 12.0)
    return model


@pytest.mark.parametrize(("label", "noted"), [(6, True), (1, False)])
def test_a_shirt_answer_says_that_drawn_coats_and_shirts_look_alike(app_home, keras, label, noted):
    store_model(app_home, constant_model(keras, label))
    at = open_sketch(**{CANVAS: canvas_state(trouser_canvas())})
    assert not at.error, [e.value for e in at.error]
    assert headings(at) == [f"## {('Trouser', 'Shirt')[label == 6]} · 100%"]
    captions = " ".join(c.value for c in at.caption)
    assert ("A drawn coat is often read as a shirt" in captions) is noted


def test_best_model_is_preselected_and_a_cnn_gets_grad_cam(app_home, keras):
    store_model(app_home, tiny_model(keras), acc=0.70, label="mlp")
    best = store_model(app_home, tiny_model(keras, cnn=True), acc=0.90, label="cnn")
    at = open_sketch(**{CANVAS: canvas_state(trouser_canvas())})
    select = at.selectbox(key="sketch_model")
    assert select.value == best
    assert select.options[0].startswith(f"Run #{best} · cnn · 90.0% test")
    at.toggle(key="sketch_explain").set_value(True).run()
    assert "Grad-CAM" in chart_titles(at)
    select.set_value(best - 1).run()
    assert not at.exception and "Saliency" in chart_titles(at)


def test_empty_canvas_is_a_prompt_and_a_dot_is_refused_with_a_message(app_home, keras):
    store_model(app_home, tiny_model(keras))
    blank = np.zeros((336, 336, 4), np.uint8)
    at = open_sketch(**{CANVAS: canvas_state(blank)})
    assert any(i.value.startswith("Draw a garment") for i in at.info)
    assert not at.warning and not at.error and not headings(at)

    dot = blank.copy()
    dot[160:168, 160:168] = 255
    at.session_state[CANVAS] = canvas_state(dot)
    at.run()
    assert not at.exception
    assert any("too small to classify" in w.value for w in at.warning)
    assert not headings(at)


def test_fill_option_reaches_the_preprocessing(app_home, keras):
    store_model(app_home, tiny_model(keras))
    outline = np.zeros((336, 336, 4), np.uint8)
    outline[..., 3] = 255
    outline[40:300, 60:280, :3] = 255
    outline[60:280, 80:260, :3] = 0  # a hollow box
    at = open_sketch(**{CANVAS: canvas_state(outline)})

    def middle() -> float:
        spec = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        seen = next(s for s in spec if "What the model sees" in s["layout"]["title"]["text"])
        return float(plotly_array(seen["data"][0]["z"])[14, 14])

    assert at.checkbox(key="sketch_fill").value  # on by default: a closed outline is filled
    assert not at.exception and headings(at)
    assert middle() > 0.5
    at.checkbox(key="sketch_fill").uncheck().run()
    assert not at.exception and headings(at)
    assert middle() == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Hello, this is a text file.\n" * 20, "not an image"),
        (png_bytes(photo())[:300], "corrupt or truncated"),
        (png_declaring(20000, 20000), "too large"),
        (png_bytes(Image.new("1", (5000, 5000))), "too large"),  # a real few-KB decompression bomb
        (png_bytes(Image.new("RGB", (64, 64), "white")), "blank"),
    ],
    ids=["text", "truncated", "bomb-header", "bomb-real", "blank"],
)
def test_bad_uploads_show_a_clear_error(app_home, keras, data, message):
    store_model(app_home, tiny_model(keras))
    at = open_sketch(sketch_source="upload")
    at.file_uploader(key="sketch_upload").upload("../../etc/passwd.png", data, "image/png").run()
    assert not at.exception, at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not headings(at)


def sixteen_bit() -> bytes:
    return png_bytes(Image.fromarray(np.asarray(photo(), np.uint16) * 257))


def alpha_png() -> bytes:
    a = np.zeros((300, 200, 4), np.uint8)
    a[70:230, 60:140] = (60, 60, 60, 255)
    return png_bytes(Image.fromarray(a, "RGBA"))


@pytest.mark.parametrize(
    "data",
    [sixteen_bit(), png_bytes(photo().convert("P")), alpha_png(), png_bytes(photo(), "JPEG")],
    ids=["16-bit", "palette", "alpha", "jpeg"],
)
def test_unusual_but_valid_uploads_are_classified(app_home, keras, data):
    store_model(app_home, tiny_model(keras))
    at = open_sketch(sketch_source="upload")
    at.file_uploader(key="sketch_upload").upload("item.png", data, "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(headings(at)) == 1
    at.radio(key="sketch_background").set_value("dark").run()  # told it is dark: the item vanishes
    assert not at.exception


def test_a_stored_non_classifier_is_refused_with_a_message(app_home, keras):
    store_model(app_home, tiny_model(keras, outputs=3))
    at = open_sketch(**{CANVAS: canvas_state(trouser_canvas())})
    assert any("not a Fashion-MNIST classifier" in e.value for e in at.error)
    assert not headings(at)
    assert any("What the model sees" in t for t in [chart_titles(at)])


def test_a_missing_model_file_drops_the_model_from_the_list(app_home, keras):
    run_id = store_model(app_home, tiny_model(keras))
    RunStore(app_home).model_path(run_id).unlink()
    at = open_sketch()
    assert not at.error
    assert [b for b in at.button if b.key.startswith("sketch_train_default_")]


def test_the_sketch_robust_default_is_preselected_and_switched_to_when_it_appears(app_home, keras):
    accurate = store_model(app_home, tiny_model(keras), acc=0.95, label="accurate mlp")
    at = open_sketch()
    assert at.selectbox(key="sketch_model").value == accurate
    # The default sketch model finishes (it would be a CNN; any classifier does for the page).
    robust = store_model(
        app_home, tiny_model(keras), acc=0.85, label=DEFAULT_LABEL, config=default_model_config()
    )
    at.run()
    assert not at.exception
    select = at.selectbox(key="sketch_model")
    assert select.value == robust  # switched to it, though another model scores higher
    assert len(select.options) == 2  # every stored model is still listed
    select.set_value(accurate).run()
    at.run()
    assert at.selectbox(key="sketch_model").value == accurate  # the user's choice then stays


def test_a_fresh_server_queues_the_default_model_by_itself_once(app_home, monkeypatch):
    monkeypatch.setenv("FMNIST_AUTO_SKETCH_MODEL", "1")
    at = open_sketch()
    store = RunStore(app_home)
    [run] = store.runs()
    assert run.status == "queued" and run.config_key == default_model_config().key()
    assert any(f"Training the sketch model (run #{run.id})" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key.startswith("sketch_train_default_")]
    at.run()
    at2 = open_sketch()  # a second session: still one run
    assert not at2.exception and len(store.runs()) == 1
    store.close()


def test_a_painted_over_canvas_gets_its_own_message(app_home, keras):
    store_model(app_home, tiny_model(keras))
    painted = np.full((336, 336, 4), 255, np.uint8)
    at = open_sketch(**{CANVAS: canvas_state(painted)})
    assert not at.exception and not at.error
    assert any("whole canvas is painted" in w.value for w in at.warning)
    assert not any(i.value.startswith("Draw a garment") for i in at.info)
    assert not headings(at)


def test_a_rejected_upload_leaves_the_uploader_and_its_error_goes_with_the_next_file(app_home, keras):
    store_model(app_home, tiny_model(keras))
    at = open_sketch(sketch_source="upload")
    at.file_uploader(key="sketch_upload").upload("x.png", b"not an image" * 10, "image/png").run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    [uploader] = at.get("file_uploader")
    assert uploader.key != "sketch_upload"  # a fresh, empty uploader: the rejected file is gone
    at.file_uploader(key=uploader.key).upload("item.png", png_bytes(photo()), "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(headings(at)) == 1
