"""Ingest files into the site's local database, validated against a standard.

Formats: JSON Lines (``.jsonl``/``.ndjson``), a JSON array (``.json``) and CSV (``.csv``, with
dotted column names for nested fields: ``measurements.temperature.value``; numeric path parts
index lists: ``phases.0.name``). Every record is reported by file and line; invalid records are
not stored. Nothing is sent anywhere.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from site_agent.store import LocalStore
from standards import registry

SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv"}


@dataclass
class Problem:
    source: str
    line: int
    pointer: str
    message: str

    def __str__(self) -> str:
        where = f" {self.pointer}" if self.pointer else ""
        return f"{self.source}:{self.line}:{where} {self.message}"


@dataclass
class IngestReport:
    files: int = 0
    read: int = 0
    valid: int = 0
    stored: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return self.read - self.valid


Parsed = tuple[int, Any, str | None]  # (line, record or None, parse error)


def _jsonl(text: str) -> Iterator[Parsed]:
    for no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield no, json.loads(line), None
            except ValueError as exc:
                yield no, None, f"invalid JSON: {exc}"


def _json_array(text: str) -> Iterator[Parsed]:
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if pos >= len(text) or text[pos] != "[":
        if pos < len(text) and text[pos] == "{":  # a single object
            yield from _single(text, pos)
            return
        yield _line(text, pos), None, "expected a JSON array of records"
        return
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line = _line(text, pos)
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError as exc:
            yield line, None, f"invalid JSON: {exc}"
            return
        yield line, value, None
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)


def _single(text: str, pos: int) -> Iterator[Parsed]:
    try:
        yield _line(text, pos), json.loads(text), None
    except ValueError as exc:
        yield _line(text, pos), None, f"invalid JSON: {exc}"


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = target
    for part, nxt in itertools.pairwise(path):
        key: Any = int(part) if isinstance(node, list) else part
        if isinstance(node, list):
            while len(node) <= key:
                node.append(None)
            if node[key] is None:
                node[key] = [] if nxt.isdigit() else {}
            node = node[key]
        else:
            node = node.setdefault(key, [] if nxt.isdigit() else {})
    last = path[-1]
    if isinstance(node, list):
        idx = int(last)
        while len(node) <= idx:
            node.append(None)
        node[idx] = value
    else:
        node[last] = value


def _cell(value: str) -> Any:
    """CSV cells are text; numbers and booleans become JSON values, the rest stays text."""
    low = value.strip().lower()
    if low in {"true", "false"}:
        return low == "true"
    try:
        return int(value) if value.strip().lstrip("-").isdigit() else float(value)
    except ValueError:
        return value


def _csv(text: str) -> Iterator[Parsed]:
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        record: dict[str, Any] = {}
        for column, value in row.items():
            if column is None or value is None or value == "":
                continue
            _set_path(record, column.strip().split("."), _cell(value))
        yield reader.line_num, record, None


def read_file(path: Path) -> Iterator[Parsed]:
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return _jsonl(text)
    if suffix == ".csv":
        return _csv(text)
    return _json_array(text)


def files_in(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return [target]


def ingest(store: LocalStore, target: Path, schema_id: str, chunk: int = 5000) -> IngestReport:
    """Validate every record in ``target`` (a file or directory) and store the valid ones."""
    std = registry.get_by_id(schema_id)
    report = IngestReport()
    for path in files_in(target):
        report.files += 1
        source = str(path)
        batch: list[tuple[int, Any]] = []
        for line, record, error in read_file(path):
            report.read += 1
            if error is not None:
                report.problems.append(Problem(source, line, "", error))
                continue
            batch.append((line, record))
            if len(batch) >= chunk:
                _flush(store, std, source, batch, report)
                batch = []
        _flush(store, std, source, batch, report)
    return report


def _flush(store: LocalStore, std: Any, source: str, batch: list[tuple[int, Any]],
           report: IngestReport) -> None:
    if not batch:
        return
    reports = std.validate_many([r for _, r in batch])
    good: list[tuple[str, int, Any]] = []
    for (line, record), result in zip(batch, reports, strict=True):
        if result.ok:
            good.append((source, line, record))
        else:
            report.problems += [Problem(source, line, v.pointer, v.message) for v in result.errors]
    report.valid += len(good)
    new = store.add_records(std.id, good)
    report.stored += new
    report.duplicates += len(good) - new
