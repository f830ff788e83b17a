"""Files leave only through the views that check rights, with headers that keep the browser from running them."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases.evidence import evidence_add
from cases.models import Evidence
from tests.admin.conftest import case_url, client_for
from tests.cases import open_case
from tests.uploads import corpus

pytestmark = pytest.mark.usefixtures("media")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def add(case, content: bytes, name: str, **call) -> Evidence:
    call.setdefault("kind", "screenshot")
    call.setdefault("from_customer", True)
    return evidence_add(case=case, upload=SimpleUploadedFile(name, content, content_type=""), **call)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_hardened(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_it_serves_an_image_inline_with_its_type_and_the_stored_clean_bytes(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.jpeg_with_everything(), "My photo.jpg")

    response = client_for(agent).get(case_url(case, "evidence_file", evidence.pk))

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'inline; filename="My photo.jpg"'
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert_hardened(response)
    served = body(response)
    assert served == Path(evidence.file.path).read_bytes()
    assert corpus.SECRET.encode() not in served and b"Exif" not in served


def test_it_names_a_gif_download_after_what_is_stored(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.animated_gif(), "error.gif")

    response = client_for(agent).get(case_url(case, "evidence_file", evidence.pk))

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="error.png"'


def test_it_serves_a_pdf_only_as_a_download(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, PDF, "report.pdf", kind="proof_of_service", from_customer=False, actor=agent)

    response = client_for(agent).get(case_url(case, "evidence_file", evidence.pk))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert_hardened(response)
    assert client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk)).status_code == 404


def test_it_serves_the_thumbnail_stored_at_intake_without_rendering_it_again(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.save(corpus.marked((800, 400)), "PNG"), "s.png")
    # Neither the original nor Pillow is touched by a page view: the stored thumbnail is sent as it is.
    Path(evidence.file.path).unlink()
    marker = corpus.save(Image.new("RGB", (7, 7), (1, 2, 3)), "JPEG")
    Path(evidence.thumbnail.path).write_bytes(marker)

    response = client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk))

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response.content == marker
    assert response["Content-Disposition"] == "inline"
    assert_hardened(response)


def test_it_answers_404_for_an_image_stored_before_thumbnails_were(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.save(corpus.marked(), "PNG"), "s.png")
    Evidence.objects.filter(pk=evidence.pk).update(thumbnail="")

    assert client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk)).status_code == 404


def test_it_refuses_files_and_thumbnails_to_staff_without_the_view_permission(s0, agent, outsider):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.save(corpus.marked(), "PNG"), "s.png")

    for name in ("evidence_file", "evidence_thumbnail"):
        assert client_for(outsider).get(case_url(case, name, evidence.pk)).status_code == 403
        assert client_for(agent).get(case_url(open_case(s0), name, evidence.pk)).status_code == 404


def test_it_shows_the_thumbnail_at_its_stored_size(s0, agent):
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.save(corpus.marked((1170, 2532)), "PNG"), "s.png")

    response = client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk))

    assert Image.open(BytesIO(response.content)).size == (111, 240)


def test_it_keeps_the_whole_of_a_tall_phone_screenshot_in_its_thumbnail(s0, agent):
    """Fit, not crop: the thumbnail has the screenshot's shape and shows its top and bottom edges."""
    tall = Image.new("RGB", (1170, 2532), (255, 255, 255))
    tall.paste((200, 0, 0), (0, 0, 1170, 120))  # a red status bar at the very top
    tall.paste((0, 0, 200), (0, 2412, 1170, 2532))  # a blue home bar at the very bottom
    case = open_case(s0, reason="other")
    evidence = add(case, corpus.save(tall, "PNG"), "phone.png")

    thumb = Image.open(BytesIO(client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk)).content))

    width, height = thumb.size
    assert height == 240 and abs(width / height - 1170 / 2532) < 0.01
    top, bottom = thumb.convert("RGB").getpixel((width // 2, 1)), thumb.convert("RGB").getpixel((width // 2, height - 2))
    assert top[0] > 150 and top[2] < 80, top
    assert bottom[2] > 150 and bottom[0] < 80, bottom
