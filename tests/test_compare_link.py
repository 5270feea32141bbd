"""Compare set-ups as links: `/compare?optimizers=adam,rmsprop&seeds=3&epochs=10` fills the form; every field
round-trips; unreadable values are named (never echoed) and left as they were; out-of-range numbers are
kept for the form to refuse."""

from __future__ import annotations

import pytest

from fmnist_core.studies import link


def test_the_issues_example_fills_the_form():
    state, ignored = link.query_to_state({"optimizers": "adam,rmsprop", "seeds": "3", "epochs": "10"})
    assert state == {"compare_optimizers": ["adam", "rmsprop"], "compare_seeds": 3, "compare_epochs": 10}
    assert ignored == []


def test_a_fresh_form_makes_no_parameters():
    assert link.state_to_query(link.default_state()) == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"compare_optimizers": ["adam", "rmsprop"], "compare_seeds": 5, "compare_epochs": 4},
        {"compare_preset": "cnn_fast", "compare_batch_size": 128, "compare_target": 0.9},
        {"compare_lr_policy": "shared", "compare_lr": 0.01},
        {"compare_quick": True, "compare_train_subset": 1000, "compare_val_subset": 500},
        {
            "compare_kind": "regularization",
            "compare_optimizer": "rmsprop",
            "compare_regularizers": ["none", "l2"],
        },
        {"compare_kind": "sweep", "compare_sweep_optimizers": ["sgd", "adam"]},
        {"compare_kind": "sweep", "compare_lr_mode": "list", "compare_lrs": "0.001, 0.01, 0.1"},
    ],
)
def test_every_field_round_trips_through_the_url(changes):
    state = {**link.default_state(), **changes}
    query = link.state_to_query(state)
    assert query and all(isinstance(v, str) for v in query.values())
    back, ignored = link.query_to_state(query)
    assert ignored == []
    assert {**link.default_state(), **back} == state


def test_names_and_labels_are_accepted_and_kinds_decide_which_list_fills():
    state, ignored = link.query_to_state({"kind": "sweep", "optimizers": "SGD, Adam", "lrs": "1e-3,1e-2"})
    assert ignored == []
    assert state["compare_sweep_optimizers"] == ["sgd", "adam"] and "compare_optimizers" not in state
    assert state["compare_lr_mode"] == "list" and state["compare_lrs"] == "0.001, 0.01"
    state, _ = link.query_to_state({"model": "Fast CNN (16-32 conv, 0.91 in ~3 min)"})
    assert state == {"compare_preset": "cnn_fast"}


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"optimizers": "adam,<img src=x onerror=alert(1)>"}, "optimizers"),
        ({"optimizers": "bogus"}, "optimizers"),
        ({"epochs": "abc"}, "epochs"),
        ({"seeds": "1e99"}, "seeds"),
        ({"batch": "abc"}, "batch"),
        ({"batch": "100"}, "batch"),  # not one of the batch sizes offered
        ({"kind": "poetry"}, "kind"),
        ({"model": "../../etc/passwd"}, "model"),
        ({"lr": "0.123"}, "lr"),  # not a stop of the shared-rate slider
        ({"lrs": "1e-3, fast"}, "lrs"),
        ({"target": "nan"}, "target"),
        ({"subset": "lots"}, "subset"),
        ({"regularizers": "none,magic"}, "regularizers"),
        ({"optimizer": "adam,sgd"}, "optimizer"),
        ({"epochs": "9" * 10_000}, "epochs"),  # a 10 kB parameter is not a setting
    ],
)
def test_bad_values_are_named_not_echoed_and_left_as_they_were(params, bad):
    state, ignored = link.query_to_state(params)
    assert ignored == [bad]
    text = " ".join(map(str, state.values()))
    assert "<img" not in text and "passwd" not in text and "magic" not in text
    if bad == "optimizers" and "adam" in params["optimizers"]:
        assert state["compare_optimizers"] == ["adam"]  # the readable part is kept
    if bad == "regularizers":
        assert state["compare_regularizers"] == ["none"]


def test_out_of_range_numbers_are_kept_for_the_form_to_refuse():
    state, ignored = link.query_to_state({"epochs": "-1", "seeds": "99", "subset": "10"})
    assert ignored == [] and state["compare_epochs"] == -1 and state["compare_seeds"] == 99
    assert state["compare_quick"] is True and state["compare_train_subset"] == 10
    problems = link.field_problems({**link.default_state(), **state})
    assert set(problems) == {"compare_epochs", "compare_seeds", "compare_train_subset"}
    assert problems["compare_epochs"] == "Epochs: a whole number from 1 to 100"
