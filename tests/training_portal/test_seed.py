"""Seed courses load and validate, and their computable answers are recomputed independently."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdMolDescriptors
from rdkit.Chem.Crippen import MolLogP  # type: ignore[attr-defined]
from rdkit.Chem.Descriptors import MolWt  # type: ignore[attr-defined]
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Chem.Lipinski import NumHAcceptors, NumHDonors  # type: ignore[attr-defined]

from training_portal.grading import (
    MultipleChoice,
    Numeric,
    SingleChoice,
    draw_questions,
    grade,
    public_view,
)
from training_portal.seed import CourseSpec, load_course, load_seed_courses

ATORVASTATIN = "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CCC(O)CC(O)CC(=O)O"

TOPICS = {
    "Molecular screening model application": [
        "rdMolStandardize", "Lipinski", "Veber", "PAINS", "applicability domain"],
    "Production line data analysis": ["ALCOA+", "control limits", "Cpk", "Alarm flood"],
    "Intelligent inspection system operation": [
        "AQL", "False reject rate", "override", "Knapp"],
    "Logistics information management": [
        "EPCIS", "excursion", "possessing_party", "errorDeclaration"],
}


@pytest.fixture(scope="module")
def courses() -> dict[str, CourseSpec]:
    return {c.title: c for c in load_seed_courses()}


def _question(courses: dict[str, CourseSpec], qid: str) -> SingleChoice | MultipleChoice | Numeric:
    return next(q for c in courses.values() for q in c.questions if q.id == qid)


def test_four_courses_with_complete_rules(courses: dict[str, CourseSpec]) -> None:
    assert set(courses) == set(TOPICS)
    assert len({c.id for c in courses.values()}) == 4
    for course in courses.values():
        assert course.qualification and course.version.count(".") == 2
        assert 1 <= course.validity_months <= 60
        assert 0.5 <= course.pass_mark <= 1
        assert course.attempt_limit >= 1 and course.time_limit_minutes >= 10
        assert 3 <= len(course.modules) <= 5
        assert len(course.questions) >= 12
        assert course.questions_per_attempt <= len(course.questions)


def test_modules_have_substance_and_cover_the_topics(courses: dict[str, CourseSpec]) -> None:
    for title, topics in TOPICS.items():
        course = courses[title]
        text = "\n".join(m.body for m in course.modules)
        for topic in topics:
            assert topic.lower() in text.lower(), (title, topic)
        for module in course.modules:
            assert len(module.body.split()) >= 350, module.id
            assert module.body.count("\n## ") >= 2, module.id  # organised into sections
            examined = [q for q in course.questions if q.module == module.id]
            assert len(examined) >= 2, f"module {module.id} is barely examined"


def test_every_question_is_explained_and_well_formed(courses: dict[str, CourseSpec]) -> None:
    all_ids = [q.id for c in courses.values() for q in c.questions]
    assert len(all_ids) == len(set(all_ids))
    for course in courses.values():
        kinds = {q.type for q in course.questions}
        assert kinds == {"single_choice", "multiple_choice", "numeric"}, course.id
        for q in course.questions:
            assert q.explanation and len(q.explanation) > 15, q.id
            if isinstance(q, SingleChoice | MultipleChoice):
                assert len(q.options) >= 4, q.id
                # "all of the above" style options defeat shuffling
                lazy = r"\b(all|none|both) of (the )?(above|these)"
                assert not any(re.search(lazy, o.text.lower()) for o in q.options), q.id


def test_a_full_attempt_per_course(courses: dict[str, CourseSpec]) -> None:
    for course in courses.values():
        drawn = draw_questions(course.questions, course.questions_per_attempt, seed=course.id)
        views = [public_view(q) for q in drawn]
        assert not any({"answer", "value", "tolerance", "explanation"} & set(v) for v in views)
        answers = {q.id: (q.value if isinstance(q, Numeric) else q.answer) for q in drawn}
        assert grade(drawn, answers, course.pass_mark).score == 1.0
        missing_three = {k: v for k, v in list(answers.items())[3:]}
        result = grade(drawn, missing_three, course.pass_mark)
        assert not result.passed  # 7/10 is below every seed course's pass mark


def test_loader_rejects_broken_courses(tmp_path: Path) -> None:
    src = Path(__file__).parents[2] / "training_portal" / "seed" / "molecular_screening"
    for f in src.iterdir():
        if f.suffix in {".json", ".md"}:
            (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_course(tmp_path).id == "molecular-screening"
    bank = json.loads((tmp_path / "questions.json").read_text(encoding="utf-8"))
    bank[0]["answer"] = "z"  # not an option
    (tmp_path / "questions.json").write_text(json.dumps(bank), encoding="utf-8")
    with pytest.raises(ValueError, match="not an option"):
        load_course(tmp_path)
    bank[0]["answer"] = "a"
    bank[1]["module"] = "no-such-module"
    (tmp_path / "questions.json").write_text(json.dumps(bank), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown module"):
        load_course(tmp_path)


# -- independent recomputation of answers ------------------------------------------------------
def _smiles(option_text: str) -> str:
    return option_text.split()[0]


def test_pains_question_matches_rdkit(courses: dict[str, CourseSpec]) -> None:
    q = _question(courses, "ms-09")
    assert isinstance(q, MultipleChoice)
    params = FilterCatalogParams()
    params.AddCatalog(FilterCatalogParams.FilterCatalogs.PAINS)
    catalog = FilterCatalog(params)
    matching = {o.id for o in q.options
                if catalog.HasMatch(Chem.MolFromSmiles(_smiles(o.text)))}
    assert matching == set(q.answer)


def test_atorvastatin_numbers_are_rdkits(courses: dict[str, CourseSpec]) -> None:
    mol = Chem.MolFromSmiles(ATORVASTATIN)
    props = {"MolWt": f"{MolWt(mol):.1f}", "MolLogP": f"{MolLogP(mol):.2f}",
             "NumHDonors": str(NumHDonors(mol)),
             "NumHAcceptors": str(NumHAcceptors(mol)),
             "rotatable bonds": str(rdMolDescriptors.CalcNumRotatableBonds(mol)),
             "TPSA": f"{rdMolDescriptors.CalcTPSA(mol):.1f}"}
    q = _question(courses, "ms-05")
    for name, value in props.items():
        assert re.search(rf"{value} {name}|{name} {value}", q.prompt), (name, value)
    violations = sum([MolWt(mol) > 500, MolLogP(mol) > 5,
                      NumHDonors(mol) > 5, NumHAcceptors(mol) > 10])
    assert isinstance(q, Numeric) and q.value == violations
    module = courses["Molecular screening model application"].modules[1].body
    assert ATORVASTATIN in module and props["MolWt"] in module and props["TPSA"] in module


def _tanimoto(a: int, b: int, c: int) -> float:
    fa, fb = DataStructs.ExplicitBitVect(2048), DataStructs.ExplicitBitVect(2048)
    for i in range(c):
        fa.SetBit(i)
        fb.SetBit(i)
    for i in range(a - c):
        fa.SetBit(1000 + i)
    for i in range(b - c):
        fb.SetBit(1500 + i)
    return float(DataStructs.TanimotoSimilarity(fa, fb))


def _gs1_check_digit(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _mkt_celsius(temps_c: list[float], dh_over_r: float = 83.144e3 / 8.3144) -> float:
    mean = sum(math.exp(-dh_over_r / (t + 273.15)) for t in temps_c) / len(temps_c)
    return dh_over_r / -math.log(mean) - 273.15


D2 = {2: 1.128, 5: 2.326}  # control chart constant d2 for subgroup size n

RECOMPUTE: dict[str, Callable[[], float]] = {
    "ms-12": lambda: _tanimoto(40, 50, 30),
    "ms-13": lambda: 3 * (9 + 1) / 200,
    "pd-06": lambda: 20.00 + 3 / (D2[5] * math.sqrt(5)) * 1.50,
    "pd-07": lambda: 50.0 + 3 / D2[2] * 2.0,
    "pd-09": lambda: 1 / math.erfc(3 / math.sqrt(2)),
    "pd-11": lambda: min(105 - 101, 101 - 95) / (3 * 1),
    "io-04": lambda: 100 * 12 / 300,
    "io-05": lambda: 100 * 230 / 250,
    "lg-03": lambda: _gs1_check_digit("400638133393"),
    "lg-11": lambda: 72 - 60 - 40 / 60,
    "lg-12": lambda: _mkt_celsius([20.0, 30.0]),
}


@pytest.mark.parametrize("qid", sorted(RECOMPUTE))
def test_numeric_answers_recomputed(courses: dict[str, CourseSpec], qid: str) -> None:
    q = _question(courses, qid)
    assert isinstance(q, Numeric)
    assert abs(RECOMPUTE[qid]() - q.value) <= q.tolerance, (qid, RECOMPUTE[qid](), q.value)


def test_choice_answers_backed_by_arithmetic(courses: dict[str, CourseSpec]) -> None:
    rmse = _question(courses, "ms-14")
    assert isinstance(rmse, SingleChoice)
    factor = f"{10 ** 0.58:.1f}"
    assert next(o.text for o in rmse.options if o.id == rmse.answer).endswith(factor)
    assert _gs1_check_digit("400638133393") == 1  # GS1's published example 4006381333931
    assert f"{_mkt_celsius([20.0, 30.0]):.1f}" in courses[
        "Logistics information management"].modules[2].body
