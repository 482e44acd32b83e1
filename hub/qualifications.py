"""Certification gates: an operational action needs a valid qualification certificate.

Settings map actions to qualifications (``FEDHUB_QUALIFICATION_GATES``, e.g.
``{"screen.submit": "molecular-screening-model-application"}``; a value may be a list, all
of which are needed). Routes declare the action they perform::

    @router.post("/screens", dependencies=[Depends(require_qualification("screen.submit"))])

Services and pages call :func:`ensure_qualified` directly. Where qualifications come from is
not the hub's business: a domain that records them (the training portal) registers a checker
with :func:`register_checker`, so the hub never imports that domain. With no checker
registered, a gated action is refused (fail closed).

Who is gated: every person, hub administrators included (an administrative role does not
confer operational competence). Machine principals (site-agent API keys) are not: their
site was approved with electronic signatures and what they send is data ingest, not an
operation performed by a person; the person who later acts on that data is gated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from hub.db import utcnow
from hub.deps import CurrentPrincipal, SessionDep, SettingsDep
from hub.errors import PermissionDenied
from hub.identity.principal import Principal


@dataclass(frozen=True)
class Holding:
    """What a checker knows about one person's qualification."""

    qualification: str
    valid: bool
    detail: str  # "valid until …", "expired on …", "revoked …", "not held"
    name: str | None = None  # human-readable name of the qualification
    valid_until: datetime | None = None
    certificate_id: str | None = None


# (session, person, qualification id, as of) -> what the checker knows, or None (no record)
Checker = Callable[[Session, Principal, str, datetime], Holding | None]
_CHECKERS: list[Checker] = []


class QualificationRequired(PermissionDenied):
    code, title = "qualification-required", "Qualification required"


def register_checker(checker: Checker) -> Checker:
    """Add a source of qualifications (idempotent); usable as a decorator."""
    if checker not in _CHECKERS:
        _CHECKERS.append(checker)
    return checker


def unregister_checker(checker: Checker) -> None:
    """Remove a checker (tests)."""
    if checker in _CHECKERS:
        _CHECKERS.remove(checker)


def registered_checkers() -> list[Checker]:
    """The registered checkers, in registration order."""
    return list(_CHECKERS)


def qualifications_for(gates: Mapping[str, str | Sequence[str]], action: str) -> list[str]:
    """The qualifications ``action`` needs under ``gates`` (empty: not gated)."""
    needed = gates.get(action)
    if not needed:
        return []
    return [needed] if isinstance(needed, str) else [q for q in needed if q]


def holding(session: Session, who: Principal, qualification: str,
            as_of: datetime | None = None) -> Holding:
    """The caller's standing for one qualification: valid if any checker says so."""
    as_of = as_of or utcnow()
    best: Holding | None = None
    for checker in _CHECKERS:
        found = checker(session, who, qualification, as_of)
        if found is None:
            continue
        if found.valid:
            return found
        best = best or found
    if best is not None:
        return best
    detail = "not held" if _CHECKERS else "no qualification records are available"
    return Holding(qualification=qualification, valid=False, detail=detail)


def ensure_qualified(session: Session, gates: Mapping[str, str | Sequence[str]],
                     who: Principal, action: str, as_of: datetime | None = None) -> None:
    """Raise :class:`QualificationRequired` (403) naming each missing qualification."""
    if not who.is_user:
        return  # machine ingest is not gated (see the module docstring)
    missing = [h for q in qualifications_for(gates, action)
               if not (h := holding(session, who, q, as_of)).valid]
    if not missing:
        return
    names = "; ".join(f"{h.name or h.qualification} ({h.qualification}): {h.detail}"
                      for h in missing)
    extra: dict[str, Any] = {"action": action, "qualification": missing[0].qualification,
                             "missing": [{"qualification": h.qualification, "name": h.name,
                                          "detail": h.detail} for h in missing]}
    raise QualificationRequired(
        f"{action} requires a valid qualification certificate: {names}",
        errors=[{"pointer": "/qualification", "message": f"{h.qualification}: {h.detail}"}
                for h in missing],
        **extra)


def require_qualification(action: str) -> Callable[..., Principal]:
    """FastAPI dependency: admit the caller only with the qualifications ``action`` needs."""
    def _gate(who: CurrentPrincipal, session: SessionDep, settings: SettingsDep) -> Principal:
        ensure_qualified(session, settings.qualification_gates, who, action)
        return who

    _gate.__name__ = f"require_qualification_{action.replace('.', '_')}"
    return _gate
