"""Typed configs (dataclasses whose defaults are the paper's recipe) and strict loading.

``from_dict`` builds a (nested) dataclass from plain data and rejects unknown keys and wrong types
with an error that names the key, so a typo in a YAML file or a ``--set`` never passes silently.
"""

from __future__ import annotations

import dataclasses
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
class UNetConfig:
    """The paper's generator (``tic.models.Generator``, ``model.architecture: unet``). Defaults are
    the paper's architecture.

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
      ``"all"`` (also a FiLM after every decoder level).
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


@dataclass
class EncoderUNetConfig:
    """A U-Net decoder on a pretrained ImageNet encoder (``tic.models.EncoderUNet``,
    ``model.architecture: encoder_unet``; not in the paper).

    - ``encoder``: the ImageNet encoder (``mobilenet_v2``); ``encoder_frozen``: keep its weights.
    - ``decoder_widths``: channels of the decoder at 1/32, 1/16, 1/8, 1/4.
    - ``text_dim`` / ``text_hidden``: the sentence vector's size (set from the text encoder) and
      the hidden size of the FiLM that reads it after every decoder level.
    - ``cross_attention``: how many of the coarsest decoder levels attend to the text's tokens
      (0: none); ``token_dim`` is the token features' size (set from the text encoder, as
      ``text_dim``); ``attention_dim`` / ``attention_heads`` size the attention.
    - ``grounding``: hints of where each colour-naming phrase's object is and its colour (the
      encoder's ImageNet classifier at every position matched to the phrase's noun by MiniLM,
      ``tic.grounding``) added at every decoder level; needs text_encoder.kind ``minilm``.
    - ``object_head``: a class-agnostic foreground head on the encoder's features
      (``tic.models.ObjectHead``, trained with ``loss.lambda_objects`` on the scenes' masks), which
      decoding uses to put each named colour on its object (``DecodingConfig.paint_objects``).
    - ``hints``: a ``tic.models.HintSpread`` that spreads colours given at points (a user's
      clicks) over the picture, trained with ``loss.lambda_hints`` on hints drawn from the truth.
    - ``palette``: a ``tic.models.PaletteHint`` that learns where a palette's colours go ("mostly
      green and brown"), in place of ``decoding.palette_prior``'s one pull everywhere; trained
      with ``loss.lambda_palette`` on photos and their own leading colours; needs ``grounding``
      (the text's palette phrases).
    """

    encoder: Literal["mobilenet_v2"] = "mobilenet_v2"
    encoder_frozen: bool = True
    decoder_widths: tuple[int, ...] = (256, 192, 128, 96)
    text_dim: int = 256
    text_hidden: int = 256
    cross_attention: int = 0
    token_dim: int = 0
    attention_dim: int = 128
    attention_heads: int = 4
    grounding: bool = False
    object_head: bool = False
    hints: bool = False
    palette: bool = False


@dataclass
class DecodingConfig:
    """How an encoder U-Net's outputs become the picture's ab (``tic.decoding``); no weights
    change with these. The defaults decode the regression head as it is.

    - ``ab_head``: the output ab from the ``regression`` head, or from the ``bins`` head (a
      distribution over quantised ab, ``tic.ab_bins``) by its annealed mean at
      ``bins_temperature``. Both heads are trained; this picks the one used.
    - ``ab_head_no_colour`` (grounding models): the head for texts that name no colour (the
      empty text, "a photo of a dog"); None: ``ab_head``. ``no_colour_chroma``: their ab is
      multiplied by this (1: as decoded): a guess without words is often a wrong hue, and a
      fainter one costs less where it is wrong.
    - ``palette_prior`` (grounding models, bins head): for a text that names the picture's
      colours without placing them (``tic caption``'s "a photo of a dog in green and gray"), the
      bins head's logits get ``log(1 + palette_prior * closeness to a named colour)``
      (``tic.grounding.palette_prior``) before the annealed mean; 0: off.
    - ``palette_chroma``: the ab of such palette texts is multiplied by this (1: as decoded);
      with ``palette_hue_width`` (degrees; None: everywhere) only where the pixel's hue is that
      near a chromatic colour the palette names, fading as a Gaussian in the hue angle to 1
      elsewhere (``tic.grounding.palette_hue_weight``). ``palette_hue_skip``: colour terms whose
      hue is not made stronger though named ("brown": the colour an unsure head already gives
      too much of).
    - ``paint_objects`` (grounding and object_head): the foreground is split between the text's
      objects and each part painted in its phrase's colour (``tic.binding``).
      ``object_threshold``: the object head's probability from which a pixel is an object's.
      ``paint_on_automatic`` (paint_objects): a text whose colours are all painted (its things
      and its background; no stuff, no palette) is decoded as the empty text under the paint, so
      what the text does not name keeps the automatic colours (no colour spills off the objects).
    - ``person_nouns`` (grounding models): nouns that name people ("a man", "a dancer") are
      matched to the ImageNet classes that show people (what they wear) instead of the class
      names MiniLM finds nearest ("mantis"; ``tic.grounding.PERSON_NOUNS``), for the hints and
      for the object split.
    - ``person_faces`` (paint_objects): for a text naming two or more objects of which exactly
      one names people, faces are looked for in the gray input (``tic.faces``) and the best one on
      the foreground gives that phrase the foreground in a standing person's box under it
      (``tic.binding.face_body``); the other phrases split the rest.
    """

    ab_head: Literal["regression", "bins"] = "regression"
    bins_temperature: float = 0.38
    ab_head_no_colour: Literal["regression", "bins"] | None = None
    no_colour_chroma: float = 1.0
    palette_prior: float = 0.0
    palette_chroma: float = 1.0
    palette_hue_width: float | None = None
    palette_hue_skip: tuple[str, ...] = ()
    paint_objects: bool = False
    paint_on_automatic: bool = False
    object_threshold: float = 0.5
    person_nouns: bool = False
    person_faces: bool = False


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
    before it have it off. ``free_text`` (needs ``photo_palette``): texts in any phrasing are
    read by ``tic.text_hints`` and given to the network in the phrasing it was trained on
    (``tic.text_hints.network_text``: "a fish, mostly black and green" -> "a photo of a fish in
    black and green"); texts it already reads right go to it as they are.
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
    free_text: bool = False


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model folder: working size, network, decoding, text encoder.

    ``architecture`` picks the network: ``unet`` (the paper's scratch U-Net, section ``unet``) or
    ``encoder_unet`` (a U-Net on a pretrained encoder, section ``encoder_unet``, decoded by the
    ``decoding`` section). Only the sections of the chosen architecture are written
    (``model_dict``); the other ones must stay at their defaults.
    """

    image_size: int = 256
    architecture: Literal["unet", "encoder_unet"] = "unet"
    unet: UNetConfig = field(default_factory=UNetConfig)
    encoder_unet: EncoderUNetConfig = field(default_factory=EncoderUNetConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)

    @property
    def generator(self) -> UNetConfig | EncoderUNetConfig:
        """The chosen network's section (``unet`` or ``encoder_unet``)."""
        return self.encoder_unet if self.architecture == "encoder_unet" else self.unet

    def validate(self) -> ModelConfig:
        if self.generator.text_dim != self.text_encoder.dim:
            raise ConfigError(
                f"{self.architecture}.text_dim ({self.generator.text_dim}) must equal "
                f"text_encoder.dim ({self.text_encoder.dim})"
            )
        unused = [name for name in ARCHITECTURE_SECTIONS if name not in self.sections()
                  and getattr(self, name) != type(getattr(self, name))()]
        if unused:
            raise ConfigError(f"model.{unused[0]} is set but model.architecture is "
                              f"{self.architecture!r} (it uses {', '.join(self.sections())})")
        te = self.text_encoder
        if te.color_slots and te.kind != "minilm":
            raise ConfigError("text_encoder.color_slots needs text_encoder.kind 'minilm'")
        if te.photo_palette and te.kind != "minilm":
            raise ConfigError("text_encoder.photo_palette needs text_encoder.kind 'minilm'")
        if te.free_text and not te.photo_palette:
            raise ConfigError("text_encoder.free_text needs text_encoder.photo_palette")
        if te.color_slots < 0:
            raise ConfigError(f"text_encoder.color_slots must be >= 0, got {te.color_slots}")
        if self.architecture == "unet":
            self._validate_unet()
        else:
            self._validate_encoder_unet()
            self._validate_decoding()
        return self

    def sections(self) -> tuple[str, ...]:
        """The network sections this architecture uses."""
        return ("unet",) if self.architecture == "unet" else ("encoder_unet", "decoding")

    def _validate_unet(self) -> None:
        g = self.unet
        step = 2**g.depth
        if self.image_size < step or self.image_size % step:
            raise ConfigError(
                f"image_size ({self.image_size}) must be a positive multiple of 2**depth ({step})"
            )
        for name in ("width", "num_rrdb", "rrdb_growth", "text_hidden", "text_map"):
            if getattr(g, name) < (0 if name == "num_rrdb" else 1):
                raise ConfigError(f"unet.{name} must be positive, got {getattr(g, name)}")
        if g.text_levels == "all" and g.text_fusion != "film":
            raise ConfigError("unet.text_levels 'all' needs text_fusion 'film'")

    def _validate_encoder_unet(self) -> None:
        g = self.encoder_unet
        if len(g.decoder_widths) != 4 or min(g.decoder_widths) < 1:
            raise ConfigError(
                f"encoder_unet.decoder_widths needs 4 positive values, got {g.decoder_widths}"
            )
        if not 0 <= g.cross_attention <= 4:
            raise ConfigError(
                f"encoder_unet.cross_attention must be in 0..4, got {g.cross_attention}"
            )
        if g.cross_attention and (g.token_dim < 1 or self.text_encoder.kind != "minilm"):
            raise ConfigError(
                "encoder_unet.cross_attention needs token features: text_encoder.kind 'minilm'"
            )
        if g.attention_dim % g.attention_heads:
            raise ConfigError("encoder_unet.attention_dim must be a multiple of attention_heads")
        if self.image_size % 32:
            raise ConfigError(
                f"image_size ({self.image_size}) must be a multiple of 32 for encoder "
                f"{g.encoder!r}"
            )
        if g.grounding and self.text_encoder.kind != "minilm":
            raise ConfigError("encoder_unet.grounding needs text_encoder.kind 'minilm'")

    def _validate_decoding(self) -> None:
        d, g = self.decoding, self.encoder_unet
        if d.bins_temperature <= 0:
            raise ConfigError("decoding.bins_temperature must be positive")
        # the settings that read the text's phrases, which only a grounding model has
        phrases = {
            "ab_head_no_colour": d.ab_head_no_colour is not None,
            "person_nouns": d.person_nouns,
            "no_colour_chroma": d.no_colour_chroma != 1,
            "palette_prior": bool(d.palette_prior),
            "palette_chroma": d.palette_chroma != 1,
        }
        for name, used in phrases.items():
            if used and not g.grounding:
                raise ConfigError(f"decoding.{name} needs encoder_unet.grounding: true (the "
                                  "text's phrases tell which texts name a colour)")
        if not 0 <= d.no_colour_chroma <= 1:
            raise ConfigError(f"decoding.no_colour_chroma must be in [0, 1], got "
                              f"{d.no_colour_chroma}")
        if not 0 < d.object_threshold < 1:
            raise ConfigError(f"decoding.object_threshold must be in (0, 1), got "
                              f"{d.object_threshold}")
        if d.palette_prior < 0:
            raise ConfigError(f"decoding.palette_prior must be >= 0, got {d.palette_prior}")
        if g.palette and d.palette_prior:
            raise ConfigError("decoding.palette_prior must be 0 with encoder_unet.palette (the "
                              "palette module leans the bins head in its place)")
        if g.palette and not g.grounding:
            raise ConfigError("encoder_unet.palette needs encoder_unet.grounding: true (the "
                              "text's palette phrases)")
        if not 0 < d.palette_chroma <= 3:
            raise ConfigError(f"decoding.palette_chroma must be in (0, 3], got "
                              f"{d.palette_chroma}")
        if d.palette_hue_width is not None and not 0 < d.palette_hue_width <= 180:
            raise ConfigError("decoding.palette_hue_width must be in (0, 180] degrees or "
                              f"null, got {d.palette_hue_width}")
        if d.palette_hue_width is not None and d.palette_chroma == 1:
            raise ConfigError("decoding.palette_hue_width needs palette_chroma other than 1 (it "
                              "says where that factor applies)")
        unknown = [t for t in d.palette_hue_skip if t not in COLOR_TERMS]
        if unknown:
            raise ConfigError(f"decoding.palette_hue_skip: unknown colour terms {unknown}; "
                              f"known: {', '.join(COLOR_TERMS)}")
        if d.paint_objects and not (g.grounding and g.object_head):
            raise ConfigError("decoding.paint_objects needs encoder_unet.grounding: true and "
                              "encoder_unet.object_head: true")
        if d.paint_on_automatic and not d.paint_objects:
            raise ConfigError("decoding.paint_on_automatic needs paint_objects")
        if d.person_faces and not d.paint_objects:
            raise ConfigError("decoding.person_faces needs paint_objects (it places the person "
                              "among the objects the text names)")


ARCHITECTURE_SECTIONS = ("unet", "encoder_unet", "decoding")


def model_dict(cfg: ModelConfig) -> dict[str, Any]:
    """``cfg`` as plain data with only the sections its architecture uses (what a model
    folder's ``config.json`` and a run's ``config.yaml`` hold)."""
    data = to_dict(cfg)
    for name in ARCHITECTURE_SECTIONS:
        if name not in cfg.sections():
            del data[name]
    return data


# Keys of the flat ``generator`` section of model configs before the sections (config.json format
# tic-model/1, until 2026-12-06), and the variants it could switch on that tic no longer has: each
# with the value that leaves it off (docs/HISTORY.md says where each one lives in git history).
_DECODING_KEYS = frozenset(f.name for f in dataclasses.fields(DecodingConfig))
_REMOVED_KEYS = {
    "grounding_maps": "imagenet", "hint_logits": False, "grounding_ranks": False,
    "spare_group_margin": None, "group_crops": None, "split_ranker": [], "instance_dim": 0,
    "palette_other_chroma": 1.0,
}
_COMPANION_KEYS = ("group_crop_size", "instance_position")  # settings of removed variants


def migrate_model_dict(data: dict[str, Any], where: str = "model") -> dict[str, Any]:
    """A model config with the flat ``generator`` section of older folders and configs ->
    the sections of ``ModelConfig`` (a new dict; one without ``generator`` is returned as it is).

    ``generator.encoder`` ``scratch`` (or none) is the paper's ``unet``, anything else an
    ``encoder_unet``; the decoding keys go to ``decoding``. A removed variant switched on is an
    error that names it; switched off, it is dropped.
    """
    if not isinstance(data, dict) or "generator" not in data:
        return data
    if any(name in data for name in ARCHITECTURE_SECTIONS):
        raise ConfigError(f"{where}: give either the old 'generator' section or the sections "
                          f"{list(ARCHITECTURE_SECTIONS)}, not both")
    out = {k: v for k, v in data.items() if k != "generator"}
    generator = dict(data["generator"] or {})
    for key in _COMPANION_KEYS:
        generator.pop(key, None)
    for key, off in _REMOVED_KEYS.items():
        if key in generator and generator.pop(key) != off:
            raise ConfigError(f"{where}.generator.{key}: this variant was removed from tic "
                              "(docs/HISTORY.md says which commit has it)")
    unet_keys = {f.name for f in dataclasses.fields(UNetConfig)}
    encoder_keys = {f.name for f in dataclasses.fields(EncoderUNetConfig)}
    if generator.get("encoder", "scratch") == "scratch":
        generator.pop("encoder", None)
        out["architecture"] = "unet"
        out["unet"] = {k: v for k, v in generator.items() if k in unet_keys}
        # older versions wrote the other architecture's keys too: dropped at their defaults
        defaults = to_dict(EncoderUNetConfig()) | to_dict(DecodingConfig())
        extra = [k for k, v in generator.items()
                 if k not in unet_keys and (k not in defaults or v != defaults[k])]
    else:
        out["architecture"] = "encoder_unet"
        out["encoder_unet"] = {k: v for k, v in generator.items() if k in encoder_keys}
        out["decoding"] = {k: v for k, v in generator.items() if k in _DECODING_KEYS}
        # the paper U-Net's keys, which older versions wrote beside these, are not this one's
        extra = [k for k in generator
                 if k not in encoder_keys | _DECODING_KEYS | unet_keys]
    if extra:
        raise ConfigError(f"unknown config key {where}.generator.{extra[0]}")
    return out


def model_preset(name: str) -> ModelConfig:
    """``paper``: the paper's architecture at 256x256. ``tiny``: a few thousand parameters, for tests."""
    presets = {
        "paper": lambda: ModelConfig(),
        "tiny": lambda: ModelConfig(
            image_size=32,
            unet=UNetConfig(
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
