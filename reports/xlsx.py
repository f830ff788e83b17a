"""The case report as an XLSX file, written row by row as plain XML into a zip.

An XLSX is a zip of a few XML parts; a one-sheet report needs six, and only the sheet grows. The
sheet's rows are written as text straight from the database's rows (inline strings, no shared-
string table to keep in memory) into a temporary file, which is then deflated into the zip; memory
stays flat at any row count. Amounts are number cells with a two-decimal style, counts and days
plain numbers; times stay ISO 8601 text in UTC (``2026-03-01T10:00:00Z``), exactly as the CSV has
them: the report's contract says times are ISO 8601, and a reader of the cells gets that string,
not a spreadsheet serial number (the text sorts the same way). The 1,048,576-row limit of a sheet
is the format's: a larger export stops with an error, CSV and JSON have none.

openpyxl's write-only mode does the same job cell object by cell object, five to ten times slower
(decision 0028 has the figures).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from typing import IO

from openpyxl.utils import get_column_letter

from core.jobs import JobFailed
from reports.columns import COUNT, DAYS, MONEY, Column
from reports.writers import CHUNK, Progress, text_cells

SHEET_NAME = "cases"
MAX_ROWS = 1_048_576  # a sheet's rows, the header included
MONEY_STYLE = 1
# Characters XML 1.0 cannot carry at all, and the three it needs escaped.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class TooManyRows(JobFailed, ValueError):
    """Its message is for the person who asked: an export job's page shows it as it is."""


def xml_text(value: str) -> str:
    """``value`` as the content of an XML text node (a CR kept as a character reference)."""
    if _SPECIAL.search(value):
        value = _ILLEGAL.sub("", value)
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return value


def _text_cell(ref: str) -> Callable[[str, str], str]:
    start = f'<c r="{ref}'

    def cell(value, row: str) -> str:
        text = xml_text(value)
        if text[:1].isspace() or text[-1:].isspace():  # XML would drop them otherwise
            return f'{start}{row}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
        return f'{start}{row}" t="inlineStr"><is><t>{text}</t></is></c>'

    return cell


def _number_cell(ref: str, style: int | None) -> Callable[[object, str], str]:
    start = f'<c r="{ref}'
    end = f'" s="{style}"><v>' if style else '"><v>'

    def cell(value, row: str) -> str:
        return f"{start}{row}{end}{value}</v></c>"

    return cell


def _cells(cols: list[Column]) -> list[Callable]:
    cells: list[Callable] = []
    for i, column in enumerate(cols):
        ref = get_column_letter(i + 1)
        if column.kind == MONEY:
            cells.append(_number_cell(ref, MONEY_STYLE))
        elif column.kind in (COUNT, DAYS):
            cells.append(_number_cell(ref, None))
        else:  # text and times, and booleans and clauses once text_cells has turned them into text
            cells.append(_text_cell(ref))
    return cells


def _header(cols: list[Column]) -> str:
    text = [_text_cell(get_column_letter(i + 1)) for i in range(len(cols))]
    return '<row r="1">' + "".join(cell(c.name, "1") for cell, c in zip(text, cols)) + "</row>"


def write_xlsx(rows: Iterable[tuple], cols: list[Column], out: IO[bytes], *, progress: Progress | None = None) -> int:
    """The report as one sheet, ``cases``, header first; returns the number of data rows."""
    convert = text_cells(cols)  # formula prefixes neutralised, booleans and clauses as text
    cells = _cells(cols)
    indexed = list(enumerate(cells))
    done = 0
    with tempfile.TemporaryFile() as sheet:
        parts = [f"{_HEAD}<worksheet {_NS}><sheetData>", _header(cols)]
        for raw in rows:
            done += 1
            if done >= MAX_ROWS:
                raise TooManyRows(f"more than {MAX_ROWS - 1:,} cases do not fit in one sheet: export CSV or JSON")
            values = convert(raw)
            number = str(done + 1)
            parts.append(f'<row r="{number}">')
            parts.extend(cell(values[i], number) for i, cell in indexed if values[i] is not None)
            parts.append("</row>")
            if done % CHUNK == 0:
                sheet.write("".join(parts).encode("utf-8"))
                parts.clear()
                if progress:
                    progress(done)
        parts.append("</sheetData></worksheet>")
        sheet.write("".join(parts).encode("utf-8"))
        size = sheet.tell()
        sheet.seek(0)
        _package(out, sheet, size)
    if progress:
        progress(done)
    return done


def _package(out: IO[bytes], sheet: IO[bytes], size: int) -> None:
    # Level 1: the sheet is repetitive XML, and the higher levels take several times as long for a
    # file a few percent smaller.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for name, text in _PARTS.items():
            package.writestr(name, text)
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as target:
            shutil.copyfileobj(sheet, target, 1024 * 1024)


_CONTENT_TYPES = (
    f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    f'{_HEAD}<workbook {_NS} {_R_NS}><sheets><sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_XF = '<xf numFmtId="{}" fontId="0" fillId="0" borderId="0" xfId="0"{}/>'
_STYLES = (
    f"{_HEAD}<styleSheet {_NS}>"
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2">'
    + _XF.format(0, "")
    + _XF.format(2, ' applyNumberFormat="1"')  # MONEY_STYLE: 0.00
    + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_PARTS = {
    "[Content_Types].xml": _CONTENT_TYPES,
    "_rels/.rels": _ROOT_RELS,
    "xl/workbook.xml": _WORKBOOK,
    "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
    "xl/styles.xml": _STYLES,
}
