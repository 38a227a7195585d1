"""MobileNetV2 feature layers (Sandler et al., CVPR 2018) with torchvision's module names.

``MobileNetV2Features(x) -> list[Tensor]``: the outputs of the requested ``features[i]`` blocks.
The module and parameter names are torchvision's (``features.<i>.conv.<j>...``), so torchvision's
ImageNet state dict (``mobilenet_v2-b0353104.pth``) loads with every key matched; the classifier
is left out. Weights are filled in by ``tic.backbones.mobilenet_v2``.

Taps used by tic's pretrained U-Net: ``features[1, 3, 6, 13, 18]`` give
16 @ 1/2, 24 @ 1/4, 32 @ 1/8, 96 @ 1/16 and 1280 @ 1/32 of the input size.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

# (expansion t, output channels c, repeats n, first stride s): torchvision / the paper's Table 2
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
CHANNELS = (32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320, 1280)


def _conv_bn_relu6(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, expand: int):
        super().__init__()
        hidden = in_ch * expand
        self.use_res = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn_relu6(in_ch, hidden, kernel=1))
        layers += [
            _conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),  # depthwise
            nn.Conv2d(hidden, out_ch, 1, bias=False),  # linear bottleneck
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Features(nn.Module):
    """``(B, 3, H, W)`` ImageNet-normalised RGB -> the outputs of ``features[i]`` for ``taps``.

    Only the blocks up to the deepest tap are built. H and W should be multiples of 32.
    """

    def __init__(self, taps: Sequence[int] = (1, 3, 6, 13, 18)):
        super().__init__()
        taps = tuple(taps)
        if not taps or min(taps) < 0 or max(taps) > 18 or list(taps) != sorted(set(taps)):
            raise ValueError(f"taps must be increasing indices in 0..18, got {taps}")
        self.taps = taps
        blocks: list[nn.Module] = [_conv_bn_relu6(3, 32, stride=2)]
        in_ch = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                blocks.append(InvertedResidual(in_ch, c, s if i == 0 else 1, t))
                in_ch = c
        blocks.append(_conv_bn_relu6(in_ch, 1280, kernel=1))
        self.features = nn.Sequential(*blocks[: max(taps) + 1])
        self.channels = tuple(CHANNELS[i] for i in taps)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out
