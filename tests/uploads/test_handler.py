"""The upload handler stops reading a request at the first byte past the limit, and says why."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from cases.models import Evidence
from core.uploads.handler import request_refusal
from tests.admin.conftest import case_url, client_for, messages_of
from tests.cases import open_case
from tests.uploads import corpus

CHUNK = 64 * 1024  # Django's parser reads the body in chunks of this size


class CountingInput(BytesIO):
    """A request body that remembers how much of it the server read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size=-1):
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.consumed += len(data)
        return data


def multipart_request(fields: dict) -> tuple[WSGIRequest, CountingInput]:
    body = encode_multipart(BOUNDARY, fields)
    stream = CountingInput(body)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/upload", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body)), "wsgi.input": stream,
        "wsgi.url_scheme": "http",
    }
    return WSGIRequest(environ), stream


def test_it_stops_reading_the_body_at_the_limit(settings):
    settings.EVIDENCE_MAX_BYTES = 200_000
    big = SimpleUploadedFile("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 6_000_000, content_type="image/png")
    request, body = multipart_request({"kind": "screenshot", "upload": big, "after": "never read"})

    upload = request.FILES["upload"]

    assert body.consumed < 200_000 + 3 * CHUNK  # of a 6 MB body
    assert upload.refusal == "The file is larger than the 200,000 bytes limit."
    assert upload.read() == b"" and upload.size > 200_000
    assert request.POST["kind"] == "screenshot" and "after" not in request.POST


def test_it_passes_a_file_under_the_limit_through_whole(settings):
    settings.EVIDENCE_MAX_BYTES = 200_000
    content = corpus.save(corpus.marked(), "PNG")
    request, body = multipart_request({"kind": "screenshot", "upload": SimpleUploadedFile("s.png", content)})

    upload = request.FILES["upload"]

    assert not hasattr(upload, "refusal")
    assert upload.read() == content
    assert body.consumed == body.getbuffer().nbytes


def test_it_refuses_a_part_that_declares_a_size_over_the_limit(settings):
    settings.EVIDENCE_MAX_BYTES = 1_000
    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"s.png\"\r\n"
        "Content-Type: image/png\r\nContent-Length: 5000000\r\n\r\n"
    ).encode() + b"x" * 500_000 + f"\r\n--{BOUNDARY}--\r\n".encode()
    stream = CountingInput(body)
    request = WSGIRequest({
        "REQUEST_METHOD": "POST", "PATH_INFO": "/upload", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body)), "wsgi.input": stream,
        "wsgi.url_scheme": "http",
    })

    assert request.FILES["upload"].refusal == "The file is larger than the 1,000 bytes limit."
    assert stream.consumed < 2 * CHUNK


@pytest.mark.usefixtures("media")
def test_it_answers_an_oversize_staff_upload_with_a_message_and_stores_nothing(s0, agent, media, settings):
    settings.EVIDENCE_MAX_BYTES = 100_000
    case = open_case(s0, reason="other")
    big = SimpleUploadedFile("huge.png", corpus.save(corpus.marked(), "PNG") + b"\x00" * 400_000,
                             content_type="image/png")

    response = client_for(agent).post(case_url(case, "evidence_add"), {"kind": "screenshot", "upload": big},
                                      follow=True)

    assert response.status_code == 200
    assert "The file is larger than the 100,000 bytes limit." in messages_of(response)
    assert not Evidence.objects.filter(case=case).exists()
    assert [p for p in media.rglob("*") if p.is_file()] == []


def small_files(count: int, size: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"{n}.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * size, content_type="image/png")
            for n in range(count)]


def test_it_stops_reading_at_the_first_file_past_the_count(settings):
    settings.EVIDENCE_MAX_BYTES = 200_000
    request, body = multipart_request({"kind": "screenshot", "files": small_files(100, 20_000)})

    files = request.FILES.getlist("files")

    assert body.consumed < 11 * 20_100 + 2 * CHUNK  # of a 2 MB body
    assert len(files) <= 10
    assert request_refusal(request) == "Send at most 10 files at a time. Nothing was stored."
    assert request.POST["kind"] == "screenshot"


def test_it_refuses_a_body_larger_than_every_file_at_the_limit_before_reading_a_file(settings):
    settings.EVIDENCE_MAX_BYTES = 30_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000  # the body may be 10 × 30,000 + 10,000 bytes
    request, body = multipart_request({"kind": "screenshot", "files": small_files(12, 29_000)})

    files = request.FILES.getlist("files")

    assert body.consumed < 2 * CHUNK  # of 350 KB
    assert files == []
    assert request_refusal(request) == (
        "The files sent together are larger than the 310,000 bytes limit: send fewer or smaller files. "
        "Nothing was stored."
    )
    assert request.POST["kind"] == "screenshot"


def test_it_reads_ten_files_at_the_limit_whole(settings):
    settings.EVIDENCE_MAX_BYTES = 30_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    request, body = multipart_request({"kind": "screenshot", "files": small_files(10, 29_000)})

    assert len(request.FILES.getlist("files")) == 10
    assert request_refusal(request) == ""
    assert body.consumed == body.getbuffer().nbytes
