"""Structural alerts: RDKit FilterCatalog hits (PAINS A/B/C, Brenk, NIH) via a sound prefilter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rdkit import Chem
from rdkit.Chem import rdfiltercatalog

from hub.screening.patterns import MolFeatures, PatternScreen

DEFAULT_CATALOGS: tuple[str, ...] = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH")
FILTER_CATALOGS: tuple[str, ...] = (
    *DEFAULT_CATALOGS,
    "ZINC",
    "CHEMBL_Glaxo",
    "CHEMBL_Dundee",
    "CHEMBL_BMS",
    "CHEMBL_MLSMR",
    "CHEMBL_Inpharmatica",
    "CHEMBL_LINT",
    "CHEMBL_SureChEMBL",
)
_PICKLE_MAGIC = b"\xef\xbe\xad\xde"


@dataclass(frozen=True, slots=True)
class AlertHit:
    """One alert found in a molecule: catalog family, alert name and matched atom indices."""

    family: str
    name: str
    atoms: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form."""
        return {"family": self.family, "name": self.name, "atoms": list(self.atoms)}


def build_catalog(catalogs: Sequence[str] = DEFAULT_CATALOGS) -> rdfiltercatalog.FilterCatalog:
    """An RDKit FilterCatalog holding the named catalogs."""
    params = rdfiltercatalog.FilterCatalogParams()
    for name in catalogs:
        params.AddCatalog(getattr(rdfiltercatalog.FilterCatalogParams.FilterCatalogs, name))
    return rdfiltercatalog.FilterCatalog(params)


def _smarts_matcher_header() -> bytes:
    """Archive prefix that introduces an entry whose top-level matcher is a SmartsMatcher."""
    probe = rdfiltercatalog.FilterCatalogEntry(
        "probe", rdfiltercatalog.SmartsMatcher("probe", "[#6]", 1)
    )
    data = probe.Serialize()
    return data[: data.index(b"5 probe")]


def entry_query(entry: rdfiltercatalog.FilterCatalogEntry, header: bytes) -> Chem.Mol | None:
    """The query molecule of an entry whose matcher is one SmartsMatcher with min count >= 1.

    Returns None for any other matcher shape (such entries are always matched in full).
    """
    data = entry.Serialize()
    if not data.startswith(header):
        return None
    m = re.match(rb"(\d+) ", data[len(header) :])
    if m is None:
        return None
    pos = len(header) + m.end() + int(m.group(1))  # skip the matcher's name
    m = re.match(rb" (\d+) ", data[pos:])
    if m is None or data[pos + m.end() : pos + m.end() + 4] != _PICKLE_MAGIC:
        return None
    start = pos + m.end()
    end = start + int(m.group(1))
    counts = re.match(rb" (\d+) (\d+) ", data[end:])
    if counts is None or int(counts.group(1)) < 1:
        return None
    try:
        return Chem.Mol(data[start:end])
    except Exception:
        return None


def _hit(entry: rdfiltercatalog.FilterCatalogEntry, matches: Sequence[Any]) -> AlertHit:
    atoms = sorted({int(pair[1]) for fm in matches for pair in fm.atomPairs})
    family = entry.GetProp("FilterSet") if "FilterSet" in entry.GetPropList() else "catalog"
    return AlertHit(family=family, name=entry.GetDescription(), atoms=tuple(atoms))


class AlertMatcher:
    """FilterCatalog alerts with per-entry prefilters; hits identical to `FilterCatalog`."""

    def __init__(self, catalogs: Sequence[str] = DEFAULT_CATALOGS) -> None:
        self.catalogs = tuple(catalogs)
        self.catalog = build_catalog(self.catalogs)
        self.entries = [
            self.catalog.GetEntryWithIdx(i) for i in range(self.catalog.GetNumEntries())
        ]
        header = _smarts_matcher_header()
        queries = [entry_query(e, header) for e in self.entries]
        self.queries = queries
        self.n_unscreened = sum(q is None for q in queries)
        self.screen = PatternScreen([q if q is not None else Chem.Mol() for q in queries])

    def match_many(
        self, mols: Sequence[Chem.Mol], features: MolFeatures | None = None
    ) -> list[list[AlertHit]]:
        """Alert hits for each molecule, in catalog order."""
        ok = self.screen.candidates(mols, features)
        out: list[list[AlertHit]] = []
        entries, queries = self.entries, self.queries
        for r, mol in enumerate(mols):
            hits = []
            for i in ok[r].nonzero()[0]:
                q = queries[i]
                if q is not None and not mol.HasSubstructMatch(q):
                    continue  # cheaper than building an empty match list
                matches = entries[i].GetFilterMatches(mol)
                if matches:
                    hits.append(_hit(entries[i], matches))
            out.append(hits)
        return out

    def match(self, mol: Chem.Mol) -> list[AlertHit]:
        """Alert hits for one molecule."""
        return self.match_many([mol])[0]

    def reference(self, mol: Chem.Mol) -> list[AlertHit]:
        """Hits the plain way (`FilterCatalog.GetMatches`), for verification and baselines."""
        return sorted(
            (_hit(e, e.GetFilterMatches(mol)) for e in self.catalog.GetMatches(mol)),
            key=lambda h: (h.family, h.name, h.atoms),
        )


@lru_cache(maxsize=4)
def get_alert_matcher(catalogs: tuple[str, ...] = DEFAULT_CATALOGS) -> AlertMatcher:
    """A process-wide cached matcher (building one takes ~0.2 s)."""
    return AlertMatcher(catalogs)
