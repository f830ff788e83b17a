"""Images stored before the pipeline are brought up to it by ``manage.py reprocess_evidence``."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image

from cases.models import Evidence
from tests.cases import open_case
from tests.uploads import corpus

pytestmark = pytest.mark.usefixtures("media")


def legacy(case, content: bytes, name: str, content_type: str) -> Evidence:
    """A row as the old code wrote it: the uploaded bytes as they were, no thumbnail."""
    evidence = Evidence(case=case, kind="screenshot", from_customer=True, content_type=content_type,
                        size=len(content), sha256=f"{len(content):064x}", width=40, height=20)
    evidence.file.save(name, ContentFile(content), save=True)
    return evidence


def test_it_reencodes_old_images_and_makes_their_thumbnails(s0, media, django_capture_on_commit_callbacks):
    case = open_case(s0)
    photo = legacy(case, corpus.jpeg_with_everything(orientation=6), "old.jpg", "image/jpeg")
    old_path = Path(photo.file.path)
    damaged = legacy(case, corpus.save(corpus.marked(), "PNG") + b"<html>", "bad.png", "image/png")
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("reprocess_evidence", stdout=out)

    photo.refresh_from_db()
    data = Path(photo.file.path).read_bytes()
    assert corpus.SECRET.encode() not in data and b"Exif" not in data
    assert Image.open(photo.file.path).size == (20, 40) == (photo.width, photo.height)
    assert photo.size == len(data)
    assert Image.open(photo.thumbnail.path).format == "JPEG"
    assert not old_path.exists()
    damaged.refresh_from_db()
    assert not damaged.thumbnail and Path(damaged.file.path).exists()
    assert "reprocessed: 1, left as they are: 1" in out.getvalue()
    assert f"evidence {damaged.pk}: The image has 6 bytes of other data" in out.getvalue()

    again = StringIO()
    call_command("reprocess_evidence", stdout=again)
    assert "reprocessed: 0" in again.getvalue()


def test_it_changes_nothing_on_a_dry_run(s0, media):
    evidence = legacy(open_case(s0), corpus.jpeg_with_everything(), "old.jpg", "image/jpeg")
    before = Path(evidence.file.path).read_bytes()

    call_command("reprocess_evidence", "--dry-run", stdout=StringIO())

    evidence.refresh_from_db()
    assert not evidence.thumbnail and Path(evidence.file.path).read_bytes() == before
