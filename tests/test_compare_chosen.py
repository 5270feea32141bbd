"""Chosen runs (local, or imported from a run bundle) compared from their metrics alone: the table of their
set-ups and numbers (the weights each kept), what differs between them, and run ids from a link."""

from __future__ import annotations

import pytest

from fmnist_core.store import RunStore
from fmnist_core.studies import chosen
from fmnist_core.training import TrainConfig
from tests.test_compare import finish_fake


def local_and_imported(home, tmp_path) -> tuple[RunStore, int, int]:
    from fmnist_core import bundle

    store = RunStore(home)
    local = store.create_run(TrainConfig(epochs=3, optimizer="adam", seed=1), label="mine")
    finish_fake(store, local, [0.80, 0.84, 0.86], test=0.85)
    other = store.create_run(
        TrainConfig(epochs=3, optimizer="rmsprop", seed=1, early_stopping=2), label="theirs <b>x</b>"
    )
    finish_fake(store, other, [0.81, 0.87, 0.85], test=0.86)
    raw = bundle.export_bundle(store.get_run(other), store.points(other), per_class=None, model_path=None)
    imported = bundle.import_bundle(store, raw)
    store.delete_run(other)
    return store, local, imported


def test_chosen_runs_table_compares_local_and_imported_runs(fmnist_home, tmp_path):
    store, local, imported = local_and_imported(fmnist_home, tmp_path)
    runs = [store.get_run(local), store.get_run(imported)]
    assert runs[1].imported and not runs[1].model_path  # no model file: nothing here may need one
    points = store.points_for([local, imported])
    table = chosen.chosen_table(runs, ["a", "b"], points)
    assert list(table["source"]) == ["local", "imported"]
    assert list(table["optimizer"]) == ["Adam", "RMSprop"]
    # the imported run used early stopping: it kept its best epoch (2), not its last
    assert list(table["val acc (kept)"]) == pytest.approx([0.86, 0.87])
    assert list(table["kept epoch"]) == [3.0, 2.0]
    assert list(table["test acc"]) == pytest.approx([0.85, 0.86])
    assert chosen.differences(runs) == ["optimizer", "early stopping"]
    assert chosen.differences(runs[:1]) == []


def test_run_ids_from_a_link():
    assert chosen.parse_run_ids("3,7, 3") == ([3, 7], True)
    assert chosen.parse_run_ids("3,abc,-1,1e3") == ([3], False)
    assert chosen.parse_run_ids("x" * 10_000) == ([], False)
    ids, ok = chosen.parse_run_ids(",".join(map(str, range(1, 20))))
    assert ids == list(range(1, chosen.MAX_CHOSEN + 1)) and not ok
    assert chosen.parse_run_ids(None) == ([], True)
