"""Dataset load and explorer render time, side by side with the bare minimum.

1. Load all four real IDX files: `fmnist_core.data.load_from_dir` (with its checks) against a bare
   `gzip.open(...).read()` + `np.frombuffer` of the same files. Repeats are interleaved so both see
   the same machine state (the OS file cache is warm for both after the first round). Target: ours
   <= 1.5x bare.
2. Render the dataset explorer with AppTest through app.py: the first run loads and caches the data
   and statistics; later runs are what a user waits for on every click.

Run: .venv/bin/python -m bench data
"""

from __future__ import annotations

import gzip
import statistics
import time
from pathlib import Path

import numpy as np

from fmnist_core.data import FILES, find_data_dir, load_from_dir

REPEATS = 7
RENDERS = 5
TARGET_RATIO = 1.5


def _bare_load(directory: Path) -> dict[str, np.ndarray]:
    """What anyone would write: decompress, skip the header, view as uint8. No checks."""
    out = {}
    for key, stem in FILES.items():
        with gzip.open(directory / f"{stem}.gz") as f:
            raw = f.read()
        header = 16 if key.startswith("x") else 8
        arr = np.frombuffer(raw, dtype=np.uint8, offset=header)
        out[key] = arr.reshape(-1, 28, 28) if key.startswith("x") else arr
    return out


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_load(directory: Path) -> tuple[float, float]:
    ours, bare = [], []
    for i in range(REPEATS):
        # Alternate which goes first, so neither always benefits from the other's warm-up.
        pair = [("ours", lambda: load_from_dir(directory)), ("bare", lambda: _bare_load(directory))]
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            (ours if name == "ours" else bare).append(_time(fn))
    # Same content, or the comparison is meaningless.
    a, b = load_from_dir(directory), _bare_load(directory)
    assert all(np.array_equal(getattr(a, k), b[k]) for k in FILES), "loaders disagree"
    return statistics.median(ours), statistics.median(bare)


def bench_explorer_render() -> tuple[float, list[float]]:
    from streamlit.testing.v1 import AppTest

    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=300)
    first = _time(at.run)
    if at.exception:
        raise RuntimeError(f"explorer raised: {at.exception}")
    later = []
    for _ in range(RENDERS):
        later.append(_time(at.run))
    return first, later


def main() -> None:
    directory = find_data_dir()
    if directory is None:
        print("Fashion-MNIST files not found; nothing to benchmark (see fmnist_core.data.HOW_TO_GET_DATA)")
        return
    sizes = sum((directory / f"{stem}.gz").stat().st_size for stem in FILES.values())
    print(f"data: {directory} ({sizes / 1e6:.1f} MB gzip'd), {REPEATS} interleaved repeats")
    ours, bare = bench_load(directory)
    ratio = ours / bare
    verdict = "OK" if ratio <= TARGET_RATIO else f"SLOWER than the {TARGET_RATIO}x target"
    print(f"load all four files  ours (load_from_dir): {ours * 1000:7.1f} ms   median")
    print(f"                     bare (gzip.open+frombuffer): {bare * 1000:7.1f} ms   median")
    print(f"                     ratio ours/bare: {ratio:.2f}x  ({verdict})")

    first, later = bench_explorer_render()
    print(f"explorer render (AppTest via app.py)  first run, cold caches: {first:6.2f} s")
    print(
        f"                                      cached, {RENDERS} reruns: median {statistics.median(later) * 1000:.0f} ms"
        f" (min {min(later) * 1000:.0f}, max {max(later) * 1000:.0f})"
    )


if __name__ == "__main__":
    main()
