"""Point hints: a user's clicks, each a pixel of the input image and the colour it should have.

A hint is ``(x, y, colour)``: ``x`` the pixel column and ``y`` the pixel row in the INPUT image
(any size; the network's working size is not the user's concern), ``colour`` one of

- ``"#rrggbb"`` (or ``"#RRGGBB"``);
- a colour name tic knows (``tic.color_names``): a basic term (``COLOR_TERMS``: "red", "blue",
  ...) or one of its ``SYNONYMS`` ("navy", "crimson", "grey", ...), given the term's typical
  colour (``tic.color_names.term_rgb``);
- an ``(r, g, b)`` tuple (or list) of ints in 0-255.

Only the colour's chroma is used: the network applies the hinted a, b at the photo's own
lightness, so a dark navy and a light sky blue of the same a, b give the same hint.

Functions:

- ``parse_colour(colour) -> (r, g, b)`` and ``parse_hint("X,Y,COLOUR") -> Hint`` (the CLI's form);
- ``hint_points(hints, size) -> (yx, ab)``: one image's hints as tensors, checked against its size;
- ``batch_points([(yx, ab), ...]) -> (yx, ab, valid)``: a batch, padded to its most points (what
  ``tic.decoding.predict_ab`` takes);
- ``read_hints_file(path)``: the CLI's per-image hints, a JSON object keyed by image file name.

Every problem with the user's hints is a one-line ``TicError`` that names the hint.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from pathlib import Path

import torch
from torch import Tensor

from tic.color import normalize_ab, rgb_to_lab
from tic.color_names import COLOR_TERMS, SYNONYMS, term_rgb
from tic.errors import TicError

MAX_HINTS = 32  # points for one image; more is an error, not a silent cut

Colour = str | tuple[int, int, int] | list[int]
Hint = tuple[float, float, Colour]

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def parse_colour(colour: Colour) -> tuple[int, int, int]:
    """A hint's colour -> sRGB ``(r, g, b)`` ints in 0-255.

    ``colour``: ``"#rrggbb"``, a colour name (a basic term or a synonym, any case), or an
    ``(r, g, b)`` tuple / list of ints in 0-255. Anything else is a ``TicError`` naming it.
    """
    if isinstance(colour, str):
        text = colour.strip()
        if _HEX.fullmatch(text):
            return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
        name = text.lower()
        term = name if name in COLOR_TERMS else SYNONYMS.get(name)
        if term is None:
            raise TicError(
                f"unknown colour {colour!r}: give '#rrggbb', (r, g, b) in 0-255 or a colour name "
                f"({', '.join(COLOR_TERMS)}, or a synonym such as navy, crimson, grey)"
            )
        return tuple(min(255, max(0, round(v * 255))) for v in term_rgb(term))
    if isinstance(colour, (tuple, list)):
        ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in colour)
        if len(colour) != 3 or not ints or not all(0 <= v <= 255 for v in colour):
            raise TicError(f"bad colour {colour!r}: an (r, g, b) colour is 3 ints in 0-255")
        return tuple(int(v) for v in colour)
    raise TicError(
        f"bad colour {colour!r}: give '#rrggbb', a colour name or (r, g, b) ints in 0-255"
    )


def parse_hint(text: str) -> Hint:
    """The CLI's ``"X,Y,COLOUR"`` -> ``(x, y, colour)``; COLOUR is ``#rrggbb`` or a name.

    ``"120,40,#ff0000"`` -> ``(120.0, 40.0, "#ff0000")``; the colour is checked here
    (``parse_colour``), the point against the image in ``hint_points``.
    """
    parts = [p.strip() for p in text.split(",", 2)]
    if len(parts) != 3 or not all(parts):
        raise TicError(f"bad hint {text!r}: expected X,Y,COLOUR, e.g. 120,40,#ff0000 or 120,40,red")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise TicError(f"bad hint {text!r}: X and Y are pixel numbers, e.g. 120,40,red") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise TicError(f"bad hint {text!r}: X and Y must be finite numbers")
    try:
        parse_colour(parts[2])
    except TicError as e:
        raise TicError(f"bad hint {text!r}: {e}") from None
    return (x, y, parts[2])


def _coordinate(v, hint) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
        raise TicError(f"bad hint {hint!r}: x and y must be finite numbers (pixel column, row)")
    return float(v)


def _num(v: float) -> str:
    return f"{v:g}"


def hint_points(hints: list[Hint], size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """One image's hints as tensors, checked against the image's ``size = (W, H)``.

    Returns ``yx`` ``(N, 2)`` float32, the points as fractions of the image
    (``((y + 0.5) / H, (x + 0.5) / W)``, pixel centres, so independent of the working size), and
    ``ab`` ``(N, 2)`` float32, each colour's CIE Lab a, b normalised to [-1, 1]
    (``tic.color.normalize_ab``). An empty list gives two ``(0, 2)`` tensors.

    A point outside the image (``x < 0``, ``y < 0``, ``x >= W``, ``y >= H``), a bad colour, or
    more than ``MAX_HINTS`` points is a ``TicError``.
    """
    if not isinstance(hints, (list, tuple)):
        raise TicError(f"hints must be a list of (x, y, colour), got {type(hints).__name__}")
    if len(hints) > MAX_HINTS:
        raise TicError(f"{len(hints)} hints for one image; at most {MAX_HINTS}")
    W, H = size
    yx, rgb = [], []
    for hint in hints:
        if not isinstance(hint, (list, tuple)) or len(hint) != 3:
            raise TicError(f"bad hint {hint!r}: a hint is (x, y, colour)")
        x, y = _coordinate(hint[0], hint), _coordinate(hint[1], hint)
        if x < 0 or y < 0 or x >= W or y >= H:
            raise TicError(f"hint ({_num(x)}, {_num(y)}) is outside the image ({W} x {H})")
        yx.append(((y + 0.5) / H, (x + 0.5) / W))
        rgb.append(parse_colour(hint[2]))
    if not hints:
        return torch.zeros(0, 2), torch.zeros(0, 2)
    srgb = torch.tensor(rgb, dtype=torch.float64) / 255  # (N, 3)
    lab = rgb_to_lab(srgb[:, :, None, None])[:, :, 0, 0]  # (N, 3): L [0, 100], a/b natural
    ab = normalize_ab(lab[:, 1:])
    return torch.tensor(yx, dtype=torch.float32), ab.float()


def batch_points(per_image: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor]:
    """``hint_points`` of each image of a batch -> ``yx`` ``(B, N, 2)``, ``ab`` ``(B, N, 2)``
    float32 and ``valid`` ``(B, N)`` bool, padded (zeros, not valid) to ``N``, the most points
    of any image (``N = 0`` when no image has one)."""
    B = len(per_image)
    N = max((int(yx.shape[0]) for yx, _ in per_image), default=0)
    yx_out = torch.zeros(B, N, 2)
    ab_out = torch.zeros(B, N, 2)
    valid = torch.zeros(B, N, dtype=torch.bool)
    for i, (yx, ab) in enumerate(per_image):
        if yx.ndim != 2 or yx.shape[-1] != 2 or ab.shape != yx.shape:
            raise ValueError(
                f"image {i}: yx and ab must both be (N, 2), got {tuple(yx.shape)}, {tuple(ab.shape)}"
            )
        n = yx.shape[0]
        yx_out[i, :n], ab_out[i, :n], valid[i, :n] = yx, ab, True
    return yx_out, ab_out, valid


def read_hints_file(path: str | Path) -> dict[str, list[Hint]]:
    """The CLI's per-image hints: a JSON object keyed by image file name (or path relative to the
    JSON file), each value a list of ``[x, y, colour]``::

        {"photo.jpg": [[120, 40, "#ff0000"], [300, 200, "navy"], [10, 10, [255, 200, 0]]]}

    Returns ``{key: [(x, y, colour), ...]}`` with every colour as an ``(r, g, b)`` tuple. Any
    problem is a ``TicError`` naming the file and the entry; points are checked against each
    image's size later (``hint_points``).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TicError(f"{path}: no such hints file") from None
    except OSError as e:
        raise TicError(f"{path}: cannot read hints file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise TicError(f"{path}: hints file is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise TicError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    if not isinstance(data, dict):
        raise TicError(f'{path}: expected a JSON object {{"image.jpg": [[x, y, colour], ...]}}')
    out: dict[str, list[Hint]] = {}
    for key, entries in data.items():
        where = f"{path}: entry {key!r}"
        if not isinstance(entries, list):
            raise TicError(f"{where}: expected a list of [x, y, colour], got {entries!r}")
        if len(entries) > MAX_HINTS:
            raise TicError(f"{where}: {len(entries)} hints for one image; at most {MAX_HINTS}")
        hints = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, list) or len(entry) != 3:
                raise TicError(f"{where}, hint {i + 1}: expected [x, y, colour], got {entry!r}")
            try:
                x, y = _coordinate(entry[0], entry), _coordinate(entry[1], entry)
                hints.append((x, y, parse_colour(entry[2])))
            except TicError as e:
                raise TicError(f"{where}, hint {i + 1}: {e}") from None
        out[key] = hints
    return out
