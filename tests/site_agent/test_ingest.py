"""Ingest: JSON Lines, JSON arrays and CSV; invalid records named by line and not stored."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from site_agent.ingest import ingest
from site_agent.store import LocalStore
from tests.site_agent.readings import series

SCHEMA = "sensor-reading/1.0.0"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(tmp_path / "site.db")
    yield s
    s.close()


def test_jsonl_with_bad_lines_reports_line_numbers(store: LocalStore, tmp_path: Path) -> None:
    rows = series("basel", 4)
    rows[2]["measurements"]["vibration"]["value"] = -1
    lines = [json.dumps(rows[0]), "", json.dumps(rows[1]), "{not json", json.dumps(rows[2]),
             json.dumps(rows[3])]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = ingest(store, path, SCHEMA)
    assert (report.read, report.valid, report.stored) == (5, 3, 3)
    where = {(p.line, p.pointer) for p in report.problems}
    assert (4, "") in where  # the unparsable line
    assert (5, "/measurements/vibration/value") in where
    stored = store.records_after("sensor-reading", 0, 100)
    assert [r[2]["reading_id"] for r in stored] == [rows[0]["reading_id"], rows[1]["reading_id"],
                                                   rows[3]["reading_id"]]


def test_json_array_lines_point_at_each_record(store: LocalStore, tmp_path: Path) -> None:
    rows = series("basel", 3)
    del rows[1]["site_id"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rows, indent=2))
    report = ingest(store, path, SCHEMA)
    assert report.valid == 2 and len(report.problems) == 1
    text = path.read_text().splitlines()
    line = report.problems[0].line
    assert text[line - 1].strip() == "{" and report.problems[0].pointer == "/site_id"
    # ingesting again stores nothing new
    again = ingest(store, path, SCHEMA)
    assert again.stored == 0 and again.duplicates == 2


def test_csv_with_dotted_columns(store: LocalStore, tmp_path: Path) -> None:
    rows = series("basel", 3)
    path = tmp_path / "r.csv"
    cols = ["reading_id", "site_id", "equipment.enterprise", "equipment.site",
            "equipment.area", "equipment.unit", "equipment.equipment", "timestamp",
            "measurements.vibration.value", "measurements.vibration.unit"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i, r in enumerate(rows):
            vib = r["measurements"]["vibration"]
            w.writerow([r["reading_id"], r["site_id"], *r["equipment"].values(), r["timestamp"],
                        "abc" if i == 1 else vib["value"], vib["unit"]])
    report = ingest(store, path, SCHEMA)
    assert report.valid == 2
    assert [(p.line, p.pointer) for p in report.problems] == [
        (3, "/measurements/vibration/value")]
    payload = store.records_after("sensor-reading", 0, 10)[0][2]
    assert payload["measurements"]["vibration"]["value"] == rows[0]["measurements"][
        "vibration"]["value"]


def test_directory_ingest_and_unknown_schema(store: LocalStore, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for i in range(2):
        (tmp_path / "d" / f"{i}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in series("basel", 5, seed=i)))
    (tmp_path / "d" / "notes.txt").write_text("ignored")
    report = ingest(store, tmp_path / "d", SCHEMA)
    assert report.files == 2 and report.stored == 10
    with pytest.raises(LookupError):
        ingest(store, tmp_path / "d", "no-such/1.0.0")
