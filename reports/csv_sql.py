"""The CSV report with its cells made by the database: what ``export_cases`` and the admin write.

The reference is ``writers.stream_csv`` over ``columns.report_rows``: Python turns each raw row
into cells (formula prefix, ``true``/``false``, the clause list) and ``csv.writer`` quotes them,
about ten Python calls a row. Here one SQL query around the same report query makes the same
cells, so a million rows never pass through a Python function one by one:

- PostgreSQL: ``COPY (...) TO STDOUT WITH (FORMAT csv)``. Its quoting is the csv module's (a field
  is quoted when it holds a comma, a double quote, CR or LF; a quote inside is doubled), with two
  differences, both undone: it quotes an empty string (every text cell is NULLIF'd to NULL, which
  both write as nothing) and it ends a row with LF (each row's LF becomes CRLF).
- SQLite (and any other database): the cells are fetched in batches and ``csv.writer`` writes
  them, with no Python per cell.

The clause list is made in SQL only when its JSON text is plain (``["A", "B"]``: strings without
quotes, backslashes or control characters, which is what the policy engine writes). Any other text
comes out raw behind a line feed, which no made cell holds, and Python finishes that one cell as
the reference does (``writers.clauses_cell``), errors included. The formula prefix follows the
reference's regular expression character for character (``WHITESPACE`` is Python's ``\\s``).
tests/reports/test_export_identity.py compares the bytes with the reference's on generated rows.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from cases.models import RefundCase
from reports.columns import BOOL, CLAUSES, COUNT, TEXT, Column, columns, report_rows
from reports.writers import CHUNK, Progress, clauses_cell

# What Python's ``\s`` matches in a str (every character c with c.isspace()); tests check it.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# ``\s*[=+\-@\t\r]`` matches at the start of a text exactly when the first character that is not
# whitespace other than a tab or CR is one of = + - @ TAB CR: a tab or CR inside the leading
# whitespace is itself where the match can end, and any other whitespace is skipped.
_SKIPPED = WHITESPACE.replace("\t", "").replace("\r", "")
_CONTROL = "".join(map(chr, range(1, 32)))
# A made clause cell never holds a control character: one that starts with a line feed is the raw
# JSON text, left to Python.
RAW = "\n"
# PostgreSQL regular expressions (characters inside brackets are literal but for ``\``, ``]``, ``^``
# and ``-``; none of the whitespace is one of them).
_PG_FORMULA = f"^[{_SKIPPED}]*[=+@\t\r-]"
# Only a text that starts with one of these can match it: its first character is looked at first.
_FIRST = ", ".join(str(ord(c)) for c in WHITESPACE + "=+-@")
_PG_PLAIN_CLAUSES = f'^\\["[^"\\\\{_CONTROL}]*"(, "[^"\\\\{_CONTROL}]*")*\\]$'
# A plain list's joined text starts as its first string does, and that string is followed by '"'
# in the JSON as by ';' or the end in the joined text: neither is whitespace nor a formula sign.
_PG_CLAUSES_FORMULA = f'^\\["[{_SKIPPED}]*[=+@\t\r-]'


def _pg_cell(column: Column, x: str) -> tuple[str, list]:
    if column.kind == TEXT:
        return (f"CASE WHEN ascii({x}) IN ({_FIRST}) AND {x} ~ %s THEN '''' || {x} ELSE NULLIF({x}, '') END",
                [_PG_FORMULA])
    if column.kind == CLAUSES:
        # PostgreSQL writes a list as ["A", "B"]: with no quote inside the strings, the joined list
        # is the second part between quotes once each '", "' is a ';'.
        joined = f"split_part(replace({x}, '\", \"', ';'), '\"', 2)"
        return (f"CASE WHEN {x} IS NULL OR {x} = '[]' THEN NULL WHEN {x} !~ %s THEN %s || {x} "
                f"WHEN {x} ~ %s THEN '''' || {joined} ELSE NULLIF({joined}, '') END",
                [_PG_PLAIN_CLAUSES, RAW, _PG_CLAUSES_FORMULA])
    if column.kind == BOOL:
        return f"CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END", []
    if column.kind == COUNT:
        return x, []
    return f"NULLIF({x}, '')", []  # amounts, days and times: text the report query made


def _sqlite_neutral(x: str, first: str | None = None) -> tuple[str, list]:
    """``first``: a cheaper expression whose first character is the first of ``x`` whenever that can matter."""
    return (f"CASE WHEN unicode({first or x}) IN ({_FIRST}) "
            f"AND substr(ltrim({x}, %s), 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
            f"THEN '''' || {x} ELSE {x} END", [_SKIPPED])


def _sqlite_cell(column: Column, x: str) -> tuple[str, list]:
    if column.kind == TEXT:
        return _sqlite_neutral(x)
    if column.kind == CLAUSES:
        # SQLite writes a list as ["A","B"]: with no quote inside the strings, the text with each
        # '","' made a ';' holds exactly two quotes, and the joined list lies between them. That
        # starts with the list's third character, or with ';' when a '","' starts there.
        bare = f"replace({x}, '\",\"', ';')"
        # json_valid refuses a control character inside a string; all else it checks, so does the shape.
        plain = (f"typeof({x}) = 'text' AND instr({x}, '\\') = 0 AND json_valid({x}) "
                 f"AND {bare} GLOB '[[]\"*\"]' AND length({bare}) - length(replace({bare}, '\"', '')) = 2")
        neutral, params = _sqlite_neutral(f"substr({bare}, 3, length({bare}) - 4)", first=f"substr({x}, 3, 1)")
        return (f"CASE WHEN {x} IS NULL OR {x} = '[]' THEN NULL WHEN {plain} THEN {neutral} ELSE %s || {x} END",
                [*params, RAW])
    if column.kind == BOOL:
        return f"CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END", []
    return x, []  # counts, and the text the report query made: csv.writer writes them as the reference does


def cells_query(queryset: QuerySet[RefundCase], cols: list[Column], *, now: datetime) -> tuple[str, list]:
    """SQL (and parameters) of the report's CSV cells for ``queryset``, in order."""
    connection = connections[queryset.db]
    inner, inner_params = report_rows(queryset, now=now).query.get_compiler(using=queryset.db).as_sql()
    postgres = connection.vendor == "postgresql"
    cell = _pg_cell if postgres else _sqlite_cell
    parts: list[str] = []
    params: list = []
    for column in cols:
        sql, more = cell(column, f"r.{connection.ops.quote_name(column.alias)}")
        parts.append(sql)
        params.extend(more)
    # OFFSET 0 keeps PostgreSQL from pasting the report's expressions into each place a cell
    # reads them (several times for a text cell): each is computed once a row.
    fence = " OFFSET 0" if postgres else ""
    return f"SELECT {', '.join(parts)} FROM ({inner}{fence}) AS r", [*params, *inner_params]


def csv_chunks(queryset: QuerySet[RefundCase], *, now: datetime | None = None, progress: Progress | None = None,
               rows_per_chunk: int = CHUNK, spool: bool = True) -> Iterator[bytes]:
    """The report for ``queryset`` as CSV bytes (UTF-8), header first, then ``rows_per_chunk`` rows a chunk.

    On PostgreSQL the COPY holds the connection until its last row: no other query can run on it
    meanwhile (psycopg would wait for itself). With ``spool`` (the default) the rows go to a
    temporary file first and the chunks come from there, so the caller, and ``progress``, may use
    the database between chunks as they could with the reference. Without it, the chunks come
    straight from the COPY: for a caller that only writes them somewhere.
    """
    now = now or timezone.now()
    cols = columns(now)
    header = io.StringIO()
    csv.writer(header).writerow([c.name for c in cols])
    yield header.getvalue().encode("utf-8")
    try:
        sql, params = cells_query(queryset, cols, now=now)
    except EmptyResultSet:  # a filter no case can match (``pk__in=[]``): no query to run
        sql = None
    done = 0
    if sql is not None:
        connection = connections[queryset.db]
        clauses = next(i for i, c in enumerate(cols) if c.kind == CLAUSES)
        if connection.vendor == "postgresql":
            chunks = _copied_chunks(connection, sql, params, clauses, rows_per_chunk)
            if spool:
                chunks = _spooled(chunks)
        else:  # the cursor leaves the connection free between its batches
            chunks = _fetched_chunks(connection, sql, params, clauses, rows_per_chunk)
        for count, chunk in chunks:
            done += count
            yield chunk
            if progress:
                progress(done)
    if progress and not done:
        progress(0)


def _raw(cell) -> bool:
    return isinstance(cell, str) and cell.startswith(RAW)


def _finished(cells: list, clauses: int) -> list:
    """A row whose clause cell is still raw JSON -> its cells as the reference makes them."""
    cells[clauses] = clauses_cell(cells[clauses][len(RAW):])
    return cells


def _copied_chunks(connection, sql: str, params: list, clauses: int, size: int) -> Iterator[tuple[int, bytes]]:
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        rows: list = []
        for row in copy:  # one row each, ending in LF (libpq's PQgetCopyData gives whole rows)
            rows.append(row)
            if len(rows) >= size:
                yield len(rows), _crlf(rows, clauses)
                rows.clear()
        if rows:
            yield len(rows), _crlf(rows, clauses)


def _spooled(chunks: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """All of ``chunks`` into a temporary file (memory stays flat), then each chunk again from it."""
    with tempfile.TemporaryFile() as spool:
        sizes = []
        for count, chunk in chunks:
            spool.write(chunk)
            sizes.append((count, len(chunk)))
        spool.seek(0)
        for count, size in sizes:
            yield count, spool.read(size)


def _crlf(rows: list, clauses: int) -> bytes:
    """COPY's rows as the csv module writes them: CRLF line ends, raw clause lists finished."""
    block = b"".join(rows)
    if b'"' not in block:  # no field is quoted, so none holds a line feed (nor a raw clause list)
        return block.replace(b"\n", b"\r\n")
    parts: list = []
    for row in map(bytes, rows):
        if b'"' in row:
            (cells,) = csv.reader(io.StringIO(row.decode("utf-8"), newline=""))
            if cells[clauses].startswith(RAW):
                line = io.StringIO()
                csv.writer(line).writerow(_finished(cells, clauses))
                parts.append(line.getvalue().encode("utf-8"))
                continue
        parts.append(row[:-1])
        parts.append(b"\r\n")
    return b"".join(parts)


def _fetched_chunks(connection, sql: str, params: list, clauses: int, size: int) -> Iterator[tuple[int, bytes]]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    clause = itemgetter(clauses)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            if any(map(_raw, map(clause, batch))):
                batch = [_finished(list(row), clauses) if _raw(row[clauses]) else row for row in batch]
            writer.writerows(batch)
            yield len(batch), buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
