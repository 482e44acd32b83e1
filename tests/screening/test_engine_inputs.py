"""Reading screen inputs: SMILES lists, CSV tables, SDF files, and their errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rdkit import Chem

from hub.screening.inputs import (
    InputRecord,
    ScreenInputError,
    count_records,
    detect_format,
    iter_records,
)


def test_smiles_list_with_ids_rows_and_comments() -> None:
    text = "# my screen\nCCO ethanol\n\nc1ccccc1\tbenzene ring\nCC(=O)O\n"
    recs = list(iter_records(text))
    assert [(r.row, r.id, r.structure) for r in recs] == [
        (2, "ethanol", "CCO"),
        (4, "benzene ring", "c1ccccc1"),
        (5, "row-5", "CC(=O)O"),
    ]


def test_smiles_header_line_is_skipped() -> None:
    recs = list(iter_records("SMILES id\nCCO a\n", "smiles"))
    assert [(r.row, r.id) for r in recs] == [(2, "a")]


def test_nci_file_streams_from_path(tmp_path: Path) -> None:
    path = tmp_path / "mols.smi"
    path.write_text("".join(f"{'C' * (i % 5 + 1)} m{i}\n" for i in range(1, 1001)))
    recs = iter_records(path)
    assert not isinstance(recs, list)  # a generator, not a materialised list
    first = next(recs)
    assert first == InputRecord(row=1, id="m1", structure="CC")
    assert count_records(path) == 1000


def test_csv_detects_common_headers() -> None:
    text = "Compound_ID,MW,Canonical_SMILES\nX-1,46,CCO\nX-2,78,c1ccccc1\n"
    recs = list(iter_records(text, filename="upload.csv"))
    assert [(r.row, r.id, r.structure) for r in recs] == [(2, "X-1", "CCO"), (3, "X-2", "c1ccccc1")]


def test_csv_sniffed_from_content_with_semicolons() -> None:
    text = "name;smiles\naspirin;CC(=O)Oc1ccccc1C(=O)O\n"
    assert detect_format(text) == "csv"
    (rec,) = iter_records(text)
    assert rec.id == "aspirin" and rec.structure.startswith("CC(=O)")


def test_csv_explicit_columns() -> None:
    text = "a,b,c\nCCO,x,first\nCCN,y,second\n"
    recs = list(iter_records(text, "csv", smiles_column="a", id_column="c"))
    assert [(r.id, r.structure) for r in recs] == [("first", "CCO"), ("second", "CCN")]


def test_csv_without_smiles_column_is_a_clear_error() -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records("id,weight\n1,2\n", "csv"))
    assert err.value.code == "missing-column"
    assert err.value.field == "smiles_column"
    assert "id" in err.value.detail and "weight" in err.value.detail


def test_csv_named_column_missing() -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records("smiles,name\nCCO,a\n", "csv", id_column="compound"))
    assert (err.value.code, err.value.field) == ("missing-column", "id_column")


def test_csv_without_id_column_numbers_rows() -> None:
    recs = list(iter_records("smiles\nCCO\nCCC\n", "csv"))
    assert [r.id for r in recs] == ["row-2", "row-3"]


def _sdf(names_and_smiles: list[tuple[str, str]], prop: str | None = None) -> str:
    buf = io.StringIO()
    writer = Chem.SDWriter(buf)
    for i, (name, smi) in enumerate(names_and_smiles):
        mol = Chem.MolFromSmiles(smi)
        mol.SetProp("_Name", name)
        if prop:
            mol.SetProp(prop, f"CMPD-{i}")
        writer.write(mol)
    writer.close()
    return buf.getvalue()


def test_sdf_ids_from_name_line() -> None:
    text = _sdf([("ethanol", "CCO"), ("benzene", "c1ccccc1")])
    recs = list(iter_records(text))
    assert [(r.row, r.id, r.kind) for r in recs] == [
        (1, "ethanol", "molblock"),
        (2, "benzene", "molblock"),
    ]
    assert Chem.MolToSmiles(Chem.MolFromMolBlock(recs[1].structure)) == "c1ccccc1"


def test_sdf_ids_from_named_property() -> None:
    text = _sdf([("", "CCO"), ("x", "CCN")], prop="corp_id")
    recs = list(iter_records(text, "sdf", id_property="corp_id"))
    assert [r.id for r in recs] == ["CMPD-0", "CMPD-1"]


def test_bytes_and_file_objects_and_bom() -> None:
    data = "\ufeffsmiles,id\nCCO,a\n".encode()
    assert [r.id for r in iter_records(data)] == ["a"]
    assert [r.id for r in iter_records(io.BytesIO(data))] == ["a"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_input(text: str) -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records(text))
    assert err.value.code == "empty-input"


def test_unknown_format_by_name_and_by_argument() -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records("CCO\n", filename="mols.xlsx"))
    assert (err.value.code, err.value.field) == ("unknown-format", "format")
    with pytest.raises(ScreenInputError):
        list(iter_records("CCO\n", "pdb"))  # type: ignore[arg-type]


def test_record_limit() -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records("C\n" * 11, max_records=10))
    assert err.value.code == "too-many-records"


def test_not_utf8() -> None:
    with pytest.raises(ScreenInputError) as err:
        list(iter_records(b"CCO \xff\xfe\n"))
    assert err.value.code == "unreadable-input"
