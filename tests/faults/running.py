"""Runs for the fault tests: the pipeline in a subprocess (killable, bounded in time, its whole
process group stopped afterwards) or in this process, and the state a run leaves behind, so
a run that recovered from a fault can be compared with one that never met it."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from briefings.store.ledger import LEDGER_COLUMNS

from ..helpers import TEST_DATA, copy_data_folder

BIN = Path(sys.executable).parent
BRIEFINGS = str(BIN / "briefings")
BAD_RETURN = "dorset-return-with-errors.csv"  # left out: a clean round, no steward notices
RUN_TIMEOUT = 240  # seconds; a run here takes 10 to 30 (more on a loaded machine)


def small_folder(root: Path) -> tuple[Path, Path]:
    """(data_dir, out_dir) of a fresh copy of tests/data/small without the bad return; the
    outbox is beside out_dir (root/reports/outbox)."""
    data = copy_data_folder(TEST_DATA / "small", root / "data")
    (data / "raw" / BAD_RETURN).unlink()
    return data, root / "reports" / "out"


def copy_of(data: Path, out: Path, root: Path) -> tuple[Path, Path]:
    """A copy of a published folder (data/ and reports/ with the outbox), to go on from."""
    shutil.copytree(data, root / "data")
    shutil.copytree(out.parent, root / "reports")
    return root / "data", root / "reports" / "out"


CORRECTION = (
    "force,financial_year,offence_code,offence_description,offences,online_flagged\n"
    "Wiltshire,2015/16,22B,Sexual activity involving child under 16,158,6\n"
    "Wiltshire,2015/16,88A,Sexual grooming,40,4\n"
    "Wiltshire,2016/17,22B,Sexual activity involving child under 16,170,36\n"
    "Wiltshire,2016/17,88A,Sexual grooming,52,14\n"
)  # Wiltshire 2016/17: 50 where it was 44; every briefing shows the national total


def add_correction(data: Path) -> Path:
    """A corrected Wiltshire return, arrived an hour ago (settled: read at once)."""
    path = data / "raw" / "wiltshire-corrected.csv"
    path.write_text(CORRECTION)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return path


INJECT = Path(__file__).parent / "inject"  # sitecustomize.py: faults at steps of a run


def run_env(**extra: str) -> dict[str, str]:
    """The environment of a run: this session's Prefect server and home, no SMTP (the outbox),
    one render process, no fault injected unless `extra` asks for one (BRIEFINGS_TEST_KILL_AT,
    BRIEFINGS_TEST_PAUSE_AT, BRIEFINGS_TEST_FILL_DISK_AT: see inject/fault_injection.py)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BRIEFINGS_SMTP", "BRIEFINGS_TEST_"))
    }
    # First on the path, so the run (and its render workers, which inherit it) imports the
    # injection's sitecustomize before any of the application.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT), env.get("PYTHONPATH")]))
    env.update(BRIEFINGS_RENDER_WORKERS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class Started:
    """A process started in its own process group, its output copied to files (through pipes:
    a file size limit on the process must not cut its own messages short)."""

    process: subprocess.Popen
    stdout: Path
    stderr: Path
    copying: list[threading.Thread] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"still running after {timeout:g} s (stopped):\n{self.err()[-3000:]}"
            ) from None
        for thread in self.copying:
            thread.join(timeout=10)
        return code

    def stop(self) -> None:
        """SIGKILL the whole group (the run, and any render workers or servers it started)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = RUN_TIMEOUT) -> float:
        """Seconds until `text` appears on stderr; fails if the process ends without it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = self.process.poll() is not None
            if ended:
                for thread in self.copying:  # the last of its output
                    thread.join(timeout=10)
            if text in self.err():
                return time.monotonic() - self.started
            if ended:
                raise AssertionError(
                    f"ended ({self.process.returncode}) before '{text}':\n{self.err()[-3000:]}"
                )
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"no '{text}' after {timeout:g} s:\n{self.err()[-3000:]}")


class Processes:
    """Every process a test starts; all stopped (by process group) when the test ends."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[Started] = []

    def start(self, args: list[str], env: dict[str, str], name: str, **options) -> Started:
        self.folder.mkdir(parents=True, exist_ok=True)
        stdout, stderr = self.folder / f"{name}.out", self.folder / f"{name}.err"
        stdout.touch()
        stderr.touch()
        process = subprocess.Popen(
            args,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=Path(__file__).parents[2],
            **options,
        )
        copying = [
            threading.Thread(target=_copy, args=(stream, path), daemon=True)
            for stream, path in ((process.stdout, stdout), (process.stderr, stderr))
        ]
        for thread in copying:
            thread.start()
        started = Started(process, stdout, stderr, copying)
        self.started.append(started)
        return started

    def briefings_run(
        self, data: Path, out: Path, name: str, *more: str, preexec_fn=None, **env: str
    ) -> Started:
        """`briefings run` on a data folder; `env`: variables to set for it."""
        args = [BRIEFINGS, "run", "--data-dir", str(data), "--out-dir", str(out), *more]
        return self.start(args, run_env(**env), name, preexec_fn=preexec_fn)

    def stop_all(self) -> None:
        for started in self.started:
            started.stop()


def _copy(stream, path: Path) -> None:
    with stream, path.open("wb") as file:
        for chunk in iter(lambda: stream.read1(65536), b""):
            file.write(chunk)
            file.flush()


@contextmanager
def processes(folder: Path) -> Iterator[Processes]:
    started = Processes(folder)
    try:
        yield started
    finally:
        started.stop_all()


def publish(data: Path, out: Path, **options):
    """The publish flow in this process, on this session's Prefect server."""
    from flows.pipeline import RunRequest, publish_briefings

    return publish_briefings(RunRequest(data_dir=data, out_dir=out, **options))


# The state a run leaves behind


# Every ledger column but the file (runs are compared by file), its size and data_docs (a
# path per data folder).
LEDGER_FIELDS = [c for c in LEDGER_COLUMNS if c not in ("file", "size_bytes", "data_docs")]
TABLES = ["online_flag_returns", "home_office_offences", "child_sexual_offences"]


def is_temporary(path: Path) -> bool:
    """A file being written (briefings.atomic): hidden, ending .part."""
    return path.name.startswith(".") and path.name.endswith(".part")


def is_hidden(path: Path, folder: Path) -> bool:
    """Not published: a file being written, or a PDF in .rendering/ waiting for the others."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


@dataclass
class State:
    ledger: dict[str, dict] | None  # by file; None with no ledger.csv
    tables: dict[str, pd.DataFrame]
    published: dict[str, bytes]  # every visible file under out_dir, by relative path
    temporaries: list[str]  # hidden files under out_dir, .part files anywhere
    messages: dict[str, dict]  # briefings in the outbox, by Message-ID
    notices: dict[str, dict]  # notices to the data stewards in the outbox, by Message-ID
    outbox_files: dict[str, list[Path]]  # .eml files by Message-ID
    deliveries: dict[tuple[str, ...], dict]  # (channel, email, pdf, content hash) -> row

    def pdfs(self) -> dict[str, bytes]:
        """PDFs by file name (one period here)."""
        return {
            name.rsplit("/", 1)[-1]: data
            for name, data in self.published.items()
            if name.endswith(".pdf")
        }


def state_of(data: Path, out: Path) -> State:
    processed = data / "processed"
    ledger_csv = processed / "ledger.csv"
    ledger = None
    if ledger_csv.exists():
        frame = pd.read_csv(ledger_csv, dtype=str, keep_default_na=False)
        ledger = {row["file"]: {k: row[k] for k in LEDGER_FIELDS} for _, row in frame.iterrows()}
    tables = {
        name: pd.read_parquet(processed / f"{name}.parquet")
        for name in TABLES
        if (processed / f"{name}.parquet").exists()
    }
    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.exists() else []
    hidden = [p for p in files if is_hidden(p, out)]
    published = {str(p.relative_to(out)): p.read_bytes() for p in files if p not in hidden}
    outbox = out.parent / "outbox"
    temporaries = [str(p) for p in hidden] + [
        str(p)
        for folder in (data, outbox)
        if folder.exists()
        for p in folder.rglob("*")
        if is_temporary(p)
    ]
    messages, notices, files = {}, {}, {}
    for path in sorted(outbox.rglob("*.eml")) if outbox.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        ident = str(message["Message-ID"])
        files.setdefault(ident, []).append(path)
        kept = notices if path.parent.name == "stewards" else messages
        kept[ident] = {
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "text": message.get_body(("plain",)).get_content(),
            "attachments": {
                part.get_filename(): hashlib.sha256(part.get_content()).hexdigest()
                for part in message.iter_attachments()
            },
        }
    return State(
        ledger, tables, published, temporaries, messages, notices, files, deliveries_of(data)
    )


def deliveries_of(data: Path) -> dict[tuple[str, ...], dict]:
    path = data / "state" / "journal.sqlite"  # what each subscriber was sent
    if not path.exists():
        return {}
    with closing(sqlite3.connect(path)) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM deliveries").fetchall()
    return {
        (r["channel"], r["email"], r["pdf"], r["content_hash"]): {
            "status": r["status"],
            "attempts": r["attempts"],
            "message_id": r["message_id"],
        }
        for r in rows
    }


def assert_same_outcome(recovered: State, clean: State, resent: frozenset[str] = frozenset()):
    """What a person could see or rely on is the same as after a clean run: the ledger, the
    accepted tables, every published byte, every message (sent exactly once: each delivery
    handed over once, except the messages in `resent`, handed over twice)."""
    assert recovered.ledger == clean.ledger
    assert set(recovered.tables) == set(clean.tables) == set(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(recovered.tables[name], clean.tables[name])
    assert sorted(recovered.published) == sorted(clean.published)
    for name, data in clean.published.items():
        assert recovered.published[name] == data, f"{name} differs from the clean run's"
    assert recovered.temporaries == []
    assert recovered.messages == clean.messages  # same Message-IDs, recipients, attachments
    assert all(len(paths) == 1 for paths in recovered.outbox_files.values())
    assert recovered.deliveries.keys() == clean.deliveries.keys()
    for key, row in recovered.deliveries.items():
        expected = dict(clean.deliveries[key])
        if row["message_id"] in resent:
            expected["attempts"] += 1
        assert row == expected, key


# Counts for the notes, printed at the end of the session (tests/faults/conftest.py)

FAULTS: Counter[str] = Counter()  # faults injected, by kind
RECOVERED: Counter[str] = Counter()  # runs that then finished the work, by kind
