"""A set of 70 garment drawings (7 per class) kept as stroke lists, rendered the way the Sketch page's
canvas delivers them: white strokes (round caps) on a transparent 280x280 RGBA image, filled shapes in
the canvas' fill grey. Also random scribbles, for calibrating "this is not a garment".

`sketches.json` is written by `python -m bench.sketch_set.generate` (deterministic); it covers filled
and outline drawings, thin (6 px) to thick (34 px) strokes, ruled and shaky freehand lines with
gaps, small and off-centre drawings, and shoes facing left and right. `heldout.json` (60 drawings, by
`python -m bench.sketch_set.generate_heldout`) draws other garments in other hands, rotated a little:
never tune to it. `third.json` (80 drawings, by `python -m bench.sketch_set.generate_third`) is a third,
untouched set in yet other hands (rounded outlines, pen lifts, fat-brush painting, zig-zag fills, details
such as zips, buttons and laces): made before any recipe was judged with it, and read only as totals
while choosing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
HERE = Path(__file__).resolve().parent
SKETCHES = HERE / "sketches.json"
# A second, independent set (other garments, other hands): the held-out check against tuning to the first.
HELDOUT = HERE / "heldout.json"
# A third one, made before judging recipes with it: the check that a recipe chosen on the first two generalises.
THIRD = HERE / "third.json"
# A fourth, drawn by another hand that saw neither the sets above, their generators nor the augmentation
# (asked only to draw each class as ordinary people would with a mouse): the check against our own habits.
FOURTH = HERE / "fourth.json"
SETS = {"main": SKETCHES, "heldout": HELDOUT, "third": THIRD, "fourth": FOURTH}
FILL_GREY = (179, 179, 179, 255)  # the page's SHAPE_FILL "#b3b3b3"


@dataclass(frozen=True)
class Sketch:
    name: str  # e.g. "ankle_boot/outline_thin_shaky_right"
    label: int  # Fashion-MNIST class index
    strokes: list[dict]  # {"points": [[x, y], ...], "width": px, "fill": bool, "closed": bool}
    tags: tuple[str, ...] = ()


def load_sketches(path: Path = SKETCHES) -> list[Sketch]:
    rows = json.loads(path.read_text())
    return [Sketch(r["name"], int(r["label"]), r["strokes"], tuple(r.get("tags", ()))) for r in rows]


def render(strokes: list[dict], side: int = CANVAS) -> np.ndarray:
    """Stroke lists (canvas px on a 280 canvas) -> (side, side, 4) uint8, as st_canvas' image_data."""
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    k = side / CANVAS
    for s in strokes:
        pts = [(x * k, y * k) for x, y in s["points"]]
        w = max(1, round(s["width"] * k))
        if s.get("fill") and len(pts) >= 3:
            draw.polygon(pts, fill=FILL_GREY)
        if s.get("closed") and len(pts) >= 3:
            pts = [*pts, pts[0]]
        if len(pts) >= 2:
            draw.line(pts, fill=(255, 255, 255, 255), width=w, joint="curve")
        r = w / 2
        for x, y in (pts[0], pts[-1]):  # round caps, as fabric.js draws them
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    return np.asarray(img)


def scribbles(n: int, *, seed: int = 0, side: int = CANVAS) -> list[np.ndarray]:
    """n random scribbles: 1-4 jittery random-walk strokes each, brush 6-30 px, anywhere on the canvas."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        strokes = []
        for _ in range(int(rng.integers(1, 5))):
            steps = int(rng.integers(8, 40))
            start = rng.uniform(0.1, 0.9, 2) * CANVAS
            walk = start + np.cumsum(rng.normal(0, rng.uniform(8, 30), (steps, 2)), axis=0)
            pts = np.clip(walk, 4, CANVAS - 4).tolist()
            strokes.append(
                {"points": pts, "width": float(rng.integers(6, 31)), "fill": False, "closed": False}
            )
        out.append(render(strokes, side))
    return out
