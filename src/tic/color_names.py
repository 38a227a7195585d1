"""Colour naming: the eleven basic English colour terms, for colours, image regions and texts.

The text encoders (colour synonyms and slots), the metrics (text colour accuracy), the captions and
the data sets all name colours through this module.

The namer maps a colour to one of the eleven basic English colour terms (``COLOR_TERMS``: black,
white, gray, red, orange, yellow, green, blue, purple, pink, brown) by rules on lightness ``L``,
chroma ``C = |ab|`` and hue angle ``h = atan2(b, a)`` (degrees), all from ``tic.color``:

- achromatic (``C < 13``, or ``L >= 91`` and ``C < 20``): black (``L < 20``), white
  (``L >= 91``), else gray; very dark colours (``L < 12``, ``C < 30``) are black too;
- hue sectors for the rest (red < 48 <= orange < 82 <= yellow < 112 <= green < 180 <= blue
  < purple < 340 <= red), where the blue / purple border moves with lightness
  (``318 - 0.3 L``: CIELAB puts the dark sRGB blue primary at h = 306, where light colours already
  look violet);
- lightness splits inside sectors: light reds are pink (``L >= 64``, or ``L >= 40`` near magenta),
  dark or greyish oranges are brown (``L < 65``, or ``C < 35`` below ``L = 85``), dark yellows are
  brown or olive green, greyish dark reds are brown.

The thresholds were set by hand while looking at where two tables of named colours fall: the
CSS/X11 names, mapped to basic terms by hand before the rules were written
(``tests/fixtures/css_color_terms.tsv``), and the xkcd colour-survey names whose last word is a
basic term (``tests/fixtures/xkcd_color_terms.tsv``, the term read off the crowd's name).
``benchmarks/color_namer.py`` reports the agreement with both; being tuned on them, these are not
held-out numbers.

Functions other modules use:

- ``name_color(color, space="lab")`` -> term for one colour (Lab triple, sRGB triple in [0, 1],
  or a ``"#rrggbb"`` string);
- ``color_term_indices(lab)`` vectorised over a ``(..., 3)`` Lab tensor -> indices into
  ``COLOR_TERMS``;
- ``color_fractions(rgb, mask)`` / ``dominant_color_term(rgb, mask)`` for a region of an image;
- ``colors_in_text(text)`` -> the colour terms a text names, synonyms mapped (crimson -> red);
- ``rewrite_color_words(text)``: colour synonyms replaced by their basic term (for encoders).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import Tensor

from tic.color import lab_to_rgb, rgb_to_lab

COLOR_TERMS: tuple[str, ...] = (
    "black", "white", "gray", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown",
)
CHROMATIC_TERMS: frozenset[str] = frozenset(COLOR_TERMS) - {"black", "white", "gray"}
_INDEX = {t: i for i, t in enumerate(COLOR_TERMS)}

# Words that name a colour, mapped to their basic term. "orange" and "rose" also name things; a
# text that uses them as nouns is still read as naming the colour.
SYNONYMS: dict[str, str] = {
    "grey": "gray", "silver": "gray", "silvery": "gray", "charcoal": "gray", "slate": "gray",
    "ashen": "gray",
    "crimson": "red", "scarlet": "red", "maroon": "red", "burgundy": "red", "ruby": "red",
    "cherry": "red", "vermilion": "red", "carmine": "red",
    "amber": "orange", "tangerine": "orange", "apricot": "orange", "coral": "orange",
    "peach": "orange", "rust": "orange",
    "gold": "yellow", "golden": "yellow", "lemon": "yellow", "mustard": "yellow",
    "khaki": "yellow", "blond": "yellow", "blonde": "yellow",
    "lime": "green", "olive": "green", "emerald": "green", "jade": "green", "mint": "green",
    "teal": "blue", "navy": "blue", "azure": "blue", "cyan": "blue", "turquoise": "blue",
    "aqua": "blue", "cobalt": "blue", "indigo": "purple", "sapphire": "blue", "cerulean": "blue",
    "violet": "purple", "lavender": "purple", "lilac": "purple", "magenta": "purple",
    "mauve": "purple", "plum": "purple", "fuchsia": "pink",
    "rose": "pink", "rosy": "pink", "salmon": "pink", "rufous": "brown",
    "tan": "brown", "beige": "brown", "chocolate": "brown", "chestnut": "brown",
    "bronze": "brown", "coffee": "brown", "auburn": "brown", "sepia": "brown", "buff": "brown",
    "ivory": "white", "cream": "white", "snow": "white", "snowy": "white",
    "ebony": "black", "jet": "black",
    # -ish forms
    "reddish": "red", "orangish": "orange", "orangey": "orange", "yellowish": "yellow",
    "greenish": "green", "bluish": "blue", "blueish": "blue", "purplish": "purple",
    "pinkish": "pink", "brownish": "brown", "grayish": "gray", "greyish": "gray",
    "whitish": "white", "blackish": "black",
}
_TERM_OF_WORD = {**{t: t for t in COLOR_TERMS}, **SYNONYMS}
# Synonyms that are often nouns for something whose colour is not the word's ("a lemon tree",
# "a jet plane", "ice cream", "a salmon in a river"): rewrite_color_words leaves them alone.
NOUN_SENSES = frozenset({
    "rose", "lemon", "cherry", "peach", "lime", "plum", "coffee", "jet", "apricot", "tangerine",
    "coral", "mint", "salmon", "chestnut", "snow", "cream", "buff", "rust", "olive", "slate",
    "charcoal",
})  # fmt: skip
_REWRITE = {w: t for w, t in SYNONYMS.items() if w not in NOUN_SENSES}
_REWRITE_RE = re.compile(r"\b(" + "|".join(sorted(_REWRITE, key=len, reverse=True)) + r")\b", re.I)
_WORD = re.compile(r"[a-z]+")

# --- the namer -------------------------------------------------------------------------------

_ACHROMATIC_C = 13.0  # below this chroma a colour is black, gray or white
_WHITE_L, _WHITE_C, _WHITE_C_BLUE = 91.0, 20.0, 12.0  # light tinted colours that read as white
_BLACK_L = 20.0


def color_term_indices(lab: Tensor) -> Tensor:
    """Lab ``(..., 3)`` (L in [0, 100], a/b natural units) -> int64 indices into ``COLOR_TERMS``."""
    if not isinstance(lab, Tensor) or lab.shape[-1:] != (3,):
        shape = getattr(lab, "shape", lab)
        raise ValueError(f"lab must be a tensor of shape (..., 3), got {shape}")
    lab = lab.double()
    L, a, b = lab.unbind(-1)
    C = torch.hypot(a, b)
    h = torch.rad2deg(torch.atan2(b, a)) % 360

    def idx(name: str) -> Tensor:
        return torch.full_like(L, _INDEX[name], dtype=torch.int64)

    # chromatic: hue sectors first, then lightness / chroma splits inside them
    blue_purple = 318.0 - 0.3 * L  # the sRGB blue primary sits at h = 306 (L = 32)
    yellow_green = (104.0 + 0.4 * (L - 60.0)).clamp(100.0, 115.0)  # dark yellows look olive
    out = idx("red")
    out = torch.where((h >= 48) & (h < 82), idx("orange"), out)
    out = torch.where((h >= 82) & (h < yellow_green), idx("yellow"), out)
    out = torch.where((h >= yellow_green) & (h < 170), idx("green"), out)
    out = torch.where((h >= 170) & (h < blue_purple), idx("blue"), out)
    out = torch.where((h >= blue_purple) & (h < 340), idx("purple"), out)

    reddish = (h >= 340) | (h < 48)
    magenta_red = (h >= 340) | (h < 15)
    pink = reddish & ((L >= 64) | (magenta_red & (L >= 40)))
    out = torch.where(pink, idx("pink"), out)
    out = torch.where(reddish & ~pink & (C < 35) & (h >= 15), idx("brown"), out)
    orange = (h >= 48) & (h < 82)
    brown = (L < 45) | ((L < 65) & (C < 70)) | ((L < 85) & (C < 35))
    out = torch.where(orange & brown, idx("brown"), out)
    yellow = (h >= 82) & (h < yellow_green)
    out = torch.where(yellow & (h < 95) & (L < 80) & (C < 45), idx("brown"), out)
    dark_yellow = yellow & (L < 60)
    out = torch.where(dark_yellow, torch.where(h < 95, idx("brown"), idx("green")), out)

    # achromatic last: it overrides the hue, which is meaningless at low chroma
    # light blues stay blue at lower chroma than light creams and beiges stay white
    bluish = (h >= 170) & (h < 300)
    white = (L >= _WHITE_L) & (C < torch.where(bluish, _WHITE_C_BLUE, _WHITE_C))
    gray_family = (C < _ACHROMATIC_C) | white | ((L < 12) & (C < 30))
    neutral = torch.where(L < _BLACK_L, idx("black"), idx("gray"))
    neutral = torch.where(L >= _WHITE_L, idx("white"), neutral)
    return torch.where(gray_family, neutral, out)


def _as_lab(color, space: str) -> Tensor:
    if isinstance(color, str):
        hexa = color.lstrip("#")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", hexa):
            raise ValueError(f"expected a colour like '#ff8800', got {color!r}")
        color, space = [int(hexa[i : i + 2], 16) / 255 for i in (0, 2, 4)], "rgb"
    x = torch.as_tensor(color, dtype=torch.float64).flatten()
    if x.numel() != 3:
        raise ValueError(f"a colour has 3 components, got {x.numel()}")
    if space == "lab":
        return x
    if space == "rgb":
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"sRGB components must lie in [0, 1], got {x.tolist()}")
        return rgb_to_lab(x.view(1, 3, 1, 1)).flatten()
    raise ValueError(f"space must be 'lab' or 'rgb', got {space!r}")


def name_color(color, space: str = "lab", modifiers: bool = False) -> str:
    """The basic colour term of one colour.

    ``color``: a Lab triple (``space="lab"``, L in [0, 100]), an sRGB triple in [0, 1]
    (``space="rgb"``), or a ``"#rrggbb"`` string. With ``modifiers=True`` chromatic terms get
    "light " (``L >= 75``) or "dark " (``L < 35``) in front where that is useful (not for yellow
    or brown, whose light and dark forms are other terms).
    """
    lab = _as_lab(color, space)
    term = COLOR_TERMS[int(color_term_indices(lab))]
    if modifiers and term in CHROMATIC_TERMS and term not in ("yellow", "brown"):
        L = float(lab[0])
        if L >= 75 and term != "pink":
            return "light " + term
        if L < 35:
            return "dark " + term
    return term


def term_rgb(term: str) -> tuple[float, float, float]:
    """A typical sRGB colour (in [0, 1]) for a basic term, for drawing and recolouring."""
    if term not in _TYPICAL_LAB:
        raise ValueError(f"unknown colour term {term!r}; choose from {COLOR_TERMS}")
    lab = torch.tensor(_TYPICAL_LAB[term], dtype=torch.float64).view(1, 3, 1, 1)
    return tuple(float(v) for v in lab_to_rgb(lab).flatten())


def term_lab(term: str) -> tuple[float, float, float]:
    """A typical Lab colour (L in [0, 100], a/b natural units) for a basic term."""
    if term not in _TYPICAL_LAB:
        raise ValueError(f"unknown colour term {term!r}; choose from {COLOR_TERMS}")
    return _TYPICAL_LAB[term]


# One Lab colour per term, well inside its region (checked by the tests with name_color).
_TYPICAL_LAB: dict[str, tuple[float, float, float]] = {
    "black": (8.0, 0.0, 0.0), "white": (97.0, 0.0, 0.0), "gray": (55.0, 0.0, 0.0),
    "red": (50.0, 70.0, 50.0), "orange": (72.0, 35.0, 75.0), "yellow": (90.0, -5.0, 85.0),
    "green": (55.0, -55.0, 45.0), "blue": (40.0, 20.0, -70.0), "purple": (38.0, 55.0, -45.0),
    "pink": (75.0, 45.0, 0.0), "brown": (40.0, 20.0, 35.0),
}


# --- regions of images -----------------------------------------------------------------------

_MAX_SIDE = 128  # colour statistics on at most 128 px a side: enough, and fast on big photos


def _region_lab(rgb: Tensor, mask: Tensor | None) -> Tensor:
    """rgb ``(3, H, W)`` in [0, 1], mask ``(H, W)`` bool -> Lab of the masked pixels ``(N, 3)``."""
    if not isinstance(rgb, Tensor) or rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"rgb must be a (3, H, W) tensor, got {getattr(rgb, 'shape', rgb)}")
    if not rgb.is_floating_point():
        raise ValueError(f"rgb must be float in [0, 1], got {rgb.dtype}")
    H, W = rgb.shape[1:]
    if mask is not None:
        mask = torch.as_tensor(mask)
        if mask.shape != (H, W):
            raise ValueError(f"mask must have shape {(H, W)}, got {tuple(mask.shape)}")
        mask = mask.bool()
    scale = _MAX_SIDE / max(H, W)
    if scale < 1:
        # nearest sampling: averaging would invent colours at object borders
        size = (max(1, round(H * scale)), max(1, round(W * scale)))
        rgb = F.interpolate(rgb[None].float(), size=size, mode="nearest")[0]
        if mask is not None:
            mask = F.interpolate(mask[None, None].float(), size=size, mode="nearest")[0, 0] > 0.5
    lab = rgb_to_lab(rgb[None].float().clamp(0, 1))[0].permute(1, 2, 0)  # (h, w, 3)
    return lab[mask] if mask is not None else lab.reshape(-1, 3)


def color_fractions(rgb: Tensor, mask: Tensor | None = None) -> dict[str, float]:
    """Share of the region's pixels named by each term, largest first (terms with 0 left out).

    ``rgb``: ``(3, H, W)`` float in [0, 1]; ``mask``: ``(H, W)`` bool (None: the whole image).
    Raises ``ValueError`` when the mask selects no pixel.
    """
    lab = _region_lab(rgb, mask)
    if lab.shape[0] == 0:
        raise ValueError("the mask selects no pixel")
    counts = torch.bincount(color_term_indices(lab), minlength=len(COLOR_TERMS))
    shares = {COLOR_TERMS[i]: int(c) / lab.shape[0] for i, c in enumerate(counts) if c > 0}
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


# A chromatic term wins over a more frequent achromatic one (shadows, highlights, a gray
# background bleeding into a mask) when it covers at least this share of the region.
_CHROMATIC_SHARE = 0.3
_SECOND_SHARE = 0.2  # a caption names a second colour covering at least this share


def dominant_color_term(rgb: Tensor, mask: Tensor | None = None) -> str:
    """The colour term of a region: ``rgb (3, H, W)`` in [0, 1], ``mask (H, W)`` bool or None.

    The most frequent per-pixel term, except that a chromatic term covering >= 30% of the region
    beats a more frequent black / white / gray (a red apple with dark shadows is red).
    """
    return top_terms(color_fractions(rgb, mask), 1)[0]


def top_terms(shares: dict[str, float], n: int) -> list[str]:
    """Up to ``n`` terms for a region from its ``color_fractions``: the dominant one (as
    ``dominant_color_term`` picks it), then others covering >= 20% of the region."""
    chromatic = [t for t in shares if t in CHROMATIC_TERMS]
    first = next(iter(shares))
    if first not in CHROMATIC_TERMS and chromatic and shares[chromatic[0]] >= _CHROMATIC_SHARE:
        first = chromatic[0]
    terms = [first]
    for t, s in shares.items():
        if len(terms) >= n:
            break
        if t != first and s >= _SECOND_SHARE:
            terms.append(t)
    return terms


# --- text ------------------------------------------------------------------------------------


def colors_in_text(text: str) -> list[str]:
    """The basic colour terms a text names, in order of appearance (repeats kept).

    Synonyms map to their basic term (crimson -> red, navy -> blue, gold -> yellow,
    grey -> gray); modifiers such as "light" / "dark" are dropped; underscores split words, so
    CUB's ``"wing_color black"`` gives ``["black"]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [_TERM_OF_WORD[w] for w in _WORD.findall(text.lower()) if w in _TERM_OF_WORD]


def rewrite_color_words(text: str) -> str:
    """Colour words with a basic term and no common other sense, replaced by that term:
    ``"a Crimson bird with navy wings"`` -> ``"a red bird with blue wings"``; ``"a lemon tree"``
    stays (see ``NOUN_SENSES``). Everything else in the text is kept as it was."""
    return _REWRITE_RE.sub(lambda m: _REWRITE[m.group(1).lower()], text)


def is_color_word(word: str) -> bool:
    """Whether a lower-case word names a colour (a basic term or one of ``SYNONYMS``)."""
    return word in _TERM_OF_WORD


def hue_angle(term: str) -> float:
    """Hue angle (degrees, CIELAB) of a chromatic term's typical colour."""
    if term not in CHROMATIC_TERMS:
        raise ValueError(f"{term!r} has no hue; choose from {sorted(CHROMATIC_TERMS)}")
    _, a, b = _TYPICAL_LAB[term]
    return math.degrees(math.atan2(b, a)) % 360
