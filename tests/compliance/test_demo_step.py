"""The compliance demo step, run twice against the app (the second run reuses the report)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console

from hub.compliance import demo
from hub.config import Settings
from hub.demo import DemoContext
from tests.conftest import RollbackDatabase


def test_demo_step_submits_and_the_regulator_verifies(client: TestClient, db: RollbackDatabase,
                                                      settings: Settings) -> None:
    console = Console(record=True, width=200)
    ctx = DemoContext(settings, db, "http://testserver", client, {}, console)
    demo.run(ctx)
    summary = ctx.summary["compliance"]
    assert isinstance(summary, dict) and summary["verified"] is True
    bundle = Path(summary["bundle"])
    with zipfile.ZipFile(bundle) as zf:
        assert "manifest.jws" in zf.namelist()
    text = console.export_text()
    assert "pre-filled from the hub's records" in text
    assert "co-signed by quinn.qa (approved)" in text
    assert "offline verification ok=True" in text
    demo.run(ctx)  # again: the approved report is found, pulled and verified once more
    again = console.export_text()
    assert "(version 1, approved)" in again
    assert ctx.summary["compliance"]["report"] == summary["report"]  # type: ignore[index]
