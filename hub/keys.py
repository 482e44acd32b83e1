"""The hub's Ed25519 signing keys: a rotating key store, JWKS publication and compact JWS.

Keys live in one directory as PEM files named after their RFC 7638 thumbprint (``kid``):
``<kid>.pem`` holds a private key (file mode 0600), ``<kid>.pub.pem`` its public half. A key
whose private file was removed (``retire``) stays verifiable: it is still published in the
JWKS, but nothing new is signed with it. The file ``ACTIVE`` names the signing key.
The module is generic: training certificates, status lists and compliance evidence-bundle
manifests all use it, so it lives in the hub (the training portal depends on the hub).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
ACTIVE_FILE = "ACTIVE"
LOCK_FILE = ".lock"


class KeyStoreError(Exception):
    """Base for key store and JWS problems."""


class InsecureKeyFile(KeyStoreError):
    """A private key file is readable by group or others."""


class UnknownKey(KeyStoreError):
    """The JWS names a key that the JWKS does not hold."""


class BadSignature(KeyStoreError):
    """The JWS signature does not verify (or the token is not a well-formed JWS)."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; accepts missing padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The public key as an OKP JWK (RFC 8037) with its thumbprint as ``kid``."""
    x = b64url(_raw_public(public))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": thumbprint_okp(x),
            "alg": ALGORITHM, "use": "sig"}


def thumbprint_okp(x: str, crv: str = "Ed25519") -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an OKP public key."""
    canonical = json.dumps({"crv": crv, "kty": "OKP", "x": x}, separators=(",", ":"),
                           sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key; ``private`` is ``None`` for a retired, verification-only key."""

    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> SigningKey:
        """Wrap a private key, deriving its ``kid``."""
        public = private.public_key()
        return cls(kid=public_jwk(public)["kid"], public=public, private=private)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key."""
        return cls.from_private(Ed25519PrivateKey.generate())

    def jwk(self) -> dict[str, str]:
        """The public JWK."""
        return public_jwk(self.public)


def sign_jws(
    payload: bytes, key: SigningKey, *, typ: str | None = None, cty: str | None = None
) -> str:
    """Compact JWS over ``payload`` with header ``alg=EdDSA``, ``kid`` and optional typ/cty."""
    if key.private is None:
        raise KeyStoreError(f"key {key.kid} is retired and cannot sign")
    headers: dict[str, Any] = {"kid": key.kid, "typ": typ}
    if cty:
        headers["cty"] = cty
    return jwt.api_jws.PyJWS().encode(payload, key.private, algorithm=ALGORITHM,
                                      headers=headers)


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, not yet verified."""
    try:
        header = json.loads(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadSignature(f"not a compact JWS: {exc}") from exc
    if not isinstance(header, dict) or token.count(".") != 2:
        raise BadSignature("not a compact JWS")
    return header


def find_jwk(jwks: Mapping[str, Any], kid: str | None) -> dict[str, Any] | None:
    """The OKP/Ed25519 JWK with this ``kid`` in a JWKS, if any."""
    for jwk in jwks.get("keys", []):
        if (isinstance(jwk, dict) and jwk.get("kid") == kid and jwk.get("kty") == "OKP"
                and jwk.get("crv") == "Ed25519"):
            return jwk
    return None


def verify_jws(token: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS against a JWKS; return ``(header, payload bytes)``."""
    header = unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise BadSignature(f"unsupported alg {header.get('alg')!r}; expected {ALGORITHM}")
    jwk = find_jwk(jwks, header.get("kid"))
    if jwk is None:
        raise UnknownKey(f"key {header.get('kid')!r} is not in the JWKS")
    try:
        public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        decoded = jwt.api_jws.PyJWS().decode_complete(token, public, algorithms=[ALGORITHM])
    except (jwt.exceptions.InvalidTokenError, ValueError) as exc:
        raise BadSignature(f"signature does not verify: {exc}") from exc
    return header, bytes(decoded["payload"])


class KeyStore:
    """Signing keys in a directory (or only in memory when ``directory`` is ``None``)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._keys: dict[str, SigningKey] = {}
        self._created: dict[str, float] = {}
        self._active: str | None = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            self._load()

    @classmethod
    def ephemeral(cls) -> KeyStore:
        """An in-memory store (tests, one-off tools)."""
        return cls(None)

    # -- loading and persistence -------------------------------------------------------
    def _load(self) -> None:
        assert self.directory is not None
        self._keys.clear()
        self._created.clear()
        for path in sorted(self.directory.glob("*.pub.pem")):
            public = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(public, Ed25519PublicKey):
                raise KeyStoreError(f"{path.name} is not an Ed25519 public key")
            key = SigningKey(kid=public_jwk(public)["kid"], public=public)
            self._keys[key.kid] = key
        for path in sorted(self.directory.glob("*.pem")):
            if path.name.endswith(".pub.pem"):
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if os.name == "posix" and mode & 0o077:
                raise InsecureKeyFile(f"{path} has mode {mode:o}; private keys must be 0600")
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise KeyStoreError(f"{path.name} is not an Ed25519 private key")
            key = SigningKey.from_private(private)
            self._keys[key.kid] = key
            self._created[key.kid] = path.stat().st_mtime
        active_path = self.directory / ACTIVE_FILE
        active = active_path.read_text().strip() if active_path.exists() else None
        self._active = active if active in self._keys else None

    def _write(self, key: SigningKey) -> None:
        assert self.directory is not None and key.private is not None
        pem = key.private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        pub = key.public.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
        self._atomic_write(f"{key.kid}.pub.pem", pub, 0o644)
        self._atomic_write(f"{key.kid}.pem", pem, 0o600)

    def _atomic_write(self, name: str, data: bytes, mode: int) -> None:
        """Write via a hidden temporary file so a concurrent reader never sees half a key."""
        assert self.directory is not None
        tmp = self.directory / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.directory / name)

    def _set_active(self, kid: str) -> None:
        self._active = kid
        if self.directory is not None:
            tmp = self.directory / f"{ACTIVE_FILE}.tmp"
            tmp.write_text(kid + "\n")
            os.replace(tmp, self.directory / ACTIVE_FILE)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize key creation across processes sharing the directory."""
        if self.directory is None:
            yield
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX
            yield
            return
        with open(self.directory / LOCK_FILE, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self._load()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- public API ---------------------------------------------------------------------
    @property
    def keys(self) -> list[SigningKey]:
        """All keys, signing and retired."""
        return list(self._keys.values())

    def get(self, kid: str) -> SigningKey | None:
        """The key with this ``kid``."""
        return self._keys.get(kid)

    def reload(self) -> None:
        """Re-read the directory (another process may have rotated the key)."""
        if self.directory is not None:
            self._load()

    def active(self) -> SigningKey:
        """The signing key, generated on first use."""
        if self._active is not None:
            return self._keys[self._active]
        with self._locked():
            if self._active is None:
                signable = [k.kid for k in self._keys.values() if k.private is not None]
                if not signable:
                    return self._add_new()
                self._set_active(max(signable, key=lambda kid: self._created.get(kid, 0.0)))
            assert self._active is not None
            return self._keys[self._active]

    def _add_new(self) -> SigningKey:
        key = SigningKey.generate()
        if self.directory is not None:
            self._write(key)
        self._keys[key.kid] = key
        self._created[key.kid] = time.time()
        self._set_active(key.kid)
        return key

    def add(self, private: Ed25519PrivateKey, *, activate: bool = True) -> SigningKey:
        """Import an existing private key (e.g. from an HSM export or a test vector)."""
        key = SigningKey.from_private(private)
        with self._locked():
            if key.kid not in self._keys or self._keys[key.kid].private is None:
                if self.directory is not None:
                    self._write(key)
                self._keys[key.kid] = key
            if activate:
                self._set_active(key.kid)
        return key

    def rotate(self) -> SigningKey:
        """Make a new signing key; earlier keys stay in the JWKS for verification."""
        with self._locked():
            return self._add_new()

    def retire(self, kid: str) -> None:
        """Destroy a key's private half; it still verifies what it signed."""
        with self._locked():
            key = self._keys.get(kid)
            if key is None:
                raise UnknownKey(f"no key {kid!r}")
            if kid == self._active:
                raise KeyStoreError("rotate before retiring the active key")
            if self.directory is not None:
                (self.directory / f"{kid}.pem").unlink(missing_ok=True)
            self._keys[kid] = SigningKey(kid=kid, public=key.public)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set: every key, signing or retired, never a private part."""
        if not self._keys:
            self.active()
        return {"keys": [k.jwk() for k in self._keys.values()]}

    def sign_jws(self, payload: bytes, *, typ: str | None = None, cty: str | None = None) -> str:
        """Compact JWS over ``payload`` with the active key."""
        return sign_jws(payload, self.active(), typ=typ, cty=cty)

    def verify(self, token: str) -> tuple[dict[str, Any], bytes]:
        """Check a JWS against this store's own keys."""
        return verify_jws(token, self.jwks())


_STORES: dict[Path, KeyStore] = {}
_STORES_LOCK = threading.Lock()


def key_dir(data_dir: Path | str) -> Path:
    """Where the hub keeps its signing keys: ``<data_dir>/keys``."""
    return Path(data_dir) / "keys"


def hub_key_store(data_dir: Path | str) -> KeyStore:
    """The hub's key store for this data directory (one instance per process and directory)."""
    directory = key_dir(data_dir).resolve()
    with _STORES_LOCK:
        store = _STORES.get(directory)
        if store is None:
            store = _STORES[directory] = KeyStore(directory)
        return store
