"""Run bundles: one zip per run to share (config, metrics, summary, model) and its careful import.

Import reads config.json, metrics.csv and summary.json only. A model.keras in the zip is never read,
decompressed, loaded or stored: Keras' safe_mode has had repeated bypasses, so a model file from
someone else is not something this app opens. Every member is checked before use: names (no paths),
declared and real sizes (a zip bomb stops at the limit), and types, with a message that says what
is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import zipfile
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "fmnist-studio-run"
FORMAT_VERSION = 1
MEMBERS = ("config.json", "metrics.csv", "summary.json")  # what an import reads
OPTIONAL = ("model.keras",)  # allowed in a bundle, never read on import
LIMITS = {"config.json": 64 * 1024, "metrics.csv": 16 * 1024 * 1024, "summary.json": 1024 * 1024}
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # the whole zip, as uploaded
MAX_RATIO = 200  # declared size / compressed size beyond this is a zip bomb, not a metrics file
MAX_POINTS = 200_000
MAX_LABEL = 120
FINAL_FIELDS = (
    "test_accuracy",
    "test_loss",
    "best_val_accuracy",
    "last_val_accuracy",
    "epochs_done",
    "seconds",
    "params",
)


class BundleError(ValueError):
    """A bundle that cannot be imported; the message says why and can be shown as is."""


# ------------------------------------------------------------------------------------------------ export


def versions() -> dict[str, str]:
    from fmnist_core.store.env import library_versions

    return {"python": platform.python_version(), **library_versions()}


def dataset_fingerprint() -> str | None:
    from fmnist_core.data import DatasetError, find_data_dir
    from fmnist_core.store.env import data_fingerprint

    try:
        directory = find_data_dir(None)
    except DatasetError:
        return None
    return data_fingerprint(directory) if directory is not None else None


def summary_of(run: Any, per_class: pd.DataFrame | None) -> dict[str, Any]:
    """summary.json: the final metrics, the per-class table, versions and the dataset fingerprint."""

    def clean(v: Any) -> Any:
        if isinstance(v, np.generic):
            v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": run.id,
        "label": run.label or "",
        "status": run.status,
        "final": {k: clean(getattr(run, k, None)) for k in FINAL_FIELDS},
        "per_class": []
        if per_class is None
        else [{k: clean(v) for k, v in row.items()} for row in per_class.to_dict(orient="records")],
        "versions": versions(),
        "dataset_fingerprint": dataset_fingerprint(),
    }


def export_bundle(
    run: Any, points: pd.DataFrame, *, per_class: pd.DataFrame | None, model_path: str | None
) -> bytes:
    """The zip of one run. `model_path` is the run's own stored model (or None: no model.keras)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(run.config, indent=1, sort_keys=True))
        zf.writestr("metrics.csv", points.drop(columns=["run_id"], errors="ignore").to_csv(index=False))
        zf.writestr("summary.json", json.dumps(summary_of(run, per_class), indent=1, sort_keys=True))
        if model_path:
            zf.write(model_path, "model.keras", compress_type=zipfile.ZIP_STORED)  # already a zip
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ import


def _safe_name(name: str) -> bool:
    return name in MEMBERS or name in OPTIONAL


def read_bundle(raw: bytes) -> dict[str, bytes]:
    """The three members an import reads, checked; raises BundleError with a sentence otherwise."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"The file is larger than {MAX_BUNDLE_BYTES // 2**20} MB: not a run bundle.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleError("This is not a zip file (a run bundle is the zip from “Download run”).") from exc
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if "/" in name or "\\" in name or ".." in name or name.startswith(("/", "~")) or ":" in name:
            raise BundleError(f"Refused: the bundle holds a file with a path in its name ({name[:60]!r}).")
        if not _safe_name(name):
            raise BundleError(
                f"Refused: unexpected file {name[:60]!r} in the bundle (allowed: {', '.join(MEMBERS + OPTIONAL)})."
            )
        if name in seen:
            raise BundleError(f"Refused: {name} appears twice in the bundle.")
        seen.add(name)
    missing = [m for m in MEMBERS if m not in seen]
    if missing:
        raise BundleError(f"The bundle is missing {', '.join(missing)}.")
    out = {}
    for name in MEMBERS:
        info = zf.getinfo(name)
        limit = LIMITS[name]
        if info.file_size > limit:
            raise BundleError(f"Refused: {name} is {info.file_size:,} bytes (the limit is {limit:,}).")
        if (
            info.compress_size
            and info.file_size / info.compress_size > MAX_RATIO
            and info.file_size > 64 * 1024
        ):
            raise BundleError(
                f"Refused: {name} expands {info.file_size // info.compress_size}x (a zip bomb?)."
            )
        try:
            with zf.open(info) as f:
                data = f.read(limit + 1)  # the declared size can lie: never read past the limit
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
            raise BundleError(f"{name} could not be read from the zip ({type(exc).__name__}).") from exc
        if len(data) > limit:
            raise BundleError(f"Refused: {name} is larger than its limit of {limit:,} bytes.")
        out[name] = data
    return out


def _json(name: str, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BundleError(f"{name} is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise BundleError(f"{name} must hold a JSON object, not {type(value).__name__}.")
    return value


def _number(v: str, *, name: str, row: int, column: str, integer: bool = False) -> float | int | None:
    if v == "" or v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        raise BundleError(f"metrics.csv row {row}: {column} is not a number ({v[:20]!r}).") from None
    if integer:
        if not (math.isfinite(x) and x == int(x) and 0 <= x < 1e7):
            raise BundleError(f"metrics.csv row {row}: {column} must be a whole number ({v[:20]!r}).")
        return int(x)
    return x


def parse_metrics(data: bytes) -> list[dict[str, Any]]:
    from fmnist_core.store.points import POINT_COLUMNS

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError("metrics.csv is not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(text))
    needed = {"kind", "epoch", "step", "progress", "time"}
    missing = needed - set(reader.fieldnames or [])
    if missing:
        raise BundleError(f"metrics.csv lacks the column(s) {', '.join(sorted(missing))}.")
    points = []
    try:
        for row_no, row in enumerate(reader, start=2):
            if len(points) >= MAX_POINTS:
                raise BundleError(f"metrics.csv has more than {MAX_POINTS:,} rows.")
            if row.get("kind") not in ("batch", "epoch"):
                raise BundleError(f"metrics.csv row {row_no}: kind must be batch or epoch.")
            p: dict[str, Any] = {"kind": row["kind"]}
            for col in POINT_COLUMNS[1:]:
                p[col] = _number(
                    row.get(col), name="metrics.csv", row=row_no, column=col, integer=col in ("epoch", "step")
                )
            for col in needed - {"kind"}:
                if p[col] is None:
                    raise BundleError(f"metrics.csv row {row_no}: {col} is empty.")
            points.append(p)
    except csv.Error as exc:
        raise BundleError(f"metrics.csv is not a valid CSV file ({exc}).") from exc
    return points


def parse_bundle(raw: bytes) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """(TrainConfig, points, summary) from a bundle's bytes, every field checked."""
    from fmnist_core.training import TrainConfig

    members = read_bundle(raw)
    cfg = _json("config.json", members["config.json"])
    try:
        config = TrainConfig.from_dict(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BundleError(f"config.json is not a run set-up this app can read ({exc}).") from exc
    summary = _json("summary.json", members["summary.json"])
    if summary.get("format") != FORMAT:
        raise BundleError("summary.json is not from a Fashion-MNIST Studio run bundle.")
    final = summary.get("final")
    if not isinstance(final, dict):
        raise BundleError("summary.json has no “final” metrics object.")
    for k, v in final.items():
        if k in FINAL_FIELDS and v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise BundleError(f"summary.json: final {k[:30]} must be a number.")
    per_class = summary.get("per_class", [])
    if not isinstance(per_class, list) or not all(isinstance(r, dict) for r in per_class):
        raise BundleError("summary.json: per_class must be a list of rows.")
    if not isinstance(summary.get("label", ""), str):
        raise BundleError("summary.json: label must be text.")
    points = parse_metrics(members["metrics.csv"])
    return config, points, summary


def import_bundle(store: Any, raw: bytes) -> int:
    """Record the bundle's run as an imported, finished run (no model); returns its new id."""
    config, points, summary = parse_bundle(raw)
    final = {k: summary["final"].get(k) for k in FINAL_FIELDS}
    label = str(summary.get("label", ""))[:MAX_LABEL]
    src = summary.get("run_id")
    label = f"imported{f' #{src}' if isinstance(src, int) else ''}{f' · {label}' if label else ''}"
    # env 'imported': never reused in place of a local run (other data or libraries, and no model)
    return store.create_imported_run(
        config, label=label, points=points, fields=final, summary=summary, env_key="imported"
    )
