"""Writing the case report as it is read: CSV and JSON chunk by chunk (XLSX: ``reports.xlsx``).

Memory stays flat whatever the row count: rows come from a server-side cursor
(``values_list().iterator()``) and leave in chunks of ``CHUNK`` rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator

from reports.columns import BOOL, CLAUSES, DAYS, TEXT, Column

CHUNK = 2000
# OWASP CSV injection: a spreadsheet runs a cell that starts with = + - @, a tab or a carriage return
# as a formula, and skips leading spaces and line feeds before it looks.
_FORMULA = re.compile(r"\s*[=+\-@\t\r]")

Progress = Callable[[int], None]


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if _FORMULA.match(text) else text


def clauses_cell(value: str) -> str:
    """The clause list's JSON text -> its CSV and XLSX cell: the IDs joined by ';', neutralised."""
    return neutralise(";".join(json.loads(value)))


def _indexes(cols: list[Column], *kinds: str) -> list[int]:
    return [i for i, column in enumerate(cols) if column.kind in kinds]


def text_cells(cols: list[Column]) -> Callable[[tuple], list]:
    """Raw row -> cells as CSV writes them (None stays None: the csv module writes it empty)."""
    escaped = _indexes(cols, TEXT)
    booleans = _indexes(cols, BOOL)
    clauses = _indexes(cols, CLAUSES)
    formula = _FORMULA.match

    def convert(row: tuple) -> list:
        cells = list(row)
        for i in escaped:
            value = cells[i]
            if value and formula(value):
                cells[i] = "'" + value
        for i in booleans:
            value = cells[i]
            if value is not None:
                cells[i] = "true" if value else "false"
        for i in clauses:
            value = cells[i]
            if value is not None:
                cells[i] = clauses_cell(value)
        return cells

    return convert


def json_values(cols: list[Column]) -> Callable[[tuple], list]:
    """Raw row -> JSON values: numbers for counts and days, true/false, strings, null when unknown.

    Not escaped: JSON is not opened by spreadsheets as formulas, and its consumers want the data as is.
    """
    days = _indexes(cols, DAYS)
    clauses = _indexes(cols, CLAUSES)

    def convert(row: tuple) -> list:
        values = list(row)
        for i in days:
            if values[i] is not None:
                values[i] = float(values[i])
        for i in clauses:
            if values[i] is not None:
                values[i] = ";".join(json.loads(values[i]))
        return values

    return convert


def stream_csv(rows: Iterable[tuple], cols: list[Column], *, progress: Progress | None = None) -> Iterator[str]:
    """RFC 4180 text (CRLF line ends), header first, in chunks.

    The exports write the CSV made by the database (``reports.csv_sql``); this is the reference its
    bytes are checked against (tests/reports/test_export_identity.py).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in cols])
    convert = text_cells(cols)
    done = 0
    batch: list = []
    for row in rows:
        batch.append(convert(row))
        if len(batch) >= CHUNK:
            writer.writerows(batch)
            done += len(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress:
                progress(done)
    writer.writerows(batch)
    done += len(batch)
    yield buffer.getvalue()
    if progress:
        progress(done)


def stream_json(rows: Iterable[tuple], cols: list[Column], *, progress: Progress | None = None) -> Iterator[str]:
    """One JSON array of objects, written as it goes."""
    keys = [c.name for c in cols]
    convert = json_values(cols)
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    parts: list[str] = []
    done = 0
    yield "["
    separator = "\n"
    for row in rows:
        parts.append(separator + dumps(dict(zip(keys, convert(row)))))
        separator = ",\n"
        if len(parts) >= CHUNK:
            done += len(parts)
            yield "".join(parts)
            parts.clear()
            if progress:
                progress(done)
    done += len(parts)
    yield "".join(parts) + "\n]\n"
    if progress:
        progress(done)
