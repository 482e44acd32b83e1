"""Offline check of an evidence bundle: signed manifest, every file's SHA-256, audit excerpt.

Pure functions (no database, no network): ``fedhub compliance verify`` and the tests use them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.compliance.excerpt import verify_excerpt
from hub.keys import KeyStoreError, verify_jws

MANIFEST = "manifest.json"
MANIFEST_JWS = "manifest.jws"
JWKS = "jwks.json"
AUDIT_EXCERPT = "audit-excerpt.json"
BUNDLE_FORMAT = "fedhub-evidence-bundle/1"
MANIFEST_TYP = "fedhub-manifest+jws"


@dataclass
class FileCheck:
    name: str
    status: str  # ok | altered | missing | extra
    detail: str = ""


@dataclass
class BundleVerification:
    """The outcome: ``ok`` only when the signature, every file and the excerpt check out."""

    ok: bool = False
    signature: str = "not checked"
    key_source: str = "bundle"
    manifest: dict[str, Any] | None = None
    files: list[FileCheck] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def bad_files(self) -> list[FileCheck]:
        return [f for f in self.files if f.status != "ok"]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "signature": self.signature, "key_source": self.key_source,
                "files": [f.__dict__ for f in self.files], "audit_excerpt": self.audit,
                "problems": self.problems,
                "submission_id": (self.manifest or {}).get("submission_id")}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_all(zf: zipfile.ZipFile) -> tuple[dict[str, bytes], list[str]]:
    files: dict[str, bytes] = {}
    duplicates = []
    for info in zf.infolist():
        if info.is_dir():
            continue
        if info.filename in files:
            duplicates.append(info.filename)
        files[info.filename] = zf.read(info)
    return files, duplicates


def verify_bundle(bundle: bytes | str | Path,
                  jwks: dict[str, Any] | None = None) -> BundleVerification:
    """Check a bundle against ``jwks`` (the hub's published keys) or, failing that, the JWKS
    inside the bundle (which proves integrity but not who signed: say which was used)."""
    out = BundleVerification(key_source="given" if jwks is not None else "bundle")
    data = bundle if isinstance(bundle, bytes) else Path(bundle).read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files, duplicates = _read_all(zf)
    except (zipfile.BadZipFile, OSError) as exc:
        out.problems.append(f"not a readable ZIP file: {exc}")
        return out
    for name in duplicates:
        out.problems.append(f"{name}: appears more than once in the ZIP")
    for required in (MANIFEST, MANIFEST_JWS):
        if required not in files:
            out.files.append(FileCheck(required, "missing"))
    if MANIFEST_JWS not in files:
        out.problems.append(f"{MANIFEST_JWS} is missing: the bundle cannot be authenticated")
        return out
    keys = jwks
    if keys is None:
        try:
            keys = json.loads(files[JWKS]) if JWKS in files else None
        except ValueError:
            keys = None
        if keys is None:
            out.problems.append(f"no usable {JWKS} in the bundle and none given (--jwks)")
            return out
    try:
        header, payload = verify_jws(files[MANIFEST_JWS].decode("ascii", "replace").strip(),
                                     keys)
    except KeyStoreError as exc:
        out.signature = f"invalid: {exc}"
        out.files.append(FileCheck(MANIFEST_JWS, "altered", str(exc)))
        out.problems.append(f"{MANIFEST_JWS}: the manifest signature does not verify ({exc})")
        return out
    out.signature = f"valid (key {header.get('kid')})"
    try:
        manifest = json.loads(payload)
    except ValueError:
        out.problems.append("the signed manifest is not JSON")
        return out
    out.manifest = manifest
    if MANIFEST in files:
        same = files[MANIFEST] == payload
        out.files.append(FileCheck(MANIFEST, "ok" if same else "altered",
                                   "" if same else "differs from the signed manifest"))
    listed = {}
    for entry in manifest.get("files", []):
        name = str(entry.get("name"))
        listed[name] = entry
        if name not in files:
            out.files.append(FileCheck(name, "missing", "listed in the manifest"))
            continue
        digest = sha256(files[name])
        if digest != entry.get("sha256"):
            out.files.append(FileCheck(name, "altered",
                                       f"sha256 {digest} ≠ manifest {entry.get('sha256')}"))
        else:
            out.files.append(FileCheck(name, "ok"))
    for name in sorted(files):
        if name not in listed and name not in (MANIFEST, MANIFEST_JWS):
            out.files.append(FileCheck(name, "extra", "not listed in the signed manifest"))
    excerpt_ok = any(f.name == AUDIT_EXCERPT and f.status == "ok" for f in out.files)
    if excerpt_ok:
        try:
            out.audit = verify_excerpt(json.loads(files[AUDIT_EXCERPT]))
        except ValueError:
            out.audit = ["the audit excerpt is not JSON"]
    for f in out.bad_files():
        out.problems.append(f"{f.name}: {f.status}" + (f" ({f.detail})" if f.detail else ""))
    out.problems += [f"{AUDIT_EXCERPT}: {p}" for p in out.audit]
    out.ok = not out.problems
    return out
