"""Reading images of any kind, and writing files atomically: the one place that decodes images.

Every image tic reads, for colorizing, captioning, training, evaluating or drawing figures, goes
through ``load_image`` (Pillow, a pixel limit, EXIF orientation applied) and then one of:

- ``to_photo``: the full-resolution CIE L* plus the alpha channel (what colorization needs);
- ``to_rgb``: sRGB ``(3, H, W)`` float in [0, 1] (ground truth, captions);
- ``to_rgb_image``: an 8-bit RGB ``PIL.Image`` (training crops).

They accept what users have: RGB, RGBA, L, LA, P, CMYK, 1-bit, 16-bit and 32-bit integer gray
(read as 16-bit: value / 65535) and float gray (values in [0, 1]), EXIF-rotated JPEGs. A colour
photo is turned to gray (its own CIE L*) for colorizing, so users can try tic on the photos they
have.

Object masks follow one rule (``MASK_THRESHOLD``): a pixel belongs to the object when its mask or
alpha value is above half of full scale, i.e. > 127 in an 8-bit mask file or alpha channel (> 0.5
for 16-bit and float masks). A soft-edged cut-out is thus split where it is half opaque, the same
way when it is captioned, trained on and judged. ``read_mask`` reads a mask file,
``mask_from_alpha`` applies the rule to an alpha channel, ``read_rgb`` gives an image with the mask
its alpha makes.

Every failure raises ``TicError`` with one line naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from tic.color import gray_to_l, srgb8_to_l
from tic.errors import TicError

# Refuse images above this many pixels unless told otherwise (``--max-pixels``): a 100-megapixel
# photo needs ~2 GB of working memory; a "decompression bomb" PNG of a few KB can claim billions.
DEFAULT_MAX_PIXELS = 100_000_000

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")

# A pixel is in an object mask when its value is above this share of full scale (> 127 of 255).
MASK_THRESHOLD = 0.5
_INT_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


@dataclass
class Photo:
    """A photo reduced to what colorization needs.

    - ``L``: ``(1, 1, H, W)`` float32, CIE L* in [0, 100], at the photo's full resolution.
    - ``alpha``: ``(H, W)`` uint8 or None.
    """

    L: Tensor
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.L.shape[-1]), int(self.L.shape[-2])


def open_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open and fully decode ``path`` with Pillow, turning every failure into a ``TicError``."""
    path = Path(path)
    if not path.exists():
        raise TicError(f"{path}: no such file")
    if path.is_dir():
        raise TicError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise TicError(f"{path}: empty file (0 bytes)")
    limit = max_pixels if max_pixels else None
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        # our own limit replaces Pillow's global one for this call; we check it ourselves below
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            w, h = img.size
            if limit is not None and w * h > limit:
                raise TicError(
                    f"{path}: {w}x{h} = {w * h:,} pixels is above the limit of {limit:,} "
                    "(raise it with --max-pixels / max_pixels= if the image is genuine)"
                )
            img.load()
    except TicError:
        raise
    except UnidentifiedImageError:
        raise TicError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise TicError(f"{path}: corrupt or truncated image ({_one_line(e)})") from None
    except Image.DecompressionBombError as e:
        raise TicError(f"{path}: refused as a decompression bomb ({_one_line(e)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return img


def load_image(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """``open_image`` with the EXIF orientation applied (the image as viewers show it)."""
    return _orient(open_image(path, max_pixels))


def oriented_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of an image as ``load_image`` gives it (EXIF orientation applied), from
    its header alone (nothing decoded); None when Pillow cannot open it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                try:
                    turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # Orientation: transposed
                except Exception:  # a broken EXIF block: _orient keeps the image unturned
                    turned = False
    except Exception:
        return None
    return (h, w) if turned else (w, h)


def _orient(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not cost the user the photo
        return img


def split_alpha(img: Image.Image) -> tuple[Image.Image, np.ndarray | None]:
    """The image without its alpha channel, and the alpha as uint8 ``(H, W)`` (None if it has none).

    Palette images with a transparent colour count as having alpha.
    """
    mode = img.mode
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA" if ("transparency" in img.info or mode == "PA") else "RGB")
        mode = img.mode
    if mode in ("RGBA", "RGBa", "LA", "La"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        return img.convert("RGB" if mode.startswith("RGB") else "L"), alpha
    return img, None


def gray_values(img: Image.Image, name: str | None = None) -> np.ndarray | None:
    """A 16/32-bit integer or float gray image as float32 ``(H, W)`` in [0, 1]; None for 8-bit modes.

    Integer modes are read as 16-bit (value / 65535), float ones as [0, 1]; values outside are
    clipped. NaN stays NaN, unless ``name`` is given: then a NaN or infinite value is an error
    naming it (ground truth must be finite).
    """
    if img.mode in _INT_GRAY_MODES:
        return np.clip(np.asarray(img, dtype=np.float32) / 65535.0, 0, 1)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if name is not None and not np.isfinite(arr).all():
            raise TicError(f"{name}: image contains NaN or infinite values")
        return np.clip(arr, 0, 1)
    return None


def to_photo(
    img: Image.Image, max_pixels: int | None = DEFAULT_MAX_PIXELS, name: str = "image"
) -> Photo:
    """Turn a decoded PIL image of any mode into a ``Photo`` (full-resolution L plus alpha)."""
    w, h = img.size
    if w < 1 or h < 1:
        raise TicError(f"{name}: image has no pixels ({w}x{h})")
    if max_pixels and w * h > max_pixels:
        raise TicError(f"{name}: {w}x{h} pixels is above the limit of {max_pixels:,}")
    img, alpha = split_alpha(_orient(img))
    gray = gray_values(img)
    if gray is not None:
        L = gray_to_l(torch.from_numpy(np.nan_to_num(gray)))[None, None]
    elif img.mode == "L":
        L = srgb8_to_l(np.asarray(img, dtype=np.uint8))
    elif img.mode == "1":
        L = srgb8_to_l(np.asarray(img.convert("L"), dtype=np.uint8))
    else:  # RGB, CMYK, YCbCr, LAB, HSV: through Pillow's RGB conversion
        L = srgb8_to_l(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return Photo(L=L.float().contiguous(), alpha=alpha)


def read_photo(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """``open_image`` then ``to_photo``."""
    return to_photo(open_image(path, max_pixels), max_pixels, name=str(path))


def to_rgb(img: Image.Image, name: str = "image") -> Tensor:
    """sRGB ``(3, H, W)`` float32 in [0, 1] (contiguous) of a decoded image; alpha is dropped.

    16-bit and float gray keep their precision (gray in all three channels); a NaN or infinite
    float value is an error naming ``name``.
    """
    img, _ = split_alpha(img)
    gray = gray_values(img, name)
    if gray is not None:
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    # contiguous CHW: convolutions on the permuted (channels-last) strides are several times slower
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


def to_rgb_image(img: Image.Image) -> Image.Image:
    """An 8-bit RGB ``PIL.Image`` of a decoded image (alpha dropped; 16-bit / float gray scaled)."""
    img, _ = split_alpha(img)
    gray = gray_values(img)
    if gray is not None:
        img = Image.fromarray((np.nan_to_num(gray) * 255 + 0.5).astype(np.uint8), "L")
    return img.convert("RGB")


def mask_from_alpha(alpha: np.ndarray) -> Tensor:
    """The object mask of an 8-bit alpha channel ``(H, W)``: alpha > 127 (``MASK_THRESHOLD``)."""
    return torch.from_numpy(np.asarray(alpha) > MASK_THRESHOLD * 255)


def read_mask(path: str | Path, size: tuple[int, int] | None = None) -> Tensor:
    """An object mask file as bool ``(H, W)``: pixels above half of full scale (> 127 for 8-bit).

    ``size`` (width, height): the mask is resized to it (nearest neighbour) if it differs.
    """
    img, _ = split_alpha(load_image(path))
    gray = gray_values(img)
    if gray is not None:
        values = Image.fromarray((np.nan_to_num(gray) > MASK_THRESHOLD).astype(np.uint8) * 255)
    else:
        values = img.convert("L")
    if size is not None and values.size != tuple(size):
        values = values.resize(tuple(size), Image.NEAREST)
    return mask_from_alpha(np.asarray(values))


def read_rgb(
    path: str | Path, mask: str | Path | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[Tensor, Tensor | None]:
    """An image file as sRGB ``(3, H, W)`` in [0, 1] and its object mask ``(H, W)`` bool or None.

    The mask is the file ``mask`` (resized to the image if needed), else the image's alpha
    channel, else None; both by the one mask rule (``MASK_THRESHOLD``).
    """
    img = load_image(path, max_pixels)
    rgb = to_rgb(img, str(path))
    if mask is not None:
        return rgb, read_mask(mask, img.size)
    _, alpha = split_alpha(img)
    return rgb, None if alpha is None else mask_from_alpha(alpha)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Readers never see a half-written file, and a failure leaves no partial file behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, default_mode())  # mkstemp makes 0600 files; use the user's umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def default_mode(folder: bool = False) -> int:
    """Permissions a new file (or folder) gets under the user's umask; temp files get 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def save_image(img: Image.Image, path: str | Path) -> None:
    """Save atomically; the format comes from ``path``'s suffix (PNG is written fast, level 1)."""
    path = Path(path)
    # PIL's common formats first: registered_extensions() imports all of its plugins (0.07 s)
    Image.preinit()
    fmt = Image.EXTENSION.get(path.suffix.lower()) or Image.registered_extensions().get(
        path.suffix.lower())
    if fmt is None:
        raise TicError(f"{path}: unknown image file type {path.suffix!r}")
    if fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    options = {"compress_level": 1} if fmt == "PNG" else {"quality": 95} if fmt == "JPEG" else {}
    try:
        with atomic_path(path) as tmp:
            img.save(tmp, format=fmt, **options)
    except OSError as e:
        raise TicError(f"{path}: cannot write ({_one_line(e)})") from None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
