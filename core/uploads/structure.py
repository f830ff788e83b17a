"""Where an image file ends, read from its container structure without decoding any pixels.

A file that stops before its end marker is truncated; bytes after it are something else riding
along (an HTML page or a ZIP archive appended to a valid image makes a polyglot that other
programs open as that other thing). Both are refused before the decoder runs. Re-encoding would
drop a trailer anyway, but a file that is two things at once is not evidence of anything.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from core.uploads.types import GIF, JPEG, PNG, WEBP

# Padding some encoders leave after the end marker; anything else after it is refused.
PADDING = b"\x00\r\n\t "
# In JPEG entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class Truncated(Exception):
    """The structure ends (or breaks) before the image's end marker."""


@dataclass(frozen=True)
class Layout:
    end: int  # offset just past the image's end marker
    lossless: bool = True  # WEBP only: VP8L (lossless) rather than VP8 (lossy) data


def layout(data: bytes | memoryview, content_type: str) -> Layout:
    """The image's extent in ``data``; ``Truncated`` when the container is cut short or broken."""
    view = memoryview(data)
    try:
        if content_type == PNG:
            return Layout(_png_end(view))
        if content_type == JPEG:
            return Layout(_jpeg_end(view))
        if content_type == GIF:
            return Layout(_gif_end(view))
        if content_type == WEBP:
            return _webp(view)
    except (IndexError, struct.error):
        raise Truncated from None
    raise ValueError(f"no layout reader for {content_type}")


def trailer(data: bytes, end: int) -> int:
    """How many meaningful bytes follow the image's end (padding does not count)."""
    return len(data[end:].strip(PADDING)) if end < len(data) else 0


def _png_end(view: memoryview) -> int:
    pos, size, first = 8, len(view), True
    while True:
        if pos + 12 > size:
            raise Truncated
        length, kind = struct.unpack_from(">I4s", view, pos)
        if first and kind != b"IHDR":
            raise Truncated
        first = False
        end = pos + 12 + length
        if end > size:
            raise Truncated
        # Every chunk's CRC, pixel data included: the decoder itself does not check IDAT's.
        if zlib.crc32(view[pos + 4: end - 4]) != struct.unpack_from(">I", view, end - 4)[0]:
            raise Truncated
        if kind == b"IEND":
            return end
        pos = end


def _jpeg_end(view: memoryview) -> int:
    data = view.obj if isinstance(view.obj, bytes) else bytes(view)
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise Truncated
        while data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:  # end of image
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if marker == 0xD8:
            raise Truncated
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise Truncated
        pos += 2 + length
        if pos > size:
            raise Truncated
        if marker == 0xDA:  # start of scan: skip the entropy-coded data up to the next marker
            found = _JPEG_MARKER.search(data, pos)
            if found is None:
                raise Truncated
            pos = found.start()
    raise Truncated


def _skip_sub_blocks(view: memoryview, pos: int) -> int:
    while True:
        block = view[pos]
        pos += 1
        if block == 0:
            return pos
        pos += block
        if pos > len(view):
            raise Truncated


def _gif_end(view: memoryview) -> int:
    flags = view[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while True:
        block = view[pos]
        if block == 0x3B:  # trailer
            return pos + 1
        if block == 0x21:  # extension: label, then data sub-blocks
            pos = _skip_sub_blocks(view, pos + 2)
        elif block == 0x2C:  # image: descriptor, optional local colour table, LZW code size, data
            flags = view[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _skip_sub_blocks(view, pos + 1)
        else:
            raise Truncated


def _webp(view: memoryview) -> Layout:
    (riff_size,) = struct.unpack_from("<I", view, 4)
    end = 8 + riff_size + (riff_size & 1)
    if end > len(view) or riff_size < 4:
        raise Truncated
    pos, lossless, seen_image = 12, False, False
    while pos + 8 <= end:
        kind = bytes(view[pos: pos + 4])
        (length,) = struct.unpack_from("<I", view, pos + 4)
        if kind in (b"VP8 ", b"VP8L"):
            seen_image = True
            lossless = lossless or kind == b"VP8L"
        elif kind == b"ANMF":
            seen_image = True
        pos += 8 + length + (length & 1)
    if pos != end or not seen_image:
        raise Truncated
    return Layout(end, lossless=lossless)
