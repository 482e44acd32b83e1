"""Organization isolation across every domain, derived from the OpenAPI schema.

Two pharma organizations, A and B, each get people of every role, an enrolled site, a screen, a
requested federated run, a signed compliance draft, a course with an attachment, a trainee's
enrollment, attempt, certificate and notice, traceability events with a cold-chain alert, and
a monitoring alert and work order (``tests.security.domains``). Then B's people and B's site key:

- read every operation addressing one of A's objects: 404 (403 where the role is refused
  anyway), a problem document naming nothing of A; A's owner reads the same URL with 200;
- write every such operation with a valid body: 404/403, and everything A reads is unchanged;
- list every collection, also filtered by A's ids: nothing of A appears, B's own object does.

Every operation with a path parameter is either an A-object operation here (``OWNED``) or
listed in ``SHARED`` with the reason it is not organization data; a new one fails until it is
classified. The per-domain tests keep their own detailed scoping checks (screens in
tests/screening, runs in tests/federation, alerts in tests/traceability, courses and
certificates in tests/training_portal, users in tests/hub); this one is the cross-domain sweep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.config import Settings
from hub.db import Database
from hub.migrations import upgrade
from tests.factories import PASSWORD, login, make_org, make_user
from tests.security import world
from tests.security.domains import Member, populate
from tests.sites.helpers import new_keys

pytestmark = pytest.mark.slow

OUTSIDERS = ("site_admin", "qa", "researcher", "instructor", "trainee", "machine")
REASON = {"reason": "isolation check"}
SIGN = {"password": PASSWORD, "comment": "isolation check"}

# (METHOD, path) -> (A's role that owns/reads it, body for writes)
OWNED: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/users/{user_id}"): ("site_admin", None),
    ("PATCH", "/users/{user_id}"): ("site_admin", {"full_name": "Taken Over", **REASON}),
    ("POST", "/api-keys/{key_id}/revoke"): ("site_admin", REASON),
    ("GET", "/signatures/{sig_id}/verify"): ("site_admin", None),
    ("GET", "/sites/{site_id}"): ("site_admin", None),
    ("PATCH", "/sites/{site_id}"): ("site_admin", REASON),
    ("POST", "/sites/{site_id}/approve"): ("site_admin", SIGN),
    ("POST", "/sites/{site_id}/reject"): ("site_admin", SIGN),
    ("POST", "/sites/{site_id}/suspend"): ("site_admin", REASON),
    ("POST", "/sites/{site_id}/resume"): ("site_admin", REASON),
    ("POST", "/sites/{site_id}/revoke"): ("site_admin", REASON),
    ("GET", "/sites/{site_id}/keys"): ("site_admin", None),
    ("POST", "/sites/{site_id}/keys"): ("site_admin", "public_key"),
    ("POST", "/sites/{site_id}/keys/{key_id}/revoke"): ("site_admin", REASON),
    ("POST", "/sites/{site_id}/api-key/rotate"): ("site_admin", REASON),
    ("GET", "/monitoring/alerts/{alert_id}"): ("site_admin", None),
    ("POST", "/monitoring/alerts/{alert_id}/acknowledge"): ("site_admin", REASON),
    ("POST", "/monitoring/alerts/{alert_id}/resolve"): ("site_admin", REASON),
    ("GET", "/monitoring/work-orders/{wo_id}"): ("site_admin", None),
    ("POST", "/monitoring/work-orders/{wo_id}/acknowledge"): ("site_admin", REASON),
    ("POST", "/monitoring/work-orders/{wo_id}/resolve"): ("site_admin", REASON),
    ("GET", "/traceability/events/{event_pk}"): ("site_admin", None),
    ("GET", "/traceability/lots/{lot}/custody"): ("site_admin", None),
    ("GET", "/traceability/lots/{lot}/excursions"): ("site_admin", None),
    ("GET", "/traceability/lots/{lot}/inventory"): ("site_admin", None),
    ("GET", "/traceability/products/{gtin}"): ("site_admin", None),
    ("GET", "/traceability/alerts/{alert_id}"): ("site_admin", None),
    ("POST", "/traceability/alerts/{alert_id}/acknowledge"): (
        "site_admin", {"comment": "isolation check"}),
    ("GET", "/federation/runs/{run_id}"): ("researcher", None),
    ("GET", "/federation/runs/{run_id}/progress"): ("researcher", None),
    ("POST", "/federation/runs/{run_id}/approve"): ("researcher", SIGN),
    ("POST", "/federation/runs/{run_id}/cancel"): ("researcher", REASON),
    ("GET", "/screens/{screen_id}"): ("researcher", None),
    ("POST", "/screens/{screen_id}/cancel"): ("researcher", {}),
    ("GET", "/screens/{screen_id}/results"): ("researcher", None),
    ("GET", "/screens/{screen_id}/ranking"): ("researcher", None),
    ("GET", "/screens/{screen_id}/errors"): ("researcher", None),
    ("GET", "/screens/{screen_id}/summary"): ("researcher", None),
    ("GET", "/screens/{screen_id}/molecules/{idx}"): ("researcher", None),
    ("GET", "/screens/{screen_id}/molecules/{idx}/depiction.svg"): ("researcher", None),
    ("GET", "/screens/{screen_id}/export.{kind}"): ("researcher", None),
    ("GET", "/compliance/submissions/{report_id}"): ("qa", None),
    ("DELETE", "/compliance/submissions/{report_id}"): ("qa", None),
    ("GET", "/compliance/submissions/{report_id}/bundle"): ("qa", None),
    ("PATCH", "/compliance/submissions/{report_id}/sections/{section}"): ("qa", REASON),
    ("POST", "/compliance/submissions/{report_id}/sign"): ("qa", SIGN),
    ("POST", "/compliance/submissions/{report_id}/cosign"): ("qa", SIGN),
    ("POST", "/compliance/submissions/{report_id}/corrections"): ("qa", REASON),
    ("GET", "/compliance/schedules/{site_id}"): ("qa", None),
    ("PUT", "/compliance/schedules/{site_id}"): ("qa", REASON),
    ("GET", "/training/courses/{course_ref}"): ("trainee", None),
    ("PATCH", "/training/courses/{course_ref}"): ("instructor", {"title": "Taken over",
                                                                 **REASON}),
    ("POST", "/training/courses/{course_ref}/publish"): ("instructor", None),
    ("GET", "/training/courses/{course_ref}/versions"): ("instructor", None),
    ("GET", "/training/courses/{course_ref}/questions"): ("instructor", None),
    ("POST", "/training/modules/{module_id}/attachments"): ("instructor", "file"),
    ("GET", "/training/attachments/{attachment_id}"): ("trainee", None),
    ("GET", "/training/enrollments/{enrollment_id}"): ("trainee", None),
    ("GET", "/training/enrollments/{enrollment_id}/modules/{module_ref}"): ("trainee", None),
    ("POST", "/training/enrollments/{enrollment_id}/modules/{module_ref}/complete"): (
        "trainee", None),
    ("POST", "/training/enrollments/{enrollment_id}/attempts"): ("trainee", None),
    ("GET", "/training/attempts/{attempt_id}"): ("trainee", None),
    ("POST", "/training/attempts/{attempt_id}/submit"): ("trainee", {"answers": {}}),
    ("GET", "/training/certificates/{certificate_id}"): ("trainee", None),
    ("GET", "/training/certificates/{certificate_id}/credential"): ("trainee", None),
    ("GET", "/training/certificates/{certificate_id}/pdf"): ("trainee", None),
    ("POST", "/training/certificates/{certificate_id}/revoke"): ("qa", REASON),
    ("GET", "/training/qualifications/{qualification_id}"): ("trainee", None),
    ("POST", "/training/notifications/{notification_id}/read"): ("trainee", None),
}

# query strings some operations need to get past validation
QUERY = {("DELETE", "/compliance/submissions/{report_id}"): {"reason": "isolation check"}}

# B's roles that see A's objects by design: QA approves federated runs for the whole
# consortium and sees every run (docs/federation.md, "Visibility")
ACROSS: dict[str, set[str]] = {"/federation/runs": {"qa"}}

# operations with a path parameter that does not name organization data, and why
SHARED: dict[tuple[str, str], str] = {
    ("GET", "/organizations/{org_id}"): "the consortium's member directory",
    ("GET", "/standards/{name}/{version}"): "the published data standards",
    ("POST", "/standards/{name}/{version}/validate"): "the published data standards",
    ("GET", "/certificates/status/{list_id}"): "public revocation list",
    ("GET", "/certificates/{certificate_id}/verify"): "public verification of a certificate",
    ("POST", "/sites/{site_id}/credentials"): "a new site's key pick-up, proven by its key",
    ("GET", "/federation/runs/{run_id}/events"): "server-sent events (the same visibility as "
                                                 "/progress, checked there)",
    ("GET", "/registry/models/{model_id}"): "federated models belong to the consortium",
    ("GET", "/registry/models/{model_id}/artifact"): "federated models belong to the consortium",
    ("GET", "/registry/models/{model_id}/shadow-reports"): "consortium model; reports are "
                                                           "filtered per organization",
    ("GET", "/registry/tasks/{task}/production"): "federated models belong to the consortium",
    ("GET", "/registry/tasks/{task}/shadow"): "federated models belong to the consortium",
    ("POST", "/registry/models/{model_id}/shadow"): "consortium model lifecycle (QA)",
    ("POST", "/registry/models/{model_id}/promote"): "consortium model lifecycle (QA)",
    ("POST", "/registry/models/{model_id}/retire"): "consortium model lifecycle (QA)",
    ("POST", "/registry/tasks/{task}/rollback"): "consortium model lifecycle (QA)",
    ("PUT", "/traceability/partners/{partner_org_id}"): "B's own declaration; "
                                                        "test_partnership_is_one_way",
    ("DELETE", "/traceability/partners/{partner_org_id}"): "B's own declaration",
    ("PUT", "/traceability/products/{gtin}"): "B's own master data; "
                                              "test_product_master_data_is_per_organization",
    ("PUT", "/traceability/products/{gtin}/lots/{lot}"): "B's own master data",
}

# list operations: B's role that sees B's own object there, and which object
LISTS: dict[str, tuple[str, str]] = {
    "/users": ("site_admin", "user_id"),
    "/api-keys": ("site_admin", "api_key_id"),
    "/sites": ("site_admin", "site_id"),
    "/monitoring/alerts": ("site_admin", "alert_id"),
    "/monitoring/work-orders": ("site_admin", "wo_id"),
    "/traceability/events": ("site_admin", "event_pk"),
    "/traceability/alerts": ("site_admin", "trace_alert_id"),
    "/traceability/products": ("site_admin", "gtin"),
    "/traceability/inventory": ("site_admin", "lot"),
    "/traceability/excursions": ("site_admin", "lot"),
    "/federation/runs": ("researcher", "run_id"),
    "/screens": ("researcher", "screen_id"),
    "/compliance/submissions": ("qa", "report_id"),
    "/audit": ("qa", "report_id"),
    "/training/courses": ("trainee", "course_id"),
    "/training/enrollments": ("trainee", "enrollment_id"),
    "/training/certificates": ("trainee", "certificate_id"),
    "/training/notifications": ("trainee", "notification_id"),
    "/training/history": ("trainee", "certificate_id"),
    "/training/me/qualifications": ("trainee", "qualification_id"),
    "/training/records": ("qa", "trainee_user_id"),
}
# filters that name an object: query parameter -> the id it takes
FILTERS = {"site_id": "site_id", "organization_id": "org_id", "user_id": "trainee_user_id",
           "submission_id": "report_id", "entity_id": "report_id", "lot": "lot",
           "gtin": "gtin"}

_PARAM = re.compile(r"\{([^}]+)\}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real hub on its own SQLite file with organizations A and B populated."""
    tmp = tmp_path_factory.mktemp("isolation")
    url = f"sqlite:///{tmp / 'hub.db'}"
    upgrade(url)
    settings = Settings(environment="test", data_dir=tmp / "hub", secret_key="s" * 40,
                        database_url=url)
    db = Database(settings)
    app = create_app(settings, db=db)
    with TestClient(app, raise_server_exceptions=False) as client, db.session() as session:
        org_a = make_org(session, name="Helix Pharma A")
        org_b = make_org(session, name="Borealis Pharma B")
        operator = make_org(session, kind="operator", name="Consortium operator")
        admin = login(client, make_user(session, settings, operator, "hub_admin",
                                        username="iso-hub-admin").username)
        a = populate(client, session, settings, tmp, org_a, "alpha", operator, admin, "9520123")
        b = populate(client, session, settings, tmp, org_b, "bravo", operator, admin, "9520124")
        session.rollback()
        yield {"client": client, "app": app, "a": a, "b": b,
               "public_key": new_keys(tmp).public}
    db.engine.dispose()


def url(template: str, m: Member) -> str:
    """``template`` addressing ``m``'s objects."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "alert_id" and template.startswith("/traceability"):
            return m.ids["trace_alert_id"]
        if name == "key_id" and template.startswith("/api-keys"):
            return m.ids["api_key_id"]
        return {"idx": "0", "kind": "csv"}.get(name) or m.ids[name]
    return _PARAM.sub(fill, template)


def markers(a: Member) -> set[str]:
    """Strings that only A's data contains: its ids (not the org id) and names."""
    own = {v for k, v in a.ids.items() if k not in {"org_id", "section", "module_ref"}}
    return own | {a.name}


def leaked(resp: Any, a: Member) -> list[str]:
    """A's markers in a response, other than those the caller put in the URL itself."""
    asked = str(resp.request.url)
    return sorted(s for s in markers(a) if s in resp.text and s not in asked)


def outsiders(template: str) -> list[str]:
    """B's principals that must not reach A's object at ``template``."""
    across = next((roles for prefix, roles in ACROSS.items() if template.startswith(prefix)),
                  set())
    return [who for who in OUTSIDERS if who not in across]


def send(hub: dict[str, Any], method: str, template: str, headers: dict[str, str],
         body: Any) -> Any:
    client, path = hub["client"], url(template, hub["a"])
    params = QUERY.get((method, template))
    if body == "public_key":
        body = {"public_key": hub["public_key"], "reason": "isolation check"}
    if body == "file":
        return client.request(method, path, headers=headers,
                              files={"file": ("x.txt", b"intruder", "text/plain")})
    if body is None:
        return client.request(method, path, headers=headers, params=params)
    return client.request(method, path, headers=headers, json=body, params=params)


def _refused(resp: Any, a: Member) -> str | None:
    if resp.status_code not in (403, 404):
        return f"answered {resp.status_code}: {resp.text[:200]}"
    if not resp.headers.get("content-type", "").startswith("application/problem+json"):
        return "refusal is not a problem document"
    if found := leaked(resp, a):
        return f"refusal names A's {found}"
    return None


def test_every_addressed_operation_is_classified(hub: dict[str, Any]) -> None:
    addressed = {op for op in world.operations(hub["app"]) if "{" in op[1]}
    both = OWNED.keys() & SHARED.keys()
    assert not both, f"classified twice: {sorted(both)}"
    missing = sorted(addressed - OWNED.keys() - SHARED.keys())
    stale = sorted((OWNED.keys() | SHARED.keys()) - addressed)
    assert not missing, f"operations on objects not checked for isolation: {missing}"
    assert not stale, f"rows for operations that no longer exist: {stale}"


def _snapshot(hub: dict[str, Any]) -> dict[str, Any]:
    client, a = hub["client"], hub["a"]
    out = {}
    for (method, template), (role, _body) in OWNED.items():
        if method == "GET":
            resp = client.get(url(template, a), headers=a.headers[role])
            out[template] = (resp.status_code, resp.content)
    return out


def test_reads_of_a_objects_are_404_for_b(hub: dict[str, Any]) -> None:
    client, a, b = hub["client"], hub["a"], hub["b"]
    failures = []
    for (method, template), (role, _body) in OWNED.items():
        if method != "GET":
            continue
        path = url(template, a)
        own = client.get(path, headers=a.headers[role])
        if own.status_code != 200:
            failures.append(f"GET {template} as A's {role}: {own.status_code} (setup)")
        for who in outsiders(template):
            if problem := _refused(client.get(path, headers=b.headers[who]), a):
                failures.append(f"GET {template} as B's {who}: {problem}")
    assert not failures, "\n".join(failures)


def test_writes_to_a_objects_are_refused_and_change_nothing(hub: dict[str, Any]) -> None:
    a, b = hub["a"], hub["b"]
    before = _snapshot(hub)
    failures = []
    for (method, template), (_role, body) in OWNED.items():
        if method == "GET":
            continue
        for who in outsiders(template):
            resp = send(hub, method, template, b.headers[who], body)
            if problem := _refused(resp, a):
                failures.append(f"{method} {template} as B's {who}: {problem}")
    after = _snapshot(hub)
    again = _snapshot(hub)  # generated documents (PDF, bundle) differ on every call
    volatile = {t for t in after if after[t] != again[t]}
    changed = sorted(t for t in before if before[t][0] != after[t][0]
                     or (t not in volatile and before[t] != after[t]))
    assert not failures, "\n".join(failures)
    assert not changed, f"A's view changed after B's refused writes: {changed}"


def test_lists_never_show_a_objects(hub: dict[str, Any]) -> None:
    client, a, b = hub["client"], hub["a"], hub["b"]
    schema = hub["app"].openapi()
    failures = []
    for method, template in world.operations(hub["app"]):
        if method != "GET" or "{" in template or template in {"/organizations", "/openapi.json"}:
            continue
        declared = schema["paths"][template]["get"].get("parameters", [])
        params = [p["name"] for p in declared]
        queries: list[dict[str, str]] = [{}]
        queries += [{p: a.ids[FILTERS[p]]} for p in params if p in FILTERS]
        if "entity_id" in params:
            queries = [{"entity_type": "compliance_report", "entity_id": a.ids["report_id"]}]
        for query in queries:
            for who in outsiders(template):
                resp = client.get(template, headers=b.headers[who], params=query)
                if resp.status_code >= 400:
                    if problem := _refused(resp, a):
                        failures.append(f"GET {template} {query} as B's {who}: {problem}")
                elif found := leaked(resp, a):
                    failures.append(f"GET {template} {query} as B's {who} lists A's {found}")
    for template, (role, key) in LISTS.items():
        resp = client.get(template, headers=b.headers[role])
        if resp.status_code != 200 or b.ids[key] not in resp.text:
            failures.append(f"GET {template} as B's {role} does not show B's own {key}")
    assert not failures, "\n".join(failures)


def test_partnership_is_one_way(hub: dict[str, Any]) -> None:
    """B declaring A a partner shares B's events with A, never A's with B."""
    client, a, b = hub["client"], hub["a"], hub["b"]
    resp = client.put(f"/traceability/partners/{a.org_id}", headers=b.headers["site_admin"],
                      json={})
    assert resp.status_code == 200, resp.text
    try:
        lot = client.get(f"/traceability/lots/{a.ids['lot']}/custody",
                         headers=b.headers["site_admin"])
        assert _refused(lot, a) is None, lot.text
        events = client.get("/traceability/events", headers=b.headers["site_admin"])
        assert events.status_code == 200 and not leaked(events, a)
        shared = client.get(f"/traceability/lots/{b.ids['lot']}/custody",
                            headers=a.headers["site_admin"])
        assert shared.status_code == 200, shared.text  # A now reads what B shared
    finally:
        client.delete(f"/traceability/partners/{a.org_id}", headers=b.headers["site_admin"],
                      params={"reason": "isolation check done"})


def test_product_master_data_is_per_organization(hub: dict[str, Any]) -> None:
    """B recording A's GTIN makes B's own product; A's range and excursions stay."""
    client, a, b = hub["client"], hub["a"], hub["b"]
    gtin, lot = a.ids["gtin"], a.ids["lot"]
    path = f"/traceability/products/{gtin}"
    before = client.get(path, headers=a.headers["site_admin"]).json()
    excursions = client.get(f"/traceability/lots/{lot}/excursions",
                            headers=a.headers["site_admin"]).json()
    for target in (path, f"{path}/lots/{lot}"):
        client.put(target, headers=b.headers["site_admin"],
                   json={"name": "Relabelled", "min_celsius": -80, "max_celsius": 80})
    assert client.get(path, headers=a.headers["site_admin"]).json() == before
    assert client.get(f"/traceability/lots/{lot}/excursions",
                      headers=a.headers["site_admin"]).json() == excursions
    assert excursions, "A's shipment had an excursion to begin with"
