"""The agent's HTTP client to the hub (httpx). It sends gated payloads and nothing else."""

from __future__ import annotations

from typing import Any

import httpx

from site_agent import __version__
from site_agent.egress import GatedPayload, verify


class HubError(Exception):
    """The hub answered with an error (``status`` and its problem document)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        super().__init__(f"hub answered {status}: {problem.get('detail') or problem}")


class HubUnreachable(Exception):
    """The hub could not be reached (network error or timeout)."""


class HubClient:
    """Talks to one hub. POST bodies must be :class:`GatedPayload`; GETs carry no data."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api_key = api_key
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  transport=transport,
                                  headers={"User-Agent": f"fedhub-site-agent/{__version__}"})

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, bearer: str | None, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        elif self.api_key:
            headers["X-API-Key"] = self.api_key
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _request(self, method: str, path: str, content: bytes | None,
                 headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.request(method, path, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise HubUnreachable(f"{type(exc).__name__}: {exc}") from exc

    def post(self, path: str, payload: GatedPayload, *, idempotency_key: str | None = None,
             bearer: str | None = None) -> httpx.Response:
        """POST a gated payload; returns the raw response (callers decide about errors)."""
        gated = verify(payload)
        headers = self._headers(bearer, idempotency_key)
        headers["Content-Type"] = "application/json"
        headers["X-Fedhub-Schema"] = gated.schema_id
        return self._request("POST", path, gated.body, headers)

    def get(self, path: str) -> httpx.Response:
        """GET without any site data (no query parameters, no body)."""
        return self._request("GET", path, None, self._headers(None, None))

    @staticmethod
    def json_or_raise(resp: httpx.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = {"detail": resp.text[:500]}
        if resp.status_code >= 400:
            raise HubError(resp.status_code, body if isinstance(body, dict) else {"detail": body})
        return body if isinstance(body, dict) else {"items": body}
