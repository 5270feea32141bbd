"""AppTest of the Train page's look inside a run: the cell gallery from a link, the epoch slider, imported runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from fmnist_core import bundle
from fmnist_core.store import RunStore
from fmnist_core.training import TrainConfig
from pages._evaluation import cell_from_selection
from tests.test_train_page import open_train


def fake_run(store: RunStore, *, confusion: bool = True) -> int:
    rid = store.create_run(TrainConfig(epochs=2, train_subset=1000, seed=11), label="page test")
    store.mark_running(rid, 4242)
    for e in (1, 2):
        store.add_point(
            rid,
            {
                "kind": "epoch",
                "epoch": e,
                "step": 16,
                "progress": float(e),
                "loss": 1 / e,
                "accuracy": 0.7,
                "val_loss": 1 / e,
                "val_accuracy": 0.7,
                "time": 1.0,
            },
        )
        if confusion:
            store.add_epoch_confusion(rid, e, np.eye(10, dtype=int) * 100 + e, seconds=0.05)
    probs = np.random.default_rng(0).dirichlet(np.ones(10), size=10000).astype(np.float32)
    store.save_test_probs(rid, probs)
    store.finish_run(
        rid, status="finished", worker_pid=4242, test_accuracy=0.1, test_loss=2.3, epochs_done=2, seconds=3.0
    )
    return rid


def test_a_cell_link_shows_that_cells_images_and_the_epoch_slider(fmnist_home):
    store = RunStore(fmnist_home)
    rid = fake_run(store)
    at = open_train(run=str(rid), cell="6,0")
    assert any("Shirt taken for T-shirt/top" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption if c.value.startswith("test #")]
    assert len(captions) == 16 and all(c.count("%") == 3 for c in captions)  # top 3 under each image
    assert at.number_input(key="train_cell_page_6_0").value == 1  # paging: more than one page of them
    assert at.get("select_slider")[0].value == 2  # the epoch slider, at the last epoch
    assert at.query_params["cell"] == ["6,0"] or at.query_params["cell"] == "6,0"
    at.button(key="train_cell_clear").click().run()
    assert "cell" not in at.query_params
    assert not any("taken for" in m.value for m in at.markdown)


def test_the_diagonal_shows_the_least_confident_correct_answers(fmnist_home):
    rid = fake_run(RunStore(fmnist_home), confusion=False)
    at = open_train(run=str(rid), cell="3,3")
    assert any(
        "Dress, correctly recognised" in m.value and "least confident first" in m.value for m in at.markdown
    )
    assert not at.get("select_slider")  # no per-epoch counts recorded: no slider


def test_an_imported_run_says_it_has_no_model(fmnist_home):
    store = RunStore(fmnist_home)
    rid = fake_run(store, confusion=False)
    run = store.get_run(rid)
    table = pd.DataFrame(
        {"class": ["<b>x</b>"], "precision": [0.5], "recall": ["oops"], "f1": [0.4], "support": [9]}
    )
    new = bundle.import_bundle(
        store, bundle.export_bundle(run, store.points(rid), per_class=table, model_path=None)
    )
    at = open_train(run=str(new))
    assert not at.exception
    assert any("model file was not imported" in c.value for c in at.caption)
    shown = next(d.value for d in at.dataframe if "precision" in d.value.columns)
    assert shown["class"].tolist() == ["<b>x</b>"] and pd.isna(shown["recall"][0])  # text stays text
    assert not at.get("select_slider") and not any("taken for" in m.value for m in at.markdown)


def test_heatmap_clicks_are_read_from_names_or_indices():
    assert cell_from_selection({"points": [{"x": "T-shirt/top", "y": "Shirt", "z": 0.1}]}) == (6, 0)
    assert cell_from_selection({"points": [{"point_index": 24}]}) == (2, 4)
    assert cell_from_selection({"points": []}) is None and cell_from_selection(None) is None


def test_a_local_and_an_imported_run_are_overlaid_and_tabled(fmnist_home):
    store = RunStore(fmnist_home)
    local = fake_run(store, confusion=False)
    other = fake_run(store, confusion=False)
    store.set_fields(other, label="<b>theirs</b>")
    run = store.get_run(other)
    imported = bundle.import_bundle(
        store, bundle.export_bundle(run, store.points(other), per_class=None, model_path=None)
    )
    at = open_train(run=str(local))
    box = at.multiselect(key="train_overlay")
    theirs = f"#{imported} imported #{other} · <b>theirs</b> (imported)"  # the label stays plain text
    assert box.options == [theirs, f"#{other} <b>theirs</b>"]
    # nothing chosen: no charts
    assert not any(m.value == "**Compared with other runs**" for m in at.markdown)
    at = box.select(imported).select(other).run()
    assert not at.exception, at.exception
    assert any(m.value == "**Compared with other runs**" for m in at.markdown)
    table = next(d.value for d in at.dataframe if "best val acc" in d.value.columns)
    short = f"#{imported} imported #{other} · <b>… (imported)"  # labels cut to fit a half-width table
    assert table["run"].tolist() == [f"#{local} page test", short, f"#{other} <b>theirs</b>"]
    assert table["epochs"].tolist() == [2, 2, 2]
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    overlays = [f for f in figs if any(t.get("line", {}).get("dash") == "dash" for t in f["data"])]
    assert len(overlays) == 2  # validation accuracy and validation loss
    for f in overlays:  # this run solid, the two others dashed, names as text
        assert [t["line"]["dash"] for t in f["data"]] == ["solid", "dash", "dash"]
        assert f["data"][1]["name"] == short.replace("<", "&lt;").replace(">", "&gt;")
