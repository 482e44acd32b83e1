"""The README's main command: ``fedhub demo`` on a fresh embedded SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end_twice(tmp_path: Path) -> None:
    env = {**os.environ, "FEDHUB_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1",
           "COLUMNS": "200"}
    env.pop("FEDHUB_DATABASE_URL", None)
    fedhub = Path(sys.executable).with_name("fedhub")
    first = subprocess.run([str(fedhub), "demo"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=1200)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "audit chain: ok=True" in first.stdout
    assert "user hubadmin  password Demo-" in first.stdout
    assert (tmp_path / "data" / "fedhub.db").exists()
    # a second run reuses the data dir and still logs in
    second = subprocess.run([str(fedhub), "demo"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=1200)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "logged in over HTTP as hubadmin" in second.stdout
