"""Streaming readers for screen inputs: SMILES lists, CSV tables and SDF files."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

Format = Literal["smiles", "csv", "sdf"]
MAX_RECORDS = 1_000_000
SMILES_COLUMNS = (
    "smiles", "canonical_smiles", "isomeric_smiles", "canonical smiles", "smi", "mol_smiles",
    "structure", "molecule",
)  # fmt: skip
ID_COLUMNS = (
    "id", "name", "compound_id", "molecule_id", "mol_id", "cmpd_id", "compound", "identifier",
    "chembl_id", "title", "molecule_name", "compound_name",
)  # fmt: skip
_EXTENSIONS: dict[str, Format] = {
    ".smi": "smiles", ".smiles": "smiles", ".txt": "smiles", ".ism": "smiles",
    ".csv": "csv", ".tsv": "csv", ".sdf": "sdf", ".sd": "sdf", ".mol": "sdf",
}  # fmt: skip
_SDF_PROP = re.compile(r"^>\s*.*?<([^>]+)>")


class ScreenInputError(ValueError):
    """A screen input that cannot be read at all (not a per-molecule failure)."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        """Plain-JSON form."""
        return {"code": self.code, "detail": self.detail, "field": self.field}


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One molecule as submitted: row (line or SDF record number), id and structure text."""

    row: int
    id: str
    structure: str
    kind: Literal["smiles", "molblock"] = "smiles"


Source = str | bytes | Path | IO[str] | IO[bytes] | Iterable[str]


def _lines(source: Source) -> Iterator[str]:
    """Lines of a source without holding a second copy of large text."""
    if isinstance(source, Path):
        with source.open(encoding="utf-8-sig", errors="strict", newline="") as fh:
            yield from fh
        return
    if isinstance(source, bytes):
        source = source.decode("utf-8-sig")
    if isinstance(source, str):
        text, pos = source, 0
        if text.startswith("\ufeff"):
            pos = 1
        while pos < len(text):
            end = text.find("\n", pos)
            if end < 0:
                yield text[pos:]
                return
            yield text[pos : end + 1]
            pos = end + 1
        return
    if isinstance(source, io.IOBase) or hasattr(source, "read"):
        for line in source:
            yield line.decode("utf-8-sig") if isinstance(line, bytes) else line
        return
    yield from source


def _checked(lines: Iterator[str]) -> Iterator[str]:
    try:
        yield from lines
    except UnicodeDecodeError as exc:
        raise ScreenInputError("unreadable-input", f"input is not UTF-8 text: {exc}") from exc


def detect_format(head: str, filename: str | None = None) -> Format:
    """Guess the format from a file name, else from the first lines of content."""
    if filename:
        ext = Path(filename).suffix.lower()
        if ext in _EXTENSIONS:
            return _EXTENSIONS[ext]
        if ext:
            raise ScreenInputError(
                "unknown-format", f"unsupported file type {ext!r}; use .smi, .csv or .sdf", "format"
            )
    if "M  END" in head or "$$$$" in head or "V2000" in head or "V3000" in head:
        return "sdf"
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    cells = [c.strip().strip('"').lower() for c in re.split(r"[,;\t]", first)]
    if len(cells) > 1 and any(c in SMILES_COLUMNS for c in cells):
        return "csv"
    return "smiles"


def _smiles_records(lines: Iterable[str]) -> Iterator[InputRecord]:
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 1)
        if n == 1 and parts[0].lower() in SMILES_COLUMNS:
            continue  # header line
        ident = parts[1].strip() if len(parts) > 1 else f"row-{n}"
        yield InputRecord(row=n, id=ident, structure=parts[0])


def _pick(header: list[str], wanted: str | None, names: tuple[str, ...], field: str) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.strip().lower() not in lowered:
            raise ScreenInputError(
                "missing-column", f"column {wanted!r} not found; columns are {header}", field
            )
        return lowered.index(wanted.strip().lower())
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _csv_records(
    lines: Iterator[str], smiles_column: str | None, id_column: str | None
) -> Iterator[InputRecord]:
    first = next(lines, None)
    if first is None:
        return
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(_chain_one(first, lines), delimiter=delimiter)
    header = next(reader)
    s_idx = _pick(header, smiles_column, SMILES_COLUMNS, "smiles_column")
    if s_idx is None:
        raise ScreenInputError(
            "missing-column",
            f"no SMILES column (looked for {', '.join(SMILES_COLUMNS)}); columns are {header}",
            "smiles_column",
        )
    i_idx = _pick(header, id_column, ID_COLUMNS, "id_column")
    for cells in reader:
        row = reader.line_num
        if not cells or not any(c.strip() for c in cells):
            continue
        smi = cells[s_idx].strip() if s_idx < len(cells) else ""
        ident = cells[i_idx].strip() if i_idx is not None and i_idx < len(cells) else ""
        yield InputRecord(row=row, id=ident or f"row-{row}", structure=smi)


def _chain_one(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _sdf_records(lines: Iterable[str], id_property: str | None) -> Iterator[InputRecord]:
    buf: list[str] = []
    n = 0
    for line in lines:
        if line.startswith("$$$$"):
            n += 1
            yield _sdf_record(n, buf, id_property)
            buf = []
        else:
            buf.append(line)
    if any(ln.strip() for ln in buf):
        n += 1
        yield _sdf_record(n, buf, id_property)


def _sdf_record(n: int, buf: list[str], id_property: str | None) -> InputRecord:
    name = buf[0].strip() if buf else ""
    ident = name
    if id_property is not None:
        ident = ""
        for k, line in enumerate(buf):
            m = _SDF_PROP.match(line)
            if m and m.group(1) == id_property and k + 1 < len(buf):
                ident = buf[k + 1].strip()
                break
    return InputRecord(
        row=n, id=ident or name or f"record-{n}", structure="".join(buf), kind="molblock"
    )


def iter_records(
    source: Source,
    fmt: Format | None = None,
    *,
    filename: str | None = None,
    smiles_column: str | None = None,
    id_column: str | None = None,
    id_property: str | None = None,
    max_records: int = MAX_RECORDS,
) -> Iterator[InputRecord]:
    """Stream the records of a screen input; raises `ScreenInputError` for unusable input.

    `source` is a `Path`, the text (or bytes) itself, a file object or an iterable of lines.
    Rows are 1-based line numbers for SMILES and CSV and record numbers for SDF.
    """
    if fmt is not None and fmt not in ("smiles", "csv", "sdf"):
        raise ScreenInputError("unknown-format", f"unknown format {fmt!r}", "format")
    if isinstance(source, Path) and filename is None:
        filename = source.name
    lines = _checked(_lines(source))
    head: list[str] = []
    if fmt is None:
        for line in lines:
            head.append(line)
            if len(head) >= 20:
                break
        fmt = detect_format("".join(head), filename)
    stream = _chain_many(head, lines)
    if fmt == "smiles":
        records = _smiles_records(stream)
    elif fmt == "csv":
        records = _csv_records(stream, smiles_column, id_column)
    else:
        records = _sdf_records(stream, id_property)
    count = 0
    for rec in records:
        count += 1
        if count > max_records:
            raise ScreenInputError(
                "too-many-records", f"a screen holds at most {max_records} molecules", "file"
            )
        yield rec
    if count == 0:
        raise ScreenInputError("empty-input", "the input holds no molecules", "file")


def _chain_many(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from head
    yield from rest


def count_records(
    source: Path,
    fmt: Format | None = None,
    *,
    smiles_column: str | None = None,
    id_column: str | None = None,
) -> int:
    """Number of records in a file (one streaming pass), for progress totals."""
    records = iter_records(source, fmt, smiles_column=smiles_column, id_column=id_column)
    return sum(1 for _ in records)
