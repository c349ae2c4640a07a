"""Specification of mockserver.media.images: what the mock can say about, and make from, image bytes."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mockserver.data_files import fixture_image
from mockserver.media.images import (
    ImageInfo,
    NotAnImage,
    PixelBudget,
    downscale,
    downscale_and_thumbnail,
    header_info,
    placeholder,
    probe,
    thumbnail,
    to_jpeg,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR promises width x height, with a valid CRC so only the size is wrong."""
    png = fixture_image("square.png")
    ihdr_body = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr_body + struct.pack(">I", zlib.crc32(ihdr_body)) + png[33:]


# --- probe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("landscape.jpg", ImageInfo("JPEG", "image/jpeg", 1600, 1200, "jpg")),
        ("square.png", ImageInfo("PNG", "image/png", 400, 400, "png")),
        ("transparent.png", ImageInfo("PNG", "image/png", 256, 256, "png")),
        ("tiny.gif", ImageInfo("GIF", "image/gif", 32, 32, "gif")),
        ("photo.webp", ImageInfo("WEBP", "image/webp", 640, 480, "webp")),
        ("scan.tiff", ImageInfo("TIFF", "image/tiff", 300, 200, "tiff")),
    ],
)
def test_probe_reports_format_mime_extension_and_real_dimensions(name: str, expected: ImageInfo) -> None:
    assert probe(fixture_image(name)) == expected


@pytest.mark.parametrize(("image_format", "mime_type", "extension"),
                         [("BMP", "image/bmp", "bmp"), ("ICO", "image/x-icon", "ico")])
def test_probe_recognises_other_lark_upload_formats(image_format: str, mime_type: str,
                                                    extension: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 20, 30)).save(buffer, image_format)

    info = probe(buffer.getvalue())

    assert (info.format, info.mime_type, info.extension) == (image_format, mime_type, extension)


def test_probe_rejects_empty_bytes() -> None:
    with pytest.raises(NotAnImage):
        probe(b"")


def test_probe_rejects_text() -> None:
    with pytest.raises(NotAnImage):
        probe(fixture_image("not-an-image.txt"))


def test_probe_rejects_png_truncated_to_its_first_100_bytes() -> None:
    with pytest.raises(NotAnImage):
        probe(fixture_image("square.png")[:100])


def test_probe_rejects_jpeg_cut_in_half() -> None:
    landscape = fixture_image("landscape.jpg")
    with pytest.raises(NotAnImage):
        probe(landscape[: len(landscape) // 2])


def test_probe_rejects_png_with_corrupted_chunk_checksum() -> None:
    png = bytearray(fixture_image("square.png"))
    png[29] ^= 0xFF  # first byte of the IHDR CRC

    with pytest.raises(NotAnImage):
        probe(bytes(png))


@pytest.mark.parametrize(
    ("width", "height"),
    [(10_000, 10_000), (100_000, 100_000)],  # above Pillow's warning limit; above its error limit
    ids=["warning-sized", "error-sized"],
)
def test_probe_rejects_headers_claiming_decompression_bomb_sizes(width: int, height: int) -> None:
    with pytest.raises(NotAnImage):
        probe(png_claiming_size(width, height))


def test_probe_leaves_pillow_pixel_limit_unchanged() -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(NotAnImage):
        probe(png_claiming_size(10_000, 10_000))
    assert Image.MAX_IMAGE_PIXELS == limit_before


def test_not_an_image_is_a_value_error() -> None:
    assert issubclass(NotAnImage, ValueError)


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=2048))
def test_probe_raises_only_not_an_image_on_arbitrary_bytes(data: bytes) -> None:
    try:
        probe(data)
    except NotAnImage:
        pass


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["square.png", "transparent.png", "tiny.gif", "photo.webp", "scan.tiff"]),
    operation=st.sampled_from([probe, thumbnail, to_jpeg, lambda data: downscale(data, 50)]),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0), st.integers(1, 255)), max_size=4),
)
def test_damaged_fixtures_yield_a_result_or_not_an_image_never_another_error(
        name, operation, cut, flips) -> None:
    data = bytearray(fixture_image(name))
    for position, mask in flips:
        data[int(position * (len(data) - 1))] ^= mask
    data = data[: int(cut * len(data))]
    try:
        operation(bytes(data))
    except NotAnImage:
        pass


# --- header_info -------------------------------------------------------------------------


def test_header_info_reports_a_size_too_large_to_decode_without_decoding() -> None:
    too_large = png_claiming_size(20_000, 20_000)  # and its pixel data is that of 400x400

    assert header_info(too_large) == ImageInfo("PNG", "image/png", 20_000, 20_000, "png")
    with pytest.raises(NotAnImage):
        probe(too_large)


def test_header_info_agrees_with_probe_on_a_whole_image() -> None:
    landscape = fixture_image("landscape.jpg")

    assert header_info(landscape) == probe(landscape)


@pytest.mark.parametrize("data", [b"", b"not an image at all"], ids=["empty", "text"])
def test_header_info_rejects_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        header_info(data)


# --- downscale ---------------------------------------------------------------------------


def test_downscale_makes_longer_side_equal_to_max_side() -> None:
    smaller = downscale(fixture_image("landscape.jpg"), 1024)

    assert max(probe(smaller).width, probe(smaller).height) == 1024


def test_downscale_keeps_aspect_ratio_within_one_pixel() -> None:
    info = probe(downscale(fixture_image("landscape.jpg"), 500))

    assert info.width == 500
    assert abs(info.height - 500 * 1200 / 1600) <= 1


def test_downscale_of_opaque_image_is_jpeg() -> None:
    assert probe(downscale(fixture_image("square.png"), 100)).format == "JPEG"


def test_downscale_leaves_image_that_already_fits_untouched() -> None:
    square = fixture_image("square.png")

    assert downscale(square, 400) == square


def test_downscale_of_transparent_png_stays_png_with_alpha() -> None:
    smaller = downscale(fixture_image("transparent.png"), 64)

    assert probe(smaller) == ImageInfo("PNG", "image/png", 64, 64, "png")
    assert opened(smaller).getpixel((0, 0))[3] == 0


def test_downscale_of_animated_gif_uses_first_frame() -> None:
    smaller = downscale(fixture_image("tiny.gif"), 16)

    red, _green, blue = opened(smaller).convert("RGB").getpixel((8, 8))
    assert red > 200 and blue < 80  # frame 0 is a red disc, frame 1 a blue one


def test_downscale_rejects_max_side_below_one() -> None:
    with pytest.raises(ValueError, match="max_side"):
        downscale(fixture_image("landscape.jpg"), 0)


def test_downscale_rejects_text() -> None:
    with pytest.raises(NotAnImage):
        downscale(fixture_image("not-an-image.txt"), 100)


# --- thumbnail ---------------------------------------------------------------------------


def test_thumbnail_fits_in_120_pixels_and_is_jpeg() -> None:
    info = probe(thumbnail(fixture_image("landscape.jpg")))

    assert (info.format, info.width, info.height) == ("JPEG", 120, 90)


def test_thumbnail_flattens_transparency_on_white() -> None:
    thumb = thumbnail(fixture_image("transparent.png"))

    assert probe(thumb).format == "JPEG"
    assert all(channel > 245 for channel in opened(thumb).getpixel((0, 0)))


def test_thumbnail_does_not_enlarge_small_images() -> None:
    info = probe(thumbnail(fixture_image("tiny.gif")))

    assert (info.format, info.width, info.height) == ("JPEG", 32, 32)


def test_thumbnail_rejects_text() -> None:
    with pytest.raises(NotAnImage):
        thumbnail(fixture_image("not-an-image.txt"))


# --- downscale_and_thumbnail -------------------------------------------------------------


def test_downscale_and_thumbnail_gives_what_each_gives_alone() -> None:
    landscape = fixture_image("landscape.jpg")

    normal, thumb = downscale_and_thumbnail(landscape, 1080, 120)

    assert normal == downscale(landscape, 1080)
    assert probe(thumb) == probe(thumbnail(landscape, 120))
    assert probe(thumb) == ImageInfo("JPEG", "image/jpeg", 120, 90, "jpg")


def test_downscale_and_thumbnail_keeps_an_image_that_fits_as_it_is() -> None:
    square = fixture_image("square.png")

    normal, thumb = downscale_and_thumbnail(square, 400, 120)

    assert normal == square
    assert probe(thumb) == ImageInfo("JPEG", "image/jpeg", 120, 120, "jpg")


def test_downscale_and_thumbnail_keeps_alpha_in_the_copy_and_flattens_the_thumbnail() -> None:
    normal, thumb = downscale_and_thumbnail(fixture_image("transparent.png"), 64, 32)

    assert opened(normal).mode == "RGBA" and opened(normal).getpixel((0, 0))[3] == 0
    assert all(channel > 245 for channel in opened(thumb).getpixel((0, 0)))


def test_downscale_and_thumbnail_rejects_a_thumbnail_larger_than_the_copy() -> None:
    with pytest.raises(ValueError, match="thumb_side"):
        downscale_and_thumbnail(fixture_image("landscape.jpg"), 100, 120)


# --- to_jpeg -----------------------------------------------------------------------------


def test_to_jpeg_turns_tiff_into_jpeg_of_same_size() -> None:
    assert probe(to_jpeg(fixture_image("scan.tiff"))) == ImageInfo("JPEG", "image/jpeg", 300, 200, "jpg")


def test_to_jpeg_rejects_text() -> None:
    with pytest.raises(NotAnImage):
        to_jpeg(fixture_image("not-an-image.txt"))


# --- placeholder -------------------------------------------------------------------------


def test_placeholder_is_byte_identical_on_repeated_calls() -> None:
    placeholder.cache_clear()
    first = placeholder(400, 400, "img_v3_abc")
    placeholder.cache_clear()

    assert placeholder(400, 400, "img_v3_abc") == first


def test_placeholder_is_byte_identical_across_processes() -> None:
    code = ("import hashlib; from mockserver.media.images import placeholder; "
            "print(hashlib.sha256(placeholder(400, 400, 'img_v3_abc')).hexdigest())")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONHASHSEED": "12345"}

    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)

    assert other.stdout.strip() == hashlib.sha256(placeholder(400, 400, "img_v3_abc")).hexdigest()


def test_placeholder_is_png_of_requested_size() -> None:
    assert probe(placeholder(320, 240, "x")) == ImageInfo("PNG", "image/png", 320, 240, "png")


def test_placeholder_differs_between_labels() -> None:
    assert placeholder(200, 200, "first") != placeholder(200, 200, "second")


def test_placeholder_clamps_zero_to_one_pixel() -> None:
    info = probe(placeholder(0, 0, "x"))

    assert (info.width, info.height) == (1, 1)


def test_placeholder_clamps_huge_sizes_to_4096() -> None:
    info = probe(placeholder(100_000, 100_000, "x"))

    assert (info.width, info.height) == (4096, 4096)


# --- the decode budget -------------------------------------------------------------------


def in_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_pixel_budget_holds_back_a_decode_that_would_exceed_it_until_pixels_are_freed() -> None:
    budget = PixelBudget(100)
    first_holds, first_may_leave = threading.Event(), threading.Event()
    events: list[str] = []

    def first() -> None:
        with budget.hold(60):
            first_holds.set()
            first_may_leave.wait(10)
            events.append("first leaves")

    def second() -> None:
        with budget.hold(60):
            events.append("second enters")

    first_thread = in_thread(first)
    first_holds.wait(10)
    second_thread = in_thread(second)
    second_thread.join(0.5)  # a chance to enter, which it must not take
    first_may_leave.set()
    first_thread.join(10)
    second_thread.join(10)

    assert events == ["first leaves", "second enters"]


def test_pixel_budget_admits_decodes_together_while_they_fit() -> None:
    budget = PixelBudget(100)
    second_holds = threading.Event()

    def second() -> None:
        with budget.hold(40):
            second_holds.set()

    with budget.hold(60):
        in_thread(second)

        assert second_holds.wait(10)


def test_pixel_budget_admits_a_decode_larger_than_itself_when_alone() -> None:
    budget = PixelBudget(100)
    large_holds = threading.Event()

    def large() -> None:
        with budget.hold(500):
            large_holds.set()

    in_thread(large)

    assert large_holds.wait(10)
