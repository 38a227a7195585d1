"""A U-Net on a pretrained ImageNet encoder, with text at the sentence and at the token level.

Not in the paper: its scratch U-Net (``tic.models.Generator``) has no visual knowledge beyond its
training photos. Here the encoder is ImageNet MobileNetV2 (``tic.models.mobilenet``), frozen by
default, fed the gray image as ImageNet RGB (L repeated to three channels, ImageNet
normalisation). Its features at 1/32, 1/16, 1/8 and 1/4 of the input go into a decoder:

- 1/32: 1x1 conv 1280 -> ``widths[0]``; then at every level, going up by 2x (bilinear):
  concatenation with the encoder's skip features, two 3x3 conv-BN-ReLU (one at 1/4);
- after every level, a FiLM from the sentence vector ``text_emb`` (scale and shift per channel);
- at the ``cross_attention`` coarsest levels, cross-attention from the image features to the
  text's token features (``TextCrossAttention``): a region can read the colour of the words that
  name it, which one sentence vector cannot say ("a red car and a blue house");
- with ``grounding``, a hint ``(a * s, b * s, s)`` at every level: where each colour-naming
  phrase's object is and its colour, made outside the network (``tic.decoding.grounding_hint``),
  added through a small zero-initialised 1x1 network;
- with ``object_head``, a class-agnostic foreground head (``ObjectHead``);
- with ``hints``, ``HintSpread``: colours given at points spread over the picture (``spread``);
- with ``palette``, ``PaletteHint``: a palette's colours leaned onto where they fit (``lean``);
- two heads at 1/4: ``ab`` regression (tanh, normalised units) and logits over the quantised ab
  plane (``tic.ab_bins``).

Which head gives the picture's colours, and everything else that turns these tensors into ab
(palettes, painting the named objects), is ``tic.decoding``'s. ``encode(L)`` and
``decode(features, ...)`` are separate so that training with a frozen encoder can compute the
encoder's features once per image and reuse them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic import ab_bins
from tic.config import EncoderUNetConfig
from tic.models.blocks import conv_bn_relu
from tic.models.hint_spread import HintSpread
from tic.models.mobilenet import MobileNetV2Features
from tic.models.object_head import ObjectHead
from tic.models.palette_hint import PaletteHint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TAPS = (3, 6, 13, 18)  # MobileNetV2 features[i]: 24 @ 1/4, 32 @ 1/8, 96 @ 1/16, 1280 @ 1/32


class FiLM(nn.Module):
    """``feat * (1 + gamma) + beta`` with per-channel ``gamma, beta`` from ``text_emb (B, D)``."""

    def __init__(self, text_dim: int, hidden: int, channels: int):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(text_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 2 * channels),
        )
        nn.init.zeros_(self.fc[-1].weight)  # starts as the identity
        nn.init.zeros_(self.fc[-1].bias)

    def forward(self, feat: Tensor, text_emb: Tensor) -> Tensor:
        gamma, beta = self.fc(text_emb)[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return feat * (1 + gamma) + beta


class TextCrossAttention(nn.Module):
    """Image features ``(B, C, h, w)`` attend to token features ``(B, T, Dt)``.

    Queries from the (group-normalised) image features, keys and values from the tokens, plus one
    learned "no word" token that is always there (so the empty text, and a region no word names,
    attend to something). The output projection starts at zero, so the block starts as the
    identity and the residual adds what the words say about each position.
    """

    def __init__(self, channels: int, token_dim: int, dim: int, heads: int):
        super().__init__()
        self.norm = nn.GroupNorm(math.gcd(32, channels), channels)
        self.q = nn.Conv2d(channels, dim, 1)
        self.kv = nn.Linear(token_dim, 2 * dim)
        self.null = nn.Parameter(torch.zeros(1, 1, token_dim))
        self.out = nn.Conv2d(dim, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.heads = heads

    def forward(self, feat: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        B, C, h, w = feat.shape
        tokens = torch.cat([self.null.expand(B, -1, -1).to(tokens.dtype), tokens], dim=1)
        keep = torch.cat([mask.new_ones(B, 1), mask], dim=1).bool()  # (B, 1 + T)
        q = self.q(self.norm(feat)).flatten(2).transpose(1, 2)  # (B, hw, dim)
        k, v = self.kv(tokens).chunk(2, dim=-1)  # (B, 1 + T, dim) each

        def split(x: Tensor) -> Tensor:  # (B, n, dim) -> (B, heads, n, dim / heads)
            return x.view(B, x.shape[1], self.heads, -1).transpose(1, 2)

        attn = F.scaled_dot_product_attention(
            split(q), split(k), split(v), attn_mask=keep[:, None, None, :]
        )  # (B, heads, hw, dim / heads)
        attn = attn.transpose(1, 2).reshape(B, h * w, -1).transpose(1, 2).reshape(B, -1, h, w)
        return feat + self.out(attn)


def _hint_net(channels: int) -> nn.Sequential:
    """Hint channels ``(a * s, b * s, s)`` -> a residual for ``channels``; starts at zero."""
    net = nn.Sequential(nn.Conv2d(3, 32, 1), nn.ReLU(inplace=True), nn.Conv2d(32, channels, 1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class EncoderUNet(nn.Module):
    """``forward(L, text_emb, tokens, token_mask, hint) -> (ab, logits)`` at 1/4 of the input.

    - ``L``: ``(B, 1, H, W)`` in [-1, 1], H and W multiples of 32.
    - ``text_emb``: ``(B, text_dim)`` sentence vectors.
    - ``tokens``: ``(B, T, token_dim)`` token features and ``token_mask`` ``(B, T)`` (1 = token,
      0 = padding); both may be None when the model has no cross-attention, and T may be 0.
    - ``hint``: ``(B, 3, h, w)`` (any size; a grounding model's, ``tic.decoding.grounding_hint``);
      None for a model without grounding, zeros (no phrase) for one with it.
    - returns ``ab`` ``(B, 2, H/4, W/4)`` in [-1, 1] from the regression head and ``logits``
      ``(B, Q, H/4, W/4)`` over ``bin_centers``.
    """

    def __init__(self, cfg: EncoderUNetConfig):
        super().__init__()
        if cfg.encoder != "mobilenet_v2":
            raise ValueError(f"EncoderUNet needs encoder 'mobilenet_v2', got {cfg.encoder!r}")
        self.cfg = cfg
        self.encoder = MobileNetV2Features(taps=TAPS)
        if cfg.encoder_frozen:
            self.encoder.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("bin_centers", ab_bins.bin_centers(), persistent=False)
        skips = self.encoder.channels[::-1]  # 1280, 96, 32, 24
        widths = cfg.decoder_widths
        if len(widths) != len(skips):
            raise ValueError(f"decoder_widths needs {len(skips)} values, got {widths}")
        self.stem = conv_bn_relu(skips[0], widths[0], kernel=1)
        self.levels = nn.ModuleList()
        for i in range(1, len(widths)):
            convs = [conv_bn_relu(widths[i - 1] + skips[i], widths[i])]
            if i < len(widths) - 1:  # the 1/4 level is the largest: one conv there
                convs.append(conv_bn_relu(widths[i], widths[i]))
            self.levels.append(nn.Sequential(*convs))
        self.film = nn.ModuleList(FiLM(cfg.text_dim, cfg.text_hidden, w) for w in widths)
        self.attn = nn.ModuleList(
            TextCrossAttention(w, cfg.token_dim, cfg.attention_dim, cfg.attention_heads)
            for w in widths[: cfg.cross_attention]
        )
        self.hint = nn.ModuleList(_hint_net(w) for w in widths) if cfg.grounding else None
        self.objects = ObjectHead(skips) if cfg.object_head else None
        self.hints = HintSpread((skips[1], skips[2])) if cfg.hints else None
        self.palette = PaletteHint((skips[1], skips[2])) if cfg.palette else None
        self.to_ab = nn.Conv2d(widths[-1], 2, 3, padding=1)
        self.to_logits = nn.Conv2d(widths[-1], len(self.bin_centers), 1)

    def train(self, mode: bool = True) -> EncoderUNet:
        super().train(mode)
        if self.cfg.encoder_frozen:
            self.encoder.eval()  # frozen: BatchNorm keeps ImageNet's statistics
        return self

    def encode(self, L: Tensor) -> list[Tensor]:
        """``L`` ``(B, 1, H, W)`` in [-1, 1] -> encoder features, deepest first."""
        gray = ((L + 1) / 2).expand(-1, 3, -1, -1)  # L* / 100 as R = G = B
        x = (gray - self.mean.to(L.dtype)) / self.std.to(L.dtype)
        return self.encoder(x)[::-1]

    def object_logits(self, feats: list[Tensor]) -> Tensor:
        """``ObjectHead``'s foreground logits ``(B, 1, h, w)`` at 1/4 (``cfg.object_head``)."""
        if self.objects is None:
            raise ValueError("this generator has no object head (encoder_unet.object_head)")
        return self.objects(feats)

    def spread(self, feats: list[Tensor], L: Tensor, auto: Tensor, yx: Tensor, ab: Tensor,
               valid: Tensor) -> Tensor:
        """``HintSpread``'s ab ``(B, 2, h, w)``: the automatic ``auto`` with the point hints
        ``(yx, ab, valid)`` spread over it (``cfg.hints``; see ``HintSpread``)."""
        if self.hints is None:
            raise ValueError("this generator has no hint module (encoder_unet.hints)")
        return self.hints(feats, L, auto, yx, ab, valid)

    def lean(self, feats: list[Tensor], L: Tensor, logits: Tensor, ab: Tensor,
             valid: Tensor) -> Tensor:
        """``PaletteHint``'s logits ``(B, Q, h, w)``: the bins head's ``logits`` leaned towards
        the palette colours ``ab`` ``(B, P, 2)`` (``valid`` ``(B, P)``) where they fit
        (``cfg.palette``; see ``PaletteHint``)."""
        if self.palette is None:
            raise ValueError("this generator has no palette module (encoder_unet.palette)")
        return self.palette(feats, L, logits, self.bin_centers, ab, valid)

    def decode(
        self, feats: list[Tensor], text_emb: Tensor, tokens: Tensor | None = None,
        token_mask: Tensor | None = None, hint: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Encoder features -> ``(ab, logits)`` at 1/4 of the input (see the class doc)."""
        text_emb = text_emb.to(feats[0].dtype)
        if self.attn:
            if tokens is None:
                tokens = text_emb.new_zeros(text_emb.shape[0], 0, self.cfg.token_dim)
                token_mask = text_emb.new_zeros(text_emb.shape[0], 0)
            tokens = tokens.to(feats[0].dtype)
        if self.hint is not None and hint is None:  # no phrase: the hint nets still add their bias
            hint = feats[0].new_zeros(feats[0].shape[0], 3, *feats[0].shape[-2:])
        x = self.stem(feats[0])
        for i, skip in enumerate([None, *feats[1:]]):
            if skip is not None:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = self.levels[i - 1](torch.cat([x, skip], dim=1))
            if self.hint is not None:
                h = F.interpolate(hint.to(x.dtype), size=x.shape[-2:], mode="bilinear",
                                  align_corners=False)
                x = x + self.hint[i](h)
            x = self.film[i](x, text_emb)
            if i < len(self.attn):
                x = self.attn[i](x, tokens, token_mask)
        return self.to_ab(x).tanh(), self.to_logits(x)

    def check_inputs(self, L: Tensor, text_emb: Tensor) -> None:
        """``ValueError`` naming the problem unless ``L`` is ``(B, 1, H, W)`` with H and W
        multiples of 32 and ``text_emb`` is ``(B, text_dim)`` (``forward`` and
        ``tic.decoding.predict_ab`` check with it)."""
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"L must have shape (B, 1, H, W), got {tuple(L.shape)}")
        if L.shape[-2] % 32 or L.shape[-1] % 32:
            raise ValueError(f"L's H and W must be multiples of 32, got {tuple(L.shape[-2:])}")
        if text_emb.ndim != 2 or text_emb.shape != (L.shape[0], self.cfg.text_dim):
            raise ValueError(
                f"text_emb must have shape ({L.shape[0]}, {self.cfg.text_dim}), "
                f"got {tuple(text_emb.shape)}"
            )

    def forward(
        self, L: Tensor, text_emb: Tensor, tokens: Tensor | None = None,
        token_mask: Tensor | None = None, hint: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        self.check_inputs(L, text_emb)
        return self.decode(self.encode(L), text_emb, tokens, token_mask, hint)
