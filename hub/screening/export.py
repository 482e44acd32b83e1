"""Streaming CSV and SDF export of screening results with every computed field."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

from rdkit import Chem
from rdkit.Chem import rdDepictor

from hub.screening.results import MoleculeResult, RecordFailure

PROPERTY_FIELDS = (
    "mw", "clogp", "tpsa", "hbd", "hba", "rotatable_bonds", "aromatic_rings", "heavy_atoms",
    "fsp3", "qed", "sa_score",
)  # fmt: skip


def _prediction_names(first: MoleculeResult | None) -> list[str]:
    return [p.name for p in first.predictions] if first is not None else []


def fields(prediction_names: Sequence[str] = ()) -> list[str]:
    """Column names of the export, in order."""
    cols = ["rank", "id", "ids", "rows", "smiles", "inchikey", "input_smiles", "priority"]
    cols += list(PROPERTY_FIELDS)
    cols += ["lipinski_pass", "lipinski_violations", "veber_pass", "veber_violations"]
    cols += ["alert_count", "alerts", "alert_atoms"]
    for name in prediction_names:
        cols += [f"pred_{name}", f"pred_{name}_in_domain"]
    cols += ["standardization", "priority_terms", "rank_reason"]
    return cols


def record(m: MoleculeResult, prediction_names: Sequence[str] = ()) -> dict[str, str]:
    """One molecule as flat text fields."""
    row: dict[str, str] = {
        "rank": "" if m.rank is None else str(m.rank),
        "id": m.id,
        "ids": ";".join(m.ids),
        "rows": ";".join(str(r) for r in m.rows),
        "smiles": m.smiles,
        "inchikey": m.inchikey,
        "input_smiles": m.input_smiles,
        "priority": f"{m.priority:.4f}",
    }
    props = m.properties.to_dict()
    for name in PROPERTY_FIELDS:
        v = props[name]
        row[name] = f"{v:.4f}" if isinstance(v, float) else str(v)
    row["lipinski_pass"] = str(m.lipinski.passed).lower()
    row["lipinski_violations"] = "; ".join(m.lipinski.violations)
    row["veber_pass"] = str(m.veber.passed).lower()
    row["veber_violations"] = "; ".join(m.veber.violations)
    row["alert_count"] = str(len(m.alerts))
    row["alerts"] = "; ".join(f"{a.family}: {a.name}" for a in m.alerts)
    row["alert_atoms"] = "; ".join(" ".join(str(i) for i in a.atoms) for a in m.alerts)
    for name in prediction_names:
        p = m.prediction(name)
        row[f"pred_{name}"] = "" if p is None else f"{p.value:.4f}"
        row[f"pred_{name}_in_domain"] = "" if p is None else str(p.in_domain).lower()
    row["standardization"] = "; ".join(m.standardization)
    row["priority_terms"] = json.dumps(m.priority_terms, sort_keys=True)
    row["rank_reason"] = m.rank_reason or ""
    return row


def iter_csv(
    molecules: Iterable[MoleculeResult], prediction_names: Sequence[str] | None = None
) -> Iterator[str]:
    """CSV text, header first, one line per molecule (for streaming responses)."""
    it = iter(molecules)
    first = next(it, None)
    names = list(prediction_names) if prediction_names is not None else _prediction_names(first)
    cols = fields(names)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for m in itertools.chain([first] if first is not None else [], it):
        writer.writerow(record(m, names))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


def write_csv(
    molecules: Iterable[MoleculeResult], out: IO[str], prediction_names: Sequence[str] | None = None
) -> int:
    """Write CSV to a text stream; returns the number of molecules written."""
    count = 0

    def counted() -> Iterator[MoleculeResult]:
        nonlocal count
        for m in molecules:
            count += 1
            yield m

    for chunk in iter_csv(counted(), prediction_names):
        out.write(chunk)
    return count


def _sd_value(text: str) -> str:
    # SD data lines must not be blank (a blank line ends the field)
    return "\n".join(line if line.strip() else "." for line in text.splitlines()) or ""


def iter_sdf(
    molecules: Iterable[MoleculeResult], prediction_names: Sequence[str] | None = None
) -> Iterator[str]:
    """SDF records (2D coordinates, every field as an SD tag), one string per molecule."""
    it = iter(molecules)
    first = next(it, None)
    names = list(prediction_names) if prediction_names is not None else _prediction_names(first)
    for m in itertools.chain([first] if first is not None else [], it):
        mol = Chem.MolFromSmiles(m.smiles)
        if mol is None:
            continue
        rdDepictor.Compute2DCoords(mol)
        mol.SetProp("_Name", m.id)
        parts = [Chem.MolToMolBlock(mol)]
        for key, value in record(m, names).items():
            parts.append(f">  <{key}>\n{_sd_value(value)}\n\n")
        parts.append("$$$$\n")
        yield "".join(parts)


def write_sdf(
    molecules: Iterable[MoleculeResult], out: IO[str], prediction_names: Sequence[str] | None = None
) -> int:
    """Write SDF to a text stream; returns the number of molecules written."""
    n = 0
    for text in iter_sdf(molecules, prediction_names):
        out.write(text)
        n += 1
    return n


def write_failures_csv(failures: Iterable[RecordFailure], out: IO[str]) -> int:
    """Write the records that could not be screened (row, id, structure, stage, reason)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "id", "structure", "stage", "reason"])
    n = 0
    for f in failures:
        writer.writerow([f.row, f.id, f.structure, f.stage, f.reason])
        n += 1
    return n
