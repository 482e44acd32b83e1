"""Schemathesis against every operation of the hub's OpenAPI schema, authenticated.

The real app runs in-process (ASGI) on its own migrated SQLite file, with organization A
populated in every domain (``tests.security.domains``), a hub admin and a regulator. Each
operation is called as a principal the authorization matrix admits (``PRINCIPAL``), so requests
reach the handlers instead of stopping at 403. Examples come from three strategies: values
generated from the schema, the same with the path parameters naming A's real objects (so bodies
and queries are fuzzed against existing records), and schema-violating (negative) data.

Every response must: not be a 5xx; have a documented status code and content type; match the
documented response schema; be an ``application/problem+json`` document when it is an error.

``FEDHUB_FUZZ_EXAMPLES`` sets the examples per strategy and operation (default 15);
``FEDHUB_FUZZ_RANDOM=1`` draws new examples instead of the fixed (derandomized) ones.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.app import create_app
from hub.config import Settings
from hub.db import Database
from hub.errors import PROBLEM_JSON
from hub.migrations import upgrade
from tests.factories import login, make_org, make_user
from tests.security import domains, world
from tests.security.test_authz_matrix import TABLE
from tests.sites.helpers import World, enrolled_site

EXAMPLES = int(os.environ.get("FEDHUB_FUZZ_EXAMPLES", "15"))
RANDOM = os.environ.get("FEDHUB_FUZZ_RANDOM") == "1"

# operations that cannot be fuzzed as request/response pairs, and why
EXCLUDED = {
    # server-sent events: the stream stays open while the run is live
    ("GET", "/federation/runs/{run_id}/events"),
}

# who calls each operation (default: the first admitted of ``PREFERENCE``)
PREFERENCE = ("hub_admin", "site_admin", "qa", "researcher", "instructor", "trainee",
              "regulator", "machine", "anonymous")
BY_PREFIX = (  # role checks in the services: the role that does this in real life
    ("/compliance/submissions/{report_id}/cosign", "qa"),
    ("/compliance/", "site_admin"),
    ("/federation/runs/{run_id}/approve", "qa"),
    ("/federation/", "researcher"),
    ("/registry/", "qa"),
    ("/screens", "researcher"),
    ("/training/courses", "instructor"),
    ("/training/modules", "instructor"),
    ("/training/certificates/{certificate_id}/revoke", "qa"),
    ("/training/records", "qa"),
    ("/training/", "trainee"),
    ("/traceability/", "site_admin"),
    ("/monitoring/", "site_admin"),
    ("/audit", "qa"),
    ("/me/password", "spare"),  # fuzzing a password change must not lock out the others
    ("/me", "researcher"),
    ("/standards", "researcher"),
)
# writes on these objects go to spares: revoking the site or a user would end the others' access
SPARE_FOR_WRITES = {"site_id": "spare_site_id", "user_id": "spare_user_id"}

_PARAM = re.compile(r"\{([^}]+)\}")


def principal(method: str, path: str) -> str:
    """The principal that calls ``method path``; it must be admitted by the matrix."""
    admitted = TABLE[(method, path)]
    for prefix, who in BY_PREFIX:
        if path.startswith(prefix) and (who == "spare" or who in admitted):
            return who
    return next(who for who in PREFERENCE if who in admitted)


def real_path_parameters(method: str, path: str, ids: dict[str, str]) -> dict[str, str]:
    """A's real objects for the path parameters of ``path`` (those it has)."""
    out = {}
    for name in _PARAM.findall(path):
        key = name
        if name == "alert_id" and path.startswith("/traceability"):
            key = "trace_alert_id"
        elif name == "key_id" and path.startswith("/api-keys"):
            key = "api_key_id"
        if method != "GET":
            key = SPARE_FOR_WRITES.get(key, key)
        value = {"idx": "0", "kind": "csv"}.get(name) or ids.get(key)
        if value is not None:
            out[name] = value
    return out


def problem_json(ctx: Any, response: Any, case: Any) -> None:
    """Errors are RFC 9457 problem documents naming their status."""
    if response.status_code < 400:
        return
    ctype = (response.headers.get("content-type") or [""])[0]
    if case.operation.path == "/ready" and response.status_code == 503:
        return  # the readiness probe's own JSON
    assert ctype.startswith(PROBLEM_JSON), f"{response.status_code} answered as {ctype!r}"
    body = response.json()
    assert body.get("status") == response.status_code and body.get("code"), body


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def _app_operations() -> list[tuple[str, str]]:
    settings = Settings(environment="test", secret_key="s" * 40, database_url="sqlite://")
    return world.operations(create_app(settings))


OPERATIONS = [op for op in _app_operations() if op not in EXCLUDED]


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The hub, organization A with everything, spares, principals, the loaded schema."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{tmp / 'hub.db'}"
    upgrade(url)
    config = Settings(environment="test", data_dir=tmp / "hub", secret_key="s" * 40,
                      database_url=url)
    db = Database(config)
    app = create_app(config, db=db)
    with TestClient(app, raise_server_exceptions=False) as client, db.session() as session:
        org = make_org(session, name="Helix Pharma A")
        operator = make_org(session, kind="operator", name="Consortium operator")
        authority = make_org(session, kind="regulator", name="Medicines authority")
        admin = login(client, make_user(session, config, operator, "hub_admin",
                                        username="fuzz-admin").username)
        a = domains.populate(client, session, config, tmp, org, "alpha", operator, admin,
                             "9520123")
        spare = make_user(session, config, org, "researcher", username="fuzz-spare")
        a.ids["spare_user_id"] = spare.id
        a.headers["spare"] = login(client, spare.username)
        a.headers["hub_admin"] = admin
        a.headers["regulator"] = login(client, make_user(session, config, authority,
                                                         "regulator").username)
        a.headers["anonymous"] = {}
        spare_site, _keys, _key = enrolled_site(client, World(org, operator,
                                                              a.headers["site_admin"], admin),
                                                tmp, name="Spare plant")
        a.ids["spare_site_id"] = spare_site
        session.rollback()
        schema = schemathesis.openapi.from_dict(app.openapi())
        stats = {"operations": 0, "requests": 0, "seconds": 0.0}
        # schemathesis' in-process client, not entered: the TestClient above owns the lifespan
        in_process = asgi.get_client(cast(Any, app))
        yield {"app": app, "member": a, "schema": schema, "client": in_process, "stats": stats}
        print(f"\nschemathesis: {stats['operations']} operations, {stats['requests']} "
              f"requests in {stats['seconds']:.0f} s ({EXAMPLES} examples per strategy)")
    db.engine.dispose()


def test_fuzzed_operations_cover_the_schema() -> None:
    """Every operation is fuzzed except the named exclusions, each with an admitted caller."""
    every = set(_app_operations())
    assert not EXCLUDED - every, f"stale exclusions: {EXCLUDED - every}"
    assert set(OPERATIONS) == every - EXCLUDED
    for method, path in OPERATIONS:
        who = principal(method, path)
        assert who == "spare" or who in TABLE[(method, path)], (method, path, who)


def test_schema_documents_problem_responses() -> None:
    schema = create_app(Settings(environment="test", secret_key="s" * 40,
                                 database_url="sqlite://")).openapi()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and (path, status) != ("/ready", "503"):
                    assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
    users = schema["paths"]["/users/{user_id}"]["patch"]["responses"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(users)
    assert "401" not in schema["paths"]["/health"]["get"]["responses"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


@pytest.mark.slow
@pytest.mark.xdist_group("schemathesis")
@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(fuzz: dict[str, Any], operation: tuple[str, str]) -> None:
    method, path = operation
    member, client, stats = fuzz["member"], fuzz["client"], fuzz["stats"]
    op = fuzz["schema"][path][method]
    headers = member.headers[principal(method, path)]
    strategies = [op.as_strategy(), op.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    real = real_path_parameters(method, path, member.ids)
    if real:
        strategies.append(op.as_strategy(path_parameters=real))
    started = time.monotonic()

    @settings(max_examples=EXAMPLES * len(strategies), deadline=None, database=None,
              derandomize=not RANDOM, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        stats["requests"] += 1
        response = case.call(session=client, headers=headers)
        case.validate_response(response, checks=CHECKS, additional_checks=[problem_json],
                               headers=headers)

    try:
        run()
    finally:
        stats["operations"] += 1
        stats["seconds"] += time.monotonic() - started
