"""`standards` command line (mounted as `fedhub standards …` and `site-agent standards …`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from standards import registry
from standards.base import Standard
from standards.report import ValidationReport, Violation

app = typer.Typer(
    help="Data-interface standards: list, show JSON Schemas, validate files.",
    no_args_is_help=True,
)
BATCH = 1000


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> typer.Exit:
    _err().print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _standard(schema_id: str) -> Standard:
    try:
        return registry.get_by_id(schema_id)
    except (registry.InvalidStandardId, registry.UnknownStandard) as exc:
        known = ", ".join(s.id for s in registry.default_registry().standards())
        raise _fail(f"{exc} (known: {known})", 2) from exc


@dataclass
class Record:
    """One record read from a file: where it came from, its data or a parse error."""

    label: str
    data: Any = None
    error: Violation | None = None


class UnreadableFile(Exception):
    """The file cannot be read or holds no JSON at all."""


def read_records(path: Path) -> list[Record]:
    """Records of a JSON object, a JSON array, or JSON Lines file (labelled by index/line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"cannot read {path}: {exc}") from exc
    if not text.strip():
        raise UnreadableFile(f"{path} is empty")
    try:
        whole = json.loads(text)
    except ValueError:
        records = list(_json_lines(text))
        if all(r.error is not None for r in records):
            raise UnreadableFile(f"{path} is neither JSON nor JSON Lines") from None
        return records
    if isinstance(whole, list):
        return [Record(f"[{i}]", item) for i, item in enumerate(whole)]
    return [Record("record", whole)]


def _json_lines(text: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Record(f"line {number}", json.loads(line))
        except ValueError as exc:
            yield Record(f"line {number}", error=Violation("", f"invalid JSON: {exc}", "json"))


def validate_records(standard: Standard, records: list[Record]) -> list[ValidationReport]:
    """Reports for records in order (batched through the standard's fast path)."""
    reports: list[ValidationReport] = [ValidationReport([], None, standard.id) for _ in records]
    todo = [i for i, r in enumerate(records) if r.error is None]
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        results = standard.validate_many([records[i].data for i in chunk])
        for i, rep in zip(chunk, results, strict=True):
            reports[i] = rep
    for i, rec in enumerate(records):
        if rec.error is not None:
            reports[i].errors = [rec.error]
    return reports


@app.command("list")
def list_standards() -> None:
    """List every standard with its status and most sensitive fields."""
    table = Table(title="fedhub standards", show_lines=False)
    for col in ("standard", "title", "status", "fields", "restricted (> consortium)"):
        table.add_column(col)
    for info in registry.catalog():
        status = f"deprecated → {info.superseded_by}" if info.deprecated else "current"
        restricted: dict[str, int] = {}
        for level in info.restricted_fields.values():
            restricted[level] = restricted.get(level, 0) + 1
        table.add_row(
            info.id,
            escape(info.title),
            status,
            str(sum(info.classification.values())),
            ", ".join(f"{n} {lvl}" for lvl, n in sorted(restricted.items())) or "—",
        )
    _console().print(table)


@app.command()
def show(
    schema: Annotated[str, typer.Argument(help="NAME/VERSION, e.g. sensor-reading/1.0.0")],
) -> None:
    """Print the JSON Schema (with x-classification on every field)."""
    standard = _standard(schema)
    sys.stdout.write(json.dumps(standard.json_schema(), indent=2, ensure_ascii=False) + "\n")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="JSON object, JSON array or JSON Lines file")],
    schema: Annotated[str, typer.Option("--schema", "-s", help="NAME/VERSION")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="list valid records")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON report per line")] = False,
) -> None:
    """Validate every record of FILE; exit 1 if any is invalid, 2 if unreadable."""
    standard = _standard(schema)
    if standard.deprecated:
        _err().print(
            f"[yellow]warning:[/] {standard.id} is deprecated; use {standard.superseded_by}"
        )
    try:
        records = read_records(file)
    except UnreadableFile as exc:
        raise _fail(str(exc), 2) from exc
    reports = validate_records(standard, records)
    invalid = sum(not r.ok for r in reports)
    if as_json:
        for rec, rep in zip(records, reports, strict=True):
            sys.stdout.write(json.dumps({"record": rec.label, **rep.as_dict()}) + "\n")
    else:
        out = _console()
        for rec, rep in zip(records, reports, strict=True):
            if not rep.ok:
                out.print(f"[red]✗[/] {escape(rec.label)}: {len(rep.errors)} error(s)")
                for e in rep.errors:
                    out.print(f"    [bold]{escape(e.pointer or '/')}[/]  {escape(e.message)}")
            elif verbose:
                out.print(f"[green]✓[/] {escape(rec.label)}")
        colour = "red" if invalid else "green"
        out.print(
            f"[{colour}]{len(records) - invalid} valid, {invalid} invalid[/] "
            f"of {len(records)} record(s) against {standard.id}"
        )
    if invalid:
        raise typer.Exit(1)


def main() -> None:
    """Run the standalone CLI."""
    app()


if __name__ == "__main__":
    main()
