"""Colour captions made from an image's own pixels: ``"a red apple on a blue background"``.

The colours are named by ``tic.color_names`` (the eleven basic terms). Functions:

- ``caption_image(rgb, mask, label)`` -> e.g. ``"a red apple on a blue background"``;
- ``caption_file(image, mask, label)``: the same for an image file (``tic.imageio.read_rgb``: its
  mask file, else its alpha channel, separates object and background);
- ``caption_from_terms`` and ``clean_label``, the pieces.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from tic.color_names import color_fractions, is_color_word, top_terms
from tic.imageio import read_rgb


def clean_label(label: str | None) -> str | None:
    """A manifest label as a noun phrase without article, full stop or colour words.

    ``'A great blue heron.'`` -> ``'great heron'``: colour words are dropped so the caption's only
    colours are those measured on the pixels. A label made of colour words only names a thing
    ("orange", "rose", "lavender") and is kept as it is (``colors_in_text`` of the caption then
    finds that word too). Returns None for an empty label.
    """
    if not label:
        return None
    words = re.findall(r"[a-z][a-z'-]*", label.lower())
    while words and words[0] in ("a", "an", "the", "some"):
        words = words[1:]
    kept = [w for w in words if not is_color_word(w)]
    return " ".join(kept or words) or None


def article(word: str) -> str:
    """``"a"`` or ``"an"`` before ``word``."""
    return "an" if word[:1] in "aeiou" else "a"


def join_and(terms: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " and " + terms[-1]


def caption_from_terms(
    object_terms: list[str], background_terms: list[str] | None = None, label: str | None = None
) -> str:
    """``(["red"], ["blue"], "apple")`` -> ``"a red apple on a blue background"``.

    Without background terms the colours are the whole photo's: ``"a photo of an apple in red
    and green"`` (no article before a plural-looking label: ``"a photo of camels in brown"``), or
    without a label ``"a photo in blue and green"``. With a background but no label the object is
    called "object".
    """
    if not object_terms:
        raise ValueError("need at least one colour term for the object")
    colours = join_and(object_terms)
    if background_terms:
        noun = label or "object"
        bg = join_and(background_terms)
        return f"{article(colours)} {colours} {noun} on {article(bg)} {bg} background"
    if label:
        plural = label.endswith("s") and not label.endswith("ss")
        thing = label if plural else f"{article(label)} {label}"
        return f"a photo of {thing} in {colours}"
    return f"a photo in {colours}"


def caption_image(
    rgb: Tensor, mask: Tensor | None = None, label: str | None = None, max_terms: int = 2
) -> str:
    """A colour caption from an image's own pixels.

    ``rgb``: ``(3, H, W)`` in [0, 1]; ``mask``: ``(H, W)`` bool object mask or None; ``label``: the
    object's name (cleaned by ``clean_label``). With a mask that leaves both object and background
    pixels: ``"a red apple on a blue background"``; otherwise ``"a photo of an apple in red and
    green"`` (up to ``max_terms`` colours; the ones after the first cover >= 20% each).
    """
    label = clean_label(label)
    if mask is not None:
        mask = torch.as_tensor(mask).bool()
        n_obj = int(mask.sum())
        if 0 < n_obj < mask.numel():
            obj = top_terms(color_fractions(rgb, mask), max_terms)
            bg = top_terms(color_fractions(rgb, ~mask), 1)
            return caption_from_terms(obj, bg, label)
    return caption_from_terms(top_terms(color_fractions(rgb, None), max_terms), None, label)


def caption_file(image, mask=None, label: str | None = None) -> str:
    """``caption_image`` for an image file; its mask file, else its alpha channel, separates object
    and background (``tic.imageio.read_rgb``: one mask rule, > 127 of 255)."""
    rgb, m = read_rgb(image, mask)
    return caption_image(rgb, m, label)
