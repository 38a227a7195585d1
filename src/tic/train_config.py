"""Typed training config. The defaults are the paper's recipe; YAML and ``--set`` override them.

``load_train_config(path, overrides)`` reads a YAML file, applies ``key.sub=value`` overrides and
builds a ``TrainConfig`` strictly: an unknown key or a wrong type raises ``ConfigError`` naming the
key. The resolved config is written to the run folder as ``config.yaml``.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from tic.config import (
    ConfigError,
    DecodingConfig,
    DiscriminatorConfig,
    ModelConfig,
    apply_overrides,
    from_dict,
    migrate_model_dict,
    model_dict,
    model_preset,
    to_dict,
)
from tic.text import with_text_dims

log = logging.getLogger("tic")


@dataclass
class DataConfig:
    """Manifests (JSON Lines, see ``tic.data.manifest``) and what the loader does with them.

    - ``train`` / ``val``: manifest paths (relative to the current folder; stored absolute).
    - ``split_train`` / ``split_val``: keep only records with this ``"split"`` (None: all).
    - ``text``: ``"keep"`` (the records' texts), or for the text ablation ``"empty"`` (every text
      is "") or ``"shuffle"`` (texts permuted across records with ``seed``).
    - ``workers``: DataLoader worker processes (0: load in the training process).
    - ``recolor_prob``: on-the-fly recolouring of cut-out composites' objects, with new texts
      (``tic.data.dataset.ColorizationDataset``); needs ``text: keep``. With a frozen pretrained
      encoder: the chance that a scene object is repainted (``tic.data.views``).
    - Frozen-encoder recipe only (``tic.train_frozen``): ``cutouts``, a manifest of RGBA cut-outs
      (alpha = object, ``label`` key = its name) for ``scenes`` multi-object scenes on crops of
      the training photos; ``crops_per_photo`` random square crops per photo besides the whole
      photo (re-captioned from their pixels, as ``tic caption`` does); ``empty_text_prob``, the
      share of steps' texts replaced by the empty text; ``paint_empty``: whether a view whose
      text is emptied is still repainted (true reproduces v2 and v3, which learned random hues
      for objects no word named; false, since v4: it keeps its own colours); ``empty_scenes``:
      whether scenes' texts are emptied too (false, since v5: only photos', whose colours are
      real; a scene's plain background has a random hue no gray input can tell);
      ``large_objects``: the chance that a one-object scene's cut-out is drawn larger than the
      frame (longer side 0.9-1.5 times the image's, cut by its edges), as a photo's subject often
      fills it (0 reproduces the scenes of v3-v9).
    """

    train: str = ""
    val: str | None = None
    split_train: str | None = None
    split_val: str | None = None
    skip_missing: bool = False
    text: Literal["keep", "empty", "shuffle"] = "keep"
    workers: int = 2
    recolor_prob: float = 0.0
    # the frozen-encoder recipe (``tic.train_frozen``, views from ``tic.data.views``)
    cutouts: str | None = None
    scenes: int = 0
    crops_per_photo: int = 1
    empty_text_prob: float = 0.0
    paint_empty: bool = False
    empty_scenes: bool = True
    large_objects: float = 0.0


@dataclass
class LossConfig:
    """The paper's loss: ``lambda_gan * loss_gan + lambda_perceptual * loss_perceptual +
    lambda_l1 * loss_l1`` for G, BCE real/fake for D (on the PatchGAN's averaged map).

    Deviation from the paper: the paper's perceptual loss uses VGG19 layer-4 features; VGG19
    weights cannot be had on this project's machines, so the default is ImageNet VGG16 up to
    ``relu4_3`` (``tic.backbones.vgg16``). ``perceptual_net: vgg19`` with ``vgg19_path`` (a
    torchvision ``.pth``) restores the paper's choice.

    ``perceptual_layer``: the feature layer, used as named; None (the default) means layer 4's
    last ReLU of the network (``LAYER4``: ``relu4_3`` for vgg16, ``relu4_4`` for vgg19), and
    ``load_train_config`` writes that name into the resolved config.

    Cost control (our addition, off in the paper recipe): ``perceptual_size`` > 0 resizes both RGB
    images to that size before VGG (VGG is most of a CPU training step's cost);
    ``perceptual_every`` = k computes the perceptual term on every k-th step only (scaled by k so
    its average weight is unchanged). ``benchmarks/train_speed.py`` measures both.

    ``lambda_bins`` (frozen-encoder recipe): weight of the cross-entropy of the bins head
    (``tic.ab_bins``); the GAN and perceptual terms are not used by that recipe. ``rebalance``
    (same recipe): ECCV16's class rebalancing of that cross-entropy (``ab_bins.rebalance_weights``
    with this mix; 1.0 = off, their value 0.5 weights rare, saturated colours up).
    ``object_weight`` (same recipe): pixels of the objects a caption names weigh ``1 +
    object_weight`` in both colour losses (the rest 1), so a scene's small named objects, whose
    colour only the words tell, count as much as its large background.
    ``lambda_objects`` (same recipe, ``encoder_unet.object_head``): weight of the binary
    cross-entropy of the object head's foreground at 1/4 against the union of a scene's object
    masks (scenes only: a photo's objects have no masks). ``object_background_weight``: the
    weight of that cross-entropy on the background pixels of a scene on a photo crop, which may
    show real objects nobody masked (a dog in the background photo would be taught as "not an
    object"); a plain-colour background and the objects keep weight 1. With ``lambda_l1`` and
    ``lambda_bins`` both 0 the decoder is not run at all, so a run trains the object head alone
    on a trained model (``init_from``) and leaves the decoder's weights and statistics as they
    were. ``lambda_hints`` (same recipe, ``encoder_unet.hints``): weight of the smooth-L1 of the
    hint module's output, with point hints drawn from the truth (``tic.train_frozen.draw_hints``),
    against the truth; the decoder runs without gradients for it. ``lambda_palette`` (same
    recipe, ``encoder_unet.palette``): weight of the bins head's cross-entropy after the palette
    module leaned it towards each photo's palette (``tic.train_frozen.palette_loss``), likewise.
    """

    lambda_l1: float = 1.0
    lambda_bins: float = 0.0
    rebalance: float = 1.0
    object_weight: float = 0.0
    lambda_objects: float = 0.0
    lambda_hints: float = 0.0
    lambda_palette: float = 0.0
    object_background_weight: float = 1.0
    lambda_gan: float = 1.0
    lambda_perceptual: float = 1.0
    perceptual_net: Literal["vgg16", "vgg19"] = "vgg16"
    perceptual_layer: str | None = None
    vgg19_path: str | None = None
    perceptual_pretrained: bool = True
    perceptual_size: int = 0
    perceptual_every: int = 1

    def feature_layer(self) -> str:
        """The layer the perceptual loss compares: ``perceptual_layer``, else the net's layer 4."""
        return self.perceptual_layer or LAYER4[self.perceptual_net]


# The paper's "layer 4" features: the last ReLU of the fourth block of each perceptual network.
LAYER4 = {"vgg16": "relu4_3", "vgg19": "relu4_4"}


@dataclass
class OptimConfig:
    """Adam for G and D, as in the paper: lr 1e-4, betas (0.5, 0.999), no decay."""

    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass
class TrainConfig:
    """Everything a training run needs. Defaults: the paper (350K iterations at 256x256).

    - ``model``: the generator and text encoder (saved in every model folder); ``model.image_size``
      is the working size (256 in the paper; 128 for CPU recipes).
    - ``batch_size``: per process. The paper does not give one; the recipe uses 16 (pix2pix-style
      GANs with BatchNorm train well at 1-32; 16 keeps BatchNorm statistics stable and fits a
      16 GB GPU at 256x256).
    - ``steps``: iterations (one D step + one G step each).
    - ``log_every`` (scalars, progress), ``image_every`` (TensorBoard image grid),
      ``eval_every`` (held-out ab L1 on ``data.val``), ``save_every`` (checkpoint), ``keep_last``
      (checkpoints kept on disk).
    - ``precision``: ``auto`` (bf16 autocast where it pays: CUDA GPUs with bf16, CPUs with AMX;
      see ``tic.device.bf16_supported``), ``bf16``, ``fp32``.
    - ``channels_last``: NHWC memory layout (faster convolutions on CPU and CUDA).
    - ``deterministic``: ``torch.use_deterministic_algorithms`` (exact resume on CUDA too).
    - ``max_bad_steps``: a step with a non-finite loss is skipped; this many in a row stop the run.
    - ``init_from``: start from another run's weights (a model or checkpoint folder: G from its
      ``model.safetensors``, D from its training state when it has one), e.g. to fine-tune the
      shipped model on your data; optimisers and the step count start afresh. A text input that
      grew (more colour slots) keeps the old columns and gets zero-initialised new ones, so the
      network starts out computing exactly what it did.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 16
    steps: int = 350_000
    log_every: int = 50
    image_every: int = 1000
    eval_every: int = 5000
    save_every: int = 5000
    keep_last: int = 3
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    channels_last: bool = True
    deterministic: bool = False
    device: str = "auto"
    seed: int = 0
    max_bad_steps: int = 5
    init_from: str | None = None

    def validate(self) -> TrainConfig:
        self.model.validate()
        positive = (
            "batch_size", "steps", "log_every", "image_every", "eval_every", "save_every",
            "keep_last", "max_bad_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.loss.perceptual_every < 1:
            raise ConfigError(
                f"loss.perceptual_every must be at least 1, got {self.loss.perceptual_every}"
            )
        if self.loss.perceptual_size < 0:
            raise ConfigError(f"loss.perceptual_size must be >= 0, got {self.loss.perceptual_size}")
        if self.loss.perceptual_net == "vgg19" and not self.loss.vgg19_path:
            raise ConfigError("loss.perceptual_net vgg19 needs loss.vgg19_path (torchvision .pth)")
        if self.data.workers < 0:
            raise ConfigError(f"data.workers must be >= 0, got {self.data.workers}")
        if not self.data.train:
            raise ConfigError("data.train: a training manifest is required")
        if not 0 <= self.data.recolor_prob <= 1:
            raise ConfigError(f"data.recolor_prob must be in [0, 1], got {self.data.recolor_prob}")
        if self.data.recolor_prob and self.data.text != "keep":
            raise ConfigError("data.recolor_prob needs data.text 'keep' (it writes new texts)")
        encoder = self.model.architecture == "encoder_unet"
        g = self.model.encoder_unet
        if encoder and not g.encoder_frozen:
            raise ConfigError(
                "model.encoder_unet.encoder_frozen: false is not supported by tic train yet (the "
                "frozen-encoder recipe, tic.train_frozen, needs a frozen encoder)"
            )
        if encoder and self.data.scenes and not self.data.cutouts:
            raise ConfigError("data.scenes needs data.cutouts (RGBA cut-outs with labels)")
        if not 0 <= self.data.empty_text_prob <= 1:
            raise ConfigError(
                f"data.empty_text_prob must be in [0, 1], got {self.data.empty_text_prob}"
            )
        if not 0 <= self.data.large_objects <= 1:
            raise ConfigError(
                f"data.large_objects must be in [0, 1], got {self.data.large_objects}")
        if self.data.large_objects and not self.data.scenes:
            raise ConfigError("data.large_objects sets how scenes are drawn: it needs data.scenes")
        if not 0 < self.loss.rebalance <= 1:
            raise ConfigError(f"loss.rebalance must be in (0, 1], got {self.loss.rebalance}")
        if self.loss.object_weight < 0:
            raise ConfigError("loss.object_weight must be >= 0")
        if self.loss.lambda_objects < 0:
            raise ConfigError("loss.lambda_objects must be >= 0")
        if not 0 < self.loss.object_background_weight <= 1:
            raise ConfigError("loss.object_background_weight must be in (0, 1], got "
                              f"{self.loss.object_background_weight}")
        if self.loss.lambda_objects and not (encoder and g.object_head):
            raise ConfigError("loss.lambda_objects needs model.encoder_unet.object_head: true")
        if self.loss.lambda_hints < 0:
            raise ConfigError("loss.lambda_hints must be >= 0")
        if self.loss.lambda_hints and not (encoder and g.hints):
            raise ConfigError("loss.lambda_hints needs model.encoder_unet.hints: true")
        if self.loss.lambda_palette < 0:
            raise ConfigError("loss.lambda_palette must be >= 0")
        if self.loss.lambda_palette and not (encoder and g.palette):
            raise ConfigError("loss.lambda_palette needs model.encoder_unet.palette: true")
        if encoder and not (self.loss.lambda_l1 or self.loss.lambda_bins
                            or self.loss.lambda_objects or self.loss.lambda_hints
                            or self.loss.lambda_palette):
            raise ConfigError("loss: lambda_l1, lambda_bins, lambda_objects, lambda_hints and "
                              "lambda_palette are all 0: nothing to train")
        if self.optim.lr <= 0:
            raise ConfigError(f"optim.lr must be positive, got {self.optim.lr}")
        return self


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read ``path`` (YAML), apply the ``key.sub=value`` overrides, return a validated config.

    ``model`` may name a preset (``model: tiny``, or ``model: {preset: tiny, ...}`` plus changes).
    Relative manifest paths are taken from the current folder and stored absolute.

    Resolved here, so that the saved config names what the run uses: the text sizes
    (``model.unet.text_dim`` or ``model.encoder_unet.text_dim`` and, for minilm,
    ``model.text_encoder.dim``) are derived from the text encoder (``tic.text.with_text_dims``);
    a ``text_dim`` given that disagrees is an error (``_derive_text_dims``);
    ``loss.perceptual_layer`` left out becomes the network's layer 4 (``LAYER4``).
    """
    data = read_yaml(path) if path is not None else {}
    if "stages" in data:
        raise ConfigError(f"{path}: a recipe of stages (run it with tic train, which runs every "
                          "stage; tic.train_config.load_recipe reads it)")
    return train_config_from_data(data, overrides)


def read_yaml(path: str | Path) -> dict:
    """A config file's top-level mapping (YAML 1.2 numbers: ``1e-4`` is a number)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    return data


def train_config_from_data(data: dict, overrides: list[str] = ()) -> TrainConfig:
    """``load_train_config`` on a mapping already read (it is not changed)."""
    data = copy.deepcopy(data)
    _migrate_model(data)  # an old flat generator section's text_dim is given, too
    given = {k: v for k in _DERIVED if (v := _lookup(data, k)) is not None}  # not from presets
    _expand_preset(data)
    for item in overrides:  # one at a time: "model=tiny" then "model.image_size=64" works
        one = apply_overrides({}, [_yaml12_number(item)])
        key = item.partition("=")[0].strip()
        for k in _DERIVED:
            if k == key or k.startswith(key + "."):
                given.pop(k, None)
                if (v := _lookup(one, k)) is not None:
                    given[k] = v
        apply_overrides(data, [_yaml12_number(item)])
        _expand_preset(data)
    cfg = from_dict(TrainConfig, data)
    cfg.model = _derive_text_dims(cfg.model, given)
    cfg.loss.perceptual_layer = cfg.loss.feature_layer()
    # absolute paths in the resolved config, so a run resumes from any folder
    cfg.data.train = str(Path(cfg.data.train).absolute()) if cfg.data.train else ""
    cfg.data.val = str(Path(cfg.data.val).absolute()) if cfg.data.val else None
    cfg.data.cutouts = str(Path(cfg.data.cutouts).absolute()) if cfg.data.cutouts else None
    return cfg.validate()


@dataclass
class Recipe:
    """A model's whole recipe (``configs/default.yaml``): training stages run in order, each
    starting from the one before (``init_from``), then the decoding of the finished model.

    ``stages``: ``(name, TrainConfig)`` in order; ``decoding``: the ``model.decoding`` keys the
    final model folder gets (none: the last stage's)."""

    stages: list[tuple[str, TrainConfig]]
    decoding: dict

    def final_decoding(self) -> DecodingConfig:
        """The finished model's decoding: the last stage's with the recipe's keys on top."""
        last = self.stages[-1][1].model.decoding
        return from_dict(DecodingConfig, to_dict(last) | self.decoding, prefix="decoding.")


def load_recipe(path: str | Path, overrides: list[str] = (), run: Path | None = None) -> Recipe:
    """Read a recipe file: ``stages`` (a mapping of stage name -> config keys, in order; each
    stage's keys are merged onto the stage before it, the first onto the defaults) and an optional
    ``decoding`` section. The overrides apply to the file as written
    (``stages.decoder.steps=10``, ``decoding.ab_head=regression``). With ``run`` (the run
    folder), every stage after the first starts from the one before: ``init_from`` is
    ``RUN/<previous stage>/model``."""
    data = read_yaml(path)
    for item in overrides:
        apply_overrides(data, [_yaml12_number(item)])
    unknown = sorted(set(data) - {"stages", "decoding"})
    if unknown:
        raise ConfigError(f"{path}: unknown recipe key {unknown[0]!r} (a recipe has stages and "
                          "decoding)")
    stages = data.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError(f"{path}: stages must be a mapping of stage name -> config keys")
    decoding = data.get("decoding") or {}
    if not isinstance(decoding, dict):
        raise ConfigError(f"{path}: decoding must be a mapping of model.decoding keys")
    out, merged, previous = [], {}, None
    for name, keys in stages.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: stages.{name} must be a mapping of config keys")
        if "init_from" in keys:
            raise ConfigError(f"{path}: stages.{name}.init_from: a stage starts from the stage "
                              "before it")
        merged = _merge(copy.deepcopy(merged), copy.deepcopy(keys))
        stage = dict(merged)
        if previous is not None and run is not None:
            stage["init_from"] = str(run / previous / "model")
        try:
            out.append((str(name), train_config_from_data(stage)))
        except ConfigError as e:
            raise ConfigError(f"{path}: stages.{name}: {e}") from None
        previous = name
    recipe = Recipe(out, decoding)
    # the decoding the final model gets, checked now rather than after every stage has trained
    try:
        replace(out[-1][1].model, decoding=recipe.final_decoding()).validate()
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return recipe


# keys whose values follow from the text encoder
_DERIVED = ("model.unet.text_dim", "model.encoder_unet.text_dim", "model.text_encoder.dim")


def _lookup(data: dict, key: str):
    """``data["a"]["b"]`` for ``key`` ``"a.b"``, None when it is not there."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _derive_text_dims(model: ModelConfig, given: dict) -> ModelConfig:
    """``model`` with its text sizes derived from the encoder.

    A network ``text_dim`` given that disagrees is an error. MiniLM's ``text_encoder.dim`` is
    fixed by the encoder (384 + 11 per colour slot): a different value given there (older configs
    say 384 next to colour slots) is replaced with a warning, so that their runs still resume.
    """
    derived = with_text_dims(model)
    enc = derived.text_encoder
    for key, value in given.items():
        if value == enc.dim:
            continue
        slots = f" with {enc.color_slots} colour slot(s)" if enc.kind == "minilm" else ""
        what = (f"{key} is {value!r} but the {enc.kind} text encoder{slots} makes {enc.dim}-d "
                f"vectors")
        if key == "model.text_encoder.dim":
            log.warning("%s; using %d (leave %s out)", what, enc.dim, key)
        else:
            raise ConfigError(f"{what}; the text size follows the encoder: leave {key} out")
    return derived


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-4`` as a number (YAML 1.2) rather than a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _yaml12_number(item: str) -> str:
    """``lr=1e-4`` -> ``lr=0.0001``, ``lr=1e-12`` -> ``lr=1.0e-12``: YAML 1.1 (PyYAML) reads
    ``1e-4`` as a string, not a number; it needs a dot in the mantissa and a signed exponent."""
    key, sep, raw = item.partition("=")
    try:
        if sep and re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+\s*", raw):
            text = repr(float(raw))  # "0.0001", "1e-12", "1.5e+20"
            mantissa, e, exponent = text.partition("e")
            if e and "." not in mantissa:
                text = f"{mantissa}.0e{exponent}"
            return f"{key}={text}"
    except ValueError:
        pass
    return item


def _migrate_model(data: dict) -> None:
    """A model mapping with the flat ``generator`` section of older configs -> the sections
    (``tic.config.migrate_model_dict``), a ``preset`` beside it kept."""
    model = data.get("model")
    if isinstance(model, dict) and "generator" in model:
        preset = {"preset": model["preset"]} if "preset" in model else {}
        data["model"] = preset | migrate_model_dict(
            {k: v for k, v in model.items() if k != "preset"})


def _expand_preset(data: dict) -> None:
    """``model: tiny`` or ``model: {preset: tiny, image_size: 64}`` -> the preset's full mapping;
    a model mapping with the flat ``generator`` section of older configs -> the sections
    (``tic.config.migrate_model_dict``)."""
    model = data.get("model")
    if isinstance(model, str):
        data["model"] = model_dict(model_preset(model))
    elif isinstance(model, dict) and isinstance(model.get("preset"), str):
        rest = migrate_model_dict({k: v for k, v in model.items() if k != "preset"})
        data["model"] = _merge(model_dict(model_preset(model["preset"])), rest)
    elif isinstance(model, dict):
        data["model"] = migrate_model_dict(model)


def _merge(base: dict, update: dict) -> dict:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def save_train_config(cfg: TrainConfig, path: Path) -> None:
    from tic.imageio import atomic_path

    with atomic_path(path) as tmp:
        data = to_dict(cfg)
        data["model"] = model_dict(cfg.model)  # only the sections of its architecture
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
