"""Compare optimizers (or regularizers) over several seeds: what the lab meant, honestly.

Reads like the screen: pick a study (new or past), set it up, start it; then live curves, progress
and, as runs finish, the leaderboard with its one-sentence verdict. Training happens in the job
runner's worker; this page only schedules runs and reads the store (a fragment polls it while the
study is active), so leaving or reloading the page does not stop a study. "Chosen runs" compares any
ended runs, imported ones included, from their metrics alone.

The form and the URL agree as on the Train page: `/compare?optimizers=adam,rmsprop&seeds=3&epochs=10`
fills the form (fmnist_core.studies.link), the form's non-default fields are in the URL, `?study=<id>`
opens a study, `?mode=runs&runs=3,7` compares runs, and `?present=1` is presenter mode.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from fmnist_core import charts, compare
from fmnist_core.forms import BATCH_SIZES
from fmnist_core.models import OPTIMIZERS, PRESET_INFO, PRESETS
from fmnist_core.settings import study_budget_seconds
from fmnist_core.store import ACTIVE, QueueFull
from fmnist_core.studies import chosen, link
from fmnist_core.text import md_escape
from fmnist_core.training import TrainConfig
from pages._evaluation import overlay_name
from pages._live import presenter_toggle
from pages._shared import get_runner, get_store

NEW = "new"  # selectbox option for "set up a new study" (study ids are timestamps, never "new")
POLL_SECONDS = 2.0
SHARED_LRS = link.SHARED_LRS
KINDS = {"optimizer": "Optimizers", "regularization": "Regularization", "sweep": "Learning-rate sweep"}
MODES = {"studies": "Studies", "runs": "Chosen runs (local or imported)"}
RUNS_LIMIT = 300  # newest ended runs offered in "Chosen runs"
URL_KEYS = ("study", "mode", "runs", "present", *link.URL_NAMES)  # every parameter this page writes
PAIRED_NOTE = (
    "Paired by seed: for a given seed every variant starts from identical initial weights and sees the same "
    "batch order (`keras.utils.set_random_seed` before the model is built; checked by a test that builds the "
    "variants with one seed and compares their weights), so each verdict is a paired t-test over seeds."
)


# ------------------------------------------------------------------------------------ the form and the URL


def init_form() -> None:
    """The form's state before any widget is drawn: defaults, then, on a session's first visit, what
    the link says (its set-up, the runs to compare, presenter mode)."""
    for key, value in link.default_state().items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("compare_present", False)
    st.session_state.setdefault("compare_mode", "studies")
    if not st.session_state.get("compare_link_read"):
        st.session_state["compare_link_read"] = True
        follow_link()


def follow_link() -> None:
    params = st.query_params
    state, ignored = link.query_to_state({k: params.get(k) for k in params})
    for key, value in state.items():
        st.session_state[key] = value
    if state and "study" not in params:
        st.session_state["compare_study"] = NEW  # a set-up link shows its form, not a past study
    st.session_state["compare_present"] = params.get("present") == "1"
    if params.get("mode") == "runs" or "runs" in params:
        st.session_state["compare_mode"] = "runs"
        ids, ok = chosen.parse_run_ids(params.get("runs"))
        st.session_state["compare_runs_pending"] = ids
        if not ok:
            ignored.append("runs")
    if ignored:
        # parameter names only (ours), never the text they held
        st.session_state["compare_notice"] = (
            "Some settings in this link could not be read and were left as they were: "
            + ", ".join(ignored)
            + "."
        )


def sync_url(selected: str | None, mode: str) -> None:
    """The URL names what is on screen: the new study's non-default fields, or the study, or the runs."""
    wanted: dict[str, str] = {}
    if mode == "runs":
        wanted["mode"] = "runs"
        picked = st.session_state.get("compare_runs") or []
        if picked:
            wanted["runs"] = ",".join(str(int(r)) for r in picked)
    elif selected == NEW:
        wanted.update(link.state_to_query(st.session_state))
    elif selected is not None:
        wanted["study"] = selected
    if st.session_state.get("compare_present"):
        wanted["present"] = "1"
    for key in URL_KEYS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


def share_ui() -> None:
    """The set-up as a link to copy (the fields that differ from a fresh form)."""
    base = (st.context.url or "").split("?")[0] or "/compare"
    query = link.state_to_query(st.session_state)
    with st.popover("Copy link to this set-up", icon=":material/link:"):
        st.code(f"{base}?{urlencode(query, safe=',')}" if query else base, language=None, wrap_lines=True)
        st.caption(
            "Opening it fills this form. Short names: " + ", ".join(f"`{n}`" for n in link.URL_NAMES) + "."
        )


def _present() -> bool:
    return bool(st.session_state.get("compare_present"))


def _big_fonts(fig):
    if _present():  # readable from the back of a classroom
        fig.update_layout(font=dict(size=16), title_font=dict(size=22), legend_font=dict(size=15))
        if fig.layout.annotations:  # the leaderboard's value column (13 px) grows too, and its margin
            fig.update_annotations(font_size=16)
            r = fig.layout.margin.r
            if r and r > 30:
                fig.update_layout(margin=dict(r=int(r * 16 / 13)))
    return fig


# ------------------------------------------------------------------------------------ choosing a study


def choose_study_ui() -> str:
    """The study selector. The choice lives in session state and in the URL (`?study=<id>`), so a
    reload or a shared link reopens the study."""
    # newest first by id (ids are creation times): a re-saved study keeps its place
    studies = {s["id"]: s for s in sorted(get_store().studies(), key=lambda s: s["id"], reverse=True)}
    pending = st.session_state.pop("compare_pending_study", None)
    from_url = st.query_params.get("study")
    if pending is not None:  # set before the widget is drawn: Streamlit forbids changing it afterwards
        st.session_state["compare_study"] = pending
    elif from_url in studies and "compare_study" not in st.session_state:
        st.session_state["compare_study"] = from_url
    if st.session_state.get("compare_study") not in (NEW, *studies):
        st.session_state.pop("compare_study", None)  # deleted, or a stale link

    def label(sid: str) -> str:
        # From the id, not the record's save time: a study re-saved while on screen (its final comparison
        # scheduled, the CLI adding runs) must keep its label, or the selectbox would lose its choice.
        if sid == NEW:
            return "New study…"
        try:
            when = dt.datetime.strptime(sid[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            when = dt.datetime.fromtimestamp(studies[sid]["created"])
        return f"{studies[sid]['name']} — {when:%d %b %H:%M}"

    return st.selectbox(
        "Study",
        [NEW, *studies],
        format_func=label,
        key="compare_study",
        persist_state="session",
        help="Studies keep running when you leave this page; pick one to see its progress and results.",
    )


# ------------------------------------------------------------------------------------ setting one up

_field_problems = link.field_problems  # fields whose value cannot run, with their valid range


def lr_policy_ui() -> tuple[str, float | None]:
    """Each optimizer's Keras default rate (as the lab did), or one shared rate."""
    policy = st.radio(
        "Learning rate",
        ["default", "shared"],
        format_func={"default": "Each optimizer's Keras default", "shared": "One shared rate"}.get,
        horizontal=True,
        key="compare_lr_policy",
        persist_state="session",
    )
    if policy != "shared":
        return policy, None
    lr = st.select_slider(
        "Shared learning rate",
        SHARED_LRS,
        format_func=lambda v: f"{v:g}",
        key="compare_lr",
        persist_state="session",
    )
    return policy, lr


def sweep_ui() -> tuple[list[str], tuple[float, ...]]:
    """A sweep's optimizers and rates: 5 around each optimizer's Keras default, or the same list for all.
    Rates that cannot run are refused under the field (and Start stays disabled)."""
    keep = {"persist_state": "session"}
    variants = st.multiselect(
        "Optimizers",
        list(OPTIMIZERS),
        format_func=lambda o: OPTIMIZERS[o].label,
        key="compare_sweep_optimizers",
        help="The lab's four are preselected.",
        **keep,
    )
    a, b = st.columns([2, 3])
    mode = a.radio(
        "Learning rates",
        ["around", "list"],
        format_func={"around": "5 around each default (×0.1 … ×10)", "list": "These rates for all"}.get,
        key="compare_lr_mode",
        **keep,
    )
    if mode == "around":
        b.caption(
            "Rates: "
            + "; ".join(
                f"{OPTIMIZERS[v].label} " + ", ".join(f"{r:g}" for r in compare.default_rates(v))
                for v in variants
            )
        )
        return variants, ()
    text = b.text_input(
        "Rates (comma-separated)",
        key="compare_lrs",
        max_chars=200,
        help="From 1e-06 to 10, 2 to 9 rates.",
        **keep,
    )
    rates, problem = compare.parse_rates(text)
    if problem:
        b.markdown(f":red[Rates: {md_escape(problem)}]")
        st.session_state["compare_lrs_problem"] = problem
    else:
        st.session_state.pop("compare_lrs_problem", None)
    return variants, rates


def setup_ui() -> tuple[compare.StudySpec | None, str]:
    """The study form; returns (spec, name), spec None (with the reason shown) when it cannot run."""
    keep = {"persist_state": "session"}  # the form survives viewing a past study and page switches
    top = st.columns([2, 3, 2])
    kind = top[0].radio(
        "Compare",
        list(KINDS),
        format_func=KINDS.get,
        horizontal=True,
        key="compare_kind",
        help="Optimizers: the same network trained with each optimizer. Regularization: variants of the "
        "network (dropout, L2, batch norm, flips) trained with one optimizer. Learning-rate sweep: every "
        "optimizer at several rates, then compared at its best rate (the fair race).",
        **keep,
    )
    preset = top[1].selectbox(
        "Base model",
        list(PRESETS),
        format_func=lambda p: PRESET_INFO[p]["label"],
        key="compare_preset",
        **keep,
    )
    optimizer = "adam"
    lrs: tuple[float, ...] = ()
    if kind == "sweep":
        variants, lrs = sweep_ui()
    elif kind == "optimizer":
        variants = st.multiselect(
            "Optimizers",
            list(OPTIMIZERS),
            format_func=lambda o: OPTIMIZERS[o].label,
            key="compare_optimizers",
            help="The lab's five are preselected.",
            **keep,
        )
    else:
        optimizer = top[2].selectbox(
            "Optimizer",
            list(OPTIMIZERS),
            format_func=lambda o: OPTIMIZERS[o].label,
            key="compare_optimizer",
            **keep,
        )
        variants = st.multiselect(
            "Regularization variants",
            list(compare.REGULARIZATION_VARIANTS),
            format_func=compare.REGULARIZATION_LABELS.get,
            key="compare_regularizers",
            help="Each adds one regularizer to the base network with its dropout removed: L2 at three "
            "strengths makes a sweep of L2; flips train on randomly mirrored images.",
            **keep,
        )
    row = st.columns(4)
    row[0].number_input("Epochs", step=1, key="compare_epochs", **keep)
    batch_size = row[1].selectbox("Batch size", BATCH_SIZES, key="compare_batch_size", **keep)
    row[2].number_input(
        "Seeds per variant",
        step=1,
        key="compare_seeds",
        help="Seeds 0, 1, 2, …: for a given seed every variant starts from the same weights and batch order.",
        **keep,
    )
    row[3].number_input(
        "Target val. accuracy",
        step=0.01,
        format="%.2f",
        key="compare_target",
        help="The leaderboard counts the epochs each run needed to reach this validation accuracy.",
        **keep,
    )
    problems = _field_problems(st.session_state)
    for col, key in zip(row, ("compare_epochs", None, "compare_seeds", "compare_target"), strict=True):
        if key in problems:
            col.markdown(f":red[{problems[key]}]")
    lr_col, subset_col = st.columns(2)
    policy, shared_lr = "default", None
    with lr_col:
        if kind == "sweep":
            st.caption(
                "Each optimizer runs at every rate; its best rate is chosen on validation accuracy. Then each "
                "optimizer runs again at its best rate on fresh seeds, and that comparison is reported on the "
                "test set: neither the seeds nor the images that chose a rate judge it (no selection bias)."
            )
        else:
            policy, shared_lr = lr_policy_ui()
    with subset_col:
        quick = st.toggle(
            "Quick demo on a subset",
            key="compare_quick",
            help="Train and validate on the first N images of the lab's split: minutes become seconds.",
            **keep,
        )
        train_subset = val_subset = None
        if quick:
            a, b = st.columns(2)
            a.number_input("Training images", step=500, key="compare_train_subset", **keep)
            b.number_input("Validation images", step=500, key="compare_val_subset", **keep)
            problems = _field_problems(st.session_state)
            for col, key in ((a, "compare_train_subset"), (b, "compare_val_subset")):
                if key in problems:
                    col.markdown(f":red[{problems[key]}]")
            train_subset = st.session_state["compare_train_subset"]
            val_subset = st.session_state["compare_val_subset"]
    name = st.text_input("Name (optional)", key="compare_name", max_chars=80, **keep)

    problems = _field_problems(st.session_state)
    if (
        kind == "sweep"
        and st.session_state.get("compare_lr_mode") == "list"
        and "compare_lrs_problem" in st.session_state
    ):
        problems["compare_lrs"] = st.session_state["compare_lrs_problem"]
    if problems:
        st.warning(
            "This study cannot run until the fields marked in red are in range; the counts below are not "
            "shown for it.",
            icon=":material/block:",
        )
        return None, name
    epochs, seeds, target = (
        st.session_state[k] for k in ("compare_epochs", "compare_seeds", "compare_target")
    )
    try:
        base = TrainConfig(
            model=PRESETS[preset],
            optimizer=optimizer,
            epochs=int(epochs),
            batch_size=int(batch_size),
            train_subset=int(train_subset) if train_subset else None,
            val_subset=int(val_subset) if val_subset else None,
        )
        spec = compare.StudySpec(
            base=base,
            variants=tuple(variants),
            seeds=tuple(range(int(seeds))),
            kind=kind,
            lr_policy=policy,
            shared_lr=shared_lr,
            target=float(target),
            lrs=lrs,
        )
    except ValueError as exc:
        st.warning(f"This study cannot run: {exc}.")
        return None, name
    if kind == "optimizer" and policy == "default":
        rates = ", ".join(f"{OPTIMIZERS[v].label} {OPTIMIZERS[v].default_lr:g}" for v in variants)
        notes = [f"{OPTIMIZERS[v].label}: {OPTIMIZERS[v].note}" for v in variants if OPTIMIZERS[v].note]
        st.caption(f"Learning rates (Keras defaults, as the lab used): {rates}. " + " ".join(notes))
    if len(spec.seeds) == 1:
        st.caption("With one seed per variant the spread is unknown: the verdict will say so.")
    st.caption(PAIRED_NOTE)
    return spec, name


def _seeds(seeds: tuple[int, ...]) -> str:
    return ", ".join(map(str, seeds))


def estimate_ui(spec: compare.StudySpec) -> bool:
    """Runs, reuse and the time estimate before starting; False (with how to shrink it) when the study is
    beyond the time budget."""
    store = get_store()
    plan = compare.plan_study(store, spec)
    reused = sum(p.source == "reused" for p in plan)
    running = sum(p.source == "already_running" for p in plan)
    cols = st.columns(4)
    what = f"{len(spec.variants)} variants × {len(spec.seeds)} seeds"
    if spec.kind == "sweep":
        n_rates = len(spec.lrs) if spec.lrs else len(compare.SWEEP_FACTORS)
        what = (
            f"{len(spec.variants)} optimizers × {n_rates} rates × seeds {_seeds(spec.seeds)} to choose each "
            f"optimizer's rate, then {spec.n_final_runs} runs at the chosen rates on fresh seeds "
            f"{_seeds(spec.final_seeds)}"
        )
    cols[0].metric("Runs", spec.n_runs, help=what)
    cols[1].metric("To train", spec.n_runs - reused - running)
    cols[2].metric(
        "Reused", reused, help="Finished runs with an identical config and seed are not trained again."
    )
    seconds = compare.estimate_seconds(spec, store)
    cols[3].metric(
        "Estimated time",
        compare.format_duration(seconds),
        help="One run at a time, from similar past runs on this machine (or a prior when there are none).",
    )
    if running:
        st.caption(f"{running} identical run(s) are already queued or training; the study will use them.")
    problem = compare.budget_problem(spec, store, seconds=seconds)
    if problem:
        st.warning(
            problem.replace("--train-subset 5000, the page's quick demo", "Quick demo, 5,000 images"),
            icon=":material/timer_off:",
        )
        return False
    if seconds > 3600:
        st.caption("That is long: a quick demo on a subset, fewer epochs or fewer variants cut it down.")
    return True


def start_ui(spec: compare.StudySpec | None, name: str) -> None:
    # A double click or a replayed rerun reuses this id, and schedule_study is idempotent per id:
    # exactly one study is created per click.
    start_id = st.session_state.setdefault("compare_start_id", compare.new_study_id())
    if st.button(
        "Start study",
        key="compare_start",
        type="primary",
        disabled=spec is None,
        icon=":material/play_arrow:",
    ):
        try:
            study_id, counts = compare.schedule_study(
                get_runner(), spec, name=name.strip(), study_id=start_id
            )
        except QueueFull as exc:  # the server's queue limit; runs queued before it stay queued
            st.warning(f"{md_escape(exc)} Runs queued before the limit was reached keep their place.")
            return
        st.session_state.pop("compare_start_id", None)
        st.session_state.pop("compare_notice", None)  # the link's note was about the form just used
        st.session_state["compare_pending_study"] = study_id
        st.session_state["compare_started"] = (study_id, counts)
        st.rerun()


# ------------------------------------------------------------------------------------ showing one


def render_study(study_id: str) -> None:
    store = get_store()
    study = store.get_study(study_id)
    if study is None:
        st.warning("This study no longer exists. Pick another one or start a new study.")
        return
    spec = compare.get_spec(store, study_id)
    st.subheader(md_escape(study["name"]) or "Unnamed study")
    if not _present():
        lr = (
            f"shared learning rate {spec.shared_lr:g}"
            if spec.lr_policy == "shared"
            else "Keras' default rates"
        )
        seeds = f"seeds {_seeds(spec.seeds)}"
        if spec.kind == "sweep":
            lr = "rates " + (", ".join(f"{r:g}" for r in spec.lrs) if spec.lrs else "×0.1 … ×10 each default")
            if spec.final_seeds:
                seeds = f"rates chosen on seeds {_seeds(spec.seeds)}, compared on {_seeds(spec.final_seeds)}"
        subset = f" · {spec.base.train_subset:,} training images" if spec.base.train_subset else ""
        st.caption(
            f"Study `{study_id}` · batch {spec.base.batch_size} · {lr} · {seeds}{subset} · target {spec.target:.0%}"
        )
    # One placeholder each for what comes and goes (the start message, a worker problem, the Stop
    # button and its message): the live fragment below keeps the same place in the page from run to
    # run, so a fragment run that lands around a full rerun (a reconnect, the study's end) cannot
    # leave a stale copy of its progress and curves beside the new one.
    started_slot, problem_slot, stop_slot, stopped_slot = st.empty(), st.empty(), st.empty(), st.empty()
    started = st.session_state.pop("compare_started", None)
    if started and started[0] == study_id:
        c = started[1]
        started_slot.success(
            f"Study started: {c.get('queued', 0)} runs queued, {c.get('reused', 0)} reused, "
            f"{c.get('already_running', 0)} already training. It keeps running if you leave this page."
        )
    runs = compare.study_runs(store, study_id)
    active = compare.is_active(runs)
    if (runs["status"] == "queued").any():
        get_runner().ensure_workers()  # after an app restart, queued runs need a worker again
        if problem := get_runner().problem():
            problem_slot.warning(problem)
    if active and stop_slot.button("Stop study", key="compare_stop", icon=":material/stop:"):
        out = compare.stop_study(store, study_id)
        msg = f"Cancelled {out['cancelled']} queued run(s); stopping {out['stopping']} running."
        if out["elsewhere"]:
            msg += f" {out['elsewhere']} identical run(s) started elsewhere keep going."
        stopped_slot.info(msg)
        runs = compare.study_runs(store, study_id)
        active = compare.is_active(runs)

    live = st.fragment(run_every=POLL_SECONDS if active else None)(live_panel)
    live(study_id, spec, active)
    if not active and len(runs) and not _present():
        results_ui(study_id, runs)


def live_panel(study_id: str, spec: compare.StudySpec, was_active: bool) -> None:
    """Progress, curves and the leaderboard so far; polls the store while the study is active."""
    store = get_store()
    get_runner().reconcile()  # a worker that died shows up as interrupted, not as running forever
    runs = compare.study_runs(store, study_id)
    if was_active and not compare.is_active(runs):
        st.rerun()  # done: redraw the whole page once, without polling
    points = compare.study_points(store, runs)
    if _present():
        big_numbers(runs, points)
    prior = compare.sec_per_epoch_estimate(spec.base, store)
    pending = (
        spec.n_final_runs if spec.kind == "sweep" and not compare.final_scheduled(store, study_id) else 0
    )
    progress_ui(compare.study_progress(runs, sec_per_epoch=prior), active=was_active, pending=pending)
    if spec.kind == "sweep":
        sweep_ui_results(study_id, runs, spec, active=was_active)
        return
    # Full width, one under the other: five variants' legend fits on one line above each chart.
    st.plotly_chart(
        _big_fonts(charts.compare_curves(points, metric="val_accuracy", title="Validation accuracy")),
        key="compare_acc_chart",
    )
    st.plotly_chart(
        _big_fonts(charts.compare_curves(points, metric="val_loss", title="Validation loss")),
        key="compare_loss_chart",
    )
    if not _present():
        st.caption("Thin lines: one run per seed. Thick line and band: mean ± 1 sample std across seeds.")
    if spec.kind == "regularization":
        st.plotly_chart(
            _big_fonts(
                charts.train_val_gap(
                    points, metric="accuracy", title="Overfitting: train − validation accuracy"
                )
            ),
            key="compare_gap_chart",
        )
    leaderboard_ui(runs, spec, active=was_active)


def big_numbers(runs: pd.DataFrame, points: pd.DataFrame) -> None:
    """Presenter mode: runs done, and the run training now (its epoch, loss and validation accuracy), or
    the leader once nothing trains."""
    total = len(runs)
    done = int((~runs["status"].isin(ACTIVE)).sum()) if total else 0
    m = st.columns(4)
    m[0].metric("Runs done", f"{done}/{total}")
    running = runs[runs["status"] == "running"] if total else runs
    if len(running):
        r = running.iloc[0]
        own = points[points["run_id"] == r["run_id"]] if len(points) else points
        val = own[own["kind"] == "epoch"]["val_accuracy"].dropna() if len(own) else pd.Series(dtype=float)
        last = own.iloc[-1] if len(own) else None
        m[1].metric("Epoch", f"{int(last['epoch']) if last is not None else 0}/{int(r['epochs'])}")
        m[2].metric(
            "Loss", f"{float(last['loss']):.3f}" if last is not None and pd.notna(last["loss"]) else "–"
        )
        m[3].metric("Validation acc.", f"{float(val.iloc[-1]):.1%}" if len(val) else "–")
        st.caption(md_escape(f"Training now: {r['label']}, seed {r['seed']}"))
        return
    summary = compare.summarize(runs) if total else pd.DataFrame()
    if len(summary) and summary["runs"].iloc[0] > 0:
        top = summary.iloc[0]
        # the leader's name in the label (long names would not fit in large type), its numbers below
        m[1].metric(f"Leader: {md_escape(str(top['label']))}", f"{top['val_mean']:.1%}", help="validation")
        m[2].metric("Its test accuracy", f"{top['test_mean']:.1%}" if pd.notna(top["test_mean"]) else "–")
        ahead = compare.paired_vs_top(summary, runs)
        if len(summary) > 1 and summary["variant"].iloc[1] in ahead:
            m[3].metric("Ahead of the next by", f"{ahead[summary['variant'].iloc[1]].diff * 100:.1f} pts")


def progress_ui(p: compare.StudyProgress, *, active: bool, pending: int = 0) -> None:
    parts = [f"{p.done} / {p.total} runs done"]
    if p.running:
        parts.append(f"{p.running} training")
    if p.queued:
        parts.append(f"{p.queued} queued")
    if pending:
        parts.append(f"then {pending} at the best rates on fresh seeds")
    if active:
        parts.append(f"about {compare.format_duration(p.eta_seconds)} left")
    st.progress(p.fraction, text=" · ".join(parts))
    if p.failed or p.stopped:
        st.warning(
            f"{p.failed} run(s) failed or were interrupted and {p.stopped} stopped: the leaderboard uses "
            "finished runs only. Starting the same study again trains just the missing runs."
        )


def sweep_ui_results(study_id: str, runs: pd.DataFrame, spec: compare.StudySpec, *, active: bool) -> None:
    """Accuracy against learning rate (the selection runs), then the comparison at each optimizer's best
    rate: on fresh seeds once the selection has ended (scheduled here, once), or for a sweep saved before
    fresh seeds, on its own selection runs (said to be biased)."""
    table = compare.sweep_table(runs)
    best = compare.best_rates(runs)
    label = {o: OPTIMIZERS[o].label if o in OPTIMIZERS else o for o in table["optimizer"].unique()}
    st.plotly_chart(
        _big_fonts(
            charts.sweep_curves(
                table.assign(optimizer=table["optimizer"].map(label)),
                value="val",
                best={label.get(o, o): lr for o, lr in best.items()},
                title="Validation accuracy against learning rate",
            )
        ),
        key="compare_sweep_chart",
    )
    if not _present():
        st.caption(
            f"One curve per optimizer: mean over the selection seeds ({_seeds(spec.seeds)}) of the validation "
            "accuracy of each run's kept weights, band ±1 sample sd; the ring marks the rate chosen (best on "
            "validation)."
        )
    failed = table[table["failed"] > 0]
    if len(failed):
        st.caption(
            "Runs that failed (e.g. the loss diverged at a high rate): "
            + ", ".join(f"{r.optimizer} {r.learning_rate:g} ({r.failed})" for r in failed.itertuples())
        )
    store = get_store()
    record = compare.final_scheduled(store, study_id)
    state = compare.final_state(spec, runs, scheduled=record is not None)
    if state == "ready":  # the selection has ended: the final comparison is queued once, by whoever sees it
        compare.schedule_final(get_runner(), study_id)
        st.rerun()
    if state == "waiting":
        st.info(
            f"When the sweep's runs have ended, each optimizer runs again at its best rate on fresh seeds "
            f"{_seeds(spec.final_seeds)}; that comparison is the race's result.",
            icon=":material/hourglass_top:",
        )
        return
    if state == "blocked":
        st.warning(
            "Some runs of the sweep were stopped or interrupted, so the rates would be chosen on fewer seeds "
            "than planned. Start the same study again to train the missing runs, or compare now.",
            icon=":material/warning:",
        )
        if best and st.button("Compare at the best rates now", key="compare_final_force"):
            compare.schedule_final(get_runner(), study_id, force=True)
            st.rerun()
        return
    if record:  # the rates the final runs were queued at, in the study's order (the record's is sorted)
        best = {o: float(record["best"][o]) for o in spec.variants if o in record["best"]}
    if not best:
        return
    rates = ", ".join(f"{OPTIMIZERS[o].label} {lr:g}" for o, lr in best.items())
    if state == "legacy":
        st.markdown(f"**At each optimizer's best rate** — {rates}.")
        st.warning(
            "This sweep was saved before the final comparison ran on fresh seeds: the comparison below reuses "
            "the runs that chose the rates, which favours whichever rate was luckiest on those seeds "
            "(selection bias). Start the same sweep again for a fresh-seed comparison; finished runs are reused.",
            icon=":material/warning:",
        )
        comparison = compare.comparison_runs(runs, best, reuse_selection=True)
    else:
        st.markdown(
            f"**At each optimizer's best rate** — {rates}. Rates chosen on validation with seeds "
            f"{_seeds(spec.seeds)}; the comparison runs on fresh seeds {_seeds(spec.final_seeds)} and is "
            "reported on test, so neither the seeds nor the images that chose a rate judge it."
        )
        comparison = compare.comparison_runs(runs, best)
    leaderboard_ui(comparison, spec, active=active, rank_by=compare.REPORT_BY)


def leaderboard_ui(
    runs: pd.DataFrame, spec: compare.StudySpec, *, active: bool, rank_by: str = compare.RANK_BY
) -> None:
    summary = compare.summarize(runs, rank_by=rank_by)
    if not len(summary) or not (summary["runs"] > 0).any():
        st.info("The leaderboard appears when the first runs finish.")
        return
    st.subheader("Leaderboard so far" if active else "Leaderboard")
    # Green only for a real separation; an undecided comparison is information, not a result.
    box = st.success if compare.separation(summary, runs) == "separated" else st.info
    box(compare.verdict(summary, runs), icon=":material/balance:")
    table = compare.leaderboard_table(summary, runs, target=spec.target)
    best = summary["best"].tolist()
    styled = table.style.apply(
        lambda row: (
            ["background-color: rgba(57,105,172,0.15); font-weight: 600" if best[row.name] else ""] * len(row)
        ),
        axis=1,
    )
    ranked_on = compare.METRIC_TITLES[rank_by]
    bars = summary[summary["runs"] > 0].rename(
        columns={f"{rank_by}_mean": ranked_on, f"{rank_by}_std": "std"}
    )
    bar_chart = charts.leaderboard_bars(
        bars, value=ranked_on, error="std", label="label", title="Mean ± std across seeds"
    )
    if _present():  # the picture first, then the numbers
        st.plotly_chart(_big_fonts(bar_chart), key="compare_bars")
        st.dataframe(styled, hide_index=True, key="compare_leaderboard")
        return
    st.dataframe(styled, hide_index=True, key="compare_leaderboard")
    early = "early_stopping" in runs and runs["early_stopping"].notna().any()
    st.caption(
        f"Ranked by {ranked_on}"
        + (
            ": the last epoch's, as the lab compared"
            + (
                ", or, for early stopping, the best epoch's (Keras restored those weights; the number is read "
                "from that run's epoch points, and since the epoch was picked on this validation set it is a "
                "little optimistic: test accuracy is not)"
                if early
                else ""
            )
            if rank_by == "val"
            else ""
        )
        + ". ± is the sample standard deviation across seeds (ddof=1); min–max is the range. The four columns "
        "after it compare the top variant with each other one, seed by seed: the mean paired difference in "
        "accuracy points, its 95% t interval (and a bootstrap interval from 5 seeds on), the paired t-test's "
        "p-value, and about how many seeds would separate the two at this difference and spread. "
        + PAIRED_NOTE
    )
    if early and "kept_exact" in runs and not runs["kept_exact"].all():
        st.caption(
            "Some early-stopping runs were resumed after an interruption; Keras' early stopping restarts its "
            "count at a resume, so the epoch it kept may differ from the best epoch used here."
        )
    st.plotly_chart(bar_chart, key="compare_bars")


def results_ui(study_id: str, runs: pd.DataFrame) -> None:
    with st.expander(f"Every run ({len(runs)})"):
        cols = [
            "run_id",
            "label",
            "seed",
            "phase",
            "status",
            "source",
            "epochs_done",
            "kept_val_accuracy",
            "kept_epoch",
            "last_val_accuracy",
            "best_val_accuracy",
            "test_accuracy",
            "epochs_to_target",
            "seconds_per_epoch",
            "error",
        ]
        if not (runs["phase"] == compare.FINAL).any():
            cols.remove("phase")
        st.dataframe(runs[cols], hide_index=True, key="compare_runs_table")
    st.download_button(
        "Download every run (CSV)",
        compare.runs_csv(runs),
        file_name=f"study-{study_id}.csv",
        mime="text/csv",
        key="compare_download",
        icon=":material/download:",
    )


# ------------------------------------------------------------------------------------ chosen runs


def runs_picker_ui() -> list:
    """The runs to compare: any ended runs, local or imported from a run bundle (newest first). Returns
    the chosen Run rows, in the order chosen."""
    store = get_store()
    ended = [r for r in store.runs(limit=RUNS_LIMIT) if not r.active and (r.epochs_done or 0) > 0]
    if not ended:
        st.info(
            "No ended runs yet: train one on the Train page, or import a run bundle there (Run history → "
            "Import run)."
        )
        return []
    by_id = {r.id: r for r in ended}
    pending = st.session_state.pop("compare_runs_pending", None)
    if pending is not None:  # from a link, before the widget is drawn
        missing = [rid for rid in pending if rid not in by_id]
        st.session_state["compare_runs"] = [rid for rid in pending if rid in by_id]
        if missing:
            st.warning(
                f"{len(missing)} run(s) in this link are not here (deleted, still training, or from another "
                "machine): the others are shown."
            )
    chosen_ids = st.session_state.get("compare_runs")
    if chosen_ids and any(rid not in by_id for rid in chosen_ids):  # deleted since
        st.session_state["compare_runs"] = [rid for rid in chosen_ids if rid in by_id]
    picked = st.multiselect(
        "Runs to compare",
        list(by_id),
        format_func=lambda rid: overlay_name(by_id[rid]),
        key="compare_runs",
        max_selections=chosen.MAX_CHOSEN,
        placeholder="Choose ended runs, local or imported",
        help=f"Up to {chosen.MAX_CHOSEN} of the newest {RUNS_LIMIT} ended runs. Imported runs come from a run "
        "bundle (Train page → Run history → Import run): their config, metrics and summary, never a model.",
    )
    if not picked:
        st.caption(
            "Pick two or more runs: their validation curves go on one chart and their numbers in one table. "
            "Imported runs are compared from their recorded metrics only; no model file is read."
        )
    return [by_id[rid] for rid in picked]


def chosen_runs_view(runs: list) -> None:
    """The chosen runs' validation curves on one chart (the first chosen solid, the others dashed) and a
    table of their final numbers. Only the runs' metrics are read: an imported run has no model file, and
    nothing here needs one."""
    if not runs:
        return
    points = get_store().points_for([r.id for r in runs])
    points = points[points["kind"] == "epoch"] if len(points) else points
    names = [overlay_name(r, width=18) for r in runs]
    per_run = {name: points[points["run_id"] == r.id] for name, r in zip(names, runs, strict=True)}
    first = (names[0], per_run.pop(names[0]))
    for metric, title in (("val_accuracy", "Validation accuracy"), ("val_loss", "Validation loss")):
        st.plotly_chart(
            _big_fonts(charts.overlay_figure(first, per_run, metric=metric, title=title)),
            key=f"compare_chosen_{metric}",
        )
    table = chosen.chosen_table(runs, names, points)
    st.dataframe(
        table,
        hide_index=True,
        key="compare_chosen_table",
        column_config={
            "run": st.column_config.TextColumn(width=170, pinned=True),
            "learning rate": st.column_config.NumberColumn(format="%g"),
            "val acc (kept)": st.column_config.NumberColumn(format="%.4f"),
            "best val acc": st.column_config.NumberColumn(format="%.4f"),
            "test acc": st.column_config.NumberColumn(format="%.4f"),
            "train images": st.column_config.NumberColumn(format="localized"),
            "test loss": st.column_config.NumberColumn(format="%.4f"),
            "kept epoch": st.column_config.NumberColumn(format="%d"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    if _present():
        return
    diff = chosen.differences(runs)
    st.caption(
        "The first run chosen is the solid line; the others are dashed. “val acc (kept)” is the validation "
        "accuracy of the weights each run kept (its last epoch's, or its best epoch's where early stopping "
        "restored them). "
        + (f"These runs differ in: {', '.join(diff)}." if diff else "These runs have the same set-up.")
        + (
            " One run per set-up says nothing about seed-to-seed spread: a study with several seeds does."
            if len(runs) > 1
            else ""
        )
    )
    if any(getattr(r, "imported", 0) for r in runs):
        st.caption(
            "Imported runs were trained elsewhere (other data files or library versions may differ): their "
            "numbers come from their bundle's metrics and summary; they have no model here."
        )


# ------------------------------------------------------------------------------------ reproducing the lab


def lab_ui() -> None:
    """One click runs the lab's own experiments with N seeds; the report of its claims against the seeds
    fills in as runs finish (finished identical runs are reused: a second click is instant)."""
    st.divider()
    st.subheader("Reproduce the lab")
    st.caption(
        "The lab's base MLP, its regularization task (dropout on both layers) and its four optimizers at "
        "Keras' default rates, 10 epochs on the full split, each with several seeds; then each claim of the "
        "lab next to what the seeds show."
    )
    cols = st.columns([1, 2, 3], vertical_alignment="bottom")
    seeds = cols[0].number_input(
        "Seeds", min_value=1, max_value=10, value=compare.LAB_SEEDS, step=1, key="compare_lab_seeds"
    )
    specs = compare.lab_specs(int(seeds))
    store = get_store()
    n_runs, n_todo, seconds = compare.lab_plan(store, specs)
    cols[2].caption(
        f"{n_runs} runs (the base MLP is in both studies and trains once); {n_todo} left to train, about "
        f"{compare.format_duration(seconds)}. Finished identical runs are reused."
    )
    budget = study_budget_seconds()
    over = 0 < budget < seconds
    if over:
        st.warning(
            f"That is beyond the budget of {compare.format_duration(budget)} (setting FMNIST_STUDY_BUDGET): "
            "fewer seeds, or `python -m fmnist_core reproduce-lab --train-subset 5000` from a terminal.",
            icon=":material/timer_off:",
        )
    if cols[1].button("Reproduce the lab", key="compare_lab_start", icon=":material/science:", disabled=over):
        try:
            for what, spec in specs.items():
                compare.schedule_study(
                    get_runner(), spec, name=f"Reproduce the lab: {what}, {int(seeds)} seeds"
                )
        except QueueFull as exc:
            st.warning(f"{md_escape(exc)} Runs queued before the limit was reached keep their place.")
    runs = compare.lab_runs(store, specs)
    done = int((runs["status"] == "finished").sum())
    if done == 0:
        return
    live = st.fragment(run_every=POLL_SECONDS if runs["status"].isin(["queued", "running"]).any() else None)
    live(lab_report_ui)(int(seeds))


def lab_report_ui(seeds: int) -> None:
    specs = compare.lab_specs(seeds)
    runs = compare.lab_runs(get_store(), specs)
    done = int((runs["status"] == "finished").sum())
    st.progress(done / len(runs), text=f"{done} / {len(runs)} of the lab's runs finished")
    report = compare.lab_report(runs)
    st.dataframe(report, hide_index=True, key="compare_lab_report")
    md = compare.report_markdown(report, seeds=seeds, epochs=10, train_subset=None)
    a, b = st.columns(2)
    a.download_button(
        "Report (Markdown)",
        md,
        file_name="lab-report.md",
        mime="text/markdown",
        key="compare_lab_md",
        icon=":material/download:",
    )
    b.download_button(
        "Report (CSV)",
        compare.report_csv(report),
        file_name="lab-report.csv",
        mime="text/csv",
        key="compare_lab_csv",
        icon=":material/download:",
    )


# ------------------------------------------------------------------------------------ the page

init_form()
present = presenter_toggle(  # ?present=1 too: large type, set-up folded away, charts first
    "compare_present",
    help="For a projector: large type, the set-up folded away, the live charts and big numbers first.",
)
if not present:
    st.title("Compare optimizers")
    st.caption(
        "The lab trained each optimizer once and called RMSprop (0.8752) better than Adam (0.8735). One run "
        "each cannot tell those apart: here every variant runs with several seeds, the verdict is a paired test "
        "over seeds, and a learning-rate sweep gives every optimizer its best rate before they race."
    )
if st.session_state.get("compare_notice"):
    st.info(st.session_state["compare_notice"], icon=":material/link:")  # parameter names only, ours
# In presenter mode the controls fold away and the charts come first.
controls = st.expander("Set-up", expanded=False, icon=":material/tune:") if present else st.container()
selected: str | None = None
chosen_rows: list = []
with controls:
    mode = st.radio(
        "Compare",
        list(MODES),
        format_func=MODES.get,
        horizontal=True,
        key="compare_mode",
        label_visibility="collapsed",
        persist_state="session",
    )
    if mode == "runs":
        chosen_rows = runs_picker_ui()
    else:
        selected = choose_study_ui()
        if selected == NEW:
            # Each part in its own container, so that the Start row keeps its place in the page whatever
            # the form shows (a moved element is drawn twice until the run ends: two Start buttons).
            with st.container():
                spec, name = setup_ui()
            with st.container():
                if spec is not None and not estimate_ui(spec):
                    spec = None  # beyond the time budget: Start stays disabled
            a, b = st.columns([1, 3], vertical_alignment="center")
            with a:
                start_ui(spec, name)
            with b:
                share_ui()
if mode == "runs":
    chosen_runs_view(chosen_rows)
elif selected != NEW:
    render_study(selected)
elif present:
    st.info("Open **Set-up** above to start a study or pick one; its live charts then fill this screen.")
else:
    lab_ui()
sync_url(selected, mode)
