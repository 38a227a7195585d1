"""Where the text's objects are: ImageNet class activation maps matched to the nouns of the text.

A colour word is only useful if the model knows which pixels it is about. The frozen MobileNetV2
encoder already knows 1000 ImageNet classes: its classifier (a linear layer on the 1280 features
of ``features[18]``) applied at every position of the 1/32 feature map gives class scores per
position (a class activation map, Zhou et al., CVPR 2016). The text says which classes matter:
each noun phrase's words ("umbrella" in "a pink umbrella and a blue girl") are embedded by MiniLM
and compared with the embeddings of the 1000 class names; its ``TOP_K`` nearest classes, weighted
by a softmax of their similarities, pick the class probabilities whose sum is the phrase's map.
Nothing here is trained on tic's data, so it reaches nouns that no training caption used.

``hint_maps`` turns the maps into three channels: the named colour's ``a``, ``b`` (Lab,
normalised) weighted by where the phrase is, and the weight itself. The decoder
(``tic.models.EncoderUNet`` with ``grounding: true``) reads them at every level and learns how far
to trust them and where the object's edges are. Phrases compete for positions (a softmax across
phrases), so "a pink umbrella and a blue girl" gives each position mostly one colour. Phrases
whose noun is the whole picture or its background ("a photo", "on a green background") cover what
the object phrases do not.

The class maps are coarse (1/32) and know no "person": ImageNet has no class for people, and
MiniLM matches "a photo of a man" to "mantis" and "a woman" to "breastplate". With
``person_nouns`` (``decoding.person_nouns``), ``PERSON_NOUNS`` join the class names as extra
rows of the similarity table, each spread evenly over ``PERSON_CLASSES`` (what people wear, and
the three classes that are people): "a man jumping" (0.69 to "man", 0.58 to "parachute") then
reads the classifier's evidence for a person.

The assets (``assets/backbones/imagenet_classes.safetensors``: the classifier of torchvision's
MobileNetV2 and MiniLM embeddings of the class names) are written by
``scripts/convert_imagenet_classes.py``.
"""

from __future__ import annotations

import functools
import json

import torch
from torch import Tensor

from tic.backbones import assets_dir
from tic.color import AB_SCALE, normalize_ab
from tic.color_names import term_lab
from tic.errors import TicError
from tic.text_minilm import PICTURE_NOUNS, text_phrases

ASSET = "imagenet_classes.safetensors"
TOP_K = 3  # classes per noun
SIMILARITY_TEMPERATURE = 0.02  # softmax over the TOP_K cosine similarities
COMPETITION_TEMPERATURE = 0.1  # softmax across phrases at each position
CLASS_PROMPT = "a photo of a {}"
WHOLE_NOUNS = frozenset({"background", "backdrop", "photo", "photograph", "picture", "image",
                         "scene", "everything", "all"})  # fmt: skip
MAX_PHRASES = 8
PALETTE_WIDTH = 15.0  # ab units: how far around a palette colour palette_prior reaches
PALETTE_MIN_CHROMA = 10.0  # ab units: palette colours below this (gray, black, white) have no hue
NOUN_DIM = 384  # MiniLM's sentence vectors
# Nouns that name people, matched like class names (class_weights' person_nouns); not "baby" or
# "kid" ("a baby gnu" is nearer "baby" than any class, a kid is also a goat)
PERSON_NOUNS = ("man", "men", "woman", "women", "boy", "boys", "girl", "girls", "child",
                "children", "person", "people", "lady", "gentleman", "dancer", "player",
                "athlete", "skater", "rider", "runner", "surfer", "swimmer", "singer", "musician",
                "soldier", "bride", "student", "worker", "tourist", "family", "couple")  # fmt: skip
PERSON_SHARE = 0.5  # a phrase names people when more than this share of its weights is theirs
# ImageNet classes that show a person: what people wear, and the classes that are people
PERSON_CLASSES = ("abaya", "academic gown", "apron", "bikini", "bow tie", "bra",
                  "bulletproof vest", "cardigan", "cloak", "cowboy hat", "fur coat", "gown",
                  "hoop skirt", "jeans", "T-shirt", "kimono", "lab coat", "tank suit",
                  "military uniform", "miniskirt", "overskirt", "pajamas", "poncho", "sarong",
                  "sombrero", "suit", "sweatshirt", "swimsuit", "trench coat", "vestment",
                  "Windsor tie", "bridegroom", "scuba diver", "baseball player")  # fmt: skip
# Nouns of stuff around the objects rather than things (mass nouns and plurals of scenery): a
# phrase that names one is a STUFF phrase, which hints like an object (hint_maps) but is not
# painted on the object head's foreground (tic.binding): "a gray windmill on green grass".
STUFF_NOUNS = frozenset({
    "grass", "lawn", "meadow", "field", "fields", "sky", "clouds", "water", "sea", "ocean",
    "lake", "river", "waves", "trees", "forest", "woods", "leaves", "foliage", "bushes", "hills",
    "mountains", "ground", "soil", "dirt", "mud", "sand", "beach", "snow", "ice", "road",
    "street", "pavement", "floor", "wall", "walls", "ceiling", "fog", "smoke",
})  # fmt: skip
OBJECT, WHOLE, PALETTE, STUFF = 1, 2, 3, 4  # phrase kinds (0: padding)


@functools.lru_cache(maxsize=1)
def load_classes() -> dict[str, Tensor]:
    """``weight`` (1000, 1280), ``bias`` (1000,), ``names`` (1000, 384) float32; ``persons``
    (len(PERSON_NOUNS), 384): the vectors of ``PERSON_NOUNS``; ``person_classes`` (1000,):
    ``1 / len(PERSON_CLASSES)`` on ``PERSON_CLASSES``, else 0 (a person noun's weight spread
    evenly over them)."""
    from safetensors import safe_open

    path = assets_dir() / ASSET
    if not path.is_file():
        raise TicError(f"{path} is missing from this installation of tic "
                       "(rebuild it with scripts/convert_imagenet_classes.py)")
    with safe_open(str(path), "pt") as f:
        out = {k: f.get_tensor(k).float() for k in f.keys()}
        meta = f.metadata()
    if json.loads(meta.get("person_nouns", "[]")) != list(PERSON_NOUNS):
        raise TicError(f"{path} does not hold tic.grounding.PERSON_NOUNS' vectors "
                       "(rebuild it with scripts/convert_imagenet_classes.py)")
    names = json.loads(meta["class_names"])
    out["person_classes"] = torch.zeros(len(names))
    out["person_classes"][[names.index(c) for c in PERSON_CLASSES]] = 1.0 / len(PERSON_CLASSES)
    return out


def text_objects(text: str, photo_palette: bool = False) -> list[tuple[str, str, int]]:
    """The phrases of ``text`` that name a colour: ``(noun words, first colour term, kind)``.

    ``kind`` is ``WHOLE`` when the phrase's noun is the picture or its background, ``STUFF``
    when it is one of ``STUFF_NOUNS`` (grass, sky, water), else ``OBJECT``. With
    ``photo_palette`` (``tic.text_minilm.text_phrases``) the colours of "a photo of a dog in
    green and gray" are the photo's leading colours, spread over it in unknown places:
    their phrase is a ``PALETTE``, which gives no hint (``hint_maps``) but still counts as naming
    colours. At most ``MAX_PHRASES``, in the text's order.
    """
    out = []
    for _, _, colours, words in text_phrases(text, photo_palette):
        if not colours:
            continue
        if photo_palette and words and words[-1] in PICTURE_NOUNS:
            kind = PALETTE
        else:
            kind = (WHOLE if not words or words[-1] in WHOLE_NOUNS
                    else STUFF if words[-1] in STUFF_NOUNS else OBJECT)
        out.append((" ".join(words), colours[0], kind))
    return out[:MAX_PHRASES]


def palette_terms(text: str, photo_palette: bool = False) -> list[str]:
    """Every colour term of the text's ``PALETTE`` phrases (``text_objects`` keeps only each
    phrase's first): ``"a photo of a dog in green and gray"`` -> ``["green", "gray"]``."""
    if not photo_palette:
        return []
    return [c for _, _, colours, words in text_phrases(text, photo_palette)
            if colours and words and words[-1] in PICTURE_NOUNS for c in colours]


def class_weights(noun_vectors: Tensor, person_nouns: bool = False) -> Tensor:
    """``(..., 384)`` L2-normalised noun embeddings -> ``(..., 1000)`` weights over ImageNet classes
    (the ``TOP_K`` most similar class names, softmax of similarity / temperature). With
    ``person_nouns`` the ``PERSON_NOUNS`` are rows of the table too, each one's weight spread
    evenly over ``PERSON_CLASSES`` (see the module doc)."""
    w = _table_weights(noun_vectors, person_nouns)
    if not person_nouns:
        return w
    classes = load_classes()
    n = classes["names"].shape[0]
    return w[..., :n] + w[..., n:].sum(-1, keepdim=True) * classes["person_classes"].to(w.dtype)


def _table_weights(noun_vectors: Tensor, person_nouns: bool) -> Tensor:
    """``(..., 384)`` -> ``(..., rows)``: the softmax over each noun's ``TOP_K`` most similar rows
    of the class-name table (with ``person_nouns``, ``PERSON_NOUNS`` as rows after the 1000)."""
    classes = load_classes()
    table = torch.cat([classes["names"], classes["persons"]]) if person_nouns else classes["names"]
    sim = noun_vectors @ table.T  # cosine: both sides are L2-normalised
    top = sim.topk(TOP_K, dim=-1)
    return torch.zeros_like(sim).scatter_(
        -1, top.indices, (top.values / SIMILARITY_TEMPERATURE).softmax(-1))


def person_share(noun_vectors: Tensor) -> Tensor:
    """``(..., 384)`` L2-normalised noun embeddings -> ``(...,)`` the share of each noun's
    ``class_weights(..., person_nouns=True)`` that falls on ``PERSON_NOUNS`` rather than on class
    names: 1 for "a man", 0 for "a giraffe", 0 for zero vectors (the whole picture, padding)."""
    share = _table_weights(noun_vectors, True)[..., load_classes()["names"].shape[0]:].sum(-1)
    return torch.where(noun_vectors.abs().sum(-1) > 0, share, torch.zeros_like(share))


def encode_objects(
    texts: list[str], embed, photo_palette: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Per text, its colour-naming phrases as fixed-size tensors (P = most phrases in a text):
    ``nouns`` ``(B, P, 384)`` the MiniLM vector of each object phrase's noun in
    ``CLASS_PROMPT`` (zero for the whole picture and padding), ``ab`` ``(B, P, 2)`` the named
    colour (normalised Lab ab) and ``kind`` ``(B, P)`` (0 padding, ``OBJECT``, ``WHOLE``,
    ``STUFF``, ``PALETTE``; ``photo_palette``: see ``text_objects``; a palette's colours after
    its first are rows of their own, ``palette_terms``).

    ``embed(list[str]) -> (n, 384)`` gives L2-normalised sentence vectors (MiniLM's).
    """
    found = [text_objects(t, photo_palette) for t in texts]
    for f, t in zip(found, texts, strict=True):  # a palette's other colours, as PALETTE rows
        f += [("", term, PALETTE) for term in palette_terms(t, photo_palette)[1:]]
        del f[MAX_PHRASES:]
    P = max((len(f) for f in found), default=0)
    nouns = torch.zeros(len(texts), P, NOUN_DIM)
    ab = torch.zeros(len(texts), P, 2)
    kind = torch.zeros(len(texts), P)
    words = sorted({n for f in found for n, _, k in f if k in (OBJECT, STUFF)})
    # all nouns in one call, in a fixed order: a text's vectors depend only on its nouns (padding
    # changes float sums a little, and a resumed training run must repeat an unbroken one)
    vec = dict(zip(words, embed([CLASS_PROMPT.format(n) for n in words]), strict=True)) \
        if words else {}
    for i, phrases in enumerate(found):
        for j, (noun, term, k) in enumerate(phrases):
            if k in (OBJECT, STUFF):
                nouns[i, j] = vec[noun]
            ab[i, j] = term_ab(term)
            kind[i, j] = k
    return nouns, ab, kind


def term_ab(term: str) -> Tensor:
    """A colour term's typical colour (``term_lab``) as normalised ab ``(2,)``."""
    return normalize_ab(torch.tensor(term_lab(term)[1:]).view(1, 2, 1, 1)).flatten()


def palette_prior(centers: Tensor, ab: Tensor, kind: Tensor, strength: float,
                  width: float = PALETTE_WIDTH) -> Tensor:
    """Log-weights ``(B, Q, 1, 1)`` added to the bins head's logits for a text that names the
    picture's colours without placing them (``PALETTE`` phrases: ``tic caption``'s "a photo of a
    dog in green and gray"): ``log(1 + strength * sum_k exp(-|c - ab_k|^2 / (2 width^2)))`` over
    the palette's colours ``ab_k``, so where the head already finds a named colour plausible it
    is chosen more often; elsewhere (and for texts without a palette: zeros) nothing changes.
    ``centers`` ``(Q, 2)`` natural ab units, ``ab`` ``(B, P, 2)`` normalised, ``kind``
    ``(B, P)``."""
    named = (kind == PALETTE).to(centers.dtype)  # (B, P)
    d2 = (centers[None, :, None] - ab[:, None].to(centers.dtype) * AB_SCALE).square().sum(-1)
    near = (torch.exp(-d2 / (2 * width**2)) * named[:, None]).sum(-1)  # (B, Q)
    return torch.log1p(strength * near)[..., None, None]


def palette_hue_weight(ab: Tensor, palette_ab: Tensor, kind: Tensor, width_deg: float,
                       skip: tuple[str, ...] = ()) -> Tensor:
    """How near each pixel's hue is to a hue the palette names: ``(B, 1, h, w)`` in [0, 1],
    ``max_k exp(-dh_k^2 / (2 width_deg^2))`` over the text's ``PALETTE`` colours with chroma at
    least ``PALETTE_MIN_CHROMA`` and not one of the colour terms ``skip`` (``dh_k``: the hue
    angle between the pixel's ``ab`` and colour ``k``'s, in degrees); zeros for a text without
    such a colour. ``ab`` ``(B, 2, h, w)`` and ``palette_ab`` ``(B, P, 2)`` normalised (a term's
    colour is ``term_lab``'s, as ``encode_objects`` gives it), ``kind`` ``(B, P)``."""
    ab = ab.float()
    palette_ab = palette_ab.float()
    if palette_ab.shape[1] == 0:  # a batch of texts without phrases
        return ab.new_zeros(ab.shape[0], 1, *ab.shape[2:])
    named = (kind == PALETTE) & (palette_ab.norm(dim=-1) * AB_SCALE >= PALETTE_MIN_CHROMA)
    for term in skip:
        named &= (palette_ab - term_ab(term).to(palette_ab)).abs().amax(-1) > 1e-4
    hue = torch.atan2(ab[:, 1], ab[:, 0])[:, None]  # (B, 1, h, w)
    named_hue = torch.atan2(palette_ab[..., 1], palette_ab[..., 0])[..., None, None]  # (B, P, 1, 1)
    d = hue - named_hue
    d = torch.rad2deg(torch.atan2(torch.sin(d), torch.cos(d)))
    near = torch.exp(-d.square() / (2 * width_deg**2)) * named[..., None, None]
    return near.amax(1, keepdim=True)


def object_maps(feat: Tensor, weights: Tensor, classifier: tuple[Tensor, Tensor]) -> Tensor:
    """``feat`` ``(B, 1280, h, w)`` (``features[18]``), ``weights`` ``(B, P, 1000)`` ->
    ``(B, P, h, w)``: each phrase's summed class probabilities, divided by its image maximum."""
    W, b = classifier
    probs = (torch.einsum("bchw,kc->bkhw", feat, W) + b[None, :, None, None]).softmax(1)
    maps = torch.einsum("bpk,bkhw->bphw", weights, probs)
    return maps / maps.amax((2, 3), keepdim=True).clamp_min(1e-8)


def class_maps(feat: Tensor, nouns: Tensor, classifier: tuple[Tensor, Tensor]) -> Tensor:
    """``feat`` ``(B, 1280, h, w)``, ``nouns`` ``(B, P, 384)`` -> ``(B, P, h, w)`` in [0, 1]: each
    noun's ``TOP_K`` ImageNet classes' activation map (``class_weights``, ``object_maps``)."""
    return object_maps(feat, class_weights(nouns.float()).to(feat.dtype), classifier)


def hint_maps(maps: Tensor, ab: Tensor, kind: Tensor) -> Tensor:
    """``maps`` ``(B, P, h, w)`` in [0, 1]: where each phrase's object is (``class_maps``) -> ``(B, 3, h, w)``: ``(a * s, b * s, s)`` summed over
    the phrases, ``s`` each phrase's share of a position (objects: its map times its softmax
    share across object phrases; the whole / background: what the objects leave, ``1 - max`` of
    their maps)."""
    B, P, h, w = maps.shape
    if P == 0:
        return maps.new_zeros(B, 3, h, w)
    obj = ((kind == OBJECT) | (kind == STUFF))[:, :, None, None]
    maps = maps * obj
    share = maps * (maps / COMPETITION_TEMPERATURE).masked_fill(~obj, -1e4).softmax(1)
    rest = 1 - maps.amax(1, keepdim=True)  # (B, 1, h, w); 1 where no object phrase
    share = torch.where((kind == WHOLE)[:, :, None, None], rest.expand_as(share), share)
    colour = torch.einsum("bphw,bpc->bchw", share, ab.to(maps.dtype))
    return torch.cat([colour, share.sum(1, keepdim=True).clamp(max=1)], dim=1)
