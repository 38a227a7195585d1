"""Each named colour onto the object the text names: split the objects apart, then paint them.

A decoder that reads colour words and rough hints (``tic.grounding``) learned to follow one
colour but not to bind two: for "a pink umbrella and a blue girl" it painted both objects in the
first colour named, even when the hints were the objects' true masks (v6 in docs/HISTORY.md). So
binding is done at decoding, in three steps that each can be checked:

1. **Where the objects are** (class-agnostic): ``tic.models.ObjectHead``'s foreground
   probability at 1/4 of the working size, trained on the training scenes' masks.
2. **Which object is which** (``split_objects``): the foreground pixels (probability above a
   threshold: ``decoding.object_threshold``) of a text naming
   ``n`` objects are split into ``n`` groups by k-means on the encoder's features at 1/16 and 1/8
   and on the position (weighted ``SPATIAL_WEIGHT``), seeded at pixels far apart (so the groups do
   not depend on the order of the phrases). Each group is then classified as a whole: the encoder's
   1/32 features averaged over it (as the ImageNet classifier was trained: on features averaged
   over the picture) through the classifier, and ``log P(phrase | group) = log sum_k w_pk
   p_k(group)`` with each phrase's ImageNet classes ``w_p`` (``tic.grounding.class_weights``); the
   groups go to the phrases by the assignment with the largest sum. With
   ``decoding.person_faces``, a person named among other objects owns the foreground under the
   best face found on it (``face_body``). Deciding per group, not per
   pixel, is what makes this work: a noun that ImageNet barely knows ("a girl") loses every pixel
   to a noun it knows, but the known noun still picks its own group and leaves the other. With the
   true masks as the foreground this names both objects rightly in 81% of the training sources'
   binding scenes against 56% for the per-pixel class maps.
3. **Painting** (``paint_objects``): each group takes its phrase's colour, blended by the
   foreground probability: the named hue at the chroma the decoder gave, raised to at least
   ``PAINT_CHROMA`` (or the term's own chroma when lower: pink, brown); an achromatic term
   (black, white, gray) takes ab = 0. Lightness is the photo's, as always.

Only things are painted: a phrase whose noun is stuff around the objects ("green grass", "a
blue sky": ``tic.grounding.STUFF_NOUNS``), which the object head does not find, is left to the
decoder's hints (a model with ``text_encoder.free_text`` reads it as the palette:
``tic.text_hints``), as are the objects of a text when the head finds fewer foreground pixels than
objects. A text that names one object paints its whole foreground; a colour named for the background
("on a gray background") paints what is not an object; a text that names none (the empty text,
"a photo of a dog in green", read as a palette by ``text_encoder.photo_palette``) changes
nothing, and so does a text whose only colours are the background's or the picture's
(``tic.decoding.paint`` paints only texts that name an object). Where the object head finds no
object, the decoder's colours stay.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor

from tic.color import AB_SCALE
from tic.grounding import OBJECT, WHOLE

SPATIAL_WEIGHT = 10.0  # k-means: the (y, x) position in [0, 1] against unit-norm features
KMEANS_STEPS = 10
PAINT_CHROMA = 45.0  # ab units: the least chroma of a painted object (paint_region's mean)
ACHROMATIC = 10.0  # a term whose typical chroma is below this paints ab = 0
MAX_EXACT = 6  # up to this many objects the best assignment is found by trying all of them
GUIDE_RADIUS = 4  # guided filter (refine_owners): window 2r + 1 pixels of the working size
GUIDE_EPS = 1e-3  # its regulariser, in (L / 100)^2: edges of more contrast than ~0.03 are kept
# face_body (decoding.person_faces): a standing person's box in face widths from the face centre
BODY_HALF_WIDTH = 2.0  # to each side
BODY_ABOVE = 1.0  # up (the top of the head)
BODY_BELOW = 8.0  # down (about 7.5 heads make an adult's height)


def _kmeans(x: Tensor, centres: Tensor, steps: int = KMEANS_STEPS) -> Tensor:
    """Rows of ``x`` ``(n, d)`` -> their group ``(n,)`` after Lloyd steps from ``centres``."""
    for _ in range(steps):
        group = torch.cdist(x, centres).argmin(1)
        for k in range(len(centres)):
            members = x[group == k]
            if len(members):
                centres[k] = members.mean(0)
    return torch.cdist(x, centres).argmin(1)


def _farthest_points(x: Tensor, k: int) -> Tensor:
    """``k`` rows of ``x`` ``(n, d)`` spread out (the row farthest from the mean, then each time
    the row farthest from those taken): seeds that do not depend on the phrases' order."""
    taken = [int((x - x.mean(0)).norm(dim=1).argmax())]
    near = (x - x[taken[0]]).norm(dim=1)
    for _ in range(k - 1):
        taken.append(int(near.argmax()))
        near = torch.minimum(near, (x - x[taken[-1]]).norm(dim=1))
    return x[taken].clone()


def _best_assignment(score: Tensor) -> list[int]:
    """``score`` ``(groups, phrases)`` square -> phrase of each group maximising the sum
    (every permutation up to ``MAX_EXACT``, greedily above)."""
    n = score.shape[0]
    if n <= MAX_EXACT:
        perms = torch.tensor(list(itertools.permutations(range(n))))
        totals = score[torch.arange(n), perms].sum(1)
        return perms[int(totals.argmax())].tolist()
    out, free_g, free_p = [0] * n, set(range(n)), set(range(n))
    for _ in range(n):
        g, p = max(((g, p) for g in free_g for p in free_p), key=lambda gp: score[gp])
        out[g] = p
        free_g.discard(g)
        free_p.discard(p)
    return out


def class_logp(pooled: Tensor, classifier: tuple[Tensor, Tensor]) -> Tensor:
    """Averaged 1/32 features ``pooled`` ``(G, C)`` through the ImageNet ``classifier`` ``(W, b)``
    -> log-probabilities ``(G, 1000)``."""
    W, bias = classifier
    return (pooled @ W.to(pooled.dtype).T + bias.to(pooled.dtype)).log_softmax(1)


def _pooled_logp(deep: Tensor, regions: Tensor, classifier: tuple[Tensor, Tensor]) -> Tensor:
    """ImageNet log-probabilities ``(G, 1000)`` of each of ``regions`` ``(G, h, w)`` bool: the
    1/32 features ``deep`` ``(C, h', w')`` averaged over the region (area-weighted) through
    the ``classifier``."""
    area = F.adaptive_avg_pool2d(regions[:, None].to(deep.dtype), deep.shape[-2:])  # (G, 1, h', w')
    pooled = (deep[None] * area).sum((2, 3)) / area.sum((2, 3)).clamp_min(1e-6)  # (G, C)
    return class_logp(pooled, classifier)


def _log_likelihood(logp: Tensor, weights: Tensor) -> Tensor:
    """``log P(phrase | group)`` ``(G, k)`` from the groups' class log-probabilities ``logp``
    ``(G, 1000)`` and each phrase's classes ``weights`` ``(k, 1000)``: ``log sum_c w_c p_c``
    (exact even where every ``p_c`` is far below float precision)."""
    return (weights.to(logp.dtype).log()[None] + logp[:, None]).logsumexp(2)


def cluster_looks(feats: list[Tensor], size: tuple[int, int], dtype: torch.dtype) -> Tensor:
    """What the object split's k-means clusters besides the position: the encoder's features at
    1/16 and 1/8 (``feats[1]``, ``feats[2]``, deepest first) at ``size``, each unit-norm per
    pixel, together unit-norm -> ``(B, d, h, w)``."""
    parts = [F.normalize(F.interpolate(f.to(dtype), size=size, mode="bilinear",
                                       align_corners=False), dim=1) for f in feats[1:3]]
    return torch.cat(parts, 1) / len(parts) ** 0.5


def _kmeans_regions(x: Tensor, fg: Tensor, k: int) -> Tensor:
    """Pixels ``x`` ``(h * w, d)`` (features and position), foreground ``fg`` ``(h, w)`` bool ->
    ``k`` k-means groups of the foreground ``(k, h, w)`` bool, seeded far apart."""
    h, w = fg.shape
    on = fg.flatten()
    group = _kmeans(x[on], _farthest_points(x[on], k))
    full = torch.full((h * w,), -1, dtype=torch.long)
    full[on] = group
    return full.view(1, h, w) == torch.arange(k).view(k, 1, 1)


def split_objects(
    prob: Tensor, kind: Tensor, feats: list[Tensor], weights: Tensor,
    classifier: tuple[Tensor, Tensor], threshold: float, faces: list[Tensor] | None = None,
    persons: Tensor | None = None,
) -> Tensor:
    """Which pixels each object phrase owns.

    ``prob`` ``(B, 1, h, w)``: foreground probability (``ObjectHead``); ``kind`` ``(B, P)``
    (``tic.grounding.encode_objects``); ``feats``: the encoder's features deepest first
    (``feats[1]`` at 1/16 and ``feats[2]`` at 1/8 are clustered, ``feats[0]`` pooled over each
    group and classified); ``weights`` ``(B, P, 1000)``: each phrase's ImageNet classes
    (``tic.grounding.class_weights``); ``classifier``: the ImageNet classifier ``(W, b)``;
    ``threshold``: the foreground probability from which a pixel is an object's
    (``decoding.object_threshold``) -> ``(B, P, h, w)``: the foreground probability on the pixels
    each object phrase owns, 0 elsewhere; the first phrase of the background or the whole
    picture ("on a gray background") owns one minus it everywhere; palettes own nothing (see the
    module doc).

    ``faces`` (None: off; ``decoding.person_faces``): per image the faces ``(N, 5)`` of
    ``tic.faces.detect_faces``; ``persons`` ``(B, P)`` bool: the phrases whose noun names people
    (``tic.grounding.person_share``). For a text naming two or more objects of which exactly one
    names people, with a face on the foreground, that phrase owns ``face_body``'s region and the
    other phrases split the rest of the foreground as usual (one other phrase: all of it).
    """
    B, P = kind.shape
    h, w = prob.shape[-2:]
    owners = prob.new_zeros(B, P, h, w)
    if P == 0:
        return owners
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    where = SPATIAL_WEIGHT * torch.stack([yy, xx]).to(prob.dtype)  # (2, h, w)
    looks = cluster_looks(feats, (h, w), prob.dtype)  # what k-means clusters besides the position

    def kmeans_split(b: int, mask: Tensor, phrases: list[int]) -> None:
        """Split ``mask`` into a k-means group per phrase, each group classified and given to
        the phrase it fits (the best assignment)."""
        regions = _kmeans_regions(torch.cat([looks[b], where]).flatten(1).T, mask, len(phrases))
        logp = _pooled_logp(feats[0][b], regions, classifier)
        score = _log_likelihood(logp, weights[b, phrases])  # (groups, phrases)
        for g, j in enumerate(_best_assignment(score)):  # disjoint groups
            owners[b, phrases[j]] += prob[b, 0] * regions[g]

    for b in range(B):
        whole = (kind[b] == WHOLE).nonzero().flatten().tolist()
        if whole:  # "on a gray background": the first such phrase owns what is not an object
            owners[b, whole[0]] = 1 - prob[b, 0]
        phrases = (kind[b] == OBJECT).nonzero().flatten().tolist()
        fg = (prob[b, 0] > threshold).flatten()
        if not phrases or int(fg.sum()) < len(phrases):
            continue
        if len(phrases) == 1:
            owners[b, phrases[0]] = prob[b, 0] * fg.view(h, w)
            continue
        who = [j for j in phrases if persons is not None and bool(persons[b, j])]
        if faces is not None and len(who) == 1:
            body = face_body(faces[b], fg.view(h, w))
            rest = fg.view(h, w) & ~body
            others = [j for j in phrases if j != who[0]]
            if body.any() and int(rest.sum()) >= len(others):
                owners[b, who[0]] = prob[b, 0] * body
                if len(others) == 1:
                    owners[b, others[0]] = prob[b, 0] * rest
                else:
                    kmeans_split(b, rest, others)
                continue
        kmeans_split(b, fg.view(h, w), phrases)
    return owners


def face_body(faces: Tensor, fg: Tensor) -> Tensor:
    """``faces`` ``(N, 5)`` (``tic.faces.detect_faces``: score, centre x, y, width, height as
    fractions, best first), ``fg`` ``(h, w)`` bool -> ``(h, w)`` bool: the foreground inside the
    box of a standing person under the best face whose centre lies on the foreground (or next to
    it): ``BODY_HALF_WIDTH`` face widths to each side, ``BODY_ABOVE`` up and ``BODY_BELOW``
    down; all False when no face lies on the foreground (a face in the background photo is not
    the named person's)."""
    h, w = fg.shape
    near = F.max_pool2d(fg[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
    for _, cx, cy, fw, _ in faces.tolist():
        x, y = min(int(cx * w), w - 1), min(int(cy * h), h - 1)
        if not (0 <= cx < 1 and 0 <= cy < 1 and near[y, x]):
            continue
        xs = torch.arange(w, dtype=torch.float32)[None, :] + 0.5
        ys = torch.arange(h, dtype=torch.float32)[:, None] + 0.5
        s = fw * w  # the face's width in pixels of this grid (the working picture is square)
        box = ((xs - cx * w).abs() <= BODY_HALF_WIDTH * s) & (ys >= cy * h - BODY_ABOVE * s) \
            & (ys <= cy * h + BODY_BELOW * s)
        return fg & box
    return torch.zeros_like(fg)


def _box(x: Tensor, r: int) -> Tensor:
    """The mean over a (2r + 1)^2 window (fewer pixels at the borders), as two 1-D passes."""
    k = 2 * r + 1
    x = F.avg_pool2d(x, (1, k), stride=1, padding=(0, r), count_include_pad=False)
    return F.avg_pool2d(x, (k, 1), stride=1, padding=(r, 0), count_include_pad=False)


def refine_owners(owners: Tensor, guide: Tensor, r: int = GUIDE_RADIUS,
                  eps: float = GUIDE_EPS) -> Tensor:
    """``owners`` ``(B, P, h, w)`` at 1/4 -> ``(B, P, H, W)`` at the size of ``guide``
    ``(B, 1, H, W)`` (L / 100, the gray image at the working size), their edges moved onto the
    gray image's edges by a guided filter (He et al., ECCV 2010: in every window the output is
    an affine function of the guide), so a painted colour stops at the object's outline instead
    of a 1/4-size blur around it; at most 1 in sum over the phrases."""
    p = F.interpolate(owners, size=guide.shape[-2:], mode="bilinear", align_corners=False)
    mean_i, mean_p = _box(guide, r), _box(p, r)
    var_i = _box(guide * guide, r) - mean_i * mean_i
    a = (_box(guide * p, r) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    q = (_box(a, r) * guide + _box(b, r)).clamp(0, 1)
    return q / q.sum(1, keepdim=True).clamp_min(1)


def paint_objects(ab: Tensor, owners: Tensor, obj_ab: Tensor) -> Tensor:
    """``ab`` ``(B, 2, h, w)`` normalised (the decoder's), ``owners`` ``(B, P, h, w)``
    (``split_objects``), ``obj_ab`` ``(B, P, 2)`` each phrase's named colour (normalised, the
    term's typical ab: ``tic.grounding.encode_objects``) -> ``ab`` with every owned pixel moved,
    by its owner's weight, to its phrase's colour (see the module doc)."""
    if owners.shape[1] == 0:
        return ab
    ref = obj_ab.to(ab.dtype) * AB_SCALE  # (B, P, 2), ab units
    ref_c = ref.norm(dim=-1, keepdim=True)  # (B, P, 1)
    hue = ref / ref_c.clamp_min(1e-6)
    chroma = (ab * AB_SCALE).norm(dim=1, keepdim=True)  # (B, 1, h, w)
    floor = ref_c.clamp(max=PAINT_CHROMA)[..., None]  # (B, P, 1, 1)
    c = torch.maximum(chroma, floor)  # (B, P, h, w)
    c = torch.where(ref_c[..., None] < ACHROMATIC, torch.zeros_like(c), c)
    target = hue[..., None, None] * c[:, :, None] / AB_SCALE  # (B, P, 2, h, w)
    weight = owners[:, :, None]  # (B, P, 1, h, w); the owners do not overlap
    return ab + (weight * (target - ab[:, None])).sum(1)
