"""A PNG writer for 8-bit RGB and RGBA images: the stored copy of a screenshot.

Pillow's encoder tries all five PNG filters on every row and keeps the best: on a phone screenshot
that choice takes as long as the compression itself, and saves almost nothing over the "Up" filter
(each row minus the row above) applied to every row. Here the Up filter is one Pillow operation on
the whole image, and deflate (level 1) does the rest, through ISA-L (the ``isal`` package): the same
zlib stream as the standard library's, in a fifth of the time (decision 0040). The file holds IHDR,
one IDAT and IEND only, so no metadata of the original can reach it.
"""

from __future__ import annotations

import struct
import zlib

from isal import isal_zlib
from PIL import Image, ImageChops

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {"RGB": 2, "RGBA": 6}
FILTER_BYTE = b"\x02"  # "Up": each byte minus the byte above it
BAND_ROWS = 64
LEVEL = 1  # ISA-L's fastest level that still compresses a screenshot as well as zlib's level 1


def writes(image: Image.Image) -> bool:
    """Whether ``write_png`` takes this image (others go through Pillow's encoder)."""
    # An RGB image's transparency is one colour key (a tRNS chunk), left to Pillow.
    return image.mode == "RGBA" or (image.mode == "RGB" and "transparency" not in image.info)


def write_png(image: Image.Image) -> bytes:
    width, height = image.size
    stride = width * len(image.getbands())
    compressor = isal_zlib.compressobj(LEVEL)
    parts = []
    # A band of rows at a time: a few hundred kilobytes in memory rather than copies of the whole image.
    for top in range(0, height, BAND_ROWS):
        bottom = min(top + BAND_ROWS, height)
        # The same rows one row higher; above the first row, cropping outside the image gives zeros.
        above = image.crop((0, top - 1, width, bottom - 1))
        filtered = ImageChops.subtract_modulo(image.crop((0, top, width, bottom)), above).tobytes()
        # Every scanline starts with its filter type.
        rows = [filtered[start: start + stride] for start in range(0, len(filtered), stride)]
        parts.append(compressor.compress(FILTER_BYTE + FILTER_BYTE.join(rows)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[image.mode], 0, 0, 0)
    return b"".join((SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", b"".join(parts)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
