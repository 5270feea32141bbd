"""What a run was trained on besides its config: the dataset's fingerprint and the library versions.

Two runs with the same config key but a different data folder (an explicit folder may hold a subset)
or another Keras/TensorFlow must not be reused for each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from importlib import metadata
from pathlib import Path

_CACHE: dict[tuple, str] = {}
_LOCK = threading.Lock()


def library_versions() -> dict[str, str]:
    """Keras, TensorFlow and the Keras backend, without importing them (cheap in the app process)."""
    out = {}
    for dist in ("keras", "tensorflow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "none"
    out["backend"] = os.environ.get("KERAS_BACKEND") or _configured_backend()
    return out


def _configured_backend() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        return str(json.loads(Path(home, "keras.json").read_text()).get("backend", "tensorflow"))
    except (OSError, ValueError):
        return "tensorflow"


def data_fingerprint(directory: str | os.PathLike) -> str:
    """SHA-256 over the dataset files' names and bytes; cached per (file, size, mtime) in the process."""
    files = sorted(p for p in Path(directory).iterdir() if "idx" in p.name and p.is_file())
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _LOCK:
        hit = _CACHE.get(stamp)
    if hit is not None:
        return hit
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    digest = h.hexdigest()[:16]
    with _LOCK:
        _CACHE[stamp] = digest
    return digest


def env_key(
    data_dir: str | os.PathLike | None = None, *, versions: dict[str, str] | None = None
) -> str | None:
    """Key of the data the loader would use now plus the library versions (this process's, or
    `versions` reported by a remote worker that trained on this data); None if there is no data."""
    from fmnist_core.data import DatasetError, find_data_dir

    try:
        directory = find_data_dir(data_dir)
    except DatasetError:
        return None
    if directory is None:
        return None
    parts = {"data": data_fingerprint(directory), **(versions or library_versions())}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
