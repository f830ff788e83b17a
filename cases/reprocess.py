"""Bring images stored before the pipeline up to it: re-encoded without metadata, with a thumbnail.

Run by ``manage.py reprocess_evidence``. Each evidence is done in its own transaction with its row
locked, so two runs at once do each file once; the old file is deleted only after the new one is
committed. A file that the pipeline would refuse today (damaged, polyglot) is left as it is and
reported: it is on record, and deleting evidence is not a maintenance job's call.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.db import transaction

from cases.models import Evidence
from core.errors import CaseActionError
from core.uploads.images import clean_image
from core.uploads.types import EXTENSIONS, IMAGE_TYPES, refuse, sniff


@dataclass
class ReprocessReport:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def pending():
    return Evidence.objects.filter(content_type__in=IMAGE_TYPES, thumbnail="").exclude(file="")


def reprocess_evidence(*, dry_run: bool = False) -> ReprocessReport:
    report = ReprocessReport()
    for pk in pending().order_by("pk").values_list("pk", flat=True):
        try:
            if _reprocess_one(pk, dry_run=dry_run):
                report.done.append(pk)
        except CaseActionError as error:
            report.refused.append((pk, error.message))
        except OSError as error:  # the stored file is missing or unreadable
            report.refused.append((pk, f"stored file unreadable: {error}"))
    return report


def _reprocess_one(pk: int, *, dry_run: bool) -> bool:
    written: list[str] = []
    with transaction.atomic():
        # Locked so that a second run waits here and then finds the thumbnail already made.
        evidence = Evidence.objects.select_for_update().filter(pk=pk, thumbnail="").first()
        if evidence is None:
            return False
        with evidence.file.open("rb") as handle:
            data = handle.read()
        content_type = sniff(data[:16])
        if content_type not in IMAGE_TYPES:
            raise refuse(f"The stored content is not an image ({content_type or 'unknown'}).")
        clean = clean_image(data, content_type)
        if dry_run:
            return True
        old_name = evidence.file.name
        storage = evidence.file.storage
        stem = secrets.token_hex(16)
        try:
            evidence.file.save(stem + EXTENSIONS[clean.content_type], ContentFile(clean.data), save=False)
            written.append(evidence.file.name)
            evidence.thumbnail.save(stem + EXTENSIONS[clean.thumbnail_type], ContentFile(clean.thumbnail),
                                    save=False)
            written.append(evidence.thumbnail.name)
            evidence.content_type = clean.content_type
            evidence.size = len(clean.data)
            evidence.width, evidence.height = clean.width, clean.height
            evidence.save(update_fields=["file", "thumbnail", "content_type", "size", "width", "height"])
        except BaseException:
            for name in written:
                storage.delete(name)
            raise
        transaction.on_commit(lambda: storage.delete(old_name))
    return True
