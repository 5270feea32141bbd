"""Reproduce the lab: its own experiments with N seeds, and a short report of each claim of the lab
next to what the seeds show (Markdown and CSV).

The lab ran: the base MLP (784-128-Dropout 0.5-64-10, Adam, batch 64, 10 epochs), the regularization
task (dropout on both hidden layers) and four optimizers at Keras' default rates, one run each, ranked on
last-epoch validation accuracy. The base MLP is the Adam run of the optimizer study and the "dropout"
variant of the regularization study (the same config), so it trains once.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pandas as pd

from fmnist_core.models import OPTIMIZERS, PRESETS
from fmnist_core.store import RunStore
from fmnist_core.studies.schedule import plan_study
from fmnist_core.studies.spec import LAB_OPTIMIZERS, StudySpec, variant_label
from fmnist_core.studies.stats import METRICS, mean_sd, paired_sentence, paired_stats, paired_values
from fmnist_core.training import TrainConfig

LAB_SEEDS = 3
COLUMN = METRICS["last_val"]  # last-epoch validation accuracy, what the lab compared (no early stopping)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str  # what the lab said
    lab_value: float | None  # the lab's number, when it reported one
    lab_text: str = ""  # what the report's "lab" column says when it is not just lab_value


CLAIMS: tuple[Claim, ...] = (
    Claim("base", "The base MLP (Adam, dropout 0.5 after the first layer) reaches 0.8735", 0.8735),
    Claim("rmsprop_best", "RMSprop is the best of the four optimizers (0.8752)", 0.8752),
    Claim("rmsprop_vs_adam", "RMSprop (0.8752) beats Adam (0.8735)", None, "0.8752 vs 0.8735"),
    Claim("adagrad_worst", "Adagrad is the worst optimizer", None, "ranked last"),
    Claim(
        "dropout_both",
        "Dropout on both hidden layers (the regularization task) changes accuracy",
        None,
        "no number kept",
    ),
)


def lab_specs(
    seeds: int = LAB_SEEDS,
    *,
    epochs: int = 10,
    train_subset: int | None = None,
    val_subset: int | None = None,
) -> dict[str, StudySpec]:
    """The lab's two studies: the four optimizers, and dropout on the first vs on both layers (Adam)."""
    base = TrainConfig(
        model=PRESETS["lab_mlp"], epochs=epochs, train_subset=train_subset, val_subset=val_subset
    )
    s = tuple(range(seeds))
    return {
        "optimizers": StudySpec(base=base, variants=LAB_OPTIMIZERS, seeds=s, kind="optimizer"),
        "regularization": StudySpec(
            base=base, variants=("dropout", "dropout_all"), seeds=s, kind="regularization"
        ),
    }


def lab_plan(store: RunStore, specs: dict[str, StudySpec]) -> tuple[int, int, float]:
    """(distinct runs, runs left to train, seconds to train them): the base MLP is in both studies but
    counts, and trains, once."""
    from fmnist_core.studies.estimate import RUN_OVERHEAD_S, sec_per_epoch_estimate

    keys, todo = set(), set()
    for spec in specs.values():
        for p in plan_study(store, spec):
            keys.add(p.config.key())
            if p.source != "reused":
                todo.add(p.config.key())
    base = next(iter(specs.values())).base
    per_run = base.epochs * sec_per_epoch_estimate(base, store) + RUN_OVERHEAD_S
    return len(keys), len(todo), len(todo) * per_run


def lab_runs(store: RunStore, specs: dict[str, StudySpec]) -> pd.DataFrame:
    """Finished runs of the lab's experiments found in the store (by config key: any study's or the
    Train page's identical runs count). Columns: study, variant, label, seed, status, run_id,
    last_val_accuracy, test_accuracy."""
    rows = []
    for study, spec in specs.items():
        for p in plan_study(store, spec):
            run = store.get_run(p.run_id) if p.run_id is not None else None
            rows.append(
                {
                    "study": study,
                    "variant": p.variant,
                    "label": variant_label(spec.kind, p.variant),
                    "seed": p.seed,
                    "status": run.status if run else "missing",
                    "run_id": p.run_id,
                    "last_val_accuracy": run.last_val_accuracy if run else math.nan,
                    "test_accuracy": run.test_accuracy if run else math.nan,
                }
            )
    df = pd.DataFrame(rows)
    for col in ("last_val_accuracy", "test_accuracy"):
        df[col] = df[col].astype(float)
    return df


def _desc(runs: pd.DataFrame, variant: str) -> str:
    v = paired_values(runs, variant, COLUMN)
    if not len(v):
        return "no finished run yet"
    sd = v.std(ddof=1) if len(v) >= 2 else math.nan
    return f"{mean_sd(v.mean(), sd)} [{v.min():.3f}–{v.max():.3f}] over {len(v)} seed{'s' * (len(v) > 1)}"


def _pair(runs: pd.DataFrame, a: str, b: str, kind: str = "optimizer") -> str:
    va, vb = paired_values(runs, a, COLUMN), paired_values(runs, b, COLUMN)
    if not len(va) or not len(vb):
        return "not enough finished runs yet"
    if va.mean() < vb.mean():
        a, b, va, vb = b, a, vb, va
    return paired_sentence(
        paired_stats(va, vb, a_label=variant_label(kind, a), b_label=variant_label(kind, b))
    )


def lab_report(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: claim, lab, seeds (what the seeds show), verdict."""
    opt = runs[runs["study"] == "optimizers"]
    reg = runs[runs["study"] == "regularization"]
    means = {v: paired_values(opt, v, COLUMN).mean() for v in LAB_OPTIMIZERS}
    means = {v: m for v, m in means.items() if m == m}
    ranked = sorted(means, key=means.get, reverse=True)
    rows = []
    for c in CLAIMS:
        if c.id == "base":
            v = paired_values(opt, "adam", COLUMN)
            seeds = "Adam: " + _desc(opt, "adam")
            if not len(v):
                verdict = "pending"
            elif v.min() <= c.lab_value <= v.max():
                verdict = "reproduced: the lab's number is within the seeds' range"
            else:
                verdict = f"the lab's {c.lab_value} is outside the seeds' range"
        elif c.id == "rmsprop_best":
            seeds = (
                "; ".join(f"{OPTIMIZERS[v].label} {_desc(opt, v)}" for v in ranked) or "no finished run yet"
            )
            if len(ranked) < 2:
                verdict = "pending"
            else:
                top = OPTIMIZERS[ranked[0]].label
                verdict = f"best by the mean: {top}. " + _pair(opt, ranked[0], ranked[1])
        elif c.id == "rmsprop_vs_adam":
            seeds = f"RMSprop {_desc(opt, 'rmsprop')}; Adam {_desc(opt, 'adam')}"
            verdict = _pair(opt, "rmsprop", "adam")
        elif c.id == "adagrad_worst":
            seeds = f"Adagrad {_desc(opt, 'adagrad')}, at Keras' default rate 0.001"
            if len(ranked) < 2 or "adagrad" not in ranked:
                verdict = "pending"
            else:
                worst = OPTIMIZERS[ranked[-1]].label
                other = ranked[-2] if ranked[-1] == "adagrad" else "adagrad"
                verdict = (
                    f"worst by the mean: {worst}. "
                    + _pair(opt, ranked[-1], other)
                    + " The rate is Keras' default; "
                    "the learning-rate sweep gives each optimizer its best rate."
                )
        else:
            seeds = f"dropout on the first layer (lab) {_desc(reg, 'dropout')}; on both {_desc(reg, 'dropout_all')}"
            verdict = _pair(reg, "dropout", "dropout_all", "regularization")
        lab = c.lab_text or (f"{c.lab_value:.4f}" if c.lab_value is not None else "")
        rows.append({"claim": c.text, "lab (one run)": lab, "seeds show": seeds, "verdict": verdict})
    return pd.DataFrame(rows)


def report_markdown(report: pd.DataFrame, *, seeds: int, epochs: int, train_subset: int | None) -> str:
    data = f"{train_subset:,} training images" if train_subset else "the lab's 48,000 training images"
    out = io.StringIO()
    out.write("# The lab's claims against several seeds\n\n")
    out.write(
        f"Lab MLP, batch 64, {epochs} epochs, {data}, seeds 0–{seeds - 1}; ranked on last-epoch validation "
        "accuracy as the lab did. Same seed, same initial weights and batch order for every variant: "
        "the verdicts are paired t-tests over seeds.\n\n"
    )
    out.write("| claim | lab (one run) | seeds show | verdict |\n|---|---|---|---|\n")
    for r in report.itertuples(index=False):
        cells = [str(x).replace("|", "\\|") for x in r]
        out.write("| " + " | ".join(cells) + " |\n")
    return out.getvalue()


def report_csv(report: pd.DataFrame) -> bytes:
    return report.to_csv(index=False).encode()
