"""What is stored is a clean copy: re-opened with Pillow, nothing of the original's metadata is left.

Each file of the corpus goes through ``evidence_add`` (the one pipeline for portal, staff and
mail) and the assertions are on the bytes in storage, file and thumbnail alike.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases.evidence import evidence_add
from tests.cases import open_case
from tests.uploads import corpus

pytestmark = pytest.mark.usefixtures("media")

# Keys Pillow itself derives from what our encoder writes (a JPEG's JFIF header, a PNG's transparency).
HARMLESS_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "transparency", "loop", "background"}


def add(case, content: bytes, name: str, *, agent=None):
    upload = SimpleUploadedFile(name, content, content_type="")
    if agent is not None:
        return evidence_add(case=case, kind="proof_of_service", upload=upload, actor=agent)
    return evidence_add(case=case, kind="screenshot", upload=upload, from_customer=True)


def assert_clean(data: bytes) -> Image.Image:
    for forbidden in corpus.FORBIDDEN:
        assert forbidden not in data, forbidden
    image = Image.open(BytesIO(data))
    assert set(image.info) <= HARMLESS_INFO, image.info.keys()
    assert dict(image.getexif()) == {}
    image.load()
    return image


def stored(evidence) -> tuple[bytes, bytes]:
    return Path(evidence.file.path).read_bytes(), Path(evidence.thumbnail.path).read_bytes()


def close_to(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize(
    ("build", "name", "fmt"),
    [
        (corpus.jpeg_with_everything, "photo.jpg", "JPEG"),
        (corpus.png_with_everything, "screen.png", "PNG"),
        (lambda: corpus.png_with_everything(mode="RGBA"), "alpha.png", "PNG"),
        (lambda: corpus.png_with_everything(mode="P"), "palette.png", "PNG"),
        (corpus.webp_with_everything, "lossy.webp", "WEBP"),
        (lambda: corpus.webp_with_everything(lossless=True), "lossless.webp", "WEBP"),
    ],
    ids=["jpeg-exif-gps-xmp-icc-com-iptc", "png-text-ztxt-itxt-xmp-exif-icc", "png-rgba", "png-palette",
         "webp-lossy", "webp-lossless"],
)
def test_it_stores_images_and_thumbnails_without_any_metadata(s0, build, name, fmt):
    original = build()
    assert corpus.SECRET.encode() in original  # the corpus really carries the secrets

    evidence = add(open_case(s0), original, name)

    data, thumb = stored(evidence)
    image = assert_clean(data)
    assert image.format == fmt and image.size == (40, 20)
    assert close_to(image.convert("RGB").getpixel((2, 2)), corpus.RED)
    assert evidence.size == len(data)
    assert assert_clean(thumb).format in ("JPEG", "PNG")


def test_it_strips_a_staff_upload_the_same_way(s0, agent):
    evidence = add(open_case(s0), corpus.jpeg_with_everything(), "panel.jpg", agent=agent)

    data, thumb = stored(evidence)
    assert_clean(data)
    assert_clean(thumb)


@pytest.mark.parametrize("build", [corpus.jpeg_with_everything, corpus.png_with_everything], ids=["jpeg", "png"])
def test_it_turns_a_rotated_photo_upright_and_drops_the_orientation(s0, build):
    # Orientation 6: the camera was held sideways; shown upright the 40×20 picture is 20×40 and
    # its top-left corner (red) is at the top right.
    evidence = add(open_case(s0), build(orientation=6), "sideways.jpg" if build is corpus.jpeg_with_everything
                   else "sideways.png")

    data, thumb = stored(evidence)
    image = assert_clean(data).convert("RGB")
    assert image.size == (20, 40) == (evidence.width, evidence.height)
    assert close_to(image.getpixel((17, 2)), corpus.RED)
    assert close_to(image.getpixel((2, 2)), corpus.BLUE)
    small = assert_clean(thumb).convert("RGB")
    assert small.size == (20, 40)  # never enlarged
    assert close_to(small.getpixel((17, 2)), corpus.RED)


def test_it_keeps_the_first_frame_of_an_animated_gif_as_a_png(s0):
    evidence = add(open_case(s0), corpus.animated_gif(), "error.gif")

    data, thumb = stored(evidence)
    image = assert_clean(data)
    assert image.format == "PNG" and not getattr(image, "is_animated", False)
    assert close_to(image.convert("RGB").getpixel((5, 5)), corpus.RED)
    assert evidence.content_type == "image/png" and evidence.file.name.endswith(".png")
    assert assert_clean(thumb).format == "JPEG"


def test_it_makes_a_small_thumbnail_once_and_keeps_transparency_in_it(s0):
    big = Image.new("RGBA", (1170, 2532), (255, 0, 0, 128))
    evidence = add(open_case(s0), corpus.save(big, "PNG"), "screen.png")

    thumb = Image.open(evidence.thumbnail.path)
    assert thumb.format == "PNG" and thumb.mode == "RGBA"
    assert thumb.size == (111, 240)
    assert thumb.getpixel((50, 50))[3] == 128


def _modes():
    def still(mode, colour, fmt="PNG", **options):
        return corpus.save(Image.new(mode, (30, 20), colour), fmt, **options)

    def frames(fmt):
        red, blue = Image.new("RGB", (30, 20), corpus.RED), Image.new("RGB", (30, 20), corpus.BLUE)
        return corpus.save(red, fmt, save_all=True, append_images=[blue])

    return [
        ("png-16-bit", still("I;16", 40_000), "s.png", "PNG", False),
        ("png-grey-alpha", still("LA", (100, 50)), "s.png", "PNG", True),
        ("png-1-bit", still("1", 1), "s.png", "PNG", False),
        ("png-palette-transparent", still("P", 3, transparency=3), "s.png", "PNG", True),
        ("png-rgb-transparent-colour", still("RGB", (1, 2, 3), transparency=(1, 2, 3)), "s.png", "PNG", True),
        ("apng", frames("PNG"), "s.png", "PNG", False),
        ("jpeg-grey", still("L", 100, "JPEG"), "s.jpg", "JPEG", False),
        ("jpeg-cmyk", still("CMYK", (10, 20, 30, 0), "JPEG"), "s.jpg", "JPEG", False),
        ("jpeg-progressive", still("RGB", (10, 20, 30), "JPEG", progressive=True), "s.jpg", "JPEG", False),
        ("gif-transparent", still("P", 0, "GIF", transparency=0), "s.gif", "PNG", True),
        ("webp-alpha", still("RGBA", (1, 2, 3, 4), "WEBP"), "s.webp", "WEBP", True),
        ("webp-animated", frames("WEBP"), "s.webp", "WEBP", False),
    ]


@pytest.mark.parametrize(("content", "name", "fmt", "transparent"), [m[1:] for m in _modes()],
                         ids=[m[0] for m in _modes()])
def test_it_stores_every_pixel_format_as_a_still_and_keeps_transparency_in_the_thumbnail(
    s0, content, name, fmt, transparent
):
    evidence = add(open_case(s0), content, name)

    data, thumb = stored(evidence)
    image = assert_clean(data)
    assert image.format == fmt and getattr(image, "n_frames", 1) == 1
    preview = assert_clean(thumb)
    assert (preview.format, preview.mode) == (("PNG", "RGBA") if transparent else ("JPEG", "RGB"))


def png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos: pos + 4], "big")
        kinds.append(data[pos + 4: pos + 8])
        pos += 12 + length
    return kinds


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_it_stores_a_screenshot_png_pixel_for_pixel_with_nothing_but_its_pixels(s0, mode):
    """The PNG writer for screenshots (core/uploads/png.py) filters and compresses without loss."""
    original = Image.frombytes(mode, (97, 61), bytes((i * 7919) % 251 for i in range(97 * 61 * len(mode))))
    original.paste((10, 200, 30, 255)[: len(mode)], (5, 5, 60, 40))
    sent = corpus.save(original, "PNG", exif=corpus.exif_with_gps(), icc_profile=corpus.icc_profile())
    evidence = add(open_case(s0), sent, "screen.png")

    data, _ = stored(evidence)
    assert png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"]
    image = assert_clean(data)
    assert image.mode == mode and image.size == (97, 61)
    assert image.tobytes() == original.tobytes()
