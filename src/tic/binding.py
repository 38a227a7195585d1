"""Each named colour onto the object the text names: split the objects apart, then paint them.

A decoder that reads colour words and rough hints (``tic.grounding``) learned to follow one
colour but not to bind two: for "a pink umbrella and a blue girl" it painted both objects in the
first colour named, even when the hints were the objects' true masks (MODEL_CARD.md, v6). So
binding is done at decoding, in three steps that each can be checked:

1. **Where the objects are** (class-agnostic): ``tic.models.ObjectHead``'s foreground
   probability at 1/4 of the working size, trained on the training scenes' masks.
2. **Which object is which** (``split_objects``): the foreground pixels (probability above a
   threshold: ``generator.object_threshold``, ``SPLIT_THRESHOLD`` by default) of a text naming
   ``n`` objects are split into ``n`` groups by k-means on the encoder's features at 1/16 and 1/8
   and on the position (weighted ``SPATIAL_WEIGHT``), seeded at pixels far apart (so the groups do
   not depend on the order of the phrases). Each group is then classified as a whole: the encoder's
   1/32 features averaged over it (as the ImageNet classifier was trained: on features averaged
   over the picture) through the classifier, and ``log P(phrase | group) = log sum_k w_pk
   p_k(group)`` with each phrase's ImageNet classes ``w_p`` (``tic.grounding.class_weights``); the
   groups go to the phrases by the assignment with the largest sum. With
   ``generator.group_crops`` a group is classified instead on its own picture
   (``group_crops``): the gray input around the group, everything else mid-gray, through the
   encoder again: the 1/32 features of the whole picture see both objects and the background,
   so their average over a group mixes them. With an instance head
   (``generator.instance_dim``: ``tic.models.InstanceHead``) the k-means runs on its embedding,
   trained so that one object's pixels lie together, and the position, instead. With
   ``generator.split_ranker`` the split of a text naming two objects is instead chosen among
   candidates (``split_candidates``: k-means into 2-5 groups at two position weights, the phrases
   on any two of the groups) by a linear score of what each candidate's groups look like and how
   well they fit the phrases. Deciding per group, not per
   pixel, is what makes this work: a noun that ImageNet barely knows ("a girl") loses every pixel
   to a noun it knows, but the known noun still picks its own group and leaves the other. With the
   true masks as the foreground this names both objects rightly in 81% of the training sources'
   binding scenes against 56% for the per-pixel class maps (``benchmarks/grounding_maps.py``).
3. **Painting** (``paint_objects``): each group takes its phrase's colour, blended by the
   foreground probability: the named hue at the chroma the decoder gave, raised to at least
   ``PAINT_CHROMA`` (or the term's own chroma when lower: pink, brown); an achromatic term
   (black, white, gray) takes ab = 0. Lightness is the photo's, as always.

Only things are painted: a phrase whose noun is stuff around the objects ("green grass", "a
blue sky": ``tic.grounding.STUFF_NOUNS``), which the object head does not find, is left to the
decoder's hints, as are the objects of a text when the head finds fewer foreground pixels than
objects. A text that names one object paints its whole foreground; a colour named for the background
("on a gray background") paints what is not an object; a text that names none (the empty text,
"a photo of a dog in green", read as a palette by ``text_encoder.photo_palette``) changes
nothing, and so does a text whose only colours are the background's or the picture's
(``EncoderUNet.paint`` paints only texts that name an object). Where the object head finds no
object, the decoder's colours stay.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from tic.color import AB_SCALE
from tic.grounding import OBJECT, WHOLE

SPLIT_THRESHOLD = 0.5  # foreground probability from which a pixel belongs to an object
SPATIAL_WEIGHT = 10.0  # k-means: the (y, x) position in [0, 1] against unit-norm features
EMBED_SPATIAL_WEIGHT = 3.0  # the same against an instance embedding (generator.instance_position)
KMEANS_STEPS = 10
PAINT_CHROMA = 45.0  # ab units: the least chroma of a painted object (paint_region's mean)
ACHROMATIC = 10.0  # a term whose typical chroma is below this paints ab = 0
MAX_EXACT = 6  # up to this many objects the best assignment is found by trying all of them
GUIDE_RADIUS = 4  # guided filter (refine_owners): window 2r + 1 pixels of the working size
GUIDE_EPS = 1e-3  # its regulariser, in (L / 100)^2: edges of more contrast than ~0.03 are kept
CROP_SIZE = 352  # group_crops: the side of each group's picture (generator.group_crop_size)
# split_candidates (generator.split_ranker): k-means into 2-5 groups at two position weights
RANKER_GROUPS = (2, 3, 4, 5)
RANKER_POSITIONS = (3.0, 10.0)
RANKER_FEATURES = 16  # the length of a candidate's features, and of generator.split_ranker
# face_body (generator.person_faces): a standing person's box in face widths from the face centre
BODY_HALF_WIDTH = 2.0  # to each side
BODY_ABOVE = 1.0  # up (the top of the head)
BODY_BELOW = 8.0  # down (about 7.5 heads make an adult's height)

# classify(b, regions (G, h, w) bool) -> (G, 1000) ImageNet log-probabilities of each group
GroupClassifier = Callable[[int, Tensor], Tensor]


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


def group_crops(gray: Tensor, regions: Tensor, margin: float, size: int = CROP_SIZE) -> Tensor:
    """Each group's own picture, for the classifier: ``gray`` ``(1, H, W)`` (L in [-1, 1], the
    working size), ``regions`` ``(G, h, w)`` bool (any size; scaled to ``gray``'s) ->
    ``(G, 1, size, size)``: the square around the group, its side the group's longer side
    times ``1 + 2 * margin``, centred on the group, every pixel that is not the group's (the other
    objects, the background, beyond the picture's edges) mid-gray (L = 0 here, L* = 50)."""
    H, W = gray.shape[-2:]
    masks = F.interpolate(regions[:, None].to(gray.dtype), size=(H, W), mode="bilinear",
                          align_corners=False)[:, 0] > 0.5
    out = gray.new_zeros(len(regions), 1, size, size)
    for g, mask in enumerate(masks):
        ys, xs = mask.nonzero(as_tuple=True)
        if not len(ys):
            continue
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        side = max(1, round(max(y1 - y0, x1 - x0) * (1 + 2 * margin)))
        top, left = round((y0 + y1 - side) / 2), round((x0 + x1 - side) / 2)
        canvas = gray.new_zeros(1, 1, side, side)
        ya, yb, xa, xb = max(0, top), min(H, top + side), max(0, left), min(W, left + side)
        inside = mask[ya:yb, xa:xb]
        canvas[0, 0, ya - top : yb - top, xa - left : xb - left] = torch.where(
            inside, gray[0, ya:yb, xa:xb], gray.new_zeros(()))
        out[g] = F.interpolate(canvas, size=(size, size), mode="bilinear", align_corners=False)[0]
    return out


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


def split_candidates(
    fg: Tensor, prob: Tensor, looks: Tensor, deep: Tensor, weights: Tensor,
    classifier: tuple[Tensor, Tensor],
) -> tuple[Tensor, Tensor]:
    """Ways to split one image's foreground among its object phrases, and what a ranker
    (``generator.split_ranker``) reads of each.

    ``fg`` ``(h, w)`` bool and ``prob`` ``(h, w)``: the foreground and the object head's
    probability; ``looks`` ``(d, h, w)``: what k-means clusters besides the position (one image
    of ``cluster_looks``); ``deep`` ``(C, h', w')``: the 1/32
    features; ``weights`` ``(P, 1000)``: each phrase's ImageNet classes. The candidates: k-means
    into each of ``RANKER_GROUPS`` groups at each of ``RANKER_POSITIONS`` (the weight of the
    position), and every way to give the ``P`` phrases distinct groups (the other groups stay
    unpainted) -> features ``(n, RANKER_FEATURES)`` and owners ``(n, P, h, w)`` bool. A
    candidate's features, each a mean over its phrases unless said: ``log P(phrase | group)``;
    its margin over the group's best other phrase; its margin over the phrase's best other group;
    the log of the group's share of the foreground (mean, and least); the foreground share no
    phrase owns; the entropy and the top log-probability of the group's ImageNet classes; ``log
    P(phrase | group)`` minus ``log P(phrase | foreground)``; the group's mean probability; its
    spread (mean squared distance to its centre, the image side 1); the candidate's total minus
    the best other total of the same groups; one-hots of 3, 4 and 5 groups; the position weight
    (0: the first, 1: the second)."""
    h, w = fg.shape
    P = weights.shape[0]
    dtype = looks.dtype
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    yy, xx = yy.to(dtype), xx.to(dtype)
    yx = torch.stack([yy, xx])
    n_fg = float(fg.sum())
    fg_score = _log_likelihood(_pooled_logp(deep, fg[None], classifier), weights)[0]  # (P,)
    features, owners = [], []
    for k in RANKER_GROUPS:
        if n_fg < k or k < P:
            continue
        plans = torch.tensor(list(itertools.permutations(range(k), P)))  # (n, P): group of each
        n = len(plans)
        taken = F.one_hot(plans, k).bool()  # (n, P, k)
        for position_index, position in enumerate(RANKER_POSITIONS):
            x = torch.cat([looks, position * yx]).flatten(1).T
            regions = _kmeans_regions(x, fg, k)  # (k, h, w)
            logp = _pooled_logp(deep, regions, classifier)
            score = _log_likelihood(logp, weights)  # (k, P)
            size = regions.flatten(1).sum(1).to(dtype).clamp_min(1)
            area = size / max(n_fg, 1.0)
            entropy, top = -(logp.exp() * logp).sum(1), logp.max(1).values
            mean_prob = (prob * regions).flatten(1).sum(1) / size
            cy = (yy * regions).flatten(1).sum(1) / size
            cx = (xx * regions).flatten(1).sum(1) / size
            spread = (((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2)
                      * regions).flatten(1).sum(1) / size
            own = score[plans, torch.arange(P)]  # (n, P)
            rows = score[plans]  # (n, P, P): the phrases' scores of each phrase's group
            other_phrase = rows.masked_fill(torch.eye(P, dtype=torch.bool), -torch.inf).amax(2)
            other_group = score.T[None].expand(n, P, k).masked_fill(taken, -torch.inf).amax(2)
            total = own.sum(1)
            best_other = total.clone()  # a single candidate: margin 0
            if n > 1:
                first, second = total.topk(2).values
                best_other = torch.where(total == first, second, first)
            a = area[plans]  # (n, P)
            onehots = [torch.full((n,), float(k == g), dtype=dtype) for g in RANKER_GROUPS[1:]]
            features.append(torch.stack([
                own.mean(1), (own - other_phrase).mean(1), (own - other_group).mean(1),
                a.log().mean(1), a.log().amin(1), 1 - a.sum(1), entropy[plans].mean(1),
                top[plans].mean(1), (own - fg_score).mean(1), mean_prob[plans].mean(1),
                spread[plans].mean(1), total - best_other, *onehots,
                torch.full((n,), float(position_index), dtype=dtype)], 1))
            owners.append(regions[plans])  # (n, P, h, w)
    if not features:
        return looks.new_zeros(0, RANKER_FEATURES), torch.zeros(0, P, h, w, dtype=torch.bool)
    return torch.cat(features), torch.cat(owners)


def split_objects(
    prob: Tensor, kind: Tensor, feats: list[Tensor], weights: Tensor,
    classifier: tuple[Tensor, Tensor], threshold: float = SPLIT_THRESHOLD,
    spare_margin: float | None = None, embedding: Tensor | None = None,
    embedding_position: float = EMBED_SPATIAL_WEIGHT, classify: GroupClassifier | None = None,
    ranker: Tensor | None = None, faces: list[Tensor] | None = None,
    persons: Tensor | None = None,
) -> Tensor:
    """Which pixels each object phrase owns.

    ``prob`` ``(B, 1, h, w)``: foreground probability (``ObjectHead``); ``kind`` ``(B, P)``
    (``tic.grounding.encode_objects``); ``feats``: the encoder's features deepest first
    (``feats[1]`` at 1/16 and ``feats[2]`` at 1/8 are clustered, ``feats[0]`` pooled over each
    group and classified); ``weights`` ``(B, P, 1000)``: each phrase's ImageNet classes
    (``tic.grounding.class_weights``); ``classifier``: the ImageNet classifier ``(W, b)``;
    ``threshold``: the foreground probability from which a pixel is an object's ->
    ``(B, P, h, w)``: the foreground probability on the pixels each object phrase owns, 0
    elsewhere; the first phrase of the background or the whole picture ("on a gray
    background") owns one minus it everywhere; palettes own nothing (see the module doc).

    ``spare_margin`` (nats; None: off): the foreground is split into one group more than the
    phrases, the phrases take the groups that fit them best, and the group left over goes to the
    phrase it fits best only if that fit is at most ``spare_margin`` below the fit of the
    phrase's own group; otherwise it stays unpainted (an object the text does not name: the
    giraffe behind "a red elephant").

    ``embedding`` ``(B, D, h, w)`` (``tic.models.InstanceHead``; None: off): clustered with the
    position (weighted ``embedding_position``) instead of the encoder's features: it was
    trained to put one object's pixels within 0.5 of their mean and two objects' means 3 apart.

    ``classify`` (None: the 1/32 features ``feats[0]`` pooled over each group): ``classify(b,
    regions)`` gives the ImageNet log-probabilities ``(G, 1000)`` of image ``b``'s groups
    ``regions`` ``(G, h, w)`` bool (``EncoderUNet.crop_logp``: each group on its own picture,
    ``group_crops``).

    ``ranker`` ``(RANKER_FEATURES,)`` (None: off; ``generator.split_ranker``): for a text naming
    two objects (and no spare group, embedding or crops), the split is instead the candidate of
    ``split_candidates`` whose features score highest under these weights (a linear ranker,
    ``benchmarks/assignment_screen.py`` fits it); the shipped split is one of the candidates.

    ``faces`` (None: off; ``generator.person_faces``): per image the faces ``(N, 5)`` of
    ``tic.faces.detect_faces``; ``persons`` ``(B, P)`` bool: the phrases whose noun names people
    (``tic.grounding.person_share``). For a text naming two or more objects of which exactly one
    names people, with a face on the foreground, that phrase owns ``face_body``'s region and the
    other phrases split the rest of the foreground as usual (one other phrase: all of it; no
    spare group or ranker then).
    """
    B, P = kind.shape
    h, w = prob.shape[-2:]
    owners = prob.new_zeros(B, P, h, w)
    if P == 0:
        return owners
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    where = SPATIAL_WEIGHT * torch.stack([yy, xx]).to(prob.dtype)  # (2, h, w)
    if embedding is None:  # what k-means clusters besides the position: (d, h, w) a view
        looks = cluster_looks(feats, (h, w), prob.dtype)
    else:
        looks = F.interpolate(embedding.to(prob.dtype), size=(h, w), mode="bilinear",
                              align_corners=False)
        where = where * (embedding_position / SPATIAL_WEIGHT)

    def kmeans_split(b: int, mask: Tensor, phrases: list[int], spare: bool) -> None:
        """Split ``mask`` into a k-means group per phrase (one more when ``spare``), each group
        classified and given to the phrase it fits (``_assign``)."""
        regions = _kmeans_regions(torch.cat([looks[b], where]).flatten(1).T, mask,
                                  len(phrases) + int(spare))
        logp = classify(b, regions) if classify is not None \
            else _pooled_logp(feats[0][b], regions, classifier)
        score = _log_likelihood(logp, weights[b, phrases])  # (groups, phrases)
        for g, j in _assign(score, spare_margin if spare else None).items():  # disjoint groups
            owners[b, phrases[j]] += prob[b, 0] * regions[g]

    for b in range(B):
        whole = (kind[b] == WHOLE).nonzero().flatten().tolist()
        if whole:  # "on a gray background": the first such phrase owns what is not an object
            owners[b, whole[0]] = 1 - prob[b, 0]
        phrases = (kind[b] == OBJECT).nonzero().flatten().tolist()
        fg = (prob[b, 0] > threshold).flatten()
        if not phrases or int(fg.sum()) < len(phrases):
            continue
        spare = spare_margin is not None and int(fg.sum()) > len(phrases)
        if len(phrases) == 1 and not spare:
            owners[b, phrases[0]] = prob[b, 0] * fg.view(h, w)
            continue
        who = [j for j in phrases if persons is not None and bool(persons[b, j])]
        if faces is not None and len(who) == 1 and len(phrases) >= 2:
            body = face_body(faces[b], fg.view(h, w))
            rest = fg.view(h, w) & ~body
            others = [j for j in phrases if j != who[0]]
            if body.any() and int(rest.sum()) >= len(others):
                owners[b, who[0]] = prob[b, 0] * body
                if len(others) == 1:
                    owners[b, others[0]] = prob[b, 0] * rest
                else:
                    kmeans_split(b, rest, others, spare=False)
                continue
        if (ranker is not None and len(phrases) == 2 and not spare and embedding is None
                and classify is None):
            feats_c, owned = split_candidates(fg.view(h, w), prob[b, 0], looks[b], feats[0][b],
                                              weights[b, phrases], classifier)
            if len(owned):
                best = owned[int((feats_c @ ranker.to(feats_c.dtype)).argmax())]
                for j, region in enumerate(best):
                    owners[b, phrases[j]] += prob[b, 0] * region
                continue
        kmeans_split(b, fg.view(h, w), phrases, spare)
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


def _assign(score: Tensor, spare_margin: float | None) -> dict[int, int]:
    """``score`` ``(groups, phrases)``: ``log P(phrase | group)`` -> the phrase of each painted
    group. Square: the best assignment. One group more (``spare_margin`` given): the phrases
    take the best ``phrases`` of the groups; the group left over joins the phrase it fits best
    when that fit is at most ``spare_margin`` below the phrase's own group's, else is left out."""
    if spare_margin is None:
        return dict(enumerate(_best_assignment(score)))
    best, kept = None, None
    for left in range(score.shape[0]):  # which group is left over
        rest = [g for g in range(score.shape[0]) if g != left]
        plan = _best_assignment(score[rest])
        total = float(score[rest, plan].sum())
        if best is None or total > best:
            best, kept = total, (left, dict(zip(rest, plan, strict=True)))
    left, out = kept
    j = int(score[left].argmax())
    own = next(g for g, p in out.items() if p == j)
    if score[left, j] >= score[own, j] - spare_margin:
        out[left] = j
    return out


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
