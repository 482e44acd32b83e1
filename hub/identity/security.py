"""Password hashing (argon2id), password policy, bearer tokens and API key secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.config import Settings
from hub.db import utcnow

_hasher = PasswordHasher()
API_KEY_PREFIX = "fhk"
TOKEN_ALG = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_verify_time(password: str) -> None:
    """Spend the same time as a real check, so unknown users are not revealed by timing."""
    verify_password(password, _DUMMY_HASH)


def password_problems(password: str, username: str, min_length: int) -> list[str]:
    """Reasons a password breaks the policy (empty when acceptable)."""
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    classes = [
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(not c.isalnum() for c in password),
    ]
    if sum(classes) < 3:
        problems.append("must mix at least three of: lower case, upper case, digits, symbols")
    if username and username.lower() in password.lower():
        problems.append("must not contain the user id")
    return problems


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    org_id: str
    roles: tuple[str, ...]
    jti: str


def issue_token(settings: Settings, user_id: str, org_id: str, roles: list[str]) -> tuple[str, int]:
    """A short-lived signed access token and its lifetime in seconds."""
    now = utcnow()
    ttl = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": user_id, "org": org_id, "roles": roles, "typ": "access",
        "iat": now, "nbf": now, "exp": now + ttl, "jti": secrets.token_hex(8), "iss": "fedhub",
    }
    return jwt.encode(claims, settings.secret_key, algorithm=TOKEN_ALG), int(ttl.total_seconds())


def decode_token(settings: Settings, token: str) -> TokenClaims | None:
    """Claims of a valid token, or None when forged, expired or malformed."""
    try:
        data = jwt.decode(token, settings.secret_key, algorithms=[TOKEN_ALG], issuer="fedhub",
                          options={"require": ["exp", "sub", "iss"]})
    except jwt.PyJWTError:
        return None
    if data.get("typ") != "access":
        return None
    return TokenClaims(str(data["sub"]), str(data.get("org", "")),
                       tuple(data.get("roles", ())), str(data.get("jti", "")))


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, lookup prefix, stored hash). Keys are 256-bit random."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}_{prefix}_{secret}", prefix, hash_api_secret(secret)


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_api_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    return parts[1], parts[2]


def api_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_secret(secret), stored_hash)
