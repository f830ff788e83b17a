"""Staff documents: PDF reports and plain-text connection logs (never from customers).

These are not images, so there is nothing to re-encode: a PDF is checked and stored as sent, a
text log is stored as the UTF-8 it was proven to be. Neither is ever shown by the browser in our
own origin: they are served as downloads (see ``cases.evidence_files``), so a script inside one
cannot run with the back office's cookies. The PDF check is a screen, not a sanitiser: it refuses
the obvious active content (JavaScript, launch actions, embedded files), which a compressed object
stream could still hide; the download-only rule is what the safety rests on.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from core.uploads.types import refuse

# Control characters a text log may contain; anything else means the file is binary.
TEXT_CONTROLS = frozenset("\t\n\r\f\v")
ACTIVE_PDF_NAMES = frozenset(
    {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"RichMedia", b"XFA",
     b"SubmitForm", b"ImportData", b"GoToE"}
)
_PDF_NAME = re.compile(rb"/([A-Za-z0-9#]+)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def as_text(data: bytes) -> bytes | None:
    """The log as clean UTF-8 (no byte-order mark), or ``None`` when it is not text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(data, final=True)
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in TEXT_CONTROLS for ch in text):
        return None
    return text.removeprefix("\ufeff").encode("utf-8")


def check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise refuse("The file starts like a PDF but is incomplete (no end-of-file marker).")
    for match in _PDF_NAME.finditer(data):
        # "/J#61vaScript" is "/JavaScript": names may spell any byte as #xx.
        name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in ACTIVE_PDF_NAMES:
            raise refuse(
                "The PDF contains active content (scripts, actions or embedded files); "
                "print it to a new PDF or attach a screenshot instead."
            )
