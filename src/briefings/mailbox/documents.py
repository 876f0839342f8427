"""The letters a reply holds, read to their text and tables: Word (.docx) with python-docx,
PDF with pdfplumber, HTML (a disclosure-log page, or the message's HTML body) with the
standard library's parser. From bytes, never from a path: what is read is what was stored.

Spreadsheets (.csv, .xlsx) are not read here: they are returns, read by ingest as they are.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser

from briefings.mailbox.messages import html_text

SPREADSHEETS = {".csv", ".xlsx"}
LETTERS = {".docx", ".pdf", ".html", ".htm", ".txt"}


class DocumentError(ValueError):
    """A letter that cannot be read: one line naming it and why."""


@dataclass(frozen=True)
class Document:
    name: str  # the stored file's name (or 'message body')
    text: str  # its sentences, a line per paragraph
    tables: list[list[list[str]]] = field(default_factory=list)  # table -> rows -> cells


def read_document(name: str, data: bytes) -> Document | None:
    """The letter's text and tables, by the name's suffix; None for a file that is not a
    letter (a spreadsheet is ingest's; an image has no text to read)."""
    suffix = "." + name.rpartition(".")[2].lower() if "." in name else ""
    if suffix == ".docx":
        return read_docx(name, data)
    if suffix == ".pdf":
        return read_pdf(name, data)
    if suffix in (".html", ".htm"):
        return read_html(name, data.decode("utf-8", errors="replace"))
    if suffix == ".txt":
        return Document(name, data.decode("utf-8", errors="replace"))
    return None


def read_docx(name: str, data: bytes) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise DocumentError(f"{name}: not a Word document that can be read ({error})") from None
    text = "\n".join(p.text for p in document.paragraphs if p.text.strip())
    tables = []
    for table in document.tables:
        rows = []
        for row in table.rows:
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:
                # A merged cell is returned once per column it spans: read it once, in place.
                key = id(cell._tc)
                cells.append("" if key in seen else cell.text.strip())
                seen.add(key)
            rows.append(cells)
        tables.append(rows)
    return Document(name, text, tables)


def read_pdf(name: str, data: bytes) -> Document:
    import pdfplumber
    from pdfplumber.utils.exceptions import PdfminerException

    pages, tables = [], []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                pages.append(page.extract_text() or "")
                for table in page.extract_tables():
                    tables.append([[(cell or "").strip() for cell in row] for row in table])
    except (PdfminerException, ValueError, KeyError, TypeError) as error:
        # pdfplumber wraps pdfminer's errors (not a PDF, damaged, password-protected).
        raise DocumentError(f"{name}: not a PDF that can be read ({error})") from None
    return Document(name, "\n".join(pages), tables)


def read_html(name: str, html: str) -> Document:
    reader = _Tables()
    reader.feed(html)
    reader.close()
    return Document(name, html_text(html), [t for t in reader.tables if t])


class _Tables(HTMLParser):
    """Every <table> as rows of cell text (a cell spanning columns is followed by blanks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._open: list[list[list[str]]] = []  # nested tables being read
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            if not self._open[-1]:
                self._open[-1].append([])
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.isdigit() and 0 < int(span) < 100 else 1
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._open:
            self._open[-1][-1].append(" ".join("".join(self._cell).split()))
            self._open[-1][-1].extend([""] * (self._span - 1))
            self._cell = None
        elif tag == "table" and self._open:
            table = [row for row in self._open.pop() if any(row)]
            self.tables.append(table)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
