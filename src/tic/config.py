"""Typed configs (dataclasses whose defaults are the paper's recipe) and strict loading.

``from_dict`` builds a (nested) dataclass from plain data and rejects unknown keys and wrong types
with an error that names the key, so a typo in a YAML file or a ``--set`` never passes silently.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from tic.color_names import COLOR_TERMS
from tic.errors import TicError


class ConfigError(TicError, ValueError):
    """A config is malformed: unknown key, wrong type, bad value."""


# --- models ----------------------------------------------------------------------------------


@dataclass
class GeneratorConfig:
    """The TIC generator (``tic.models.Generator``). Defaults are the paper's architecture.

    - ``width``: filters of every 3x3 conv ("64 filters in each convolution block").
    - ``depth``: number of stride-2 downsamplings. The paper says both "a 1x64x64 text map" (two
      downsamplings at 256x256) and "three up-samplings over four resolutions"; we read the second
      (depth 3: 256, 128, 64, 32) and resize the 64x64 text map to the bottleneck.
    - ``num_rrdb``: RRDB blocks at the bottleneck (the paper shows one).
    - ``text_dim``: size of the sentence vector; must equal the text encoder's ``dim``.
    - ``text_hidden`` / ``text_map``: FC sizes of the text pathway (256, then 64*64 = 4096).
    - ``text_fusion``: ``"multiply"`` (the paper: the 1x64x64 map multiplies every bottleneck
      channel) or ``"film"`` (our extension: a per-channel scale and shift from the text,
      ``feat * (1 + gamma) + beta``, which conditions colour more directly).
    - ``text_levels``: where the text enters: ``"bottleneck"`` (the paper) or, with ``film`` only,
      ``"all"`` (also a FiLM after every decoder level, so the text reaches the full-resolution
      features directly instead of only through the bottleneck).

    Our extension, a U-Net on a pretrained image encoder (``tic.models.EncoderUNet``):

    - ``encoder``: ``"scratch"`` (the paper's U-Net: the fields above) or ``"mobilenet_v2"``
      (ImageNet MobileNetV2 features at 1/4..1/32 into a decoder; ``width``, ``depth``, the RRDB
      fields, ``text_map``, ``text_fusion`` and ``text_levels`` are then unused: the text enters
      by FiLM after every decoder level). ``encoder_frozen``: keep the ImageNet weights fixed.
    - ``decoder_widths``: channels of the decoder at 1/32, 1/16, 1/8, 1/4.
    - ``cross_attention``: how many of the coarsest decoder levels attend to the text's tokens
      (0: none); ``token_dim`` is the token features' size (set from the text encoder, as
      ``text_dim``); ``attention_dim`` / ``attention_heads`` size the attention.
    - ``ab_head``: the output ab from the ``regression`` head, or from the ``bins`` head (a
      distribution over quantised ab, ``tic.ab_bins``) by its annealed mean at
      ``bins_temperature``. Both heads are trained; this picks the one used.
      ``ab_head_no_colour`` (grounding models): the head for texts that name no colour (the
      empty text, "a photo of a dog"); None: ``ab_head``. The bins head's rebalanced colours
      pay off when the text names them; without words the regression head's safer mean is
      measured better (MODEL_CARD.md).
    - ``grounding``: hints of where each colour-naming phrase's object is (``tic.grounding``:
      the encoder's ImageNet classifier at every position, matched to the phrase's noun by
      MiniLM) added at every decoder level; needs text_encoder.kind ``minilm``.
      ``grounding_maps``: where those objects are: ``imagenet`` (the class activation maps
      alone, untrained) or ``learned`` (``tic.models.GroundingHead``: the encoder's features at
      1/32 and 1/16 matched to the noun's vector, with the class maps as one input, trained on
      scenes whose object masks are known; maps at 1/16). For data whose masks cover the nouns
      users will write (COCO's instance masks): trained on the pools' 224 cut-out labels it found
      fewer held-out objects than the class maps alone (61.9% vs 75.0% after 300 steps: the
      held-out cut-outs are mostly people, which the training cut-outs barely show), so the
      shipped model does not use it.
      ``hint_logits`` (grounding models): the hints also reach the bins head directly: where a
      hint points, its colour's bins are raised by a learned, per-pixel gate (``EncoderUNet``).
      Without it the decoder, trained even on true masks as hints, kept painting both objects
      of "a purple deer and a blue tree" in the first colour named (MODEL_CARD.md, v6).
      ``grounding_ranks``: the class maps are replaced by their ranks within the image
      (``tic.grounding.rank_maps``) before the hints are made, for texts that name two or more
      objects, so a noun ImageNet barely knows still claims the places where its map is highest
      (a decoding choice: no weights change).
      ``object_head``: a class-agnostic foreground head on the encoder's features
      (``tic.models.ObjectHead``, trained with ``loss.lambda_objects`` on the scenes' masks).
      ``paint_objects`` (grounding and object_head): at decoding, the foreground is split between
      the text's objects and each part painted in its phrase's colour (``tic.binding``), so
      "a pink umbrella and a blue girl" puts pink on the umbrella; texts that name no object
      are decoded as before. ``object_threshold``: the object head's probability from which a
      pixel is an object's (``tic.binding.split_objects``). ``spare_group_margin`` (nats; null:
      off): split the foreground into one group more than the text names objects and leave the
      extra group unpainted unless a phrase fits it within this margin of its own group
      (``split_objects``' ``spare_margin``), so an object the text does not name keeps the
      decoder's colours.
      ``group_crops`` (margin; null: off): each group of the split is classified on its own
      picture, the gray input in a square around it (its longer side times ``1 + 2 *
      group_crops``, everything not the group mid-gray, ``group_crop_size`` pixels a side)
      through the encoder and its ImageNet classifier again, instead of the whole picture's
      1/32 features averaged over the group, which also see the other object and the
      background (``tic.binding.group_crops``; a decoding choice: no weights change; two more
      encoder passes for a text naming two objects).
      ``split_ranker`` (empty: off): for a text naming two objects, the split is chosen among
      candidates (k-means into 2-5 groups at two position weights, every way to give the two
      phrases distinct groups: ``tic.binding.split_candidates``) by a linear score of each
      candidate's ``tic.binding.RANKER_FEATURES`` features with these weights (fitted by
      ``benchmarks/assignment_screen.py`` on the training sources' binding scenes; a decoding
      choice: no network weights change).
      ``instance_dim`` (object_head; 0: off): an instance-embedding head of this many channels
      (``tic.models.InstanceHead``, trained with ``loss.lambda_instances`` on the scenes'
      object masks); the object split then clusters the foreground on that embedding and the
      position instead of the encoder's features (``split_objects``' ``embedding``), the
      position weighted ``instance_position`` (the (y, x) in [0, 1] against an embedding whose
      objects' means were trained 3 apart; 3 chosen on the training sources' binding scenes,
      MODEL_CARD.md).
      ``person_nouns`` (grounding models): nouns that name people ("a man", "a dancer") are
      matched to the ImageNet classes that show people (what they wear) instead of the class
      names MiniLM finds nearest ("mantis"; ``tic.grounding.PERSON_NOUNS``), for the hints and
      for the object split (a decoding choice: no weights change).
      ``person_faces`` (object_head and paint_objects): for a text naming two or more objects of
      which exactly one names people, faces are looked for in the gray input (``tic.faces``:
      MediaPipe's BlazeFace) and the best one on the foreground gives that phrase the
      foreground in a standing person's box under it; the other phrases split the rest
      (``tic.binding.face_body``; a decoding choice: no weights change).
      ``no_colour_chroma`` (grounding models): the ab of texts that name no colour (the empty
      text) is multiplied by this (1: as decoded): a guess without words is often a wrong hue,
      and a fainter one costs less where it is wrong.
      ``palette_prior`` (grounding models with the bins head): for a text that names the
      picture's colours without placing them (``tic caption``'s "a photo of a dog in green and
      gray"), the bins head's logits get ``log(1 + palette_prior * closeness to a named
      colour)`` (``tic.grounding.palette_prior``) before the annealed mean; 0: off.
      ``palette_chroma`` (grounding models): the ab of such palette texts is multiplied by this
      (1: as decoded): the annealed mean of an unsure distribution is duller than the colours it
      mixes. Texts that name objects are left alone (their objects are painted; on the
      training sources' binding scenes x 1.2 cost 0.6 dB, MODEL_CARD.md).
      ``palette_hue_width`` (degrees; ``None``: off): ``palette_chroma`` applies in full only to
      pixels whose hue is that near a chromatic colour the palette names, fading as a Gaussian
      in the hue angle to ``palette_other_chroma`` elsewhere (``tic.grounding.palette_hue_weight``):
      "green and gray" makes the green greener without making a brownish guess browner (with
      ``palette_other_chroma`` below 1: fainter). ``palette_hue_skip``: colour terms whose hue
      is not made stronger though named ("brown": the colour an unsure head already gives too
      much of).
    """

    width: int = 64
    depth: int = 3
    num_rrdb: int = 1
    rrdb_growth: int = 32
    rrdb_beta: float = 0.2
    rrdb_norm: bool = True
    text_dim: int = 256
    text_hidden: int = 256
    text_map: int = 64
    text_fusion: Literal["multiply", "film"] = "multiply"
    text_levels: Literal["bottleneck", "all"] = "bottleneck"
    # --- the U-Net on a pretrained encoder (``encoder`` other than "scratch"; not in the paper)
    encoder: Literal["scratch", "mobilenet_v2"] = "scratch"
    encoder_frozen: bool = True
    decoder_widths: tuple[int, ...] = (256, 192, 128, 96)
    cross_attention: int = 0
    token_dim: int = 0
    attention_dim: int = 128
    attention_heads: int = 4
    ab_head: Literal["regression", "bins"] = "regression"
    bins_temperature: float = 0.38
    ab_head_no_colour: Literal["regression", "bins"] | None = None
    grounding: bool = False
    grounding_maps: Literal["imagenet", "learned"] = "imagenet"
    hint_logits: bool = False
    grounding_ranks: bool = False
    object_head: bool = False
    paint_objects: bool = False
    object_threshold: float = 0.5
    spare_group_margin: float | None = None
    group_crops: float | None = None
    group_crop_size: int = 352
    split_ranker: tuple[float, ...] = ()
    instance_dim: int = 0
    instance_position: float = 3.0
    person_nouns: bool = False
    person_faces: bool = False
    no_colour_chroma: float = 1.0
    palette_prior: float = 0.0
    palette_chroma: float = 1.0
    palette_hue_width: float | None = None
    palette_other_chroma: float = 1.0
    palette_hue_skip: tuple[str, ...] = ()


@dataclass
class DiscriminatorConfig:
    """PatchGAN on concat(L, ab): 4x4 convs with ``widths`` filters and ``strides``, then 4x4 -> 1."""

    widths: tuple[int, ...] = (64, 128, 256)
    strides: tuple[int, ...] = (2, 2, 1)


@dataclass
class TextEncoderConfig:
    """Which text encoder and its size. ``kind``: ``"word2vec"`` (the paper's) or ``"minilm"``.

    For word2vec, ``dim`` is the vector size, ``window`` / ``epochs`` / ``min_count`` the gensim
    fitting settings and ``seed`` makes fitting deterministic. ``color_synonyms`` (not in the
    paper) maps colour words to their basic term before encoding (crimson -> red, navy -> blue,
    gold -> yellow; table in ``tic.color_names.SYNONYMS``), so a model trained on captions with
    basic terms follows the colour words users write. For minilm only the words with no common
    other sense are rewritten (``tic.color_names.rewrite_color_words``: "a lemon tree" stays).
    ``color_slots`` (minilm only, our extension): one-hot vectors of the first k colours the text
    names appended to the sentence vector (``tic.text_minilm.MiniLMEncoder``).
    ``photo_palette`` (minilm only): "a photo of a dog in green and gray" (``tic caption``'s
    words for a photo's leading colours) gives its colours to the photo, not to the dog, in the
    token colours and the grounding phrases (``tic.text_minilm.text_phrases``); models trained
    before it have it off.
    """

    kind: str = "word2vec"
    dim: int = 256
    window: int = 5
    epochs: int = 50
    min_count: int = 1
    seed: int = 0
    color_synonyms: bool = False
    color_slots: int = 0
    photo_palette: bool = False


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model folder: working size, generator, text encoder."""

    image_size: int = 256
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)

    def validate(self) -> ModelConfig:
        g = self.generator
        if g.text_dim != self.text_encoder.dim:
            raise ConfigError(
                f"generator.text_dim ({g.text_dim}) must equal text_encoder.dim "
                f"({self.text_encoder.dim})"
            )
        step = 2**g.depth
        if self.image_size < step or self.image_size % step:
            raise ConfigError(
                f"image_size ({self.image_size}) must be a positive multiple of 2**depth ({step})"
            )
        for name in ("width", "num_rrdb", "rrdb_growth", "text_hidden", "text_map"):
            if getattr(g, name) < (0 if name == "num_rrdb" else 1):
                raise ConfigError(f"generator.{name} must be positive, got {getattr(g, name)}")
        if g.text_fusion not in ("multiply", "film"):
            raise ConfigError(
                f"generator.text_fusion must be 'multiply' or 'film', got {g.text_fusion!r}"
            )
        if self.text_encoder.color_slots and self.text_encoder.kind != "minilm":
            raise ConfigError("text_encoder.color_slots needs text_encoder.kind 'minilm'")
        if self.text_encoder.photo_palette and self.text_encoder.kind != "minilm":
            raise ConfigError("text_encoder.photo_palette needs text_encoder.kind 'minilm'")
        if self.text_encoder.color_slots < 0:
            raise ConfigError(
                f"text_encoder.color_slots must be >= 0, got {self.text_encoder.color_slots}"
            )
        if g.text_levels not in ("bottleneck", "all"):
            raise ConfigError(
                f"generator.text_levels must be 'bottleneck' or 'all', got {g.text_levels!r}"
            )
        if g.object_head and g.encoder == "scratch":
            raise ConfigError("generator.object_head needs a pretrained encoder (not 'scratch')")
        if g.encoder != "scratch":
            if len(g.decoder_widths) != 4 or min(g.decoder_widths) < 1:
                raise ConfigError(
                    f"generator.decoder_widths needs 4 positive values, got {g.decoder_widths}"
                )
            if not 0 <= g.cross_attention <= 4:
                raise ConfigError(
                    f"generator.cross_attention must be in 0..4, got {g.cross_attention}"
                )
            if g.cross_attention and (g.token_dim < 1 or self.text_encoder.kind != "minilm"):
                raise ConfigError(
                    "generator.cross_attention needs token features: text_encoder.kind 'minilm'"
                )
            if g.attention_dim % g.attention_heads:
                raise ConfigError("generator.attention_dim must be a multiple of attention_heads")
            if self.image_size % 32:
                raise ConfigError(
                    f"image_size ({self.image_size}) must be a multiple of 32 for encoder "
                    f"{g.encoder!r}"
                )
            if g.bins_temperature <= 0:
                raise ConfigError("generator.bins_temperature must be positive")
            if g.grounding and self.text_encoder.kind != "minilm":
                raise ConfigError("generator.grounding needs text_encoder.kind 'minilm'")
            if g.ab_head_no_colour not in (None, "regression", "bins"):
                raise ConfigError("generator.ab_head_no_colour must be 'regression', 'bins' or "
                                  f"null, got {g.ab_head_no_colour!r}")
            if g.ab_head_no_colour is not None and not g.grounding:
                raise ConfigError("generator.ab_head_no_colour needs grounding: true (the "
                                  "phrases tell which texts name a colour)")
            if g.grounding_maps not in ("imagenet", "learned"):
                raise ConfigError("generator.grounding_maps must be 'imagenet' or 'learned', "
                                  f"got {g.grounding_maps!r}")
            if g.grounding_ranks and not g.grounding:
                raise ConfigError("generator.grounding_ranks needs grounding: true")
            if g.hint_logits and not g.grounding:
                raise ConfigError("generator.hint_logits needs grounding: true")
            if g.person_nouns and not g.grounding:
                raise ConfigError("generator.person_nouns needs grounding: true")
            if not 0 <= g.no_colour_chroma <= 1:
                raise ConfigError("generator.no_colour_chroma must be in [0, 1], got "
                                  f"{g.no_colour_chroma}")
            if not 0 < g.object_threshold < 1:
                raise ConfigError("generator.object_threshold must be in (0, 1), got "
                                  f"{g.object_threshold}")
            if g.group_crops is not None and not 0 <= g.group_crops <= 4:
                raise ConfigError("generator.group_crops must be a margin in [0, 4] or null, "
                                  f"got {g.group_crops}")
            if not all(math.isfinite(v) for v in g.split_ranker):
                raise ConfigError("generator.split_ranker must be finite numbers, got "
                                  f"{list(g.split_ranker)}")
            if g.person_faces and not (g.object_head and g.paint_objects):
                raise ConfigError("generator.person_faces needs object_head and paint_objects "
                                  "(it places the person among the objects the text names)")
            if g.split_ranker and not (g.object_head and g.paint_objects):
                raise ConfigError("generator.split_ranker needs object_head and paint_objects "
                                  "(it chooses how the foreground is split among the objects)")
            if not (64 <= g.group_crop_size <= 1024 and g.group_crop_size % 32 == 0):
                raise ConfigError("generator.group_crop_size must be a multiple of 32 in "
                                  f"[64, 1024], got {g.group_crop_size}")
            if g.spare_group_margin is not None and g.spare_group_margin < 0:
                raise ConfigError("generator.spare_group_margin must be >= 0 or null, got "
                                  f"{g.spare_group_margin}")
            if g.instance_dim < 0:
                raise ConfigError(f"generator.instance_dim must be >= 0, got {g.instance_dim}")
            if g.instance_position < 0:
                raise ConfigError("generator.instance_position must be >= 0, got "
                                  f"{g.instance_position}")
            if g.instance_dim and not g.object_head:
                raise ConfigError("generator.instance_dim needs object_head: true (the embedding "
                                  "splits the object head's foreground)")
            if g.palette_prior < 0:
                raise ConfigError(f"generator.palette_prior must be >= 0, got {g.palette_prior}")
            if g.palette_prior and not g.grounding:
                raise ConfigError("generator.palette_prior needs grounding: true (the palette's "
                                  "colours come from its phrases)")
            if not 0 < g.palette_chroma <= 3:
                raise ConfigError("generator.palette_chroma must be in (0, 3], got "
                                  f"{g.palette_chroma}")
            if g.palette_chroma != 1 and not g.grounding:
                raise ConfigError("generator.palette_chroma needs grounding: true (the phrases "
                                  "tell which texts are palettes)")
            if g.palette_hue_width is not None and not 0 < g.palette_hue_width <= 180:
                raise ConfigError("generator.palette_hue_width must be in (0, 180] degrees or "
                                  f"null, got {g.palette_hue_width}")
            if g.palette_hue_width is not None and g.palette_chroma == 1:
                raise ConfigError("generator.palette_hue_width needs palette_chroma other than "
                                  "1 (it says where that factor applies)")
            unknown = [t for t in g.palette_hue_skip if t not in COLOR_TERMS]
            if unknown:
                raise ConfigError(f"generator.palette_hue_skip: unknown colour terms {unknown}; "
                                  f"known: {', '.join(COLOR_TERMS)}")
            if not 0 < g.palette_other_chroma <= 3:
                raise ConfigError("generator.palette_other_chroma must be in (0, 3], got "
                                  f"{g.palette_other_chroma}")
            if g.palette_other_chroma != 1 and g.palette_hue_width is None:
                raise ConfigError("generator.palette_other_chroma needs palette_hue_width (it "
                                  "is the factor away from the named hues)")
            if g.no_colour_chroma != 1 and not g.grounding:
                raise ConfigError("generator.no_colour_chroma needs grounding: true (the "
                                  "phrases tell which texts name a colour)")
            if g.paint_objects and not (g.grounding and g.object_head):
                raise ConfigError("generator.paint_objects needs grounding: true and "
                                  "object_head: true")
            if g.grounding_maps == "learned" and not g.grounding:
                raise ConfigError("generator.grounding_maps 'learned' needs grounding: true")
        if g.text_levels == "all" and g.text_fusion != "film":
            raise ConfigError("generator.text_levels 'all' needs text_fusion 'film'")
        return self


def model_preset(name: str) -> ModelConfig:
    """``paper``: the paper's architecture at 256x256. ``tiny``: a few thousand parameters, for tests."""
    presets = {
        "paper": lambda: ModelConfig(),
        "tiny": lambda: ModelConfig(
            image_size=32,
            generator=GeneratorConfig(
                width=8,
                depth=2,
                num_rrdb=1,
                rrdb_growth=4,
                text_dim=16,
                text_hidden=16,
                text_map=8,
            ),
            text_encoder=TextEncoderConfig(dim=16, epochs=20),
        ),
    }
    if name not in presets:
        raise ConfigError(f"unknown model preset {name!r}; choose from {sorted(presets)}")
    return presets[name]().validate()


# --- strict (de)serialisation -----------------------------------------------------------------


def to_dict(cfg: Any) -> Any:
    """Dataclass -> plain JSON/YAML data (tuples become lists)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ``ConfigError``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s}; known keys here: {sorted(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (value parsed as YAML) to nested plain data, in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data
