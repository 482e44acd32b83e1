"""Screening pages: submit by paste, watch progress, ranked results with depictions, downloads;
another organization gets 404, an unqualified researcher sees why the form is missing."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.screening.test_api_screens import hub, wait
from tests.web.pages import logged_in, page_token

__all__ = ["hub"]


def browser(hub: dict[str, Any], who: str) -> TestClient:
    return logged_in(TestClient(hub["app"], raise_server_exceptions=False), hub["users"][who])


def test_submit_watch_browse_download(hub: dict[str, Any]) -> None:
    web = browser(hub, "lab")
    listing = web.get("/web/screens")
    assert listing.status_code == 200 and 'enctype="multipart/form-data"' in listing.text
    token = page_token(web, "/web/screens")
    paste = ("Cn1cnc2c1c(=O)n(C)c(=O)n2C caffeine\nO=C1NC(=S)SC1=Cc1ccccc1 rhodanine\n"
             "C1CC(C broken\n")
    resp = web.post("/web/screens", data={"csrf_token": token, "name": "pasted",
                                          "smiles": paste, "top_n": "5",
                                          "similarity_threshold": "0.7"},
                    follow_redirects=False)
    assert resp.status_code == 303, resp.text
    sid = resp.headers["location"].rsplit("/", 1)[-1]
    wait(hub, sid)
    progress = web.get(f"/web/screens/{sid}/progress")
    assert progress.headers.get("x-refresh-stop") == "1" and "completed" in progress.text
    page = web.get(f"/web/screens/{sid}").text
    assert "Ranked candidates" in page and "rhodanine" in page and "ene_rhod" in page
    imgs = re.findall(r'<img src="(/web/screens/[^"]+\.svg)"', page)
    assert len(imgs) == 2
    svg = web.get(imgs[0])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "row" in page.lower() and "broken" in page  # the record that was not screened
    results = web.get(f"/web/screens/{sid}/results?has_alerts=true")
    assert "rhodanine" in results.text and "caffeine" not in results.text
    csv = web.get(f"/web/screens/{sid}/export.csv")
    assert csv.status_code == 200 and csv.text.count("\n") == 3
    rival = browser(hub, "rival")
    assert rival.get(f"/web/screens/{sid}").status_code == 404
    assert rival.get(imgs[0]).status_code == 404


def test_form_errors_and_gate_on_pages(hub: dict[str, Any]) -> None:
    web = browser(hub, "lab")
    token = page_token(web, "/web/screens")
    bad = web.post("/web/screens", data={"csrf_token": token, "smiles": "CCO", "top_n": "0",
                                         "similarity_threshold": "0.7"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    empty = web.post("/web/screens", data={"csrf_token": token, "smiles": "",
                                           "top_n": "5", "similarity_threshold": "0.7"})
    assert empty.status_code == 422 and "paste smiles" in empty.text.lower()
    novice = browser(hub, "unqualified")
    page = novice.get("/web/screens").text
    assert "molecular-screening-model-application" in page
    assert 'name="smiles"' not in page
