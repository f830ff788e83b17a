"""The admin's import previews: a confirm imports exactly the previewed file, once, for the user who previewed it.

The preview stores who previewed which stored file (by name and SHA-256) for which storefront in
which format, under a random token; the confirm page sends back only that token. Nothing the
confirm form could carry (a storefront, a file name, a format) is trusted (docs/decisions/0034).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from orders.imports.engine import ImportResult, import_orders
from orders.models import OrderImportPreview, Storefront

PREVIEW_LIFETIME = timedelta(hours=1)
# Previews never confirmed are kept this long, then deleted when a new one starts.
PREVIEW_KEPT = timedelta(days=1)


class PreviewRefused(Exception):
    """A confirm that does not match a preview of the user's, unconfirmed and recent, with its file unchanged."""


NOT_YOURS = "Nothing imported: this confirmation does not match a preview of yours. Upload the file again."
ALREADY = "Nothing imported: this preview was already confirmed."
EXPIRED = "Nothing imported: the preview is more than an hour old. Upload the file again."
GONE = "Nothing imported: the uploaded file is no longer there. Upload it again."
CHANGED = "Nothing imported: the uploaded file changed after the preview. Upload it again."


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_preview(*, user, storefront: Storefront, file_name: str, file_sha256: str, fmt: str) -> str:
    """Record a preview and return the token its confirm must send."""
    now = timezone.now()
    OrderImportPreview.objects.filter(created_at__lt=now - PREVIEW_KEPT).delete()
    token = secrets.token_urlsafe(32)
    OrderImportPreview.objects.create(token=token, user=user, storefront=storefront, file_name=file_name,
                                      file_sha256=file_sha256, format=fmt)
    return token


def confirm_preview(*, token: str, user, read: Callable[[str], bytes]) -> tuple[OrderImportPreview, ImportResult]:
    """Import the file previewed under ``token``, reading it with ``read(file_name)``.

    The preview is marked confirmed in the import's transaction: a second confirm, even one sent at
    the same moment, waits for the first and is refused. If the import fails, the mark is undone.
    """
    with transaction.atomic():
        preview = (OrderImportPreview.objects.select_related("storefront").filter(token=token, user=user).first()
                   if token else None)
        if preview is None:
            raise PreviewRefused(NOT_YOURS)
        if preview.confirmed_at is not None:
            raise PreviewRefused(ALREADY)
        now = timezone.now()
        if preview.created_at < now - PREVIEW_LIFETIME:
            raise PreviewRefused(EXPIRED)
        if not OrderImportPreview.objects.filter(pk=preview.pk, confirmed_at__isnull=True).update(confirmed_at=now):
            raise PreviewRefused(ALREADY)
        try:
            data = read(preview.file_name)
        except OSError:
            raise PreviewRefused(GONE) from None
        if data is None:  # a cache-backed storage whose entry expired
            raise PreviewRefused(GONE)
        if not isinstance(data, bytes) or file_hash(data) != preview.file_sha256:
            raise PreviewRefused(CHANGED)
        result = import_orders(storefront=preview.storefront, text=data.decode("utf-8-sig"), fmt=preview.format,
                               commit=True)
    return preview, result
