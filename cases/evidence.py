"""Evidence on a refund case (S0-EVIDENCE, S1-VERIFY): what customers send and what staff attach.

Customers send screenshots and error messages (images, or pasted text). Staff attach proof of the
service delivered: images, PDF or plain-text connection logs. Nothing a client says about a file is
believed: the type is sniffed from its bytes, images are fully decoded by Pillow, and a file whose
name or declared type claims something else is refused. Files are stored under a random name.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
import secrets
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from cases.checks import evidence_error
from cases.errors import CaseActionError, Code
from cases.events import record_event
from cases.models import CaseEvent, Evidence, RefundCase
from cases.services.base import lock_case
from cases.states import State

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"
PDF, TEXT = "application/pdf", "text/plain"
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
CUSTOMER_KINDS = (Evidence.Kind.SCREENSHOT, Evidence.Kind.ERROR_MESSAGE)
# Control characters a text log may contain; anything else means the file is binary.
TEXT_CONTROLS = frozenset("\t\n\r\f\v")
ORIENTATION_TAG = 0x0112
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}
# Built-in table only: the host's /etc/mime.types must not change what we accept.
_MIME = mimetypes.MimeTypes()


def _max_pixels() -> int:
    # A 10 MB PNG can hold a gigapixel of one colour; decoding it would take gigabytes.
    return int(getattr(settings, "EVIDENCE_MAX_PIXELS", 24_000_000))


def _refuse(why: str) -> CaseActionError:
    return CaseActionError(Code.INVALID_INPUT, why=why)


@dataclass(frozen=True)
class _Inspected:
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


# --- writes -------------------------------------------------------------------------------


def evidence_add(
    *,
    case: RefundCase,
    kind: str,
    upload=None,
    text: str = "",
    actor=None,
    from_customer: bool = False,
    now: datetime | None = None,
) -> Evidence:
    """Attach a file and/or pasted text to an open case, with an event on the case's history.

    ``from_customer=True`` is the customer (portal, or staff entering what the customer sent, then
    ``actor`` is that staff member): screenshots and error messages only, shown on the customer's
    timeline. Otherwise ``actor`` is staff with the work permission; their evidence (proof of
    service, which may also be a PDF or a text log) is internal.

    A customer answering an evidence request does not move the case on its own: the case is
    flagged for its assignee ("customer sent evidence"), who reads it and records
    ``case_evidence_received`` (or asks again). A file alone cannot tell whether it answers the
    question that was asked, and several uploads often arrive one after the other. The deadline
    sweep leaves such a case alone: the customer answered, so there is nothing to remind them of.

    The file is written to storage only once every check has passed, and removed again if the
    database write fails. (If the caller's own outer transaction rolls back later, the stored file
    is left unreferenced; it is never half-recorded.)
    """
    now = now or timezone.now()
    if kind not in Evidence.Kind.values:
        raise _refuse(f"Unknown evidence kind {kind!r}.")
    _check_actor(kind=kind, actor=actor, from_customer=from_customer)
    text = _clean_text(text)
    if upload is None and not text:
        raise _refuse("Attach a file or paste the text of the message.")
    if kind == Evidence.Kind.SCREENSHOT and upload is None:
        raise _refuse("A screenshot needs an image file (PNG, JPEG, WEBP or GIF).")
    documents_allowed = kind == Evidence.Kind.PROOF_OF_SERVICE
    upload = _as_file(upload) if upload is not None else None
    inspected = _inspect(upload, documents_allowed=documents_allowed) if upload is not None else None
    original_name = _safe_name(getattr(upload, "name", "")) if upload is not None else ""

    stored_name = ""
    try:
        with transaction.atomic():
            # Held until commit: an agent closing the case right now cannot slip between the state
            # check and the insert, and a sweep moving the case waits for the flag written here.
            locked = lock_case(case, now)
            closed = evidence_error(case=locked, user=None)
            if closed is not None:
                raise closed
            evidence = Evidence(
                case=locked, kind=kind, text=text, uploaded_by=actor, from_customer=from_customer,
                original_name=original_name,
            )
            if upload is not None:
                evidence.content_type = inspected.content_type
                evidence.size = inspected.size
                evidence.sha256 = inspected.sha256
                evidence.width = inspected.width
                evidence.height = inspected.height
                upload.seek(0)
                evidence.file.save(_random_name(inspected.content_type), upload, save=False)
                stored_name = evidence.file.name
            evidence.save()
            _record_evidence(locked, evidence, actor=actor, now=now)
            if from_customer and locked.state == State.EVIDENCE_REQUESTED:
                locked.flagged = True
                locked.flag_reason = "Customer sent evidence"
                # The case now waits for its agent, not the customer: no reminder, no overdue flag.
                locked.next_deadline = None
                locked.save(update_fields=["flagged", "flag_reason", "next_deadline", "updated_at"])
    except BaseException:
        if stored_name:
            evidence.file.storage.delete(stored_name)
        raise
    return evidence


def _check_actor(*, kind: str, actor, from_customer: bool) -> None:
    if from_customer and kind not in CUSTOMER_KINDS:
        raise _refuse("Customers can send screenshots or error messages; proof of service is added by staff.")
    if actor is None and not from_customer:
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    if actor is not None and not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")


def _record_evidence(case: RefundCase, evidence: Evidence, *, actor, now: datetime) -> CaseEvent:
    what = evidence.get_kind_display().lower()
    comment = f"{'Customer sent' if evidence.from_customer else 'Added'} {what}"
    if evidence.original_name:
        comment += f": {evidence.original_name}"
    visibility = CaseEvent.Visibility.CUSTOMER if evidence.from_customer else CaseEvent.Visibility.INTERNAL
    return record_event(
        case,
        actor=actor,
        actor_label="customer" if actor is None else None,
        kind=CaseEvent.Kind.EVIDENCE,
        now=now,
        comment=comment,
        visibility=visibility,
        data={
            "evidence_id": evidence.pk,
            "kind": evidence.kind,
            "from_customer": evidence.from_customer,
            "content_type": evidence.content_type,
            "size": evidence.size,
            "sha256": evidence.sha256,
            "original_name": evidence.original_name,
        },
    )


# --- reads --------------------------------------------------------------------------------


def evidence_thumbnail(evidence: Evidence, size: tuple[int, int] = (240, 240)) -> bytes:
    """A small preview of an image evidence, turned upright by its EXIF orientation.

    PNG when the image has transparency, JPEG otherwise.
    """
    fmt = PILLOW_FORMATS.get(evidence.content_type)
    if not evidence.file or fmt is None:
        raise _refuse(f"This {evidence.get_kind_display().lower()} has no image to preview.")
    width, height = size
    if not (isinstance(width, int) and isinstance(height, int) and 0 < width <= 2048 and 0 < height <= 2048):
        raise _refuse("A thumbnail size is two whole numbers of pixels between 1 and 2048.")
    try:
        with evidence.file.open("rb") as fh, _bomb_guard(), Image.open(fh, formats=[fmt]) as image:
            _check_pixels(image)
            image = ImageOps.exif_transpose(image)
            image.thumbnail((width, height))
            return _encode_preview(image)
    except FileNotFoundError:
        raise _refuse("The stored file of this evidence is missing.") from None
    except CaseActionError:
        raise
    except Exception:  # the stored file was checked on upload; if it no longer decodes, say so
        raise _refuse("The stored image could not be read.") from None


def _encode_preview(image: Image.Image) -> bytes:
    out = BytesIO()
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if transparent:
        image.convert("RGBA").save(out, format="PNG", optimize=True)
    else:
        image.convert("RGB").save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue()


# --- inspection ---------------------------------------------------------------------------


def _as_file(upload) -> File:
    if isinstance(upload, File):
        return upload
    if hasattr(upload, "read") and hasattr(upload, "seek"):
        return File(upload, name=getattr(upload, "name", "") or "")
    raise _refuse("The upload is not a file.")


def _inspect(upload: File, *, documents_allowed: bool) -> _Inspected:
    limit = settings.EVIDENCE_MAX_BYTES
    too_big = _refuse(f"The file is larger than the {_megabytes(limit)} limit.")
    declared = getattr(upload, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise too_big

    digest = hashlib.sha256()
    size = 0
    head = b""
    decoder = codecs.getincrementaldecoder("utf-8")()
    maybe_text = documents_allowed
    for chunk in upload.chunks():
        size += len(chunk)
        if size > limit:  # the declared size is the client's word; count what actually arrives
            raise too_big
        digest.update(chunk)
        if len(head) < 16:
            head += chunk[: 16 - len(head)]
        if maybe_text:
            maybe_text = _is_text(decoder, chunk)
    if maybe_text:
        maybe_text = _is_text(decoder, b"", final=True)
    if size == 0:
        raise _refuse("The file is empty.")

    content_type = _sniff(head) or (TEXT if maybe_text else None)
    accepted = "PNG, JPEG, WEBP or GIF images, PDF or plain-text logs" if documents_allowed else (
        "PNG, JPEG, WEBP or GIF images")
    if content_type is None or (content_type not in PILLOW_FORMATS and not documents_allowed):
        raise _refuse(f"This kind of file is not accepted here: send {accepted}.")
    _check_claims(upload, content_type)

    width = height = None
    if content_type in PILLOW_FORMATS:
        width, height = _verify_image(upload, PILLOW_FORMATS[content_type])
    elif content_type == PDF:
        _verify_pdf(upload, size)
    return _Inspected(content_type=content_type, size=size, sha256=digest.hexdigest(), width=width, height=height)


def _sniff(head: bytes) -> str | None:
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


def _is_text(decoder, chunk: bytes, *, final: bool = False) -> bool:
    try:
        decoded = decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in TEXT_CONTROLS for ch in decoded)


def _check_claims(upload: File, content_type: str) -> None:
    """Refuse a file whose name or declared type says it is something else."""
    name = getattr(upload, "name", "") or ""
    claims = [("name", _MIME.guess_type(name)[0] if name else None)]
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        claims.append(("declared type", declared))
    for source, claimed in claims:
        if claimed is not None and claimed not in ALIASES[content_type]:
            raise _refuse(
                f"The file's {source} says {claimed}, but its content is {LABELS[content_type]}; "
                "send the original file."
            )


@contextmanager
def _bomb_guard() -> Iterator[None]:
    """Pillow only warns on big images below twice its limit; treat the warning as a refusal."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > _max_pixels():
        raise _refuse(
            f"The image is too large ({width}×{height} pixels, more than the {_max_pixels():,} accepted); "
            "send a smaller screenshot."
        )


def _verify_image(upload: File, fmt: str) -> tuple[int, int]:
    try:
        with _bomb_guard():
            upload.seek(0)
            with Image.open(upload, formats=[fmt]) as image:
                _check_pixels(image)
                image.verify()
            # verify() checks the structure only; decoding proves the pixel data is all there.
            upload.seek(0)
            with Image.open(upload, formats=[fmt]) as image:
                image.load()
                width, height = image.size
                orientation = image.getexif().get(ORIENTATION_TAG)
    except CaseActionError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("The image is too large to be opened safely; send a smaller screenshot.") from None
    except Exception:  # any decoder error on untrusted bytes means the same thing to the uploader
        raise _refuse(f"The file looks like a {fmt} image but is damaged or incomplete.") from None
    if orientation in SWAPPED_ORIENTATIONS:
        width, height = height, width
    return width, height


def _verify_pdf(upload: File, size: int) -> None:
    upload.seek(max(size - 2048, 0))
    tail = upload.read()
    if b"%%EOF" not in tail:
        raise _refuse("The file starts like a PDF but is incomplete (no end-of-file marker).")


# --- names and text -----------------------------------------------------------------------


def _random_name(content_type: str) -> str:
    return secrets.token_hex(16) + EXTENSIONS[content_type]


def _safe_name(raw: str) -> str:
    """The client's file name, for display: last path part, no control or bidi characters."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 190 - len(ext[:10])]}.{ext[:10]}" if dot and stem else name[:200]
    return name


def _clean_text(text: str) -> str:
    # PostgreSQL text cannot hold NUL characters; a pasted message never needs them.
    text = (text or "").replace("\x00", "").strip()
    limit = settings.EVIDENCE_MAX_BYTES
    if len(text.encode("utf-8")) > limit:
        raise _refuse(f"The pasted text is longer than the {_megabytes(limit)} limit; attach it as a file.")
    return text


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
