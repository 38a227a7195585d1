"""``Colorizer``: full-resolution text-guided colorization with a model folder.

A model folder holds ``config.json`` (a ``ModelConfig``), ``model.safetensors`` (generator weights)
and the text encoder's assets. ``Colorizer.from_pretrained(None)`` loads the model shipped inside
the package.

Inference keeps the photo's resolution and detail: the network sees L resized to its working size
(``image_size``, 256 by default) and predicts ab there; ab is upsampled to the photo's size and put
together with the photo's ORIGINAL full-resolution L. Out-of-gamut colours lose chroma, not
lightness, so the output's L is the input's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from contextlib import nullcontext
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from tic import color
from tic.config import ConfigError, ModelConfig, from_dict, to_dict
from tic.errors import TicError
from tic.imageio import DEFAULT_MAX_PIXELS, Photo, default_mode, read_photo, to_photo
from tic.backbones import load_pretrained_encoder
from tic.models import build_generator
from tic.text import TextEncoder, fit_text_encoder, load_text_encoder

log = logging.getLogger("tic")

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "tic-model/1"
# Rows of the full-resolution image converted at a time: bounds memory on 12+ MP photos.
_ROWS_PER_CHUNK = 512


def default_model_dir() -> Path:
    """Where the shipped default model lives inside the installed package."""
    return Path(str(resources.files("tic") / "assets" / "default"))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TicError("--device cuda was asked for, but torch sees no CUDA GPU here")
    if device != "cpu" and not device.startswith("cuda"):
        raise TicError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast pays off: GPUs with bf16, CPUs with AMX matrix units.

    On CPUs with AVX512-BF16 but no AMX, bf16 convolutions measured slower than fp32 here (paper
    generator at 256x256: 0.60 s vs 0.41 s forward on one thread), so those stay in fp32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    is_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(is_amx and is_amx())


class Colorizer:
    """Text-guided colorizer: ``colorizer(image, text) -> PIL.Image`` at the image's own size.

    ``image``: a path, a ``PIL.Image`` of any mode, or a uint8 numpy array ``(H, W)`` /
    ``(H, W, 3)``. A colour image is first turned to gray. ``text``: the colour description
    (may be empty).
    """

    def __init__(
        self,
        generator: torch.nn.Module,
        text_encoder: TextEncoder,
        config: ModelConfig,
        device: str | torch.device = "auto",
        precision: str = "auto",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ):
        if precision not in ("auto", "bf16", "fp32"):
            raise TicError(f"precision must be auto, bf16 or fp32, got {precision!r}")
        self.config = config
        self.device = resolve_device(device)
        # channels_last like the inputs predict_ab passes (faster convolutions on CPU and CUDA)
        self.generator = generator.to(self.device, memory_format=torch.channels_last).eval()
        self.text_encoder = text_encoder
        self.use_bf16 = precision == "bf16" or (precision == "auto" and bf16_supported(self.device))
        self.max_pixels = max_pixels

    # --- model folders ------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: ModelConfig, texts: list[str], seed: int = 0, **kwargs
    ) -> Colorizer:
        """A new, untrained colorizer: random generator weights, text encoder fitted on ``texts``.

        The generator's text pathway takes its input size from the built encoder: ``config``'s
        ``text_encoder.dim`` and ``generator.text_dim`` are set to ``encoder.dim`` (384 for
        minilm).
        """
        text_encoder = fit_text_encoder(texts, config.text_encoder)
        config.text_encoder.dim = config.generator.text_dim = text_encoder.dim
        if config.generator.cross_attention:
            config.generator.token_dim = getattr(text_encoder, "TOKEN_DIM", 0)
        config.validate()
        torch.manual_seed(seed)
        generator = load_pretrained_encoder(build_generator(config.generator))
        return cls(generator, text_encoder, config, **kwargs)

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, device: str | torch.device = "auto", **kwargs
    ) -> Colorizer:
        """Load a model folder (``None``: the model shipped with tic)."""
        folder = Path(path) if path is not None else default_model_dir()
        if path is None and not (folder / CONFIG_NAME).is_file():
            raise TicError(
                "this installation of tic has no shipped default model; pass a model folder "
                "(--model DIR / from_pretrained(DIR)), e.g. one written by `tic train`"
            )
        config = load_model_config(folder)
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise TicError(f"{folder}: model folder has no {WEIGHTS_NAME}")
        try:
            state = load_file(str(weights))
        except (SafetensorError, OSError, ValueError) as e:
            raise TicError(
                f"{weights}: unreadable weight file ({str(e).splitlines()[0]})"
            ) from None
        generator = build_generator(config.generator)
        _load_state(generator, state, weights)
        try:
            text_encoder = load_text_encoder(folder, config.text_encoder)
        except (OSError, ValueError) as e:
            raise TicError(f"{folder}: text encoder: {str(e).splitlines()[0]}") from None
        return cls(generator, text_encoder, config, device=device, **kwargs)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model folder atomically: a temporary folder beside it, renamed at the end."""
        save_model_folder(path, self.generator, self.text_encoder, self.config)

    # --- inference ----------------------------------------------------------------------------

    def _autocast(self):
        if not self.use_bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    @torch.inference_mode()
    def predict_ab(self, L: Tensor, texts: list[str]) -> Tensor:
        """Network pass at the working size.

        ``L``: ``(B, 1, s, s)`` in [-1, 1] with ``s = image_size``; returns ``ab`` ``(B, 2, s, s)``
        float32 in [-1, 1].
        """
        text = encode_text(self.text_encoder, list(texts), self.config)
        text = [t.to(self.device) if t is not None else None for t in text]
        L = L.to(self.device).contiguous(memory_format=torch.channels_last)
        with self._autocast():
            ab = self.generator(L, *text)
        return ab.float()

    def __call__(self, image, text: str = "") -> Image.Image:
        return self.colorize_batch([image], [text])[0]

    def colorize_batch(self, images: list, texts: list[str]) -> list[Image.Image]:
        """Colorize several images in one network pass; returns one PIL image per input."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        photos = [self._photo(im) for im in images]
        return self.colorize_photos(photos, texts)

    def colorize_photos(self, photos: list[Photo], texts: list[str]) -> list[Image.Image]:
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text must be a str, got {type(t).__name__}")
        if not photos:
            return []
        s = self.config.image_size
        small = torch.cat(
            [
                F.interpolate(
                    p.L, size=(s, s), mode="bilinear", antialias=True, align_corners=False
                )
                for p in photos
            ]
        )  # (B, 1, s, s), L in [0, 100]
        ab = self.predict_ab(color.normalize_l(small), texts).cpu()  # (B, 2, s, s) in [-1, 1]
        return [compose(p, ab[i : i + 1]) for i, p in enumerate(photos)]

    def _photo(self, image) -> Photo:
        if isinstance(image, Photo):
            return image
        if isinstance(image, (str, Path)):
            return read_photo(image, self.max_pixels)
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim not in (2, 3):
                raise TicError(
                    f"numpy images must be uint8 (H, W) or (H, W, 3), got {image.dtype} {image.shape}"
                )
            image = Image.fromarray(image)
        if isinstance(image, Image.Image):
            return to_photo(image, self.max_pixels)
        raise TypeError(
            f"image must be a path, PIL.Image or numpy array, got {type(image).__name__}"
        )


def encode_text(
    text_encoder: TextEncoder, texts: list[str], config: ModelConfig
) -> tuple[Tensor, ...]:
    """The generator's text inputs: ``(text_emb,)``, or ``(text_emb, tokens, token_mask)`` when
    the generator has cross-attention (``generator.cross_attention > 0``)."""
    text_emb = text_encoder.encode(texts)
    if not config.generator.cross_attention:
        return (text_emb,)
    return (text_emb, *text_encoder.encode_tokens(texts))


def compose(photo: Photo, ab: Tensor) -> Image.Image:
    """Full-resolution output: the photo's own L with ``ab`` ``(1, 2, s, s)`` in [-1, 1] upsampled.

    Returns an 8-bit RGB image (RGBA when the photo had alpha) of the photo's exact size.
    """
    W, H = photo.size
    # denormalise before upsampling: the same (linear) result, on s*s values instead of H*W
    ab_full = F.interpolate(
        color.denormalize_ab(ab.float()), size=(H, W), mode="bilinear", align_corners=False
    )
    out = np.empty((H, W, 3), dtype=np.uint8)
    for top in range(0, H, _ROWS_PER_CHUNK):
        rows = slice(top, min(H, top + _ROWS_PER_CHUNK))
        lab = torch.cat([photo.L[:, :, rows], ab_full[:, :, rows]], dim=1)
        rgb = color.lab_to_rgb_in_gamut(lab)[0]  # (3, h, W) in [0, 1]
        out[rows] = (rgb * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    img = Image.fromarray(out, "RGB")
    if photo.alpha is not None:
        img.putalpha(Image.fromarray(photo.alpha, "L"))
    return img


# --- model folder I/O ---------------------------------------------------------------------------


def load_model_config(folder: Path) -> ModelConfig:
    if not folder.exists():
        raise TicError(f"{folder}: model folder does not exist")
    if not folder.is_dir():
        raise TicError(
            f"{folder}: is not a folder (a model folder holds {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise TicError(f"{folder}: not a model folder (no {CONFIG_NAME})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TicError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise TicError(f'{path}: not a tic model config (expected "format": "{FORMAT}")')
    data.pop("tic_version", None)
    try:
        return from_dict(ModelConfig, data).validate()
    except ConfigError as e:
        raise TicError(f"{path}: {e}") from None


def _load_state(generator: torch.nn.Module, state: dict[str, Tensor], path: Path) -> None:
    own = generator.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise TicError(
            f"{path}: weights do not match config.json ({what}; "
            f"{len(missing)} missing, {len(extra)} unexpected tensors)"
        )
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise TicError(
                f"{path}: weights do not match config.json ({k}: {tuple(v.shape)} in the file, "
                f"{tuple(own[k].shape)} expected)"
            )
    generator.load_state_dict(state)


def save_model_folder(
    path: str | Path, generator: torch.nn.Module, text_encoder: TextEncoder, config: ModelConfig
) -> None:
    """Write ``config.json``, ``model.safetensors`` and the text-encoder assets, atomically.

    Everything is written into a temporary folder beside ``path`` that then replaces ``path``, so
    an interrupted save never leaves a half-written model folder.
    """
    from tic import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, default_mode(folder=True))
        data = {"format": FORMAT, "tic_version": __version__, **to_dict(config)}
        (tmp / CONFIG_NAME).write_text(json.dumps(data, indent=2) + "\n")
        state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        text_encoder.save(tmp)
        for f in tmp.iterdir():
            os.chmod(f, default_mode())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
