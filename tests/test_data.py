"""fmnist_core.data: IDX parsing, lookup order, the split, and the real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import data as fd
from tests.conftest import make_tiny_dataset, write_idx


def test_read_idx_good_gz_and_raw(tmp_path: Path):
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(fd.read_idx(write_idx(tmp_path / "a.gz", x)), x)
    np.testing.assert_array_equal(fd.read_idx(write_idx(tmp_path / "a", x, gz=False)), x)
    y = np.array([3, 1, 4], dtype=np.uint8)
    out = fd.read_idx(write_idx(tmp_path / "l.gz", y))
    assert out.dtype == np.uint8 and out.tolist() == [3, 1, 4]


def test_read_idx_truncated_names_file(tmp_path: Path):
    p = write_idx(tmp_path / "imgs.gz", np.zeros((3, 28, 28)), gz=False)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(fd.DatasetError, match="imgs.gz.*truncated"):
        fd.read_idx(p)


def test_read_idx_corrupt_gzip(tmp_path: Path):
    p = write_idx(tmp_path / "bad.gz", np.zeros((3, 28, 28)))
    p.write_bytes(p.read_bytes()[:40])  # cut the gzip stream
    with pytest.raises(fd.DatasetError, match="bad.gz"):
        fd.read_idx(p)


def test_read_idx_wrong_magic(tmp_path: Path):
    p = write_idx(tmp_path / "m", np.zeros((3, 28, 28)), magic=0x0D03)
    with pytest.raises(fd.DatasetError, match="magic"):
        fd.read_idx(p)


def test_read_idx_wrong_count_and_size(tmp_path: Path):
    p = write_idx(tmp_path / "c", np.zeros((3, 28, 28)))
    with pytest.raises(fd.DatasetError, match="3 items, expected 5"):
        fd.read_idx(p, expected_count=5)
    q = write_idx(tmp_path / "s", np.zeros((3, 20, 20)))
    with pytest.raises(fd.DatasetError, match="28x28"):
        fd.read_idx(q)


def test_load_from_dir_mismatched_labels(tmp_path: Path):
    d = make_tiny_dataset(tmp_path / "d")
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(7))
    with pytest.raises(fd.DatasetError, match="60 train images but 7 labels"):
        fd.load_from_dir(d, check_counts=False)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    a, b = make_tiny_dataset(tmp_path / "a"), make_tiny_dataset(tmp_path / "b")
    monkeypatch.setenv("FMNIST_DATA_DIR", str(b))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert fd.find_data_dir(a) == a  # explicit argument first
    assert fd.find_data_dir() == b  # then the environment variable
    monkeypatch.delenv("FMNIST_DATA_DIR")
    monkeypatch.setattr(fd, "DEBIAN_DIR", tmp_path / "nope")
    assert fd.find_data_dir() is None
    kc = make_tiny_dataset(tmp_path / "kh" / "datasets" / "fashion-mnist")
    assert fd.find_data_dir() == kc  # Keras cache last
    monkeypatch.setattr(fd, "DEBIAN_DIR", a)
    assert fd.find_data_dir() == a  # Debian package before the Keras cache


def test_explicit_dir_wrong_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(fd.DatasetError, match="FMNIST_DATA_DIR"):
        fd.load_fashion_mnist()


def test_nothing_found_says_how_to_get_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setattr(fd, "DEBIAN_DIR", tmp_path / "nope")
    with pytest.raises(fd.DatasetNotFoundError) as err:
        fd.load_fashion_mnist(download=False)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "FMNIST_DATA_DIR" in msg


def test_train_val_split_deterministic_and_disjoint():
    x = np.arange(100).reshape(100, 1)
    y = np.arange(100) % 10
    a = fd.train_val_split(x, y, val_fraction=0.2, seed=42)
    b = fd.train_val_split(x, y, val_fraction=0.2, seed=42)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert len(a[0]) == 80 and len(a[1]) == 20
    assert set(a[0].ravel()).isdisjoint(a[1].ravel())
    c = fd.train_val_split(x, y, val_fraction=0.2, seed=1)
    assert not np.array_equal(a[1], c[1])
    with pytest.raises(ValueError):
        fd.train_val_split(x, y, val_fraction=1.0)


def test_split_matches_sklearn():
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (1000, 28, 28)), rng.integers(0, 10, 1000)
    for u, v in zip(
        fd.train_val_split(x, y), train_test_split(x, y, test_size=0.2, random_state=42), strict=True
    ):
        np.testing.assert_array_equal(u, v)


def test_import_does_not_pull_tensorflow():
    code = "import sys, fmnist_core.data; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the real files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return fd.load_fashion_mnist(download=False)


@pytest.mark.realdata
def test_real_shapes_and_balance(real):
    assert real.x_train.shape == (60000, 28, 28) and real.x_train.dtype == np.uint8
    assert real.x_test.shape == (10000, 28, 28) and real.y_test.shape == (10000,)
    assert fd.class_counts(real.y_train).tolist() == [6000] * 10
    assert fd.class_counts(real.y_test).tolist() == [1000] * 10
    assert real.x_train.max() == 255 and real.x_train.min() == 0


@pytest.mark.realdata
def test_real_split_is_48k_12k(real):
    xt, xv, yt, yv = fd.train_val_split(real.x_train, real.y_train)
    assert len(xt) == 48000 and len(xv) == 12000


@pytest.mark.realdata
def test_identical_to_keras_loader(real, tmp_path: Path):
    """Keras reads files already in its cache folder without downloading; point KERAS_HOME there."""
    src = Path(real.source)
    cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for f in src.glob("*-ubyte.gz"):
        (cache / f.name).symlink_to(f)
    code = (
        "import numpy as np, keras; (a,b),(c,d)=keras.datasets.fashion_mnist.load_data();"
        f"np.savez(r'{tmp_path / 'k.npz'}', a=a, b=b, c=c, d=d)"
    )
    env = {"KERAS_HOME": str(tmp_path / "keras_home"), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    k = np.load(tmp_path / "k.npz")
    for ours, theirs in (
        (real.x_train, k["a"]),
        (real.y_train, k["b"]),
        (real.x_test, k["c"]),
        (real.y_test, k["d"]),
    ):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_large_gz_files_are_decompressed_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(fd.CACHE_ENV, str(cache))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(2000, 28, 28), dtype=np.uint8)  # noise: the .gz stays over 1 MB
    p = write_idx(tmp_path / "imgs.gz", x)
    np.testing.assert_array_equal(fd.read_idx(p), x)
    (entry,) = cache.glob("*.idx")
    assert entry.stat().st_size == 16 + x.size  # the decompressed IDX file, header included
    # A second read comes from the cache: prove it by making gunzip fail.
    monkeypatch.setattr(fd.gzip, "decompress", lambda raw: (_ for _ in ()).throw(AssertionError("gunzipped")))
    np.testing.assert_array_equal(fd.read_idx(p), x)
    monkeypatch.undo()
    monkeypatch.setenv(fd.CACHE_ENV, str(cache))
    # A changed file gets a new entry, never the stale one.
    x2 = x[::-1].copy()
    write_idx(p, x2)
    np.testing.assert_array_equal(fd.read_idx(p), x2)
    assert len(list(cache.glob("*.idx"))) == 2
    # A truncated entry is ignored (and rewritten).
    for e in cache.glob("*.idx"):
        e.write_bytes(e.read_bytes()[:1000])
    np.testing.assert_array_equal(fd.read_idx(p), x2)
    # Turned off, or unwritable: no cache, same arrays.
    monkeypatch.setenv(fd.CACHE_ENV, "off")
    assert fd.idx_cache_dir() is None
    np.testing.assert_array_equal(fd.read_idx(p), x2)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv(fd.CACHE_ENV, str(blocked / "idx"))
    np.testing.assert_array_equal(fd.read_idx(p), x2)
