"""``Colorizer``: full-resolution text-guided colorization with a model folder.

A model folder holds ``config.json`` (a ``ModelConfig``), ``model.safetensors`` (generator weights)
and the text encoder's assets (the format and its reader and writer: ``tic.checkpoint``).
``Colorizer.from_pretrained(None)`` loads the model shipped inside the package.

Inference keeps the photo's resolution and detail: the network sees L resized to its working size
(``image_size``, 256 by default) and predicts ab there; ab is upsampled to the photo's size and put
together with the photo's ORIGINAL full-resolution L. Out-of-gamut colours lose chroma, not
lightness, so the output's L is the input's.

Point hints (``tic.hints``): ``colorizer(image, text, hints=[(x, y, colour), ...])`` with x, y in
the input image's pixels; they are checked against each image's own size before the network runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from tic import color, decoding, grounding
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import load_model, save_model_folder
from tic.config import ModelConfig
from tic.device import autocast_bf16, resolve_device, use_bf16
from tic.errors import TicError
from tic.hints import Hint, batch_points, hint_points
from tic.imageio import DEFAULT_MAX_PIXELS, Photo, read_photo, to_photo
from tic.models import build_generator
from tic.models.blocks import fuse_batchnorm
from tic.text import TextEncoder, fit_text_encoder, with_text_dims
from tic.text_hints import network_text

# Rows of the full-resolution image converted at a time: bounds memory on 12+ MP photos.
_ROWS_PER_CHUNK = 512


class Colorizer:
    """Text-guided colorizer: ``colorizer(image, text, hints)`` -> a PIL image of the image's size.

    ``image``: a path, a ``PIL.Image`` of any mode, or a uint8 numpy array ``(H, W)`` /
    ``(H, W, 3)``. A colour image is first turned to gray. ``text``: the colour description
    (may be empty). ``hints``: point hints ``[(x, y, colour), ...]`` (``tic.hints``: x, y the
    pixel column and row in the input image, colour ``"#rrggbb"``, a colour name or
    ``(r, g, b)``); a model without a hint module given a point is a ``TicError``.
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
        self.config = config
        self.device = resolve_device(device)
        # channels_last like the inputs predict_ab passes (faster convolutions on CPU and CUDA)
        self.generator = generator.to(self.device, memory_format=torch.channels_last).eval()
        # what predict_ab runs: the generator with its BatchNorms folded into the convolutions,
        # made once here (change the generator's weights afterwards and make a new Colorizer)
        self.network = fuse_batchnorm(self.generator)
        self.text_encoder = text_encoder
        self.use_bf16 = use_bf16(precision, self.device, inference=True)  # tic.device's policy
        self.max_pixels = max_pixels

    # --- model folders ------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: ModelConfig, texts: list[str], seed: int = 0, **kwargs
    ) -> Colorizer:
        """A new, untrained colorizer: random generator weights, text encoder fitted on ``texts``.

        The generator's text pathway takes its input size from the encoder
        (``tic.text.with_text_dims``: 384 for minilm); ``config`` itself is not changed.
        """
        config = with_text_dims(config).validate()  # a new config: the caller's stays as it is
        text_encoder = fit_text_encoder(texts, config.text_encoder)
        torch.manual_seed(seed)
        generator = load_pretrained_encoder(build_generator(config))
        return cls(generator, text_encoder, config, **kwargs)

    @classmethod
    def from_pretrained(
        cls, path: str | Path | None = None, device: str | torch.device = "auto", **kwargs
    ) -> Colorizer:
        """Load a model folder (``None``: the model shipped with tic; see ``tic.checkpoint``)."""
        config, generator, text_encoder = load_model(path)
        return cls(generator, text_encoder, config, device=device, **kwargs)

    @property
    def takes_hints(self) -> bool:
        """Whether this model spreads point hints (``hints=``); one without them refuses hints."""
        return decoding.takes_hints(self.config)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the model folder atomically: a temporary folder beside it, renamed at the end."""
        save_model_folder(path, self.generator, self.text_encoder, self.config)

    # --- inference ----------------------------------------------------------------------------

    @torch.inference_mode()
    def predict_ab(
        self, L: Tensor, texts: list[str], hints: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> Tensor:
        """Network pass at the working size.

        ``L``: ``(B, 1, s, s)`` in [-1, 1] with ``s = image_size``; ``hints``: None or the
        batch's point hints ``(yx (B, N, 2), ab (B, N, 2), valid (B, N))``
        (``tic.hints.batch_points``). Returns ``ab`` ``(B, 2, s, s)`` float32 in [-1, 1].
        """
        text = [t if t is None else t.to(self.device)
                for t in encode_text(self.text_encoder, list(texts), self.config)]
        L = L.to(self.device).contiguous(memory_format=torch.channels_last)
        if hints is not None:
            if len(hints) != 3 or hints[0].shape[0] != L.shape[0]:
                n = L.shape[0]
                raise ValueError(f"hints must be batch_points' (yx, ab, valid) for {n} images")
            hints = tuple(h.to(self.device) for h in hints)
        with autocast_bf16(self.device, self.use_bf16):
            ab = decoding.predict_ab(self.network, self.config, L, text, hints=hints)
        return ab.float()

    def __call__(self, image, text: str = "", hints: list[Hint] | None = None) -> Image.Image:
        return self.colorize_batch([image], [text], None if hints is None else [hints])[0]

    def colorize_batch(
        self, images: list, texts: list[str], hints: list[list[Hint]] | None = None
    ) -> list[Image.Image]:
        """Colorize several images in one network pass; returns one PIL image per input.

        ``hints``: None, or one list of ``(x, y, colour)`` per image (``[]`` for none).
        """
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        if hints is not None and len(hints) != len(images):
            raise ValueError(f"{len(images)} images but {len(hints)} hint lists")
        photos = [self._photo(im) for im in images]
        return self.colorize_photos(photos, texts, hints)

    def colorize_photos(
        self, photos: list[Photo], texts: list[str], hints: list[list[Hint]] | None = None
    ) -> list[Image.Image]:
        """``colorize_batch`` on photos already read (``tic.imageio.Photo``)."""
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text must be a str, got {type(t).__name__}")
        points = self._points(photos, hints)  # checked before the network runs
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
        # (B, 2, s, s) in [-1, 1]
        ab = self.predict_ab(color.normalize_l(small), texts, points).cpu()
        return [compose(p, ab[i : i + 1]) for i, p in enumerate(photos)]

    @staticmethod
    def _points(photos: list[Photo], hints: list[list[Hint]] | None):
        """Each photo's hints checked against its own size -> ``tic.hints.batch_points``'s
        ``(yx, ab, valid)``, or None when no photo has a point (automatic colorization)."""
        if hints is None:
            return None
        if len(hints) != len(photos):
            raise ValueError(f"{len(photos)} photos but {len(hints)} hint lists")
        per_image = []
        for i, (h, photo) in enumerate(zip(hints, photos, strict=True)):
            try:
                per_image.append(hint_points(h if h is not None else [], photo.size))
            except TicError as e:
                if len(photos) == 1:
                    raise
                raise TicError(f"image {i + 1} of {len(photos)}: {e}") from None
        if not any(yx.shape[0] for yx, _ in per_image):
            return None
        return batch_points(per_image)

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
    the generator has cross-attention (``encoder_unet.cross_attention > 0``), then with
    ``encoder_unet.grounding`` the colour-naming phrases ``(weights, ab, kind)``
    (``tic.grounding.encode_objects``). With ``text_encoder.free_text`` each text is first
    rewritten in the phrasing the network was trained on (``tic.text_hints.network_text``)."""
    if config.text_encoder.free_text:
        texts = [network_text(t) for t in texts]
    text_emb = text_encoder.encode(texts)
    if config.architecture == "unet":
        return (text_emb,)
    g = config.encoder_unet
    if not g.cross_attention and not g.grounding:
        return (text_emb,)
    if g.cross_attention:
        out = (text_emb, *text_encoder.encode_tokens(texts))
    else:
        out = (text_emb, None, None)
    if g.grounding:
        out = (*out, *grounding.encode_objects(texts, text_encoder.sentence_vectors,
                                              config.text_encoder.photo_palette))
    return out


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
        rgb = color.linear_to_srgb8(color.lab_to_linear_in_gamut(lab)[0])  # (3, h, W) uint8
        out[rows] = rgb.permute(1, 2, 0).numpy()
    img = Image.fromarray(out, "RGB")
    if photo.alpha is not None:
        img.putalpha(Image.fromarray(photo.alpha, "L"))
    return img
