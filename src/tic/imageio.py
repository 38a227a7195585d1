"""Reading photos of any kind into full-resolution L, and writing files atomically.

``read_photo`` accepts what users have: RGB, RGBA, L, LA, P, CMYK, 1-bit, 16-bit gray, float
images, EXIF-rotated JPEGs. A colour photo is turned to gray (its own CIE L*) so users can try tic on
the photos they have. Alpha is kept and put back on the output.

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


def to_photo(
    img: Image.Image, max_pixels: int | None = DEFAULT_MAX_PIXELS, name: str = "image"
) -> Photo:
    """Turn a decoded PIL image of any mode into a ``Photo`` (full-resolution L plus alpha)."""
    w, h = img.size
    if w < 1 or h < 1:
        raise TicError(f"{name}: image has no pixels ({w}x{h})")
    if max_pixels and w * h > max_pixels:
        raise TicError(f"{name}: {w}x{h} pixels is above the limit of {max_pixels:,}")
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not cost the user the photo
        pass
    alpha = None
    mode = img.mode
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA" if ("transparency" in img.info or mode == "PA") else "RGB")
        mode = img.mode
    if mode in ("RGBA", "RGBa", "LA", "La"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
        img = img.convert("RGB" if mode.startswith("RGB") else "L")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        L = gray_to_l(torch.from_numpy(np.clip(arr / 65535.0, 0, 1)))[None, None]
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        L = gray_to_l(torch.from_numpy(np.clip(np.nan_to_num(arr), 0, 1)))[None, None]
    elif mode == "L":
        L = srgb8_to_l(np.asarray(img, dtype=np.uint8))
    elif mode == "1":
        L = srgb8_to_l(np.asarray(img.convert("L"), dtype=np.uint8))
    else:  # RGB, CMYK, YCbCr, LAB, HSV: through Pillow's RGB conversion
        L = srgb8_to_l(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return Photo(L=L.float().contiguous(), alpha=alpha)


def read_photo(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Photo:
    """``open_image`` then ``to_photo``."""
    return to_photo(open_image(path, max_pixels), max_pixels, name=str(path))


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
    fmt = Image.registered_extensions().get(path.suffix.lower())
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
