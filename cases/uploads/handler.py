"""Stop reading a request the moment one uploaded file passes the size limit.

Django's default handlers write every byte of every file to memory or a temporary file before a
view can look at it: a 60 MB file is received in full only to be refused. This handler sits first
in ``FILE_UPLOAD_HANDLERS``, counts each file's bytes as they stream in, and at the first byte
past ``EVIDENCE_MAX_BYTES`` ends the parse without reading the rest of the body
(``StopUpload(connection_reset=True)``). The file's field is then filled with an empty
``RefusedUpload`` that carries the reason, so the view's form and ``evidence_add`` answer with a
clear message instead of "no file attached". Fields sent after the file are not read; browsers
send a form's fields in page order, and the CSRF token comes first.

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

from cases.uploads.types import max_bytes, megabytes


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

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Run the ordinary parser ourselves, so a refused file can be put back into request.FILES.
        if self._parsing or self.request is None:
            return None
        self._parsing = True
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
