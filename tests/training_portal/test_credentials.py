"""Signing keys, JWS, Bitstring Status Lists and Open Badges 3.0 JWT-VC certificates."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.keys import (
    BadSignature,
    InsecureKeyFile,
    KeyStore,
    UnknownKey,
    b64url,
    b64url_decode,
    verify_jws,
)
from training_portal.credentials import (
    OB_CONTEXT,
    AchievementInfo,
    AttemptEvidence,
    Holder,
    IssuerProfile,
    add_months,
    build_credential,
    decode_unverified,
    sign_vc,
    verify_credential,
)
from training_portal.status_list import (
    MIN_BITS,
    StatusList,
    StatusListError,
    StatusListFull,
    allocate_index,
    build_status_list_credential,
    sign_status_list_credential,
    status_entry,
)

# RFC 8037 Appendix A: Ed25519 private key, its public x, RFC 7638 thumbprint and a JWS.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_JWS = ("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPO"
               "t7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
# W3C Bitstring Status List v1.0, example status list credential: an all-zero 16 KiB list.
SPEC_ENCODED_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"

HUB = "https://hub.example.org"
LIST_URL = f"{HUB}/training/status/1"
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


# -- keys and JWS ------------------------------------------------------------------------------
def test_rfc8037_vectors() -> None:
    keys = KeyStore.ephemeral()
    key = keys.add(Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_D)))
    jwk = key.jwk()
    assert (jwk["kty"], jwk["crv"], jwk["x"], jwk["kid"]) == ("OKP", "Ed25519", RFC8037_X,
                                                              RFC8037_KID)
    assert key.private is not None
    # the RFC's JWS has no kid; Ed25519 is deterministic, so an identical header gives it back
    token = jwt.api_jws.PyJWS().encode(b"Example of Ed25519 signing", key.private,
                                       algorithm="EdDSA", headers={"typ": None})
    assert token == RFC8037_JWS
    signed = keys.sign_jws(b"Example of Ed25519 signing")
    header, payload = verify_jws(signed, keys.jwks())
    assert header["kid"] == RFC8037_KID and payload == b"Example of Ed25519 signing"


def test_keystore_generates_persists_and_protects(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    first = KeyStore(directory).active()
    pem = directory / f"{first.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert KeyStore(directory).active().kid == first.kid  # loaded, not regenerated
    jwks = KeyStore(directory).jwks()
    assert [k["kid"] for k in jwks["keys"]] == [first.kid]
    assert all("d" not in k for k in jwks["keys"])
    os.chmod(pem, 0o644)
    with pytest.raises(InsecureKeyFile):
        KeyStore(directory)


def test_two_processes_share_one_first_key(tmp_path: Path) -> None:
    # both stores open the empty directory before either has made a key
    a, b = KeyStore(tmp_path), KeyStore(tmp_path)
    assert a.active().kid == b.active().kid
    assert len(list(tmp_path.glob("*.pem"))) == 2  # one private + one public file
    assert not list(tmp_path.glob(".*.tmp"))


def test_rotation_keeps_old_keys_verifiable(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    old_token = keys.sign_jws(b"manifest v1")
    old_kid = keys.active().kid
    new = keys.rotate()
    assert new.kid != old_kid
    new_token = keys.sign_jws(b"manifest v2")
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    reopened = KeyStore(tmp_path)
    assert reopened.active().kid == new.kid
    assert reopened.verify(old_token)[1] == b"manifest v1"
    reopened.retire(old_kid)
    assert not (tmp_path / f"{old_kid}.pem").exists()
    after = KeyStore(tmp_path)
    assert {k["kid"] for k in after.jwks()["keys"]} == {old_kid, new.kid}
    assert after.verify(old_token)[1] == b"manifest v1"
    with pytest.raises(Exception, match="active"):
        after.retire(new.kid)


def test_jws_rejects_tampering_and_unknown_keys() -> None:
    keys, other = KeyStore.ephemeral(), KeyStore.ephemeral()
    token = keys.sign_jws(b'{"sha256":"ab"}', typ="fedhub-manifest+jws")
    head, _body, sig = token.split(".")
    forged = ".".join([head, b64url(b'{"sha256":"cd"}'), sig])
    with pytest.raises(BadSignature):
        verify_jws(forged, keys.jwks())
    with pytest.raises(UnknownKey):
        verify_jws(token, other.jwks())
    with pytest.raises(BadSignature):
        verify_jws("not-a-token", keys.jwks())


# -- status list -------------------------------------------------------------------------------
def test_spec_encoded_list_decodes_to_minimum_all_zero_list() -> None:
    lst = StatusList.decode(SPEC_ENCODED_LIST)
    assert lst.size == MIN_BITS == 131_072
    assert lst.set_indices() == []


def test_bit_order_and_round_trip() -> None:
    lst = StatusList()
    lst.set(0)
    lst.set(9)
    lst.set(MIN_BITS - 1)
    raw = lst.to_bytes()
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000 and raw[-1] == 0b0000_0001
    encoded = lst.encode()
    assert encoded.startswith("u") and "=" not in encoded
    back = StatusList.decode(encoded)
    assert back.set_indices() == [0, 9, MIN_BITS - 1]
    back.set(9, False)
    assert not back.get(9) and back.get(0)
    with pytest.raises(StatusListError):
        lst.get(MIN_BITS)
    with pytest.raises(StatusListError):
        StatusList(1024)
    with pytest.raises(StatusListError):
        StatusList.decode("u" + b64url(b"\x1f\x8b not gzip"))


def test_allocate_index() -> None:
    taken: set[int] = set()
    for _ in range(200):
        taken.add(allocate_index(taken))
    assert len(taken) == 200 and all(0 <= i < MIN_BITS for i in taken)
    assert allocate_index({0, 1, 2}, sequential=True) == 3
    almost = set(range(MIN_BITS)) - {77}
    assert allocate_index(almost, attempts=1) == 77
    with pytest.raises(StatusListFull):
        allocate_index(set(range(MIN_BITS)))


# -- certificates ------------------------------------------------------------------------------
ISSUER = IssuerProfile(id=HUB, name="fedhub training portal", url=HUB)


def _credential(index: int = 42, *, valid_from: datetime = T0,
                months: int = 24) -> dict[str, Any]:
    return build_credential(
        credential_id="urn:uuid:3f0e7a52-6f5c-4d8e-9a64-2c1b7d9e0a11",
        issuer=ISSUER,
        holder=Holder(name="Amara Okafor", id="urn:uuid:0c6a2e1f-1111-4c2b-8f55-7f0d8c3b9e21",
                      email="Amara.Okafor@site-a.example", salt="s4lt"),
        achievement=AchievementInfo(
            id=f"{HUB}/training/achievements/molecular-screening",
            name="Molecular screening model application",
            description="Applies the consortium screening models to candidate molecules.",
            criteria="Pass the assessment of course molecular-screening with at least 80 %.",
            version="1.0.0"),
        evidence=AttemptEvidence(attempt_id="5b9d0c7e-2f4a-4f61-9d2e-8a1c3b5e7f90", score=0.875,
                                 pass_mark=0.8, course_id="molecular-screening",
                                 course_version="1.0.0"),
        valid_from=valid_from, valid_until=add_months(valid_from, months),
        status=status_entry(LIST_URL, index),
    )


def _status_token(keys: KeyStore, revoked: list[int], *, issuer: str = HUB,
                  url: str = LIST_URL) -> str:
    lst = StatusList()
    for i in revoked:
        lst.set(i)
    vc = build_status_list_credential(list_url=url, issuer=issuer, status_list=lst,
                                      valid_from=T0, valid_until=T0 + timedelta(days=3650))
    return sign_status_list_credential(vc, keys)


def test_credential_shape() -> None:
    vc = _credential()
    assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2", OB_CONTEXT]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["issuer"]["type"] == ["Profile"] and vc["issuer"]["id"] == HUB
    assert (vc["validFrom"], vc["validUntil"]) == ("2026-03-01T09:30:00Z", "2028-03-01T09:30:00Z")
    subject = vc["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["achievement"]["achievementType"] == "Certification"
    assert subject["achievement"]["type"] == ["Achievement"]
    assert subject["achievement"]["criteria"]["narrative"].startswith("Pass")
    email = next(i for i in subject["identifier"] if i["identityType"] == "emailAddress")
    assert email["hashed"] is True
    assert "okafor" not in json.dumps(email).lower()  # the address itself never appears
    evidence = vc["evidence"][0]
    assert evidence["score"] == 0.875 and evidence["courseVersion"] == "1.0.0"
    assert vc["credentialStatus"] == {
        "id": f"{LIST_URL}#42", "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "42",
        "statusListCredential": LIST_URL}


def test_jwt_vc_envelope_and_valid_certificate() -> None:
    keys = KeyStore.ephemeral()
    vc = _credential()
    token = sign_vc(vc, keys)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": keys.active().kid, "typ": "vc+jwt", "cty": "vc"}
    payload = decode_unverified(token)
    assert {k: payload[k] for k in vc} == vc  # the payload is the credential itself
    assert payload["iss"] == HUB and payload["jti"] == vc["id"]
    assert payload["sub"] == vc["credentialSubject"]["id"]
    assert payload["nbf"] == int(T0.timestamp())
    assert payload["exp"] == int(datetime(2028, 3, 1, 9, 30, tzinfo=UTC).timestamp())
    # any JWT library accepts it with the published key
    pyjwk = jwt.PyJWK(keys.jwks()["keys"][0])
    decoded = jwt.decode(token, pyjwk, algorithms=["EdDSA"], options={"verify_exp": False})
    assert decoded["jti"] == vc["id"]

    status = _status_token(keys, revoked=[7, 43])
    result = verify_credential(token, keys.jwks(), status_list_fetcher=lambda url: status,
                               now=T0 + timedelta(days=30))
    assert result.valid, result.checks
    assert [c.name for c in result.checks] == ["kid_known", "signature", "well_formed",
                                               "not_before", "not_expired", "status"]
    assert all(c.passed for c in result.checks)
    offline = verify_credential(token, keys.jwks(), now=T0 + timedelta(days=30))
    assert offline.valid and offline.check("status").outcome == "skip"


def test_tampered_certificate_fails_signature() -> None:
    keys = KeyStore.ephemeral()
    token = sign_vc(_credential(), keys)
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory"
    forged = ".".join([head, b64url(json.dumps(payload).encode()), sig])
    result = verify_credential(forged, keys.jwks(), now=T0 + timedelta(days=1))
    assert not result.valid
    assert result.check("kid_known").passed
    assert result.check("signature").outcome == "fail"


def test_expired_and_not_yet_valid() -> None:
    keys = KeyStore.ephemeral()
    token = sign_vc(_credential(months=12), keys)
    expired = verify_credential(token, keys.jwks(), now=T0 + timedelta(days=400))
    assert not expired.valid and expired.check("not_expired").outcome == "fail"
    assert expired.check("signature").passed and expired.check("not_before").passed
    early = verify_credential(token, keys.jwks(), now=T0 - timedelta(days=1))
    assert not early.valid and early.check("not_before").outcome == "fail"
    # the leeway absorbs small clock skew
    assert verify_credential(token, keys.jwks(), now=T0 - timedelta(seconds=30)).valid


def test_revoked_certificate_fails_status() -> None:
    keys = KeyStore.ephemeral()
    token = sign_vc(_credential(index=42), keys)
    now = T0 + timedelta(days=10)
    revoked = verify_credential(token, keys.jwks(), now=now,
                                status_list_fetcher=lambda url: _status_token(keys, [42]))
    assert not revoked.valid
    assert revoked.check("status").outcome == "fail"
    assert "revoked" in revoked.check("status").message
    neighbour = verify_credential(token, keys.jwks(), now=now,
                                  status_list_fetcher=lambda url: _status_token(keys, [41, 43]))
    assert neighbour.valid


def test_status_list_must_be_authentic_and_reachable() -> None:
    keys, forger = KeyStore.ephemeral(), KeyStore.ephemeral()
    token = sign_vc(_credential(index=5), keys)
    now = T0 + timedelta(days=10)

    def verify_with(fetch: Any) -> Any:
        return verify_credential(token, keys.jwks(), now=now, status_list_fetcher=fetch)

    # a list that clears the bit but is signed by someone else is not believed
    assert verify_with(lambda url: _status_token(forger, [])).check("status").outcome == "fail"
    other_issuer = verify_with(lambda url: _status_token(keys, [], issuer="https://evil.example"))
    assert other_issuer.check("status").outcome == "fail"
    wrong_list = verify_with(lambda url: _status_token(keys, [], url=f"{HUB}/status/2"))
    assert wrong_list.check("status").outcome == "fail"

    def unreachable(url: str) -> str:
        raise ConnectionError("hub unreachable")

    down = verify_with(unreachable)
    assert not down.valid and "unreachable" in down.check("status").message


def test_unknown_key_and_key_rotation() -> None:
    keys = KeyStore.ephemeral()
    token = sign_vc(_credential(), keys)
    now = T0 + timedelta(days=1)
    stranger = verify_credential(token, KeyStore.ephemeral().jwks(), now=now)
    assert not stranger.valid and stranger.check("kid_known").outcome == "fail"
    keys.rotate()
    assert verify_credential(token, keys.jwks(), now=now).valid  # old key still published
    garbage = verify_credential("eyJub3Q.a.jws", keys.jwks(), now=now)
    assert not garbage.valid and garbage.check("kid_known").outcome == "fail"
    assert garbage.check("signature").outcome == "skip"
    with pytest.raises(ValueError):
        verify_credential(token, keys.jwks(), now=datetime(2026, 3, 2))  # naive


def test_well_formedness_is_checked_after_the_signature() -> None:
    keys = KeyStore.ephemeral()
    vc = _credential()
    now = T0 + timedelta(days=1)
    # correctly signed, but the JWT exp claim says something else than validUntil
    lying = {**vc, "iss": HUB, "jti": vc["id"], "nbf": int(T0.timestamp()),
             "exp": int((T0 + timedelta(days=9999)).timestamp()),
             "sub": vc["credentialSubject"]["id"]}
    token = keys.sign_jws(json.dumps(lying).encode(), typ="vc+jwt")
    result = verify_credential(token, keys.jwks(), now=now)
    assert not result.valid and result.check("well_formed").outcome == "fail"
    assert "exp" in result.check("well_formed").message
    # a JWS the hub signed for another purpose is not a certificate
    manifest = keys.sign_jws(json.dumps({**vc}).encode(), typ="fedhub-manifest+jws")
    assert verify_credential(manifest, keys.jwks(), now=now).check("well_formed").outcome == "fail"
    no_subject = {k: v for k, v in vc.items() if k != "credentialSubject"}
    bad = sign_vc({**no_subject, "credentialSubject": {"type": ["AchievementSubject"]}}, keys)
    assert not verify_credential(bad, keys.jwks(), now=now).valid


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2027, 11, 30, tzinfo=UTC), 3) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 5, 15, tzinfo=UTC), 24) == datetime(2028, 5, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        build_credential(**{**_kwargs(), "valid_until": T0})


def _kwargs() -> dict[str, Any]:
    return {
        "credential_id": "urn:uuid:x", "issuer": ISSUER, "holder": Holder(name="A"),
        "achievement": AchievementInfo(id="a", name="n", description="d", criteria="c"),
        "evidence": AttemptEvidence(attempt_id="1", score=1, pass_mark=0.8, course_id="c",
                                    course_version="1"),
        "valid_from": T0, "valid_until": T0 + timedelta(days=1),
    }
