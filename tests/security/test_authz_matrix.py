"""Authorization matrix: every principal x every OpenAPI operation, from ONE declarative table.

A row names who is ADMITTED (anything but 401/403; 404/422 for made-up ids and empty bodies
are fine). Everyone else must get 401/403/404 as a problem document, never data. Anonymous
callers get 401 on every non-public operation. ``SVC(...)`` marks operations whose role check
happens in the service after the body is validated: with an empty body this test can only
prove the edge (authentication); their role rules are covered by the domain tests.
An operation in the schema without a row, or a row without an operation, fails the test.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from hub.config import Settings
from tests.factories import PASSWORD
from tests.security import world
from tests.security.world import PRINCIPALS

PUBLIC = frozenset(PRINCIPALS)
AUTH = PUBLIC - {"anonymous"}
PERSONS = AUTH - {"machine"}
OVERSIGHT = frozenset({"hub_admin", "qa", "site_admin", "regulator"})  # audit, compliance


class SVC(frozenset[str]):
    """Admitted at the edge; roles are checked in the service after body validation."""


TABLE: dict[tuple[str, str], frozenset[str] | set[str]] = {
    ("DELETE", "/compliance/submissions/{report_id}"): SVC(AUTH),
    ("DELETE", "/traceability/partners/{partner_org_id}"): SVC(AUTH),
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("GET", "/api-keys"): {'hub_admin', 'site_admin'},
    ("GET", "/audit"): OVERSIGHT,
    ("GET", "/audit/verify"): OVERSIGHT,
    ("GET", "/certificates/status/{list_id}"): PUBLIC,
    ("GET", "/certificates/{certificate_id}/verify"): PUBLIC,
    ("GET", "/compliance/access-log"): OVERSIGHT,
    ("GET", "/compliance/overdue"): OVERSIGHT,
    ("GET", "/compliance/schedules/{site_id}"): AUTH - {'regulator'},
    ("GET", "/compliance/submissions"): OVERSIGHT,
    ("GET", "/compliance/submissions/{report_id}"): OVERSIGHT,
    ("GET", "/compliance/submissions/{report_id}/bundle"): OVERSIGHT,
    ("GET", "/federation/runs"): AUTH,
    ("GET", "/federation/runs/{run_id}"): AUTH,
    ("GET", "/federation/runs/{run_id}/events"): AUTH,
    ("GET", "/federation/runs/{run_id}/progress"): AUTH,
    ("GET", "/health"): PUBLIC,
    ("GET", "/me"): PERSONS,
    ("GET", "/monitoring/alerts"): AUTH,
    ("GET", "/monitoring/alerts/{alert_id}"): AUTH,
    ("GET", "/monitoring/shadow-reports"): AUTH,
    ("GET", "/monitoring/summary"): AUTH,
    ("GET", "/monitoring/work-orders"): AUTH,
    ("GET", "/monitoring/work-orders/{wo_id}"): AUTH,
    ("GET", "/organizations"): AUTH,
    ("GET", "/organizations/{org_id}"): AUTH,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/registry/models"): AUTH,
    ("GET", "/registry/models/{model_id}"): AUTH,
    ("GET", "/registry/models/{model_id}/artifact"): AUTH,
    ("GET", "/registry/models/{model_id}/shadow-reports"): AUTH,
    ("GET", "/registry/tasks/{task}/production"): AUTH,
    ("GET", "/registry/tasks/{task}/shadow"): AUTH,
    ("GET", "/screens"): AUTH,
    ("GET", "/screens/{screen_id}"): AUTH,
    ("GET", "/screens/{screen_id}/errors"): AUTH,
    ("GET", "/screens/{screen_id}/export.{kind}"): AUTH,
    ("GET", "/screens/{screen_id}/molecules/{idx}"): AUTH,
    ("GET", "/screens/{screen_id}/molecules/{idx}/depiction.svg"): AUTH,
    ("GET", "/screens/{screen_id}/ranking"): AUTH,
    ("GET", "/screens/{screen_id}/results"): AUTH,
    ("GET", "/screens/{screen_id}/summary"): AUTH,
    ("GET", "/signatures"): AUTH,
    ("GET", "/signatures/{sig_id}/verify"): AUTH,
    ("GET", "/sites"): AUTH,
    ("GET", "/sites/me"): {'machine'},
    ("GET", "/sites/{site_id}"): AUTH - {'regulator'},
    ("GET", "/sites/{site_id}/keys"): AUTH - {'regulator'},
    ("GET", "/standards"): AUTH,
    ("GET", "/standards/{name}/{version}"): AUTH,
    ("GET", "/traceability/alerts"): AUTH,
    ("GET", "/traceability/alerts/{alert_id}"): AUTH,
    ("GET", "/traceability/events"): AUTH,
    ("GET", "/traceability/events/{event_pk}"): AUTH,
    ("GET", "/traceability/excursions"): AUTH,
    ("GET", "/traceability/inventory"): AUTH,
    ("GET", "/traceability/lots/{lot}/custody"): AUTH,
    ("GET", "/traceability/lots/{lot}/excursions"): AUTH,
    ("GET", "/traceability/lots/{lot}/inventory"): AUTH,
    ("GET", "/traceability/partners"): AUTH,
    ("GET", "/traceability/products"): AUTH,
    ("GET", "/traceability/products/{gtin}"): AUTH,
    ("GET", "/training/attachments/{attachment_id}"): AUTH,
    ("GET", "/training/attempts/{attempt_id}"): AUTH,
    ("GET", "/training/certificates"): AUTH,
    ("GET", "/training/certificates/{certificate_id}"): AUTH,
    ("GET", "/training/certificates/{certificate_id}/credential"): AUTH,
    ("GET", "/training/certificates/{certificate_id}/pdf"): AUTH,
    ("GET", "/training/courses"): AUTH,
    ("GET", "/training/courses/{course_ref}"): AUTH,
    ("GET", "/training/courses/{course_ref}/questions"): AUTH,
    ("GET", "/training/courses/{course_ref}/versions"): AUTH,
    ("GET", "/training/enrollments"): AUTH,
    ("GET", "/training/enrollments/{enrollment_id}"): AUTH,
    ("GET", "/training/enrollments/{enrollment_id}/modules/{module_ref}"): AUTH,
    ("GET", "/training/history"): AUTH,
    ("GET", "/training/me/qualifications"): AUTH,
    ("GET", "/training/notifications"): AUTH,
    ("GET", "/training/qualifications/{qualification_id}"): AUTH,
    ("GET", "/training/records"): {'qa', 'site_admin', 'instructor'},
    ("GET", "/users"): AUTH,
    ("GET", "/users/{user_id}"): AUTH - {'regulator'},
    ("PATCH", "/compliance/submissions/{report_id}/sections/{section}"): SVC(AUTH),
    ("PATCH", "/sites/{site_id}"): SVC(AUTH),
    ("PATCH", "/training/courses/{course_ref}"): SVC(AUTH),
    ("PATCH", "/users/{user_id}"): {'hub_admin'},
    ("POST", "/api-keys"): {'hub_admin', 'site_admin'},
    ("POST", "/api-keys/{key_id}/revoke"): {'hub_admin', 'site_admin'},
    ("POST", "/auth/token"): PUBLIC,  # called with real credentials
    ("POST", "/certificates/verify"): PUBLIC,
    ("POST", "/compliance/submissions"): SVC(AUTH),
    ("POST", "/compliance/submissions/{report_id}/corrections"): SVC(AUTH),
    ("POST", "/compliance/submissions/{report_id}/cosign"): PERSONS,
    ("POST", "/compliance/submissions/{report_id}/sign"): PERSONS,
    ("POST", "/federation/runs"): SVC(AUTH),
    ("POST", "/federation/runs/{run_id}/approve"): SVC(AUTH),
    ("POST", "/federation/runs/{run_id}/cancel"): SVC(AUTH),
    ("POST", "/me/password"): PERSONS,
    ("POST", "/monitoring/alerts"): {'machine'},
    ("POST", "/monitoring/alerts/{alert_id}/acknowledge"): SVC(AUTH),
    ("POST", "/monitoring/alerts/{alert_id}/resolve"): SVC(AUTH),
    ("POST", "/monitoring/readings"): {'machine'},
    ("POST", "/monitoring/shadow-reports"): {'machine'},
    ("POST", "/monitoring/work-orders"): {'machine'},
    ("POST", "/monitoring/work-orders/{wo_id}/acknowledge"): SVC(AUTH),
    ("POST", "/monitoring/work-orders/{wo_id}/resolve"): SVC(AUTH),
    ("POST", "/organizations"): {'hub_admin'},
    ("POST", "/registry/models/{model_id}/promote"): SVC(AUTH),
    ("POST", "/registry/models/{model_id}/retire"): SVC(AUTH),
    ("POST", "/registry/models/{model_id}/shadow"): SVC(AUTH),
    ("POST", "/registry/tasks/{task}/rollback"): SVC(AUTH),
    ("POST", "/screens"): {'machine'},  # persons need the screening qualification (gate)
    ("POST", "/screens/{screen_id}/cancel"): SVC(AUTH),
    ("POST", "/signatures"): PERSONS,
    ("POST", "/sites"): SVC(AUTH),
    ("POST", "/sites/enroll"): PUBLIC,
    ("POST", "/sites/enrollment-tokens"): {'hub_admin', 'site_admin'},
    ("POST", "/sites/me/heartbeat"): {'machine'},
    ("POST", "/sites/{site_id}/api-key/rotate"): {'hub_admin', 'site_admin', 'machine'},
    ("POST", "/sites/{site_id}/approve"): {'hub_admin'},
    ("POST", "/sites/{site_id}/credentials"): PUBLIC,
    ("POST", "/sites/{site_id}/keys"): {'hub_admin', 'site_admin', 'machine'},
    ("POST", "/sites/{site_id}/keys/{key_id}/revoke"): {'hub_admin', 'site_admin', 'machine'},
    ("POST", "/sites/{site_id}/reject"): {'hub_admin'},
    ("POST", "/sites/{site_id}/resume"): {'hub_admin'},
    ("POST", "/sites/{site_id}/revoke"): SVC(AUTH),
    ("POST", "/sites/{site_id}/suspend"): {'hub_admin'},
    ("POST", "/standards/{name}/{version}/validate"): AUTH,
    ("POST", "/traceability/alerts/{alert_id}/acknowledge"): SVC(AUTH),
    ("POST", "/traceability/capture"): {'hub_admin', 'qa', 'site_admin', 'machine'},
    ("POST", "/training/attempts/{attempt_id}/submit"): SVC(AUTH),
    ("POST", "/training/certificates/{certificate_id}/revoke"): PERSONS,
    ("POST", "/training/courses"): SVC(AUTH),
    ("POST", "/training/courses/{course_ref}/publish"): SVC(AUTH),
    ("POST", "/training/enrollments"): PERSONS,
    ("POST", "/training/enrollments/{enrollment_id}/attempts"): SVC(AUTH),
    ("POST", "/training/enrollments/{enrollment_id}/modules/{module_ref}/complete"): SVC(AUTH),
    ("POST", "/training/modules/{module_id}/attachments"): SVC(AUTH),
    ("POST", "/training/notifications/{notification_id}/read"): SVC(AUTH),
    ("POST", "/training/reminders"): {'hub_admin'},
    ("POST", "/users"): {'hub_admin'},
    ("PUT", "/compliance/schedules/{site_id}"): SVC(AUTH),
    ("PUT", "/traceability/partners/{partner_org_id}"): {'hub_admin', 'qa', 'site_admin'},
    ("PUT", "/traceability/products/{gtin}"): SVC(AUTH),
    ("PUT", "/traceability/products/{gtin}/lots/{lot}"): SVC(AUTH),
}


def _denied_ok(resp: object, who: str) -> str | None:
    status = resp.status_code  # type: ignore[attr-defined]
    allowed = {401} if who == "anonymous" else {401, 403, 404}
    if status not in allowed:
        return f"expected {sorted(allowed)}, got {status}"
    if not resp.headers.get("content-type", "").startswith(  # type: ignore[attr-defined]
            "application/problem+json"):
        return f"denial {status} is not a problem document"
    return None


def test_every_operation_has_a_row(real_app: object) -> None:
    ops = set(world.operations(real_app))  # type: ignore[arg-type]
    missing = sorted(ops - TABLE.keys())
    stale = sorted(TABLE.keys() - ops)
    assert not missing, f"operations without an authorization row: {missing}"
    assert not stale, f"rows for operations that no longer exist: {stale}"


def test_authorization_matrix(real_client: TestClient, real_session: Session,
                              real_settings: Settings, tmp_path: Path, real_app: object) -> None:
    client, app = real_client, real_app
    hub = world.build(client, real_session, real_settings, tmp_path)
    failures: list[str] = []
    for method, template in world.operations(app):  # type: ignore[arg-type]
        admitted = TABLE.get((method, template))
        if admitted is None:
            failures.append(f"{method} {template}: no row in TABLE")
            continue
        path = world.concrete(template, hub, method)
        for who in PRINCIPALS:
            if template == "/auth/token":
                resp = client.post(path, data={"username": "authz-researcher",
                                               "password": PASSWORD})
            else:
                resp = world.call(client, method, path, hub.headers[who])
            if who in admitted:
                if resp.status_code in (401, 403):
                    failures.append(f"{method} {template} as {who}: refused "
                                    f"{resp.status_code}, table admits it")
            elif (problem := _denied_ok(resp, who)) is not None:
                failures.append(f"{method} {template} as {who}: {problem}")
    assert not failures, "\n".join(failures)
