"""Container health probe: GET a /health URL and exit 0 on a 2xx answer, 1 otherwise.

Used by the images' HEALTHCHECK and the compose files; standard library only, so it runs in
the slim runtime image without curl. ``--cafile`` checks an HTTPS server against that CA (the
host name is not checked: the probe always talks to the local container).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.error
import urllib.request


def default_url() -> str:
    """``$HEALTHCHECK_URL``, else the hub's own port on loopback."""
    port = os.environ.get("FEDHUB_PORT", "8080")
    return os.environ.get("HEALTHCHECK_URL", f"http://127.0.0.1:{port}/health")


def probe(url: str, cafile: str | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """Request ``url``; (healthy, one-line reason)."""
    context = None
    if url.startswith("https://"):
        context = ssl.create_default_context(cafile=cafile)
        context.check_hostname = False
    elif not url.startswith("http://"):
        return False, f"not an http(s) URL: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:  # noqa: S310
            return 200 <= resp.status < 300, f"{url} answered {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url} unreachable: {reason}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=None, help="default: $HEALTHCHECK_URL or "
                        "http://127.0.0.1:$FEDHUB_PORT/health")
    parser.add_argument("--cafile", help="CA certificate for an https URL")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    ok, reason = probe(args.url or default_url(), args.cafile, args.timeout)
    print(("healthy: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
