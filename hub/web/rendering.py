"""Templates, the page context, flash messages, dashboard areas and form error mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import ValidationError

from hub.errors import Conflict, HubError, ValidationFailed
from hub.identity.principal import Principal
from hub.web import auth, csrf

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
FLASH_COOKIE = "fedhub_flash"

ROLE_LABELS = {
    "hub_admin": "Hub administrator",
    "qa": "Quality assurance",
    "site_admin": "Site administrator",
    "researcher": "R&D researcher",
    "instructor": "Instructor",
    "trainee": "Trainee",
    "regulator": "Regulator",
}
ROLE_CAN = {
    "hub_admin": "register member organizations and people, approve memberships with an "
                 "electronic signature, and see the whole audit trail",
    "qa": "approve enrollments, federated runs and model promotions with electronic signatures, "
          "and review your organization's audit trail",
    "site_admin": "enroll plants and labs, issue and revoke site-agent API keys, follow your "
                  "sites' alerts, runs and models, and review your organization's audit trail",
    "researcher": "submit molecule screens and get ranked, explained candidates for the lab",
    "instructor": "run courses and assessments and issue qualification certificates",
    "trainee": "take courses and assessments and earn verifiable qualification certificates",
    "regulator": "pull compliance submissions and export bundles, and check the audit trail "
                 "and its chain verification status",
}


@dataclass(frozen=True)
class Area:
    """A part of the portal shown on the dashboard and in the navigation."""

    title: str
    href: str
    description: str
    roles: tuple[str, ...] = ()  # empty: every logged-in person
    order: int = 100


_AREAS: dict[str, Area] = {}


def register_area(area: Area) -> None:
    """Add (or replace, by ``href``) a portal area; domains call this when their pages load."""
    _AREAS[area.href] = area


def areas_for(who: Principal | None) -> list[Area]:
    if who is None:
        return []
    found = [a for a in _AREAS.values() if not a.roles or who.has(*a.roles)]
    return sorted(found, key=lambda a: (a.order, a.title))


_loader = ChoiceLoader([FileSystemLoader(HERE / "templates")])


def add_template_dir(path: str | Path) -> None:
    """Let a domain keep its page templates in its own package (they extend ``base.html``)."""
    fs = FileSystemLoader(Path(path))
    if all(getattr(x, "searchpath", None) != fs.searchpath for x in _loader.loaders):
        _loader.loaders = [*_loader.loaders, fs]


@lru_cache(maxsize=64)
def _static_version(name: str, mtime: float) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """URL of a file in ``hub/web/static`` with a content version (safe to cache long)."""
    path = STATIC_DIR / name
    version = _static_version(name, path.stat().st_mtime) if path.is_file() else "0"
    return f"/web/static/{name}?v={version}"


def _environment() -> Environment:
    env = Environment(loader=_loader, autoescape=select_autoescape(["html", "svg"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["static_url"] = static_url
    env.globals["role_label"] = lambda r: ROLE_LABELS.get(r, r)
    env.filters["dt"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""
    return env


templates = Jinja2Templates(env=_environment())


def _flash_mac(request: Request, text: str) -> str:
    key = auth.settings_of(request).secret_key.encode()
    return hmac.new(key, b"fedhub flash|" + text.encode(), hashlib.sha256).hexdigest()[:32]


def pop_flash(request: Request) -> str | None:
    """The one-time message left by the previous redirect (signed; cleared once shown)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    auth.later(request, lambda resp: resp.delete_cookie(FLASH_COOKIE,
                                                        **auth.cookie_args(request, "/web")))
    data, mac = raw.rsplit(".", 1)
    try:
        text = base64.urlsafe_b64decode(data.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return text if hmac.compare_digest(mac, _flash_mac(request, text)) else None


def redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    """Post/redirect/get: 303 to ``url``, optionally carrying a one-time message."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        value = base64.urlsafe_b64encode(flash.encode()).decode() + "." + _flash_mac(request, flash)
        response.set_cookie(FLASH_COOKIE, value, **auth.cookie_args(request, "/web"))
    return response


def csrf_field(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf.FIELD, csrf.token_for(request))


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page template with the shared context (user, navigation, CSRF, flash)."""
    who: auth.WebUser | None = getattr(request.state, "web_user", None)
    principal = who.principal if who else None
    ctx: dict[str, Any] = {
        "me": who,
        "nav": areas_for(principal),
        "csrf_token": csrf.token_for(request),
        "csrf_field": lambda: csrf_field(request),
        "flash": pop_flash(request),
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def fragment(request: Request, name: str, context: dict[str, Any] | None = None, *,
             final: bool = False) -> HTMLResponse:
    """A partial for live refresh (``data-refresh-url``); ``final=True`` tells the page to stop
    polling (e.g. the run has finished), as does answering 204."""
    response = render(request, name, context)
    if final:
        response.headers["X-Refresh-Stop"] = "1"
    return response


def error_page(request: Request, status: int, title: str, detail: str,
               errors: list[dict[str, Any]] | None = None) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail,
                                          "errors": errors or []}, status_code=status)


# errors about what was typed: the form is shown again with the fields marked; any other error
# (not found, permission denied) becomes an error page
FORM_ERRORS = (ValidationFailed, Conflict, ValidationError)


def form_errors(exc: HubError | ValidationError) -> dict[str, str]:
    """Field name -> message, from a domain error's pointers or a pydantic error."""
    out: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "_"
            out.setdefault(field, str(e["msg"]).removeprefix("Value error, "))
        return out
    for item in exc.errors or []:
        field = str(item.get("pointer", "")).strip("/").split("/")[0] or "_"
        message = str(item.get("message", ""))
        out[field] = f"{out[field]}; {message}" if field in out else message
    if not out:
        out["_"] = exc.detail
    return out


def describe(value: Any) -> Markup:
    """A compact, escaped rendering of an audit value (dicts as key: value lines)."""
    if isinstance(value, dict):
        rows = Markup("").join(
            Markup("<div><span class=\"k\">{}</span>: {}</div>").format(k, _short(v))
            for k, v in value.items())
        return rows
    return escape(_short(value))


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 200 else text[:197] + "…"


templates.env.globals["describe"] = describe
