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
- with ``grounding``, hints at every level: where each colour-naming phrase's object is and its
  colour (``tic.grounding.hint_maps``; the maps: ImageNet class activation maps of the encoder's
  own classifier matched to the phrase's noun, at 1/32, or with ``grounding_maps: learned`` a
  ``GroundingHead`` trained on known masks, at 1/16), added through a small zero-initialised 1x1
  network;
- with ``hint_logits``, a direct path from the hints to the bins head: at 1/4, each position's
  logits get ``- gate * s * |c_q - ab_hint|^2 / (2 HINT_SIGMA^2)`` (``s`` the hint's weight,
  ``ab_hint`` its colour, ``c_q`` the bin centres), the gate learned from the features and the
  hint (``HintGate``), so a hinted colour can win on the object without passing through every
  level;
- with ``object_head``, a class-agnostic foreground head (``ObjectHead``) and with
  ``paint_objects`` the named colours painted on the objects at decoding (``tic.binding``,
  ``paint``); with ``instance_dim``, an instance embedding (``InstanceHead``) that the split of
  the foreground between the objects clusters;
- two heads at 1/4: ``ab`` regression (tanh, normalised units) and logits over the quantised ab
  plane (``tic.ab_bins``). ``cfg.ab_head`` picks the one ``forward`` returns: ``regression`` or
  ``bins`` (annealed mean at ``cfg.bins_temperature``); ``cfg.ab_head_no_colour`` may pick
  another for texts that name no colour (the empty text). ab is upsampled bilinearly to the input
  size (the full-resolution L is put back by the pipeline, so detail comes from L).

``encode(L)`` and ``decode(features, ...)`` are separate so that training with a frozen encoder can
compute the encoder's features once per image and reuse them (the gray input does not change when
a composite's objects are recoloured).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic import ab_bins, binding, grounding
from tic.color import AB_SCALE
from tic.config import GeneratorConfig
from tic.faces import detect_faces
from tic.models.blocks import conv_bn_relu
from tic.models.grounding_head import GroundingHead
from tic.models.mobilenet import MobileNetV2Features
from tic.models.object_head import InstanceHead, ObjectHead

HINT_SIGMA = 20.0  # ab units: how far from a hinted colour its bins are raised (bins 10 apart)
GATE_BIAS = -4.0  # the direct hint path starts almost closed (softplus(-4) = 0.018)
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


class HintGate(nn.Module):
    """The direct hint path (``GeneratorConfig.hint_logits``): ``logits (B, Q, h, w)``, features
    ``(B, C, h, w)``, hint ``(B, 3, h, w)`` ``(a * s, b * s, s)`` -> logits with the bins near
    the hinted colour raised where the gate ``softplus(conv(features, hint))`` is open."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels + 3, 1, 1)
        nn.init.zeros_(self.conv.weight)
        nn.init.constant_(self.conv.bias, GATE_BIAS)

    def forward(self, logits: Tensor, feat: Tensor, hint: Tensor, centers: Tensor) -> Tensor:
        s = hint[:, 2:3]
        ab = hint[:, :2] / s.clamp_min(1e-3) * AB_SCALE  # the hinted colour, ab units
        d2 = (centers.to(ab.dtype)[None, :, :, None, None] - ab[:, None]).pow(2).sum(2)
        gate = F.softplus(self.conv(torch.cat([feat, hint], dim=1)))
        return logits - gate * s * d2 / (2 * HINT_SIGMA**2)


class EncoderUNet(nn.Module):
    """``forward(L, text_emb, tokens, token_mask) -> ab``.

    - ``L``: ``(B, 1, H, W)`` in [-1, 1], H and W multiples of 32.
    - ``text_emb``: ``(B, text_dim)`` sentence vectors.
    - ``tokens``: ``(B, T, token_dim)`` token features and ``token_mask`` ``(B, T)`` (1 = token,
      0 = padding); both may be None when the model has no cross-attention, and T may be 0.
    - returns ``ab``: ``(B, 2, H, W)`` in [-1, 1].
    """

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        if cfg.encoder != "mobilenet_v2":
            raise ValueError(f"EncoderUNet needs encoder 'mobilenet_v2', got {cfg.encoder!r}")
        if cfg.split_ranker and len(cfg.split_ranker) != binding.RANKER_FEATURES:
            raise ValueError(f"generator.split_ranker needs {binding.RANKER_FEATURES} weights "
                             "(one per feature of tic.binding.split_candidates), got "
                             f"{len(cfg.split_ranker)}")
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
        if cfg.grounding:
            classes = grounding.load_classes()
            self.register_buffer("class_weight", classes["weight"], persistent=False)
            self.register_buffer("class_bias", classes["bias"], persistent=False)
        self.locate = (GroundingHead(skips[0], skips[1], grounding.NOUN_DIM)
                       if cfg.grounding and cfg.grounding_maps == "learned" else None)
        self.hint_gate = HintGate(widths[-1]) if cfg.grounding and cfg.hint_logits else None
        self.objects = ObjectHead(skips) if cfg.object_head else None
        self.instances = (InstanceHead(skips[:-1], cfg.instance_dim) if cfg.instance_dim
                          else None)
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

    def phrase_logits(self, feats: list[Tensor], nouns: Tensor) -> Tensor | None:
        """The learned maps' logits ``(B, P, h, w)`` at 1/16 (``GroundingHead``); None for a
        model whose maps are the ImageNet class maps alone."""
        if self.locate is None:
            return None
        return self.locate(feats[0], feats[1], nouns, self.class_maps(feats, nouns))

    def phrase_maps(self, feats: list[Tensor], nouns: Tensor) -> Tensor:
        """Where each phrase's object is, ``(B, P, h, w)`` in [0, 1]: the learned maps at 1/16
        or the class maps at 1/32 (with ``cfg.grounding_ranks``, ranked within the image for
        texts that name two or more objects: ranks arbitrate between phrases, and a single
        object's ranked map would cover half the picture)."""
        if nouns.shape[1] == 0:
            return feats[0].new_zeros(feats[0].shape[0], 0, *feats[0].shape[-2:])
        logits = self.phrase_logits(feats, nouns)
        if logits is not None:
            return logits.sigmoid()
        maps = self.class_maps(feats, nouns)
        if not self.cfg.grounding_ranks:
            return maps
        several = ((nouns.abs().sum(-1) > 0).sum(1) > 1)[:, None, None, None]  # object phrases
        return torch.where(several, grounding.rank_maps(maps), maps)

    def object_logits(self, feats: list[Tensor]) -> Tensor:
        """``ObjectHead``'s foreground logits ``(B, 1, h, w)`` at 1/4 (``cfg.object_head``)."""
        if self.objects is None:
            raise ValueError("this generator has no object head (generator.object_head)")
        return self.objects(feats)

    def instance_embedding(self, feats: list[Tensor]) -> Tensor:
        """``InstanceHead``'s embedding ``(B, instance_dim, h, w)`` at 1/8 (``cfg.instance_dim``)."""
        if self.instances is None:
            raise ValueError("this generator has no instance head (generator.instance_dim)")
        return self.instances(feats)

    def paint(self, L: Tensor, feats: list[Tensor], ab: Tensor, obj_nouns: Tensor,
              obj_ab: Tensor, obj_kind: Tensor) -> Tensor:
        """``ab`` ``(B, 2, H, W)`` at the size of ``L`` with each named object's colour painted
        on the part of the foreground that is its (``tic.binding``: split at 1/4, edges refined
        on the gray image)."""
        if not (obj_kind == grounding.OBJECT).any():
            return ab
        prob = self.object_logits(feats).sigmoid().to(ab.dtype)
        emb = self.instance_embedding(feats).to(ab.dtype) if self.instances is not None else None
        classify = None if self.cfg.group_crops is None else functools.partial(self.crop_logp, L)
        ranker = torch.tensor(self.cfg.split_ranker) if self.cfg.split_ranker else None
        gray = (L + 1) / 2  # L / 100: the face detector's input and the edges' guide
        faces = persons = None
        if self.cfg.person_faces:
            objects = obj_kind == grounding.OBJECT
            persons = (grounding.person_share(obj_nouns.float()) > grounding.PERSON_SHARE) \
                & objects
            if ((persons.sum(1) == 1) & (objects.sum(1) >= 2)).any():  # else nothing to place
                faces = detect_faces(gray.float())
        owners = binding.split_objects(prob, obj_kind, feats, *self.class_inputs(feats, obj_nouns),
                                       threshold=self.cfg.object_threshold,
                                       spare_margin=self.cfg.spare_group_margin, embedding=emb,
                                       embedding_position=self.cfg.instance_position,
                                       classify=classify, ranker=ranker, faces=faces,
                                       persons=persons)
        owners = binding.refine_owners(owners, gray.to(ab.dtype))
        return binding.paint_objects(ab, owners, obj_ab)

    def crop_logp(self, L: Tensor, b: int, regions: Tensor) -> Tensor:
        """ImageNet log-probabilities ``(G, 1000)`` of image ``b``'s groups ``regions``
        ``(G, h, w)`` bool, each seen alone (``tic.binding.group_crops`` of ``L``, margin
        ``cfg.group_crops``, side ``cfg.group_crop_size``): the encoder's 1/32 features
        averaged over the crop, through its ImageNet classifier, as it was trained."""
        crops = binding.group_crops(L[b], regions, self.cfg.group_crops, self.cfg.group_crop_size)
        deep = self.encode(crops)[0].mean((2, 3))  # (G, 1280)
        return binding.class_logp(deep, (self.class_weight, self.class_bias))

    def class_inputs(self, feats: list[Tensor], nouns: Tensor):
        """What ``tic.binding.split_objects`` matches groups with: each phrase's ImageNet class
        weights ``(B, P, 1000)`` and the classifier ``(W, b)``."""
        weights = grounding.class_weights(nouns.float(), self.cfg.person_nouns)
        dtype = feats[0].dtype
        return weights.to(dtype), (self.class_weight.to(dtype), self.class_bias.to(dtype))

    def class_maps(self, feats: list[Tensor], nouns: Tensor) -> Tensor:
        """Each phrase's ImageNet class map ``(B, P, h, w)`` at 1/32 (``tic.grounding.class_maps``)."""
        return grounding.object_maps(feats[0], *self.class_inputs(feats, nouns))

    def decode(
        self, feats: list[Tensor], text_emb: Tensor, tokens: Tensor | None = None,
        token_mask: Tensor | None = None, obj_nouns: Tensor | None = None,
        obj_ab: Tensor | None = None, obj_kind: Tensor | None = None,
        maps: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Encoder features -> ``(ab, logits)`` at 1/4 of the input: ``ab`` ``(B, 2, h, w)`` in
        [-1, 1] from the regression head, ``logits`` ``(B, Q, h, w)`` over ``bin_centers``.
        ``obj_*``: the text's colour-naming phrases (``tic.grounding.encode_objects``), used
        when the model has ``grounding``; ``maps``: their ``phrase_maps`` when the caller has
        them already (training computes learned maps once for their loss and the decoder)."""
        text_emb = text_emb.to(feats[0].dtype)
        if self.attn:
            if tokens is None:
                tokens = text_emb.new_zeros(text_emb.shape[0], 0, self.cfg.token_dim)
                token_mask = text_emb.new_zeros(text_emb.shape[0], 0)
            tokens = tokens.to(feats[0].dtype)
        hint = None
        if self.hint is not None:
            if obj_nouns is None:
                obj_nouns = text_emb.new_zeros(text_emb.shape[0], 0, grounding.NOUN_DIM)
                obj_ab = text_emb.new_zeros(text_emb.shape[0], 0, 2)
                obj_kind = text_emb.new_zeros(text_emb.shape[0], 0)
            if maps is None:
                maps = self.phrase_maps(feats, obj_nouns)
            hint = grounding.hint_maps(maps, obj_ab, obj_kind)
        x = self.stem(feats[0])
        for i, skip in enumerate([None, *feats[1:]]):
            if skip is not None:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = self.levels[i - 1](torch.cat([x, skip], dim=1))
            if hint is not None:
                h = F.interpolate(hint, size=x.shape[-2:], mode="bilinear", align_corners=False)
                x = x + self.hint[i](h)
            x = self.film[i](x, text_emb)
            if i < len(self.attn):
                x = self.attn[i](x, tokens, token_mask)
        logits = self.to_logits(x)
        if self.hint_gate is not None:  # h: the hint at the last level's size, made above
            logits = self.hint_gate(logits, x, h, self.bin_centers)
        return self.to_ab(x).tanh(), logits

    def bins_ab(self, logits: Tensor, prior: Tensor | None = None) -> Tensor:
        """The bins head's ab (normalised, ``(B, 2, h, w)``): its annealed mean at
        ``cfg.bins_temperature``, with ``prior`` (log-weights ``(B, Q, 1, 1)``) added to the
        logits first when given."""
        if prior is not None:
            logits = logits.float() + prior
        mean = ab_bins.annealed_mean(logits, self.bin_centers, self.cfg.bins_temperature)
        return (mean / AB_SCALE).clamp(-1, 1)

    def ab_from_heads(self, ab: Tensor, logits: Tensor, kind: Tensor | None = None,
                      obj_ab: Tensor | None = None) -> Tensor:
        """The output ab (normalised, ``(B, 2, h, w)``) by ``cfg.ab_head``; with
        ``cfg.ab_head_no_colour`` and the phrases' ``kind`` ``(B, P)`` (a grounding model's), the
        texts that name no colour (empty, or "a photo of a dog") take that head instead, their
        ab multiplied by ``cfg.no_colour_chroma``. A palette text (one naming the picture's
        colours, ``tic.grounding.PALETTE``) has its ab multiplied by ``cfg.palette_chroma`` (with
        ``cfg.palette_hue_width`` only where the hue is near a named one, fading to
        ``cfg.palette_other_chroma`` away from them: ``tic.grounding.palette_hue_weight``), and
        with ``cfg.palette_prior`` and the phrases' ``obj_ab`` the bins head leans to its colours
        first (``tic.grounding.palette_prior``)."""
        prior = None
        if self.cfg.palette_prior and kind is not None and obj_ab is not None:
            prior = grounding.palette_prior(self.bin_centers.float(), obj_ab, kind,
                                            self.cfg.palette_prior)
        main = ab if self.cfg.ab_head == "regression" else self.bins_ab(logits, prior)
        if kind is None:
            return main
        if self.cfg.palette_chroma != 1:
            palette = (kind == grounding.PALETTE).any(1)[:, None, None, None]
            scale = self.cfg.palette_chroma
            if self.cfg.palette_hue_width is not None and obj_ab is not None:
                near = grounding.palette_hue_weight(main, obj_ab, kind,
                                                    self.cfg.palette_hue_width,
                                                    self.cfg.palette_hue_skip)
                other = self.cfg.palette_other_chroma
                scale = other + (scale - other) * near.to(main.dtype)
            main = torch.where(palette, (main * scale).clamp(-1, 1), main)
        other = self.cfg.ab_head_no_colour or self.cfg.ab_head
        scale = self.cfg.no_colour_chroma
        if other == self.cfg.ab_head and scale == 1:
            return main
        if other == self.cfg.ab_head:
            plain = main
        else:
            plain = ab if other == "regression" else self.bins_ab(logits)
        named = (kind > 0).any(1)[:, None, None, None]
        return torch.where(named, main, plain * scale)

    def forward(
        self, L: Tensor, text_emb: Tensor, tokens: Tensor | None = None,
        token_mask: Tensor | None = None, *objects: Tensor,
    ) -> Tensor:
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"L must have shape (B, 1, H, W), got {tuple(L.shape)}")
        if L.shape[-2] % 32 or L.shape[-1] % 32:
            raise ValueError(f"L's H and W must be multiples of 32, got {tuple(L.shape[-2:])}")
        if text_emb.ndim != 2 or text_emb.shape != (L.shape[0], self.cfg.text_dim):
            raise ValueError(
                f"text_emb must have shape ({L.shape[0]}, {self.cfg.text_dim}), "
                f"got {tuple(text_emb.shape)}"
            )
        feats = self.encode(L)
        ab, logits = self.decode(feats, text_emb, tokens, token_mask, *objects)
        kind, obj_ab = (objects[2], objects[1]) if len(objects) == 3 else (None, None)
        ab = self.ab_from_heads(ab, logits, kind, obj_ab)
        ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
        if self.cfg.paint_objects and len(objects) == 3:
            ab = self.paint(L, feats, ab, *objects)
        return ab
