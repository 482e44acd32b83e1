"""No deployment file, example or doc carries anything that looks like a real secret."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.deploy.files import ROOT, text_files

PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
URL_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]+:([^@\s/]+)@")
API_KEY = re.compile(r"\bfhk_[A-Za-z0-9_-]{8,}")
TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _looks_random(token: str) -> bool:
    classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes == 3 and _entropy(token) > 4.0 and "/" not in token.strip("/")[:-1]


@pytest.mark.parametrize("path", text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_material(path: Path) -> None:
    text = path.read_text()
    assert not PRIVATE_KEY.search(text), "a PEM private key"
    assert not API_KEY.search(text), "a fedhub API key"
    for match in URL_PASSWORD.finditer(text):
        assert re.fullmatch(r"<[^>]+>|\$\{?[A-Z_]+\}?|%s|\.\.\.|…|PASSWORD", match.group(1)), (
            f"a password in a URL: {match.group(0)}")
    randomish = [t for t in TOKEN.findall(text) if _looks_random(t)]
    assert not randomish, f"random-looking tokens: {randomish}"


def test_the_scanner_catches_what_it_should(tmp_path: Path) -> None:
    assert PRIVATE_KEY.search("-----BEGIN EC PRIVATE KEY-----")
    assert URL_PASSWORD.search("postgresql+psycopg://fedhub:hunter2@db/fedhub")
    assert _looks_random("q8Jx2VbN7rT0LmZa4pW9eKcY3sHd6FgU")
    assert not _looks_random("deploy-docker-hub-Dockerfile-dockerignore")
