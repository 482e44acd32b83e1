"""The site key pair is exactly what Flower 1.41 SuperNode authentication accepts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from flwr.cli.supernode.register import try_load_public_key
from flwr.supercore.primitives.asymmetric import public_key_to_bytes

from hub.sites import crypto
from site_agent import keys


def test_keys_load_with_flowers_own_loaders(tmp_path: Path) -> None:
    priv_path, pub_path = keys.generate(tmp_path / "keys")
    # what `flwr supernode register <pubkey>` does with the public key file
    registered = try_load_public_key(pub_path)
    # what `flower-supernode --auth-supernode-private-key` does with the private key file
    private = load_ssh_private_key(priv_path.read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(private.curve, ec.SECP384R1)
    assert public_key_to_bytes(private.public_key()) == registered
    assert stat.S_IMODE(os.stat(priv_path).st_mode) == 0o600
    assert b"PRIVATE" not in pub_path.read_bytes()


def test_generate_never_overwrites_a_site_key(tmp_path: Path) -> None:
    keys.generate(tmp_path)
    with pytest.raises(FileExistsError):
        keys.generate(tmp_path)


def test_hub_and_agent_agree_on_fingerprint_proof_and_sealing(tmp_path: Path) -> None:
    priv_path, pub_path = keys.generate(tmp_path)
    key = keys.load_private(priv_path)
    pub = pub_path.read_text()
    assert crypto.fingerprint(crypto.load_public_key(pub)) == keys.fingerprint(key)
    proof = keys.proof(key, "site-1", "credentials")
    crypto.verify_proof(pub, "site-1", "credentials", proof["timestamp"], proof["nonce"],
                        proof["signature"])
    sealed = crypto.seal(pub, b"fhk_secret", context="site-1")
    assert keys.open_sealed(key, sealed, "site-1") == b"fhk_secret"
    with pytest.raises(InvalidTag):
        keys.open_sealed(key, sealed, "site-2")  # bound to the site it was sealed for
