"""What a study is: one base config x variants (optimizers, regularizers, or optimizers x learning rates
for a sweep) x seeds, and the exact config of each of its runs.

Every variant runs with the same seeds, so for a given seed every variant starts from the same initial
weights and sees the same batches (`keras.utils.set_random_seed(seed)` before building the model;
checked in tests/test_compare.py): the comparison is paired. Nothing here imports Keras or Streamlit.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fmnist_core.models import OPTIMIZERS, PRESETS, ModelSpec
from fmnist_core.training import TrainConfig

StudyKind = Literal["optimizer", "regularization", "sweep"]
LrPolicy = Literal["default", "shared"]
KINDS: tuple[str, ...] = ("optimizer", "regularization", "sweep")

DEFAULT_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adagrad", "adam", "rmsprop")  # what the lab ran
LAB_OPTIMIZERS: tuple[str, ...] = ("sgd", "adagrad", "adam", "rmsprop")  # the lab's optimizer task
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2)
DEFAULT_TARGET = 0.85  # validation accuracy for "epochs to target"
MAX_RUNS = 120  # one study; beyond this the page refuses (hours of CPU)
MAX_RATES = 9  # learning rates per optimizer in a sweep
L2_STRENGTH = 1e-4
EARLY_STOP_PATIENCE = 2  # epochs without a better validation accuracy before the "early_stop" variant stops
# A sweep's default grid: 5 rates on a log scale around each optimizer's Keras default (x0.1 ... x10).
SWEEP_FACTORS: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
# The metric the ranking and the verdict use: the validation accuracy of the weights each run kept: its
# last epoch's, as the lab compared, or, where early stopping restored the best epoch's weights, that
# epoch's (readback.kept_validation). Best-epoch accuracy of a run that kept its last weights would pick the
# maximum over epochs on the validation set: an optimistic number for a model nobody has.
RANK_BY = "val"

# -- regularization variants ------------------------------------------------------------------------
# Each isolates one regularizer against "none", so differences are attributable to it.


def _no_dropout(m: ModelSpec) -> ModelSpec:
    return replace(m, dropout=(), conv_dropout=0.0, l2=0.0, batch_norm=False)


def _dropout_first(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), dropout=(0.5,))


def _dropout_all(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), dropout=(0.5,) * len(m.hidden))


def _l2_of(strength: float) -> Callable[[ModelSpec], ModelSpec]:
    def l2(m: ModelSpec) -> ModelSpec:
        return replace(_no_dropout(m), l2=strength)

    return l2


def _batch_norm(m: ModelSpec) -> ModelSpec:
    return replace(_no_dropout(m), batch_norm=True)


# L2 as a sweep of strengths ("l2" keeps its name so finished runs of earlier studies are reused).
L2_SWEEP: dict[str, float] = {"l2_1e-5": 1e-5, "l2": L2_STRENGTH, "l2_1e-3": 1e-3}
REGULARIZATION_VARIANTS: dict[str, Callable[[ModelSpec], ModelSpec]] = {
    "none": _no_dropout,
    "dropout": _dropout_first,
    "dropout_all": _dropout_all,
    **{name: _l2_of(s) for name, s in L2_SWEEP.items()},
    "batch_norm": _batch_norm,
    "flip": _no_dropout,  # the network of "none", trained on randomly mirrored images (TrainConfig.augment)
    # the network of "none", stopped by Keras' EarlyStopping with the best epoch's weights kept
    "early_stop": _no_dropout,
}
# Variants that change the training, not the network: TrainConfig fields on top of the model change.
REGULARIZATION_CONFIG: dict[str, dict[str, Any]] = {
    "flip": {"augment": "flip"},
    "early_stop": {"early_stopping": EARLY_STOP_PATIENCE},
}
DEFAULT_REGULARIZERS: tuple[str, ...] = ("none", "dropout", "dropout_all", "l2", "batch_norm")
REGULARIZATION_LABELS: dict[str, str] = {
    "none": "No dropout",
    "dropout": "Dropout 0.5 (lab)",
    "dropout_all": "Dropout 0.5 on every layer",
    **{name: f"L2 {s:g}, no dropout" for name, s in L2_SWEEP.items()},
    "batch_norm": "Batch norm, no dropout",
    "flip": "Flip augmentation, no dropout",
    "early_stop": f"Early stopping (patience {EARLY_STOP_PATIENCE}, best weights), no dropout",
}


# -- the study spec ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySpec:
    """What to compare. Every variant runs with every seed; everything else comes from `base`.

    kind "sweep": `variants` are optimizers, each trained at every rate of `rates_for(optimizer)`
    (`lrs` if given, else SWEEP_FACTORS x its Keras default), then compared at its best rate.
    """

    base: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = DEFAULT_OPTIMIZERS
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    kind: StudyKind = "optimizer"
    # "default": each optimizer's own Keras default rate (as the lab did); "shared": `shared_lr` for all.
    lr_policy: LrPolicy = "default"
    shared_lr: float | None = None
    target: float = DEFAULT_TARGET  # validation accuracy that "epochs to target" counts up to
    lrs: tuple[float, ...] = ()  # a sweep's rates, the same for every optimizer (empty: around each default)
    # A sweep's final comparison runs each optimizer at its chosen rate on these seeds, disjoint from
    # `seeds` (the seeds that chose the rate would otherwise also judge it: selection bias). None: as many
    # fresh seeds as `seeds`, numbered after them. () only in sweeps saved before fresh seeds existed: their
    # comparison reuses the selection runs, and the page says so.
    final_seeds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.base, dict):
            object.__setattr__(self, "base", TrainConfig.from_dict(self.base))
        object.__setattr__(self, "variants", tuple(str(v) for v in self.variants))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "lrs", tuple(float(r) for r in self.lrs))
        final = self.final_seeds
        if self.kind != "sweep":
            final = ()
        elif final is None:
            final = fresh_seeds(self.seeds)
        object.__setattr__(self, "final_seeds", tuple(int(s) for s in final))
        problems = study_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def rates_for(self, optimizer: str) -> tuple[float, ...]:
        if self.lrs:
            return self.lrs
        return default_rates(optimizer)

    @property
    def n_runs(self) -> int:
        """Every run the study trains or reuses: its members, plus a sweep's final comparison."""
        return sum(1 for _ in study_members(self)) + self.n_final_runs

    @property
    def n_final_runs(self) -> int:
        """A sweep's final comparison: each optimizer at its chosen rate on each fresh seed."""
        return len(self.variants) * len(self.final_seeds) if self.kind == "sweep" else 0

    def to_dict(self) -> dict[str, Any]:
        d = {
            "base": self.base.to_dict(),
            "variants": list(self.variants),
            "seeds": list(self.seeds),
            "kind": self.kind,
            "lr_policy": self.lr_policy,
            "shared_lr": self.shared_lr,
            "target": self.target,
        }
        if self.lrs:
            d["lrs"] = list(self.lrs)
        if self.kind == "sweep":
            d["final_seeds"] = list(self.final_seeds)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudySpec:
        known = set(cls.__dataclass_fields__)
        legacy_sweep = d.get("kind") == "sweep" and "final_seeds" not in d
        d = {k: v for k, v in d.items() if k in known}
        d["base"] = TrainConfig.from_dict(d.get("base", {}))
        if legacy_sweep:  # saved before fresh seeds: its comparison was the selection runs themselves
            d["final_seeds"] = ()
        return cls(**d)


def fresh_seeds(seeds: tuple[int, ...]) -> tuple[int, ...]:
    """As many seeds as `seeds`, numbered right after the largest: (0, 1, 2) -> (3, 4, 5)."""
    start = max(seeds, default=-1) + 1
    return tuple(range(start, start + len(seeds)))


def default_rates(optimizer: str) -> tuple[float, ...]:
    """5 rates on a log grid around the optimizer's Keras default (rounded to 2 significant digits)."""
    lr = OPTIMIZERS[optimizer].default_lr
    return tuple(float(f"{lr * f:.2g}") for f in SWEEP_FACTORS)


def parse_rates(text: str) -> tuple[tuple[float, ...], str | None]:
    """'1e-4, 3e-4, 0.001' -> ((1e-4, 3e-4, 1e-3), None); or ((), a plain reason) for bad input."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        return (), "give at least two learning rates, separated by commas"
    try:
        rates = tuple(float(p) for p in parts)
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        return (), f"{bad!r} is not a number"
    problem = rates_problem(rates)
    return (rates, None) if problem is None else ((), problem)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def rates_problem(rates: tuple[float, ...]) -> str | None:
    if len(rates) < 2:
        return "a sweep needs at least two learning rates"
    if len(rates) > MAX_RATES:
        return f"at most {MAX_RATES} learning rates"
    if any(not (math.isfinite(r) and 1e-6 <= r <= 10.0) for r in rates):
        return "learning rates must be from 1e-06 to 10"
    if len(set(rates)) != len(rates):
        return "each learning rate may appear only once"
    return None


def study_problems(spec: StudySpec) -> list[str]:
    """Plain-language reasons a study cannot run (empty when fine)."""
    out = []
    if spec.kind not in KINDS:
        out.append(f"study kind must be one of {', '.join(KINDS)}, not {spec.kind!r}")
        return out
    known = REGULARIZATION_VARIANTS if spec.kind == "regularization" else OPTIMIZERS
    unknown = [v for v in spec.variants if v not in known]
    if unknown:
        out.append(f"unknown {spec.kind} variant(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if len(set(spec.variants)) != len(spec.variants):
        out.append("each variant may appear only once")
    if len(spec.variants) < 2 and spec.kind != "sweep":
        out.append("a comparison needs at least two variants")
    if spec.kind == "sweep":
        if not spec.variants:
            out.append("a sweep needs at least one optimizer")
        if spec.lrs and (problem := rates_problem(spec.lrs)):
            out.append(problem)
    if not spec.seeds:
        out.append("a study needs at least one seed")
    if len(set(spec.seeds)) != len(spec.seeds):
        out.append("each seed may appear only once")
    if any(not 0 <= s < 2**31 for s in (*spec.seeds, *spec.final_seeds)):
        out.append("seeds must be from 0 to 2^31-1")
    if set(spec.final_seeds) & set(spec.seeds):
        out.append("the final comparison's seeds must differ from the seeds that chose the rates")
    if len(set(spec.final_seeds)) != len(spec.final_seeds):
        out.append("each final seed may appear only once")
    if not out:
        n = sum(1 for _ in study_members(spec)) + spec.n_final_runs
        if n > MAX_RUNS:
            out.append(f"{n} runs is too many for one study (at most {MAX_RUNS})")
    if spec.lr_policy not in ("default", "shared"):
        out.append("learning-rate policy must be 'default' or 'shared'")
    elif spec.lr_policy == "shared" and spec.shared_lr is None:
        out.append("a shared learning rate needs a value")
    if not 0.0 < spec.target < 1.0:
        out.append("the target accuracy must be between 0 and 1")
    if spec.base.train_subset is not None and spec.base.batch_size > spec.base.train_subset:
        out.append("the batch size is larger than the training subset")
    return out


# -- the runs of a study ----------------------------------------------------------------------------


def sweep_variant(optimizer: str, lr: float) -> str:
    """A sweep run's variant name: 'adam@0.001' (optimizer and rate are also in its config)."""
    return f"{optimizer}@{lr:g}"


def split_sweep_variant(variant: str) -> tuple[str, float]:
    optimizer, _, lr = variant.partition("@")
    return optimizer, float(lr)


def study_members(spec: StudySpec) -> Iterator[tuple[str, int]]:
    """(variant, seed) for every run, seed-major, so the first runs already cover every variant."""
    for seed in spec.seeds:
        if spec.kind == "sweep":
            for opt in spec.variants:
                for lr in spec.rates_for(opt):
                    yield sweep_variant(opt, lr), seed
        else:
            for variant in spec.variants:
                yield variant, seed


def variant_label(kind: str, variant: str) -> str:
    if kind == "regularization":
        return REGULARIZATION_LABELS.get(variant, variant)
    if kind == "sweep" and "@" in variant:
        opt, lr = split_sweep_variant(variant)
        return f"{variant_label('optimizer', opt)} @ {lr:g}"
    info = OPTIMIZERS.get(variant)
    return info.label if info else variant


def variant_config(spec: StudySpec, variant: str, seed: int) -> TrainConfig:
    """The exact config of one run of the study (its key decides reuse)."""
    lr = spec.shared_lr if spec.lr_policy == "shared" else None
    if spec.kind == "sweep":
        opt, rate = split_sweep_variant(variant)
        # Keras' default rate is stored as None, as optimizer studies store it: same key, reused runs
        rate = None if rate == OPTIMIZERS[opt].default_lr else rate
        return spec.base.with_(optimizer=opt, learning_rate=rate, seed=int(seed))
    if spec.kind == "optimizer":
        return spec.base.with_(optimizer=variant, learning_rate=lr, seed=int(seed))
    model = REGULARIZATION_VARIANTS[variant](spec.base.model)
    extra = REGULARIZATION_CONFIG.get(variant, {})
    return spec.base.with_(model=model, learning_rate=lr, seed=int(seed), **extra)


def preset_name(model: ModelSpec) -> str | None:
    return next((name for name, m in PRESETS.items() if m == model), None)


def describe(spec: StudySpec) -> str:
    """A short default name: '5 optimizers × 3 seeds · lab_mlp · 10 epochs'."""
    what = {"optimizer": "optimizers", "regularization": "regularizers", "sweep": "optimizers"}[spec.kind]
    model = preset_name(spec.base.model) or spec.base.model.kind
    head = f"{len(spec.variants)} {what}"
    if spec.kind == "sweep":
        n_rates = len(spec.lrs) if spec.lrs else len(SWEEP_FACTORS)
        head = f"Sweep: {head} × {n_rates} rates"
    parts = [f"{head} × {len(spec.seeds)} seed{'s' if len(spec.seeds) > 1 else ''}", model]
    parts.append(f"{spec.base.epochs} epoch{'s' if spec.base.epochs > 1 else ''}")
    if spec.kind == "regularization":
        parts.append(OPTIMIZERS[spec.base.optimizer].label)
    if spec.lr_policy == "shared" and spec.kind != "sweep":
        parts.append(f"lr {spec.shared_lr:g}")
    if spec.base.train_subset:
        parts.append(f"{spec.base.train_subset:,} train images")
    return " · ".join(parts)


def new_study_id() -> str:
    """URL-safe and sortable: '20260131-142501-a3f9c2'."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
