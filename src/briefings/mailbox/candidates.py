"""The figures a reply's letters give, as candidates for a steward: each table read by the
same reader as a spreadsheet return (so a letter's table is read as the force's spreadsheet
would be: wide or long, totals, withheld cells), each sentence by the prose reader. Pure over
the documents' text and tables."""

from __future__ import annotations

from collections.abc import Mapping

from briefings.ingest.files import ReturnReadError
from briefings.ingest.online_flag import _WITHHELD, parse_online_flag
from briefings.ingest.tables import Sheet
from briefings.journal.mailbox import CandidateFigure
from briefings.mailbox.documents import Document
from briefings.mailbox.prose import ALL_CODES, OFFENCES, ONLINE_FLAGGED, figures_in_text
from briefings.reference import Force, ForceRegister


def is_withheld(count: str) -> bool:
    """A count the force withheld ('<5', '*', '[c]'), as ingest reads one."""
    return bool(_WITHHELD.match(count.strip()))


def candidates_in(
    document: Document,
    stored_as: str,
    force: Force,
    register: ForceRegister,
    descriptions: Mapping[str, str],
) -> tuple[list[CandidateFigure], list[str]]:
    """Every figure a letter gives, with where it came from; and notes on what was not read."""
    found: list[CandidateFigure] = []
    notes: list[str] = []
    for number, table in enumerate(document.tables, start=1):
        rows, why = _table_figures(
            document, number, table, stored_as, force, register, descriptions
        )
        found += rows
        if why:
            notes.append(f"{stored_as} table {number} not read: {why}")
    figures, prose_notes = figures_in_text(document.text, descriptions)
    notes += [f"{stored_as} {note}" for note in prose_notes]
    for figure in figures:
        found.append(
            CandidateFigure(
                force.code,
                figure.financial_year,
                figure.offence_code,
                _description(figure.offence_code, descriptions),
                figure.measure,
                figure.count,
                stored_as,
                figure.location,
                figure.passage,
                figure.reading,
            )
        )
    return _without_repeats(found), notes


def _table_figures(
    document: Document,
    number: int,
    table: list[list[str]],
    stored_as: str,
    force: Force,
    register: ForceRegister,
    descriptions: Mapping[str, str],
) -> tuple[list[CandidateFigure], str | None]:
    rows: list[list[str | None]] = [
        [cell if cell.strip() else None for cell in row] for row in table
    ]
    label = f"{document.name} table {number}"
    try:
        # The sheet is named for the sender's force: a table without a force column is its.
        parsed = parse_online_flag(label, [Sheet(force.name, rows)])
    except ReturnReadError as error:
        return [], str(error).removeprefix(f"{label}: ")
    header = " | ".join(cell for cell in table[0] if cell) if table else ""
    found = []
    for record in parsed.frame.to_dict("records"):
        named = register.find(record["force"])
        if named is None:
            return [], f"unknown force '{record['force']}'"
        row_number = int(record["source_row"])
        written = " | ".join(cell for cell in table[row_number - 1] if cell) if row_number else ""
        code = str(record["offence_code"] or ALL_CODES).strip().upper()
        description = record.get("offence_description")
        if not isinstance(description, str) or not description.strip():
            description = _description(code, descriptions)
        reading = f"read as a {parsed.layout} table"
        if parsed.notes:
            reading += "; " + "; ".join(parsed.notes)
        for measure in (ONLINE_FLAGGED, OFFENCES):
            value = record.get(measure)
            if not isinstance(value, str) or not value.strip():
                continue
            found.append(
                CandidateFigure(
                    named.code,
                    str(record["financial_year"]),
                    code,
                    description,
                    measure,
                    value.strip(),
                    stored_as,
                    f"table {number}, row {row_number}",
                    f"{header} / {written}" if header and written != header else written,
                    reading,
                )
            )
    return found, None


def _description(code: str, descriptions: Mapping[str, str]) -> str:
    if code == ALL_CODES:
        return "All child sexual offences"
    return descriptions.get(code, "")


def _without_repeats(found: list[CandidateFigure]) -> list[CandidateFigure]:
    """One candidate per place and figure: a table and a sentence giving the same count stay
    two candidates (two passages), but one passage read twice is one."""
    seen = set()
    kept = []
    for item in found:
        key = (item.location, item.financial_year, item.offence_code, item.measure)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept
