"""Pictures that are not digits, as a visitor might draw or upload them: letters, shapes, scribbles
and noise, drawn here from a seed (nothing is downloaded or stored).

Black ink on white, 200×200 RGB, strokes as thick as the app's brush. Letters that are a digit's
twin when handwritten (O, o, I, l, i, S, s, Z, z, B, b, g, q, G, D) are left out, and so are plain
circles and ovals (a 0): a check that flags them would be wrong to. ``non_digit_pictures`` is what
the "is this a digit?" check is trained, calibrated and measured on, with a different seed each.
"""

from __future__ import annotations

import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 200
#: a handwritten one of these is read as a digit by people too
DIGIT_TWINS = set("OoIliSsZzBbgqGD")
LETTERS = [letter for letter in string.ascii_letters if letter not in DIGIT_TWINS]
KINDS = ("letters", "shapes", "scribbles", "noise")


def non_digit_pictures(count: int, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> dict[str, list[np.ndarray]]:
    """``count`` pictures of each kind (RGB uint8, 200×200)."""
    rng = np.random.default_rng(seed)
    makers = {"letters": _letters, "shapes": _shape, "scribbles": _scribble, "noise": _noise}
    return {kind: [makers[kind](rng) for _ in range(count)] for kind in kinds}


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    picture = Image.new("RGB", (SIZE, SIZE), "white")
    return picture, ImageDraw.Draw(picture)


def _pen(rng: np.random.Generator) -> int:
    return int(rng.integers(6, 20))


def _letters(rng: np.random.Generator) -> np.ndarray:
    """One to three letters in the built-in font, of any size, weight and tilt."""
    text = "".join(rng.choice(LETTERS, size=int(rng.choice([1, 1, 1, 2, 3]))))
    size = int(rng.integers(70, 170)) if len(text) == 1 else int(rng.integers(45, 90))
    picture, draw = _canvas()
    font = ImageFont.load_default(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=0)
    x = (SIZE - (right - left)) / 2 - left + rng.uniform(-15, 15)
    y = (SIZE - (bottom - top)) / 2 - top + rng.uniform(-15, 15)
    draw.text((x, y), text, fill="black", font=font, stroke_width=int(rng.integers(0, 6)), stroke_fill="black")
    return np.asarray(picture.rotate(rng.uniform(-20, 20), fillcolor="white"))


def _star(rng: np.random.Generator, centre, radius) -> list[tuple[float, float]]:
    points = int(rng.integers(5, 8))
    angles = np.linspace(0, 2 * np.pi, 2 * points, endpoint=False) + rng.uniform(0, np.pi)
    radii = np.where(np.arange(2 * points) % 2 == 0, radius, radius * rng.uniform(0.35, 0.5))
    return [(centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)) for r, a in zip(radii, angles)]


def _shape(rng: np.random.Generator) -> np.ndarray:
    """A star, a hash, a smiley, a triangle, a square, a cross, a heart-ish or an arrow, drawn in lines."""
    picture, draw = _canvas()
    pen, centre = _pen(rng), rng.uniform(80, 120, 2)
    radius = rng.uniform(45, 85)
    kind = rng.choice(["star", "hash", "smiley", "triangle", "square", "cross", "arrow", "grid"])
    x, y = centre
    if kind == "star":
        star = _star(rng, centre, radius)
        draw.line(star + star[:1], fill="black", width=pen, joint="curve")
    elif kind == "hash":
        for offset in (-radius / 3, radius / 3):
            draw.line([(x - radius, y + offset), (x + radius, y + offset)], fill="black", width=pen)
            draw.line([(x + offset, y - radius), (x + offset, y + radius)], fill="black", width=pen)
    elif kind == "smiley":
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline="black", width=pen)
        for side in (-1, 1):
            eye = (x + side * radius / 2.5, y - radius / 3)
            draw.ellipse([eye[0] - pen, eye[1] - pen, eye[0] + pen, eye[1] + pen], fill="black")
        draw.arc([x - radius / 2, y - radius / 4, x + radius / 2, y + radius / 1.6], 20, 160, "black", pen)
    elif kind in ("triangle", "square"):
        corners = 3 if kind == "triangle" else 4
        angles = np.linspace(0, 2 * np.pi, corners, endpoint=False) + rng.uniform(0, np.pi)
        polygon = [(x + radius * np.cos(a), y + radius * np.sin(a)) for a in angles]
        draw.line(polygon + polygon[:1], fill="black", width=pen, joint="curve")
    elif kind == "cross":
        for sign in (-1, 1):
            draw.line([(x - radius, y - sign * radius), (x + radius, y + sign * radius)], fill="black", width=pen)
    elif kind == "arrow":
        draw.line([(x - radius, y), (x + radius, y)], fill="black", width=pen)
        for sign in (-1, 1):
            draw.line([(x + radius, y), (x + radius / 3, y + sign * radius / 2)], fill="black", width=pen)
    else:  # a grid of three by three lines
        for offset in np.linspace(-radius, radius, 3):
            draw.line([(x - radius, y + offset), (x + radius, y + offset)], fill="black", width=pen)
            draw.line([(x + offset, y - radius), (x + offset, y + radius)], fill="black", width=pen)
    return np.asarray(picture.rotate(rng.uniform(-25, 25), fillcolor="white"))


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """A zigzag, a spiral, a random wandering line or hatching."""
    picture, draw = _canvas()
    pen = _pen(rng)
    kind = rng.choice(["zigzag", "spiral", "wander", "hatch"])
    if kind == "zigzag":
        turns = int(rng.integers(5, 9))
        xs = np.linspace(rng.uniform(15, 50), rng.uniform(150, 185), turns)
        ys = np.where(np.arange(turns) % 2 == 0, rng.uniform(30, 80), rng.uniform(120, 170)) + rng.normal(0, 8, turns)
        points = list(zip(xs, ys)) if rng.random() < 0.5 else list(zip(ys, xs))
    elif kind == "spiral":
        angles = np.linspace(0, rng.uniform(3, 6) * np.pi, 120)
        radii = np.linspace(4, rng.uniform(60, 90), 120)
        points = list(zip(100 + radii * np.cos(angles), 100 + radii * np.sin(angles)))
    elif kind == "wander":
        steps = rng.normal(0, 1, (int(rng.integers(12, 30)), 2)).cumsum(axis=0)
        steps = (steps - steps.min(axis=0)) / np.ptp(steps, axis=0).clip(1e-6) * 150 + 25
        points = [tuple(point) for point in steps]
    else:  # parallel strokes
        lines, slope = int(rng.integers(4, 9)), rng.uniform(-0.6, 0.6)
        for offset in np.linspace(30, 170, lines):
            draw.line([(30, offset), (170, offset + 140 * slope)], fill="black", width=pen)
        return np.asarray(picture.rotate(rng.uniform(0, 180), fillcolor="white"))
    draw.line(points, fill="black", width=pen, joint="curve")
    return np.asarray(picture)


def _noise(rng: np.random.Generator) -> np.ndarray:
    """A photo-like upload: grey or colour noise, or blotches."""
    if rng.random() < 0.5:
        return rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (8, 8, 1), dtype=np.uint8).repeat(3, axis=2)
    return np.asarray(Image.fromarray(small).resize((SIZE, SIZE), Image.BILINEAR))
