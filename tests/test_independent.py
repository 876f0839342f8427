"""Figures for returns the project has never seen, against an independent calculation.

Each run draws a new folder of returns (the seed is printed on failure), runs the whole flow,
and recomputes every national and force figure here with plain Python. Only one force's
briefing is rendered: figures.json holds every figure of the period whichever are rendered.
"""

import csv
import json
import os
import random

from briefings.reference import force_register
from flows.pipeline import RunRequest, publish_briefings

CODES = ["19D", "21", "22B", "71", "88A"]


def toward_zero(numerator: int, denominator: int) -> float:
    """numerator / denominator cut toward zero at one decimal, in whole numbers of tenths."""
    tenths = abs(10 * numerator) // denominator
    return (-tenths if numerator < 0 else tenths) / 10


def exact(multiplier: int, numerator: int, denominator: int) -> dict:
    return {"multiplier": multiplier, "numerator": numerator, "denominator": denominator}


def test_a_random_round_of_returns_matches_an_independent_calculation(prefect_api_url, tmp_path):
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    forces = rng.sample(force_register().forces, 30)
    counts: dict[tuple[str, str], int] = {}
    rows = []
    for force in forces:
        for year in ("2018/19", "2019/20"):
            if year == "2018/19" and rng.random() < 0.2:
                continue  # some forces give only the latest year
            for code in rng.sample(CODES, rng.randint(1, len(CODES))):
                n = rng.choice([0, 1, 2, 3, 4, rng.randint(5, 400)])
                rows.append([force.name, year, code, n])
                counts[(force.code, year)] = counts.get((force.code, year), 0) + n
    (tmp_path / "raw").mkdir()
    with (tmp_path / "raw" / "unseen.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["force", "financial_year", "offence_code", "online_flagged"])
        writer.writerows(rows)
    rendered = max(forces, key=lambda f: counts[(f.code, "2019/20")])  # its count is printed
    summary = publish_briefings(
        RunRequest(data_dir=tmp_path, out_dir=tmp_path / "out", forces=[rendered.code])
    )
    figures = json.loads(summary.figures_json.read_text())

    def small(n):
        return 0 < n < 5

    current = {code: n for (code, year), n in counts.items() if year == "2019/20"}
    previous = {code: n for (code, year), n in counts.items() if year == "2018/19"}
    printed = {c for c, n in current.items() if not small(n)}
    both = {c for c in printed if c in previous and not small(previous[c])}
    national = figures["national"]
    context = f"seed {seed}"
    assert national["forces_responding"] == len(current), context
    assert national["forces_withheld"] == len(current) - len(printed), context
    assert national["online_flagged"] == sum(current[c] for c in printed), context
    assert national["like_for_like_forces"] == len(both), context
    lfl_now = sum(current[c] for c in both)
    lfl_before = sum(previous[c] for c in both)
    assert national["like_for_like_current"] == (lfl_now if both else None), context
    assert national["per_day"] == toward_zero(national["online_flagged"], 366), context
    assert national["exact"]["per_day"] == exact(1, national["online_flagged"], 366), context
    if both and lfl_before:
        assert national["change_pct"] == toward_zero(100 * (lfl_now - lfl_before), lfl_before), (
            context
        )
        assert national["exact"]["change_pct"] == exact(100, lfl_now - lfl_before, lfl_before), (
            context
        )
    for force in figures["forces"]:
        n, before = current[force["code"]], previous.get(force["code"])
        assert force["online_flagged"] == (None if small(n) else n), context
        assert force["previous_online_flagged"] == (
            None if before is None or small(before) else before
        ), context
        if small(n) or before is None or small(before) or before == 0:
            assert force["change_pct"] is None and force["ratio"] is None, context
        else:
            assert force["change_pct"] == toward_zero(100 * (n - before), before), context
            assert force["ratio"] == toward_zero(n, before), context
            assert force["exact"]["change_pct"] == exact(100, n - before, before), context
            assert force["exact"]["ratio"] == exact(1, n, before), context
