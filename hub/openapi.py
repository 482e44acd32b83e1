"""The OpenAPI document states the errors the hub really answers.

FastAPI documents only the success response and a 422 in its own JSON shape. The hub answers
every error as an RFC 9457 ``application/problem+json`` document (``hub.errors``), so the
schema is post-processed once: the 422 becomes a problem document and each operation lists
the problem statuses it can answer, derived from what the operation is:

- with parameters or a body: 422 (request validation);
- with a request body: 400 (malformed, e.g. nested too deeply) and 413 (over the size limit);
- authenticated (has ``security``): 401 and 403;
- naming a resource (a path parameter or an ``..._id`` query parameter): 404;
- writes (POST/PUT/PATCH/DELETE): 404 and 409;
- a password re-entered in the body (e-signatures, password change): 423 once failed
  re-entries have locked the account;
- everything but ``/health``: 503 when the database is unavailable or busy;
- a few operations with statuses of their own (``EXTRA``): public operations that
  authenticate by other means (401), login lockout and rate limit, unsupported uploads and
  export formats (415), a failing SuperLink registrar (502).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from hub.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem document; `errors` names each offending field.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
    },
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemFieldError",
    "type": "object",
    "required": ["pointer", "message"],
    "properties": {
        "pointer": {"type": "string", "description": "JSON pointer to the offending field"},
        "message": {"type": "string"},
        "type": {"type": ["string", "null"]},
    },
}

DESCRIPTIONS = {
    400: "Malformed request", 401: "Authentication required", 403: "Permission denied",
    404: "Not found", 409: "Conflict with the current state", 413: "Request body too large",
    415: "Unsupported media type", 422: "Request validation failed", 423: "Account locked",
    429: "Too many attempts", 502: "Upstream federation service failed",
    503: "Database unavailable or busy; retry after Retry-After seconds",
}
WRITES = {"post", "put", "patch", "delete"}
EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/auth/token"): (401, 423, 429),
    ("post", "/sites/enroll"): (401,),  # enrollment token
    ("post", "/sites/{site_id}/credentials"): (401,),  # proof of key possession
    ("post", "/screens"): (415,),
    ("get", "/screens/{screen_id}/export.{kind}"): (415,),
    ("post", "/training/modules/{module_id}/attachments"): (415,),
    # a SuperLink registrar (``hub.sites.flows``) may fail while keys change
    ("post", "/sites/{site_id}/approve"): (502,),
    ("post", "/sites/{site_id}/keys"): (502,),
    ("post", "/sites/{site_id}/keys/{key_id}/revoke"): (502,),
    ("post", "/sites/{site_id}/revoke"): (502,),
}


def _body_fields(schema: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """Top-level field names of the operation's JSON body (a ``$ref`` is followed once)."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    shape = body.get("schema", {})
    if "$ref" in shape:
        shape = schema.get("components", {}).get("schemas", {}).get(
            shape["$ref"].rsplit("/", 1)[-1], {})
    return set(shape.get("properties", {}))


def problem_statuses(method: str, path: str, operation: dict[str, Any],
                     fields: set[str]) -> set[int]:
    """The problem statuses one operation can answer (see the module docstring)."""
    statuses: set[int] = set()
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if operation.get("security"):
        statuses |= {401, 403}
    names = [p.get("name", "") for p in operation.get("parameters", [])]
    if "{" in path or method in WRITES or any(n.endswith("_id") for n in names):
        statuses.add(404)
    if method in WRITES:
        statuses.add(409)
    if fields & {"password", "current_password"} and (method, path) != ("post", "/users"):
        statuses.add(423)  # password re-entry: failures count toward the lockout
    if path != "/health":  # everything else may need the database (``ServiceUnavailable``)
        statuses.add(503)
    statuses.update(EXTRA.get((method, path), ()))
    return statuses


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS.get(status, "Error"), "content": {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` in place so every operation documents its problem responses."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            fields = _body_fields(schema, operation)
            for status in sorted(problem_statuses(method, path, operation, fields)):
                key = str(status)
                if key == "422" or key not in responses:
                    responses[key] = _problem_response(status)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemFieldError"] = FIELD_ERROR_SCHEMA
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}'" not in text:
            schemas.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Serve the post-processed document from ``app.openapi()`` and ``/openapi.json``."""
    generate = app.openapi  # FastAPI's own: cached, rebuilt when routes change
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not done or done[0] is not schema:
            done[:] = [document_problems(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
