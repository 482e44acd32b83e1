"""QA in a real browser: request a federated run, sign it, watch rounds arrive, promote the model.

The live hub's run executor runs in its own thread as in production; the Flower engine is
replaced by a scripted one (per-site events through the same progress path) so the journey
does not depend on Ray starting in time.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from hub.audit.models import ESignature
from hub.federation import flows
from hub.registry.models import ModelStatus, ModelVersion
from tests.browser.conftest import LiveHub, log_in, shot
from tests.factories import make_org, make_user
from tests.federation.test_api_support import ScriptedEngine, make_site, rounds_script

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
CONTRAST_AUDIT = (Path(__file__).parent / "contrast_audit.js").read_text()
GOOD = {"rmse": 0.55, "r2": 0.9, "mae": 0.4}


def test_qa_requests_signs_follows_and_promotes(page: Any, live_hub: LiveHub,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    script = rounds_script(GOOD)

    def slow_script(spec: Any, sites: list[str]) -> list[dict[str, Any]]:
        gate.wait(30)  # the page is open before the rounds arrive
        return script(spec, sites)

    monkeypatch.setattr(flows, "SimulationEngine", lambda work, timeout_s=None: ScriptedEngine(
        work, slow_script, "molecular-property"))
    with live_hub.db.session() as s:
        org = make_org(s, name="Journey Labs")
        for i in range(3):
            make_site(s, org, f"journey-lab-{i}", ["molecular-property"])
        qa = make_user(s, live_hub.settings, make_org(s, "operator", name="Journey QA"), "qa",
                       "hub_admin", username="quinn.qa", full_name="Quinn Qa")

    log_in(page, qa.username)
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Federated runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Federated runs")
    page.get_by_label("Task").select_option("molecular-property")
    page.get_by_label("Rounds").fill("3")
    page.get_by_label("Minimum sites").fill("2")
    page.get_by_role("button", name="Request run").click()
    expect(page.get_by_role("status").first).to_contain_text("starts once QA signs it")
    page.evaluate(CONTRAST_AUDIT)

    page.get_by_role("button", name="Approve run…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Your password").fill(live_hub.password)
    dialog.get_by_label("Comment (optional)").fill("protocol reviewed")
    dialog.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("status").first).to_contain_text("Run approved and queued")
    gate.set()
    progress = page.locator("#progress")
    expect(progress).to_contain_text("Final evaluation", timeout=30_000)  # live refresh
    expect(progress.locator("svg")).to_have_count(2)
    for i in range(3):
        expect(progress).to_contain_text(f"journey-lab-{i}")
    shot(page, "qa-01-run-progress")
    found = page.evaluate(CONTRAST_AUDIT)
    assert found == [], found

    progress.get_by_role("link", name="view in the registry").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("molecular-property v")
    page.get_by_role("button", name="Promote to production…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Your password").fill(live_hub.password)
    dialog.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("status").first).to_contain_text("is in production")
    shot(page, "qa-02-model-promoted")
    model_id = re.search(r"/web/registry/models/([0-9a-f-]+)", page.url)
    assert model_id
    with live_hub.db.session() as s:
        m = s.get(ModelVersion, model_id.group(1))
        assert m is not None and m.status == ModelStatus.production
        sigs = s.exec(select(ESignature).where(ESignature.signer_username == "quinn.qa")).all()
        assert sorted(x.entity_type for x in sigs) == ["federated_run", "model_version"]
