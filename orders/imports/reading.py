"""What the order import says about a file its parsers refuse, and about values no database stores.

``json`` and ``csv`` stop without saying which order or field they stopped in when a file is nested
deeper than the parser recurses, holds an integer longer than Python converts, or a CSV field longer
than ``csv`` takes. These functions find the place again, only once reading has failed, so that
the error names the record and the field like every other error of the import.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass

CSV_FIELD_LIMIT = csv.field_size_limit()
# A WooCommerce order is a handful of levels deep; anything past this is not an order export.
MAX_JSON_DEPTH = 100
INT_DIGITS = sys.get_int_max_str_digits()  # 0: no limit

_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')
_CSV_FIELD = re.compile(r'(?:"[^"]*(?:""[^"]*)*"?)?[^,\r\n]*')
_SHOWN_LENGTH = 40


@dataclass(frozen=True)
class FileTrouble:
    position: str
    field: str
    message: str


def shown(value) -> str:
    """A value from the file as a person can read it in an error: quoted, short, no control characters."""
    if value is None or value == "":
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = value if isinstance(value, str) else str(value)
    cut = "".join(c if c.isprintable() else "?" for c in text[:_SHOWN_LENGTH])
    cut = cut + "…" if len(text) > _SHOWN_LENGTH else cut
    return f'"{cut}"' if isinstance(value, str) else cut


def unstorable(text: str) -> str:
    """Why ``text`` cannot be stored as text (PostgreSQL refuses NUL; no encoding holds a lone surrogate), or ""."""
    if "\x00" in text:
        return "contains a NUL character (a zero byte), which text cannot hold"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a broken character (half of a \\u escape pair), which is not text"
    return ""


def csv_column(record_text: str) -> int | None:
    """The index of the first field of ``record_text`` (one CSV record) longer than ``csv`` takes."""
    position, column = 0, 0
    while True:
        match = _CSV_FIELD.match(record_text, position)
        if len(match.group()) > CSV_FIELD_LIMIT:
            return column
        position = match.end()
        if position >= len(record_text) or record_text[position] != ",":
            return None
        position += 1
        column += 1


def json_trouble(text: str) -> FileTrouble:
    """Where a JSON text the parser refused is nested too deeply or holds too long an integer."""
    stack: list[str] = []
    index, key, pending = -1, "", ""
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        start = token[0]
        if start in "[{":
            stack.append(start)
            if len(stack) > MAX_JSON_DEPTH:
                return _trouble(text, match.start(), stack[:-1], index, key,
                                f"nested too deeply: more than {MAX_JSON_DEPTH} levels of arrays and objects")
            if len(stack) == 1:
                index = 0
            elif len(stack) == 2:
                key = ""
        elif start in "]}":
            if stack:
                stack.pop()
        elif start == ",":
            if len(stack) == 1:
                index += 1
        elif start == ":":
            if stack == ["[", "{"] and pending:
                key = json.loads(pending)[:_SHOWN_LENGTH]
        elif start == '"':
            pending = token
        elif INT_DIGITS and re.fullmatch(r"-?[0-9]+", token) and len(token.lstrip("-")) > INT_DIGITS:
            return _trouble(text, match.start(), stack, index, key,
                            f"a number of more than {INT_DIGITS:,} digits, too long to read")
    return FileTrouble("line 1", "(file)", "the file cannot be read as JSON: it is nested too deeply "
                                           "or holds a number too long to read")


def _trouble(text: str, offset: int, within: list[str], index: int, key: str, what: str) -> FileTrouble:
    """``what`` went wrong at ``offset``, a value inside the containers ``within`` (outermost first)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    where = f"{what} (line {line}, column {column})"
    if not within or within[0] != "[":
        return FileTrouble(f"line {line}", "(file)", where)
    in_field = len(within) >= 2 and within[1] == "{" and key
    return FileTrouble(f"record {index}", key if in_field else "(record)", where)
