"""Files built in the tests, each carrying one thing the pipeline must strip, survive or refuse.

Every secret planted in metadata is a recognisable string, so a test can look for it in the raw
stored bytes as well as in what Pillow reads back.
"""

from __future__ import annotations

import struct
import zipfile
from io import BytesIO

from PIL import Image, ImageCms, PngImagePlugin

SECRET = "SECRET-7781"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="{SECRET}-xmp"/>'
    "</rdf:RDF></x:xmpmeta>"
)
# What no stored file or thumbnail may contain, byte for byte.
FORBIDDEN = (SECRET.encode(), b"Exif\x00\x00", b"http://ns.adobe.com/", b"adobe:ns:meta", b"Photoshop 3.0",
             b"ICC_PROFILE", b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP", b"<html", b"PK\x03\x04")
RED, BLUE = (230, 20, 20), (20, 60, 230)


def marked(size=(40, 20)) -> Image.Image:
    """Blue, with a red block in the top-left corner: shows which way up the stored image is."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, 8, 8))
    return image


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = f"{SECRET}-make"  # Make
    exif[0x0110] = "Phone 15"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)  # GPSLongitudeRef, GPSLongitude
    return exif


def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def save(image: Image.Image, fmt: str, **options) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg_with_everything(orientation: int | None = None, size=(40, 20)) -> bytes:
    """EXIF with GPS, XMP, an ICC profile, a JPEG comment and an IPTC (Photoshop APP13) block."""
    data = save(marked(size), "JPEG", quality=95, exif=exif_with_gps(orientation), xmp=XMP.encode(),
                icc_profile=icc_profile(), comment=f"{SECRET}-comment")
    return insert_iptc(data)


def insert_iptc(jpeg: bytes) -> bytes:
    caption = f"{SECRET}-iptc".encode()
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption  # 2:120 caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    payload = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def png_with_everything(orientation: int | None = None, size=(40, 20), mode: str = "RGB") -> bytes:
    """tEXt, zTXt and iTXt chunks (one of them XMP), an eXIf chunk and an ICC profile."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"{SECRET}-text")
    info.add_text("Author", f"{SECRET}-ztxt", zip=True)
    info.add_itxt("Description", f"{SECRET}-itxt", lang="en")
    info.add_itxt("XML:com.adobe.xmp", XMP)
    image = marked(size).convert(mode)
    return save(image, "PNG", pnginfo=info, exif=exif_with_gps(orientation), icc_profile=icc_profile())


def webp_with_everything(lossless: bool = False) -> bytes:
    return save(marked(), "WEBP", lossless=lossless, exif=exif_with_gps(), xmp=XMP.encode(),
                icc_profile=icc_profile())


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (30, 20), colour) for colour in (RED, BLUE, (20, 200, 20))]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0,
                comment=f"{SECRET}-gif")


def zip_archive() -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<html><script>alert(1)</script></html>")
    return out.getvalue()


def heic_header() -> bytes:
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def bomb_png() -> bytes:
    return save(Image.new("1", (12_000, 12_000)), "PNG")  # 144 megapixels in a few kilobytes
