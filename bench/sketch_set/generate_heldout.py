"""Write bench/sketch_set/heldout.json: a second, independent set of 60 drawings (6 per class), deterministic.

    .venv/bin/python -m bench.sketch_set.generate_heldout

A check against tuning to the first set (`sketches.json`): other garments (a V-neck tee and a tank top, slim
and flared trousers, a sweater and a hoodie, a strappy and a short-sleeved dress, a belted trench and a
quilted puffer, a heeled sandal and a slide, a pocketed and a short-sleeved shirt, a runner and a slip-on,
a handbag with an arched handle and a clutch, a heeled bootie and a chelsea boot) drawn in other hands:
outlines of separate overshooting line segments traced twice, hatched outlines, thick rotated freehand
outlines, polygon-tool silhouettes with a thin edge, loop-scribbled fills, and shaky outlines with their
inner lines. Drawings are rotated a few degrees, and half of each class is mirrored (shoes then face right).
Never tune the model or the preprocessing to this set: it is the held-out check.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from bench.sketch_set import CANVAS, HELDOUT
from bench.sketch_set.generate import record, shaky, write_set

P = list[tuple[float, float]]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 9) -> P:
    t = np.linspace(np.radians(a0), np.radians(a1), n)
    return [(float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in t]


# class -> two templates: (aspect w/h, closed outline in a unit box (y down, shoes' toe LEFT), open strokes)
TEMPLATES: dict[int, list[tuple[float, P, list[P]]]] = {
    0: [
        (  # V-neck tee, sleeves angled out
            1.05,
            [(0.35, 0.02), (0.5, 0.2), (0.65, 0.02), (0.92, 0.15), (1.0, 0.38), (0.8, 0.42), (0.8, 1.0),
             (0.2, 1.0), (0.2, 0.42), (0.0, 0.38), (0.08, 0.15)],
            [],
        ),
        (  # tank top
            0.7,
            [(0.3, 0.0), (0.38, 0.0), (0.42, 0.2), (0.58, 0.2), (0.62, 0.0), (0.7, 0.0), (0.72, 0.25),
             (0.85, 0.35), (0.85, 1.0), (0.15, 1.0), (0.15, 0.35), (0.28, 0.25)],
            [],
        ),
    ],
    1: [
        (  # slim jeans with a waistband
            0.45,
            [(0.15, 0.0), (0.85, 0.0), (0.88, 0.1), (0.8, 1.0), (0.56, 1.0), (0.5, 0.3), (0.44, 1.0),
             (0.2, 1.0), (0.12, 0.1)],
            [[(0.13, 0.08), (0.87, 0.08)]],
        ),
        (  # flared trousers
            0.6,
            [(0.2, 0.0), (0.8, 0.0), (0.84, 0.25), (1.0, 1.0), (0.58, 1.0), (0.5, 0.35), (0.42, 1.0),
             (0.0, 1.0), (0.16, 0.25)],
            [],
        ),
    ],
    2: [
        (  # sweater, sleeves hanging down and out, ribbed hem
            1.0,
            [(0.38, 0.0), (0.5, 0.06), (0.62, 0.0), (0.78, 0.05), (0.92, 0.3), (1.0, 0.85), (0.88, 0.88),
             (0.78, 0.45), (0.78, 1.0), (0.22, 1.0), (0.22, 0.45), (0.12, 0.88), (0.0, 0.85), (0.08, 0.3),
             (0.22, 0.05)],
            [[(0.22, 0.92), (0.78, 0.92)]],
        ),
        (  # hoodie with a front pocket
            1.0,
            [(0.35, 0.08), (0.38, 0.0), (0.62, 0.0), (0.65, 0.08), (0.8, 0.1), (0.97, 0.88), (0.85, 0.92),
             (0.77, 0.45), (0.77, 1.0), (0.23, 1.0), (0.23, 0.45), (0.15, 0.92), (0.03, 0.88), (0.2, 0.1)],
            [[(0.35, 0.7), (0.65, 0.7)]],
        ),
    ],
    3: [
        (  # strappy A-line
            0.5,
            [(0.36, 0.0), (0.42, 0.0), (0.44, 0.12), (0.56, 0.12), (0.58, 0.0), (0.64, 0.0), (0.66, 0.3),
             (0.62, 0.4), (0.9, 1.0), (0.1, 1.0), (0.38, 0.4), (0.34, 0.3)],
            [],
        ),
        (  # short sleeves, straight skirt, a waist seam
            0.55,
            [(0.35, 0.0), (0.5, 0.08), (0.65, 0.0), (0.85, 0.1), (0.95, 0.25), (0.75, 0.3), (0.72, 0.45),
             (0.82, 1.0), (0.18, 1.0), (0.28, 0.45), (0.25, 0.3), (0.05, 0.25), (0.15, 0.1)],
            [[(0.28, 0.42), (0.72, 0.42)]],
        ),
    ],
    4: [
        (  # belted trench with lapels
            0.7,
            [(0.38, 0.0), (0.5, 0.12), (0.62, 0.0), (0.8, 0.05), (0.95, 0.7), (0.84, 0.72), (0.78, 0.35),
             (0.8, 1.0), (0.2, 1.0), (0.22, 0.35), (0.16, 0.72), (0.05, 0.7), (0.2, 0.05)],
            [[(0.5, 0.12), (0.5, 1.0)], [(0.22, 0.5), (0.78, 0.5)], [(0.38, 0.0), (0.45, 0.3), (0.5, 0.12)],
             [(0.62, 0.0), (0.55, 0.3), (0.5, 0.12)]],
        ),
        (  # quilted puffer with a zip
            0.95,
            [(0.36, 0.0), (0.5, 0.05), (0.64, 0.0), (0.82, 0.06), (0.98, 0.92), (0.86, 0.95), (0.78, 0.42),
             (0.78, 1.0), (0.22, 1.0), (0.22, 0.42), (0.14, 0.95), (0.02, 0.92), (0.18, 0.06)],
            [[(0.5, 0.05), (0.5, 1.0)], [(0.22, 0.35), (0.78, 0.35)], [(0.22, 0.6), (0.78, 0.6)],
             [(0.22, 0.82), (0.78, 0.82)]],
        ),
    ],
    5: [
        (  # heeled sandal, toe left
            2.0,
            [(0.0, 0.85), (0.55, 0.78), (0.85, 0.45), (1.0, 0.45), (1.0, 0.55), (0.92, 0.6), (0.92, 1.0),
             (0.85, 1.0), (0.85, 0.65), (0.6, 0.92), (0.02, 0.95)],
            [[(0.1, 0.85), (0.25, 0.5), (0.4, 0.82)], [(0.75, 0.55), (0.8, 0.1), (0.95, 0.46)]],
        ),
        (  # flat slide: a sole, a wide strap and an ankle strap
            2.5,
            [(0.0, 0.8), (1.0, 0.78), (1.0, 0.95), (0.0, 0.98)],
            [[(0.15, 0.8), (0.3, 0.3), (0.55, 0.3), (0.65, 0.78)], [(0.7, 0.78), (0.82, 0.35), (0.95, 0.78)]],
        ),
    ],
    6: [
        (  # button-down: pointed collar, placket, pocket, curved shirttail
            0.95,
            [(0.36, 0.02), (0.42, 0.0), (0.58, 0.0), (0.64, 0.02), (0.83, 0.08), (0.98, 0.9), (0.86, 0.93),
             (0.77, 0.4), (0.77, 0.95), (0.6, 1.0), (0.5, 0.96), (0.4, 1.0), (0.23, 0.95), (0.23, 0.4),
             (0.14, 0.93), (0.02, 0.9), (0.17, 0.08)],
            [[(0.42, 0.0), (0.44, 0.16), (0.5, 0.08), (0.56, 0.16), (0.58, 0.0)], [(0.5, 0.08), (0.5, 0.97)],
             [(0.58, 0.3), (0.68, 0.3), (0.68, 0.4), (0.58, 0.4)]],
        ),
        (  # short-sleeved shirt with a collar and a placket
            1.0,
            [(0.36, 0.02), (0.5, 0.15), (0.64, 0.02), (0.95, 0.15), (1.0, 0.42), (0.8, 0.45), (0.8, 1.0),
             (0.2, 1.0), (0.2, 0.45), (0.0, 0.42), (0.05, 0.15)],
            [[(0.36, 0.02), (0.42, 0.2), (0.5, 0.15), (0.58, 0.2), (0.64, 0.02)], [(0.5, 0.15), (0.5, 1.0)]],
        ),
    ],
    7: [
        (  # runner with laces and a sole line, toe left
            2.4,
            [(0.0, 0.7), (0.1, 0.5), (0.45, 0.35), (0.62, 0.08), (0.9, 0.02), (1.0, 0.25), (1.0, 0.82),
             (0.95, 1.0), (0.05, 1.0)],
            [[(0.45, 0.35), (0.55, 0.5)], [(0.52, 0.25), (0.62, 0.42)], [(0.02, 0.82), (0.99, 0.82)]],
        ),
        (  # low slip-on
            3.0,
            [(0.0, 0.8), (0.08, 0.5), (0.4, 0.4), (0.7, 0.3), (0.98, 0.35), (1.0, 0.85), (0.95, 1.0),
             (0.03, 1.0)],
            [[(0.02, 0.85), (0.99, 0.85)]],
        ),
    ],
    8: [
        (  # handbag: trapezoid body, arched handle
            1.0,
            [(0.1, 0.45), (0.9, 0.45), (1.0, 1.0), (0.0, 1.0)],
            [arc(0.5, 0.45, 0.27, 0.45, 180, 360)],
        ),
        (  # clutch with a flap
            1.7,
            [(0.0, 0.1), (1.0, 0.1), (1.0, 1.0), (0.0, 1.0)],
            [[(0.0, 0.1), (0.5, 0.6), (1.0, 0.1)]],
        ),
    ],
    9: [
        (  # heeled bootie, toe left
            1.0,
            [(0.5, 0.0), (0.92, 0.0), (0.95, 0.8), (0.98, 1.0), (0.82, 1.0), (0.8, 0.9), (0.1, 0.95),
             (0.0, 0.85), (0.08, 0.7), (0.45, 0.5)],
            [],
        ),
        (  # chelsea boot with its elastic panel
            1.1,
            [(0.4, 0.0), (0.9, 0.0), (0.95, 0.95), (0.05, 1.0), (0.0, 0.8), (0.15, 0.62), (0.38, 0.5)],
            [[(0.55, 0.02), (0.6, 0.45), (0.75, 0.45), (0.78, 0.02)]],
        ),
    ],
}  # fmt: skip

# (name, template, style, brush px, size (fraction of the canvas), centre offset, rotation degrees, mirrored)
VARIANTS = [
    ("segments_traced_twice", 0, "segments", 8, 0.85, (0.02, 0.0), 4.0, False),
    ("hatched_small_mirrored", 0, "hatched", 10, 0.62, (-0.12, 0.1), -3.0, True),
    ("thick_outline_rotated", 0, "outline", 30, 0.75, (0.05, -0.04), -6.0, False),
    ("polygon_thin_edge", 1, "polygon", 4, 0.9, (0.0, 0.02), -3.0, False),
    ("loop_scribble_mirrored", 1, "loops", 18, 0.66, (0.1, -0.1), 2.0, True),
    ("shaky_outline_inner_lines", 1, "shaky", 12, 0.9, (-0.02, 0.03), 7.0, False),
]


def place(points: P, aspect: float, size: float, offset, rot: float, mirror: bool) -> np.ndarray:
    """Unit-box points -> canvas px: longest side `size` x the canvas, rotated `rot` degrees about the
    drawing's centre, centred + offset."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if mirror:
        p[:, 0] = 1.0 - p[:, 0]
    w, h = (size, size / aspect) if aspect >= 1 else (size * aspect, size)
    xy = np.stack([(p[:, 0] - 0.5) * w, (p[:, 1] - 0.5) * h], axis=1) * CANVAS
    a = np.radians(rot)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return xy @ r.T + np.array([0.5 + offset[0], 0.5 + offset[1]]) * CANVAS


def stroke(points, width: float, *, fill: bool = False, closed: bool = False) -> dict:
    pts = [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(points).reshape(-1, 2)]
    return {"points": pts, "width": width, "fill": fill, "closed": closed}


def segments(pts: np.ndarray, width: float, rng: np.random.Generator, *, closed: bool) -> list[dict]:
    """Each side a separate straight stroke that overshoots its corners, traced twice (a sketcher's hand)."""
    if closed:
        pts = np.vstack([pts, pts[:1]])
    out = []
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        d = b - a
        n = d / max(np.linalg.norm(d), 1e-9)
        for _ in range(2):
            over = rng.uniform(2, 9, 2)
            jitter = rng.normal(0, 1.5, (2, 2))
            out.append(stroke([a - n * over[0] + jitter[0], b + n * over[1] + jitter[1]], width))
    return out


def _mask(pts: np.ndarray) -> np.ndarray:
    m = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(m).polygon([tuple(p) for p in pts], fill=255)
    return np.asarray(m) > 0


def _runs_inside(path: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """The parts of a polyline (sampled densely) that lie inside `mask`."""
    ij = np.clip(np.round(path).astype(int), 0, CANVAS - 1)
    inside = mask[ij[:, 1], ij[:, 0]]
    runs, cur = [], []
    for p, ok in zip(path, inside, strict=True):
        if ok:
            cur.append(p)
        elif cur:
            runs.append(np.array(cur))
            cur = []
    if cur:
        runs.append(np.array(cur))
    return [r for r in runs if len(r) >= 2]


def hatching(pts: np.ndarray, width: float, rng: np.random.Generator) -> list[dict]:
    """Diagonal hatch lines (45 degrees, ~2.2 brush widths apart) inside the outline."""
    mask = _mask(pts)
    out = []
    step = width * 2.2
    for c in np.arange(-CANVAS, CANVAS, step):
        x = np.arange(0, CANVAS, 2.0)
        line = np.stack([x, x + c + rng.normal(0, 1)], axis=1)
        for run in _runs_inside(line, mask):
            out.append(stroke([run[0], run[-1]], width))
    return out


def loops(pts: np.ndarray, width: float, rng: np.random.Generator) -> list[dict]:
    """A fill of small overlapping loops moving row by row across the shape (a ballpoint's scribble)."""
    mask = _mask(pts)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r = width * 1.1
    path = []
    for k, y in enumerate(np.arange(rows[0] + r * 0.6, rows[-1], r * 1.4)):
        xs = np.arange(cols[0], cols[-1], 1.5)
        if k % 2:
            xs = xs[::-1]
        t = np.linspace(0, len(xs) / (r * 1.2) * 2 * np.pi, len(xs))
        path += list(np.stack([xs + r * np.cos(t), y + r * np.sin(t) + rng.normal(0, 0.5, len(xs))], axis=1))
    return [stroke(run[::2], width) for run in _runs_inside(np.array(path), mask)]


def drawing(label: int, variant: tuple, rng: np.random.Generator) -> dict:
    name, which, style, width, size, offset, rot, mirror = variant
    aspect, main, extras = TEMPLATES[label][which]
    pts = place(main, aspect, size, offset, rot, mirror)
    lines = [place(e, aspect, size, offset, rot, mirror) for e in extras]
    strokes: list[dict] = []
    if style == "segments":
        strokes += segments(pts, width, rng, closed=True)
        for e in lines:
            strokes += segments(e, width, rng, closed=False)
    elif style == "hatched":
        strokes.append(stroke(pts, width, closed=True))
        strokes += hatching(pts, width, rng)
        strokes += [stroke(e, width) for e in lines]
    elif style == "polygon":
        strokes.append(stroke(pts, width, fill=True, closed=True))
        strokes += [stroke(e, width) for e in lines]
    elif style == "loops":
        strokes += loops(pts, width, rng)
        strokes.append(stroke(shaky(pts, rng, closed=True, amp=2.5), width))
        strokes += [stroke(shaky(e, rng, closed=False, amp=2.5), width) for e in lines]
    else:  # "outline" (ruled, thick) or "shaky" (a tremor and a gap), with the inner lines
        edge = shaky(pts, rng, closed=True) if style == "shaky" else pts
        strokes.append(stroke(edge, width, closed=style != "shaky"))
        strokes += [stroke(shaky(e, rng, closed=False) if style == "shaky" else e, width) for e in lines]
    return record(label, name, [style, f"brush{width}", f"template{which}"], mirror, strokes)


def main() -> None:
    write_set(HELDOUT, drawing, VARIANTS, 77)


if __name__ == "__main__":
    main()
