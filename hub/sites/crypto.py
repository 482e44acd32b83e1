"""Site key handling at the hub: OpenSSH ECDSA public keys, proof of possession, sealing.

Flower 1.41 SuperNodes authenticate with an OpenSSH-format ECDSA private key on a NIST curve
(``flower-supernode --auth-supernode-private-key``); ``flwr supernode register`` loads the
public key with ``load_ssh_public_key`` and refuses non-EC keys and non-NIST curves. The hub
accepts exactly that kind of key. The agent proves it holds the private key by signing a
fresh challenge, and the hub seals the site's API key to the public key (ECDH-ES + HKDF-SHA256
+ AES-256-GCM), so only that site can open it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.db import utcnow
from hub.errors import AuthenticationRequired, ValidationFailed

NIST_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
SEAL_ALG = "ECDH-ES+HKDF-SHA256+A256GCM"
SEAL_INFO = b"fedhub-sealed-credential/1"
PROOF_WINDOW = timedelta(minutes=5)


def _bad_key(message: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid site public key: {message}",
                            errors=[{"pointer": "/public_key", "message": message}])


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """Parse an OpenSSH ``ecdsa-sha2-nistp*`` public key; 422 naming /public_key otherwise."""
    try:
        key = serialization.load_ssh_public_key(text.strip().encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _bad_key("not an OpenSSH public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise _bad_key("must be an ECDSA key (Flower SuperNode authentication)")
    if not isinstance(key.curve, NIST_CURVES):
        raise _bad_key(f"curve {key.curve.name} is not an approved NIST curve")
    return key


def openssh(key: ec.EllipticCurvePublicKey) -> str:
    """The canonical OpenSSH text of a key (comments dropped)."""
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """``SHA256:<base64>`` of the key blob, as ``ssh-keygen -l`` prints it."""
    blob = base64.b64decode(openssh(key).split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _hash_for(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    size = key.curve.key_size
    return hashes.SHA256() if size <= 256 else hashes.SHA384() if size <= 384 else hashes.SHA512()


def proof_message(site_id: str, purpose: str, timestamp: str, nonce: str) -> bytes:
    """The exact bytes a site signs to prove it holds its private key."""
    return f"fedhub-site-proof/1\n{site_id}\n{purpose}\n{timestamp}\n{nonce}".encode()


def verify_proof(public_key: str, site_id: str, purpose: str, timestamp: str, nonce: str,
                 signature_b64: str) -> None:
    """Check a fresh proof of possession; raises 401 when it does not hold."""
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError as exc:
        raise AuthenticationRequired("Proof timestamp is not ISO 8601") from exc
    if when.tzinfo is None or abs(utcnow() - when) > PROOF_WINDOW:
        raise AuthenticationRequired("Proof timestamp is too old or in the future; check the "
                                     "site clock")
    key = load_public_key(public_key)
    msg = proof_message(site_id, purpose, timestamp, nonce)
    try:
        key.verify(base64.b64decode(signature_b64), msg, ec.ECDSA(_hash_for(key)))
    except (InvalidSignature, ValueError) as exc:
        raise AuthenticationRequired("Proof of key possession failed") from exc


def seal(public_key: str, plaintext: bytes, context: str) -> dict[str, Any]:
    """Encrypt ``plaintext`` so that only the holder of the site's private key can read it."""
    recipient = load_public_key(public_key)
    ephemeral = ec.generate_private_key(recipient.curve)
    shared = ephemeral.exchange(ec.ECDH(), recipient)
    key = HKDF(hashes.SHA256(), 32, salt=None, info=SEAL_INFO + b"|" + context.encode()
               ).derive(shared)
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, plaintext, context.encode())
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
    b64 = base64.b64encode
    return {"alg": SEAL_ALG, "epk": b64(epk).decode(), "nonce": b64(nonce).decode(),
            "ciphertext": b64(ct).decode()}
