"""Every mistake a user can make is one line on stderr naming what to change, with the exit
status docs/command-line.md gives it, and never a traceback; the stewards hear only of data
problems (a damaged or lost journal here), never of an analyst's arguments.

The table runs the command in this process (tests/helpers.briefings) against a small data
folder of its own. Each mistake is caught before any Prefect flow starts, so no Prefect server
is needed; the mistakes that only a run can find (a period or force without returns) are at
the end, on the session's published round."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .helpers import TEST_DATA, briefings, copy_data_folder

# No SMTP server: notices, if any, are .eml files in the outbox beside the output folder.
NO_SMTP = {"BRIEFINGS_SMTP_HOST": None, "PREFECT_API_URL": None}


@dataclass(frozen=True)
class Folder:
    """A user's working folder: data/ (raw/ of the small round), reports/out/ and the outbox
    beside it, and the comms teams' configuration, copied so a mistake can be made in it."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def out(self) -> Path:
        return self.root / "reports" / "out"

    @property
    def config(self) -> Path:
        return self.root / "config"

    def notices(self) -> list[Path]:
        """Every message written anywhere under the folder (steward notices included)."""
        return sorted(self.root.rglob("*.eml"))

    def steward_notices(self) -> list[Path]:
        return sorted((self.root / "reports" / "outbox" / "stewards").glob("*.eml"))


@dataclass(frozen=True)
class Mistake:
    name: str
    args: tuple[str, ...]  # {data}, {out}, {root} are the folder's
    status: int
    says: str  # in the one line on stderr
    make: Callable[[Folder], None] = lambda folder: None
    env: dict[str, str | None] = field(default_factory=dict)
    data_problem: bool = False  # the stewards are told (exactly one notice)


def write(relative: str, text: str) -> Callable[[Folder], None]:
    def make(folder: Folder) -> None:
        path = folder.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return make


def damaged_journal(folder: Folder) -> None:
    write("data/state/journal.sqlite", "not a database " * 200)(folder)


def journal_lost_beside_a_store(folder: Folder) -> None:
    """A ledger from earlier runs, and no journal: it was deleted."""
    write("data/processed/ledger.csv", "file,sha256\n")(folder)


def returns_outside_raw(folder: Folder) -> None:
    loose = folder.root / "loose"
    loose.mkdir()
    shutil.copy(folder.data / "raw" / "returns-2017.csv", loose)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


RUN = ("run", "--data-dir", "{data}", "--out-dir", "{out}")
INGEST = ("ingest", "--data-dir", "{data}")
BACKFILL = ("backfill", "--from", "2015/16", "--to", "2016/17", "--data-dir", "{data}")
BACKFILL += ("--out-dir", "{out}")
SUBSCRIPTIONS = "config/subscriptions.yaml"

MISTAKES = [
    # The command's words
    Mistake("misspelt option", (*RUN, "--perod", "2016/17"), 2, "No such option: --perod"),
    Mistake("option without its value", (*RUN, "--period"), 2, "'--period' requires an argument"),
    Mistake("not a financial year", (*RUN, "--period", "2016/18"), 2, "'2016/18' is not a"),
    Mistake("a year not ended", (*RUN, "--period", "2090/91"), 2, "2090/91 has not ended"),
    Mistake(
        "misspelt force", (*RUN, "--force", "Wiltshre"), 2, "unknown force 'Wiltshre'; nearest"
    ),
    Mistake(
        "a name meaning two forces",
        (*RUN, "--force", "London"),
        2,
        "unknown force 'London'; nearest known: Metropolitan Police, City of London",
    ),
    Mistake("a date that is not one", (*RUN, "--as-of", "2017-13-01"), 2, "--as-of '2017-13-01'"),
    Mistake("a date in words", (*RUN, "--as-of", "yesterday"), 2, "--as-of 'yesterday'"),
    Mistake(
        "backfill backwards",
        ("backfill", "--from", "2016/17", "--to", "2015/16", "--data-dir", "{data}"),
        2,
        "--from 2016/17 comes after --to 2015/16",
    ),
    Mistake("backfill without --to", ("backfill", "--from", "2016/17"), 2, "Missing option '--to'"),
    Mistake("no runs", ("status", "--runs", "0"), 2, "Invalid value for '--runs'"),
    Mistake("unknown command", ("publish",), 2, "No such command 'publish'"),
    Mistake("port out of range", ("server", "--port", "0"), 2, "Invalid value for '--port'"),
    Mistake(
        "trigger a period that is not one",
        ("trigger", "publish", "--period", "20166"),
        2,
        "'20166' is not a financial year",
    ),
    Mistake(
        "deliver before publishing",
        ("deliver", "--data-dir", "{data}", "--out-dir", "{out}"),
        2,
        "nothing published in",
    ),
    Mistake(
        "deliver a period not published",
        ("deliver", "--period", "2016/17", "--data-dir", "{data}", "--out-dir", "{out}"),
        2,
        "no manifest.json in",
    ),
    Mistake(
        "acknowledge before any ingest",
        ("returns", "acknowledge", "raw/returns-2017.csv", "--reason", "x", "--data-dir", "{data}"),
        2,
        "no ledger in",
    ),
    Mistake(
        "start over without a reason",
        ("journal", "start-over", "--reason", " ", "--data-dir", "{data}"),
        2,
        "--reason must say why",
    ),
    Mistake("validate a file not there", ("validate", "{root}/return.csv"), 1, "no such file"),
    # Data folders
    Mistake(
        "the raw folder as the data folder",
        ("run", "--data-dir", "{data}/raw", "--out-dir", "{out}"),
        2,
        "did you mean --data-dir {data}?",
    ),
    Mistake("ingest the raw folder", ("ingest", "--data-dir", "{data}/raw"), 2, "did you mean"),
    Mistake(
        "returns outside raw/",
        ("run", "--data-dir", "{root}/loose", "--out-dir", "{out}"),
        2,
        "returns go in {root}/loose/raw/",
        make=returns_outside_raw,
    ),
    Mistake(
        "a data folder that is not there",
        ("run", "--data-dir", "{root}/nowhere", "--out-dir", "{out}"),
        2,
        "no returns found in {root}/nowhere/raw",
    ),
    Mistake(
        "a file as the data folder",
        ("run", "--data-dir", "{data}/raw/returns-2017.csv", "--out-dir", "{out}"),
        2,
        "is a file, not a folder holding raw/",
    ),
    Mistake(
        "a file as the output folder",
        ("run", "--data-dir", "{data}", "--out-dir", "{data}/raw/returns-2017.csv"),
        2,
        "--out-dir {data}/raw/returns-2017.csv is a file",
    ),
    Mistake("busy: run", RUN, 3, "another run is updating {data}/processed"),
    Mistake("busy: ingest", INGEST, 3, "another run is updating {data}/processed"),
    Mistake("busy: backfill", BACKFILL, 3, "another run is updating {data}/processed"),
    Mistake(
        "no Prefect server where PREFECT_API_URL says",
        RUN,
        1,
        "no Prefect server answers at PREFECT_API_URL=http://127.0.0.1:",
        env={"PREFECT_API_URL": "http://127.0.0.1:{port}/api"},
    ),
    # The journal: a data problem, told to the stewards
    Mistake("damaged journal: run", RUN, 1, "is damaged", damaged_journal, data_problem=True),
    Mistake("damaged journal: ingest", INGEST, 1, "is damaged", damaged_journal, data_problem=True),
    Mistake(
        "journal lost beside a store",
        RUN,
        1,
        "is new or empty, but",
        journal_lost_beside_a_store,
        data_problem=True,
    ),
    Mistake(
        "damaged journal: status",
        ("status", "--data-dir", "{data}"),
        1,
        "is damaged",
        damaged_journal,
        env={"PREFECT_API_URL": "http://127.0.0.1:{port}/api"},
    ),
    # Configuration: the files comms teams edit, and the environment
    Mistake(
        "subscriptions that are not YAML",
        RUN,
        2,
        "subscriptions.yaml: line 3, column 1: not valid YAML",
        write(SUBSCRIPTIONS, "subscribers:\n  - name: [Press\n"),
    ),
    Mistake(
        "subscriptions as a list",
        INGEST,
        2,
        "subscriptions.yaml: expected keys and values at the top level",
        write(SUBSCRIPTIONS, "- press@example.org\n"),
    ),
    Mistake(
        "an infinite size",
        RUN,
        2,
        "zip_attachments_over_mb must be a number of megabytes above 0",
        write(SUBSCRIPTIONS, "zip_attachments_over_mb: .inf\n"),
    ),
    Mistake(
        "not a number",
        BACKFILL,
        2,
        "zip_attachments_over_mb must be a number of megabytes above 0",
        write(SUBSCRIPTIONS, "zip_attachments_over_mb: .nan\n"),
    ),
    Mistake(
        "a threshold that is not a number",
        RUN,
        2,
        "small_number_threshold must be a whole number >= 1",
        write("config/briefing.yaml", "charity_name: Kids First\nsmall_number_threshold: .nan\n"),
    ),
    Mistake(
        "a quote for a force that is not one",
        RUN,
        2,
        "'Wiltshre' is not a police force in reference/forces.csv; nearest: Wiltshire",
        write("config/quotes/forces.yaml", "Wiltshre: {}\n"),
    ),
    Mistake(
        "render workers in words",
        RUN,
        2,
        "BRIEFINGS_RENDER_WORKERS='two' is not a whole number",
        env={"BRIEFINGS_RENDER_WORKERS": "two"},
    ),
    Mistake(
        "an infinite return size",
        INGEST,
        2,
        "BRIEFINGS_MAX_RETURN_MB='inf' is not a finite number",
        env={"BRIEFINGS_MAX_RETURN_MB": "inf"},
    ),
    Mistake(
        "an SMTP port out of range",
        RUN,
        2,
        "BRIEFINGS_SMTP_PORT=",
        env={"BRIEFINGS_SMTP_HOST": "smtp.example.org", "BRIEFINGS_SMTP_PORT": "70000"},
    ),
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Folder:
    from briefings.config import files
    from briefings.resources import REPORTS_CONFIG_DIR

    folder = Folder(tmp_path)
    copy_data_folder(TEST_DATA / "small", folder.data)
    shutil.copytree(REPORTS_CONFIG_DIR, folder.config)
    # The comms teams' files as this user has them: a mistake is made in the copy.
    monkeypatch.setattr(files, "REPORTS_CONFIG_DIR", folder.config)
    return folder


def test_there_are_at_least_25_mistakes_each_named_once():
    assert len(MISTAKES) >= 25
    assert len({mistake.name for mistake in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.name for mistake in MISTAKES])
def test_a_mistake_is_one_line_with_its_exit_status(mistake: Mistake, folder: Folder, caplog):
    from briefings.store import DataFolders, store_lock

    mistake.make(folder)
    port = str(free_port())
    places = {"data": str(folder.data), "out": str(folder.out), "root": str(folder.root)}
    args = [arg.format(**places) for arg in mistake.args]
    env = {
        **NO_SMTP,
        **{name: value and value.format(port=port) for name, value in mistake.env.items()},
    }
    if mistake.name.startswith("busy"):
        with store_lock(DataFolders(folder.data)):
            result = briefings(*args, env=env)
    else:
        result = briefings(*args, env=env)

    assert result.returncode == mistake.status, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()  # exactly one line
    assert mistake.says.format(**places) in line, line
    assert line.startswith(("briefings: error: ", "REFUSED ")), line
    assert "Traceback" not in result.stdout + result.stderr
    assert not [record for record in caplog.records if record.exc_info]  # none logged either
    assert "Beginning flow run" not in caplog.text  # caught before any flow
    if mistake.data_problem:
        assert len(folder.steward_notices()) == 1, folder.notices()
        assert folder.notices() == folder.steward_notices()  # nobody else is told
    else:
        assert folder.notices() == []


def test_force_aliases_resolve_when_they_mean_one_force_and_are_suggested_otherwise():
    from briefings.reference import UnknownForceError, force_register

    register = force_register()
    for alias, name in [
        ("Met", "Metropolitan Police"),
        ("the Met", "Metropolitan Police"),
        ("GMP", "Greater Manchester"),
        ("West Mids", "West Midlands"),
        ("Avon & Somerset", "Avon and Somerset"),
        ("Heddlu Gwent", "Gwent"),
    ]:
        assert register.resolve(alias).name == name
    with pytest.raises(UnknownForceError, match="nearest known: Metropolitan Police"):
        register.resolve("Mett")
    with pytest.raises(UnknownForceError, match="North Yorkshire, West Yorkshire, South"):
        register.resolve("Yorkshire")
    assert register.nearest("Met") == ["Metropolitan Police"]  # not Kent and Gwent
    assert register.find("Met") is None  # a return's force column is read by its spellings


# Mistakes only a run can find: it ingests, then says in one line what it cannot publish.
IN_A_RUN = [
    (("--period", "2012/13"), "no accepted returns for 2012/13; periods with data: 2015/16"),
    (("--force", "Dorset"), "no accepted return for Dorset in 2016/17"),
]


@pytest.mark.from_published
@pytest.mark.parametrize(("args", "says"), IN_A_RUN, ids=["period", "force"])
def test_a_request_the_data_cannot_meet_tells_nobody_but_its_asker(
    published_small, tmp_path, caplog, args, says
):
    publication, _ = published_small
    copy = publication.copy_to(tmp_path)
    before = sorted(copy.outbox.rglob("*.eml"))
    result = briefings(
        "run",
        "--data-dir",
        str(copy.data),
        "--out-dir",
        str(copy.out),
        *args,
        env={"BRIEFINGS_SMTP_HOST": None},  # the session's Prefect server, no SMTP
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"briefings: error: {says}"), line
    assert "Traceback" not in result.stdout + caplog.text
    assert not [record for record in caplog.records if record.exc_info]  # Prefect's logs too
    assert f"Finished in state InvalidRequest('{says}" in caplog.text  # the state names it
    assert sorted(copy.outbox.rglob("*.eml")) == before  # no steward notice, no message


def test_stewards_hear_of_scheduled_runs_data_problems_and_faults_not_of_mistakes_by_hand():
    from types import SimpleNamespace

    from prefect.states import Crashed, Failed

    from flows.delivery import stewards_should_hear

    by_hand, from_a_deployment = (
        SimpleNamespace(deployment_id=None),
        SimpleNamespace(deployment_id="a-deployment"),
    )
    for mistake in ("InvalidRequest", "Busy"):
        assert not stewards_should_hear(by_hand, Failed(name=mistake))
        assert stewards_should_hear(from_a_deployment, Failed(name=mistake))  # nobody watching
    assert stewards_should_hear(by_hand, Failed(message="could not write: disk full"))
    assert stewards_should_hear(by_hand, Crashed(message="killed"))


@pytest.mark.parametrize(
    ("offences", "flagged", "column"),
    [("300", "-5", "online_flagged"), ("-300", "5", "offences")],
    ids=["negative flagged", "negative offences"],
)
def test_a_negative_count_is_one_refusal_and_no_warning(offences, flagged, column):
    import pandas as pd

    from briefings.ingest import Kind
    from briefings.validation import validate_return

    frame = pd.DataFrame(
        {
            "force": ["Wiltshire"],
            "financial_year": ["2016/17"],
            "offence_code": ["ALL"],
            "offence_description": [""],
            "offences": [offences],
            "online_flagged": [flagged],
            "source_row": [2],
        }
    )
    outcome = validate_return(frame, "negative.csv", Kind.ONLINE_FLAG)
    assert [problem.describe("negative.csv") for problem in outcome.problems] == [
        f"negative.csv row 2, column {column}: expected a whole number of 0 or more"
        + (
            ", or blank"
            if column == "offences"
            else ", or a count the force withheld (such as <5 or *)"
        )
        + f"; found '{offences if column == 'offences' else flagged}'"
    ]
    assert outcome.warnings == ()  # not also 'more than 90 per cent flagged'


def test_a_return_without_a_header_is_told_what_was_found_and_what_is_read():
    from briefings.ingest import ReturnReadError, read_return

    with pytest.raises(ReturnReadError) as refused:
        read_return(TEST_DATA / "bad" / "missing-count-column.csv")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("missing-count-column.csv: no header row with the return's")
    assert (
        "the likeliest, row 1, has 'force', 'financial_year', 'offence_code' "
        "(read as financial_year, force, offence_code)"
    ) in message
    assert "an online-flagged count" in message  # what is missing
    assert "online_flagged: Online flagged, Cyber flagged, Online flag" in message


@pytest.mark.from_published
def test_the_outbox_is_beside_the_output_folder_for_run_and_deliver_alike(
    published_small, tmp_path
):
    publication, _ = published_small
    copy = publication.copy_to(tmp_path)
    assert sorted(p.name for p in copy.outbox.iterdir()) == ["2016-17"]  # where run wrote
    result = briefings(
        "deliver",
        "--dry-run",
        "--data-dir",
        str(copy.data),
        "--out-dir",
        str(copy.out),
        env={"BRIEFINGS_SMTP_HOST": None},
    )
    assert result.returncode == 0, result.stderr
    assert f"via outbox {copy.out.parent / 'outbox'}" in result.stdout


@pytest.mark.from_published
def test_status_lists_runs_started_by_hand_with_what_they_published(published_small, tmp_path):
    publication, summary = published_small
    result = briefings("status", "--data-dir", str(publication.data), "--runs", "50")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "publish-briefings" in line]
    assert any("by hand" in row and "Completed" in row for row in rows), result.stdout
    assert any("by hand" in row and "2016/17" in row for row in rows), result.stdout  # period
    assert "none yet" not in result.stdout
    # Another data folder's status lists none of this one's runs (runs that name no data
    # folder, the suite's delivery tests', are listed for every folder).
    names = {row.split("│")[2].strip() for row in rows if "by hand" in row} - {""}
    assert names, rows
    other = publication.copy_to(tmp_path).data
    elsewhere = briefings("status", "--data-dir", str(other), "--runs", "50")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert f"Latest runs over {other}" in " ".join(elsewhere.stdout.split()), elsewhere.stdout
    assert not [name for name in names if name in elsewhere.stdout], names
    assert f"Journal: {publication.data / 'state' / 'journal.sqlite'} (sound" in result.stdout
