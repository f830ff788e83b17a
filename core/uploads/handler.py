"""Stop reading a request the moment one uploaded file passes the size limit.

Django's default handlers write every byte of every file to memory or a temporary file before a
view can look at it: a 60 MB file is received in full only to be refused. This handler sits first
in ``FILE_UPLOAD_HANDLERS``, counts each file's bytes as they stream in, and at the first byte
past ``EVIDENCE_MAX_BYTES`` ends the parse without reading the rest of the body
(``StopUpload(connection_reset=True)``). The file's field is then filled with an empty
``RefusedUpload`` that carries the reason, so the view's form and ``evidence_add`` answer with a
clear message instead of "no file attached". Fields sent after the file are not read; browsers
send a form's fields in page order, and the CSRF token comes first.

A request may carry at most ``MAX_FILES_PER_REQUEST`` files, and its whole body at most that many
files at the limit (plus the form fields' allowance): a request over either is stopped when its
first extra file starts (or, for the body, at its first file), before the files' bytes are read. That
refusal is the whole request's, not one file's: :func:`request_refusal` says it in words, and the
view answers with it.

The limit is the evidence one unless the view the request goes to was marked with
``upload_limit("SETTING")``: the order import, for one, takes files of hundreds of megabytes. The
URL is resolved before any middleware reads the body, so the handler knows the view by then.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http.multipartparser import MultiPartParser

from core.uploads.types import max_bytes, megabytes

MAX_FILES_PER_REQUEST = 10


class RefusedUpload(UploadedFile):
    """Stands in for a file that was cut off; it holds no bytes, only why it was refused."""

    def __init__(self, *, name: str, content_type: str, received: int, refusal: str) -> None:
        super().__init__(BytesIO(b""), name=name, content_type=content_type, size=received)
        self.refusal = refusal


def upload_limit(setting: str) -> Callable:
    """Mark a view whose uploads may be as large as the setting ``setting`` says (in bytes)."""

    def mark(view: Callable) -> Callable:
        view.upload_max_bytes_setting = setting
        return view

    return mark


def request_refusal(request) -> str:
    """Why the request's files were not read (too many, too large together), or "" when they were."""
    request.FILES  # noqa: B018  (parses the body, if nothing has yet)
    return getattr(request, "upload_refusal", "")


def limit_for(request) -> int:
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    setting = getattr(view, "upload_max_bytes_setting", None)
    return int(getattr(settings, setting)) if setting else max_bytes()


class CappedUploadHandler(FileUploadHandler):
    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.limit = limit_for(request)
        self.refused: list[tuple[str, RefusedUpload]] = []
        self._parsing = False
        self._received = 0
        self._files = 0
        self._body = 0
        # Every file at the limit, and the form fields' own allowance.
        self.body_limit = self.limit * MAX_FILES_PER_REQUEST + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Run the ordinary parser ourselves, so a refused file can be put back into request.FILES.
        if self._parsing or self.request is None:
            return None
        self._parsing = True
        self._body = int(content_length or 0)
        try:
            post, files = MultiPartParser(META, input_data, self.request.upload_handlers, encoding).parse()
        finally:
            self._parsing = False
        for field_name, refused in self.refused:
            files.appendlist(field_name, refused)
        return post, files

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self._received = 0
        self._files += 1
        if self._body > self.body_limit:
            self._refuse_request(
                f"The files sent together are larger than the {megabytes(self.body_limit)} limit: "
                f"send fewer or smaller files. Nothing was stored."
            )
        if self._files > MAX_FILES_PER_REQUEST:
            self._refuse_request(f"Send at most {MAX_FILES_PER_REQUEST} files at a time. Nothing was stored.")
        if content_length is not None and content_length > self.limit:
            self._refuse(content_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        if self._received > self.limit:
            self._refuse(self._received)
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handler builds the file

    def _refuse(self, received: int) -> None:
        refusal = f"The file is larger than the {megabytes(self.limit)} limit."
        self.refused.append(
            (self.field_name, RefusedUpload(name=self.file_name, content_type=self.content_type or "",
                                            received=received, refusal=refusal))
        )
        raise StopUpload(connection_reset=True)

    def _refuse_request(self, why: str) -> None:
        if self.request is not None:
            self.request.upload_refusal = why
        raise StopUpload(connection_reset=True)
