"""Write bench/sketch_set/fourth.json: 80 drawings, 8 per class, deterministic (seeded).

    .venv/bin/python -m bench.sketch_set.generate_fourth [SHEET.png]

Drawn by another hand (a helper session) that saw neither the other sets, their generators nor the sketch
augmentation, and was asked only to draw each class as ordinary people would with a mouse, with the features
people use to tell it from its neighbours. Each class in eight styles: outline, grey fill or scribble fill;
thin, medium or thick brush; large, or small and off-centre; clean or wobbly; some mirrored (shoes face
left in five, right in three). With a path, also writes a contact sheet of all 80 for a look.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent
CANVAS = 280
MARGIN = 5
rng = np.random.default_rng(20240611)

CLASSES = [
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
]


# ----------------------------------------------------------------------------- geometry helpers
def bez(p0, p1, p2, n=10):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = map(np.asarray, (p0, p1, p2))
    return [tuple(v) for v in ((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2)]


def arc(cx, cy, rx, ry, a0, a1, n=14):
    a = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in a]


def mir(pts, cx=50.0):
    return [(2 * cx - x, y) for x, y in pts]


W = 10.0  # brush width of the drawing being made (set by make_drawing)


def thick(v):
    return W >= 24


def J(s=1.0):
    """small proportion jitter"""
    return float(rng.uniform(-s, s))


class Shape:
    def __init__(self):
        self.main: list[list] = []  # closed silhouette polygons (filled / scribbled in fill styles)
        self.lines: list[tuple] = []  # (points, closed) detail strokes
        self.dots: list[tuple] = []  # single click dots (buttons, eyelets)
        self.fine: list[tuple] = []  # small details dropped for the thickest brushes

    def all_points(self):
        pts = [p for poly in self.main for p in poly]
        pts += [p for line, _ in self.lines for p in line]
        pts += [p for line, _ in self.fine for p in line]
        pts += list(self.dots)
        return np.array(pts, float)


# ----------------------------------------------------------------------------- class templates
def tshirt(v):
    s = Shape()
    hw = 26 + J(3)  # body half width
    nw = 10 + J(2)  # neck half width
    L = 92 + J(6)  # hem
    a = np.radians(32 + J(8))  # sleeve droop
    sl = 24 + J(5)  # sleeve length
    cw = 17 + J(2)
    ah = 26 + J(3)
    S = np.array([50 - hw - 5, 10.0])
    d = np.array([-np.cos(a), np.sin(a)])
    pr = np.array([np.sin(a), np.cos(a)])
    T1 = S + sl * d
    T2 = T1 + cw * pr
    A = (50 - hw, 10 + ah)
    H = (50 - hw + J(1.5), L)
    left = [(50 - nw, 5), tuple(S), tuple(T1), tuple(T2), A, H]
    right = mir(left)[::-1]
    vneck = v in (2, 5)
    if vneck:
        neck = [(50 + nw, 5), (50, 24 + J(2)), (50 - nw, 5)]
    else:
        neck = bez((50 + nw, 5), (50, 22 + J(2)), (50 - nw, 5), 9)
    s.main.append(left + right + neck[1:-1])
    if v in (0, 3, 6):  # sleeve hems
        for side in (1, -1):
            p1 = T1 - 5 * d
            p2 = T2 - 5 * d
            pts = [tuple(p1), tuple(p2)]
            s.fine.append((pts if side == 1 else mir(pts), False))
    if v in (1, 4, 7) and not vneck:  # neck band
        s.fine.append((bez((50 + nw + 3, 4), (50, 30), (50 - nw - 3, 4), 9)[2:-2], False))
    if v == 7:
        s.fine.append(([(32, 60), (68, 60)], False))
    return s


def trouser(v):
    s = Shape()
    wl, wr = 22 + J(2), 78 + J(2)
    flare = [0, 4, -2, 6, 0, 2, -3, 1][v] + J(1)
    gap = 9 + J(1.5) + (9 if thick(v) else 0)  # half gap between legs at the hem
    crotch = 34 + J(4) - (6 if thick(v) else 0)
    H = 100 + J(3) + (15 if thick(v) else 0)
    if thick(v):  # broad brush: legs with nearly parallel inner edges so the gap stays open
        gap, crotch = 17 + J(1), 30 + J(2)
        inner = [
            (50 + gap, H),
            (50 + gap * 0.75, crotch + 10),
            (50, crotch),
            (50 - gap * 0.75, crotch + 10),
            (50 - gap, H),
        ]
    else:
        inner = [(50 + gap, H), (50, crotch), (50 - gap, H)]
    pts = [(wl, 0), (wr, 0), (wr + 3 + flare, H)] + inner + [(wl - 3 - flare, H)]
    s.main.append(pts)
    s.lines.append(([(wl + 0.5, 8), (wr - 0.5, 8)], False))  # waistband
    s.fine.append(([(50, 8), (50, crotch - 10)], False))  # fly
    if v in (0, 2, 5, 6):  # pockets
        s.fine.append((bez((wl + 1, 14), (wl + 10, 16), (wl + 13, 8), 6), False))
        s.fine.append((bez((wr - 1, 14), (wr - 10, 16), (wr - 13, 8), 6), False))
    if v in (1, 3):  # belt loops
        for x in (wl + 8, 50 - 8, 50 + 8, wr - 8):
            s.fine.append(([(x, 0), (x, 8)], False))
    return s


def long_sleeve_body(hw, L, a_deg, sl, cw, ah, nw, top=6.0, flare=0.0):
    a = np.radians(a_deg)
    S = np.array([50 - hw - 4, top + 4])
    d = np.array([-np.cos(a), np.sin(a)])
    pr = np.array([np.sin(a), np.cos(a)])
    T1 = S + sl * d
    T2 = T1 + cw * pr
    A = (50 - hw, top + ah)
    H = (50 - hw - flare, L)
    left = [(50 - nw, top), tuple(S), tuple(T1), tuple(T2), A, H]
    return left, (T1, T2, d)


def pullover(v):
    s = Shape()
    hw = 25 + J(2.5)
    L = 92 + J(5)
    nw = 10 + J(1.5)
    a = 68 + J(6) if not thick(v) else 52 + J(3)
    left, (T1, T2, d) = long_sleeve_body(
        hw, L, a, (62 if thick(v) else 80) + J(6), 14 + J(1.5), 24 + J(2), nw
    )
    right = mir(left)[::-1]
    neck = bez((50 + nw, 6), (50, 20 + J(2)), (50 - nw, 6), 9)
    s.main.append(left + right + neck[1:-1])
    # rib bands: cuffs, waistband, neck band
    for pts in ([tuple(T1 - 9 * d), tuple(T2 - 9 * d)],):
        if not thick(v):
            s.lines.append((pts, False))
            s.lines.append((mir(pts), False))
    s.lines.append(
        ([(50 - hw, L - 9 - (4 if thick(v) else 0)), (50 + hw, L - 9 - (4 if thick(v) else 0))], False)
    )
    s.fine.append((bez((50 + nw + 4, 5), (50, 30), (50 - nw - 4, 5), 9)[2:-2], False))
    if v in (0, 3, 5):  # ribbing ticks on the waistband
        for x in np.linspace(50 - hw + 6, 50 + hw - 6, 6):
            s.fine.append(([(x, L - 8), (x, L - 1)], False))
    if v in (2, 6):  # knit pattern: a zigzag across the chest
        zz = [(50 - hw + 4 + i * (2 * hw - 8) / 8, 40 + (4 if i % 2 else -4)) for i in range(9)]
        s.fine.append((zz, False))
    return s


def coat(v):
    s = Shape()
    hw = 24 + J(2)
    L = 122 + J(8) + (18 if thick(v) else 0)
    nw = 9 + J(1.5)
    a = 72 + J(5) if not thick(v) else 58 + J(3)
    left, (T1, T2, d) = long_sleeve_body(
        hw, L, a, (66 if thick(v) else 86) + J(6), 14 + J(1.5), 24 + J(2), nw, flare=4 + J(2)
    )
    right = mir(left)[::-1]
    vb = 44 + J(4)  # bottom of the V opening
    s.main.append(left + right + [(50, vb)])
    # lapels / collar
    lap = [(50 - nw, 6), (50 - nw - 9, 18 + J(2)), (50 - nw - 3, 22 + J(2)), (50, vb)]
    if not thick(v):
        s.lines.append((lap, False))
        s.lines.append((mir(lap), False))
    # front opening
    off = 0 if v in (0, 2, 4, 6) else 4
    s.lines.append(([(50 + off, vb), (50 + off, L)], False))
    # buttons
    ys = np.linspace(vb + 10, L - 28, 4)
    for y in ys:
        s.dots.append((50 - 6 + off, y))
        if v in (3, 7):
            s.dots.append((50 + 14 + off, y))
    # pockets
    if v in (0, 1, 3, 5, 7):
        for pts in ([(50 - hw + 4, L - 38), (50 - hw + 16, L - 42)],):
            s.fine.append((pts, False))
            s.fine.append((mir(pts), False))
    # belt
    if v in (2, 4, 6):
        y = 64 + J(3)
        s.lines.append(([(50 - hw, y), (50 + hw, y)], False))
        s.fine.append(([(42, y - 6), (58, y - 6), (58, y + 6), (42, y + 6)], True))
    # cuff lines
    for pts in ([tuple(T1 - 8 * d), tuple(T2 - 8 * d)],):
        s.fine.append((pts, False))
        s.fine.append((mir(pts), False))
    return s


def shirt(v):
    s = Shape()
    hw = 25 + J(2) + (5 if thick(v) else 0)
    L = 90 + J(5)
    nw = 8 + J(1) + (4 if thick(v) else 0)
    long_sl = v in (0, 2, 3, 5)
    if long_sl:
        a = 66 + J(6) if not thick(v) else 52 + J(3)
        left, (T1, T2, d) = long_sleeve_body(hw, L, a, (60 if thick(v) else 78) + J(6), 14, 24 + J(2), nw)
    else:
        left, (T1, T2, d) = long_sleeve_body(hw, L, 36 + J(6), 26 + J(4), 16, 26 + J(2), nw)
    right = mir(left)[::-1]
    # curved shirt-tail hem
    hem = bez((50 - hw, L), (50, L + 12), (50 + hw, L), 9)
    vy = 26 if thick(v) else 14  # bottom of the collar V
    s.main.append(left[:-1] + hem + right[1:] + [(50, vy)])
    # pointed collar (two flaps)
    col = [(50 - nw, 6), (50 - nw - 4 - (4 if thick(v) else 0), vy + 6 + J(2)), (50, vy)]
    s.lines.append((col, False))
    s.lines.append((mir(col), False))
    if thick(v):  # broad brush: a column of big buttons instead of the placket line
        for y in (vy + 22, L - 14):
            s.dots.append((50, y))
    else:  # button placket
        s.lines.append(([(50, 14), (50, L + 5)], False))
        for y in np.linspace(24, L - 6, 5):
            s.dots.append((54, y))
    # chest pocket
    if v in (0, 1, 3, 4, 6):
        px = 50 + hw - 18
        s.fine.append(([(px, 34), (px + 11, 34), (px + 11, 47), (px + 5.5, 50), (px, 47)], True))
    if long_sl:
        pts = [tuple(T1 - 8 * d), tuple(T2 - 8 * d)]
        s.fine.append((pts, False))
        s.fine.append((mir(pts), False))
    return s


def dress(v):
    s = Shape()
    bw = 18 + J(2)  # bust half width
    ww = 14 + J(1.5)  # waist half width
    hemw = 40 + J(5) + (4 if v in (3, 7) else 0)
    wy = 40 + J(3)
    H = 112 + J(8)
    sleeves = v in (1, 4, 6)
    nw = 9 + J(1.5)
    left = [(50 - nw, 0), (50 - nw - 5, 0)]
    if sleeves:
        left += [(50 - bw - 10, 10), (50 - bw - 5, 17)]
    else:
        left += bez((50 - nw - 5, 0), (50 - bw + 2, 12), (50 - bw, 20), 5)[1:]
    left += [(50 - bw, 20), (50 - ww, wy)]
    left += [(50 - hemw, H)]
    right = mir(left)[::-1]
    neck = bez((50 + nw, 0), (50, 16 + J(2)), (50 - nw, 0), 7)
    hem = bez((50 - hemw, H), (50, H + 8), (50 + hemw, H), 9)
    s.main.append(left[:-1] + hem + right[1:] + neck[1:-1])
    s.lines.append(([(50 - ww, wy), (50 + ww, wy)], False))  # waist seam / belt
    if v in (0, 2, 5):  # skirt folds
        for k in (-1, 1):
            s.fine.append(([(50 + k * 6, wy + 8), (50 + k * 16, H - 6)], False))
    if v in (3, 7):
        s.fine.append(([(50 - ww, wy + 5), (50 + ww, wy + 5)], False))
    return s


def sandal(v):
    """side view, toe at the left"""
    s = Shape()
    heeled = v in (3,)  # thin-brush sandals: v1, v5 flat, v3 heeled
    if W >= 12:  # broad brush: heeled strappy sandal with few, large open straps
        g = 100.0
        hh = {0: 30, 2: 38, 4: 28, 6: 34, 7: 40}.get(v, 32) + J(2)
        bot = [(4, g), (30, g), (55, g - 0.55 * hh), (78, g - 0.95 * hh), (98, g - hh)]
        top = [(98, g - hh - 7), (78, g - 0.95 * hh - 6), (55, g - 0.55 * hh - 6), (30, g - 6), (2, g - 6)]
        s.main.append(bot + top)
        s.lines.append(([(92, g - hh), (90 + (0 if v in (2, 7) else 2), g)], False))  # heel
        s.lines.append((bez((6, g - 6), (20, g - 52 + J(3)), (38, g - 7), 11), False))  # toe strap
        s.lines.append(([(97, g - hh - 7), (96, g - hh - 44)], False))  # heel strap
        s.lines.append(([(96, g - hh - 44), (70, g - hh - 40)], False))  # ankle strap
        if v in (0, 6):
            s.lines.append(([(52, g - 0.55 * hh - 6), (72, g - hh - 40)], False))  # instep strap
        return s
    if not heeled:
        g = 60.0
        t = 8 + J(1)  # sole thickness
        sole = [(3, g - t), (0, g - t / 2), (3, g), (97, g), (100, g - t / 2), (98, g - t - 2)]
        s.main.append(sole)
        top = g - t
        s.lines.append((bez((8, top), (20, top - 30), (32, top), 9), False))  # toe strap
        s.lines.append((bez((38, top), (54, top - 58), (70, top), 11), False))  # instep strap
        s.lines.append(([(90, top - 1), (91, top - 46)], False))  # heel strap
        s.lines.append((arc(82, top - 46, 14, 5, 0, 360, 16), True))  # ankle strap
        s.lines.append(([(54, top - 29), (70, top - 44)], False))  # T bar
    else:
        g = 70.0
        sole = [
            (3, g - 8),
            (1, g - 4),
            (4, g),
            (34, g),
            (52, g - 8),
            (70, g - 24),
            (80, g - 30),
            (81, g),
            (88, g),
            (97, g - 34),
            (99, g - 40),
            (94, g - 42),
            (80, g - 38),
            (62, g - 28),
            (40, g - 12),
        ]
        s.main.append(sole)
        s.lines.append((bez((8, g - 9), (20, g - 30), (34, g - 12), 9), False))
        s.lines.append((bez((44, g - 15), (58, g - 52), (70, g - 33), 11), False))
        s.lines.append(([(93, g - 42), (92, g - 66)], False))
        s.lines.append((arc(84, g - 66, 12, 5, 0, 360, 16), True))
        if v in (3, 7):
            s.fine.append(([(58, g - 40), (74, g - 64)], False))
    return s


def sneaker(v):
    """side view, toe at the left"""
    s = Shape()
    h = 1 + J(0.08)
    pts = [
        (0, 40),
        (3, 31),
        (14, 25),
        (36, 19),
        (56, 9),
        (63, 4),
        (69, 10),
        (80, 13),
        (91, 7),
        (97, 12),
        (99, 28),
        (100, 45),
        (96, 50),
        (6, 50),
        (1, 47),
    ]
    pts = [(x, 50 - (50 - y) * h) for x, y in pts]
    s.main.append(pts)
    s.lines.append(([(1, 41), (100, 39)], False))  # midsole line
    s.lines.append((bez((33, 21), (50, 28), (66, 10), 6), False))  # lace panel edge
    for k in range(3):  # laces
        x = 40 + 8 * k
        y = 21 - 4.5 * k
        s.fine.append(([(x - 3, y - 4), (x + 4, y + 4)], False))
    if v in (0, 2, 4, 6):  # side stripe / swoosh
        s.fine.append((bez((38, 36), (70, 36), (88, 20), 8), False))
    if v in (1, 3, 5, 7):
        s.fine.append((bez((4, 33), (16, 31), (18, 41), 6), False))  # toe cap
    return s


def ankle_boot(v):
    """side view, toe at the left"""
    s = Shape()
    heeled = v in (0, 2, 4, 6)
    sh = 52 + J(5)  # shaft height above the vamp
    fx = 46 + J(3)  # front of shaft
    bx = 90 + J(2)
    if heeled:
        pts = [
            (fx, 0),
            (bx, 0),
            (bx + 2, 45),
            (98, 70),
            (97, 100),
            (84, 100),
            (80, 82),
            (62, 84),
            (40, 92),
            (6, 100),
            (1, 96),
            (0, 88),
            (6, 80),
            (28, 72),
            (fx, sh),
        ]
        s.main.append(pts)
        s.lines.append(([(bx + 4, 70), (80, 82)], False))  # heel top
    else:
        pts = [
            (fx, 0),
            (bx, 0),
            (bx + 2, 45),
            (98, 72),
            (98, 100),
            (76, 100),
            (72, 95),
            (62, 95),
            (58, 100),
            (5, 100),
            (0, 95),
            (0, 86),
            (8, 78),
            (30, 72),
            (fx, sh),
        ]
        s.main.append(pts)
        s.lines.append(([(1, 91), (98, 91)], False))  # sole line
    if v in (0, 3, 4, 7):  # chelsea elastic panel
        s.fine.append((bez((fx + 12, 0), (fx + 22, 40), (fx + 32, 0), 8), False))
    elif v in (1, 5):  # laces
        for k in range(4):
            y = 10 + 12 * k
            s.fine.append(([(fx - 2, y), (fx + 8, y + 6)], False))
    else:  # zip
        s.fine.append(([(bx - 10, 4), (bx - 10, 58)], False))
    s.fine.append(([(bx - 3, 0), (bx + 5, -7), (bx + 4, 6)], False))  # pull tab
    return s


def bag(v):
    s = Shape()
    kind = ["handbag", "tote", "flap", "handbag", "tote", "flap", "shoulder", "handbag"][v]
    top, bot = 40 + J(3), 100 + J(4)
    wt = 34 + J(3)
    wb = 44 + J(3) if kind != "tote" else 36 + J(2)
    s.main.append([(50 - wt, top), (50 + wt, top), (50 + wb, bot), (50 - wb, bot)])
    if kind == "handbag":
        s.lines.append((arc(50, top, 20 + J(2), 30 + J(3), 180, 360, 15), False))
        s.fine.append(([(50 - wt + 4, top + 10), (50 + wt - 4, top + 10)], False))  # zip
        s.dots.append((50, top + 10))
    elif kind == "tote" and W >= 24:
        s.lines.append((arc(50, top, 22, 34, 180, 360, 15), False))
    elif kind == "tote":
        for cx in (36, 64):
            s.lines.append((arc(cx, top, 9, 26 + J(2), 180, 360, 11), False))
    elif kind == "flap":
        s.lines.append(([(50 - wt, top + 1), (50, top + 30), (50 + wt, top + 1)], False))
        s.dots.append((50, top + 30))
        s.lines.append((arc(50, top, 24, 26, 180, 360, 15), False))
    else:  # shoulder bag with long strap
        s.lines.append((bez((50 - wt + 3, top + 2), (50, -50), (50 + wt - 3, top + 2), 15), False))
        s.fine.append(([(50 - wt + 2, top + 18), (50 + wt + 2, top + 18)], False))
    return s


TEMPLATES = [tshirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle_boot]
SHOES = {5, 7, 9}

# ----------------------------------------------------------------------------- styles
# (fill style, brush, size/placement, shaky, mirrored)
STYLES = [
    ("outline", "medium", "large", False, False),
    ("outline", "thin", "small_tl", True, False),
    ("grey", "medium", "large", True, True),
    ("scribble", "thin", "large", False, False),
    ("outline", "thick", "large", True, False),
    ("grey", "thin", "small_br", False, True),
    ("outline", "medium", "small_tr", True, True),
    ("scribble", "thick", "large", True, False),
]
WIDTHS = {"thin": (4, 8), "medium": (12, 22), "thick": (28, 36)}


def resample(pts, closed, step=3.0):
    P = np.array(pts, float)
    if closed:
        P = np.vstack([P, P[:1]])
    out = [P[0]]
    for a, b in zip(P[:-1], P[1:], strict=True):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        for k in range(1, n + 1):
            out.append(a + (b - a) * k / n)
    out = np.array(out)
    if closed:
        out = out[:-1]
    return out


def wobble(pts, closed, amp, w):
    P = resample(pts, closed, step=max(5.0, 0.45 * w))
    if len(P) < 3:
        return P
    seg = np.linalg.norm(np.diff(P, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    off = np.zeros_like(s)
    for _ in range(3):
        lam = rng.uniform(50, 160)
        off += rng.uniform(0.4, 1.0) * amp / 2 * np.sin(2 * np.pi * s / lam + rng.uniform(0, 2 * np.pi))
    tan = np.gradient(P, axis=0)
    tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-9
    nrm = np.stack([-tan[:, 1], tan[:, 0]], 1)
    return P + nrm * off[:, None]


def scribble(poly, w, shaky):
    """back-and-forth strokes filling a polygon"""
    P = np.array(poly, float)
    ang = np.radians(rng.uniform(-35, 35))
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    Q = P @ R.T  # rotated frame: scan along rows
    sp = max(0.75 * w, 9.0) if w > 20 else max(1.6 * w, 8.0)
    y0, y1 = Q[:, 1].min(), Q[:, 1].max()
    rows = []
    for y in np.arange(y0 + sp * 0.5, y1 - sp * 0.3, sp):
        xs = []
        for a, b in zip(Q, np.roll(Q, -1, 0), strict=True):
            if (a[1] - y) * (b[1] - y) < 0:
                xs.append(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]))
        xs.sort()
        segs = [(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2)]
        rows.append((y, segs))
    strokes, cur, prev_n, flip = [], None, -1, False
    groups: list[list] = []
    for y, segs in rows:
        if len(segs) != prev_n:
            cur = [[] for _ in segs]
            groups.append(cur)
            prev_n = len(segs)
        for g, (xa, xb) in zip(cur, segs, strict=True):
            ins = min(w * 0.25, (xb - xa) * 0.3)
            a = (xa + ins + rng.uniform(-2, 2), y)
            b = (xb - ins + rng.uniform(-2, 2), y)
            g.extend([a, b] if not flip else [b, a])
        flip = not flip
    for grp in groups:
        for g in grp:
            if len(g) >= 2:
                pts = np.array(g) @ R  # back to canvas frame
                strokes.append(pts)
    return strokes


def make_drawing(label, v):
    fill, brush, size, shaky, mirrored = STYLES[v]
    lo, hi = WIDTHS[brush]
    w = float(rng.integers(lo, hi + 1))
    global W
    W = w
    if label in (4, 6) and v == 7:  # filled coat / shirt: grey fill so the front details stay visible
        fill = "grey"
    shape = TEMPLATES[label](v)
    if w > 24 or (size != "large" and w >= 12):  # drop small details that a broad brush would blot out
        shape.fine = []
        if label == 4:
            shape.dots = []
    allp = shape.all_points()
    mx, Mx = allp[:, 0].min(), allp[:, 0].max()
    my, My = allp[:, 1].min(), allp[:, 1].max()
    # target box
    pad = MARGIN + w / 2 + (6 if shaky else 2)
    if size == "large":
        side = CANVAS - 2 * pad - rng.uniform(0, 14)
        cx, cy = CANVAS / 2 + rng.uniform(-6, 6), CANVAS / 2 + rng.uniform(-6, 6)
    else:
        side = rng.uniform(125, 150)
        c = {"small_tl": (92, 96), "small_br": (184, 180), "small_tr": (178, 102)}[size]
        cx, cy = c[0] + rng.uniform(-8, 8), c[1] + rng.uniform(-8, 8)
    k = side / max(Mx - mx, My - my)
    sgn = -1 if mirrored else 1

    def T(pts):
        P = np.array(pts, float)
        x = (P[:, 0] - (mx + Mx) / 2) * k * sgn + cx
        y = (P[:, 1] - (my + My) / 2) * k + cy
        return np.stack([x, y], 1)

    amp = rng.uniform(2.5, 4.5) if shaky else 0.0

    def line(pts, closed):
        P = T(pts)
        if shaky:
            P = wobble(P, closed, amp, w)
        return P

    strokes = []
    mains = [line(p, True) for p in shape.main]
    for P in mains:
        if fill == "grey":
            strokes.append(dict(points=P, width=w, fill=True, closed=True))
        else:
            strokes.append(dict(points=P, width=w, fill=False, closed=True))
    if fill == "scribble":
        for P in mains:
            for S in scribble(P, w, shaky):
                strokes.append(dict(points=S, width=w, fill=False, closed=False))
    for pts, cl in shape.lines + shape.fine:
        strokes.append(dict(points=line(pts, cl), width=w, fill=False, closed=cl))
    dot_w = max(w, 7.0) if w < 24 else w
    for d in shape.dots:
        p = T([d])[0]
        strokes.append(dict(points=np.array([p, p + 0.1]), width=dot_w, fill=False, closed=False))

    # keep inside the canvas with margin (uniform shrink about the centre if needed)
    allpts = np.vstack([s["points"] for s in strokes])
    r = max(s["width"] for s in strokes) / 2
    lo_, hi_ = allpts.min(0) - r, allpts.max(0) + r
    c = (lo_ + hi_) / 2
    half = (hi_ - lo_) / 2
    lim = CANVAS / 2 - MARGIN - 1
    f = min(1.0, *(np.maximum(lim - r, 1) / np.maximum(half - r, 1e-6)))
    for s in strokes:
        s["points"] = (s["points"] - c) * f + c
    allpts = np.vstack([s["points"] for s in strokes])
    lo_, hi_ = allpts.min(0) - r, allpts.max(0) + r
    shift = np.maximum(MARGIN + 1 - lo_, 0) - np.maximum(hi_ - (CANVAS - MARGIN - 1), 0)
    for s in strokes:
        s["points"] = [[round(float(x), 1), round(float(y), 1)] for x, y in s["points"] + shift]
        s["width"] = int(round(s["width"]))
    tags = [fill if fill != "grey" else "grey_fill", brush, size, "shaky" if shaky else "clean"]
    if mirrored:
        tags.append("mirrored")
    if label in SHOES:
        tags.append("facing_right" if mirrored else "facing_left")
    return dict(
        name=f"{CLASSES[label]}/v{v}_{fill}_{brush}_{size}",
        label=label,
        tags=tags,
        strokes=[
            dict(points=s["points"], width=s["width"], fill=bool(s["fill"]), closed=bool(s["closed"]))
            for s in strokes
        ],
    )


def main():
    data = []
    for label in range(10):
        for v in range(8):
            data.append(make_drawing(label, v))
    (OUT / "fourth.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    # checks
    for d in data:
        for s in d["strokes"]:
            P = np.array(s["points"])
            r = s["width"] / 2
            assert P.min() - r >= MARGIN - 1e-6 and P.max() + r <= CANVAS - MARGIN + 1e-6, d["name"]
    print(len(data), "drawings written to", OUT / "fourth.json")
    if len(sys.argv) < 2:
        return
    from bench.sketch_set import render

    cell, lab = 84, 90
    sheet = Image.new("RGB", (lab + 8 * (cell + 4), 10 * (cell + 4)), (40, 40, 60))
    dr = ImageDraw.Draw(sheet)
    for i, d in enumerate(data):
        rgba = render(d["strokes"])
        bg = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 255))
        im = Image.alpha_composite(bg, Image.fromarray(rgba)).convert("L").resize((cell, cell), Image.LANCZOS)
        r, c = divmod(i, 8)
        sheet.paste(im, (lab + c * (cell + 4), r * (cell + 4)))
        if c == 0:
            dr.text((4, r * (cell + 4) + 36), CLASSES[d["label"]], fill=(255, 255, 255))
    sheet.save(sys.argv[1])


if __name__ == "__main__":
    main()
