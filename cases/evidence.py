"""Evidence on a refund case (S0-EVIDENCE, S1-VERIFY): what customers send and what staff attach.

Customers send screenshots and error messages (images, or pasted text). Staff attach proof of the
service delivered: images, PDF or plain-text connection logs. Every file, whoever sends it and
however it arrives (admin, portal, e-mail), goes through ``core.uploads.prepare_upload``: the
type is told from its bytes, images are decoded once and stored re-encoded without metadata, with
a thumbnail made then. Files are stored under a random name through the default storage.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from cases.checks import evidence_error
from cases.events import record_event
from cases.models import CaseEvent, Evidence, RefundCase
from cases.services.base import lock_case
from cases.states import State
from core.errors import CaseActionError, Code
from core.typing import Actor
from core.uploads import Prepared, prepare_upload
from core.uploads.types import EXTENSIONS, megabytes

CUSTOMER_KINDS = (Evidence.Kind.SCREENSHOT, Evidence.Kind.ERROR_MESSAGE)


def _max_files() -> int:
    return int(getattr(settings, "EVIDENCE_MAX_FILES_PER_CASE", 20))


def _refuse(why: str) -> CaseActionError:
    return CaseActionError(Code.INVALID_INPUT, why=why)


# --- writes -------------------------------------------------------------------------------


def evidence_add(
    *,
    case: RefundCase,
    kind: str,
    upload: Any = None,
    prepared: Prepared | None = None,
    original_name: str = "",
    text: str = "",
    actor: Actor | None = None,
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

    The same file (by the hash of the bytes received) sent again to the same case is not stored
    twice: the evidence already holding it is returned, with no new event.

    ``prepared`` (with ``original_name``) stands for an ``upload`` that already went through
    ``prepare_upload`` (the portal prepares a request's files before it knows the order).

    The file is written to storage only once every check has passed, and removed again if the
    database write fails. (If the caller's own outer transaction rolls back later, the stored file
    is left unreferenced; it is never half-recorded.)
    """
    now = now or timezone.now()
    if kind not in Evidence.Kind.values:
        raise _refuse(f"Unknown evidence kind {kind!r}.")
    _check_actor(kind=kind, actor=actor, from_customer=from_customer)
    text = _clean_text(text)
    if upload is None and prepared is None and not text:
        raise _refuse("Attach a file or paste the text of the message.")
    if kind == Evidence.Kind.SCREENSHOT and upload is None and prepared is None:
        raise _refuse("A screenshot needs an image file (PNG, JPEG, WEBP or GIF).")
    documents_allowed = kind == Evidence.Kind.PROOF_OF_SERVICE
    if upload is not None:
        upload = _as_file(upload)
        # The expensive part (decode, re-encode, thumbnail) runs before the case lock is taken.
        prepared = prepare_upload(upload, documents_allowed=documents_allowed)
        original_name = getattr(upload, "name", "")
    original_name = _safe_name(original_name) if prepared is not None else ""

    stored: list[str] = []
    try:
        with transaction.atomic():
            # Held until commit: an agent closing the case right now cannot slip between the state
            # check and the insert, and a sweep moving the case waits for the flag written here.
            locked = lock_case(case)
            closed = evidence_error(case=locked, user=None)
            if closed is not None:
                raise closed
            if prepared is not None:
                # Under the case lock: the same file sent twice at once finds its first copy, and two
                # uploads at once cannot both take the last free place. The unique constraint backs it.
                already = Evidence.objects.filter(case=locked, sha256=prepared.sha256).first()
                if already is not None:
                    return already
                if Evidence.objects.filter(case=locked).exclude(file="").count() >= _max_files():
                    raise _refuse(
                        f"Case {locked.number} already has {_max_files()} files, the most a case can hold; "
                        "paste the text instead, or ask the agent which file to replace."
                    )
            evidence = Evidence(
                case=locked, kind=kind, text=text, uploaded_by=actor, from_customer=from_customer,
                original_name=original_name,
            )
            if prepared is not None:
                _store(evidence, prepared, stored)
            evidence.save()
            _record_evidence(locked, evidence, actor=actor, now=now, prepared=prepared)
            if from_customer and locked.state == State.EVIDENCE_REQUESTED:
                locked.flagged = True
                locked.flag_reason = "Customer sent evidence"
                # The case now waits for its agent, not the customer: no reminder, no overdue flag.
                locked.next_deadline = None
                locked.save(update_fields=["flagged", "flag_reason", "next_deadline", "updated_at"])
    except BaseException:
        for name in stored:
            Evidence.file.field.storage.delete(name)
        raise
    return evidence


def _store(evidence: Evidence, prepared: Prepared, stored: list[str]) -> None:
    """Write the cleaned file and its thumbnail; ``stored`` lists what to delete if the row is not saved."""
    stem = secrets.token_hex(16)
    evidence.content_type = prepared.content_type
    evidence.size = len(prepared.data)
    evidence.sha256 = prepared.sha256
    evidence.width, evidence.height = prepared.width, prepared.height
    evidence.file.save(stem + EXTENSIONS[prepared.content_type], ContentFile(prepared.data), save=False)
    stored.append(evidence.file.name)
    if prepared.thumbnail:
        evidence.thumbnail.save(
            stem + EXTENSIONS[prepared.thumbnail_type], ContentFile(prepared.thumbnail), save=False
        )
        stored.append(evidence.thumbnail.name)


def _check_actor(*, kind: str, actor: Actor | None, from_customer: bool) -> None:
    if from_customer and kind not in CUSTOMER_KINDS:
        raise _refuse("Customers can send screenshots or error messages; proof of service is added by staff.")
    if actor is None and not from_customer:
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    if actor is not None and not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")


# The kind as the history's sentence says it ("The customer sent a screenshot: tv.png").
EVIDENCE_NOUNS = {"screenshot": "a screenshot", "error_message": "an error message",
                  "proof_of_service": "proof of service"}


def _record_evidence(
    case: RefundCase, evidence: Evidence, *, actor: Actor | None, now: datetime, prepared: Prepared | None
) -> CaseEvent:
    what = EVIDENCE_NOUNS.get(evidence.kind, evidence.get_kind_display().lower())
    comment = f"{'The customer sent' if evidence.from_customer else 'Added'} {what}"
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
            "received_size": prepared.received_size if prepared is not None else 0,
            "sha256": evidence.sha256,
            "original_name": evidence.original_name,
        },
    )


# --- reads --------------------------------------------------------------------------------


def evidence_thumbnail(evidence: Evidence) -> bytes:
    """The thumbnail stored when the image was accepted (never re-rendered on a page view)."""
    if not evidence.thumbnail:
        raise _refuse(f"This {evidence.get_kind_display().lower()} has no image to preview.")
    try:
        with evidence.thumbnail.open("rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise _refuse("The stored thumbnail of this evidence is missing.") from None


def _as_file(upload: Any) -> File:
    if isinstance(upload, File):
        return upload
    if hasattr(upload, "read") and hasattr(upload, "seek"):
        return File(upload, name=getattr(upload, "name", "") or "")
    raise _refuse("The upload is not a file.")


# --- names and text -----------------------------------------------------------------------


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
        raise _refuse(f"The pasted text is longer than the {megabytes(limit)} limit; attach it as a file.")
    return text
