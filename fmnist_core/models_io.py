"""Loading our own stored models, safely (UI-free).

Only models the training worker saved are ever loaded: by run id, from the path the store recorded,
which must resolve to a `.keras` file inside the store's `runs/` folder. Nothing here accepts a path
or a file from a user: Keras' `safe_mode` has had bypasses in most recent releases and Keras' own
SECURITY.md says a malicious model cannot be reliably detected, so uploading model files is not
offered anywhere (models come from the Train page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmnist_core.sketch.infer import UnsupportedModelError, validate_classifier
from fmnist_core.store import Run, RunStore

# Runs whose model file is worth offering: finished, or stopped early (the model so far was saved).
LOADABLE_STATUSES = ("finished", "stopped")


class ModelLoadError(ValueError):
    """A stored model cannot be used; the message can be shown to the user as is."""


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.is_relative_to(folder)
    except ValueError:
        return False


def model_file(store: RunStore, run_id: int) -> Path:
    """The resolved path of run `run_id`'s saved model, after checking it is ours.

    Raises ModelLoadError if the run does not exist, has no model, or its recorded path is not a
    `.keras` file inside `store.runs_dir` (symlinks resolved), or the file is missing.
    """
    run = store.get_run(int(run_id))
    if run is None:
        raise ModelLoadError(f"Run #{run_id} does not exist (it may have been deleted).")
    return _checked_path(store, run)


def _checked_path(store: RunStore, run: Run) -> Path:
    run_id = run.id
    if not run.model_path:
        raise ModelLoadError(f"Run #{run_id} has no saved model ({run.status}).")
    runs_dir = store.runs_dir.resolve()
    path = Path(run.model_path).resolve()
    if not _inside(path, runs_dir) or path.suffix != ".keras":
        raise ModelLoadError(
            f"Run #{run_id}'s model path is outside the studio's runs folder; it was not loaded. "
            "Only models saved by the Train page are used."
        )
    if not path.is_file():
        raise ModelLoadError(
            f"Run #{run_id}'s model file is missing ({path.name} was deleted or moved): train it again."
        )
    return path


def load_stored_model(store: RunStore, run_id: int) -> Any:
    """Run `run_id`'s saved model as a keras.Model, checked to be a 28x28 -> 10-class classifier.

    Loaded with `safe_mode=True` and `compile=False` (only inference is needed). Raises
    ModelLoadError (a ValueError with a user-fit message) for a missing run or file, a path outside
    the store, an unreadable file or a model that is not a Fashion-MNIST classifier.
    """
    path = model_file(store, run_id)
    import keras  # only here: importing TensorFlow costs seconds

    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # corrupt zip, unknown layer, refused lambda...: all unusable alike
        raise ModelLoadError(
            f"Run #{run_id}'s model file could not be loaded ({type(exc).__name__}: {exc})."
        ) from exc
    try:
        validate_classifier(model)
    except UnsupportedModelError as exc:
        raise ModelLoadError(f"Run #{run_id}'s model is not a Fashion-MNIST classifier: {exc}") from exc
    return model


def _has_model_file(store: RunStore, run: Run) -> bool:
    try:
        _checked_path(store, run)
    except ModelLoadError:
        return False
    return True


def stored_models(store: RunStore) -> list[Run]:
    """Finished or stopped runs with a usable model file, best test accuracy first (runs without a
    test accuracy last), newest first among equals."""
    runs = [r for r in store.runs(status=LOADABLE_STATUSES, limit=10_000) if _has_model_file(store, r)]
    return sorted(runs, key=lambda r: (r.test_accuracy is None, -(r.test_accuracy or 0.0), -r.id))
