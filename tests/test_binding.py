"""``tic.binding``: splitting the foreground between the text's objects and painting them,
checked on hand-made cases (two squares, maps that favour one, colours computed by hand)."""

from __future__ import annotations

import math

import pytest
import torch

from tic import binding
from tic.color import AB_SCALE, normalize_ab
from tic.color_names import term_lab
from tic.grounding import OBJECT, PALETTE, STUFF, WHOLE


def _scene(h=16, w=16):
    """Foreground: a left and a right square. The middle features carry nothing (all zero), so
    only the position separates the objects; the deepest (1/4 of the size here) say "class 0"
    on the left square and "class 1" on the right one to a 3-class identity classifier."""
    prob = torch.zeros(1, 1, h, w)
    prob[0, 0, 4:12, 1:6] = 0.9  # left object
    prob[0, 0, 4:12, 10:15] = 0.8  # right object
    deep = torch.zeros(1, 3, h // 4, w // 4)
    deep[0, 0, :, :2] = 4.0  # class 0 on the left half
    deep[0, 1, :, 2:] = 4.0  # class 1 on the right half
    feats = [deep, torch.zeros(1, 4, h // 4, w // 4), torch.zeros(1, 4, h // 2, w // 2)]
    return prob, feats, (torch.eye(3), torch.zeros(3))


def test_best_assignment_tries_every_matching_and_greedy_beyond():
    assert binding._best_assignment(torch.tensor([[0.2, 0.9], [0.8, 0.1]])) == [1, 0]
    # the greedy choice (0.9 first) would force 0.0 + 0.0; the best sum takes 0.8 + 0.8
    score = torch.tensor([[0.8, 0.9, 0.0], [0.0, 0.8, 0.0], [0.0, 0.0, 0.1]])
    assert binding._best_assignment(score) == [0, 1, 2]
    big = torch.eye(8) + 0.01 * torch.arange(64.0).view(8, 8) / 64  # above MAX_EXACT: greedy
    assert binding._best_assignment(big) == list(range(8))


def test_a_weak_noun_still_gets_the_object_the_strong_one_leaves():
    """Phrase 1 names class 2, which the classifier finds nowhere (as ImageNet and "a girl"):
    its score is the same for both squares, so phrase 0 (class 1) decides: it takes the right
    square and phrase 1 the left."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    kind = torch.tensor([[OBJECT, OBJECT]])
    owners = binding.split_objects(prob, kind, feats, weights, classifier)
    assert owners.shape == (1, 2, 16, 16)
    right, left = owners[0, 0, 4:12, 10:15], owners[0, 1, 4:12, 1:6]
    assert torch.allclose(right, torch.full_like(right, 0.8))  # the foreground probability
    assert torch.allclose(left, torch.full_like(left, 0.9))
    assert owners[0, 0, :, :8].sum() == 0 and owners[0, 1, :, 8:].sum() == 0
    assert owners[0, :, prob[0, 0] == 0].sum() == 0  # the background is nobody's
    # the phrases swapped in the text: the owners swap with them
    swapped = binding.split_objects(prob, kind, feats, weights.flip(1), classifier)
    torch.testing.assert_close(swapped, owners.flip(1))
    # and a phrase that names class 0 takes the left square
    to_left = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    left_first = binding.split_objects(prob, kind, feats, to_left, classifier)
    assert left_first[0, 0, 4:12, 1:6].min() > 0 and left_first[0, 0, :, 8:].sum() == 0


def test_one_object_owns_the_foreground_the_background_the_rest_a_palette_nothing():
    prob, feats, classifier = _scene()
    weights = torch.rand(1, 3, 3).softmax(-1)
    kind = torch.tensor([[WHOLE, OBJECT, PALETTE]])
    owners = binding.split_objects(prob, kind, feats, weights, classifier)
    # "green grass" beside the object: stuff owns nothing and does not split the foreground
    with_stuff = binding.split_objects(prob, torch.tensor([[WHOLE, OBJECT, STUFF]]), feats,
                                       weights, classifier)
    torch.testing.assert_close(with_stuff[0, :2], owners[0, :2])
    assert with_stuff[0, 2].sum() == 0
    torch.testing.assert_close(owners[0, 1], prob[0, 0])
    torch.testing.assert_close(owners[0, 0], 1 - prob[0, 0])  # the background: the rest
    assert owners[0, 2].sum() == 0  # a palette: nowhere in particular
    faint = prob * 0.5  # at most SPLIT_THRESHOLD: no object found, only the background owned
    faint_owners = binding.split_objects(faint, kind, feats, weights, classifier)
    assert faint_owners[0, 1:].sum() == 0
    # a lower threshold (generator.object_threshold) takes the faint object as found
    lower = binding.split_objects(faint, kind, feats, weights, classifier, threshold=0.3)
    found = faint[0, 0] > 0.3
    assert found.any() and not found.all()
    torch.testing.assert_close(lower[0, 1], faint[0, 0] * found)
    empty = binding.split_objects(prob, kind[:, :0], feats, weights[:, :0], classifier)
    assert empty.shape == (1, 0, 16, 16)


def test_the_spare_group_joins_a_phrase_only_within_the_margin():
    # one phrase, two groups: group 0 fits it (-1 nats), group 1 much worse (-6)
    score = torch.tensor([[-1.0], [-6.0]])
    assert binding._assign(score, 2.0) == {0: 0}  # 5 nats worse than its own: left unpainted
    assert binding._assign(score, 5.0) == {0: 0, 1: 0}  # within the margin: the same object
    # two phrases, three groups: groups 0 and 1 take phrases 0 and 1 (-1 + -1 beats -1.5 + -1),
    # group 2 fits phrase 0 at -1.5, 0.5 nats below group 0's -1
    score = torch.tensor([[-1.0, -5.0], [-4.0, -1.0], [-1.5, -6.0]])
    assert binding._assign(score, 1.0) == {0: 0, 1: 1, 2: 0}
    assert binding._assign(score, 0.2) == {0: 0, 1: 1}
    # no margin: the square assignment, as before
    assert binding._assign(torch.tensor([[0.2, 0.9], [0.8, 0.1]]), None) == {0: 1, 1: 0}


def test_a_spare_group_leaves_an_object_the_text_does_not_name_unpainted():
    """"a class-1 thing" on the two-square scene: without a margin it owns both squares; with
    one, the foreground splits in two, the right square (class 1) is its and the left one
    (class 0, which the phrase does not name) is nobody's."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[[0.0, 1.0, 0.0]]])
    kind = torch.tensor([[OBJECT]])
    whole = binding.split_objects(prob, kind, feats, weights, classifier)
    torch.testing.assert_close(whole[0, 0], prob[0, 0] * (prob[0, 0] > 0.5))
    spare = binding.split_objects(prob, kind, feats, weights, classifier, spare_margin=2.0)
    assert torch.allclose(spare[0, 0, 4:12, 10:15], torch.tensor(0.8))
    assert spare[0, 0, :, :8].sum() == 0
    # a margin wider than the two squares' gap in fit: both are the phrase's again
    wide = binding.split_objects(prob, kind, feats, weights, classifier, spare_margin=100.0)
    torch.testing.assert_close(wide, whole)


def test_the_embedding_splits_what_the_position_cannot():
    """One wide blob, its top half object A and its bottom half object B: the position alone
    cuts it left from right (its long side); an instance embedding that puts A's pixels at 0
    and B's 3 away (as ``InstanceHead`` is trained to) cuts it top from bottom, and the phrase
    naming the class of the bottom rows gets them."""
    h = w = 16
    prob = torch.zeros(1, 1, h, w)
    prob[0, 0, 6:10, 1:15] = 0.9
    deep = torch.zeros(1, 3, h // 4, w // 4)
    deep[0, 0, :2] = 4.0  # class 0 on the top rows
    deep[0, 1, 2:] = 4.0  # class 1 on the bottom rows
    feats = [deep, torch.zeros(1, 4, h // 4, w // 4), torch.zeros(1, 4, h // 2, w // 2)]
    classifier = (torch.eye(3), torch.zeros(3))
    weights = torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])  # phrase 0: class 1 (bottom)
    kind = torch.tensor([[OBJECT, OBJECT]])
    plain = binding.split_objects(prob, kind, feats, weights, classifier)
    left, right = plain[0, :, 6:10, 1:8], plain[0, :, 6:10, 8:15]
    assert (left > 0).sum(0).all() and (right > 0).sum(0).all()
    assert {int(left[0].sum() > 0), int(right[0].sum() > 0)} == {0, 1}  # cut left from right
    emb = torch.zeros(1, 2, h, w)
    emb[0, 0, 8:] = 3.0
    owners = binding.split_objects(prob, kind, feats, weights, classifier, embedding=emb)
    torch.testing.assert_close(owners[0, 0, 8:10, 1:15], torch.full((2, 14), 0.9))
    torch.testing.assert_close(owners[0, 1, 6:8, 1:15], torch.full((2, 14), 0.9))
    assert owners[0, 0, :8].sum() == 0 and owners[0, 1, 8:].sum() == 0
    # weighted heavily enough, the position wins again (embedding_position)
    far = binding.split_objects(prob, kind, feats, weights, classifier, embedding=emb,
                                embedding_position=30.0)
    left, right = far[0, :, 6:10, 1:8], far[0, :, 6:10, 8:15]
    assert {int(left[0].sum() > 0), int(right[0].sum() > 0)} == {0, 1}


def test_group_crops_show_the_group_alone_centred_in_its_margin():
    """Hand-computed: a 4x4 group at rows 4-7, columns 2-5 of a 16x16 picture, margin 0.5: an
    8x8 square (twice its side) centred on it, at rows 2-9, columns 0-7; the group's own pixels
    keep their values, everything else (another object beside it, the background) is 0."""
    gray = torch.linspace(-1, 1, 256).view(1, 16, 16)
    group = torch.zeros(16, 16, dtype=torch.bool)
    group[4:8, 2:6] = True
    other = torch.zeros(16, 16, dtype=torch.bool)
    other[4:8, 6:9] = True  # touches the group's square: must not show
    crops = binding.group_crops(gray, torch.stack([group, other]), margin=0.5, size=8)
    assert crops.shape == (2, 1, 8, 8)
    want = torch.zeros(8, 8)
    want[2:6, 2:6] = gray[0, 4:8, 2:6]
    torch.testing.assert_close(crops[0, 0], want)
    # a group at the picture's corner: the square runs past the edge, which is mid-gray too
    corner = torch.zeros(16, 16, dtype=torch.bool)
    corner[0:4, 12:16] = True
    crop = binding.group_crops(gray, corner[None], margin=0.5, size=8)[0, 0]
    want = torch.zeros(8, 8)
    want[2:6, 2:6] = gray[0, 0:4, 12:16]
    torch.testing.assert_close(crop, want)
    # groups at 1/4 of the picture's size are scaled up to it; an empty group is all gray
    small = torch.zeros(2, 4, 4, dtype=torch.bool)
    small[0, 1:2, 0:2] = True  # rows 4-7, columns 0-7 of the picture: an 8x8 square at rows 2-9
    crops = binding.group_crops(gray, small, margin=0.0, size=8)
    want = torch.zeros(8, 8)
    want[2:6] = gray[0, 4:8, 0:8]
    want[2, 7] = want[5, 7] = 0  # bilinear scaling (0.625 x 0.625 < 0.5) rounds two corners
    torch.testing.assert_close(crops[0, 0], want)
    assert crops[1].abs().sum() == 0


def test_a_group_classifier_replaces_the_pooled_features():
    """``classify`` decides what each group is: the pooled features say class 0 on the left
    square and class 1 on the right, a classifier of the groups' own pictures that says the
    opposite (here: by the group's mean column) wins, and it is asked once per image."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])  # phrase 0: class 1
    kind = torch.tensor([[OBJECT, OBJECT]])
    pooled = binding.split_objects(prob, kind, feats, weights, classifier)
    assert pooled[0, 0, :, 8:].sum() > 0 and pooled[0, 0, :, :8].sum() == 0  # class 1: right
    calls = []

    def classify(b, regions):
        calls.append((b, regions.shape))
        cols = torch.arange(16.0)
        left = torch.stack([(r.float().sum(0) * cols).sum() / r.sum() < 8 for r in regions])
        logits = torch.stack([torch.tensor([0.0, 4.0, 0.0]) if is_left
                              else torch.tensor([4.0, 0.0, 0.0]) for is_left in left])
        return logits.log_softmax(1)

    crops = binding.split_objects(prob, kind, feats, weights, classifier, classify=classify)
    assert calls == [(0, (2, 16, 16))]
    torch.testing.assert_close(crops, pooled.flip(1))


def _ab(a, b):
    return normalize_ab(torch.tensor([a, b], dtype=torch.float32).view(1, 2, 1, 1))


@pytest.mark.parametrize("term", ["red", "blue", "green", "pink", "brown", "white"])
def test_paint_gives_the_named_hue_at_the_chroma_computed_by_hand(term):
    _, a_ref, b_ref = term_lab(term)
    ref = normalize_ab(torch.tensor([a_ref, b_ref]).view(1, 2, 1, 1)).view(1, 1, 2)
    c_ref = math.hypot(a_ref, b_ref)
    for a, b, weight in ((0.0, 0.0, 1.0), (30.0, -40.0, 1.0), (0.0, 0.0, 0.5)):
        ab = _ab(a, b)
        owners = torch.full((1, 1, 1, 1), weight)
        out = binding.paint_objects(ab, owners, ref) * AB_SCALE
        c_now = math.hypot(a, b)  # 0 or 50
        if c_ref < binding.ACHROMATIC:
            want = (0.0, 0.0)
        else:
            c = max(c_now, min(c_ref, binding.PAINT_CHROMA))
            want = (a_ref / c_ref * c, b_ref / c_ref * c)
        want = [weight * w + (1 - weight) * v for w, v in zip(want, (a, b), strict=True)]
        torch.testing.assert_close(out.flatten(), torch.tensor(want), atol=1e-3, rtol=0)


def test_unowned_pixels_keep_the_decoders_colour():
    ab = torch.randn(2, 2, 4, 4).clamp(-1, 1)
    owners = torch.zeros(2, 3, 4, 4)
    obj_ab = torch.randn(2, 3, 2)
    torch.testing.assert_close(binding.paint_objects(ab, owners, obj_ab), ab)
    torch.testing.assert_close(binding.paint_objects(ab, owners[:, :0], obj_ab[:, :0]), ab)


def test_refined_owners_follow_the_gray_images_edge():
    """Blurry owner maps of two objects meeting at a sharp edge of the gray image: the guided
    filter moves their edge onto the image's; a constant map stays constant; the phrases' sum
    stays at most 1."""
    guide = torch.full((1, 1, 32, 32), 0.2)
    guide[..., 16:] = 0.8  # an object on the right half
    owners = torch.zeros(1, 2, 8, 8)
    owners[0, 0, :, 4:] = 1.0  # phrase 0 owns the right half, at 1/4 of the size
    owners[0, 1, :, :4] = 1.0  # phrase 1 the left half
    plain = torch.nn.functional.interpolate(owners, size=(32, 32), mode="bilinear",
                                            align_corners=False)
    out = binding.refine_owners(owners, guide)
    assert out.shape == (1, 2, 32, 32)
    # bilinear: a ramp across the edge (cols 14..17); refined: near 0 left of it, near 1 right
    assert plain[0, 0, 10, 15] > 0.3 and plain[0, 0, 10, 16] < 0.7
    assert out[0, 0, 10, 15] < 0.5 * float(plain[0, 0, 10, 15])
    assert out[0, 0, 10, 16] > 0.5 + 0.5 * float(plain[0, 0, 10, 16])
    torch.testing.assert_close(out[0, 1], out[0, 0].flip(-1))  # the mirror case
    assert out.sum(1).max() <= 1 + 1e-6
    flat = binding.refine_owners(torch.full((1, 1, 8, 8), 0.4), guide)
    torch.testing.assert_close(flat, torch.full((1, 1, 32, 32), 0.4))


def test_the_box_filter_is_the_2d_window_mean():
    x = torch.rand(2, 3, 21, 30)
    want = torch.nn.functional.avg_pool2d(x, 9, stride=1, padding=4, count_include_pad=False)
    torch.testing.assert_close(binding._box(x, 4), want)


def test_split_candidates_cover_every_grouping_and_read_by_hand():
    """On the two squares (40 pixels each): k-means into 2-5 groups at two position weights, and
    every way to give two phrases distinct groups: 2 x (2 + 6 + 12 + 20) = 80 candidates. Where
    each phrase takes a whole square, the features are known by hand."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # phrase 0: class 1 (right)
    looks = torch.zeros(8, 16, 16)  # the position alone separates the squares
    fg = prob[0, 0] > binding.SPLIT_THRESHOLD
    X, owners = binding.split_candidates(fg, prob[0, 0], looks, feats[0][0], weights, classifier)
    assert X.shape == (80, binding.RANKER_FEATURES) and owners.shape == (80, 2, 16, 16)
    left, right = torch.zeros(16, 16, dtype=torch.bool), torch.zeros(16, 16, dtype=torch.bool)
    left[4:12, 1:6], right[4:12, 10:15] = True, True
    whole = [i for i in range(80) if torch.equal(owners[i, 0], right) and torch.equal(owners[i, 1], left)]
    assert len(whole) == 2  # two-group splits at both position weights, phrases on their own
    # pooled log P: the right square is class 1 with probability e^4 / (e^4 + 2)
    own = math.log(math.exp(4) / (math.exp(4) + 2))
    other = math.log(1 / (math.exp(4) + 2))
    for i, position_index in zip(whole, (0, 1), strict=True):
        f = X[i]
        torch.testing.assert_close(f[0], torch.tensor(own))  # log P(phrase | its group)
        torch.testing.assert_close(f[1], torch.tensor(own - other))  # over the other phrase
        torch.testing.assert_close(f[2], torch.tensor(own - other))  # over the other group
        torch.testing.assert_close(f[3:6], torch.tensor([math.log(0.5), math.log(0.5), 0.0]))
        assert f[12:15].tolist() == [0.0, 0.0, 0.0] and f[15] == position_index
        torch.testing.assert_close(f[11], torch.tensor(2 * (own - other)))  # over the swap


def test_a_ranker_chooses_the_split_of_a_text_naming_two_objects():
    """With weights on the pooled fit alone the ranker keeps the whole squares (every pure group
    fits as well, and the first best is the two-group split); weighted to leave foreground
    unpainted it paints only part of each square; a text naming one object is not ranked."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]])
    kind = torch.tensor([[OBJECT, OBJECT]])
    shipped = binding.split_objects(prob, kind, feats, weights, classifier)
    fit = torch.zeros(binding.RANKER_FEATURES)
    fit[0] = 1.0
    torch.testing.assert_close(
        binding.split_objects(prob, kind, feats, weights, classifier, ranker=fit), shipped)
    sparse = fit.clone()
    sparse[5] = 10.0  # the share of the foreground no phrase owns
    part = binding.split_objects(prob, kind, feats, weights, classifier, ranker=sparse)
    assert part[0, 0, :, 8:].sum() > 0 and part[0, 1, :, :8].sum() > 0  # still its own side
    assert (part > 0).sum() < (shipped > 0).sum()  # but less of it
    one = binding.split_objects(prob, kind[:, :1], feats, weights[:, :1], classifier, ranker=sparse)
    torch.testing.assert_close(one, binding.split_objects(prob, kind[:, :1], feats, weights[:, :1],
                                                          classifier))


def test_face_body_is_the_foreground_under_a_face_on_it():
    """A face 4 pixels wide centred at (32, 16) of a 64x64 grid: the box reaches 2 face widths to
    each side, 1 up and 8 down (hand-computed pixel centres), cut to the foreground."""
    fg = torch.ones(64, 64, dtype=torch.bool)
    face = torch.tensor([[0.9, 0.5, 0.25, 4 / 64, 4 / 64]])
    body = binding.face_body(face, fg)
    ys, xs = body.nonzero(as_tuple=True)
    assert (int(xs.min()), int(xs.max())) == (24, 39)  # |x + 0.5 - 32| <= 8
    assert (int(ys.min()), int(ys.max())) == (12, 47)  # 12 <= y + 0.5 <= 48
    assert int(body.sum()) == 16 * 36
    fg[:, 36:] = False
    assert int(binding.face_body(face, fg).sum()) == 12 * 36
    # a face on the background (no foreground within a pixel of its centre) places nobody, and
    # the next face that is on the foreground is used instead
    fg = torch.zeros(64, 64, dtype=torch.bool)
    fg[40:60, 40:60] = True
    assert not binding.face_body(face, fg).any()
    both = torch.cat([face, torch.tensor([[0.8, 50 / 64, 41 / 64, 2 / 64, 2 / 64]])])
    assert binding.face_body(both, fg).any()
    assert not binding.face_body(torch.zeros(0, 5), fg).any()


def test_a_person_among_objects_owns_the_foreground_under_its_face():
    """Phrase 1 names a person and a face lies on the right square: phrase 1 owns the right
    square (all of it is under the face) and phrase 0 the rest, whatever the classifier says;
    without a face, or with two person phrases, the usual split decides."""
    prob, feats, classifier = _scene()
    weights = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # phrase 0 fits the right
    kind = torch.tensor([[OBJECT, OBJECT]])
    usual = binding.split_objects(prob, kind, feats, weights, classifier)
    assert usual[0, 0, 4:12, 10:15].min() > 0  # phrase 0 takes the right square
    face = [torch.tensor([[0.9, 12.5 / 16, 4.5 / 16, 1 / 16, 1 / 16]])]
    person = torch.tensor([[False, True]])
    owners = binding.split_objects(prob, kind, feats, weights, classifier, faces=face,
                                   persons=person)
    fg = prob[0, 0] > binding.SPLIT_THRESHOLD
    body = binding.face_body(face[0], fg)
    assert body[4:12, 10:15].all() and not body[:, :8].any()
    torch.testing.assert_close(owners[0, 1], prob[0, 0] * body)
    torch.testing.assert_close(owners[0, 0], prob[0, 0] * (fg & ~body))
    for faces, persons in ((face, torch.tensor([[True, True]])), ([torch.zeros(0, 5)], person)):
        same = binding.split_objects(prob, kind, feats, weights, classifier, faces=faces,
                                     persons=persons)
        torch.testing.assert_close(same, usual)
    # three phrases, one a person: the other two split what the person leaves, as usual
    kind3 = torch.tensor([[OBJECT, OBJECT, OBJECT]])
    w3 = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    prob3 = prob.clone()
    prob3[0, 0, 13:16, 1:15] = 0.7  # a third object along the bottom
    three = binding.split_objects(prob3, kind3, feats, w3, classifier, faces=face,
                                  persons=torch.tensor([[False, True, False]]))
    assert three[0, 1, 4:12, 10:15].min() > 0  # the person
    assert three[0, 0, 4:12, 1:6].min() > 0  # class 0: the left square
    assert (three[0].sum(0) <= prob3[0, 0] + 1e-6).all()
