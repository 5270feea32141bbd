"""The Train page's set-up form, UI-free: field limits, a config <-> form-state round trip, and the URL.

The page draws widgets from this state and builds its `TrainConfig` from them, so that a link
(`/train?run=8`, `?train_preset=cnn_fast&train_epochs=3`) opens exactly the set-up it names, and a value
the form shows is the value that trains (out-of-range numbers are refused, never replaced).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fmnist_core.augment import AUGMENTS
from fmnist_core.models import ACTIVATIONS, OPTIMIZERS, PRESET_INFO, PRESETS, ModelSpec
from fmnist_core.progress import n_train_images
from fmnist_core.training import BACKENDS, LIMITS, LR_SCHEDULES, TrainConfig

SQLITE_MAX_INT = 2**63 - 1
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
CUSTOM = "custom"
NO_AUGMENT = "none"
AUGMENT_OPTIONS = (NO_AUGMENT, *AUGMENTS)
CONSTANT = "constant"
SCHEDULE_OPTIONS = (CONSTANT, *LR_SCHEDULES)


@dataclass(frozen=True)
class NumberField:
    label: str
    lo: float
    hi: float
    integer: bool = True

    def problem(self, value: Any) -> str | None:
        """None when `value` is usable, else the valid range in words (shown next to the field)."""
        ok = value is not None and isinstance(value, int | float) and math.isfinite(value)
        if ok and self.integer:
            ok = float(value).is_integer()
        if ok and self.lo <= value <= self.hi:
            return None
        kind = "a whole number" if self.integer else "a number"
        return f"{self.label}: {kind} from {self.lo:,g} to {self.hi:,g}"


def number_fields(val_fraction: float = 0.2) -> dict[str, NumberField]:
    """The numeric fields of the form and their limits (the subset's upper bound follows the split)."""
    return {
        "train_epochs": NumberField("Epochs", *LIMITS["epochs"]),
        "train_seed": NumberField("Seed", 0, 2**31 - 1),
        "train_subset": NumberField("Training images", 100, n_train_images({"val_fraction": val_fraction})),
        "train_lr": NumberField("Learning rate", *LIMITS["learning_rate"], integer=False),
        "train_val_fraction": NumberField("Validation fraction", *LIMITS["val_fraction"], integer=False),
    }


def default_state() -> dict[str, Any]:
    """The form as a fresh visit shows it: the lab's set-up."""
    return form_state(TrainConfig())


def form_state(config: TrainConfig) -> dict[str, Any]:
    """Widget values (by widget key) that show `config` in the form."""
    spec = config.model
    preset = next((name for name, p in PRESETS.items() if p == spec), CUSTOM)
    state: dict[str, Any] = {
        "train_preset": preset,
        "train_optimizer": config.optimizer,
        "train_lr_default": config.learning_rate is None,
        "train_lr": config.effective_lr,
        "train_epochs": config.epochs,
        "train_batch": config.batch_size,
        "train_seed": config.seed,
        "train_val_fraction": config.val_fraction,
        "train_subset": config.train_subset or n_train_images({"val_fraction": config.val_fraction}),
        "train_augment": getattr(config, "augment", None) or NO_AUGMENT,
        "train_schedule": getattr(config, "lr_schedule", None) or CONSTANT,
        "train_backend": getattr(config, "backend", "tensorflow"),
    }
    if preset == CUSTOM:
        state.update(
            {
                "train_kind": spec.kind,
                "train_conv": ", ".join(map(str, spec.conv_filters)) or "32, 64",
                "train_double_conv": spec.double_conv,
                "train_conv_dropout": float(spec.conv_dropout),
                "train_hidden": ", ".join(map(str, spec.hidden)),
                "train_dropout": ", ".join(f"{d:g}" for d in spec.dropout),
                "train_activation": spec.activation,
                "train_l2": float(spec.l2),
                "train_bn": spec.batch_norm,
            }
        )
    return state


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError as exc:
        raise ValueError(f"{what}: write whole numbers separated by commas, e.g. 128, 64") from exc


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError as exc:
        raise ValueError(f"{what}: write numbers separated by commas, e.g. 0.5, 0.2") from exc


def spec_from_state(state: Mapping[str, Any]) -> ModelSpec:
    """The architecture the form describes; ValueError with a readable reason for a bad one."""
    preset = state.get("train_preset", "lab_mlp")
    if preset != CUSTOM:
        return PRESETS[preset]
    kind = state.get("train_kind", "mlp")
    cnn = kind == "cnn"
    return ModelSpec(
        kind=kind,
        hidden=parse_ints(str(state.get("train_hidden", "128" if cnn else "128, 64")), "Dense layer sizes"),
        conv_filters=parse_ints(str(state.get("train_conv", "32, 64")), "Conv filters") if cnn else (),
        double_conv=bool(state.get("train_double_conv", False)) and cnn,
        activation=state.get("train_activation", "relu"),
        dropout=parse_floats(str(state.get("train_dropout", "0.3" if cnn else "0.5")), "Dropout"),
        conv_dropout=float(state.get("train_conv_dropout", 0.0)) if cnn else 0.0,
        l2=float(state.get("train_l2", 0.0)),
        batch_norm=bool(state.get("train_bn", False)),
        input="image" if cnn else "flat",
    )


def field_problems(state: Mapping[str, Any]) -> dict[str, str]:
    """Per widget key, why its value cannot train (empty when every field is in range)."""
    fields = number_fields(_float(state.get("train_val_fraction"), 0.2))
    out = {}
    for key, field in fields.items():
        if key == "train_lr" and state.get("train_lr_default", True):
            continue
        problem = field.problem(state.get(key))
        if problem:
            out[key] = problem
    return out


def config_from_state(state: Mapping[str, Any]) -> TrainConfig:
    """The TrainConfig the form shows. ValueError (with every reason) if any field is out of range."""
    problems = field_problems(state)
    if problems:
        raise ValueError("; ".join(problems.values()))
    spec = spec_from_state(state)
    val_fraction = float(state.get("train_val_fraction", 0.2))
    n_split = n_train_images({"val_fraction": val_fraction})
    subset = int(state.get("train_subset", n_split))
    extra = {}
    if state.get("train_augment", NO_AUGMENT) != NO_AUGMENT:
        extra["augment"] = state["train_augment"]
    if state.get("train_schedule", CONSTANT) != CONSTANT:
        extra["lr_schedule"] = state["train_schedule"]
    if state.get("train_backend", "tensorflow") != "tensorflow":
        extra["backend"] = state["train_backend"]
    return TrainConfig(
        model=spec,
        optimizer=state.get("train_optimizer", "adam"),
        learning_rate=None if state.get("train_lr_default", True) else float(state["train_lr"]),
        epochs=int(state.get("train_epochs", 10)),
        batch_size=int(state.get("train_batch", 64)),
        val_fraction=val_fraction,
        seed=int(state.get("train_seed", 42)),
        train_subset=None if subset >= n_split else subset,
        **extra,
    )


# -- the URL ----------------------------------------------------------------------------------------------

URL_KEYS = (
    "train_preset",
    "train_optimizer",
    "train_lr",
    "train_epochs",
    "train_batch",
    "train_seed",
    "train_val_fraction",
    "train_subset",
    "train_augment",
    "train_schedule",
    "train_backend",
)
# The short names links use (`/train?model=cnn_fast&epochs=3`); the widget keys are accepted too.
URL_NAMES = {
    "train_preset": "model",
    "train_optimizer": "optimizer",
    "train_lr": "lr",
    "train_epochs": "epochs",
    "train_batch": "batch",
    "train_seed": "seed",
    "train_val_fraction": "val",
    "train_subset": "subset",
    "train_augment": "augment",
    "train_schedule": "schedule",
    "train_backend": "backend",
}
MAX_PARAM_CHARS = 200  # a longer value is not a setting: ignored with a note


def link_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The form's parameters in a URL's query, by widget key, from short names or widget keys."""
    out = {}
    for key in URL_KEYS:
        for name in (URL_NAMES[key], key):
            if name in params and params[name] is not None:
                out[key] = str(params[name])
                break
    return out


def state_to_query(state: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for the form fields that differ from a fresh form (short names, plain numbers)."""
    base = default_state()
    out = {}
    for key in URL_KEYS:
        value = state.get(key)
        if key == "train_lr" and state.get("train_lr_default", True):
            continue
        if key == "train_subset" and value is not None:
            n_split = n_train_images({"val_fraction": _float(state.get("train_val_fraction"), 0.2)})
            if _float(value, n_split) >= n_split:
                continue
        own_lr = key == "train_lr"  # an own rate is named even when it equals the default's value
        if value is not None and (own_lr or value != base.get(key)):
            out[URL_NAMES[key]] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def query_to_state(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Form values from query parameters (short names or widget keys), and what was ignored (unreadable
    values, by short name).

    Numbers out of range are kept: the form shows them with their valid range and refuses to train.
    Presets and optimizers are accepted by short name (`cnn_fast`) or by their label.
    """
    state: dict[str, Any] = {}
    ignored: list[str] = []
    found = link_params(params)
    for key in URL_KEYS:
        raw = found.get(key)
        if raw is None:
            continue
        raw = raw.strip()
        if len(raw) > MAX_PARAM_CHARS:
            ignored.append(key)
            continue
        if key == "train_preset":
            by_label = {info["label"]: name for name, info in PRESET_INFO.items()}
            name = raw if raw in PRESETS or raw == CUSTOM else by_label.get(raw)
            if name is None:
                ignored.append(key)
            else:
                state[key] = name
        elif key == "train_optimizer":
            by_label = {o.label: name for name, o in OPTIMIZERS.items()}
            name = raw.lower() if raw.lower() in OPTIMIZERS else by_label.get(raw)
            if name is None:
                ignored.append(key)
            else:
                state[key] = name
        elif key in ("train_schedule", "train_backend"):
            if raw in (SCHEDULE_OPTIONS if key == "train_schedule" else BACKENDS):
                state[key] = raw
            else:
                ignored.append(key)
        elif key == "train_augment":
            if raw in AUGMENT_OPTIONS:
                state[key] = raw
            else:
                ignored.append(key)
        elif key == "train_batch":
            value = _int(raw)
            if value in BATCH_SIZES:
                state[key] = value
            else:
                ignored.append(key)
        elif key in ("train_lr", "train_val_fraction"):
            value = _float(raw, None)
            if value is None:
                ignored.append(key)
            else:
                state[key] = value
                if key == "train_lr":
                    state["train_lr_default"] = False
        else:
            value = _int(raw)
            if value is None:
                ignored.append(key)
            else:
                state[key] = value
    ignored = [URL_NAMES[k] for k in ignored]
    if "train_val_fraction" in state and "train_subset" not in state:  # no subset in the link: all images
        state["train_subset"] = n_train_images({"val_fraction": _float(state["train_val_fraction"], 0.2)})
    return state, ignored


def follow_split(state: Mapping[str, Any], old_val_fraction: float) -> int:
    """The subset after the validation share changed: "all images" stays all; a smaller subset stays."""
    old_all = n_train_images({"val_fraction": old_val_fraction})
    new_all = n_train_images({"val_fraction": _float(state.get("train_val_fraction"), 0.2)})
    subset = state.get("train_subset", old_all)
    return new_all if subset is None or _float(subset, old_all) >= old_all else min(int(subset), new_all)


def parse_run_id(raw: Any) -> int | None:
    """A run id from a URL parameter, or None for anything no run can have (text, 0, negative, huge)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:  # no sign, space, point or other digits
        return None
    value = int(text)
    return value if 1 <= value <= SQLITE_MAX_INT else None


def describe_bad_id(raw: Any) -> str:
    """A short, safe rendering of a bad id for a message (never echoes arbitrary text)."""
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return f"#{text[:12]}…" if len(text) > 12 else f"#{text}"
    return "in this link"


def _int(raw: str) -> int | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or not value.is_integer() or abs(value) > 1e15:
        return None
    return int(value)


def _float(raw: Any, default: Any) -> Any:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


__all__ = [
    "ACTIVATIONS",
    "BATCH_SIZES",
    "CUSTOM",
    "NumberField",
    "config_from_state",
    "default_state",
    "describe_bad_id",
    "field_problems",
    "form_state",
    "number_fields",
    "parse_run_id",
    "query_to_state",
    "spec_from_state",
    "state_to_query",
]
