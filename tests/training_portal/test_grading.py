"""Question validation, randomized draws, answer-free public views, grading and limits."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from training_portal.grading import (
    AnyQuestion,
    AttemptLimitReached,
    GradingError,
    MultipleChoice,
    Numeric,
    Option,
    Question,
    SingleChoice,
    TimeLimitExceeded,
    attempt_deadline,
    attempts_remaining,
    can_start_attempt,
    draw_questions,
    ensure_can_start,
    ensure_in_time,
    grade,
    public_view,
    submitted_in_time,
    time_remaining,
)

OPTS = [Option(id="a", text="Cleanup"), Option(id="b", text="Largest fragment"),
        Option(id="c", text="Uncharge"), Option(id="d", text="Canonical tautomer")]


def single(qid: str = "q1", answer: str = "a") -> SingleChoice:
    return SingleChoice(id=qid, prompt="Which step removes counter-ions?", options=OPTS,
                        answer=answer, explanation="FragmentParent keeps the largest fragment.")


def multiple(qid: str = "q2", answer: tuple[str, ...] = ("a", "c")) -> MultipleChoice:
    return MultipleChoice(id=qid, prompt="Which steps change the charge state or bonds?",
                          options=OPTS, answer=list(answer))


def numeric(qid: str = "q3", value: float = 1.333, tol: float = 0.01) -> Numeric:
    return Numeric(id=qid, prompt="USL 105, LSL 95, mean 101, sigma 1. Cpk?", value=value,
                   tolerance=tol, unit="")


def bank(size: int = 12) -> list[AnyQuestion]:
    out: list[AnyQuestion] = []
    for i in range(size):
        kind = i % 3
        q: AnyQuestion = (single(f"s{i}", "abcd"[i % 4]) if kind == 0
                          else multiple(f"m{i}") if kind == 1 else numeric(f"n{i}", 10.0 + i))
        out.append(q)
    return out


def test_questions_are_validated() -> None:
    with pytest.raises(ValidationError):
        SingleChoice(id="x", prompt="p", options=OPTS, answer="z")
    with pytest.raises(ValidationError):
        SingleChoice(id="x", prompt="p", options=[OPTS[0], OPTS[0]], answer="a")
    with pytest.raises(ValidationError):
        MultipleChoice(id="x", prompt="p", options=OPTS, answer=["a", "a"])
    with pytest.raises(ValidationError):
        MultipleChoice(id="x", prompt="p", options=OPTS, answer=[])
    with pytest.raises(ValidationError):
        Numeric(id="x", prompt="p", value=1, tolerance=-0.1)
    parsed = TypeAdapter(list[Question]).validate_python([
        {"type": "numeric", "id": "n", "prompt": "p", "value": 2, "tolerance": 0, "unit": "h"},
        {"type": "single_choice", "id": "s", "prompt": "p", "answer": "b",
         "options": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]},
    ])
    assert isinstance(parsed[0], Numeric) and isinstance(parsed[1], SingleChoice)


def test_draw_is_reproducible_distinct_and_keeps_answers() -> None:
    questions = bank(12)
    by_id = {q.id: q for q in questions}
    first = draw_questions(questions, 8, seed="attempt-1")
    assert [q.id for q in first] == [q.id for q in draw_questions(questions, 8, "attempt-1")]
    assert len({q.id for q in first}) == 8
    assert [q.id for q in first] != [q.id for q in draw_questions(questions, 8, "attempt-2")]
    for q in first:
        original = by_id[q.id]
        if isinstance(q, SingleChoice):
            assert isinstance(original, SingleChoice)
            assert [o.id for o in q.options] == ["A", "B", "C", "D"]
            drawn_text = next(o.text for o in q.options if o.id == q.answer)
            assert drawn_text == next(o.text for o in original.options if o.id == original.answer)
            assert sorted(o.text for o in q.options) == sorted(o.text for o in original.options)
        elif isinstance(q, MultipleChoice):
            assert isinstance(original, MultipleChoice)
            texts = {o.text for o in q.options if o.id in q.answer}
            assert texts == {o.text for o in original.options if o.id in original.answer}
    with pytest.raises(GradingError):
        draw_questions(questions, 13, seed=1)
    with pytest.raises(GradingError):
        draw_questions([single("dup"), single("dup")], 1, seed=1)


def test_correct_option_position_is_not_fixed() -> None:
    # the author always lists the right answer first; the drawn label must not tell
    labels = Counter(draw_questions([single(answer="a")], 1, seed=s)[0].answer  # type: ignore[union-attr]
                     for s in range(400))
    assert set(labels) == {"A", "B", "C", "D"}
    assert min(labels.values()) > 50  # roughly uniform (expected 100 each)


def test_public_view_leaks_nothing_about_the_answer() -> None:
    forbidden = {"answer", "value", "tolerance", "explanation", "correct"}
    for q in draw_questions(bank(12), 12, seed=7):
        view = public_view(q)
        assert not forbidden & set(view)
        text = json.dumps(view)
        assert "explanation" not in text and "FragmentParent" not in text
    # identical questions that differ only in their answer key look identical to the trainee
    pairs: list[tuple[AnyQuestion, AnyQuestion]] = [
        (single(answer="a"), single(answer="c")),
        (multiple(answer=("a",)), multiple(answer=("b", "c", "d"))),
        (numeric(value=1.333, tol=0.01), numeric(value=42.0, tol=5))]
    for a, b in pairs:
        assert json.dumps(public_view(a)) == json.dumps(public_view(b))
    n_view = public_view(numeric(value=987.654))
    assert "987" not in json.dumps(n_view) and set(n_view) == {"id", "type", "prompt", "points",
                                                               "unit"}


def _answer_like_a_trainee(q: AnyQuestion, right: bool) -> Any:
    if isinstance(q, SingleChoice):
        return q.answer if right else next(o.id for o in q.options if o.id != q.answer)
    if isinstance(q, MultipleChoice):
        return list(q.answer) if right else [*q.answer[:-1], "Z"]
    return q.value if right else q.value + q.tolerance + 1


def test_grade_scores_and_pass_mark() -> None:
    drawn = draw_questions(bank(10), 10, seed="g")
    all_right = {q.id: _answer_like_a_trainee(q, True) for q in drawn}
    result = grade(drawn, all_right)
    assert (result.score, result.passed, result.earned) == (1.0, True, 10)
    eight = {q.id: _answer_like_a_trainee(q, i < 8) for i, q in enumerate(drawn)}
    r8 = grade(drawn, eight, pass_mark=0.8)
    assert r8.score == pytest.approx(0.8) and r8.passed
    assert [r.correct for r in r8.results] == [True] * 8 + [False] * 2
    seven = {q.id: _answer_like_a_trainee(q, i < 7) for i, q in enumerate(drawn)}
    assert not grade(drawn, seven, pass_mark=0.8).passed
    partial = grade(drawn, {drawn[0].id: all_right[drawn[0].id]})
    assert partial.score == pytest.approx(0.1)
    assert sum(r.answered for r in partial.results) == 1
    with pytest.raises(GradingError):
        grade(drawn, {"not-in-attempt": "A"})


def test_multiple_choice_needs_the_exact_set() -> None:
    q = multiple(answer=("a", "c"))
    assert grade([q], {"q2": ["c", "a"]}).score == 1
    for wrong in (["a"], ["a", "b", "c"], ["a", "c", "c"], "a", [1, 2], None):
        assert grade([q], {"q2": wrong}).score == 0, wrong


def test_numeric_tolerance_units_and_junk() -> None:
    q = Numeric(id="n", prompt="Remaining excursion budget?", value=11.33, tolerance=0.1,
                unit="h")
    for ok in (11.33, 11.23, 11.43, "11.4", "11.3 h", " 11.30h "):
        assert grade([q], {"n": ok}).score == 1, ok
    for bad in (11, 11.44, 11.2, "eleven", "11.3 kg", True, float("nan"), float("inf"), [11.33]):
        assert grade([q], {"n": bad}).score == 0, bad
    exact = Numeric(id="e", prompt="Ro5 violations?", value=2, tolerance=0)
    assert grade([exact], {"e": 2}).passed and not grade([exact], {"e": 3}).passed


def test_points_weight_the_score() -> None:
    heavy = SingleChoice(id="h", prompt="p", options=OPTS, answer="b", points=3)
    light = SingleChoice(id="l", prompt="q", options=OPTS, answer="b")
    result = grade([heavy, light], {"h": "b", "l": "a"}, pass_mark=0.75)
    assert (result.earned, result.possible, result.passed) == (3, 4, True)


def test_attempt_limits() -> None:
    assert attempts_remaining(1, 3) == 2 and attempts_remaining(5, 3) == 0
    assert attempts_remaining(9, None) is None and can_start_attempt(99, None)
    assert can_start_attempt(2, 3) and not can_start_attempt(3, 3)
    ensure_can_start(2, 3)
    with pytest.raises(AttemptLimitReached):
        ensure_can_start(3, 3)


def test_time_limits() -> None:
    start = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert attempt_deadline(start, 45) == start + timedelta(minutes=45)
    assert attempt_deadline(start, None) is None
    assert time_remaining(start, start + timedelta(minutes=40), 45) == timedelta(minutes=5)
    assert time_remaining(start, start + timedelta(hours=2), 45) == timedelta(0)
    assert submitted_in_time(start, start + timedelta(minutes=45, seconds=20), 45)
    assert not submitted_in_time(start, start + timedelta(minutes=45, seconds=31), 45)
    assert not submitted_in_time(start, start + timedelta(minutes=45, seconds=1), 45,
                                 grace_seconds=0)
    assert not submitted_in_time(start, start - timedelta(seconds=1), 45)
    assert submitted_in_time(start, start + timedelta(days=9), None)
    with pytest.raises(TimeLimitExceeded):
        ensure_in_time(start, start + timedelta(minutes=50), 45)
    with pytest.raises(ValueError):
        submitted_in_time(datetime(2026, 4, 1, 8, 0), start, 45)  # naive timestamp
