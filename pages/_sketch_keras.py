"""Keep the Sketch page's model warm across script runs.

Streamlit calls `keras.backend.clear_session()` after every script run, fragment runs included
(`streamlit/runtime/scriptrunner/script_runner.py`, `_clean_problem_modules`). For TensorFlow, Keras'
`clear_session` does four things (`keras/src/backend/common/global_state.py`):

1. resets Keras' global state (layer-name counters, scopes) and settings: cheap, kept here;
2. resets TF1's default graph: cheap, kept;
3. clears TensorFlow's eager kernel cache: the model object, its weights and its traced predict function
   all survive, but the kernel that runs the traced function is instantiated again (graph optimisation)
   on the next call. Measured: `predict_on_batch` on the sketch CNN 1.1 ms warm, 15 ms after each reset
   on a quiet machine, ~60 ms under load; the eager ops of Grad-CAM pay the same. Skipped here;
4. `gc.collect()` over the whole server heap: 0.3-1 s here, holding the GIL. Skipped here (Python's own
   incremental collection still runs).

Only this server process is affected, and it never trains (training runs in worker processes, which call
`keras.utils.clear_session` themselves; that name is left alone). The kernel cache holds one entry per
distinct op and shape, so keeping it does not grow with strokes.
"""

from __future__ import annotations

import threading


def _reset_keras_state_keep_kernels(free_memory: bool = True) -> None:  # noqa: ARG001 (Keras' signature)
    import tensorflow as tf
    from keras.src.backend.common import global_state

    global_state.GLOBAL_STATE_TRACKER = threading.local()
    global_state.GLOBAL_SETTINGS_TRACKER = threading.local()
    tf.compat.v1.reset_default_graph()


def keep_keras_warm() -> None:
    """Replace the `keras.backend.clear_session` Streamlit calls by one that resets Keras' state but keeps
    TensorFlow's compiled kernels and skips the full garbage collection. Idempotent. On a Keras without
    the module this relies on, or another backend, the reset just skips the collection."""
    import keras

    current = keras.backend.clear_session
    if getattr(current, "_keeps_kernels", False):
        return
    try:
        from keras.src.backend.common import global_state

        usable = keras.backend.backend() == "tensorflow" and hasattr(global_state, "GLOBAL_STATE_TRACKER")
    except ImportError:
        usable = False

    def clear_session(free_memory: bool = True) -> None:
        if usable:
            _reset_keras_state_keep_kernels()
        else:
            current(free_memory=False)

    clear_session._keeps_kernels = True  # type: ignore[attr-defined]
    keras.backend.clear_session = clear_session
