"""The Compare page's set-up form as a link, UI-free: `/compare?optimizers=adam,rmsprop&seeds=3&epochs=10`.

The same contract as the Train page's (fmnist_core.forms): a link fills the form by short names; only
fields that differ from a fresh form go into the URL; numbers out of range are kept (the form shows
their valid range and refuses to start), and what cannot be read at all is left as it was and named
(by its parameter name, never by the text it held). Parsing helpers and limits are forms.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fmnist_core.forms import BATCH_SIZES, MAX_PARAM_CHARS, NumberField
from fmnist_core.forms import _float as to_float
from fmnist_core.forms import _int as to_int
from fmnist_core.models import OPTIMIZERS, PRESET_INFO, PRESETS
from fmnist_core.studies.spec import (
    DEFAULT_OPTIMIZERS,
    DEFAULT_REGULARIZERS,
    DEFAULT_TARGET,
    KINDS,
    LAB_OPTIMIZERS,
    REGULARIZATION_LABELS,
    REGULARIZATION_VARIANTS,
    parse_rates,
)

SHARED_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)  # the shared-rate slider's stops
DEFAULT_LRS = "1e-4, 3e-4, 1e-3, 3e-3, 1e-2"  # a sweep's own list, when it has one

# The numeric fields and their limits (a value on screen is the value that runs).
FIELDS = {
    "compare_epochs": NumberField("Epochs", 1, 100),
    "compare_seeds": NumberField("Seeds", 1, 10),
    "compare_target": NumberField("Target", 0.5, 0.99, integer=False),
    "compare_train_subset": NumberField("Training images", 100, 48000),
    "compare_val_subset": NumberField("Validation images", 100, 12000),
}


def default_state() -> dict[str, Any]:
    """The form as a fresh visit shows it: the lab's optimizers, 10 epochs, 3 seeds, Keras' rates."""
    return {
        "compare_kind": "optimizer",
        "compare_preset": "lab_mlp",
        "compare_optimizers": list(DEFAULT_OPTIMIZERS),
        "compare_sweep_optimizers": list(LAB_OPTIMIZERS),
        "compare_optimizer": "adam",
        "compare_regularizers": list(DEFAULT_REGULARIZERS),
        "compare_epochs": 10,
        "compare_batch_size": 64,
        "compare_seeds": 3,
        "compare_target": DEFAULT_TARGET,
        "compare_lr_policy": "default",
        "compare_lr": 1e-3,
        "compare_lr_mode": "around",
        "compare_lrs": DEFAULT_LRS,
        "compare_quick": False,
        "compare_train_subset": 5000,
        "compare_val_subset": 2000,
    }


# short name in a link -> what it sets (documented on the page's "Copy link" popover)
URL_NAMES = (
    "kind",
    "model",
    "optimizers",
    "optimizer",
    "regularizers",
    "epochs",
    "batch",
    "seeds",
    "target",
    "lr",
    "lrs",
    "subset",
    "val_subset",
)


def field_problems(state: Mapping[str, Any]) -> dict[str, str]:
    """Per widget key, why its number cannot run (the subsets only count in a quick demo)."""
    keys = list(FIELDS) if state.get("compare_quick") else list(FIELDS)[:3]
    return {k: p for k in keys if k in state and (p := FIELDS[k].problem(state[k]))}


def _names(raw: str, known: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[list[str], bool]:
    """'adam, RMSprop' -> (['adam', 'rmsprop'], all read): by short name (any case) or by label; unknown
    entries are dropped (and reported as a whole, never echoed), duplicates kept once."""
    by_label = {label.lower(): name for name, label in labels.items()}
    out, ok = [], True
    for part in raw.split(","):
        part = part.strip().lower()
        if not part:
            continue
        name = part if part in known else by_label.get(part)
        if name is None:
            ok = False
        elif name not in out:
            out.append(name)
    return out, ok and bool(out)


def query_to_state(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Form values from a link's query parameters, and the names of those that could not be read.

    `optimizers` fills the optimizer list of the kind the link names (a sweep's, or a plain
    comparison's); `lr` switches to one shared rate, `lrs` to a sweep's own list of rates, and `subset`
    / `val_subset` to a quick demo on that many images."""
    raw = {k: str(params[k]).strip() for k in URL_NAMES if k in params and params[k] is not None}
    state: dict[str, Any] = {}
    ignored: list[str] = []
    for name, value in list(raw.items()):
        if len(value) > MAX_PARAM_CHARS:  # not a setting: left as it was
            ignored.append(name)
            del raw[name]
    kind = raw.get("kind", "optimizer").lower()
    if kind not in KINDS:
        ignored.append("kind")
        kind = "optimizer"
    elif "kind" in raw:
        state["compare_kind"] = kind
    if "model" in raw:
        by_label = {info["label"]: n for n, info in PRESET_INFO.items()}
        preset = raw["model"] if raw["model"] in PRESETS else by_label.get(raw["model"])
        if preset is None:
            ignored.append("model")
        else:
            state["compare_preset"] = preset
    labels = {n: o.label for n, o in OPTIMIZERS.items()}
    if "optimizers" in raw:
        names, ok = _names(raw["optimizers"], OPTIMIZERS, labels)
        if names:
            state["compare_sweep_optimizers" if kind == "sweep" else "compare_optimizers"] = names
        if not ok:
            ignored.append("optimizers")
    if "optimizer" in raw:
        names, ok = _names(raw["optimizer"], OPTIMIZERS, labels)
        if ok and len(names) == 1:
            state["compare_optimizer"] = names[0]
        else:
            ignored.append("optimizer")
    if "regularizers" in raw:
        names, ok = _names(raw["regularizers"], REGULARIZATION_VARIANTS, REGULARIZATION_LABELS)
        if names:
            state["compare_regularizers"] = names
        if not ok:
            ignored.append("regularizers")
    for name, key in (("epochs", "compare_epochs"), ("seeds", "compare_seeds")):
        if name in raw:
            value = to_int(raw[name])
            if value is None:
                ignored.append(name)
            else:
                state[key] = value
    if "batch" in raw:
        value = to_int(raw["batch"])
        if value in BATCH_SIZES:
            state["compare_batch_size"] = value
        else:
            ignored.append("batch")
    if "target" in raw:
        value = to_float(raw["target"], None)
        if value is None:
            ignored.append("target")
        else:
            state["compare_target"] = value
    if "lr" in raw:
        value = to_float(raw["lr"], None)
        match = [r for r in SHARED_LRS if value is not None and abs(r - value) <= 1e-9 * r]
        if match:
            state["compare_lr_policy"], state["compare_lr"] = "shared", match[0]
        else:
            ignored.append("lr")
    if "lrs" in raw:
        rates, problem = parse_rates(raw["lrs"])
        if problem:
            ignored.append("lrs")
        else:
            state["compare_lr_mode"] = "list"
            state["compare_lrs"] = ", ".join(f"{r:g}" for r in rates)
    for name, key in (("subset", "compare_train_subset"), ("val_subset", "compare_val_subset")):
        if name in raw:
            value = to_int(raw[name])
            if value is None:
                ignored.append(name)
            else:
                state[key] = value
                state["compare_quick"] = True
    return state, [n for n in URL_NAMES if n in ignored]


def state_to_query(state: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters (short names) for the form's fields that differ from a fresh form and matter for
    the kind of study on screen."""
    base = default_state()

    def changed(key: str) -> bool:
        return key in state and state[key] != base[key]

    def num(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    kind = state.get("compare_kind", "optimizer")
    out: dict[str, str] = {}
    if kind != "optimizer":
        out["kind"] = str(kind)
    if changed("compare_preset"):
        out["model"] = str(state["compare_preset"])
    if kind == "optimizer" and changed("compare_optimizers"):
        out["optimizers"] = ",".join(state["compare_optimizers"])
    if kind == "sweep" and changed("compare_sweep_optimizers"):
        out["optimizers"] = ",".join(state["compare_sweep_optimizers"])
    if kind == "regularization":
        if changed("compare_optimizer"):
            out["optimizer"] = str(state["compare_optimizer"])
        if changed("compare_regularizers"):
            out["regularizers"] = ",".join(state["compare_regularizers"])
    for key, name in (
        ("compare_epochs", "epochs"),
        ("compare_batch_size", "batch"),
        ("compare_seeds", "seeds"),
        ("compare_target", "target"),
    ):
        if changed(key) and state[key] is not None:
            out[name] = num(state[key])
    if kind != "sweep" and state.get("compare_lr_policy") == "shared":
        out["lr"] = num(float(state.get("compare_lr", base["compare_lr"])))
    if kind == "sweep" and state.get("compare_lr_mode") == "list":
        rates, problem = parse_rates(str(state.get("compare_lrs", "")))
        if not problem:
            out["lrs"] = ",".join(f"{r:g}" for r in rates)
    if state.get("compare_quick"):
        for key, name in (("compare_train_subset", "subset"), ("compare_val_subset", "val_subset")):
            if state.get(key) is not None:
                out[name] = num(state[key])
    return out
