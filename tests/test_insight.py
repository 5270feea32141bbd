"""Seeing inside the model: the confusion-cell gallery, first-layer templates and feature maps, per-epoch
validation confusion counts on a real run, and run bundles (round trip and refusals)."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from fmnist_core import bundle, charts, insight
from fmnist_core.models import PRESETS, ModelSpec, build_model
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig

# ------------------------------------------------------------------------------------ the gallery filter


def hand_made() -> tuple[np.ndarray, np.ndarray]:
    """Six images: true classes and softmax outputs chosen by hand."""
    y = np.array([6, 6, 6, 0, 6, 6])
    probs = np.full((6, 10), 0.0)
    probs[0, [0, 6, 2]] = [0.7, 0.2, 0.1]  # shirt -> T-shirt, 0.7
    probs[1, [0, 6, 2]] = [0.5, 0.3, 0.2]  # shirt -> T-shirt, 0.5
    probs[2, [6, 0, 4]] = [0.9, 0.05, 0.05]  # shirt right, sure
    probs[3, [0, 6, 3]] = [0.95, 0.03, 0.02]  # T-shirt right: not in the shirt row
    probs[4, [6, 0, 2]] = [0.4, 0.35, 0.25]  # shirt right, barely
    probs[5, [0, 6, 2]] = [0.7, 0.2, 0.1]  # shirt -> T-shirt, 0.7 again (tie: index order)
    return y, probs


def test_a_mistake_cell_lists_its_images_most_confident_first_with_top3():
    y, probs = hand_made()
    cell = insight.cell_images(y, probs, 6, 0)
    assert cell["index"].tolist() == [0, 5, 1]
    assert cell["confidence"].tolist() == pytest.approx([0.7, 0.7, 0.5])
    assert cell["top3"][0] == [(0, pytest.approx(0.7)), (6, pytest.approx(0.2)), (2, pytest.approx(0.1))]


def test_the_diagonal_lists_the_least_confident_correct_answers_first():
    y, probs = hand_made()
    assert insight.cell_images(y, probs, 6, 6)["index"].tolist() == [4, 2]
    assert insight.cell_images(y, probs, 0, 0)["index"].tolist() == [3]
    assert insight.cell_images(y, probs, 3, 5).empty


def test_paging_and_cell_links():
    frame = pd.DataFrame({"index": range(40)})
    rows, page, pages = insight.page_of(frame, 9, 16)
    assert (page, pages, rows["index"].tolist()) == (3, 3, list(range(32, 40)))
    assert insight.page_of(frame.iloc[:0], 1, 16)[2] == 1
    assert insight.parse_cell("6,0") == (6, 0) and insight.parse_cell(" 9, 9") == (9, 9)
    for bad in ("6", "6,10", "-1,0", "a,b", "6,0,1", None, "1" * 40 + ",1"):
        assert insight.parse_cell(bad) is None


# ------------------------------------------------------------------------------------ templates and feature maps


def test_mlp_templates_are_28x28_largest_norm_first_on_a_scale_centred_on_zero():
    model = build_model(PRESETS["lab_mlp"])
    kind, kernel = insight.first_layer(model)
    assert kind == "dense" and kernel.shape == (784, 128)
    images, units, norms = insight.dense_templates(kernel, top=16)
    assert images.shape == (16, 28, 28) and len(set(units.tolist())) == 16
    assert np.all(np.diff(norms) <= 0) and norms[0] == pytest.approx(np.linalg.norm(kernel, axis=0).max())
    np.testing.assert_array_equal(images[0].reshape(-1), kernel[:, units[0]])  # not rescaled
    fig = charts.weight_images_figure(images, [f"unit {u}" for u in units])
    ca = fig.layout.coloraxis
    assert ca.cmid == 0 and ca.cmin == -ca.cmax and ca.cmax == pytest.approx(np.abs(images).max())


def test_cnn_filters_and_feature_maps_have_the_layer_shapes():
    spec = ModelSpec(kind="cnn", conv_filters=(4, 8), hidden=(16,), dropout=(0.0,), input="image")
    model = build_model(spec)
    kind, kernel = insight.first_layer(model)
    filters = insight.conv_templates(kernel)
    assert kind == "conv" and filters.shape == (4, 3, 3)
    maps = insight.feature_maps(model, np.zeros((28, 28), np.uint8) + 100, per_layer=16)
    assert [m.shape for _, m in maps] == [(4, 28, 28), (8, 14, 14)]
    assert "Conv layer 2: 8 maps of 14×14" == maps[1][0]
    assert len(charts.feature_maps_figure(maps[1][1]).data) == 8
    with pytest.raises(ValueError):
        insight.dense_templates(np.zeros((10, 3)))


# ------------------------------------------------------------------------------------ errors over the epochs


@pytest.mark.slow
def test_per_epoch_validation_confusion_counts_on_a_tiny_real_run(fmnist_home):
    from fmnist_core.data import load_fashion_mnist
    from fmnist_core.jobs import execute_run

    store = RunStore(fmnist_home)
    config = TrainConfig(epochs=2, batch_size=128, train_subset=2000, val_subset=1000, seed=3)
    rid = store.create_run(config, status="running")
    t0 = time.perf_counter()
    assert execute_run(store, rid, config, load_fashion_mnist(download=False)) == "finished"
    wall = time.perf_counter() - t0
    epochs, counts, seconds = store.epoch_confusions(rid)
    assert epochs == [1, 2] and counts.shape == (2, 10, 10)
    assert counts.sum(axis=(1, 2)).tolist() == [1000, 1000]  # every validation image, once
    acc = np.trace(counts[-1]) / 1000
    points = store.points(rid)
    last_val = points[points.kind == "epoch"].val_accuracy.iloc[-1]
    assert acc == pytest.approx(last_val, abs=1e-6)  # the same model as Keras' validation at that epoch
    assert np.all(seconds >= 0) and seconds.sum() < wall
    store.delete_run(rid)
    assert store.epoch_confusions(rid)[0] == []


class SlowModel:
    """predict_on_batch that costs 1 ms an image and always answers class 0."""

    def predict_on_batch(self, x):
        time.sleep(len(x) / 1000)
        out = np.zeros((len(x), 10))
        out[:, 0] = 1
        return out


def test_the_epoch_pass_shrinks_to_its_time_budget():
    x, y = np.zeros((1500, 784), np.float32), np.zeros(1500, int)
    rec = insight.EpochConfusionRecorder(budget=0.1, mode="budget")
    rec.last_end -= 5.0  # an epoch of ~5 s just ended: 1.5 s of counting is over 10%
    counts, seconds = rec(SlowModel(), x, y)
    assert counts.sum() == 1500 and counts[0, 0] == 1500 and seconds >= 1.5
    assert 1000 <= rec.n < 1500  # later passes use fewer images (never under 1,000)
    off = insight.EpochConfusionRecorder(mode="off")
    assert off(SlowModel(), x, y) is None
    asked = iter([False, True])  # a Stop lands during the pass (1,000 images: 2 chunks): it ends between them
    assert rec(SlowModel(), x, y, should_stop=lambda: next(asked)) is None


def test_epoch_confusion_rows_replace_on_resume(fmnist_home):
    store = RunStore(fmnist_home)
    rid = store.create_run(TrainConfig(epochs=2))
    store.add_epoch_confusion(rid, 1, np.eye(10, dtype=int), seconds=0.1)
    store.add_epoch_confusion(rid, 1, 2 * np.eye(10, dtype=int), seconds=None)
    epochs, counts, seconds = store.epoch_confusions(rid)
    assert epochs == [1] and counts[0, 3, 3] == 2 and np.isnan(seconds[0])
    assert insight.per_class_accuracy(counts[0]).tolist() == [1.0] * 10


# ------------------------------------------------------------------------------------ run bundles


def finished_run(store: RunStore, tmp_path) -> int:
    cfg = TrainConfig(epochs=2, train_subset=1000, seed=5)
    rid = store.create_run(cfg, label="my <b>run</b>")
    store.mark_running(rid, 4242)
    for e in (1, 2):
        store.add_point(
            rid,
            {
                "kind": "batch",
                "epoch": e,
                "step": 4,
                "progress": e - 0.5,
                "loss": 1.0,
                "accuracy": 0.5,
                "time": 1.0,
            },
        )
        store.add_point(
            rid,
            {
                "kind": "epoch",
                "epoch": e,
                "step": 8,
                "progress": float(e),
                "loss": 0.9,
                "accuracy": 0.6,
                "val_loss": 0.8,
                "val_accuracy": 0.6 + e / 10,
                "time": 2.0,
            },
        )
    model = tmp_path / "model.keras"
    model.write_bytes(b"not really a model")
    store.finish_run(
        rid,
        status="finished",
        worker_pid=4242,
        test_accuracy=0.75,
        test_loss=0.7,
        epochs_done=2,
        seconds=3.0,
        model_path=str(model),
    )
    return rid


def make_bundle(store, rid) -> bytes:
    run = store.get_run(rid)
    report = pd.DataFrame(
        {"class": ["T-shirt/top"], "precision": [0.9], "recall": [0.8], "f1": [0.85], "support": [1000]}
    )
    return bundle.export_bundle(run, store.points(rid), per_class=report, model_path=run.model_path)


def test_bundle_round_trip_imports_config_metrics_and_summary_but_never_the_model(fmnist_home, tmp_path):
    store = RunStore(fmnist_home)
    rid = finished_run(store, tmp_path)
    raw = make_bundle(store, rid)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metrics.csv", "model.keras", "summary.json"]
        summary = json.loads(zf.read("summary.json"))
    assert summary["final"]["test_accuracy"] == 0.75 and summary["per_class"][0]["support"] == 1000
    assert {"python", "keras", "tensorflow"} <= set(summary["versions"]) and summary["dataset_fingerprint"]
    new = bundle.import_bundle(store, raw)
    run = store.get_run(new)
    assert run.imported == 1 and run.status == "finished" and run.model_path is None
    assert run.config == store.get_run(rid).config and run.test_accuracy == 0.75 and run.epochs_done == 2
    assert run.label.startswith(f"imported #{rid}")
    a, b = store.points(rid), store.points(new)
    cols = ["kind", "epoch", "step", "progress", "loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(
        a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_dtype=False
    )
    assert not any(p.name.endswith(".keras") for p in store.run_dir(new).iterdir())
    assert store.imported_summary(new)["per_class"][0]["class"] == "T-shirt/top"
    assert "(imported)" in store.runs_frame().set_index("id").loc[new, "status"]
    assert store.find_finished(run.config_key, env_key=None).id == rid  # never reused for a local run


def rezip(members: dict[str, bytes], **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data, **kw)
    return buf.getvalue()


@pytest.fixture
def good_members(fmnist_home, tmp_path) -> dict[str, bytes]:
    store = RunStore(fmnist_home)
    with zipfile.ZipFile(io.BytesIO(make_bundle(store, finished_run(store, tmp_path)))) as zf:
        return {n: zf.read(n) for n in ("config.json", "metrics.csv", "summary.json")}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: {**m, "../evil.json": b"{}"}, "path in its name"),
        (lambda m: {**m, "sub/config.json": b"{}"}, "path in its name"),
        (lambda m: {k: v for k, v in m.items() if k != "metrics.csv"}, "missing metrics.csv"),
        (lambda m: {**m, "notes.txt": b"hi"}, "unexpected file"),
        (lambda m: {**m, "config.json": b"{not json"}, "config.json is not valid JSON"),
        (lambda m: {**m, "config.json": b"[1, 2]"}, "must hold a JSON object"),
        (lambda m: {**m, "config.json": b'{"epochs": "ten"}'}, "config.json is not a run set-up"),
        (lambda m: {**m, "summary.json": b'{"format": "other"}'}, "not from a Fashion-MNIST Studio"),
        (lambda m: {**m, "metrics.csv": b"a,b\n1,2\n"}, "lacks the column"),
        (lambda m: {**m, "metrics.csv": m["metrics.csv"] + b"wrong,1,1,1,1,1,1,1,1\n"}, "kind must be"),
        (lambda m: {**m, "metrics.csv": m["metrics.csv"] + b"epoch,two,1,1,1,1,1,1,1\n"}, "is not a number"),
    ],
)
def test_bundle_refusals_say_what_is_wrong(fmnist_home, good_members, change, message):
    store = RunStore(fmnist_home)
    before = len(store.runs())
    with pytest.raises(bundle.BundleError, match=message):
        bundle.import_bundle(store, rezip(change(good_members)))
    assert len(store.runs()) == before  # nothing half-imported


def lie_about_size(raw: bytes, name: str, size: int) -> bytes:
    """The zip with `name`'s uncompressed size replaced by `size` in both its headers."""
    b = bytearray(raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        b[zf.getinfo(name).header_offset + 22 : zf.getinfo(name).header_offset + 26] = size.to_bytes(
            4, "little"
        )
    at = b.find(b"PK\x01\x02")
    while at >= 0:
        n = int.from_bytes(b[at + 28 : at + 30], "little")
        if b[at + 46 : at + 46 + n] == name.encode():
            b[at + 24 : at + 28] = size.to_bytes(4, "little")
        at = b.find(b"PK\x01\x02", at + 4)
    return bytes(b)


def test_zip_bombs_oversize_members_and_non_zips_are_refused(fmnist_home, good_members):
    store = RunStore(fmnist_home)
    big = {**good_members, "metrics.csv": b"0" * (100 * 2**20)}  # a 100 MB member
    with pytest.raises(bundle.BundleError, match="metrics.csv is 104,857,600 bytes"):
        bundle.import_bundle(store, rezip(big))
    bomb = rezip({**good_members, "summary.json": b" " * (900 * 1024)})  # 900 kB from ~1 kB
    assert len(bomb) < 10_000
    with pytest.raises(bundle.BundleError, match="zip bomb"):
        bundle.import_bundle(store, bomb)
    # a header that lies (says 100 bytes, holds 10 MB): reading stops early and the member is refused
    liar = lie_about_size(rezip({**good_members, "config.json": b" " * (10 * 2**20)}), "config.json", 100)
    with pytest.raises(bundle.BundleError, match="config.json"):
        bundle.import_bundle(store, liar)
    with pytest.raises(bundle.BundleError, match="not a zip"):
        bundle.import_bundle(store, b"PK\x03\x04 garbage")
    assert store.runs(limit=10)[0].imported == 0  # nothing was imported


def test_a_drawing_is_placed_on_the_explorers_pca_map():
    from fmnist_core.explore import pca_2d

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(300, 28, 28)).astype(np.uint8)
    x[:150, :14] = 250  # two kinds of image: the first principal axis separates them
    y = (np.arange(300) >= 150).astype(int)
    m = insight.pca_map(x, y, n=200, seed=1)
    np.testing.assert_allclose(m.coords, pca_2d(x, y, n=200, seed=1).coords)  # the explorer's picture
    np.testing.assert_allclose(m.place(x[m.indices[0]]), m.coords[0], atol=1e-6)  # an image lands on itself
    np.testing.assert_allclose(m.place(x[m.indices[5]] / 255.0), m.coords[5], atol=1e-6)  # 0-1 input too
    fig = charts.sketch_place_figure(m.coords, m.labels, m.indices, m.place(x[0]))
    assert fig.data[-1].name == "your drawing"
