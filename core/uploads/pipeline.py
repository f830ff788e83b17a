"""One pass over an uploaded file: read it (stopping at the limit), tell its type, clean it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.uploads.documents import as_text, check_pdf
from core.uploads.images import clean_image
from core.uploads.types import (
    IMAGE_TYPES,
    PDF,
    TEXT,
    check_claims,
    is_heif,
    max_bytes,
    megabytes,
    refuse,
    sniff,
)

IMAGES_ACCEPTED = "PNG, JPEG, WEBP or GIF images"
DOCUMENTS_ACCEPTED = "PNG, JPEG, WEBP or GIF images, PDF or plain-text logs"


@dataclass(frozen=True)
class Prepared:
    """What may be stored for one upload, and what it was when it arrived."""

    content_type: str
    data: bytes
    sha256: str  # of the file as received: the same file sent twice has the same one
    received_size: int
    width: int | None = None
    height: int | None = None
    thumbnail: bytes = b""
    thumbnail_type: str = ""


def prepare_upload(upload, *, documents_allowed: bool) -> Prepared:
    """Check and clean an uploaded file; a ``CaseActionError`` with a sentence for the uploader if refused."""
    refusal = getattr(upload, "refusal", "")
    if refusal:  # cut off by the upload handler while it streamed in
        raise refuse(refusal)
    data = _read_capped(upload)
    if not data:
        raise refuse("The file is empty.")
    content_type = sniff(data[:16])
    if content_type is None and documents_allowed and as_text(data) is not None:
        content_type = TEXT
    if content_type is None and is_heif(data[:16]):
        raise refuse("HEIC/HEIF photos are not accepted: send a screenshot, or the photo as JPEG or PNG.")
    accepted = DOCUMENTS_ACCEPTED if documents_allowed else IMAGES_ACCEPTED
    if content_type is None or (content_type not in IMAGE_TYPES and not documents_allowed):
        raise refuse(f"This kind of file is not accepted here: send {accepted}.")
    check_claims(getattr(upload, "name", "") or "", getattr(upload, "content_type", "") or "", content_type)

    sha256 = hashlib.sha256(data).hexdigest()
    if content_type in IMAGE_TYPES:
        image = clean_image(data, content_type)
        return Prepared(
            content_type=image.content_type, data=image.data, sha256=sha256, received_size=len(data),
            width=image.width, height=image.height, thumbnail=image.thumbnail,
            thumbnail_type=image.thumbnail_type,
        )
    if content_type == PDF:
        check_pdf(data)
        return Prepared(content_type=PDF, data=data, sha256=sha256, received_size=len(data))
    text = as_text(data) or b""
    if not text.strip():
        raise refuse("The file is empty.")
    return Prepared(content_type=TEXT, data=text, sha256=sha256, received_size=len(data))


def _read_capped(upload) -> bytes:
    """The whole file, never more than one chunk past the limit (the declared size is the client's word)."""
    limit = max_bytes()
    too_big = refuse(f"The file is larger than the {megabytes(limit)} limit.")
    declared = getattr(upload, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise too_big
    if hasattr(upload, "seek"):
        upload.seek(0)
    parts: list[bytes] = []
    size = 0
    chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(64 * 1024), b"")
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_big
        parts.append(chunk)
    return b"".join(parts)
