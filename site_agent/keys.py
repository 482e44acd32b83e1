"""The site's key pair: generated at the site, private key never leaves it.

Flower 1.41 SuperNodes load ``--auth-supernode-private-key`` with ``load_ssh_private_key`` and
require an ECDSA key; ``flwr supernode register`` reads the public key with
``load_ssh_public_key`` and accepts only NIST curves. So the site key is ECDSA P-384 (the curve
Flower itself generates) in OpenSSH format: ``site_key`` (private, mode 0600) and
``site_key.pub``. The same key proves possession to the hub and opens the API key the hub
seals to it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PRIVATE_NAME, PUBLIC_NAME = "site_key", "site_key.pub"
SEAL_ALG = "ECDH-ES+HKDF-SHA256+A256GCM"
SEAL_INFO = b"fedhub-sealed-credential/1"


def generate(directory: Path, comment: str = "fedhub-site") -> tuple[Path, Path]:
    """Create a new P-384 key pair in ``directory``; refuses to overwrite an existing one."""
    directory.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    if priv_path.exists():
        raise FileExistsError(f"{priv_path} exists; a site keeps its key (rotate to replace)")
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption())
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub_path.write_text(f"{public_text(key)} {comment}\n")
    return priv_path, pub_path


def load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_ssh_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an ECDSA private key")
    return key


def public_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The OpenSSH public key line (without comment)."""
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def fingerprint(key: ec.EllipticCurvePrivateKey) -> str:
    """``SHA256:<base64>`` of the public key blob (as ``ssh-keygen -l`` prints it)."""
    blob = base64.b64decode(public_text(key).split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.HashAlgorithm:
    size = key.curve.key_size
    return hashes.SHA256() if size <= 256 else hashes.SHA384() if size <= 384 else hashes.SHA512()


def proof(key: ec.EllipticCurvePrivateKey, site_id: str, purpose: str) -> dict[str, str]:
    """A fresh proof of possession the hub checks against the registered public key."""
    timestamp = datetime.now(UTC).isoformat()
    nonce = secrets.token_hex(16)
    msg = f"fedhub-site-proof/1\n{site_id}\n{purpose}\n{timestamp}\n{nonce}".encode()
    sig = key.sign(msg, ec.ECDSA(_hash_for(key)))
    return {"timestamp": timestamp, "nonce": nonce, "signature": base64.b64encode(sig).decode()}


def open_sealed(key: ec.EllipticCurvePrivateKey, sealed: dict[str, str], context: str) -> bytes:
    """Decrypt a secret the hub sealed to this site's public key."""
    if sealed.get("alg") != SEAL_ALG:
        raise ValueError(f"unsupported sealing algorithm {sealed.get('alg')!r}")
    epk = ec.EllipticCurvePublicKey.from_encoded_point(key.curve,
                                                       base64.b64decode(sealed["epk"]))
    shared = key.exchange(ec.ECDH(), epk)
    aes = HKDF(hashes.SHA256(), 32, salt=None, info=SEAL_INFO + b"|" + context.encode()
               ).derive(shared)
    return AESGCM(aes).decrypt(base64.b64decode(sealed["nonce"]),
                               base64.b64decode(sealed["ciphertext"]), context.encode())
