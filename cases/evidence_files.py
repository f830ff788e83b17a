"""Serving stored evidence: one place that decides headers, so staff and customer links behave alike.

Callers check who may see the file first (staff permission on the case, or that case's own link);
these functions only turn an ``Evidence`` into a safe response. Images are shown inline with
their own type; PDF and text logs are always downloads. Every response forbids sniffing, runs
under a CSP that allows nothing (no script, no plugin, no framing, a sandboxed document) and is
not cached by shared caches.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from django.http import FileResponse, Http404, HttpResponse

from cases.models import Evidence
from core.uploads.types import EXTENSIONS, IMAGE_TYPES, JPEG, PNG

# Served inline only when the browser cannot be talked into running them; everything else downloads.
INLINE_TYPES = frozenset(IMAGE_TYPES)
# style-src: the browser's own image viewer page styles itself inline.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
THUMBNAIL_TYPES = {".jpg": JPEG, ".png": PNG}


def _harden(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _open(field) -> object:
    try:
        return field.open("rb")
    except (OSError, ValueError):
        raise Http404("The file is missing from storage.") from None


def served_name(evidence: Evidence) -> str:
    """The uploader's name with the extension of what is stored (a GIF is stored, and served, as PNG)."""
    stored = PurePosixPath(evidence.file.name)
    extension = EXTENSIONS.get(evidence.content_type, stored.suffix)
    stem = PurePosixPath(evidence.original_name).stem if evidence.original_name else stored.stem
    return f"{stem or 'evidence'}{extension}"


def evidence_thumbnail_response(evidence: Evidence) -> HttpResponse:
    """The thumbnail stored at intake; 404 for a document, or an image stored before thumbnails were."""
    if not evidence.thumbnail:
        raise Http404("No thumbnail for this file.")
    content_type = THUMBNAIL_TYPES.get(PurePosixPath(evidence.thumbnail.name).suffix)
    if content_type is None:
        raise Http404("No thumbnail for this file.")
    with _open(evidence.thumbnail) as handle:  # a few kilobytes: no need to stream
        response = HttpResponse(handle.read(), content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return _harden(response)


def evidence_file_response(evidence: Evidence) -> FileResponse:
    if not evidence.file:
        raise Http404("This evidence has no file.")
    inline = evidence.content_type in INLINE_TYPES
    response = FileResponse(
        _open(evidence.file), as_attachment=not inline, filename=served_name(evidence),
        content_type=evidence.content_type if inline else "application/octet-stream",
    )
    response["Cache-Control"] = "private, no-store"
    return _harden(response)
