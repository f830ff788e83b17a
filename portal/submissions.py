"""The request and link forms, answered before anything looks for the order.

The view stores what was sent (``portal_submit``): one submission row and one row per file, each
file already through the upload pipeline, whatever the order number and e-mail address. A job
(``handle_submission``, run after commit, and every minute for anything left) then looks for the
order, opens or joins the case, mails the link, and deletes the submission. Whether the order
exists therefore changes neither the page nor the work done before it is sent (decision 0036).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from core import after_response
from core.errors import CaseActionError
from core.uploads import Prepared, prepare_upload
from core.uploads.types import EXTENSIONS
from orders.models import Storefront
from portal.models import PendingFile, PortalSubmission
from portal.services import portal_request, portal_resend_link

logger = logging.getLogger(__name__)
LEFT_OVER = timedelta(minutes=1)


def portal_submit(
    *, storefront: Storefront, kind: str, order_number: str, email: str, reason: str = "",
    description: str = "", files=(), now: datetime | None = None,
) -> PortalSubmission:
    """Keep the form for the job; the same queries and the same file work for any order number."""
    now = now or timezone.now()
    pending = [_prepare(upload) for upload in files]  # decode and re-encode outside the transaction
    try:
        # One insert needs no transaction of its own: without files that saves a BEGIN and a COMMIT.
        with transaction.atomic() if pending else nullcontext():
            submission = PortalSubmission.objects.create(
                storefront=storefront, kind=kind, order_number=order_number[:40], email=email[:254],
                reason=reason, description=description, created_at=now,
            )
            for row in pending:
                row.submission = submission
            PendingFile.objects.bulk_create(pending)
    except BaseException:
        _delete_stored(pending)
        raise
    from portal.tasks import handle_portal_submission

    transaction.on_commit(lambda: after_response.queue(handle_portal_submission, submission.pk))
    return submission


def _prepare(upload) -> PendingFile:
    name = str(getattr(upload, "name", "") or "")[:200]
    if not isinstance(upload, File):
        upload = File(upload, name=name)
    try:
        prepared = prepare_upload(upload, documents_allowed=False)
    except CaseActionError as error:
        return PendingFile(original_name=name, refusal=error.message[:300])
    row = PendingFile(
        original_name=name, content_type=prepared.content_type, thumbnail_type=prepared.thumbnail_type,
        sha256=prepared.sha256, received_size=prepared.received_size, width=prepared.width,
        height=prepared.height,
    )
    stem = secrets.token_hex(16)
    row.file.save(stem + EXTENSIONS[prepared.content_type], ContentFile(prepared.data), save=False)
    if prepared.thumbnail:
        row.thumbnail.save(stem + "-thumb" + EXTENSIONS[prepared.thumbnail_type], ContentFile(prepared.thumbnail),
                           save=False)
    return row


def as_prepared(row: PendingFile) -> Prepared:
    with row.file.open("rb") as fh:
        data = fh.read()
    thumbnail = b""
    if row.thumbnail:
        with row.thumbnail.open("rb") as fh:
            thumbnail = fh.read()
    return Prepared(
        content_type=row.content_type, data=data, sha256=row.sha256, received_size=row.received_size,
        width=row.width, height=row.height, thumbnail=thumbnail, thumbnail_type=row.thumbnail_type,
    )


def _delete_stored(rows) -> None:
    for row in rows:
        for field in (row.file, row.thumbnail):
            if field:
                field.storage.delete(field.name)


def handle_submission(submission_id: int, *, allowed: Callable = lambda case: True) -> bool:
    """Match one submission with its order and act on it; False when another job has it or had it.

    ``allowed(case)`` is the per-case limit on links: refused, nothing is sent and nothing is said.
    """
    with transaction.atomic():
        submission = (
            # of=self: FOR UPDATE would otherwise lock the joined storefront row too, and a second worker
            # handling another submission of the same shop would skip its own as if taken.
            PortalSubmission.objects.select_for_update(skip_locked=True, of=("self",)).select_related("storefront")
            .filter(pk=submission_id).first()
        )
        if submission is None:
            return False
        rows = list(submission.files.all())
        try:
            if submission.kind == PortalSubmission.Kind.REQUEST:
                portal_request(
                    storefront=submission.storefront, order_number=submission.order_number,
                    email=submission.email, reason=submission.reason, description=submission.description,
                    files=rows, now=submission.created_at,
                )
            else:
                portal_resend_link(
                    storefront=submission.storefront, order_number=submission.order_number,
                    email=submission.email, allowed=allowed,
                )
        except CaseActionError as error:
            logger.warning("Portal %s on %s refused: %s", submission.kind, submission.storefront.slug, error.message)
        submission.delete()
        transaction.on_commit(lambda: _delete_stored(rows))
    return True


def handle_left_over(*, now: datetime | None = None, allowed: Callable = lambda case: True) -> int:
    """Submissions whose job never ran (a broker hand-off that failed): handled by the minute's job."""
    now = now or timezone.now()
    ids = PortalSubmission.objects.filter(created_at__lt=now - LEFT_OVER).values_list("pk", flat=True)[:500]
    return sum(handle_submission(pk, allowed=allowed) for pk in list(ids))
