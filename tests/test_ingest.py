"""Reading returns into the canonical layout, without touching the raw file."""

from pathlib import Path

import pandas as pd
import pytest

from flows.ingest import ReturnReadError, file_sha256, list_raw_files, read_return

from .helpers import TEST_DATA

HEADER = "force,financial_year,offence_code,offences,online_flagged\n"


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (HEADER + "Wiltshire,2016/17,22B,170,30\n", "utf-8"),
        (HEADER + "Wiltshire,2016/17,22B,170,30\n", "utf-8-sig"),  # with a byte-order mark
        ("Force,Financial Year,HO Code,Offences,Online flag\nYnys Môn,2016/17,22B,1,1\n", "cp1252"),
    ],
)
def test_csv_returns_in_any_common_encoding(tmp_path, content, encoding):
    frame = read_return(write(tmp_path, "return.csv", content.encode(encoding)))
    assert list(frame.columns[:6]) == [
        "force",
        "financial_year",
        "offence_code",
        "offence_description",
        "offences",
        "online_flagged",
    ]
    assert frame.loc[0, "offence_code"] == "22B"
    assert frame.loc[0, "force"] in {"Wiltshire", "Ynys Môn"}


def test_blank_lines_thousands_separators_and_row_numbers(tmp_path):
    content = HEADER + 'Kent,2016/17,ALL,,"1,150"\n\nKent,2015-16,ALL,,120\n'
    frame = read_return(write(tmp_path, "kent.csv", content.encode()))
    assert frame["online_flagged"].tolist() == ["1150", "120"]
    assert frame["financial_year"].tolist() == ["2016/17", "2015/16"]  # 2015-16 is 2015/16
    assert frame["source_row"].tolist() == [2, 4]  # spreadsheet rows, blank line counted
    assert frame["offences"].isna().all()


def test_xlsx_with_other_header_wording():
    frame = read_return(TEST_DATA / "small" / "raw" / "surrey-foi-response.xlsx")
    assert frame["force"].unique().tolist() == ["Surrey"]
    assert frame["online_flagged"].tolist() == ["41", "22"]
    assert frame["offences"].tolist() == ["210", "60"]
    assert frame["offence_description"].tolist()[1] == "Sexual grooming"


def test_a_missing_column_is_named_with_the_file_and_header_row(tmp_path):
    path = write(tmp_path, "no-flag.csv", b"force,financial_year,offence_code\nKent,2016/17,19D\n")
    with pytest.raises(ReturnReadError, match=r"no-flag.csv: row 1 \(header\) lacks column"):
        read_return(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"hello", "expected .csv or .xlsx"),
        ("empty.csv", b"", "empty"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", "not a readable Excel workbook"),
    ],
)
def test_files_that_are_not_returns_are_refused_with_a_reason(tmp_path, name, content, message):
    with pytest.raises(ReturnReadError, match=message):
        read_return(write(tmp_path, name, content))


def test_reading_never_changes_a_raw_file(tmp_path):
    path = write(tmp_path, "kent.csv", (HEADER + "Kent,2016/17,ALL,,120\n").encode())
    before = (file_sha256(path), path.stat().st_mtime_ns)
    read_return(path)
    assert (file_sha256(path), path.stat().st_mtime_ns) == before


def test_hidden_files_are_not_returns(tmp_path):
    write(tmp_path, ".~lock.kent.csv#", b"lock")
    write(tmp_path, "kent.csv", HEADER.encode())
    assert [f.name for f in list_raw_files(tmp_path)] == ["kent.csv"]


def test_numbers_in_excel_cells_stay_whole(tmp_path):
    path = tmp_path / "numbers.xlsx"
    pd.DataFrame(
        {
            "force": ["Kent"],
            "financial_year": ["2016/17"],
            "offence_code": ["ALL"],
            "online_flagged": [1150],
        }
    ).to_excel(path, index=False)
    assert read_return(path)["online_flagged"].tolist() == ["1150"]
