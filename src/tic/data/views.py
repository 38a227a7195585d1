"""Fixed training views for a generator with a frozen image encoder, recoloured on the fly.

With a frozen encoder the expensive half of a training step, the encoder's forward pass, depends
only on the gray image. So the training images are fixed once ("views": the photos squashed to the
working size as inference does, random square crops of them, their mirror images, and
multi-object scenes from ``tic.data.layouts``), the encoder's features are computed once per view
(``tic.train_frozen``), and what varies from step to step is the colour:

- a scene's objects are painted in the hue of a random basic term (``paint_region``: L kept, so
  the gray image and its features do not change) and the caption names every object by its label
  and its colour as measured on the turned pixels (``"a red camel and a blue bicycle"``, objects in
  random order, the background's colour sometimes added: ``"... on a green background"``);
- a photo's caption is made from its own pixels (``caption_image``: ``"a photo of a dog in brown
  and green"``);
- with ``empty_prob`` the text is empty and the view keeps its own colours, so the model also
  learns to colour without words (a repainted object whose colour no word names would teach it
  to guess random hues: the pink and orange blotches v3 put on photos without text).

Targets live at the decoder's output resolution (a quarter of the working size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from tic import color
from tic.color_names import color_fractions, dominant_color_term, hue_angle, top_terms
from tic.data.captions import article, caption_image, clean_label, join_and
from tic.data.composites import RECOLOR_TERMS
from tic.data.layouts import make_layout
from tic.data.manifest import Record
from tic.imageio import open_image


@dataclass
class ViewSet:
    """``N`` fixed views.

    - ``L``: ``(N, 1, S, S)`` in [-1, 1], the encoder's input (S = working size);
    - ``rgb``: ``(N, s, s, 3)`` float32 in [0, 1] at the output size s = S / 4;
    - ``masks``: per view, the objects' masks ``(k, s, s)`` bool (k = 0 for a photo);
    - ``labels``: per view, the objects' labels (photos: the photo's label or None);
    - ``texts``: per view, a photo's fixed caption, or None for a scene (made per draw);
    - ``names``: a short description of each view, for logs;
    - ``plain``: per view, whether it is a scene on a plain colour (whose background holds no
      objects; a photo or a scene on a photo crop may show objects nobody masked).
    """

    L: Tensor
    rgb: np.ndarray
    masks: list[np.ndarray] = field(default_factory=list)
    labels: list[list[str | None]] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    plain: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return self.L.shape[0]


def _square(img: Image.Image, size: int, box=None) -> np.ndarray:
    if box is not None:
        img = img.crop(box)
    return np.asarray(img.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255


def _small(rgb: np.ndarray, s: int) -> np.ndarray:
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    return F.interpolate(t, size=(s, s), mode="area")[0].permute(1, 2, 0).numpy().copy()


def _L(rgb: np.ndarray) -> Tensor:
    return color.normalize_l(color.rgb_to_l(torch.from_numpy(rgb).permute(2, 0, 1)[None]))


def build_views(
    photos: list[Record],
    cutouts: list[Record],
    size: int,
    n_scenes: int,
    crops_per_photo: int = 1,
    flip: bool = True,
    seed: int = 0,
    large_objects: float = 0.0,
) -> ViewSet:
    """Views of ``photos`` and ``n_scenes`` scenes of 1-3 ``cutouts`` on crops of the photos.

    A photo (a manifest record; ``extra["label"]`` is its noun, if any) gives its whole image
    squashed to ``size`` (as inference sees it) with its own text, plus ``crops_per_photo`` random
    square crops captioned from their pixels (``caption_image``, as ``tic caption`` does); with
    ``flip`` each also mirrored. Scenes: ``tic.data.layouts.make_layout`` with RGBA ``cutouts``
    (``extra["label"]`` names each object), captioned per draw (``draw``); ``large_objects``: the
    chance that a one-object scene's object fills the frame (``make_layout``'s ``large_prob``).
    """
    rng = np.random.default_rng(seed)
    s = size // 4
    Ls, rgbs, masks, labels, texts, names, plain = [], [], [], [], [], [], []

    def add(rgb, obj_masks, obj_labels, text, name, on_plain=False):
        Ls.append(_L(rgb))
        rgbs.append(_small(rgb, s))
        m = torch.from_numpy(obj_masks.astype(np.float32))[None]
        masks.append((F.interpolate(m, size=(s, s), mode="area")[0] > 0.5).numpy()
                     if len(obj_masks) else np.zeros((0, s, s), dtype=bool))
        labels.append(obj_labels)
        texts.append(text)
        names.append(name)
        plain.append(on_plain)

    no_objects = np.zeros((0, size, size), dtype=bool)
    for rec in photos:
        img = open_image(rec.image).convert("RGB")
        w, h = img.size
        label = clean_label(rec.extra.get("label"))
        boxes = [None]
        for _ in range(crops_per_photo):
            side = int(min(w, h) * rng.uniform(0.55, 1.0))
            x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            boxes.append((x, y, x + side, y + side))
        for box in boxes:
            rgb = _square(img, size, box)
            text = rec.text if box is None else None
            if text is None:
                text = caption_image(torch.from_numpy(rgb).permute(2, 0, 1), None, label)
            for mirrored in (False, True) if flip else (False,):
                view = rgb[:, ::-1].copy() if mirrored else rgb
                add(view, no_objects, [label], text, str(rec.id or rec.image))
    entries = [{"path": r.image, "label": r.extra.get("label"), "file": str(r.image)}
               for r in cutouts]
    backgrounds = [{"path": r.image, "file": str(r.image)} for r in photos]
    for i in range(n_scenes):
        layout = make_layout(rng, size, entries, backgrounds, 1 + int(rng.integers(3)),
                             large_prob=large_objects)
        add(layout.rgb, layout.masks, layout.labels, None, f"scene-{i}",
            layout.background == "plain")
    return ViewSet(torch.cat(Ls), np.stack(rgbs), masks, labels, texts, names, plain)


def paint_region(
    rgb: np.ndarray, mask: np.ndarray, term: str, rng: np.random.Generator
) -> np.ndarray:
    """``rgb`` ``(s, s, 3)`` with the pixels of ``mask`` painted in ``term``'s hue (+-10 degrees):
    every pixel gets that hue, its chroma is raised so the region's mean reaches 45 (by at most
    4x) and to at least 40, and L is kept (out-of-gamut colours lose chroma, not lightness).

    Unlike a hue rotation (``tic.data.composites.turn_hue``) this gives one clean colour even to
    a dull object, whose noisy low-chroma hues a rotation would scatter over the wheel."""
    lab = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0]
    m = torch.from_numpy(mask)
    chroma = torch.hypot(lab[1], lab[2])
    gain = min(4.0, max(1.0, 45.0 / max(float(chroma[m].mean()), 1e-6)))
    new_c = (chroma * gain).clamp_min(40.0)
    hue = np.radians(hue_angle(term) + rng.uniform(-10, 10))
    painted = torch.stack([lab[0], new_c * float(np.cos(hue)), new_c * float(np.sin(hue))])
    lab = torch.where(m, painted, lab)
    out = color.lab_to_rgb_in_gamut(lab[None])[0].permute(1, 2, 0).numpy()
    return np.where(mask[..., None], out, rgb).astype(np.float32)


def draw(
    views: ViewSet, index: int, rng: np.random.Generator, recolor_prob: float,
    empty_prob: float, background_prob: float = 0.5, paint_empty: bool = False,
    empty_scenes: bool = True,
) -> tuple[np.ndarray, str, list[tuple[str, np.ndarray]]]:
    """View ``index`` with fresh colours: ``(rgb (s, s, 3) float32, text, objects)`` (see module
    doc); ``objects``: the ``(label, mask)`` of each object the text names (none for a photo or
    an emptied text). ``paint_empty``: repaint (and draw as) before emptying the text, as v2 and v3
    were trained. ``empty_scenes``: scenes' texts may be emptied too (else only photos'; a
    scene's plain background has a random hue)."""
    rgb = views.rgb[index]
    masks = views.masks[index]
    text = views.texts[index]
    named = []
    if len(masks) and not empty_scenes:
        empty_prob = 0.0
    if not paint_empty and rng.random() < empty_prob:  # no words: the view's own colours
        return np.ascontiguousarray(rgb, dtype=np.float32), "", named
    if len(masks):
        phrases = []
        for mask, label in zip(masks, views.labels[index], strict=True):
            if not mask.any():
                continue
            if rng.random() < recolor_prob:
                term = RECOLOR_TERMS[int(rng.integers(len(RECOLOR_TERMS)))]
                rgb = paint_region(rgb, mask, term, rng)
            t = torch.from_numpy(rgb).permute(2, 0, 1)
            term = dominant_color_term(t, torch.from_numpy(mask))
            phrases.append(f"{article(term)} {term} {label}")
            named.append((label, mask))
        order = rng.permutation(len(phrases))
        text = join_and([phrases[k] for k in order])
        background = ~masks.any(0)
        if background.mean() > 0.2 and rng.random() < background_prob:
            t = torch.from_numpy(rgb).permute(2, 0, 1)
            bg = top_terms(color_fractions(t, torch.from_numpy(background)), 1)[0]
            text += f" on {article(bg)} {bg} background"
    if paint_empty and rng.random() < empty_prob:
        text, named = "", []
    return np.ascontiguousarray(rgb, dtype=np.float32), text or "", named


def batch_targets(rgbs: list[np.ndarray]) -> Tensor:
    """Drawn views' rgb -> target ab ``(B, 2, s, s)`` normalised to [-1, 1]."""
    rgb = torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2)
    return color.normalize_ab(color.rgb_to_lab(rgb)[:, 1:])
