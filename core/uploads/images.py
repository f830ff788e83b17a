"""Images: one decode serves the checks, the stored copy and the thumbnail.

What is stored is a new file written from the decoded pixels, never the uploaded bytes: turned
upright by its EXIF orientation, with no EXIF (GPS included), XMP, IPTC, ICC profile, JPEG
comment or PNG text chunk, because nothing from the original's container is passed to the
encoder. PNG stays PNG, JPEG stays JPEG, WEBP stays WEBP; a GIF (animated or not) becomes a PNG
of its first frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from io import BytesIO

from PIL import Image

from core.errors import CaseActionError
from core.uploads import png
from core.uploads.structure import Layout, Truncated, layout, trailer
from core.uploads.types import GIF, JPEG, PILLOW_FORMATS, PNG, WEBP, max_pixels, refuse

THUMBNAIL_BOX = (240, 240)
ORIENTATION_TAG = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes core.uploads.png does not write: zlib level 1 there too (less than half the time of 6).
PNG_COMPRESS_LEVEL = png.LEVEL
JPEG_QUALITY = 88
WEBP_QUALITY = 88
PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


@dataclass(frozen=True)
class CleanImage:
    content_type: str
    data: bytes
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


def clean_image(data: bytes, content_type: str) -> CleanImage:
    fmt = PILLOW_FORMATS[content_type]
    label = f"The file looks like a {fmt} image but is damaged or incomplete."
    try:
        extent = layout(data, content_type)
    except Truncated:
        raise refuse(label) from None
    extra = trailer(data, extent.end)
    if extra:
        raise refuse(
            f"The image has {extra:,} bytes of other data hidden after its end, so it is also another kind "
            "of file; send the original screenshot or photo."
        )
    image = _decode(data, fmt, label)
    image = _upright(image)
    out_type = PNG if content_type == GIF else content_type
    thumb, thumb_type = _thumbnail(image)  # first: encoding clears image.info, transparency included
    stored = _encode(image, out_type, extent)
    return CleanImage(out_type, stored, image.width, image.height, thumb, thumb_type)


def _decode(data: bytes, fmt: str, label: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow only warns on big images below twice its own limit; treat that as a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=[fmt])
            _check_pixels(image)  # from the header, before a single pixel is decoded
            image.load()  # the first frame only; a truncated or corrupt stream raises here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse("The image is too large to be opened safely; send a smaller screenshot.") from None
    except CaseActionError:
        raise
    except Exception:  # any decoder error on untrusted bytes means the same thing to the uploader
        raise refuse(label) from None
    return image


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > max_pixels():
        raise refuse(
            f"The image is too large ({width}×{height} pixels, more than the {max_pixels():,} accepted); "
            "send a smaller screenshot."
        )


def _upright(image: Image.Image) -> Image.Image:
    try:
        orientation = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # a broken EXIF block: the pixels are still good, and the block is dropped anyway
        orientation = None
    method = TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(method) if method is not None else image


def _encode(image: Image.Image, content_type: str, extent: Layout) -> bytes:
    out = BytesIO()
    # Only what is named here reaches the encoder; image.info (EXIF, XMP, ICC, comments, text) does not.
    if content_type == PNG:
        keep: dict = {}
        if image.mode not in PNG_MODES:
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        elif image.mode in ("P", "L", "RGB") and "transparency" in image.info:
            keep["transparency"] = image.info["transparency"]
        if png.writes(image):
            return png.write_png(image)
        image.info = {}
        image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL, **keep)
    elif content_type == JPEG:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        image.info = {}
        image.save(out, format="JPEG", quality=JPEG_QUALITY)
    elif content_type == WEBP:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        image.info = {}
        if extent.lossless:
            image.save(out, format="WEBP", lossless=True, method=1)
        else:
            image.save(out, format="WEBP", quality=WEBP_QUALITY)
    else:
        raise ValueError(f"cannot store {content_type}")
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ALPHA_MODES or "transparency" in image.info


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    """PNG when the image has transparency, JPEG otherwise; never larger than the image itself."""
    transparent = _has_alpha(image)
    source = image
    if image.mode not in ("RGB", "RGBA", "L"):
        source = image.convert("RGBA" if transparent else "RGB")
    width, height = source.size
    scale = min(THUMBNAIL_BOX[0] / width, THUMBNAIL_BOX[1] / height, 1.0)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap 2 (Pillow's thumbnail()): a box-filter reduction first, then Lanczos over at least
    # twice the final size; indistinguishable at 240 pixels, and a third of the time of 3.
    small = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0) if size != source.size else source.copy()
    small.info = {}
    out = BytesIO()
    if transparent:
        small.convert("RGBA").save(out, format="PNG", optimize=True)
        return out.getvalue(), PNG
    small.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue(), JPEG
