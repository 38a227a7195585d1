"""Building blocks of the TIC generator: conv blocks and the RRDB of ESRGAN (Wang et al. 2018)."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights


def fuse_batchnorm(module: nn.Module) -> nn.Module:
    """An inference copy of ``module`` (eval mode) in which every ``Conv2d`` followed by a
    ``BatchNorm2d`` in an ``nn.Sequential`` is one convolution (the BatchNorm's scale and shift
    folded into its weights; the BatchNorm replaced by ``nn.Identity``). The same outputs up to
    float rounding, without a pass over every activation per BatchNorm; ``module`` is unchanged
    (its weights are what a model folder stores)."""
    fused = copy.deepcopy(module).eval()
    for seq in fused.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                # in place: ``conv`` is already the copy's (fuse_conv_bn_eval would copy it again)
                conv.weight, conv.bias = fuse_conv_bn_weights(
                    conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
                    bn.bias,
                )
                seq._modules[b] = nn.Identity()
    return fused


def conv_bn_relu(in_ch: int, out_ch: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """3x3 conv, BatchNorm, ReLU: the paper's convolution block (``kernel`` 1 for a 1x1 conv)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the output is scaled by ``beta`` and added to the input.

    The paper puts BatchNorm after each conv (ESRGAN removed it); ``norm`` keeps both options.
    """

    def __init__(self, channels: int, growth: int, beta: float, norm: bool):
        super().__init__()
        self.beta = beta
        layers = []
        for i in range(5):
            in_ch = channels + i * growth
            out_ch = channels if i == 4 else growth
            parts: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=not norm)]
            if norm:
                parts.append(nn.BatchNorm2d(out_ch))
            if i < 4:
                parts.append(nn.LeakyReLU(0.2, inplace=True))
            layers.append(nn.Sequential(*parts))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for layer in self.layers[:-1]:
            feats.append(layer(torch.cat(feats, 1)))
        out = self.layers[-1](torch.cat(feats, 1))
        # Empirically (ESRGAN) scaling the residual by 0.2 keeps deep stacks stable.
        return x + self.beta * out


class RRDB(nn.Module):
    """Residual in Residual Dense Block: three dense blocks inside a scaled residual."""

    def __init__(self, channels: int, growth: int = 32, beta: float = 0.2, norm: bool = True):
        super().__init__()
        self.beta = beta
        self.blocks = nn.Sequential(
            *(ResidualDenseBlock(channels, growth, beta, norm) for _ in range(3))
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.beta * self.blocks(x)
