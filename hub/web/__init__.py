"""Server-rendered portal: page routers, login sessions, CSRF, templates, charts.

Domains add pages with the same building blocks (see docs/web.md)::

    from hub.web import PageSession, PageUser, page_router, render

    pages = page_router("/web/sites")

    @pages.get("")
    def sites(request: Request, who: PageUser, session: PageSession) -> HTMLResponse:
        \"\"\"Your sites.\"\"\"
        return render(request, "sites/list.html", {"sites": ...})
"""

from hub.web.auth import LoginRequired, PageUser, WebUser, require_page_role
from hub.web.charts import Series, bar_chart, line_chart
from hub.web.csrf import CsrfRejected
from hub.web.esign import ESignForm, ESignInput, sign_record, signature_rows
from hub.web.rendering import (
    FORM_ERRORS,
    Area,
    add_template_dir,
    error_page,
    form_errors,
    fragment,
    redirect,
    register_area,
    render,
    static_url,
)
from hub.web.routing import WebRoute, page_router
from hub.web.transaction import PageSession, fail

__all__ = [
    "FORM_ERRORS",
    "Area",
    "CsrfRejected",
    "ESignForm",
    "ESignInput",
    "LoginRequired",
    "PageSession",
    "PageUser",
    "Series",
    "WebRoute",
    "WebUser",
    "add_template_dir",
    "bar_chart",
    "error_page",
    "fail",
    "form_errors",
    "fragment",
    "line_chart",
    "page_router",
    "redirect",
    "register_area",
    "render",
    "require_page_role",
    "sign_record",
    "signature_rows",
    "static_url",
]
