"""AppTest: the dataset explorer's widgets change what it shows (real Fashion-MNIST, via app.py)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = [
    pytest.mark.realdata,
]


@pytest.fixture
def at(fmnist_home, monkeypatch) -> AppTest:
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    app = AppTest.from_file("../app.py", default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def _grid_captions(app: AppTest) -> list[str]:
    return list(app.get("image")[0].captions)


def _caption_with(app: AppTest, text: str) -> str:
    hits = [c.value for c in app.caption if text in c.value]
    assert hits, [c.value for c in app.caption]
    return hits[0]


def _chart_spec(app: AppTest, needle: str) -> dict:
    specs = [json.loads(e.proto.spec) for e in app.get("plotly_chart")]
    hits = [s for s in specs if needle in json.dumps(s, ensure_ascii=False)]
    assert hits, f"no chart mentions {needle!r}"
    return hits[0]


def _array(value) -> np.ndarray:
    """A Plotly JSON array: a plain list, or Plotly 6's typed-array dict (base64 `bdata`)."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(d) for d in str(value.get("shape", len(arr))).split(",")]
        return arr.reshape(shape)
    return np.asarray(value)


def _open_tab(app: AppTest, label: str) -> None:
    """Tabs are lazy (only the open one runs): open one the way a click does."""
    app.session_state["explore_tab"] = label
    app.run()
    assert not app.exception, app.exception


def test_explorer_shows_summary_grid_and_charts(at):
    assert at.title[0].value == "Dataset explorer"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Train images"] == "60,000" and metrics["Test images"] == "10,000"
    assert metrics["Image size"] == "28×28" and metrics["dtype"] == "uint8"
    assert metrics["Pixel range"] == "0–255" and metrics["Classes"] == "10"
    assert metrics["Train per class"] == "6,000"
    assert "/usr/share/datasets/fashion-mnist" in at.caption[0].value  # where the data came from
    captions = _grid_captions(at)
    assert len(captions) == 32
    assert captions[:2] == ["9 · Ankle boot", "0 · T-shirt/top"]  # the first training images
    assert [t.label for t in at.tabs] == ["Images", "Class mean & std", "PCA projection", "Pixel intensities"]
    # Lazy tabs: a first visit runs the Images tab only (distribution and inspector charts).
    first = len(at.get("plotly_chart"))
    assert first >= 2 and not any("PC1 (" in e.proto.spec for e in at.get("plotly_chart"))
    _open_tab(at, "Class mean & std")
    assert any("explore_meanstd_chart" in e.proto.id for e in at.get("plotly_chart"))
    assert not at.get("image")  # the grid is not built while its tab is closed
    _open_tab(at, "PCA projection")
    _chart_spec(at, "PC1 (")
    _open_tab(at, "Pixel intensities")
    _chart_spec(at, "share of the class")
    _open_tab(at, "Images")
    assert len(_grid_captions(at)) == 32
    assert not at.error and not at.exception


def test_class_filter_split_and_paging_change_the_grid(at):
    at.multiselect(key="explore_classes").select(7).select(5).run()
    captions = _grid_captions(at)
    assert set(captions) == {"7 · Sneaker", "5 · Sandal"}
    assert "12,000 train images match · page 1 of 375" in _caption_with(at, "images match")

    at.radio(key="explore_split").set_value("test").run()
    assert "2,000 test images match" in _caption_with(at, "images match")
    assert set(_grid_captions(at)) == {"7 · Sneaker", "5 · Sandal"}

    first_page = at.selectbox(key="explore_inspect").options
    at.get("pagination")[0].set_value(3).run()
    assert "page 3 of 63" in _caption_with(at, "images match")
    third_page = at.selectbox(key="explore_inspect").options
    assert set(first_page).isdisjoint(third_page)
    # The inspector follows the page: it shows an image from page 3.
    assert at.selectbox(key="explore_inspect").value == int(third_page[0].split(" ")[0].lstrip("#"))

    # A new filter starts again at page 1.
    at.multiselect(key="explore_classes").unselect(5).run()
    assert "1,000 test images match · page 1 of 32" in _caption_with(at, "images match")
    assert set(_grid_captions(at)) == {"7 · Sneaker"}
    assert not at.exception


def test_shuffle_is_seeded(at):
    in_order = _grid_captions(at)
    at.toggle(key="explore_shuffle").set_value(True).run()
    seed0 = at.selectbox(key="explore_inspect").options
    assert "shuffled with seed 0" in _caption_with(at, "images match")
    at.number_input(key="explore_seed").set_value(5).run()
    seed5 = at.selectbox(key="explore_inspect").options
    assert seed5 != seed0
    at.number_input(key="explore_seed").set_value(0).run()
    assert at.selectbox(key="explore_inspect").options == seed0
    at.toggle(key="explore_shuffle").set_value(False).run()
    assert _grid_captions(at) == in_order


def test_inspector_heatmap_shows_the_chosen_image(at):
    box = at.selectbox(key="explore_inspect")
    box.set_value(5).run()
    spec = _chart_spec(at, "train #5 —")
    heat = spec["data"][0]
    assert heat["type"] == "heatmap"
    # Heatmap z is the image itself: train image 5, pixel for pixel.
    from pages._shared import get_dataset

    np.testing.assert_array_equal(_array(heat["z"]), get_dataset().x_train[5])


def test_pca_and_histogram_controls(at):
    _open_tab(at, "PCA projection")
    assert "PCA of 2,000 random train images (seed 0)" in _caption_with(at, "PCA of")
    at.select_slider(key="explore_pca_n").set_value(500).run()
    assert "PCA of 500 random train images" in _caption_with(at, "PCA of")
    scatter = _chart_spec(at, "PC1 (")
    assert sum(len(_array(t["x"])) for t in scatter["data"] if t["type"] == "scatter") == 500

    _open_tab(at, "Pixel intensities")
    hist = _chart_spec(at, "share of the class")
    assert len([t for t in hist["data"] if t["type"] == "scatter"]) == 10
    at.multiselect(key="explore_hist_classes").select(1).run()
    at.toggle(key="explore_hist_log").set_value(True).run()
    hist = _chart_spec(at, "share of the class")
    assert [t["name"] for t in hist["data"]] == ["1 · Trouser"]
    assert hist["layout"]["yaxis"]["type"] == "log"
    assert "are left out" in _caption_with(at, "exactly 0")
    at.toggle(key="explore_hist_exclude_zero").set_value(False).run()
    assert "are left out" not in _caption_with(at, "exactly 0")
    assert not at.exception


def test_explorer_never_imports_tensorflow(fmnist_home):
    # In a fresh interpreter: other tests in this session may have imported TensorFlow already.
    code = textwrap.dedent(
        """
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file(sys.argv[1], default_timeout=120)
        at.run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Dataset explorer"
        print("TF_LOADED" if any(m == "tensorflow" or m.startswith(("tensorflow.", "keras")) for m in sys.modules) else "TF_ABSENT")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "app.py")],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "FMNIST_DATA_DIR"},  # FMNIST_HOME: a tmp dir
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "TF_ABSENT" in out.stdout, out.stdout + out.stderr[-2000:]
