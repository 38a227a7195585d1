"""Faces in a gray picture: MediaPipe's short-range BlazeFace detector, run in plain torch.

The object split (``tic.binding``) matches a phrase to a group of the foreground by ImageNet's
classes, and ImageNet has no class "person": a noun that names people is matched to what people
wear (``tic.grounding.PERSON_CLASSES``), which a person in a plain shirt barely shows. A face is
surer evidence, and it also says where the person is: ``binding.face_body`` turns the best
face on the foreground into the person's region (the face and a box below it, as tall as a
standing person), so a text naming one person and one other object can split the foreground
there instead of by k-means (``decoding.person_faces``).

The network is BlazeFace (V. Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection
on Mobile GPUs", 2019), MediaPipe's ``face_detection_short_range.tflite`` (Apache-2.0), converted
by ``scripts/convert_blazeface.py`` into ``assets/backbones/blazeface_short_range.safetensors``
(float16, 0.2 MB) and checked there against the TFLite interpreter's outputs. It was trained on
faces that fill a good part of its 128x128 input (selfies, within about 2 m), so ``detect_faces``
runs it on tiles of the picture enlarged ``FACE_UPSCALE`` times: a face 16 pixels wide in the
256x256 working picture is 32 pixels wide in a 128-pixel tile.
"""

from __future__ import annotations

import functools
from importlib import resources

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

INPUT_SIZE = 128  # BlazeFace's input side
FACE_UPSCALE = 2  # the picture is enlarged this many times before tiling
FACE_STRIDE = 64  # tile step on the enlarged picture (tiles overlap by half)
FACE_THRESHOLD = 0.7  # least detection score kept
NMS_IOU = 0.3  # boxes overlapping a better one by more than this are dropped
# (in, out, stride) of the BlazeBlocks; the detection heads read blocks 10 (16x16) and 15 (8x8)
BLOCKS = ((24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2),
          (48, 56, 1), (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1),
          (88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1))  # fmt: skip
FINE = 10  # the block whose output the 16x16 heads read
ANCHORS_PER_CELL = {16: 2, 8: 6}  # grid side -> anchors per cell (all of fixed size)


def _same_pad(stride: int, kernel: int) -> tuple[int, int, int, int]:
    """TFLite's SAME padding for an even input: (left, right, top, bottom)."""
    total = max(kernel - stride, 0)
    return (total // 2, total - total // 2) * 2


class BlazeBlock(nn.Module):
    """Depthwise 3x3 (stride 1 or 2), pointwise 1x1, plus the input (max-pooled when strided,
    zero channels appended when widened), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, cout - cin
        # stride 1: SAME is one pixel all round, which the convolution pads itself (faster)
        self.dw = nn.Conv2d(cin, cin, 3, stride=stride, groups=cin, padding=2 - stride)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.pw(self.dw(F.pad(x, _same_pad(2, 3)) if self.stride == 2 else x))
        if self.stride == 2:
            x = F.max_pool2d(x, 2)
        if self.extra:  # the input padded with zero channels, added: only its own channels move
            y[:, : x.shape[1]] += x
            return F.relu_(y)
        return F.relu_(x + y)


class BlazeFace(nn.Module):
    """``(B, 3, 128, 128)`` in [-1, 1] -> scores ``(B, 896)`` (logits) and boxes ``(B, 896, 4)``
    (centre x, centre y, width, height as fractions of the input)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 5, stride=2)
        self.blocks = nn.ModuleList(BlazeBlock(*b) for b in BLOCKS)
        self.cls_16 = nn.Conv2d(88, ANCHORS_PER_CELL[16], 1)
        self.cls_8 = nn.Conv2d(96, ANCHORS_PER_CELL[8], 1)
        self.reg_16 = nn.Conv2d(88, 16 * ANCHORS_PER_CELL[16], 1)
        self.reg_8 = nn.Conv2d(96, 16 * ANCHORS_PER_CELL[8], 1)
        self.register_buffer("anchors", anchors(), persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.relu_(self.stem(F.pad(x, _same_pad(2, 5))))
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == FINE:
                fine = x
        B = x.shape[0]

        def flat(t: Tensor, width: int) -> Tensor:  # (B, A * width, g, g) -> (B, g * g * A, width)
            return t.permute(0, 2, 3, 1).reshape(B, -1, width)

        logits = torch.cat([flat(self.cls_16(fine), 1), flat(self.cls_8(x), 1)], 1)[..., 0]
        raw = torch.cat([flat(self.reg_16(fine), 16), flat(self.reg_8(x), 16)], 1)
        centre = self.anchors + raw[..., :2] / INPUT_SIZE
        return logits, torch.cat([centre, raw[..., 2:4] / INPUT_SIZE], -1)


def anchors() -> Tensor:
    """The 896 anchor centres ``(896, 2)`` (x, y) in [0, 1], in the heads' order (MediaPipe's
    SSD anchors for the short-range model: strides 8 and 16, fixed size)."""
    out = []
    for side, per in ANCHORS_PER_CELL.items():
        c = (torch.arange(side, dtype=torch.float32) + 0.5) / side
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        out.append(torch.stack([xx, yy], -1).reshape(-1, 1, 2).expand(-1, per, 2).reshape(-1, 2))
    return torch.cat(out)


@functools.cache
def load_blazeface() -> BlazeFace:
    """The shipped detector (float32, eval mode), loaded once."""
    path = resources.files("tic") / "assets" / "backbones" / "blazeface_short_range.safetensors"
    net = BlazeFace()
    with resources.as_file(path) as p:
        net.load_state_dict({k: v.float() for k, v in load_file(str(p)).items()})
    return net.eval().to(memory_format=torch.channels_last)  # ~2x faster depthwise convs on CPU


def _nms(score: Tensor, box: Tensor, iou: float) -> Tensor:
    """Indices of the boxes kept, best first (greedy non-maximum suppression)."""
    lo, hi = box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2
    area = box[:, 2:].clamp_min(0).prod(1)
    keep = []
    for i in score.argsort(descending=True).tolist():
        if keep:
            k = torch.tensor(keep)
            inter = (torch.minimum(hi[k], hi[i]) - torch.maximum(lo[k], lo[i])).clamp_min(0).prod(1)
            if (inter / (area[k] + area[i] - inter).clamp_min(1e-9) > iou).any():
                continue
        keep.append(i)
    return torch.tensor(keep, dtype=torch.long)


@torch.no_grad()
def detect_faces(gray: Tensor, net: BlazeFace | None = None,
                 threshold: float = FACE_THRESHOLD) -> list[Tensor]:
    """``gray`` ``(B, 1, H, W)`` in [0, 1] -> per image the faces ``(N, 5)``: score, centre x,
    centre y, width, height, the last four as fractions of the picture, best first.

    The picture is enlarged ``FACE_UPSCALE`` times (bilinear) and cut into 128x128 tiles every
    ``FACE_STRIDE`` pixels (the last row and column flush with the edge), each tile is one
    BlazeFace input (gray as R = G = B, scaled to [-1, 1] as MediaPipe does), and the boxes of all
    tiles scoring at least ``threshold`` go through non-maximum suppression."""
    net = load_blazeface() if net is None else net
    B, _, H, W = gray.shape
    big = F.interpolate(gray.float(), scale_factor=FACE_UPSCALE, mode="bilinear",
                        align_corners=False)
    Hb, Wb = big.shape[-2:]
    if min(Hb, Wb) < INPUT_SIZE:
        big = F.interpolate(big, size=(max(Hb, INPUT_SIZE), max(Wb, INPUT_SIZE)),
                            mode="bilinear", align_corners=False)
        Hb, Wb = big.shape[-2:]

    def starts(n: int) -> list[int]:
        s = list(range(0, n - INPUT_SIZE + 1, FACE_STRIDE))
        return s if s[-1] == n - INPUT_SIZE else s + [n - INPUT_SIZE]

    corners = [(y, x) for y in starts(Hb) for x in starts(Wb)]
    tiles = torch.stack([big[:, :, y:y + INPUT_SIZE, x:x + INPUT_SIZE] for y, x in corners], 1)
    inputs = tiles.reshape(-1, 1, INPUT_SIZE, INPUT_SIZE).expand(-1, 3, -1, -1) * 2 - 1
    logits, boxes = net(inputs.contiguous(memory_format=torch.channels_last))
    score = logits.clamp(-100, 100).sigmoid().view(B, len(corners), -1)
    boxes = boxes.view(B, len(corners), -1, 4)
    origin = torch.tensor([[x, y] for y, x in corners], dtype=boxes.dtype)  # (T, 2) pixels
    scale = torch.tensor([Wb, Hb], dtype=boxes.dtype)
    centre = (origin[:, None] + boxes[..., :2] * INPUT_SIZE) / scale
    size = boxes[..., 2:] * INPUT_SIZE / scale
    out = []
    for b in range(B):
        keep = score[b] >= threshold
        s, c, z = score[b][keep], centre[b][keep], size[b][keep]
        found = torch.cat([s[:, None], c, z], 1)
        out.append(found[_nms(s, torch.cat([c, z], 1), NMS_IOU)] if len(s) else found)
    return out
