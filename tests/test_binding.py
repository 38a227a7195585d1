"""``tic.binding``: splitting the foreground between the text's objects and painting them,
checked on hand-made cases (two squares, maps that favour one, colours computed by hand)."""

from __future__ import annotations

import math

import pytest
import torch

from tic import binding
from tic.color import AB_SCALE, normalize_ab
from tic.color_names import term_lab
from tic.config import DecodingConfig
from tic.grounding import OBJECT, PALETTE, STUFF, WHOLE

T = DecodingConfig().object_threshold  # a pixel is an object's above this probability


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
    owners = binding.split_objects(prob, kind, feats, weights, classifier, threshold=T)
    assert owners.shape == (1, 2, 16, 16)
    right, left = owners[0, 0, 4:12, 10:15], owners[0, 1, 4:12, 1:6]
    assert torch.allclose(right, torch.full_like(right, 0.8))  # the foreground probability
    assert torch.allclose(left, torch.full_like(left, 0.9))
    assert owners[0, 0, :, :8].sum() == 0 and owners[0, 1, :, 8:].sum() == 0
    assert owners[0, :, prob[0, 0] == 0].sum() == 0  # the background is nobody's
    # the phrases swapped in the text: the owners swap with them
    swapped = binding.split_objects(prob, kind, feats, weights.flip(1), classifier, threshold=T)
    torch.testing.assert_close(swapped, owners.flip(1))
    # and a phrase that names class 0 takes the left square
    to_left = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    left_first = binding.split_objects(prob, kind, feats, to_left, classifier, threshold=T)
    assert left_first[0, 0, 4:12, 1:6].min() > 0 and left_first[0, 0, :, 8:].sum() == 0


def test_one_object_owns_the_foreground_the_background_the_rest_a_palette_nothing():
    prob, feats, classifier = _scene()
    weights = torch.rand(1, 3, 3).softmax(-1)
    kind = torch.tensor([[WHOLE, OBJECT, PALETTE]])
    owners = binding.split_objects(prob, kind, feats, weights, classifier, threshold=T)
    # "green grass" beside the object: stuff owns nothing and does not split the foreground
    with_stuff = binding.split_objects(prob, torch.tensor([[WHOLE, OBJECT, STUFF]]), feats,
                                       weights, classifier, threshold=T)
    torch.testing.assert_close(with_stuff[0, :2], owners[0, :2])
    assert with_stuff[0, 2].sum() == 0
    torch.testing.assert_close(owners[0, 1], prob[0, 0])
    torch.testing.assert_close(owners[0, 0], 1 - prob[0, 0])  # the background: the rest
    assert owners[0, 2].sum() == 0  # a palette: nowhere in particular
    faint = prob * 0.5  # at most the threshold: no object found, only the background owned
    faint_owners = binding.split_objects(faint, kind, feats, weights, classifier, threshold=T)
    assert faint_owners[0, 1:].sum() == 0
    # a lower threshold (decoding.object_threshold) takes the faint object as found
    lower = binding.split_objects(faint, kind, feats, weights, classifier, threshold=0.3)
    found = faint[0, 0] > 0.3
    assert found.any() and not found.all()
    torch.testing.assert_close(lower[0, 1], faint[0, 0] * found)
    empty = binding.split_objects(prob, kind[:, :0], feats, weights[:, :0], classifier,
                                  threshold=T)
    assert empty.shape == (1, 0, 16, 16)


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
    usual = binding.split_objects(prob, kind, feats, weights, classifier, threshold=T)
    assert usual[0, 0, 4:12, 10:15].min() > 0  # phrase 0 takes the right square
    face = [torch.tensor([[0.9, 12.5 / 16, 4.5 / 16, 1 / 16, 1 / 16]])]
    person = torch.tensor([[False, True]])
    owners = binding.split_objects(prob, kind, feats, weights, classifier, threshold=T,
                                   faces=face, persons=person)
    fg = prob[0, 0] > T
    body = binding.face_body(face[0], fg)
    assert body[4:12, 10:15].all() and not body[:, :8].any()
    torch.testing.assert_close(owners[0, 1], prob[0, 0] * body)
    torch.testing.assert_close(owners[0, 0], prob[0, 0] * (fg & ~body))
    for faces, persons in ((face, torch.tensor([[True, True]])), ([torch.zeros(0, 5)], person)):
        same = binding.split_objects(prob, kind, feats, weights, classifier, threshold=T,
                                     faces=faces, persons=persons)
        torch.testing.assert_close(same, usual)
    # three phrases, one a person: the other two split what the person leaves, as usual
    kind3 = torch.tensor([[OBJECT, OBJECT, OBJECT]])
    w3 = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    prob3 = prob.clone()
    prob3[0, 0, 13:16, 1:15] = 0.7  # a third object along the bottom
    three = binding.split_objects(prob3, kind3, feats, w3, classifier, threshold=T, faces=face,
                                  persons=torch.tensor([[False, True, False]]))
    assert three[0, 1, 4:12, 10:15].min() > 0  # the person
    assert three[0, 0, 4:12, 1:6].min() > 0  # class 0: the left square
    assert (three[0].sum(0) <= prob3[0, 0] + 1e-6).all()


def test_painted_only_texts_are_those_naming_things_and_background_only():
    from tic.decoding import painted_only

    kind = torch.tensor([[OBJECT, 0, 0], [OBJECT, WHOLE, 0], [OBJECT, STUFF, 0],
                         [PALETTE, OBJECT, 0], [WHOLE, 0, 0], [0, 0, 0]])
    assert painted_only(kind).tolist() == [True, True, False, False, False, False]
