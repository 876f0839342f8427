"""Briefings are rendered again exactly when what they show changed, and each change reaches
the subscribers of the briefings it touched, once (through the outbox: no SMTP configured).

Tests marked `from_published` go on from the small round as published once for the session
(copied into their folder: data, briefings and outbox), not from raw returns: their first
`publish()` is a run with nothing new."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

import pytest

from flows.pipeline import RunRequest, publish_briefings

from .helpers import TEST_DATA, copy_data_folder, pdf_text

RETURNS = "returns-2017.csv"
from_published = pytest.mark.from_published


@pytest.fixture
def small_data(request, tmp_path) -> Path:
    """tests/data/small as received; for a test marked from_published, the session's
    publication of it (without its bad return) copied here."""
    if request.node.get_closest_marker("from_published"):
        return request.getfixturevalue("published_small")[0].copy_to(tmp_path).data
    return copy_data_folder(TEST_DATA / "small", tmp_path / "data")


@pytest.fixture
def publish(prefect_api_url, small_data, tmp_path, monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("BRIEFINGS_SMTP")]:
        monkeypatch.delenv(name)
    # A clean round (the session's publication was one already).
    (small_data / "raw" / "dorset-return-with-errors.csv").unlink(missing_ok=True)

    def run(**options):
        return publish_briefings(
            RunRequest(data_dir=small_data, out_dir=tmp_path / "out", **options)
        )

    return run


def manifest(summary) -> dict:
    document = json.loads(summary.manifest.read_text())
    return {entry["pdf"]: entry for entry in document["briefings"]}


def outbox(tmp_path: Path, besides: frozenset[Path] = frozenset()) -> dict[Path, object]:
    """Messages written to the outbox (less those in `besides`), by file."""
    files = sorted(set((tmp_path / "outbox").rglob("*.eml")) - besides)
    return {
        path: email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in files
    }


def attachments(message) -> set[str]:
    return {part.get_filename() for part in message.iter_attachments()}


def add_return(data: Path, name: str, text: str) -> None:
    (data / "raw" / name).write_text(text)


HEADER = "force,financial_year,offence_code,offence_description,offences,online_flagged\n"


def wiltshire_return(flagged_22b: int, flagged_88a: int) -> str:
    """Wiltshire's return with its 2016/17 counts as given (they were 30 and 14)."""
    return (
        HEADER
        + "Wiltshire,2015/16,22B,Sexual activity involving child under 16,158,6\n"
        + "Wiltshire,2015/16,88A,Sexual grooming,40,4\n"
        + f"Wiltshire,2016/17,22B,Sexual activity involving child under 16,170,{flagged_22b}\n"
        + f"Wiltshire,2016/17,88A,Sexual grooming,52,{flagged_88a}\n"
    )


def test_a_rerun_or_a_resent_return_renders_and_sends_nothing(publish, small_data, tmp_path):
    first = publish()
    assert {p.name for p in first.rendered} == {p.name for p in first.pdfs}
    sent = list(outbox(tmp_path).values())
    assert len(sent) == 4  # national, South West, Wales, Wiltshire subscribers
    wiltshire_team = next(m for m in sent if "wiltshire.campaigns" in m["To"])
    assert attachments(wiltshire_team) == {"wiltshire.pdf"}
    south_west = next(m for m in sent if "southwest.press" in m["To"])
    assert attachments(south_west) == {"region-south-west.pdf", "wiltshire.pdf"}

    again = publish()
    assert again.rendered == [] and len(outbox(tmp_path)) == 4

    # The same figures sent again in another file: nothing to render, nothing to send.
    rows = [r for r in (small_data / "raw" / RETURNS).read_text().splitlines() if "Gwent" in r]
    add_return(small_data, "gwent-resent.csv", HEADER + "\n".join(rows) + "\n")
    resent = publish()
    assert resent.rendered == []
    assert manifest(resent) == manifest(first)
    assert len(outbox(tmp_path)) == 4


@from_published
def test_a_corrected_breakdown_with_the_same_total_renders_only_that_force(publish, small_data):
    first = publish()
    # Wiltshire 2016/17: 30 + 14 = 44 before; 28 + 16 = 44 now.
    add_return(
        small_data,
        "wiltshire-corrected.csv",
        wiltshire_return(28, 16),
    )
    corrected = publish()
    assert {p.name for p in corrected.rendered} == {"wiltshire.pdf"}  # its notes name the file
    before, after = manifest(first), manifest(corrected)
    for name in set(before) - {"wiltshire.pdf"}:
        assert after[name] == before[name], name


@from_published
def test_a_corrected_total_renders_exactly_what_changed_and_sends_corrections(
    publish, small_data, tmp_path
):
    first = publish()
    before = manifest(first)
    sent_before = frozenset(outbox(tmp_path))
    add_return(
        small_data,
        "wiltshire-corrected.csv",
        wiltshire_return(36, 14),
    )
    corrected = publish()
    after = manifest(corrected)
    rendered = {p.name for p in corrected.rendered}
    assert {"wiltshire.pdf", "region-south-west.pdf", "national.pdf"} <= rendered
    for name in after:
        changed = after[name]["figures"] != before[name]["figures"]
        # Rendered exactly where a printed figure changed (Wiltshire's notes name the new file).
        assert (name in rendered) == (changed or name == "wiltshire.pdf"), name
    assert "50" in after["wiltshire.pdf"]["figures"]["Wiltshire, 2016/17"]
    text = pdf_text(corrected.period_dir / "wiltshire.pdf")
    assert "Wiltshire Police recorded 50 child sexual offences with an online flag" in text

    corrections = list(outbox(tmp_path, besides=sent_before).values())
    assert len(corrections) == 4
    recipients = {m["To"].addresses[0].addr_spec for m in corrections}
    # Everyone had a briefing whose figures changed: the national total is in all of them.
    assert all(m["Subject"].startswith("Correction") for m in corrections)
    wiltshire_team = next(m for m in corrections if "wiltshire.campaigns" in m["To"])
    body = wiltshire_team.get_body(("plain",)).get_content()
    assert "Wiltshire, 2016/17" in body and "44" in body and "50" in body
    assert attachments(wiltshire_team) == {"wiltshire.pdf"}
    assert "wiltshire.campaigns@example.org" in recipients


@from_published
def test_force_render_renders_everything_again_with_identical_bytes(publish):
    first = publish()
    before = {p.name: p.read_bytes() for p in first.pdfs}
    again = publish(force_render=True, deliver=False)
    assert {p.name for p in again.rendered} == set(before)
    assert {p.name: p.read_bytes() for p in again.pdfs} == before


@from_published
def test_a_damaged_pdf_is_rendered_again(publish):
    first = publish()
    target = first.period_dir / "kent.pdf"
    target.write_bytes(target.read_bytes()[:100])
    again = publish(deliver=False)
    assert [p.name for p in again.rendered] == ["kent.pdf"]
    assert target.read_bytes()[:5] == b"%PDF-" and len(target.read_bytes()) > 1000


@from_published
def test_templates_changed_render_everything(publish, monkeypatch, tmp_path):
    from briefings.render import publication

    first = publish()
    monkeypatch.setattr(publication, "resources_fingerprint", lambda: "templates changed")
    again = publish(deliver=False)
    assert {p.name for p in again.rendered} == {p.name for p in first.pdfs}
    shutil.rmtree(tmp_path / "outbox", ignore_errors=True)


def test_each_run_leaves_artifacts_stewards_can_follow(publish):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    summary = publish(deliver=False)

    async def latest(key: str):
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return found

    # This run's table (the server is shared with other tests' runs of the same key).
    table = [
        artifact
        for artifact in asyncio.run(latest("briefings-2016-17"))
        if str(summary.period_dir / "wiltshire.pdf") in str(artifact.data)
    ]
    assert table and "wiltshire.pdf" in str(table[0].data)
    # One table for the PDFs, with a link to each: no artifact per PDF.
    assert "file://" in str(table[0].data) and "/2016-17/wiltshire.pdf" in str(table[0].data)
    assert not asyncio.run(latest("briefing-2016-17-wiltshire"))
    figures = asyncio.run(latest("figures-2016-17"))
    assert figures and "Wiltshire" in str(figures[0].data)


@from_published
def test_a_rerun_with_nothing_new_reuses_the_store_and_figures(publish, small_data, monkeypatch):
    """Nothing new in raw/: the accepted tables are not rebuilt and the figures not computed
    again (both are kept under processed/cache/); anything new computes afresh."""
    import briefings.cache as cache
    from briefings.services import ingesting, publishing

    # Where each computation is called from: ingest's acceptance, the period's figures.
    users = {"accept_returns": ingesting, "compute_period_figures": publishing}

    first = publish()
    figures_json = first.figures_json.read_bytes()

    def not_again(*args, **kwargs):
        raise AssertionError("recomputed although nothing changed")

    with monkeypatch.context() as patched:
        patched.setattr(ingesting, "accept_returns", not_again)
        patched.setattr(publishing, "compute_period_figures", not_again)
        again = publish()
    assert again.rendered == []
    assert [e.status for e in again.ledger] == [e.status for e in first.ledger]
    assert again.figures_json.read_bytes() == figures_json

    # A damaged cache is only a cache: it is ignored and written again.
    garbled = [p for p in (small_data / "processed" / "cache").rglob("*") if p.is_file()]
    assert garbled
    for saved in garbled:
        saved.write_bytes(b"garbled")
    assert publish().figures_json.read_bytes() == figures_json

    # Another version of the code (or of a suite, or the reference data) computes afresh.
    calls = []
    for name, module in users.items():
        real = getattr(module, name)
        counted = lambda *a, _real=real, **k: calls.append(1) or _real(*a, **k)  # noqa: E731
        monkeypatch.setattr(module, name, counted)
    with monkeypatch.context() as patched:
        patched.setattr(cache, "code_fingerprint", lambda: "another version")
        assert publish().figures_json.read_bytes() == figures_json
    assert len(calls) == 2

    # A new return is read, validated and counted.
    add_return(small_data, "wiltshire-corrected.csv", wiltshire_return(31, 14))
    changed = publish()
    assert len(calls) == 4 and "wiltshire-corrected.csv" in {e.file for e in changed.ledger}
    assert changed.figures_json.read_bytes() != figures_json


@pytest.mark.parametrize(
    ("pending", "briefings", "said"),
    [
        (0, 54, "No briefing changed since the last publication: nothing to render"),
        (54, 54, "Rendering 54 briefings"),
        (1, 1, "Rendering 1 briefing"),
        (3, 54, "3 of 54 briefings changed since the last publication; rendering them"),
    ],
)
def test_the_run_says_how_many_briefings_render(pending, briefings, said):
    from briefings.services.publishing import what_renders

    assert what_renders(pending, briefings) == said
