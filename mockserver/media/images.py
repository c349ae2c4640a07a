"""Every piece of image work the mock does, behind a few byte-in/byte-out functions.

Vendors need real image bytes: several copies of one picture (HD, normal, thumbnail), JPEG
copies of TIFF and HEIC uploads, and something to show for image ids they do not know.
Only Pillow touches image formats; any bytes it cannot read become `NotAnImage`.

Decoded pixels can take nearly a thousand times the file's size (a 400 KB PNG of 9400x9400
RGBA is 350 MB of pixels), so the work is bounded: sizes come from the header before any decode, bytes
are decoded once per call and no larger than the call needs, the pixels being decoded at once
across threads are limited (`PixelBudget`), and the memory is handed back afterwards.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ImageInfo", "NotAnImage", "downscale", "downscale_and_thumbnail", "header_info",
           "placeholder", "probe", "thumbnail", "to_jpeg"]

# The upload formats the vendors list (JPG, PNG, WEBP, GIF, BMP, ICO, TIFF, HEIC) plus AVIF.
# An allow-list keeps Pillow from handing EPS to Ghostscript or parsing exotic formats.
_ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "ICO", "TIFF", "AVIF", "HEIF")
_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff", "HEIF": "heic"}
_JPEG_QUALITY = 85
_PLACEHOLDER_MAX_SIDE = 4096
# Pixels decoded at once across threads: one image at Pillow's default size limit (89.5 Mpx,
# 350 MB as RGBA and as much again while it is resized), or several smaller ones.
_DECODING_PIXELS = 100_000_000
# After a decode this large the freed memory is handed back to the system.
_LARGE_DECODE_PIXELS = 4_000_000
# Modes Pillow resizes with a real filter ("P" and "1" only by nearest neighbour).
_FILTERABLE_MODES = ("L", "LA", "RGB", "RGBA")


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


def _image_info(image_format: str, width: int, height: int) -> ImageInfo:
    return ImageInfo(format=image_format,
                     mime_type=Image.MIME.get(image_format, "application/octet-stream"),
                     width=width, height=height,
                     extension=_EXTENSIONS.get(image_format, image_format.lower()))


class PixelBudget:
    """A semaphore weighted by pixel count, so that decodes running at once take bounded
    memory: a decode waits while others hold the pixels it needs, and one larger than the
    whole budget waits until it is alone."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        pixels = min(pixels, self._limit)
        with self._changed:
            self._changed.wait_for(lambda: self._held + pixels <= self._limit)
            self._held += pixels
        try:
            yield
        finally:
            with self._changed:
                self._held -= pixels
                self._changed.notify_all()


_DECODING = PixelBudget(_DECODING_PIXELS)
T = TypeVar("T")


class _Memo(Generic[T]):
    """The latest results of image work, by the sha256 of the input bytes (not the bytes
    themselves): a bot sending the same picture again costs a hash, not a decode."""

    def __init__(self, size: int = 128) -> None:
        self._results: OrderedDict[Hashable, T] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
            return self._results.get(key)

    def put(self, key: Hashable, result: T) -> None:
        with self._lock:
            self._results[key] = result
            if len(self._results) > self._size:
                self._results.popitem(last=False)


def _memoised(function: Callable[..., T]) -> Callable[..., T]:
    memo: _Memo[T] = _Memo()

    @functools.wraps(function)
    def memoised(data: bytes, *args: Any, **kwargs: Any) -> T:
        key = (hashlib.sha256(data).digest(), *args, *sorted(kwargs.items()))
        result = memo.get(key)
        if result is None:
            result = function(data, *args, **kwargs)
            memo.put(key, result)
        return result

    return memoised


# What probe would answer for bytes decoded whole, or made here, already: not decoded again.
_KNOWN = _Memo[ImageInfo]()


@lru_cache(maxsize=1)
def _openable_formats() -> tuple[str, ...]:
    # A format name with no plugin has no opener (AVIF or HEIF may be missing).
    Image.init()
    return tuple(name for name in _ACCEPTED_FORMATS if name in Image.OPEN)


@contextmanager
def _read_errors_as_not_an_image() -> Iterator[None]:
    try:
        # catch_warnings is process-global; nothing relies on it but quiet logs.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the outcome is what counts
            yield
    except NotAnImage:
        raise
    except Exception as error:  # Pillow parsers raise OSError, SyntaxError, struct.error, ...
        raise NotAnImage(f"unreadable image: {error}") from error


def _opened(data: bytes) -> Image.Image:
    """`data` parsed up to its pixels: format, mode and size, and no size limit yet (Image.open
    would refuse a size above twice Pillow's limit without saying what it is)."""
    if not data:
        raise NotAnImage("empty body")
    error: NotAnImage | None = None
    for name in _openable_formats():  # Image.open's loop, less its size check
        factory, accept = Image.OPEN[name]
        accepted = accept(data[:16]) if accept else True
        if not accepted or isinstance(accepted, str):  # a str: a format known but not readable
            continue
        try:
            with _read_errors_as_not_an_image():
                return factory(io.BytesIO(data), "")  # the name Image.open gives a stream
        except NotAnImage as failed:
            error = failed
    raise error or NotAnImage("not a recognised image format")


def header_info(data: bytes) -> ImageInfo:
    """Format and size as the header states them, without decoding and without a size limit:
    what a vendor checks first. The pixels may still be damaged; `probe` finds out."""
    with _opened(data) as image:
        return _image_info(image.format or "", image.width, image.height)


@contextmanager
def _decoded(data: bytes, min_side: int | None = None) -> Iterator[tuple[Image.Image, ImageInfo]]:
    """`data` checked and decoded whole, so damage surfaces here and not in a later step, and
    what its header says. A JPEG is decoded smaller where it stays at least twice `min_side` on
    each side (Image.thumbnail's choice). Within the decode budget; the memory is handed back
    afterwards. Errors of the work on the pixels are `NotAnImage` too."""
    with _opened(data) as image:
        width, height = image.size
        if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
            raise NotAnImage(f"{width}x{height} exceeds the decompression-bomb limit")
        with _read_errors_as_not_an_image():
            with _opened(data) as checked:
                checked.verify()  # what load() skips (PNG chunk CRCs); it spends the image
            if min_side:
                image.draft(None, (2 * min_side, 2 * min_side))
        pixels = image.width * image.height
        with _DECODING.hold(pixels):
            try:
                with _read_errors_as_not_an_image():
                    image.load()  # an animated image stays on frame 0
                info = _image_info(image.format or "", width, height)
                _KNOWN.put(hashlib.sha256(data).digest(), info)
                yield image, info
            except NotAnImage:
                raise
            except (OSError, ValueError) as error:
                raise NotAnImage(f"cannot re-encode image: {error}") from error
            finally:
                image.close()  # its pixels go before the budget lets another decode in
                if pixels >= _LARGE_DECODE_PIXELS:
                    _hand_memory_back()


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim; None where the C library has none (musl, macOS, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def _hand_memory_back() -> None:
    """Freed pixels would otherwise stay with the process: in Pillow's block cache (if
    PILLOW_BLOCKS_MAX sets one) and in glibc's per-thread arenas, which keep what is freed."""
    Image.core.clear_cache()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _flattened_on_white(image: Image.Image) -> Image.Image:
    """JPEG has no alpha; white is what chat clients show behind transparent pixels."""
    if not _has_transparency(image):
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba)  # an RGBA mask is its alpha band: no copy of it
    return canvas


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    """`image` fitted into max_side x max_side (aspect kept, never enlarged), in place where
    the mode allows, so that any change of mode afterwards works on the small picture."""
    if image.mode not in _FILTERABLE_MODES or "transparency" in image.info:
        image = image.convert("RGBA" if _has_transparency(image) else "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _encode(image: Image.Image, image_format: str) -> bytes:
    """The encoded bytes, known to `probe` from now on."""
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buffer, image_format)
    encoded = buffer.getvalue()
    _KNOWN.put(hashlib.sha256(encoded).digest(),
               _image_info(image_format, image.width, image.height))
    return encoded


def _check_max_side(max_side: int) -> None:
    if max_side < 1:  # a caller bug, not bad input, so not NotAnImage
        raise ValueError(f"max_side must be at least 1, got {max_side}")


def _normal_copy(data: bytes, image: Image.Image, info: ImageInfo, max_side: int
                 ) -> tuple[bytes, Image.Image]:
    """What `downscale` answers, and the picture it shows, still decoded."""
    if max(info.width, info.height) <= max_side:
        return data, image
    smaller = _shrunk(image, max_side)
    if _has_transparency(smaller):  # JPEG would lose the alpha
        return _encode(smaller.convert("RGBA"), "PNG"), smaller
    return _encode(_flattened_on_white(smaller), "JPEG"), smaller


def _thumbnail_of(image: Image.Image, max_side: int) -> bytes:
    return _encode(_flattened_on_white(_shrunk(image, max_side)), "JPEG")


def probe(data: bytes) -> ImageInfo:
    """Read format and size the way a vendor would before accepting an upload.

    Damaged bytes, and sizes past Pillow's decompression-bomb limit, are `NotAnImage`: the
    bytes are decoded whole (a JPEG at an eighth of its size), unless this module has decoded
    or made them already.
    """
    known = _KNOWN.get(hashlib.sha256(data).digest())
    if known is not None:
        return known
    with _decoded(data, min_side=1) as (_, info):
        return info


@_memoised
def downscale(data: bytes, max_side: int) -> bytes:
    """Make the "normal" copy of an HD image; bytes that already fit are served as they are.

    Transparent images become PNG (JPEG would lose the alpha), everything else JPEG.
    """
    _check_max_side(max_side)
    with _decoded(data, max_side) as (image, info):
        return _normal_copy(data, image, info, max_side)[0]


@_memoised
def thumbnail(data: bytes, max_side: int = 120) -> bytes:
    """Make a small JPEG preview, such as chat apps send inline (about 120 px).

    Always re-encoded, even when the image is already small, so the result is always JPEG.
    """
    _check_max_side(max_side)
    with _decoded(data, max_side) as (image, _):
        return _thumbnail_of(image, max_side)


@_memoised
def downscale_and_thumbnail(data: bytes, max_side: int, thumb_side: int) -> tuple[bytes, bytes]:
    """`downscale(data, max_side)` and `thumbnail(data, thumb_side)` from one decode: the
    copies a chat app keeps of a received picture. The thumbnail is drawn from the smaller copy,
    so `thumb_side` may not exceed `max_side`."""
    _check_max_side(thumb_side)
    if thumb_side > max_side:
        raise ValueError(f"thumb_side {thumb_side} exceeds max_side {max_side}")
    with _decoded(data, max_side) as (image, info):
        normal, smaller = _normal_copy(data, image, info, max_side)
        return normal, _thumbnail_of(smaller, thumb_side)


@_memoised
def to_jpeg(data: bytes) -> bytes:
    """A JPEG copy of any image, flattened on white (for vendors that store uploads so)."""
    with _decoded(data) as (image, _):
        return _encode(_flattened_on_white(image), "JPEG")


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
