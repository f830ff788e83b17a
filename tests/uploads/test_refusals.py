"""Bad files get a clear sentence and leave nothing behind: no row, no event, no stored byte."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.evidence import evidence_add
from cases.models import Evidence
from core.errors import CaseActionError, Code
from tests.cases import open_case
from tests.uploads import corpus

HTML = b"<html><body><script>fetch('/admin/').then(r=>r.text()).then(alert)</script></body></html>"


def refused(media: Path, case, content: bytes, name: str = "shot.png", **call) -> str:
    call.setdefault("kind", "screenshot")
    if "actor" not in call:
        call["from_customer"] = True
    events_before = case.events.count()
    with pytest.raises(CaseActionError) as caught:
        evidence_add(case=case, upload=SimpleUploadedFile(name, content, content_type=""), **call)
    assert caught.value.code == Code.INVALID_INPUT
    assert not Evidence.objects.filter(case=case).exists()
    assert case.events.count() == events_before
    assert [p for p in media.rglob("*") if p.is_file()] == []
    return caught.value.message


def png() -> bytes:
    return corpus.save(corpus.marked((200, 120)), "PNG")


def jpeg() -> bytes:
    return corpus.save(corpus.marked((200, 120)), "JPEG")


def gif() -> bytes:
    return corpus.animated_gif()


def webp() -> bytes:
    return corpus.save(corpus.marked((200, 120)), "WEBP")


@pytest.mark.parametrize("build", [png, jpeg, gif, webp], ids=["png", "jpeg", "gif", "webp"])
@pytest.mark.parametrize(
    "cut", [lambda data: data[: len(data) // 2], lambda data: data[:-1], lambda data: data[:-12]],
    ids=["half", "last-byte", "last-12-bytes"],
)
def test_it_refuses_a_truncated_image(s0, media, build, cut):
    content = build()
    name = {b"\x89P": "s.png", b"\xff\xd8": "s.jpg", b"GI": "s.gif", b"RI": "s.webp"}[content[:2]]

    message = refused(media, open_case(s0), cut(content), name)

    assert "damaged or incomplete" in message


@pytest.mark.parametrize("build", [png, jpeg, gif, webp], ids=["png", "jpeg", "gif", "webp"])
@pytest.mark.parametrize("appended", [HTML, corpus.zip_archive()], ids=["html", "zip"])
def test_it_refuses_a_polyglot_with_data_appended_after_the_image(s0, media, build, appended):
    content = build()
    name = {b"\x89P": "s.png", b"\xff\xd8": "s.jpg", b"GI": "s.gif", b"RI": "s.webp"}[content[:2]]

    message = refused(media, open_case(s0), content + appended, name)

    assert "hidden after its end" in message


def test_it_refuses_a_png_whose_pixel_data_was_altered(s0, media):
    content = bytearray(corpus.save(corpus.marked((200, 120)), "PNG", compress_level=0))
    content[len(content) // 2] ^= 0xFF  # inside IDAT: the chunk's CRC no longer matches

    assert "damaged or incomplete" in refused(media, open_case(s0), bytes(content))


def test_it_accepts_zero_padding_after_the_image(s0, media):
    evidence = evidence_add(case=open_case(s0), kind="screenshot", from_customer=True,
                            upload=SimpleUploadedFile("s.jpg", jpeg() + b"\x00" * 64, content_type=""))

    assert evidence.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("content", "name", "says"),
    [
        (png(), "photo.jpg", "name says image/jpeg"),
        (jpeg(), "screen.png", "name says image/png"),
        (png(), "page.html", "name says text/html"),
        (gif(), "clip.mp4", "name says video/mp4"),
    ],
)
def test_it_refuses_a_renamed_file(s0, media, content, name, says):
    assert says in refused(media, open_case(s0), content, name)


@pytest.mark.parametrize(
    ("content", "name"),
    [(HTML, "screen.png"), (b"%PDF-1.4\n%%EOF\n", "screen.png"), (corpus.zip_archive(), "screen.png"),
     (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "screen.svg")],
    ids=["html", "pdf", "zip", "svg"],
)
def test_it_refuses_what_is_not_an_image_from_a_customer(s0, media, content, name):
    assert "not accepted here" in refused(media, open_case(s0), content, name)


def test_it_refuses_an_empty_file(s0, media):
    assert "empty" in refused(media, open_case(s0), b"")


def test_it_refuses_heic_with_a_way_forward(s0, media):
    message = refused(media, open_case(s0), corpus.heic_header(), "IMG_0001.HEIC")

    assert "HEIC" in message and "JPEG" in message


def test_it_refuses_a_decompression_bomb_from_its_header(s0, media):
    bomb = corpus.bomb_png()
    assert len(bomb) < 100_000

    assert "too large" in refused(media, open_case(s0), bomb)


def test_it_refuses_an_image_over_the_pixel_setting(s0, media, settings):
    settings.EVIDENCE_MAX_PIXELS = 10_000

    assert "200×120 pixels, more than the 10,000 accepted" in refused(media, open_case(s0), png())


def test_it_refuses_a_file_over_the_size_setting_without_reading_past_it(s0, media, settings):
    settings.EVIDENCE_MAX_BYTES = 1_000

    class Counting(File):
        """A file from a caller outside HTTP (mail), which says it is small and is not."""

        read_bytes = 0
        size = 10

        def chunks(self, chunk_size=None):
            for chunk in super().chunks(100):
                Counting.read_bytes += len(chunk)
                yield chunk

    case = open_case(s0)
    upload = Counting(BytesIO(b"\x89PNG\r\n\x1a\n" + b"x" * 50_000), name="big.png")
    with pytest.raises(CaseActionError) as caught:
        evidence_add(case=case, kind="screenshot", upload=upload, from_customer=True)

    assert "1,000 bytes limit" in caught.value.message
    assert Counting.read_bytes <= 1_100


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n%%EOF\n",
     b"%PDF-1.4\n1 0 obj << /OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> >> endobj\n%%EOF\n",
     b"%PDF-1.4\n1 0 obj << /Type /Filespec /EF << /F 2 0 R >> /EmbeddedFile 2 0 R >> endobj\n%%EOF\n"],
    ids=["javascript", "escaped-name", "embedded-file"],
)
def test_it_refuses_a_staff_pdf_with_active_content(s0, agent, media, content):
    message = refused(media, open_case(s0), content, "report.pdf", kind="proof_of_service", actor=agent)

    assert "active content" in message
