"""Public routes (no login): the hub's JWKS, certificate verification, revocation status lists.

Anyone holding a certificate's id (an unguessable UUID printed on the certificate and in its
QR code) can check it here, as the holder intends when they share it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from hub.deps import SessionDep, SettingsDep
from hub.errors import HubError, NotFound
from hub.web.rendering import add_template_dir, render
from training_portal import certificates
from training_portal.credentials import VerificationResult
from training_portal.schemas import (
    CheckPublic,
    VerificationPublic,
    VerifyRequest,
)

VC_JWT = "application/vc+jwt"
CACHE = {"Cache-Control": "public, max-age=300"}
router = APIRouter(tags=["certificates"])
add_template_dir(Path(__file__).parent / "templates")


def verification_public(result: VerificationResult) -> VerificationPublic:
    """The verification outcome; what the credential claims only when its signature holds."""
    out = VerificationPublic(valid=result.valid, checks=[
        CheckPublic(name=c.name, outcome=c.outcome, message=c.message) for c in result.checks])
    vc = result.credential
    if vc is None:
        return out
    subject = vc.get("credentialSubject") or {}
    issuer = vc.get("issuer")
    out.certificate_id = str(vc.get("id", "")).removeprefix("urn:uuid:") or None
    out.holder_name = next((i.get("identityHash") for i in subject.get("identifier", [])
                            if i.get("identityType") == "name" and not i.get("hashed")), None)
    out.qualification = (subject.get("achievement") or {}).get("name")
    out.issuer = issuer.get("name") if isinstance(issuer, dict) else issuer
    out.valid_from, out.valid_until = vc.get("validFrom"), vc.get("validUntil")
    out.credential = vc
    return out


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get("/.well-known/jwks.json")
def jwks(settings: SettingsDep) -> JSONResponse:
    """The hub's public signing keys (JWK Set): verify certificates and status lists offline."""
    return JSONResponse(certificates.keys(settings).jwks(), headers=CACHE)


@router.get("/certificates/status/{list_id}", responses={200: {"content": {VC_JWT: {}}}})
def status_list(list_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The signed revocation status list (``BitstringStatusListCredential`` as a JWT-VC)."""
    token = certificates.status_list_token(session, settings, list_id)
    return Response(token, media_type=VC_JWT, headers={"Cache-Control": "no-cache"})


@router.get("/certificates/{certificate_id}/verify", response_model=VerificationPublic)
def verify(certificate_id: str, request: Request, session: SessionDep,
           settings: SettingsDep) -> Any:
    """Check a certificate now: signature, validity dates and revocation (HTML for browsers)."""
    html = _wants_html(request)
    try:
        result = verification_public(certificates.verify_by_id(session, settings,
                                                                certificate_id))
    except NotFound as exc:
        if not html:
            raise
        return _page(request, None, certificate_id, exc)
    return _page(request, result, certificate_id) if html else result


def _page(request: Request, result: VerificationPublic | None, certificate_id: str,
          error: HubError | None = None) -> HTMLResponse:
    return render(request, "training/verify.html", {
        "result": result, "certificate_id": certificate_id,
        "error": error.detail if error else None}, status_code=error.status if error else 200)


@router.post("/certificates/verify", response_model=VerificationPublic)
def verify_credential(data: VerifyRequest, session: SessionDep,
                      settings: SettingsDep) -> VerificationPublic:
    """Check any certificate JWT-VC against this hub's keys and status lists."""
    return verification_public(certificates.verify_token(session, settings,
                                                         data.credential.strip()))
