"""Every piece of image work the mock does, behind a few byte-in/byte-out functions.

Vendors need real image bytes: GeWe serves HD / normal / thumbnail copies of one picture,
Lark stores TIFF and HEIC uploads as JPG, and unknown image ids still need something to show.
Only Pillow touches image formats; any bytes it cannot read become `NotAnImage`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ImageInfo", "NotAnImage", "downscale", "placeholder", "probe", "thumbnail", "to_jpeg"]

# The upload formats Lark lists (JPG, PNG, WEBP, GIF, BMP, ICO, TIFF, HEIC) plus AVIF.
# An allow-list keeps Pillow from handing EPS to Ghostscript or parsing exotic formats.
_ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "ICO", "TIFF", "AVIF", "HEIF")
_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff", "HEIF": "heic"}
_JPEG_QUALITY = 85
_PLACEHOLDER_MAX_SIDE = 4096


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read."""


@dataclass(frozen=True)
class ImageInfo:
    """What a vendor reply says about an image (size, type, file name suffix)."""

    format: str
    mime_type: str
    width: int
    height: int
    extension: str


@lru_cache(maxsize=1)
def _openable_formats() -> tuple[str, ...]:
    # Image.open raises KeyError for a format name with no plugin (AVIF or HEIF may be missing).
    Image.init()
    return tuple(name for name in _ACCEPTED_FORMATS if name in Image.OPEN)


def _decode(data: bytes, *, verify: bool = False) -> Image.Image:
    """Fully decode `data`, so truncation and bombs surface here and not in a later step."""
    if not data:
        raise NotAnImage("empty body")
    try:
        # catch_warnings is process-global; the explicit pixel check below is what guarantees
        # the limit when another thread restores the filters mid-call.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the outcome is all we report
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if verify:  # verify() checks what load() skips (PNG chunk CRCs) but spends the image
                with Image.open(io.BytesIO(data), formats=_openable_formats()) as checked:
                    checked.verify()
            image = Image.open(io.BytesIO(data), formats=_openable_formats())
            width, height = image.size
            if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                raise NotAnImage(f"{width}x{height} exceeds the decompression-bomb limit")
            image.load()  # an animated image stays on frame 0
            return image
    except NotAnImage:
        raise
    except Image.UnidentifiedImageError as error:  # its message carries a BytesIO repr
        raise NotAnImage("not a recognised image format") from error
    except Exception as error:  # Pillow parsers raise OSError, SyntaxError, struct.error, ...
        raise NotAnImage(f"unreadable image: {error}") from error


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """JPEG has no alpha; white is what chat clients show behind transparent pixels."""
    if not _has_transparency(image):
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    rgba = image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, image_format)
    return buffer.getvalue()


_MEMO_SIZE = 128
T = TypeVar("T")


def _memoised(function: Callable[..., T]) -> Callable[..., T]:
    """Remember results by the sha256 of the input bytes (not the bytes themselves), so that
    a bot sending the same picture again costs a hash, not a decode and a resize."""
    results: OrderedDict[tuple[Any, ...], T] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(function)
    def memoised(data: bytes, *args: Any, **kwargs: Any) -> T:
        key = (hashlib.sha256(data).digest(), *args, *sorted(kwargs.items()))
        with lock:
            if key in results:
                results.move_to_end(key)
                return results[key]
        result = function(data, *args, **kwargs)
        with lock:
            results[key] = result
            if len(results) > _MEMO_SIZE:
                results.popitem(last=False)
        return result

    return memoised


def _check_max_side(max_side: int) -> None:
    if max_side < 1:  # a caller bug, not bad input, so not NotAnImage
        raise ValueError(f"max_side must be at least 1, got {max_side}")


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # keeps aspect, never enlarges
    return image


@_memoised
def probe(data: bytes) -> ImageInfo:
    """Read format and size the way a vendor would before accepting an upload."""
    image = _decode(data, verify=True)
    image_format = image.format or ""
    return ImageInfo(
        format=image_format,
        mime_type=Image.MIME.get(image_format, "application/octet-stream"),
        width=image.width,
        height=image.height,
        extension=_EXTENSIONS.get(image_format, image_format.lower()),
    )


@_memoised
def downscale(data: bytes, max_side: int) -> bytes:
    """Make the "normal" copy of an HD image; bytes that already fit are served as they are.

    Transparent images become PNG (JPEG would lose the alpha), everything else JPEG.
    """
    _check_max_side(max_side)
    image = _decode(data)
    if max(image.size) <= max_side:
        return data
    try:
        if _has_transparency(image):
            return _encode(_shrunk(image.convert("RGBA"), max_side), "PNG")
        return _encode(_shrunk(_flatten_on_white(image), max_side), "JPEG")
    except (OSError, ValueError) as error:
        raise NotAnImage(f"cannot re-encode image: {error}") from error


@_memoised
def thumbnail(data: bytes, max_side: int = 120) -> bytes:
    """Make the small JPEG preview WeChat sends inline (cdnthumb* is about 120 px).

    Always re-encoded, even when the image is already small, so the result is always JPEG.
    """
    _check_max_side(max_side)
    image = _decode(data)
    try:
        return _encode(_shrunk(_flatten_on_white(image), max_side), "JPEG")
    except (OSError, ValueError) as error:
        raise NotAnImage(f"cannot re-encode image: {error}") from error


@_memoised
def to_jpeg(data: bytes) -> bytes:
    """Lark stores TIFF and HEIC uploads as JPG (im/v1/images create doc)."""
    image = _decode(data)
    try:
        return _encode(_flatten_on_white(image), "JPEG")
    except (OSError, ValueError) as error:
        raise NotAnImage(f"cannot re-encode image: {error}") from error


@lru_cache(maxsize=256)
def placeholder(width: int, height: int, label: str) -> bytes:
    """Stand-in picture for an image the mock has no bytes for; same inputs, same bytes.

    The colour comes from sha256(label) because hash() is salted per process.
    Sizes are clamped to 1..4096 so a request cannot make the mock allocate huge canvases.
    """
    width = min(max(int(width), 1), _PLACEHOLDER_MAX_SIDE)
    height = min(max(int(height), 1), _PLACEHOLDER_MAX_SIDE)
    red, green, blue = hashlib.sha256(label.encode("utf-8")).digest()[:3]
    background = (64 + red // 2, 64 + green // 2, 64 + blue // 2)  # mid-tones keep text legible
    image = Image.new("RGB", (width, height), background)
    text = f"{width}x{height}"
    font = ImageFont.load_default(size=max(10, min(width, height) // 8))
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    if right - left <= width and bottom - top <= height:  # too small a canvas: colour only
        luminance = 299 * background[0] + 587 * background[1] + 114 * background[2]
        ink = (0, 0, 0) if luminance > 128_000 else (255, 255, 255)
        origin = ((width - (right - left)) / 2 - left, (height - (bottom - top)) / 2 - top)
        draw.text(origin, text, fill=ink, font=font)
    return _encode(image, "PNG")
