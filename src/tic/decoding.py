"""Decoding: from a network's tensors to the picture's ab, by the model's ``DecodingConfig``.

The networks (``tic.models``) only compute tensors. This module is the policy that turns them into
colours, the one place ``Colorizer`` (and so the CLI, the web app and evaluation) calls:

1. **Grounding hint** (``grounding_hint``, models with ``encoder_unet.grounding``): each
   colour-naming phrase's ImageNet class map (the encoder's own classifier at every position,
   matched to the phrase's noun, ``tic.grounding``) carrying its colour, the decoder's input.
2. **Which head** (``ab_from_heads``): the regression head or the bins head's annealed mean
   (``decoding.ab_head``; ``ab_head_no_colour`` for texts that name no colour, at
   ``no_colour_chroma``); a palette text ("a photo of a dog in green and gray") leans the bins
   head to its colours (``palette_prior``) and takes more chroma near them (``palette_chroma``,
   ``palette_hue_width``, ``palette_hue_skip``).
   With ``encoder_unet.palette`` the network's ``PaletteHint`` leans the bins head towards the
   palette's colours where they fit (``lean_palette``) instead of ``palette_prior``.
3. **Point hints** (models with ``encoder_unet.hints``): colours a user gave at points spread over
   the decoded colours (``tic.models.HintSpread``).
4. **Painting** (``paint``, ``decoding.paint_objects``): the object head's foreground split
   between the text's objects (``tic.binding``; with ``person_faces`` a named person placed
   under a face, ``tic.faces``) and each part painted in its phrase's colour, edges refined on the
   gray image. With ``paint_on_automatic`` a text whose colours are all painted
   (``painted_only``) is decoded as the empty text first, so the paint is all it changes.

``predict_ab(network, config, L, text)`` runs all of it; a paper U-Net's ab is its output as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic import ab_bins, binding, grounding
from tic.color import AB_SCALE
from tic.config import DecodingConfig, ModelConfig
from tic.errors import TicError
from tic.faces import detect_faces


def predict_ab(network: nn.Module, config: ModelConfig, L: Tensor, text: tuple,
               hints: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
    """``L`` ``(B, 1, s, s)`` in [-1, 1] and the network's text inputs
    (``tic.pipeline.encode_text``) -> ``ab`` ``(B, 2, s, s)`` in [-1, 1]. ``hints``: point hints
    ``(yx (B, N, 2), ab (B, N, 2), valid (B, N))`` (``tic.hints.batch_points``), spread over the
    decoded colours by the network's ``HintSpread`` before painting; a model without one given a
    point is a ``TicError``."""
    pointed = hints is not None and bool(hints[2].any())
    if pointed:
        check_takes_hints(config)
    if config.architecture == "unet":
        return network(L, *text)
    cfg = config.decoding
    text_emb, tokens, token_mask = (*text[:3], None, None)[:3]
    objects = tuple(text[3:])  # a grounding model's phrases: nouns, colours, kinds
    network.check_inputs(L, text_emb)
    feats = network.encode(L)
    kind, obj_ab = (objects[2], objects[1]) if objects else (None, None)
    if objects and cfg.paint_on_automatic:  # all painted: the decoder reads the empty text
        plain = painted_only(kind)[:, None]
        text_emb = text_emb.masked_fill(plain, 0)
        token_mask = None if token_mask is None else token_mask.masked_fill(plain, 0)
        kind = kind.masked_fill(plain, 0)
    hint = grounding_hint(feats, objects[0], obj_ab, kind, cfg.person_nouns) if objects else None
    ab, logits = network.decode(feats, text_emb, tokens, token_mask, hint)
    logits = lean_palette(network, feats, L, logits, obj_ab, kind)
    ab = ab_from_heads(cfg, network.bin_centers, ab, logits, kind, obj_ab)
    if pointed:
        ab = network.spread(feats, L, ab, *hints)
    ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
    if cfg.paint_objects and objects:
        ab = paint(network, cfg, L, feats, ab, *objects)
    return ab


def painted_only(kind: Tensor) -> Tensor:
    """``(B,)``: the texts whose colour phrases are all painted (``OBJECT`` and ``WHOLE``: things
    and the background) and that name at least one thing."""
    painted = (kind == grounding.OBJECT) | (kind == grounding.WHOLE)
    return (painted | (kind == 0)).all(1) & (kind == grounding.OBJECT).any(1)


def lean_palette(network: nn.Module, feats: list[Tensor], L: Tensor, logits: Tensor,
                 obj_ab: Tensor | None, kind: Tensor | None) -> Tensor:
    """The bins head's ``logits`` leaned towards the text's palette colours (its ``PALETTE``
    phrases) by the network's ``PaletteHint`` (``encoder_unet.palette``); as they are for a
    network without one or a batch without palettes."""
    if getattr(network, "palette", None) is None or kind is None:
        return logits
    valid = kind == grounding.PALETTE
    if not valid.any():
        return logits
    return network.lean(feats, L, logits, obj_ab, valid)


def takes_hints(config: ModelConfig) -> bool:
    """Whether a model spreads point hints (an encoder U-Net with ``encoder_unet.hints``)."""
    return config.architecture == "encoder_unet" and config.encoder_unet.hints


def check_takes_hints(config: ModelConfig) -> None:
    """The ``TicError`` of a model given points it cannot take (``takes_hints`` false)."""
    if not takes_hints(config):
        raise TicError("this model takes no point hints (its encoder_unet.hints is off)")


def class_inputs(feats: list[Tensor], nouns: Tensor, person_nouns: bool):
    """What the phrases are matched with: each phrase's ImageNet class weights ``(B, P, 1000)``
    (``tic.grounding.class_weights``) and the encoder's classifier ``(W, b)``, in the dtype and
    on the device of the features ``feats`` (deepest first)."""
    classes = grounding.load_classes()
    like = feats[0]
    weights = grounding.class_weights(nouns.float(), person_nouns)
    return weights.to(like.dtype), (classes["weight"].to(like.device, like.dtype),
                                    classes["bias"].to(like.device, like.dtype))


def grounding_hint(feats: list[Tensor], nouns: Tensor, obj_ab: Tensor, kind: Tensor,
                   person_nouns: bool = False) -> Tensor:
    """The decoder's hint ``(B, 3, h, w)`` at 1/32 (``tic.grounding.hint_maps``): each phrase's
    class map (``tic.grounding.object_maps``) with its colour. ``nouns`` ``(B, P, 384)``,
    ``obj_ab`` ``(B, P, 2)``, ``kind`` ``(B, P)``: ``tic.grounding.encode_objects``."""
    if nouns.shape[1] == 0:
        maps = feats[0].new_zeros(feats[0].shape[0], 0, *feats[0].shape[-2:])
    else:
        maps = grounding.object_maps(feats[0], *class_inputs(feats, nouns, person_nouns))
    return grounding.hint_maps(maps, obj_ab, kind)


def bins_ab(cfg: DecodingConfig, centers: Tensor, logits: Tensor,
            prior: Tensor | None = None) -> Tensor:
    """The bins head's ab (normalised, ``(B, 2, h, w)``): its annealed mean over ``centers``
    ``(Q, 2)`` at ``cfg.bins_temperature``, with ``prior`` (log-weights ``(B, Q, 1, 1)``) added to
    the logits first when given."""
    if prior is not None:
        logits = logits.float() + prior
    mean = ab_bins.annealed_mean(logits, centers, cfg.bins_temperature)
    return (mean / AB_SCALE).clamp(-1, 1)


def ab_from_heads(cfg: DecodingConfig, centers: Tensor, ab: Tensor, logits: Tensor,
                  kind: Tensor | None = None, obj_ab: Tensor | None = None) -> Tensor:
    """The output ab (normalised, ``(B, 2, h, w)``) from the regression head's ``ab`` and the
    bins head's ``logits``, by ``cfg`` (see the module doc). ``kind`` ``(B, P)`` and ``obj_ab``
    ``(B, P, 2)``: the text's phrases (a grounding model's; None: every text decodes alike)."""
    prior = None
    if cfg.palette_prior and kind is not None and obj_ab is not None:
        prior = grounding.palette_prior(centers.float(), obj_ab, kind, cfg.palette_prior)
    main = ab if cfg.ab_head == "regression" else bins_ab(cfg, centers, logits, prior)
    if kind is None:
        return main
    if cfg.palette_chroma != 1:
        palette = (kind == grounding.PALETTE).any(1)[:, None, None, None]
        scale = cfg.palette_chroma
        if cfg.palette_hue_width is not None and obj_ab is not None:
            near = grounding.palette_hue_weight(main, obj_ab, kind, cfg.palette_hue_width,
                                                cfg.palette_hue_skip)
            scale = 1.0 + (scale - 1.0) * near.to(main.dtype)
        main = torch.where(palette, (main * scale).clamp(-1, 1), main)
    other = cfg.ab_head_no_colour or cfg.ab_head
    if other == cfg.ab_head and cfg.no_colour_chroma == 1:
        return main
    if other == cfg.ab_head:
        plain = main
    else:
        plain = ab if other == "regression" else bins_ab(cfg, centers, logits)
    named = (kind > 0).any(1)[:, None, None, None]
    return torch.where(named, main, plain * cfg.no_colour_chroma)


def paint(network: nn.Module, cfg: DecodingConfig, L: Tensor, feats: list[Tensor], ab: Tensor,
          obj_nouns: Tensor, obj_ab: Tensor, obj_kind: Tensor) -> Tensor:
    """``ab`` ``(B, 2, H, W)`` at the size of ``L`` with each named object's colour painted on
    the part of the object head's foreground that is its (``tic.binding``: split at 1/4, edges
    refined on the gray image). Texts that name no object are returned as they are."""
    if not (obj_kind == grounding.OBJECT).any():
        return ab
    prob = network.object_logits(feats).sigmoid().to(ab.dtype)
    gray = (L + 1) / 2  # L / 100: the face detector's input and the edges' guide
    faces = persons = None
    if cfg.person_faces:
        objects = obj_kind == grounding.OBJECT
        persons = (grounding.person_share(obj_nouns.float()) > grounding.PERSON_SHARE) & objects
        if ((persons.sum(1) == 1) & (objects.sum(1) >= 2)).any():  # else nothing to place
            faces = detect_faces(gray.float())
    owners = binding.split_objects(prob, obj_kind, feats,
                                   *class_inputs(feats, obj_nouns, cfg.person_nouns),
                                   threshold=cfg.object_threshold, faces=faces, persons=persons)
    owners = binding.refine_owners(owners, gray.to(ab.dtype))
    return binding.paint_objects(ab, owners, obj_ab)
