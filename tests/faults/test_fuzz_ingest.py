"""Garbage in: every input is either ingested or refused with an error naming the file.

Property-based fuzzing (hypothesis) of `briefings.ingest.read_return` with random bytes, CSV text
in random dialects, encodings and truncations, random workbooks (sheets, merged cells,
formulas, dates, huge and empty values) with hostile edits to their XML, and zip files that
are not workbooks. Anything but a ParsedReturn or a ReturnReadError whose message starts with
the file's name is a bug; so is an input that takes longer than DEADLINE_MS to read. Each
@example is an input the fuzzing found a bug with, kept so the bug stays fixed.

`TRIED` counts the inputs each strategy generated; tests/faults/conftest.py prints the totals.
BRIEFINGS_FUZZ_SCALE multiplies the number of examples (default 1: the module runs in well
under a minute; 20 or more for a long hunt).
"""

from __future__ import annotations

import csv
import io
import os
import re
import resource
import shutil
import signal
import tempfile
import time
import tracemalloc
import zipfile
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from briefings.ingest import (
    CANONICAL_COLUMNS,
    HEADER_ALIASES,
    Kind,
    ParsedReturn,
    ReturnReadError,
    read_return,
)
from briefings.ingest.home_office import HOME_OFFICE_HEADER
from briefings.reference import force_register

TRIED: Counter[str] = Counter()
INGESTED: Counter[str] = Counter()  # of those, read to a table (the rest were refused)
DEADLINE_MS = 2000  # per input: reading any one file this small must be quick
HARD_TIMEOUT_S = 20  # a hang fails the example instead of stalling the suite
MEMORY_HEADROOM = 3 * 1024**3  # address space the readers may add while fuzzing
SCALE = float(os.environ.get("BRIEFINGS_FUZZ_SCALE", "1"))  # e.g. 20 for a long hunt


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=DEADLINE_MS,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


_DIR = Path(tempfile.mkdtemp(prefix="briefings-fuzz-"))


class Hang(Exception):
    """Reading one small file took longer than HARD_TIMEOUT_S."""


@contextmanager
def hard_timeout(seconds: int):
    def alarm(signum, frame):
        raise Hang(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def ingest_or_refuse(name: str, data: bytes, strategy: str) -> ParsedReturn | None:
    """The property: a ParsedReturn in canonical columns, or a ReturnReadError naming the file."""
    TRIED[strategy] += 1
    path = _DIR / name
    path.write_bytes(data)
    try:
        with hard_timeout(HARD_TIMEOUT_S):
            parsed = read_return(path)
    except ReturnReadError as error:
        message = str(error)
        assert message.startswith(f"{name}: "), message
        assert len(message) > len(name) + 5, message  # a reason, not just the name
        INGESTED[strategy] += 0  # listed, with 0 read, even if all were refused
        return None
    finally:
        path.unlink()
    INGESTED[strategy] += 1
    assert isinstance(parsed, ParsedReturn)
    assert parsed.kind in set(Kind)
    frame = parsed.frame
    assert isinstance(frame, pd.DataFrame)
    if parsed.kind is Kind.ONLINE_FLAG:
        assert list(frame.columns) == [*CANONICAL_COLUMNS, "source_row"]
    else:
        assert {"force_name", "financial_year", "offences", "source_row"} <= set(frame.columns)
    assert (frame["source_row"] >= 1).all()
    pa.Table.from_pandas(frame, preserve_index=False)  # staging stores it as Parquet
    return parsed


@pytest.fixture(scope="module", autouse=True)
def memory_ceiling():
    """A memory blow-up fails its example with MemoryError instead of exhausting the machine
    (the readers never turn MemoryError into a refusal)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status").read_text()
    used = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    ceiling = used + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module", autouse=True)
def warm_up(memory_ceiling):
    """Imports and reference tables load once, outside the per-input deadline."""
    formats = Path(__file__).parent.parent / "data" / "formats"
    for path in sorted(formats.iterdir()):
        read_return(path)
    yield
    shutil.rmtree(_DIR, ignore_errors=True)


# --- building blocks ------------------------------------------------------------------------

HOME_OFFICE_WORDS = [word.replace("_", " ").title() for word in HOME_OFFICE_HEADER]
HEADER_WORDS = (
    sorted(HEADER_ALIASES)
    + HOME_OFFICE_WORDS
    + [
        "2015/16",
        "2016-17",
        "FY2016/17",
        "2016/2017",
        "2016/18",
        "FY 2017-18",
        "Total",
        "Notes",
    ]
)


def spellings(word: str) -> st.SearchStrategy[str]:
    spaced = word.replace("_", " ")
    return st.sampled_from([word, spaced, word.upper(), spaced.title(), f"  {spaced} ", f"{word}:"])


header_cells = st.sampled_from(HEADER_WORDS).flatmap(spellings)
ALIASES_OF = {
    canonical: sorted(alias for alias, name in HEADER_ALIASES.items() if name == canonical)
    for canonical in CANONICAL_COLUMNS
}


@st.composite
def plausible_headers(draw) -> list[str]:
    """A header layout detection should take: long (a year column) or wide (year columns)."""
    columns = ["force", "offence_code"] + draw(
        st.lists(st.sampled_from(["offence_description", "offences"]), unique=True)
    )
    if draw(st.booleans()):
        columns += ["financial_year", "online_flagged"]
        words = [draw(st.sampled_from(ALIASES_OF[c]).flatmap(spellings)) for c in columns]
    else:
        columns = [c for c in columns if c != "offences"]
        words = [draw(st.sampled_from(ALIASES_OF[c]).flatmap(spellings)) for c in columns]
        words += draw(
            st.lists(st.sampled_from(["2015/16", "2016-17", "FY2017/18"]), min_size=1, unique=True)
        )
    return draw(st.permutations(words))


headers = st.one_of(plausible_headers(), st.lists(header_cells, min_size=1, max_size=8))
_register = force_register()
FORCE_WORDS = sorted({f.name for f in _register.forces} | {f.code for f in _register.forces})
junk_text = st.text(max_size=40)
value_cells = st.one_of(
    st.sampled_from(FORCE_WORDS),
    st.sampled_from(["2015/16", "2016/17", "2016-17", "2014/15", "2030/31", "FY2016/17", "16/17"]),
    st.sampled_from(["19D", "88A", "22B", "ALL", "", "  ", "-", "-00", "*", "n/a", "<5"]),
    st.sampled_from(["Total", "Grand total", "Sub-total", "Note: figures are a snapshot"]),
    st.integers(-(10**6), 10**9).map(str),
    st.floats().map(repr),
    st.sampled_from(["1,234", "12.0", "1e3", "=SUM(A1:A3)", "@cmd", "'0", "9" * 5000]),
    st.sampled_from(["19D - Rape of a female child under 16", "1 - " + " " * 3000 + "x"]),
    junk_text,
)


# --- random bytes -----------------------------------------------------------------------------

MAGIC = [
    b"",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"force,financial_year\n",
]
NAMES = [
    "return.csv",
    "return.xlsx",
    "RETURN.CSV",
    "Kent FOI (final).xlsx",
    "=cmd.csv",
    "old.xls",
    "notes.txt",
    "no-suffix",
    "ünïcode return.csv",
]


@fuzz(250)
@given(st.sampled_from(NAMES), st.sampled_from(MAGIC), st.binary(max_size=3000))
def test_random_bytes_are_ingested_or_refused_naming_the_file(name, magic, body):
    ingest_or_refuse(name, magic + body, "random bytes")


# --- CSV text in random dialects ----------------------------------------------------------------


@st.composite
def csv_texts(draw) -> bytes:
    width = draw(st.integers(1, 8))
    titles = draw(st.lists(st.lists(value_cells, max_size=2), max_size=3))
    header = draw(headers)
    body = draw(st.lists(st.lists(value_cells, max_size=width + 2), max_size=12))
    rows = [*titles, header, *body]
    for _ in range(draw(st.integers(0, 3))):  # blank lines anywhere
        rows.insert(draw(st.integers(0, len(rows))), [])
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    quoting = draw(
        st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE])
    )
    dialect = dict(
        delimiter=delimiter,
        quotechar=draw(st.sampled_from(['"', "'"])),
        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
    )
    try:
        buffer = io.StringIO()
        escape = "\\" if quoting == csv.QUOTE_NONE else None
        csv.writer(buffer, quoting=quoting, escapechar=escape, **dialect).writerows(rows)
    except csv.Error:  # QUOTE_NONE cannot write some rows (a lone empty field)
        buffer = io.StringIO()
        csv.writer(buffer, **dialect).writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):  # a stray quote or junk, as hand-edited files have
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "'", "\x00", "\ufeff", "\r"])) + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    cut = draw(st.none() | st.integers(0, len(data)))  # a copy that stopped part-way
    return data if cut is None else data[:cut]


@fuzz(300)
@given(st.sampled_from(["return.csv", "Wiltshire FOI.csv", "=cmd.csv"]), csv_texts())
@example(
    "return.csv",
    (",".join(HOME_OFFICE_WORDS) + ",Force Name\n2017/18,1,Kent,x,y,z,19D,5,Kent\n").encode(),
)
@example("return.csv", b"Avon and Somerset\nclassification,cyber_enabled,2015/16\n")
def test_csv_in_any_dialect_is_ingested_or_refused_naming_the_file(name, data):
    ingest_or_refuse(name, data, "CSV text")


# --- Home Office open data tables -----------------------------------------------------------------

home_office_values = st.one_of(
    value_cells,
    st.sampled_from(
        ["2017/18", "2017-18", "Q1", "1", "5", "0", "-00", " 12 ", "-3", "Action Fraud"]
    ),
)


@st.composite
def home_office_texts(draw) -> bytes:
    """The published header (any case, sometimes a column twice or missing) over random rows,
    streamed by pyarrow rather than read as a grid."""
    header = draw(
        st.permutations([w.upper() if draw(st.booleans()) else w for w in HOME_OFFICE_WORDS])
    )
    if draw(st.booleans()):  # a header with columns missing, repeated or extra
        header = header[: draw(st.integers(3, len(header)))]
        header += draw(st.lists(st.sampled_from(HOME_OFFICE_WORDS + ["Notes", ""]), max_size=2))
    width = len(header)
    ragged = draw(st.booleans())
    cells = st.lists(home_office_values, min_size=width - ragged, max_size=width + ragged)
    rows = draw(st.lists(cells, max_size=15))
    lines = [",".join(header), *(",".join(cell.replace("\n", " ") for cell in row) for row in rows)]
    titles = draw(st.lists(junk_text.map(lambda t: t.replace("\n", " ")), max_size=2))
    text = "\n".join([*titles, *lines]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])), errors="replace")


HOME_OFFICE_HEADER_LINE = ",".join(HOME_OFFICE_WORDS).encode()


@fuzz(200)
@given(st.sampled_from(["prc-pfa-2017-18.csv", "table.csv"]), home_office_texts())
@example("table.csv", HOME_OFFICE_HEADER_LINE + b"\n2017/18,1,Kent,a,b,c,19D,\xa0\n")  # not UTF-8
@example("table.csv", HOME_OFFICE_HEADER_LINE + b"\n2017/18,1,Kent,a,b,c,19D,\n")  # a blank column
def test_home_office_tables_are_ingested_or_refused_naming_the_file(name, data):
    ingest_or_refuse(name, data, "Home Office tables")


# --- workbooks ----------------------------------------------------------------------------------

workbook_values = st.one_of(
    value_cells,
    header_cells,
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.dates(min_value=date(1900, 3, 1)),
    st.booleans(),
    st.none(),
    st.sampled_from(["=SUM(A1:A3)", "=1/0", "=A1", '=HYPERLINK("http://example.invalid")']),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=50),
    st.just("x" * 40_000),
).map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v)
sheet_titles = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=20)
near = st.integers(1, 40)


@st.composite
def workbooks(draw) -> bytes:
    workbook = openpyxl.Workbook()
    titles = draw(st.lists(sheet_titles, min_size=1, max_size=3, unique_by=str.lower))
    for index, title in enumerate(titles):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = title
        if draw(st.booleans()):  # a table: a header row with values below it
            top, left = draw(near), draw(st.integers(1, 5))
            header = draw(headers)
            for column, word in enumerate(header):
                sheet.cell(top, left + column, word)
            for row in range(draw(st.integers(0, 10))):
                for column in range(len(header) + draw(st.integers(-1, 2))):
                    sheet.cell(top + 1 + row, left + column, draw(workbook_values))
        for row, column, value in draw(
            st.lists(st.tuples(near, near, workbook_values), max_size=20)
        ):
            sheet.cell(row, column, value)
        for row, column, height, width in draw(
            st.lists(st.tuples(near, near, st.integers(0, 5), st.integers(0, 5)), max_size=3)
        ):
            if height or width:
                sheet.merge_cells(
                    start_row=row,
                    start_column=column,
                    end_row=row + height,
                    end_column=column + width,
                )
    workbook.properties.created = workbook.properties.modified = datetime(2017, 6, 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return rewrite(buffer.getvalue(), lambda name, body: body)  # the same bytes every time


def rewrite(data: bytes, change) -> bytes:
    """The zip with `change(name, bytes) -> bytes | None` applied to each member (None drops),
    with fixed timestamps so that hypothesis can replay an input exactly."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the time of saving
                body = re.sub(rb"\d{4}-\d\d-\d\dT[\d:.]+Z", b"2017-06-01T00:00:00Z", body)
            changed = change(info.filename, body)
            if changed is not None:
                member = zipfile.ZipInfo(info.filename, (2017, 6, 1, 0, 0, 0))
                member.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(member, changed)
    return buffer.getvalue()


def on_sheets(edit):
    def change(name: str, body: bytes) -> bytes:
        return edit(body) if name.startswith("xl/worksheets/sheet") else body

    return change


FAR = b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row>'
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lolololololololololol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)


def _sheet_data_end(body: bytes, extra: bytes) -> bytes:
    if b"<sheetData/>" in body:
        return body.replace(b"<sheetData/>", b"<sheetData>" + extra + b"</sheetData>")
    return body.replace(b"</sheetData>", extra + b"</sheetData>")


def _after_sheet_data(body: bytes, extra: bytes) -> bytes:
    body = re.sub(rb"<mergeCells.*?</mergeCells>", b"", body, flags=re.S)
    if b"<sheetData/>" in body:
        return body.replace(b"<sheetData/>", b"<sheetData/>" + extra)
    return body.replace(b"</sheetData>", b"</sheetData>" + extra)


EDITS = {
    "dimension of a whole sheet": on_sheets(
        lambda b: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', b)
    ),
    "a value in the last cell": on_sheets(lambda b: _sheet_data_end(b, FAR)),
    "a row numbered 0": on_sheets(
        lambda b: _sheet_data_end(b, b'<row r="0"><c r="A0"><v>1</v></c></row>')
    ),
    "rows out of order": on_sheets(
        lambda b: _sheet_data_end(
            b,
            b'<row r="3"><c r="A3" t="inlineStr"><is><t>Force</t></is></c></row>'
            b'<row r="2"><c r="B2"><v>7</v></c></row>',
        )
    ),
    "a merge over the whole sheet": on_sheets(
        lambda b: _after_sheet_data(
            b, b'<mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>'
        )
    ),
    "a hyperlink over the whole sheet": on_sheets(
        lambda b: _after_sheet_data(
            b, b'<hyperlinks><hyperlink ref="A1:XFD1048576" location="A1"/></hyperlinks>'
        )
    ),
    "a shared string that is not there": on_sheets(
        lambda b: _sheet_data_end(b, b'<row r="45"><c r="A45" t="s"><v>99999</v></c></row>')
    ),
    "a number too long to convert": on_sheets(
        lambda b: _sheet_data_end(
            b, b'<row r="46"><c r="A46"><v>' + b"9" * 5000 + b"</v></c></row>"
        )
    ),
    "a date out of range": lambda name, b: b,  # dates are drawn in workbook_values
    "entity expansion (billion laughs)": on_sheets(
        lambda b: (
            LAUGHS
            + re.sub(rb"^<\?xml[^>]*\?>", b"", b).replace(
                b"</sheetData>",
                b'<row r="47"><c r="A47" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
                b"</sheetData>",
                1,
            )
        )
    ),
    "a part dropped": lambda name, b: None if name == "xl/workbook.xml" else b,
    "styles dropped": lambda name, b: None if name == "xl/styles.xml" else b,
    "XML cut short": on_sheets(lambda b: b[: len(b) // 2]),
}


@st.composite
def damaged(draw, data: bytes) -> bytes:
    for name in draw(st.lists(st.sampled_from(sorted(EDITS)), max_size=3, unique=True)):
        data = rewrite(data, EDITS[name])
    if draw(st.integers(0, 4)) == 0:  # a copy that stopped part-way
        data = data[: draw(st.integers(0, len(data)))]
    if data and draw(st.integers(0, 4)) == 0:  # bytes changed in transit
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = bytes(data)
    return data


def workbook(rows: list[list[object]], *edits: str) -> bytes:
    """A one-sheet workbook with `rows` from A1, then the named EDITS applied."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.properties.created = book.properties.modified = datetime(2017, 6, 1)
    buffer = io.BytesIO()
    book.save(buffer)
    data = rewrite(buffer.getvalue(), lambda name, body: body)
    for edit in edits:
        data = rewrite(data, EDITS[edit])
    return data


RETURN_ROWS = [
    ["force", "financial_year", "offence_code", "online_flagged"],
    ["Kent", "2016/17", "ALL", "5"],
]
TABLE_ROWS = [HOME_OFFICE_WORDS, ["2017/18", "1", "Kent", "a", "b", "c", "19D", "5"]]


# Before the streaming reader, openpyxl's full mode built every cell of a merged range or a
# hyperlinked range, and of the grid up to the last cell: each of these took over 20 GB of
# memory (the fuzz run was killed by the kernel) or never finished.
@fuzz(200)
@given(st.sampled_from(["return.xlsx", "Surrey FOI.xlsx"]), workbooks().flatmap(damaged))
@example("return.xlsx", workbook(RETURN_ROWS, "a merge over the whole sheet"))
@example("return.xlsx", workbook(RETURN_ROWS, "a hyperlink over the whole sheet"))
@example("return.xlsx", workbook(RETURN_ROWS, "a value in the last cell"))
@example("return.xlsx", workbook(TABLE_ROWS, "dimension of a whole sheet"))  # was a hang
@example("return.xlsx", workbook([*TABLE_ROWS, [*TABLE_ROWS[1], None, "extra"]]))  # ValueError
def test_workbooks_are_ingested_or_refused_naming_the_file(name, data):
    ingest_or_refuse(name, data, "workbooks")


# --- zip files that are not workbooks ------------------------------------------------------------

MEMBER_NAMES = [
    "[Content_Types].xml",
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/worksheets/sheet1.xml",
    "xl/sharedStrings.xml",
    "word/document.xml",
    "a.txt",
]
MEMBER_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"",
            b"<?xml version='1.0'?><a/>",
            b"<worksheet><sheetData/></worksheet>",
            b"<Types xmlns='http://schemas.openxmlformats.org/package/2006/content-types'/>",
        ]
    ),
)


@st.composite
def zips(draw) -> bytes:
    buffer = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for member in draw(st.lists(st.sampled_from(MEMBER_NAMES), max_size=6, unique=True)):
            archive.writestr(zipfile.ZipInfo(member, (2017, 6, 1, 0, 0, 0)), draw(MEMBER_BODIES))
    return buffer.getvalue()


@fuzz(150)
@given(st.sampled_from(["return.xlsx", "return.csv"]), zips())
def test_zip_files_that_are_not_workbooks_are_refused_naming_the_file(name, data):
    assert ingest_or_refuse(name, data, "zip files") is None


# --- size and time bounds -----------------------------------------------------------------------


def bytes_read() -> int:
    """Bytes this process has read from files so far (Linux /proc/self/io)."""
    return int(re.search(r"rchar: (\d+)", Path("/proc/self/io").read_text()).group(1))


def sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of `size` bytes starting with `head`: huge on paper, nothing on disk."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


@pytest.mark.parametrize("name", ["huge.csv", "huge.xlsx"])
def test_a_file_over_the_limit_is_refused_from_its_size_without_being_read(tmp_path, name):
    head = b"PK\x03\x04" if name.endswith(".xlsx") else b"force,financial_year,online_flagged\n"
    path = sparse(tmp_path / name, head, 5 * 1024**3)
    before, start = bytes_read(), time.monotonic()
    with pytest.raises(ReturnReadError, match=rf"^{name}: 5,120 MB, over the 1,024 MB limit"):
        read_return(path)
    assert bytes_read() - before < 2 * 1024**2  # the first bytes only, never the 5 GB
    assert time.monotonic() - start < 1


def test_the_return_size_limit_is_configurable(tmp_path, monkeypatch):
    line = b"Kent,2016/17,ALL,,5\n"
    path = tmp_path / "big.csv"
    path.write_bytes(b"force,financial_year,offence_code,offences,online_flagged\n" + line * 60_000)
    assert len(read_return(path).frame) == 60_000  # 1.2 MB: under the default of 20 MB
    monkeypatch.setenv("BRIEFINGS_MAX_RETURN_MB", "1")
    before = bytes_read()
    with pytest.raises(
        ReturnReadError, match=r"^big.csv: 1 MB is too large .*BRIEFINGS_MAX_RETURN_MB"
    ):
        read_return(path)
    assert bytes_read() - before < 256 * 1024
    monkeypatch.setenv("BRIEFINGS_MAX_RETURN_MB", "a lot")
    with pytest.raises(ValueError, match="BRIEFINGS_MAX_RETURN_MB='a lot' is not a number"):
        read_return(path)


def compressible_workbook(part: str, megabytes: int) -> bytes:
    """A valid workbook with `part` replaced by `megabytes` of XML that deflates to little."""
    rows = b"<row><c><v>1</v></c></row>" * (megabytes * 1024**2 // 26)
    body = b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>"
    return rewrite(workbook(RETURN_ROWS), lambda name, b: body if name == part else b)


@pytest.mark.parametrize(
    ("part", "limits", "message"),
    [
        (
            "xl/worksheets/sheet1.xml",
            {"BRIEFINGS_MAX_TABLE_MB": "10"},
            r"^bomb.xlsx: unzips to 30 MB, over the 10 MB limit",
        ),
        (
            "xl/styles.xml",
            {"BRIEFINGS_MAX_RETURN_MB": "10"},
            r"^bomb.xlsx: its part xl/styles.xml unzips to 30 MB, over the 10 MB limit",
        ),
    ],
)
def test_a_zip_bomb_is_refused_from_its_directory_without_inflating(
    tmp_path, monkeypatch, part, limits, message
):
    data = compressible_workbook(part, 30)
    assert part in zipfile.ZipFile(io.BytesIO(data)).namelist()
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(data)
    assert path.stat().st_size < 1024**2  # 30 MB of XML in under 1 MB of zip
    for name, value in limits.items():
        monkeypatch.setenv(name, value)
    tracemalloc.start()
    with pytest.raises(ReturnReadError, match=message):
        read_return(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 1024**2  # the 30 MB part was never inflated


def test_a_sheet_claiming_a_million_rows_and_columns_is_read_from_its_cells(tmp_path):
    path = tmp_path / "claims.xlsx"
    path.write_bytes(workbook(TABLE_ROWS, "dimension of a whole sheet"))
    tracemalloc.start()
    start = time.monotonic()
    parsed = read_return(path)
    elapsed, peak = time.monotonic() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert parsed.kind is Kind.HOME_OFFICE and len(parsed.frame) == 1
    assert elapsed < 2 and peak < 50 * 1024**2


def test_a_value_far_beyond_a_returns_figures_is_refused_naming_the_cell(tmp_path):
    path = tmp_path / "far.xlsx"
    path.write_bytes(workbook(RETURN_ROWS, "a value in the last cell"))
    with pytest.raises(ReturnReadError, match=r"^far.xlsx: sheet 'Sheet', cell XFD1048576: "):
        read_return(path)


# --- the staging path: every file in a folder of garbage is accounted for ------------------------

GOOD_RETURN = b"force,financial_year,offence_code,offences,online_flagged\nKent,2016/17,ALL,,120\n"
any_input = st.one_of(
    st.tuples(st.just(".csv"), csv_texts()),
    st.tuples(st.just(".csv"), home_office_texts()),
    st.tuples(st.just(".xlsx"), workbooks().flatmap(damaged)),
    st.tuples(st.just(".xlsx"), zips()),
    st.tuples(st.sampled_from([".csv", ".xlsx", ".txt", ".part"]), st.binary(max_size=500)),
    st.tuples(st.just(".csv"), st.just(GOOD_RETURN)),  # a second copy: a duplicate
)


@settings(
    max_examples=max(1, int(8 * SCALE)),
    deadline=None,  # validation (Great Expectations) sets the pace here, not the readers
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(any_input, min_size=1, max_size=4), st.booleans())
def test_staging_a_folder_of_garbage_accounts_for_every_file_in_the_ledger(inputs, nested):
    from briefings.store import (
        DataFolders,
        Status,
        accept_returns,
        read_ledger,
        read_staged,
        stage_raw_files,
    )
    from briefings.validation import validate_return

    TRIED["files staged in folders"] += len(inputs) + 1
    with tempfile.TemporaryDirectory() as tmp:
        folders = DataFolders(Path(tmp) / "data")
        folders.raw.mkdir(parents=True)
        (folders.raw / "kent.csv").write_bytes(GOOD_RETURN)
        for number, (suffix, data) in enumerate(inputs):
            path = folders.raw / ("2017/" if nested else "") / f"fuzz-{number}{suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
        hour_ago = time.time() - 3600  # copied in long ago: settled
        for path in folders.raw.rglob("*"):
            os.utime(path, (hour_ago, hour_ago))
        now = datetime(2017, 6, 1, 9, tzinfo=UTC)
        staged = stage_raw_files(folders, now=now)
        outcomes = {
            s.sha256: validate_return(read_staged(s), s.file, Kind(s.kind))
            for s in staged
            if s.staged is not None
        }
        entries = accept_returns(folders, staged, outcomes)
        ledger = read_ledger(folders).set_index("file")
        on_disk = {
            p.relative_to(folders.raw).as_posix() for p in folders.raw.rglob("*") if p.is_file()
        }
        assert set(ledger.index) == on_disk == {e.file for e in entries}
        assert set(ledger["status"]) <= set(Status.ALL)
        usable = (Status.ACCEPTED, Status.SUPERSEDED, Status.DUPLICATE)
        assert ledger.loc["kent.csv", "status"] in usable
        for file, row in ledger.iterrows():
            if row["status"] == Status.QUARANTINED:
                # Read errors name the file, validation its path under raw/.
                assert row["detail"].startswith((Path(file).name, file)), row["detail"]
                assert folders.quarantine_report(file).exists()
            if file.endswith(".part"):  # a partial download is never read, never refused
                assert row["status"] == Status.INCOMPLETE
