"""The images' health probe (deploy/docker/healthcheck.py), run as the HEALTHCHECK runs it."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.files import DOCKER
from tests.deploy.procs import free_port


class _Hub(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/health": 200, "/ready": 503}.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def _probe(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"HEALTHCHECK_URL", "FEDHUB_PORT"}}
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py"), *args],
                          capture_output=True, text=True, timeout=30, env={**clean, **env})


def test_healthy_hub_exits_zero(hub: int) -> None:
    out = _probe(f"http://127.0.0.1:{hub}/health")
    assert out.returncode == 0 and "healthy" in out.stdout


def test_unready_hub_exits_one(hub: int) -> None:
    out = _probe(f"http://127.0.0.1:{hub}/ready")
    assert out.returncode == 1 and "answered 503" in out.stdout


def test_default_url_is_the_hub_port_on_loopback(hub: int) -> None:
    assert _probe(FEDHUB_PORT=str(hub)).returncode == 0
    assert _probe(HEALTHCHECK_URL=f"http://127.0.0.1:{hub}/ready").returncode == 1


def test_nothing_listening_exits_one() -> None:
    out = _probe(f"http://127.0.0.1:{free_port()}/health", "--timeout", "2")
    assert out.returncode == 1 and "unreachable" in out.stdout


def test_only_http_urls() -> None:
    out = _probe("file:///etc/passwd")
    assert out.returncode == 1 and "not an http(s) URL" in out.stdout
