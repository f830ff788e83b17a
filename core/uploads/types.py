"""What the pipeline accepts, told from a file's first bytes; a name or a declared type is only a claim."""

from __future__ import annotations

import mimetypes

from django.conf import settings

from core.errors import CaseActionError, Code

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"
PDF, TEXT = "application/pdf", "text/plain"
IMAGE_TYPES = (PNG, JPEG, WEBP, GIF)
PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG", WEBP: "WEBP", GIF: "GIF"}
EXTENSIONS = {PNG: ".png", JPEG: ".jpg", WEBP: ".webp", GIF: ".gif", PDF: ".pdf", TEXT: ".txt"}
LABELS = {PNG: "a PNG image", JPEG: "a JPEG image", WEBP: "a WEBP image", GIF: "a GIF image",
          PDF: "a PDF document", TEXT: "a plain-text file"}
# What a file name or a browser may call each type without it being a different file.
ALIASES = {
    PNG: {PNG, "image/x-png", "image/apng"},
    JPEG: {JPEG, "image/jpg", "image/pjpeg"},
    WEBP: {WEBP},
    GIF: {GIF},
    PDF: {PDF, "application/x-pdf"},
    TEXT: {TEXT, "text/csv", "text/x-log"},
}
# Built-in table only: the host's /etc/mime.types must not change what we accept.
_MIME = mimetypes.MimeTypes()
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


def refuse(why: str) -> CaseActionError:
    return CaseActionError(Code.INVALID_INPUT, why=why)


def max_bytes() -> int:
    return int(settings.EVIDENCE_MAX_BYTES)


def max_pixels() -> int:
    # A 10 MB PNG can hold a gigapixel of one colour; decoding it would take gigabytes.
    return int(getattr(settings, "EVIDENCE_MAX_PIXELS", 24_000_000))


def megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


def sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def check_claims(name: str, declared: str, content_type: str) -> None:
    """Refuse a file whose name or declared type says it is something else (a renamed file)."""
    claims = [("name", _MIME.guess_type(name)[0] if name else None)]
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        claims.append(("declared type", declared))
    for source, claimed in claims:
        if claimed is not None and claimed not in ALIASES[content_type]:
            raise refuse(
                f"The file's {source} says {claimed}, but its content is {LABELS[content_type]}; "
                "send the original file."
            )
