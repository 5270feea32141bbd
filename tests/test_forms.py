"""The Train page's form, UI-free: config <-> form state <-> URL round trips, limits, run ids."""

from __future__ import annotations

import pytest

from fmnist_core import forms
from fmnist_core.models import PRESETS, ModelSpec
from fmnist_core.text import md_escape
from fmnist_core.training import TrainConfig

CONFIGS = [
    TrainConfig(),
    TrainConfig(model=PRESETS["cnn_best"], epochs=3, batch_size=128, seed=9, train_subset=5000),
    TrainConfig(optimizer="sgd", learning_rate=0.05, val_fraction=0.3, augment="sketch"),
    TrainConfig(lr_schedule="cosine", backend="jax", augment="flip_shift"),
    TrainConfig(
        model=ModelSpec(
            kind="cnn",
            input="image",
            conv_filters=(8, 16),
            double_conv=True,
            hidden=(32,),
            dropout=(0.25,),
            conv_dropout=0.1,
            l2=0.001,
            batch_norm=True,
            activation="gelu",
        ),
        optimizer="rmsprop",
        epochs=2,
    ),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_config_round_trips_through_the_form_and_the_url(config):
    state = {**forms.default_state(), **forms.form_state(config)}
    assert forms.config_from_state(state) == config
    assert forms.config_from_state(state).key() == config.key()
    query = forms.state_to_query(state)
    back, ignored = forms.query_to_state(query)
    assert not ignored
    if forms.form_state(config)["train_preset"] != forms.CUSTOM:  # custom layers are not in the URL
        assert forms.config_from_state({**forms.default_state(), **back}) == config


def test_default_form_is_the_lab_and_has_an_empty_query():
    assert forms.config_from_state(forms.default_state()) == TrainConfig()
    assert forms.state_to_query(forms.default_state()) == {}


@pytest.mark.parametrize(
    "key,value",
    [
        ("train_epochs", 0),
        ("train_epochs", 201),
        ("train_epochs", 2.5),
        ("train_seed", -1),
        ("train_seed", 2**31),
        ("train_subset", 99),
        ("train_subset", 48001),
        ("train_val_fraction", 0.9),
        ("train_epochs", None),
    ],
)
def test_out_of_range_values_are_refused_not_clamped(key, value):
    state = {**forms.default_state(), key: value}
    problems = forms.field_problems(state)
    assert key in problems and " from " in problems[key]
    with pytest.raises(ValueError):
        forms.config_from_state(state)


def test_own_learning_rate_is_checked_only_when_used():
    state = {**forms.default_state(), "train_lr": 50.0}
    assert forms.field_problems(state) == {}
    state["train_lr_default"] = False
    assert "train_lr" in forms.field_problems(state)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("7", 7),
        ("1", 1),
        (str(2**63 - 1), 2**63 - 1),
        (str(2**63), None),
        ("9" * 400, None),
        ("-1", None),
        ("0", None),
        ("abc", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("１２", None),
    ],
)
def test_run_ids_from_links(raw, expected):
    assert forms.parse_run_id(raw) == expected


def test_bad_ids_are_described_without_echoing_text():
    assert forms.describe_bad_id("9" * 400) == "#999999999999…"
    assert forms.describe_bad_id("-1") == "#-1"
    assert forms.describe_bad_id("<img src=x>") == "in this link"


def test_query_accepts_labels_and_ignores_garbage():
    state, ignored = forms.query_to_state(
        {
            "train_preset": "Fast CNN (16-32 conv, 0.91 in ~3 min)",
            "train_optimizer": "RMSprop",
            "train_batch": "100",
            "train_epochs": "lots",
        }
    )
    assert state == {"train_preset": "cnn_fast", "train_optimizer": "rmsprop"}
    assert sorted(ignored) == ["batch", "epochs"]


def test_md_escape_makes_markup_inert():
    out = md_escape("<img src=x onerror=alert(1)> **b** [l](http://x) :red[c] $x$ ![i](y)\nnext")
    assert "<" not in out and "\n" not in out
    for raw in ("**", "[l](", ":red[", "$x$", "!["):
        assert raw not in out
    assert len(md_escape("a" * 1000)) <= 200 + 200  # cut (escapes may add backslashes)


def test_subset_follows_the_split_when_it_meant_all_images():
    state = {**forms.default_state(), "train_val_fraction": 0.3}
    assert forms.follow_split(state, 0.2) == 42000  # was all 48,000: now all 42,000
    state["train_subset"] = 5000
    assert forms.follow_split(state, 0.2) == 5000  # a chosen subset is kept
    state = {**forms.default_state(), "train_val_fraction": 0.1, "train_subset": 42000}
    assert forms.follow_split(state, 0.3) == 54000


def test_the_issue_link_fills_the_whole_form():
    query = {
        "model": "lab_mlp",
        "optimizer": "rmsprop",
        "lr": "0.001",
        "epochs": "10",
        "batch": "64",
        "seed": "3",
        "subset": "48000",
    }
    state, ignored = forms.query_to_state(query)
    assert not ignored
    config = forms.config_from_state({**forms.default_state(), **state})
    assert config == TrainConfig(optimizer="rmsprop", learning_rate=0.001, seed=3)
    # and back: the form's link names only what differs from the lab's defaults
    assert forms.state_to_query({**forms.default_state(), **state}) == {
        "optimizer": "rmsprop",
        "lr": "0.001",
        "seed": "3",
    }


@pytest.mark.parametrize(
    "query,ignored,kept",
    [
        ({"optimizer": "adamax"}, ["optimizer"], {}),
        ({"epochs": "-1"}, [], {"train_epochs": -1}),  # kept: the form shows it with its range
        ({"batch": "abc"}, ["batch"], {}),
        ({"seed": "1e99"}, ["seed"], {}),
        ({"model": "x" * 10_000}, ["model"], {}),
        ({"epochs": "9" * 10_000}, ["epochs"], {}),
        ({"train_epochs": "4"}, [], {"train_epochs": 4}),  # the widget keys still work
    ],
)
def test_bad_link_values_are_ignored_or_refused_visibly(query, ignored, kept):
    state, got = forms.query_to_state(query)
    assert got == ignored
    assert state == kept
