"""``tic.faces``: the converted BlazeFace detector, checked by hand-computed anchors and boxes and
on a photo whose face is known (scikit-image's astronaut: the face of Eileen Collins, centred at
about 44% of the width and 24% of the height; the TFLite original finds it at (0.442, 0.235))."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tic import faces


def test_anchors_are_mediapipes_short_range_grid():
    a = faces.anchors()
    assert a.shape == (896, 2)
    # 16x16 cells of stride 8, two anchors each, row by row; then 8x8 cells of stride 16, six each
    torch.testing.assert_close(a[0], torch.tensor([0.5 / 16, 0.5 / 16]))
    torch.testing.assert_close(a[1], a[0])
    torch.testing.assert_close(a[2], torch.tensor([1.5 / 16, 0.5 / 16]))
    torch.testing.assert_close(a[32], torch.tensor([0.5 / 16, 1.5 / 16]))  # the second row
    torch.testing.assert_close(a[512], torch.tensor([0.5 / 8, 0.5 / 8]))
    torch.testing.assert_close(a[512 + 6], torch.tensor([1.5 / 8, 0.5 / 8]))
    torch.testing.assert_close(a[-1], torch.tensor([7.5 / 8, 7.5 / 8]))


def test_a_strided_block_adds_the_pooled_input_and_zero_channels():
    """With its convolutions zeroed, a BlazeBlock is ReLU(max-pool(x) padded with zero channels):
    computed by hand on a 4x4 input."""
    block = faces.BlazeBlock(1, 3, stride=2)
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    x = torch.arange(16.0).view(1, 1, 4, 4) - 8
    out = block(x)
    assert out.shape == (1, 3, 2, 2)
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 0.0], [5.0, 7.0]]))  # relu(max)
    assert out[0, 1:].abs().sum() == 0
    # stride 1 keeps the size (SAME padding) and adds the input itself
    same = faces.BlazeBlock(2, 2, stride=1)
    for p in same.parameters():
        torch.nn.init.zeros_(p)
    y = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(same(y), y.relu())


def test_nms_keeps_the_best_of_overlapping_boxes():
    score = torch.tensor([0.8, 0.9, 0.75])
    box = torch.tensor([[0.50, 0.5, 0.2, 0.2],   # IoU with the next: 0.036 / 0.044 = 0.82
                        [0.52, 0.5, 0.2, 0.2],
                        [0.10, 0.1, 0.1, 0.1]])  # fmt: skip
    assert faces._nms(score, box, 0.3).tolist() == [1, 2]
    assert faces._nms(score, box, 0.85).tolist() == [1, 0, 2]


def test_finds_the_astronauts_face_and_none_in_flat_or_noisy_pictures():
    data = pytest.importorskip("skimage.data")
    from skimage.color import rgb2gray

    gray = torch.from_numpy(rgb2gray(data.astronaut()).astype(np.float32))[None, None]
    small = torch.nn.functional.interpolate(gray, size=(256, 256), mode="bilinear")
    found = faces.detect_faces(torch.cat([small, torch.full_like(small, 0.5),
                                          torch.rand_like(small)]))
    assert len(found) == 3
    assert found[0].shape == (1, 5)
    score, cx, cy, w, h = found[0][0].tolist()
    assert score >= faces.FACE_THRESHOLD
    assert abs(cx - 0.44) < 0.03 and abs(cy - 0.24) < 0.03
    assert 0.15 < w < 0.3 and abs(w - h) < 0.02  # a face about a fifth of the picture wide
    assert found[1].shape == (0, 5) and found[2].shape == (0, 5)
    # a picture smaller than a tile still works (enlarged to one tile)
    assert faces.detect_faces(torch.full((1, 1, 40, 50), 0.5))[0].shape == (0, 5)
