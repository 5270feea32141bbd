"""Fashion-MNIST loading from IDX files, and the lab's train/validation split.

Importing this module must stay cheap: no TensorFlow, no Keras (the Keras
downloader is imported only as the last fallback).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FMNIST_DATA_DIR"

# File stems in the official layout; each may be gzip'd (".gz") or raw.
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
EXPECTED_COUNTS = {"x_train": 60000, "y_train": 60000, "x_test": 10000, "y_test": 10000}

_MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dimension
_MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dimensions

HOW_TO_GET_DATA = (
    "Fashion-MNIST was not found. Get it one of these ways:\n"
    "  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
    f"(files land in {DEBIAN_DIR})\n"
    f"  2. Put the four IDX files (e.g. train-images-idx3-ubyte.gz) in a folder and set {ENV_VAR}=/that/folder\n"
    "  3. Go online once: Keras downloads the files to ~/.keras/datasets/fashion-mnist"
)


class DatasetError(RuntimeError):
    """A dataset file is missing, truncated or not the IDX file it claims to be."""


class DatasetNotFoundError(DatasetError):
    """No source of Fashion-MNIST worked; the message says how to get it."""


@dataclass(frozen=True)
class FashionMNIST:
    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str  # human-readable: where the files came from


def read_idx(path: str | os.PathLike, *, expected_count: int | None = None) -> np.ndarray:
    """Parse one IDX file (gzip'd or raw) of unsigned bytes into a numpy array.

    Raises DatasetError naming the file when it is truncated, has a wrong magic
    number, wrong dimensions or an unexpected item count.
    """
    path = Path(path)
    try:
        raw = _read_decompressed(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot read or decompress ({exc})") from exc
    if len(raw) < 8:
        raise DatasetError(f"{path}: file too short to be IDX ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (_MAGIC_LABELS, _MAGIC_IMAGES):
        raise DatasetError(f"{path}: bad magic number 0x{magic:08x} (expected 0x801 or 0x803)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if ndim == 3 and dims[1:] != (28, 28):
        raise DatasetError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    n_bytes = int(np.prod(dims))
    if len(raw) - header != n_bytes:
        raise DatasetError(
            f"{path}: truncated or padded: header says {dims} ({n_bytes} bytes of data), "
            f"file has {len(raw) - header}"
        )
    if expected_count is not None and dims[0] != expected_count:
        raise DatasetError(f"{path}: holds {dims[0]} items, expected {expected_count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


CACHE_ENV = "FMNIST_CACHE_DIR"  # where decompressed IDX files are kept; "off" turns the cache off
_CACHE_MIN_BYTES = 1 << 20  # tiny files (tests, demos) decompress faster than a cache lookup


def idx_cache_dir() -> Path | None:
    """$FMNIST_CACHE_DIR, else $XDG_CACHE_HOME/fmnist-studio/idx (~/.cache/...); None when turned off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "0", "off", "none") else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fmnist-studio" / "idx"


def _read_decompressed(path: Path) -> bytes:
    """The file's bytes, gunzipped. Large gzip'd files are decompressed once and kept in idx_cache_dir()
    (gunzipping the 60,000 training images costs ~0.3 s of every cold start; reading the cached copy ~0.02 s).

    The cache entry is named after the file's resolved path, size and modification time, so a changed file
    is never read from a stale entry (the gzip trailer's CRC-32 is in the name too); it is written atomically, and any cache problem (read-only, full disk)
    only falls back to decompressing. The bytes still go through read_idx's checks either way.
    """
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    cache = idx_cache_dir() if len(raw) >= _CACHE_MIN_BYTES else None
    entry = None
    if cache is not None:
        st = path.stat()
        # gzip's last 8 bytes are the CRC-32 and size of the content: the key follows the content too.
        stamp = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{raw[-8:].hex()}"
        key = hashlib.sha256(stamp.encode()).hexdigest()[:32]
        entry = cache / f"{key}.idx"
        try:
            cached = entry.read_bytes()
            # gzip's trailer holds the uncompressed size (mod 2**32): a truncated entry is not used.
            if len(cached) % (1 << 32) == int.from_bytes(raw[-4:], "little"):
                return cached
        except OSError:
            pass  # not cached yet
    data = gzip.decompress(raw)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".idx")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, entry)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass  # a read-only or full cache: decompress again next time
    return data


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _dir_is_complete(directory: Path) -> bool:
    return all(_find_file(directory, stem) for stem in FILES.values())


def load_from_dir(directory: str | os.PathLike, *, check_counts: bool = True) -> FashionMNIST:
    """Load the four IDX files from one directory. Raises DatasetError if any is missing or bad."""
    directory = Path(directory)
    arrays = {}
    for key, stem in FILES.items():
        path = _find_file(directory, stem)
        if path is None:
            raise DatasetError(f"{directory}: missing {stem}.gz (or {stem})")
        arrays[key] = read_idx(path, expected_count=EXPECTED_COUNTS[key] if check_counts else None)
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise DatasetError(f"{directory}: {nx} {split} images but {ny} labels")
        if len(arrays[f"y_{split}"]) and arrays[f"y_{split}"].max() >= NUM_CLASSES:
            raise DatasetError(f"{directory}: {split} labels outside 0-9")
    return FashionMNIST(**arrays, source=str(directory))


def keras_cache_dir() -> Path:
    """Where Keras' own loader keeps Fashion-MNIST ($KERAS_HOME or ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The lookup order, as (label, directory) pairs."""
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("argument", Path(data_dir)))
    if os.environ.get(ENV_VAR):
        out.append((ENV_VAR, Path(os.environ[ENV_VAR])))
    out.append(("Debian package", DEBIAN_DIR))
    out.append(("Keras cache", keras_cache_dir()))
    return out


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """First directory in the lookup order holding all four files, or None."""
    for label, directory in candidate_dirs(data_dir):
        if _dir_is_complete(directory):
            return directory
        if label in ("argument", ENV_VAR):
            # An explicit choice that is wrong should be an error, not silently skipped.
            raise DatasetError(
                f"{label} points at {directory}, which does not hold the four Fashion-MNIST IDX files"
            )
    return None


def load_fashion_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST: explicit dir, $FMNIST_DATA_DIR, Debian package, Keras cache, Keras download."""
    directory = find_data_dir(data_dir)
    if directory is not None:
        # Standard locations must hold the full dataset; a folder the user points at explicitly
        # may hold a smaller IDX set (tests, demos) as long as images and labels agree.
        explicit = data_dir is not None or bool(os.environ.get(ENV_VAR))
        return load_from_dir(directory, check_counts=not explicit)
    if download:
        try:
            import keras  # only here: importing it costs seconds

            (x_tr, y_tr), (x_te, y_te) = keras.datasets.fashion_mnist.load_data()
        except Exception as exc:  # offline, blocked, disk full: all end the same way
            raise DatasetNotFoundError(f"{HOW_TO_GET_DATA}\n(Keras download failed: {exc})") from exc
        return FashionMNIST(x_tr, y_tr, x_te, y_te, source=f"Keras download ({keras_cache_dir()})")
    raise DatasetNotFoundError(HOW_TO_GET_DATA)


def train_val_split(
    x: np.ndarray, y: np.ndarray, *, val_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic split, identical to sklearn's `train_test_split(x, y, test_size=val_fraction,
    random_state=seed)` (what the lab used), without importing sklearn.

    Returns (x_train, x_val, y_train, y_val).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n = len(x)
    n_val = int(np.ceil(val_fraction * n))
    if n_val >= n:
        raise ValueError(f"val_fraction {val_fraction} leaves no training images out of {n}")
    perm = np.random.RandomState(seed).permutation(n)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return x[train_idx], x[val_idx], y[train_idx], y[val_idx]


def class_counts(y: np.ndarray) -> np.ndarray:
    """(10,) int64 count of each label."""
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=NUM_CLASSES)
