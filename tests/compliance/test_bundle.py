"""Evidence bundles: tampering is caught and named, the audit excerpt verifies on its own,
``fedhub compliance verify`` and ``pull`` work end to end."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from hub.compliance import cli
from hub.compliance.excerpt import verify_excerpt
from hub.compliance.periods import Frequency, period_containing
from hub.compliance.verify import verify_bundle
from hub.keys import KeyStore
from tests.compliance.conftest import World, submitted

runner = CliRunner()


def _rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    change(files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


@pytest.fixture
def pulled(client: TestClient, world: World) -> tuple[bytes, dict[str, Any]]:
    report = submitted(client, world.helix)
    resp = client.get(f"/compliance/submissions/{report['id']}/bundle", headers=world.regulator)
    assert resp.status_code == 200, resp.text
    return resp.content, client.get("/.well-known/jwks.json").json()


def _edit_json(name: str, edit: Callable[[Any], None]) -> Callable[[dict[str, bytes]], None]:
    def change(files: dict[str, bytes]) -> None:
        value = json.loads(files[name])
        edit(value)
        files[name] = json.dumps(value).encode()
    return change


def _set_status(report: dict[str, Any]) -> None:
    report["submission"]["status"] = "draft"


@pytest.mark.parametrize(("change", "name", "status"), [
    (_edit_json("report.json", _set_status), "report.json", "altered"),
    (lambda f: f.update({"report.pdf": f["report.pdf"] + b"%"}), "report.pdf", "altered"),
    (lambda f: f.pop("training-records.json"), "training-records.json", "missing"),
    (lambda f: f.update({"notes.txt": b"added later"}), "notes.txt", "extra"),
    (_edit_json("manifest.json", lambda m: m["files"].pop()), "manifest.json", "altered"),
])
def test_a_modified_bundle_fails_naming_the_file(
        pulled: tuple[bytes, dict[str, Any]], change: Callable[[dict[str, bytes]], None],
        name: str, status: str) -> None:
    data, jwks = pulled
    assert verify_bundle(data, jwks).ok
    result = verify_bundle(_rezip(data, change), jwks)
    assert not result.ok
    assert [(f.name, f.status) for f in result.bad_files()] == [(name, status)]
    assert any(p.startswith(f"{name}: {status}") for p in result.problems)


def test_a_manifest_signed_by_another_key_is_refused(
        pulled: tuple[bytes, dict[str, Any]]) -> None:
    data, jwks = pulled
    forger = KeyStore.ephemeral()

    def resign(files: dict[str, bytes]) -> None:
        manifest = json.loads(files["manifest.json"])
        manifest["status"] = "approved-by-someone-else"
        files["manifest.json"] = json.dumps(manifest).encode()
        files["manifest.jws"] = forger.sign_jws(files["manifest.json"]).encode()
        files["jwks.json"] = json.dumps(forger.jwks()).encode()

    forged = _rezip(data, resign)
    result = verify_bundle(forged, jwks)  # against the hub's published keys
    assert not result.ok and result.signature.startswith("invalid")
    assert ("manifest.jws", "altered") in [(f.name, f.status) for f in result.files]
    # the bundle's own JWKS proves integrity only, and says so
    selfish = verify_bundle(forged)
    assert selfish.key_source == "bundle"


def test_cli_verify_exit_codes(pulled: tuple[bytes, dict[str, Any]], tmp_path: Path) -> None:
    data, jwks = pulled
    good, bad, keys = tmp_path / "good.zip", tmp_path / "bad.zip", tmp_path / "jwks.json"
    good.write_bytes(data)
    bad.write_bytes(_rezip(data, lambda f: f.update({"audit-excerpt.json": b"{}"})))
    keys.write_text(json.dumps(jwks))
    ok = runner.invoke(cli.app, ["verify", str(good), "--jwks", str(keys)])
    assert ok.exit_code == 0, ok.output
    assert "VALID" in ok.output and "NOT VALID" not in ok.output
    failed = runner.invoke(cli.app, ["verify", str(bad), "--jwks", str(keys), "--json"])
    assert failed.exit_code == 1
    out = json.loads(failed.stdout)
    assert [f["name"] for f in out["files"] if f["status"] != "ok"] == ["audit-excerpt.json"]
    missing = runner.invoke(cli.app, ["verify", str(tmp_path / "nope.zip")])
    assert missing.exit_code == 2


def test_excerpt_verifies_on_its_own_and_hides_other_members(
        client: TestClient, session: Session, world: World) -> None:
    """A report for the current period: the excerpt holds today's entries; the other member's
    entries are reduced to links, and editing any full entry breaks verification."""
    current = period_containing(date.today(), Frequency.quarterly).label
    submitted(client, world.other, current)  # activity of another member in the period
    report = submitted(client, world.helix, current)
    resp = client.get(f"/compliance/submissions/{report['id']}/bundle", headers=world.regulator)
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        excerpt = json.loads(zf.read("audit-excerpt.json"))
    entries = excerpt["entries"]
    assert excerpt["full_entries"] > 0 and any(e.get("redacted") for e in entries)
    assert [e["seq"] for e in entries] == list(range(excerpt["first_seq"],
                                                    excerpt["last_seq"] + 1))
    assert verify_excerpt(excerpt) == []
    text = json.dumps([e for e in entries if e.get("redacted")])
    assert "Nordic" not in text and world.other.org.id not in text
    full = [e for e in entries if not e.get("redacted")]
    ours = {world.helix.org.id, world.helix.site.id, world.helix.admin_id, world.helix.qa_id,
            report["id"]}
    assert all(e["actor_org_id"] == world.helix.org.id or e["entity_id"] in ours for e in full)
    tampered = json.loads(json.dumps(excerpt))
    victim = next(e for e in tampered["entries"] if not e.get("redacted"))
    victim["reason"] = "edited afterwards"
    assert verify_excerpt(tampered) == [f"entry {victim['seq']}: content does not match "
                                        "its hash"]
    dropped = json.loads(json.dumps(excerpt))
    gone = dropped["entries"].pop(1)["seq"]
    assert f"sequence gap: entry {gone} is missing (found {gone + 1})" in verify_excerpt(dropped)


def test_cli_pull_downloads_and_verifies_over_http(
        client: TestClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = submitted(client, world.helix)
    submitted(client, world.other)  # another jurisdiction: not pulled
    monkeypatch.setattr(cli, "http_client", lambda hub, headers: _Borrowed(client))
    monkeypatch.setenv("FEDHUB_PASSWORD", "Correct-Horse-42!")
    out = tmp_path / "pulled"
    result = runner.invoke(cli.app, ["pull", "--since", "2026-01-01", "--period", "2026-Q1",
                                     "--status", "approved", "--out", str(out),
                                     "--user", "rita.regulator"])
    assert result.exit_code == 0, result.output
    index = json.loads((out / "index.json").read_text())
    assert [(r["id"], r["verified"]) for r in index] == [(report["id"], True)]
    [bundle] = [p for p in out.iterdir() if p.suffix == ".zip"]
    check = runner.invoke(cli.app, ["verify", str(bundle), "--jwks", str(out / "jwks.json")])
    assert check.exit_code == 0, check.output
    # wrong credentials: a clear refusal, non-zero exit
    monkeypatch.setenv("FEDHUB_PASSWORD", "wrong")
    refused = runner.invoke(cli.app, ["pull", "--since", "2026-01-01", "--out", str(out),
                                      "--user", "rita.regulator"])
    assert refused.exit_code == 1


class _Borrowed:
    """The test client, without closing it when ``pull`` leaves its ``with`` block."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.headers = client.headers
        client.headers.pop("Authorization", None)

    def __enter__(self) -> TestClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.headers.pop("Authorization", None)
