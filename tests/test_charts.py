"""fmnist_core.charts: every figure builds from plain data, and carries the data it claims to show."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from fmnist_core import charts
from fmnist_core.data import CLASS_NAMES

NAN = float("nan")


def _roundtrip(fig: go.Figure) -> dict:
    """What the browser gets: the figure must serialise."""
    assert isinstance(fig, go.Figure)
    return json.loads(fig.to_json())


def _by_name(fig: go.Figure, name: str):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


# --------------------------------------------------------------------------------------------- images


def test_image_grid_one_tile_per_image_with_captions():
    images = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 256
    captions = [f"{i} · {CLASS_NAMES[i]}" for i in range(5)]
    fig = charts.image_grid(images.astype(np.uint8), captions, cols=3)
    _roundtrip(fig)
    assert len(fig.data) == 5 and all(t.type == "heatmap" for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == captions
    np.testing.assert_array_equal(np.asarray(fig.data[4].z), images[4])
    # Image 4 is row 1, col 1 of a 3-wide grid: offset by one tile in x and y.
    assert fig.data[4].x0 == fig.data[1].x0 > fig.data[0].x0
    assert fig.data[4].y0 == fig.data[3].y0 > fig.data[0].y0
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 255
    with pytest.raises(ValueError, match="captions"):
        charts.image_grid(images, captions[:2])
    assert len(charts.image_grid(np.zeros((0, 28, 28)), []).data) == 0


def test_image_heatmap_is_imshow_like():
    img = np.zeros((28, 28), dtype=np.uint8)
    img[3, 5] = 200
    fig = charts.image_heatmap(img, title="x")
    _roundtrip(fig)
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert trace.z[3][5] == 200
    assert trace.colorscale[0][1] == "#000000" and trace.colorscale[-1][1] == "#ffffff"  # 0 black
    assert (trace.zmin, trace.zmax) == (0, 255)
    assert trace.colorbar.title.text == "value"
    assert "row %{y}" in trace.hovertemplate and "%{z}" in trace.hovertemplate
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"
    # Already-scaled images keep a 0-1 range.
    assert charts.image_heatmap(img / 255.0).data[0].zmax == 1


def test_mean_std_images_two_panels_two_colour_axes():
    means = np.random.default_rng(0).uniform(0, 255, (10, 28, 28))
    stds = np.random.default_rng(1).uniform(0, 80, (10, 28, 28))
    fig = charts.mean_std_images(means, stds, CLASS_NAMES)
    _roundtrip(fig)
    assert len(fig.data) == 20
    assert {t.coloraxis for t in fig.data[:10]} == {"coloraxis"}
    assert {t.coloraxis for t in fig.data[10:]} == {"coloraxis2"}
    assert {t.xaxis for t in fig.data[10:]} == {"x2"}
    np.testing.assert_allclose(np.asarray(fig.data[13].z), stds[3])
    assert fig.layout.coloraxis2.cmax == pytest.approx(stds.max())
    texts = [a.text for a in fig.layout.annotations]
    assert "Mean image" in texts and texts.count("9 · Ankle boot") == 2


def test_saliency_overlay_image_under_translucent_heat():
    img = np.full((28, 28), 100, dtype=np.uint8)
    sal = np.zeros((28, 28))
    sal[10, 10] = -4.0
    sal[0, 0] = 2.0
    fig = charts.saliency_overlay(img, sal)
    _roundtrip(fig)
    base, heat = fig.data
    assert base.type == heat.type == "heatmap"
    assert heat.z[10][10] == 1.0 and heat.z[0][0] == 0.5  # |saliency| / max |saliency|
    assert "rgba" in heat.colorscale[0][1] and heat.colorscale[0][1].endswith(",0)")  # transparent at 0
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError):
        charts.saliency_overlay(img, np.zeros((4, 4)))


# --------------------------------------------------------------------------------------------- dataset


def test_class_distribution_grouped_bars_per_split():
    counts = {"train": np.full(10, 6000), "test": np.arange(10)}
    fig = charts.class_distribution(counts, CLASS_NAMES)
    _roundtrip(fig)
    assert [t.name for t in fig.data] == ["train", "test"]
    assert all(t.type == "bar" for t in fig.data)
    assert fig.layout.barmode == "group"
    assert list(fig.data[1].y) == list(range(10))
    assert list(fig.data[0].x) == list(CLASS_NAMES)
    assert fig.data[0].marker.color != fig.data[1].marker.color
    np.testing.assert_allclose(fig.data[1].customdata, np.arange(10) / 45)


def test_pca_scatter_one_trace_per_class_with_indices():
    coords = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])
    labels = np.array([0, 3, 0, 3])
    indices = np.array([10, 11, 12, 13])
    fig = charts.pca_scatter(coords, labels, indices, explained=[0.3, 0.2])
    _roundtrip(fig)
    assert [t.name for t in fig.data] == ["0 · T-shirt/top", "3 · Dress"]
    assert list(fig.data[1].customdata) == [11, 13] and list(fig.data[1].x) == [1.0, 3.0]
    assert fig.data[0].marker.color == charts.CLASS_COLORS[0]
    assert fig.data[1].marker.color == charts.CLASS_COLORS[3]
    assert "30.0%" in fig.layout.xaxis.title.text
    ringed = charts.pca_scatter(coords, labels, indices, selected=12)
    assert ringed.data[-1].name == "selected" and list(ringed.data[-1].x) == [2.0]


def test_pixel_histograms_normalised_steps():
    edges = np.array([0.0, 128.0, 256.0])
    counts = np.zeros((10, 2))
    counts[2] = [1, 3]
    counts[5] = [4, 4]
    fig = charts.pixel_histograms(edges, counts, CLASS_NAMES, classes=[2, 5])
    _roundtrip(fig)
    assert [t.name for t in fig.data] == ["2 · Pullover", "5 · Sandal"]
    np.testing.assert_allclose(fig.data[0].y, [0.25, 0.75])
    np.testing.assert_allclose(fig.data[0].x, [64, 192])
    assert fig.data[0].line.shape == "hvh"
    raw = charts.pixel_histograms(edges, counts, normalize=False, log_y=True)
    assert len(raw.data) == 10 and list(raw.data[5].y) == [4, 4]
    assert raw.layout.yaxis.type == "log"


# --------------------------------------------------------------------------------------------- training


def _run_points() -> pd.DataFrame:
    rows = []
    for epoch in (1, 2):
        for step in (50, 100):
            rows.append(
                dict(kind="batch", epoch=epoch, step=step, progress=epoch - 1 + step / 100,
                     loss=1.0 / epoch, accuracy=0.5 + 0.1 * epoch + step / 10000,
                     val_loss=NAN, val_accuracy=NAN, time=1000.0 + epoch)
            )  # fmt: skip
        rows.append(
            dict(kind="epoch", epoch=epoch, step=100, progress=float(epoch), loss=0.9 / epoch,
                 accuracy=0.6 + 0.1 * epoch, val_loss=0.95 / epoch, val_accuracy=0.55 + 0.1 * epoch,
                 time=1000.5 + epoch)
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_training_curves_traces_and_x_values():
    fig = charts.training_curves(_run_points(), metric="accuracy")
    _roundtrip(fig)
    assert len(fig.data) == 3
    batch = _by_name(fig, "train, running mean")
    assert "running mean" in batch.name
    # Batch points by progress, with a gap between epochs (the running mean restarts).
    assert list(batch.x) == [0.5, 1.0, None, 1.5, 2.0]
    assert batch.y[0] == pytest.approx(0.605)
    train = _by_name(fig, "train, epoch end")
    val = _by_name(fig, "validation")
    assert list(train.x) == [1.0, 2.0] and list(val.x) == [1.0, 2.0]
    np.testing.assert_allclose(train.y, [0.7, 0.8])
    np.testing.assert_allclose(val.y, [0.65, 0.75])
    assert train.mode == val.mode == "lines+markers"
    assert fig.layout.xaxis.title.text == "epoch"
    loss = charts.training_curves(_run_points(), metric="loss")
    np.testing.assert_allclose(_by_name(loss, "validation").y, [0.95, 0.475])
    assert loss.layout.yaxis.title.text == "loss"


def test_training_curves_empty_and_batch_only():
    empty = charts.training_curves(pd.DataFrame())
    _roundtrip(empty)
    assert len(empty.data) == 0
    assert empty.layout.xaxis.title.text == "epoch" and empty.layout.yaxis.title.text == "accuracy"
    assert any(charts.WAITING in a.text for a in empty.layout.annotations)
    cols = ["kind", "epoch", "step", "progress", "loss", "accuracy", "val_loss", "val_accuracy", "time"]
    assert len(charts.training_curves(pd.DataFrame(columns=cols)).data) == 0
    batch_only = _run_points().query("kind == 'batch' and epoch == 1")
    fig = charts.training_curves(batch_only, metric="loss")
    assert [t.name for t in fig.data] == ["train, running mean"]
    assert not fig.layout.annotations
    with pytest.raises(ValueError):
        charts.training_curves(batch_only, metric="val_accuracy")


def _compare_points() -> pd.DataFrame:
    rows = []
    # adam: 3 seeds x 3 epochs (seed 2 stopped after epoch 2); sgd: 2 seeds x 3 epochs.
    spec = {("adam", 0): 3, ("adam", 1): 3, ("adam", 2): 2, ("sgd", 0): 3, ("sgd", 1): 3}
    for run, ((variant, seed), n_epochs) in enumerate(spec.items()):
        for epoch in range(1, n_epochs + 1):
            base = 0.8 if variant == "adam" else 0.7
            rows.append(
                dict(run_id=f"r{run}", variant=variant, seed=seed, kind="epoch", epoch=epoch,
                     progress=float(epoch), accuracy=base + 0.05 * epoch + 0.01 * seed,
                     val_accuracy=base + 0.02 * epoch + 0.01 * seed, loss=1.0, val_loss=1.1)
            )  # fmt: skip
            rows.append(dict(rows[-1], kind="batch", progress=epoch - 0.5, val_accuracy=NAN))
    return pd.DataFrame(rows)


def test_compare_curves_colours_bands_and_means():
    fig = charts.compare_curves(_compare_points(), metric="val_accuracy")
    _roundtrip(fig)
    runs = [t for t in fig.data if "seed" in t.name]
    assert len(runs) == 5 and all(t.showlegend is False for t in runs)
    colors = charts.variant_colors(["adam", "sgd"])
    assert colors["adam"] != colors["sgd"]
    for t in fig.data:
        variant = t.legendgroup
        assert variant in colors
        if t.fill != "toself":
            assert t.line.color == colors[variant]  # one colour per variant
    bands = [t for t in fig.data if t.fill == "toself"]
    assert {t.legendgroup for t in bands} == {"adam", "sgd"}
    assert all(t.fillcolor.startswith("rgba(") for t in bands)
    mean = _by_name(fig, "adam (mean of 3)")
    assert list(mean.x) == [1, 2, 3]
    # Epoch 2 over seeds 0, 1, 2; epoch 3 only over seeds 0 and 1 (seed 2 never got there).
    np.testing.assert_allclose(mean.y, [0.83, 0.85, 0.865])
    np.testing.assert_allclose(mean.customdata[:, 1], [3, 3, 2])
    np.testing.assert_allclose(mean.customdata[1, 0], np.std([0.84, 0.85, 0.86], ddof=1))
    adam_band = next(t for t in bands if t.legendgroup == "adam")
    assert max(adam_band.y) == pytest.approx(0.865 + np.std([0.86, 0.87], ddof=1))
    # Batch rows are ignored: every run line has exactly its epochs.
    assert [len(t.x) for t in runs] == [3, 3, 2, 3, 3]


def test_compare_curves_single_seed_has_no_band_and_empty_is_ok():
    one = _compare_points().query("seed == 0")
    fig = charts.compare_curves(one)
    assert not [t for t in fig.data if t.fill == "toself"]
    empty = charts.compare_curves(pd.DataFrame())
    _roundtrip(empty)
    assert len(empty.data) == 0 and empty.layout.annotations


def test_train_val_gap_mean_per_variant():
    fig = charts.train_val_gap(_compare_points(), metric="accuracy")
    _roundtrip(fig)
    mean = next(t for t in fig.data if t.name.startswith("sgd") and t.fill != "toself")
    # gap = accuracy - val_accuracy = 0.03 * epoch for every seed.
    np.testing.assert_allclose(mean.y, [0.03, 0.06, 0.09])
    assert "overfitting" in fig.layout.yaxis.title.text
    loss = charts.train_val_gap(_compare_points(), metric="loss")
    assert np.allclose(next(t for t in loss.data if t.fill != "toself").y, 0.1)  # val_loss - loss


# --------------------------------------------------------------------------------------------- evaluation


def test_confusion_matrix_figure_text_sums():
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 50, size=(10, 10))
    cm[2, 7] = 0
    cm[4] = 0  # a class with no samples
    fig = charts.confusion_matrix_figure(cm, CLASS_NAMES, normalize=False)
    _roundtrip(fig)
    (trace,) = fig.data
    counts = sum(int(t) for row in trace.text for t in row if t)
    assert counts == cm.sum()
    assert trace.text[2][7] == ""  # empty cells carry no text
    assert list(trace.x) == list(CLASS_NAMES) and list(trace.y) == list(CLASS_NAMES)
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    norm = charts.confusion_matrix_figure(cm, CLASS_NAMES).data[0]
    for r, row in enumerate(norm.text):
        total = sum(float(t.rstrip("%")) for t in row if t)
        assert total == pytest.approx(0 if r == 4 else 100, abs=0.6)
    np.testing.assert_allclose(np.asarray(norm.z).sum(axis=1), [0 if r == 4 else 1 for r in range(10)])
    np.testing.assert_array_equal(np.asarray(norm.customdata)[..., 0], cm)


def test_probability_bars_sorted_winner_highlighted():
    probs = np.array([0.05, 0.6, 0.0, 0.3, 0.05, 0, 0, 0, 0, 0])
    fig = charts.probability_bars(probs, CLASS_NAMES)
    _roundtrip(fig)
    (bar,) = fig.data
    assert bar.orientation == "h"
    assert list(bar.y[:2]) == ["1 · Trouser", "3 · Dress"]
    assert list(bar.x) == sorted(probs, reverse=True)
    assert bar.marker.color[0] == charts.HIGHLIGHT and set(bar.marker.color[1:]) == {charts.MUTED}
    top = charts.probability_bars(probs, CLASS_NAMES, top=3)
    assert len(top.data[0].x) == 3 and top.data[0].text[0] == "60.0%"


def test_leaderboard_bars_sorted_with_errors_best_highlighted():
    summary = pd.DataFrame(
        {"variant": ["sgd", "adam", "rmsprop"], "mean": [0.84, 0.89, 0.87], "std": [0.01, 0.002, 0.0]}
    )
    fig = charts.leaderboard_bars(summary, title="Final validation accuracy")
    _roundtrip(fig)
    (bar,) = fig.data
    assert list(bar.y) == ["adam", "rmsprop", "sgd"]
    assert list(bar.x) == [0.89, 0.87, 0.84]
    assert list(bar.error_x.array) == [0.002, 0.0, 0.01] and bar.error_x.visible
    assert bar.marker.color[0] == charts.HIGHLIGHT and bar.marker.color[1] == charts.MUTED
    assert bar.text[0].startswith("★") and "89.00% ± 0.20%" in bar.text[0]
    # close accuracies get a zoomed axis (from 80%, not 0), and the axis title says so
    assert fig.layout.xaxis.range[0] == pytest.approx(0.80) and "starts at 80%" in fig.layout.xaxis.title.text
    loss = charts.leaderboard_bars(
        pd.DataFrame({"name": ["a", "b"], "final": [0.4, 1.7]}), value="final", error="sd", label="name"
    )
    assert list(loss.data[0].y) == ["b", "a"] and not loss.data[0].error_x.visible


def test_variant_colors_stable_across_orders():
    assert charts.variant_colors(["sgd", "adam"]) == charts.variant_colors(["adam", "sgd", "adam"])
    assert len(set(charts.variant_colors([f"v{i}" for i in range(5)]).values())) == 5


def _epochs(vals: list[float], *, batch: bool = True) -> pd.DataFrame:
    rows = [
        {"kind": "epoch", "epoch": e, "val_accuracy": v, "val_loss": 1 - v} for e, v in enumerate(vals, 1)
    ]
    if batch:  # batch rows never count
        rows.append({"kind": "batch", "epoch": 1, "val_accuracy": NAN, "val_loss": NAN})
    return pd.DataFrame(rows)


def test_overlay_curves_adds_one_dashed_line_per_run_in_distinct_colours():
    fig = go.Figure()
    out = charts.overlay_curves(
        fig,
        {"#3 mlp": _epochs([0.7, 0.8]), "#5 <b>cnn</b> (imported)": _epochs([0.6, 0.9, 0.95]), "#6": None},
        "val_accuracy",
    )
    assert out is fig and len(fig.data) == 2  # the run with no points adds nothing
    assert [t.name for t in fig.data] == ["#3 mlp", "#5 &lt;b&gt;cnn&lt;/b&gt; (imported)"]  # tags stay text
    assert all(t.line.dash == "dash" for t in fig.data)
    assert fig.data[0].line.color != fig.data[1].line.color
    assert list(fig.data[1].x) == [1, 2, 3] and list(fig.data[1].y) == [0.6, 0.9, 0.95]
    _roundtrip(fig)


def test_overlay_figure_draws_the_current_run_solid_under_the_others():
    fig = charts.overlay_figure(
        ("#1 this", _epochs([0.5, 0.6])), {"#2 other": _epochs([0.4, 0.7])}, metric="val_loss"
    )
    assert [t.name for t in fig.data] == ["#1 this", "#2 other"]
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"
    assert list(fig.data[0].y) == pytest.approx([0.5, 0.4])
    _roundtrip(fig)
    empty = charts.overlay_figure(("#1", pd.DataFrame()), {}, metric="val_accuracy")
    assert not empty.data and empty.layout.annotations


def test_style_template_is_the_validated_one_without_revalidation(monkeypatch):
    """`_style` sets the shared template without validating it again (the slow part of every figure);
    what the browser gets is exactly what the validated assignment gave, and figures do not share it."""
    img = np.arange(28 * 28, dtype=np.float64).reshape(28, 28) / (28 * 28)
    probs = np.array([0.05, 0.6, 0.0, 0.3, 0.05, 0, 0, 0, 0, 0])
    builders = [
        lambda: charts.probability_bars(probs, CLASS_NAMES, top=5, title="Top classes"),
        lambda: charts.image_heatmap(img, title="What the model sees (28×28)", height=280),
        lambda: charts.saliency_overlay(img, img[::-1], title="Grad-CAM", height=280),
        lambda: charts.training_curves(_run_points(), title="curves"),
        lambda: charts.pca_scatter(
            np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 10, np.arange(20)
        ),
    ]
    fast = [json.loads(b().to_json()) for b in builders]
    monkeypatch.setattr(charts, "_set_template", lambda fig: fig.update_layout(template=charts._template()))
    frames = (charts._image_heatmap_frame, charts._probability_bars_frame, charts._saliency_overlay_frame)
    for frame in frames:
        frame.cache_clear()  # frames cached by the fast build are built again
    slow = [json.loads(b().to_json()) for b in builders]
    for frame in frames:
        frame.cache_clear()
    assert fast == slow
    assert all(f["layout"]["template"]["layout"]["plot_bgcolor"] == "white" for f in fast)
    a, b = builders[0](), builders[0]()
    a.layout.template.layout.font.size = 99  # a caller restyling one figure leaves the others alone
    assert b.layout.template.layout.font.size != 99 and charts._template().layout.font.size != 99


def _image_heatmap_built_in_full(image, *, title="", height=420):
    """image_heatmap as it was before its frame was cached: every property validated on every call."""
    lo, hi = charts._image_range(image)
    fig = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=charts.GRAY_SCALE,
            zmin=lo,
            zmax=hi,
            colorbar=dict(title=dict(text="value"), thickness=10, xpad=4),
            hovertemplate="row %{y}, col %{x}<br>value %{z}<extra></extra>",
        )
    )
    charts._square_image_axes(fig)
    fig.update_xaxes(title_text="col", range=[-0.5, image.shape[1] - 0.5], title_standoff=4)
    fig.update_yaxes(title_text="row", range=[image.shape[0] - 0.5, -0.5], title_standoff=4)
    fig.update_layout(template=charts._template())
    return charts._style(fig, title=title, height=height, legend=False)


def _probability_bars_built_in_full(probs, class_names, *, top=None, title=""):
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    order = np.argsort(-probs, kind="stable")
    if top is not None:
        order = order[: max(1, top)]
    fig = go.Figure(
        go.Bar(
            x=probs[order],
            y=[f"{i} · {class_names[i]}" for i in order],
            orientation="h",
            marker_color=[charts.HIGHLIGHT if k == 0 else charts.MUTED for k in range(len(order))],
            text=[f"{p:.1%}" for p in probs[order]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title_text="probability")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(template=charts._template())
    return charts._style(fig, title=title, height=60 + 30 * len(order), legend=False)


def _saliency_overlay_built_in_full(image, saliency, *, title="", height=420):
    saliency = np.asarray(saliency, dtype=np.float64)
    peak = float(np.nanmax(np.abs(saliency))) if saliency.size else 0.0
    relative = np.abs(saliency) / peak if peak > 0 else np.zeros_like(saliency)
    lo, hi = charts._image_range(image)
    fig = go.Figure(
        [
            go.Heatmap(
                z=image, colorscale=charts.GRAY_SCALE, zmin=lo, zmax=hi, showscale=False, hoverinfo="skip",
                name="image",
            ),
            go.Heatmap(
                z=relative,
                customdata=image,
                colorscale=charts.SALIENCY_SCALE,
                zmin=0,
                zmax=1,
                name="saliency",
                colorbar=dict(title=dict(text="saliency"), thickness=12),
                hovertemplate="row %{y}, col %{x}<br>pixel %{customdata}<br>saliency %{z:.2f}<extra></extra>",
            ),
        ]
    )  # fmt: skip
    charts._square_image_axes(fig)
    fig.update_xaxes(range=[-0.5, image.shape[1] - 0.5])
    fig.update_yaxes(range=[image.shape[0] - 0.5, -0.5])
    fig.update_layout(template=charts._template())
    return charts._style(fig, title=title, height=height, legend=False)


def test_per_stroke_figures_from_cached_frames_are_the_figures_built_in_full():
    """image_heatmap and probability_bars reuse a validated frame and assign only their data: the browser
    gets what a figure built and validated in full gives, for every kind of input the pages pass."""
    rng = np.random.default_rng(0)
    images = [
        rng.random((28, 28), dtype=np.float32),  # the Sketch page's input in [0, 1]
        rng.integers(0, 256, (28, 28), dtype=np.uint8),  # the explorer's pixels
        rng.random((28, 28)) * 300,  # float64 beyond 255
        np.zeros((10, 12)),
    ]
    for image in images:
        for title, height in (("What the model sees (28×28)", 280), ("", 420)):
            fast = charts.image_heatmap(image, title=title, height=height)
            full = _image_heatmap_built_in_full(image, title=title, height=height)
            assert json.loads(fast.to_json()) == json.loads(full.to_json())
            heat = rng.random(image.shape)
            for sal in (heat, np.zeros(image.shape)):
                fast = charts.saliency_overlay(image, sal, title=title, height=height)
                full = _saliency_overlay_built_in_full(image, sal, title=title, height=height)
                assert json.loads(fast.to_json()) == json.loads(full.to_json())
    for probs in (rng.dirichlet(np.ones(10)), np.eye(10)[3], np.full(10, 0.1)):
        for top, title in ((5, "Top classes"), (None, ""), (1, "Top guesses")):
            fast = charts.probability_bars(probs, CLASS_NAMES, top=top, title=title)
            full = _probability_bars_built_in_full(probs, CLASS_NAMES, top=top, title=title)
            assert json.loads(fast.to_json()) == json.loads(full.to_json())


def test_figures_from_cached_frames_are_independent_and_validate_changes():
    a = charts.image_heatmap(np.zeros((28, 28)), title="t")
    a.update_layout(height=999, title_text="changed")
    a.data[0].colorscale = "Viridis"
    b = charts.image_heatmap(np.ones((28, 28)) * 255, title="t")
    assert b.layout.height == 420 and b.layout.title.text == "t" and b.data[0].colorscale[0][1] == "#000000"
    np.testing.assert_array_equal(np.asarray(a.data[0].z), 0)  # a keeps its own pixels
    with pytest.raises(ValueError):
        b.layout.height = "tall"  # changes after the build are validated as usual
    with pytest.raises(ValueError):
        charts.probability_bars(np.ones(10) / 10, CLASS_NAMES).data[0].orientation = "diagonal"
