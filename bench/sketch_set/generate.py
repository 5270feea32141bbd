"""Write bench/sketch_set/sketches.json: 7 drawings per class, deterministic (seeded).

    .venv/bin/python -m bench.sketch_set.generate

Each class has a template (polylines in a unit box, y down; shoes with the toe on the LEFT as in the data)
and is drawn in seven ways: a ruled outline; a filled polygon (the canvas' polygon tool: grey fill,
white edge); a thin shaky freehand outline with a gap; a small thick outline off-centre; a filled
freehand scribble; a medium shaky outline mirrored; and a small filled drawing mirrored. Mirrored shoes
face right.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from bench.sketch_set import CANVAS, SKETCHES
from fmnist_core.data import CLASS_NAMES

# Templates: (aspect w/h of the drawing's box, main closed outline, extra open strokes).
P = list[tuple[float, float]]
TEMPLATES: dict[int, tuple[float, P, list[P]]] = {
    0: (  # T-shirt: short sleeves
        1.0,
        [
            (0.36, 0.04),
            (0.5, 0.12),
            (0.64, 0.04),
            (0.97, 0.22),
            (0.86, 0.44),
            (0.76, 0.38),
            (0.76, 0.97),
            (0.24, 0.97),
            (0.24, 0.38),
            (0.14, 0.44),
            (0.03, 0.22),
        ],
        [],
    ),
    1: (  # Trouser: two legs
        0.55,
        [(0.1, 0.02), (0.9, 0.02), (0.98, 0.98), (0.64, 0.98), (0.5, 0.22), (0.36, 0.98), (0.02, 0.98)],
        [],
    ),
    2: (  # Pullover: long sleeves, round neck
        1.0,
        [
            (0.38, 0.04),
            (0.5, 0.1),
            (0.62, 0.04),
            (0.8, 0.09),
            (0.98, 0.9),
            (0.86, 0.94),
            (0.76, 0.42),
            (0.76, 0.97),
            (0.24, 0.97),
            (0.24, 0.42),
            (0.14, 0.94),
            (0.02, 0.9),
            (0.2, 0.09),
        ],
        [],
    ),
    3: (  # Dress: fitted top, flared skirt
        0.62,
        [
            (0.36, 0.02),
            (0.64, 0.02),
            (0.68, 0.28),
            (0.6, 0.42),
            (0.98, 0.98),
            (0.02, 0.98),
            (0.4, 0.42),
            (0.32, 0.28),
        ],
        [],
    ),
    4: (  # Coat: long, long sleeves, a front opening and a collar
        0.8,
        [
            (0.36, 0.02),
            (0.5, 0.16),
            (0.64, 0.02),
            (0.82, 0.07),
            (0.99, 0.95),
            (0.87, 0.98),
            (0.77, 0.4),
            (0.77, 0.99),
            (0.23, 0.99),
            (0.23, 0.4),
            (0.13, 0.98),
            (0.01, 0.95),
            (0.18, 0.07),
        ],
        [[(0.5, 0.16), (0.5, 0.99)]],
    ),
    5: (  # Sandal: a sole and straps, toe left
        2.2,
        [(0.02, 0.8), (0.98, 0.72), (0.98, 0.95), (0.04, 0.98)],
        [
            [(0.08, 0.8), (0.2, 0.35), (0.4, 0.8)],
            [(0.45, 0.78), (0.6, 0.2), (0.75, 0.75)],
            [(0.72, 0.74), (0.86, 0.05), (0.96, 0.72)],
        ],
    ),
    6: (  # Shirt: long sleeves, collar, buttons
        0.95,
        [
            (0.36, 0.04),
            (0.5, 0.2),
            (0.64, 0.04),
            (0.82, 0.08),
            (0.98, 0.92),
            (0.87, 0.95),
            (0.76, 0.4),
            (0.76, 0.97),
            (0.24, 0.97),
            (0.24, 0.4),
            (0.13, 0.95),
            (0.02, 0.92),
            (0.18, 0.08),
        ],
        [[(0.36, 0.04), (0.44, 0.22), (0.5, 0.2), (0.56, 0.22), (0.64, 0.04)], [(0.5, 0.22), (0.5, 0.96)]],
    ),
    7: (  # Sneaker: low and long, rounded toe on the left, the collar dipping before the heel
        2.8,
        [
            (0.02, 0.72),
            (0.06, 0.5),
            (0.2, 0.4),
            (0.45, 0.26),
            (0.6, 0.1),
            (0.72, 0.2),
            (0.86, 0.04),
            (0.98, 0.1),
            (0.99, 0.8),
            (0.96, 0.96),
            (0.04, 0.96),
        ],
        [[(0.04, 0.8), (0.97, 0.8)]],
    ),
    8: (  # Bag: body and a handle
        1.1,
        [(0.04, 0.36), (0.96, 0.36), (0.98, 0.98), (0.02, 0.98)],
        [[(0.28, 0.36), (0.34, 0.06), (0.66, 0.06), (0.72, 0.36)]],
    ),
    9: (  # Ankle boot: shaft up on the right, toe left
        1.05,
        [(0.46, 0.02), (0.94, 0.02), (0.98, 0.98), (0.02, 0.98), (0.03, 0.74), (0.22, 0.6), (0.44, 0.52)],
        [],
    ),
}

# (name, style, brush px, drawing size as a fraction of the canvas, centre offset, shaky, mirrored)
VARIANTS = [
    ("outline_ruled", "outline", 22, 0.86, (0.0, 0.0), False, False),
    ("polygon_filled", "polygon", 22, 0.86, (0.0, 0.0), False, False),
    ("outline_thin_shaky", "outline", 6, 0.8, (0.03, -0.02), True, False),
    ("outline_thick_small_offcentre", "outline", 34, 0.55, (-0.17, 0.16), False, False),
    ("scribble_filled_shaky", "scribble", 22, 0.78, (0.06, 0.05), True, False),
    ("outline_shaky_mirrored", "outline", 14, 0.82, (0.0, 0.03), True, True),
    ("scribble_filled_small_mirrored", "scribble", 14, 0.5, (0.18, -0.18), True, True),
]


def place(points: P, aspect: float, size: float, offset: tuple[float, float], mirror: bool) -> np.ndarray:
    """Unit-box points -> canvas px: the longest side of the box is `size` x the canvas, centred + offset."""
    p = np.asarray(points, np.float64)
    if mirror:
        p[:, 0] = 1.0 - p[:, 0]
    w, h = (size, size / aspect) if aspect >= 1 else (size * aspect, size)
    cx, cy = 0.5 + offset[0], 0.5 + offset[1]
    return np.stack([(cx + (p[:, 0] - 0.5) * w) * CANVAS, (cy + (p[:, 1] - 0.5) * h) * CANVAS], axis=1)


def shaky(pts: np.ndarray, rng: np.random.Generator, *, closed: bool, amp: float = 3.5) -> np.ndarray:
    """Resample a polyline every ~4 px and add smooth hand tremor (low-pass noise, ~amp px); a closed
    shape is drawn as one stroke that stops a little short of its start (a small gap)."""
    if closed:
        pts = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    n = max(8, int(t[-1] / 4))
    s = np.linspace(0, t[-1] * (0.97 if closed else 1.0), n)
    out = np.stack([np.interp(s, t, pts[:, 0]), np.interp(s, t, pts[:, 1])], axis=1)
    noise = rng.normal(0, 1, (n + 16, 2))
    kernel = np.hanning(15)
    kernel /= np.sqrt((kernel**2).sum())
    smooth = np.stack([np.convolve(noise[:, i], kernel, "same") for i in range(2)], axis=1)[8 : 8 + n]
    return out + amp * smooth


def scribble_fill(pts: np.ndarray, width: float, rng: np.random.Generator) -> list[list[list[float]]]:
    """Back-and-forth strokes covering a polygon, as people fill a shape with the freehand brush."""
    mask = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in pts], fill=255)
    m = np.asarray(mask) > 0
    rows = np.flatnonzero(m.any(axis=1))
    strokes, zig = [], []
    step = max(3.0, width * 0.75)
    for i, y in enumerate(np.arange(rows[0] + width / 3, rows[-1] - width / 3 + 1, step)):
        cols = np.flatnonzero(m[int(y)])
        if len(cols) == 0:
            continue
        # split into runs (a row may cross two legs)
        breaks = np.flatnonzero(np.diff(cols) > 1)
        runs = np.split(cols, breaks + 1)
        if len(runs) > 1:
            if zig:
                strokes.append(zig)
                zig = []
            for r in runs:
                a, b = r[0] + width / 3, r[-1] - width / 3
                if b > a:
                    strokes.append([[a, y + rng.normal(0, 1)], [b, y + rng.normal(0, 1)]])
            continue
        a, b = cols[0] + width / 3, cols[-1] - width / 3
        seg = [[a, y], [b, y]] if i % 2 == 0 else [[b, y], [a, y]]
        zig += [[float(x + rng.normal(0, 1.5)), float(yy + rng.normal(0, 1.5))] for x, yy in seg]
    if zig:
        strokes.append(zig)
    return strokes


def drawing(label: int, variant: tuple, rng: np.random.Generator) -> dict:
    name, style, width, size, offset, is_shaky, mirror = variant
    aspect, main, extras = TEMPLATES[label]
    pts = place(main, aspect, size, offset, mirror)
    strokes = []
    if style == "polygon":
        strokes.append({"points": pts.tolist(), "width": width, "fill": True, "closed": True})
    elif style == "scribble":
        for s in scribble_fill(pts, width, rng):
            strokes.append({"points": s, "width": width, "fill": False, "closed": False})
        edge = shaky(pts, rng, closed=True) if is_shaky else pts
        strokes.append({"points": edge.tolist(), "width": width, "fill": False, "closed": not is_shaky})
    else:
        edge = shaky(pts, rng, closed=True) if is_shaky else pts
        strokes.append({"points": edge.tolist(), "width": width, "fill": False, "closed": not is_shaky})
    for extra in extras:
        e = place(extra, aspect, size, offset, mirror)
        e = shaky(e, rng, closed=False) if is_shaky else e
        strokes.append({"points": e.tolist(), "width": width, "fill": False, "closed": False})
    for s in strokes:
        s["points"] = [[round(float(x), 1), round(float(y), 1)] for x, y in s["points"]]
    return record(label, name, [style, "shaky" if is_shaky else "ruled", f"brush{width}"], mirror, strokes)


def record(label: int, name: str, tags: list[str], mirror: bool, strokes: list[dict]) -> dict:
    """One drawing as stored: its name under the class's folder, its label, tags (with the mirror and,
    for shoes, which way the toe points) and strokes."""
    tags = [*tags, *(["mirrored"] if mirror else [])]
    if label in (5, 7, 9):
        tags.append("toe_right" if mirror else "toe_left")
    slug = CLASS_NAMES[label].lower().replace("/", "_").replace(" ", "_").replace("-", "")
    return {"name": f"{slug}/{name}", "label": label, "tags": tags, "strokes": strokes}


def write_set(path: Path, draw: Callable[[int, Any, np.random.Generator], dict], variants, seed: int) -> None:
    """Every class in every variant, drawn in order from one generator seeded with `seed`, written to
    `path` as compact JSON (the sets' generators share this, so each set is reproducible byte for byte)."""
    rng = np.random.default_rng(seed)
    rows = [draw(label, v, rng) for label in range(10) for v in variants]
    path.write_text(json.dumps(rows, separators=(",", ":")) + "\n")
    print(f"wrote {len(rows)} drawings to {path}")


def main() -> None:
    write_set(SKETCHES, drawing, VARIANTS, 2024)


if __name__ == "__main__":
    main()
