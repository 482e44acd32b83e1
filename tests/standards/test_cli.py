"""`standards` CLI through typer's CliRunner: exit codes and report text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from standards import registry
from standards.cli import app
from tests.standards.helpers import EPCIS_FIXTURES

runner = CliRunner()


def _readings() -> list[dict[str, Any]]:
    return registry.get("sensor-reading", "1.0.0").examples()


def _bad_reading() -> dict[str, Any]:
    bad = _readings()[0]
    bad["measurements"]["temperature"]["unit"] = "degC"
    del bad["timestamp"]
    return bad


def test_list_shows_every_standard_and_deprecation() -> None:
    result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for info in registry.catalog():
        assert info.id in result.output
    assert "deprecated → batch-record/1.0.0" in result.output


def test_show_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["show", "batch-record/1.0.0"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == registry.get("batch-record", "1.0.0").json_schema()
    assert schema["properties"]["formulation"]["x-classification"] == "recipe"


@pytest.mark.parametrize("bad", ["sensor-reading/9.9.9", "no-such/1.0.0", "sensor-reading"])
def test_unknown_or_malformed_schema_exits_2(bad: str, tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text(json.dumps(_readings()[0]))
    assert runner.invoke(app, ["show", bad]).exit_code == 2
    result = runner.invoke(app, ["validate", str(f), "--schema", bad])
    assert result.exit_code == 2
    assert "sensor-reading/1.0.0" in result.stderr  # lists the known standards


def test_valid_object_exits_0(tmp_path: Path) -> None:
    f = tmp_path / "one.json"
    f.write_text(json.dumps(_readings()[0]))
    result = runner.invoke(app, ["validate", str(f), "--schema", "sensor-reading/1.0.0"])
    assert result.exit_code == 0, result.output
    assert "1 valid, 0 invalid" in result.stdout


def test_array_reports_index_and_pointers(tmp_path: Path) -> None:
    f = tmp_path / "many.json"
    f.write_text(json.dumps([_readings()[0], _bad_reading(), _readings()[1]]))
    result = runner.invoke(app, ["validate", str(f), "-s", "sensor-reading/1.0.0"])
    assert result.exit_code == 1
    out = result.stdout
    assert "[1]: 2 error(s)" in out
    assert "/measurements/temperature/unit" in out and "/timestamp" in out
    assert "[0]" not in out and "[2]" not in out
    assert "2 valid, 1 invalid of 3 record(s)" in out


def test_json_lines_report_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "stream.jsonl"
    lines = [json.dumps(_readings()[0]), "", json.dumps(_bad_reading()), "{not json"]
    f.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(f), "-s", "sensor-reading/1.0.0", "-v"])
    assert result.exit_code == 1
    assert "✓ line 1" in result.stdout
    assert "line 3: 2 error(s)" in result.stdout
    assert "line 4: 1 error(s)" in result.stdout and "invalid JSON" in result.stdout
    assert "1 valid, 2 invalid of 3 record(s)" in result.stdout


def test_json_output_is_machine_readable(tmp_path: Path) -> None:
    f = tmp_path / "stream.jsonl"
    f.write_text(json.dumps(_bad_reading()) + "\n" + json.dumps(_readings()[1]) + "\n")
    result = runner.invoke(app, ["validate", str(f), "-s", "sensor-reading/1.0.0", "--json"])
    assert result.exit_code == 1
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["record"] for r in reports] == ["line 1", "line 2"]
    assert [r["ok"] for r in reports] == [False, True]
    assert {e["pointer"] for e in reports[0]["errors"]} == {
        "/measurements/temperature/unit",
        "/timestamp",
    }


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00garbage", b"not json at all\nnor this"])
def test_unreadable_file_exits_2(content: bytes, tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_bytes(content)
    result = runner.invoke(app, ["validate", str(f), "-s", "sensor-reading/1.0.0"])
    assert result.exit_code == 2
    assert "error:" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["validate", str(tmp_path / "nope.json"), "-s", "sensor-reading/1.0.0"]
    )
    assert result.exit_code == 2


def test_epcis_documents_validate_through_the_cli() -> None:
    ok = EPCIS_FIXTURES / "WithSensorData__SensorDataExample1.jsonld"
    bad = EPCIS_FIXTURES / "Example-TransactionEvents-2020_07_03y.jsonld"
    assert runner.invoke(app, ["validate", str(ok), "-s", "epcis-document/2.0.0"]).exit_code == 0
    result = runner.invoke(app, ["validate", str(bad), "-s", "epcis-document/2.0.0"])
    assert result.exit_code == 1
    assert "/epcisBody/eventList/1/sourceList" in result.stdout


def test_deprecated_schema_warns_but_validates(tmp_path: Path) -> None:
    f = tmp_path / "old.json"
    f.write_text(json.dumps(registry.get("batch-record", "0.9.0").examples()))
    result = runner.invoke(app, ["validate", str(f), "-s", "batch-record/0.9.0"])
    assert result.exit_code == 0
    assert "deprecated" in result.stderr and "batch-record/1.0.0" in result.stderr
