"""Serving stored evidence: one place that decides headers, so staff and customer links behave alike.

Callers check who may see the file first (staff permission on the case, or that case's own link);
these functions only turn an ``Evidence`` into a safe response.
"""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpResponse

from cases.errors import CaseActionError
from cases.evidence import evidence_thumbnail
from cases.models import Evidence

# Served inline only when the browser cannot be talked into running them; everything else downloads.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def _sniff_image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"GIF8"):
        return "image/gif"
    return "application/octet-stream"


def _harden(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    return response


def evidence_thumbnail_response(evidence: Evidence) -> HttpResponse:
    if not evidence.file:
        raise Http404("This evidence has no file.")
    try:
        data = evidence_thumbnail(evidence)
    except (CaseActionError, OSError, ValueError):
        raise Http404("No thumbnail for this file.") from None
    response = HttpResponse(data, content_type=_sniff_image_type(data))
    response["Cache-Control"] = "private, max-age=3600"
    return _harden(response)


def evidence_file_response(evidence: Evidence) -> FileResponse:
    if not evidence.file:
        raise Http404("This evidence has no file.")
    name = evidence.original_name or evidence.file.name.rsplit("/", 1)[-1]
    content_type = evidence.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = content_type in INLINE_TYPES
    try:
        handle = evidence.file.open("rb")
    except OSError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle, as_attachment=not inline, filename=name,
        content_type=content_type if inline else "application/octet-stream",
    )
    response["Cache-Control"] = "private, no-store"
    return _harden(response)
