"""What waits for a person, and what the journal holds of stewards' decisions: a refused
return flags runs until a later accepted return covers it or a steward acknowledges it;
stewards hear of each refused return once; a Home Office extract replaces only the forces
and quarters it covers; a damaged journal stops a run before anything is published or sent."""

from __future__ import annotations

import csv
import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from .helpers import PROJECT_ROOT, TEST_DATA, copy_data_folder

HOME_OFFICE_TABLE = (
    PROJECT_ROOT / "data" / "raw" / "home-office" / "prc-pfa-2017-18-homeoffice-open-data.csv"
)
ONLINE_HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
BAD_WARWICKSHIRE = ONLINE_HEADER + (
    "Warwickshire,2015/16,22B,Sexual activity involving child under 16,40,6\n"
    "Warwickshire,2016/17,22B,Sexual activity involving child under 16,45,eleven\n"
)
CORRECTED_WARWICKSHIRE = ONLINE_HEADER + (
    "Warwickshire,2015/16,22B,Sexual activity involving child under 16,40,6\n"
    "Warwickshire,2016/17,22B,Sexual activity involving child under 16,45,11\n"
)
BAD_SUFFOLK = ONLINE_HEADER + (
    "Suffolk,2016/17,22B,Sexual activity involving child under 16,30,-2\n"
)


def clean_data(root: Path) -> Path:
    """tests/data/small without its refused Dorset return."""
    data = copy_data_folder(TEST_DATA / "small", root / "data")
    (data / "raw" / "dorset-return-with-errors.csv").unlink()
    return data


def steward_notices(outbox: Path) -> list[email.message.EmailMessage]:
    """The notices in the outbox, oldest first."""
    files = sorted((outbox / "stewards").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files
    ]


def subscriber_emails(outbox: Path) -> list[Path]:
    return (
        [p for p in outbox.rglob("*.eml") if p.parent.name != "stewards"] if outbox.exists() else []
    )


# A Home Office extract replaces only the forces and quarters it covers --------------------


def home_office_rows(forces: set[str]) -> tuple[list[str], list[list[str]]]:
    with HOME_OFFICE_TABLE.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for row in reader if row[2] in forces]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_a_partial_home_office_extract_replaces_only_the_forces_and_quarters_it_covers(tmp_path):
    """A later extract with two forces for one quarter: those two forces take its figures
    for that quarter; every other force, and the two forces' other quarters, keep the
    national table's."""
    from briefings import services

    data = clean_data(tmp_path)
    forces = {"Wiltshire", "Kent", "Gwent", "Cumbria", "Surrey"}
    header, rows = home_office_rows(forces)
    (data / "raw" / "home-office").mkdir()
    write_csv(data / "raw" / "home-office" / "prc-pfa-2017-18-open-data.csv", header, rows)
    start = datetime(2018, 7, 20, 9, 0, tzinfo=UTC)
    services.ingest(data, now=start, notify=False)
    table = data / "processed" / "child_sexual_offences.parquet"
    before = pd.read_parquet(table).set_index(["force_code", "quarter"])

    extract = [
        [*row[:7], str(int(row[7].strip()) * 2)]
        for row in rows
        if row[2] in {"Wiltshire", "Kent"} and row[1] == "2"
    ]
    write_csv(data / "raw" / "home-office" / "prc-pfa-2017-18-q2-extract.csv", header, extract)
    services.ingest(data, now=start + timedelta(days=30), notify=False)
    after = pd.read_parquet(table).set_index(["force_code", "quarter"])

    wiltshire, kent, gwent, cumbria, surrey = (
        "E23000038",
        "E23000032",
        "W15000002",
        "E23000002",
        "E23000031",
    )
    assert sorted(after.index) == sorted(before.index)  # no force lost a quarter
    for code in (gwent, cumbria, surrey):
        for quarter in (1, 2, 3, 4):
            assert after.loc[(code, quarter)].to_dict() == before.loc[(code, quarter)].to_dict()
    for code in (wiltshire, kent):
        for quarter in (1, 3, 4):
            assert after.loc[(code, quarter)].to_dict() == before.loc[(code, quarter)].to_dict()
        assert after.loc[(code, 2), "child_sexual_offences"] == (
            2 * before.loc[(code, 2), "child_sexual_offences"]
        )
        assert after.loc[(code, 2), "source_file"] == "home-office/prc-pfa-2017-18-q2-extract.csv"
