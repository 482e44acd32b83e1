"""Portal pages for runs and the registry: request, signed approval, live progress, promotion."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import PASSWORD
from tests.federation.test_api_runs import world as world  # the shared fixture
from tests.web.pages import csrf_from, logged_in


def test_qa_requests_approves_follows_and_promotes_in_the_portal(
        client: TestClient, world: dict[str, Any]) -> None:
    w = world
    logged_in(client, w["qa"].username)
    page = client.get("/web/federation/runs")
    assert page.status_code == 200 and "Request a run" in page.text
    bad = client.post("/web/federation/runs", data={
        "csrf_token": csrf_from(page.text), "task": "molecular-property", "rounds": "2",
        "min_sites": "9"})
    assert bad.status_code == 422 and "only 3 active site(s) offer the task" in bad.text
    made = client.post("/web/federation/runs", data={
        "csrf_token": csrf_from(page.text), "task": "molecular-property", "rounds": "2",
        "min_sites": "2", "strategy": "fedavg"}, follow_redirects=False)
    assert made.status_code == 303
    run_url = made.headers["location"]
    detail = client.get(run_url)
    assert "Approve run" in detail.text and "Waiting" not in detail.text
    assert 'data-refresh-url="' + run_url + '/progress"' in detail.text

    wrong = client.post(run_url + "/approve", data={
        "csrf_token": csrf_from(detail.text), "password": "nope", "meaning": "approved"})
    assert wrong.status_code == 403 and "Password check failed" in wrong.text
    ok = client.post(run_url + "/approve", data={
        "csrf_token": csrf_from(detail.text), "password": PASSWORD, "meaning": "approved",
        "comment": "reviewed"}, follow_redirects=False)
    assert ok.status_code == 303
    w["app"].state.federation_executor.run_pending()

    frag = client.get(run_url + "/progress")
    assert frag.headers.get("x-refresh-stop")  # finished: the page stops polling
    assert frag.text.count("<svg") == 2  # training loss and evaluation per site
    for name in ("lab-0", "lab-1", "lab-2"):
        assert name in frag.text
    assert "Final evaluation" in frag.text and "view in the registry" in frag.text

    model_url = frag.text.split('href="/web/registry/models/')[1].split('"')[0]
    model_page = client.get(f"/web/registry/models/{model_url}")
    assert "Promote to production" in model_page.text and "<svg" in model_page.text
    promoted = client.post(f"/web/registry/models/{model_url}/promote", data={
        "csrf_token": csrf_from(model_page.text), "password": PASSWORD,
        "meaning": "approved"}, follow_redirects=False)
    assert promoted.status_code == 303
    listing = client.get("/web/registry")
    assert "production" in listing.text and "v1" in listing.text
