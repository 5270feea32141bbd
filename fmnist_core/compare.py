"""Comparison studies: the public names of `fmnist_core.studies`, kept under their old home.

The study code lives in fmnist_core/studies/ (one job per module); pages, tests and benchmarks that
import `fmnist_core.compare` keep working.
"""

from __future__ import annotations

from fmnist_core.studies.estimate import (  # noqa: F401
    PRIOR_SEC_PER_IMAGE,
    RUN_OVERHEAD_S,
    SHRINK_SUBSET,
    StudyProgress,
    budget_problem,
    estimate_seconds,
    format_duration,
    sec_per_epoch_estimate,
    study_progress,
)
from fmnist_core.studies.inline import (  # noqa: F401
    Interrupted,
    run_inline,
)
from fmnist_core.studies.lab import (  # noqa: F401
    CLAIMS,
    COLUMN,
    LAB_SEEDS,
    Claim,
    lab_plan,
    lab_report,
    lab_runs,
    lab_specs,
    report_csv,
    report_markdown,
)
from fmnist_core.studies.readback import (  # noqa: F401
    FINAL,
    RUN_COLUMNS,
    SELECT,
    epochs_to_target,
    is_active,
    kept_validation,
    runs_csv,
    study_points,
    study_runs,
)
from fmnist_core.studies.schedule import (  # noqa: F401
    PlannedRun,
    final_scheduled,
    get_spec,
    member_row,
    plan_counts,
    plan_members,
    plan_study,
    schedule_final,
    schedule_study,
    stop_study,
    study_record,
)
from fmnist_core.studies.spec import (  # noqa: F401
    DEFAULT_OPTIMIZERS,
    DEFAULT_REGULARIZERS,
    DEFAULT_SEEDS,
    DEFAULT_TARGET,
    KINDS,
    L2_STRENGTH,
    L2_SWEEP,
    LAB_OPTIMIZERS,
    MAX_RATES,
    MAX_RUNS,
    RANK_BY,
    REGULARIZATION_CONFIG,
    REGULARIZATION_LABELS,
    REGULARIZATION_VARIANTS,
    SWEEP_FACTORS,
    LrPolicy,
    StudyKind,
    StudySpec,
    default_rates,
    describe,
    fresh_seeds,
    new_study_id,
    parse_rates,
    preset_name,
    rates_problem,
    split_sweep_variant,
    study_members,
    study_problems,
    sweep_variant,
    variant_config,
    variant_label,
)
from fmnist_core.studies.stats import (  # noqa: F401
    ALPHA,
    EXACT,
    MAX_SEEDS_NEEDED,
    METRIC_LABELS,
    METRIC_TITLES,
    METRICS,
    MIN_BOOTSTRAP_SEEDS,
    POWER,
    Paired,
    format_p,
    leaderboard_table,
    mean_sd,
    paired_sentence,
    paired_stats,
    paired_values,
    paired_vs_top,
    seeds_needed,
    seeds_sentence,
    separation,
    summarize,
    verdict,
    with_kept,
)
from fmnist_core.studies.sweep import (  # noqa: F401
    REPORT_BY,
    SELECT_BY,
    best_rates,
    comparison_runs,
    final_members,
    final_runs,
    final_state,
    selection_runs,
    sweep_table,
)
from fmnist_core.training import TrainConfig  # noqa: F401,E402  (tests build study bases through here)
