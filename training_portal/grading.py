"""Assessment questions, randomized draws, answer-free public views, grading and attempt limits.

A drawn question is a copy of the bank question with its options shuffled and relabelled
``A``, ``B``, ``C``… in display order, so neither the option order nor its id says which option
was the bank author's correct one. The drawn questions (with answers) stay on the server; the
client only ever sees :func:`public_view`.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PASS_MARK = 0.8


class GradingError(ValueError):
    """Answers that do not belong to the attempt, or an impossible draw."""


class AttemptLimitReached(GradingError):
    """No attempts are left for this course."""


class TimeLimitExceeded(GradingError):
    """The attempt was submitted after its deadline."""


class Option(BaseModel):
    """One answer option."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    module: str | None = None  # the course module the question examines
    explanation: str | None = None  # shown after grading, never before
    points: int = Field(default=1, ge=1)


class _Choice(_Base):
    options: list[Option] = Field(min_length=2)

    def _check_options(self, answer_ids: list[str]) -> None:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id}: option ids must be unique")
        if len(set(o.text for o in self.options)) != len(ids):
            raise ValueError(f"question {self.id}: option texts must be distinct")
        unknown = set(answer_ids) - set(ids)
        if unknown:
            raise ValueError(f"question {self.id}: answer {sorted(unknown)} is not an option")


class SingleChoice(_Choice):
    """Exactly one option is correct."""

    type: Literal["single_choice"] = "single_choice"
    answer: str

    @model_validator(mode="after")
    def _valid(self) -> SingleChoice:
        self._check_options([self.answer])
        return self


class MultipleChoice(_Choice):
    """Select all that apply: the chosen set must equal the correct set."""

    type: Literal["multiple_choice"] = "multiple_choice"
    answer: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> MultipleChoice:
        if len(set(self.answer)) != len(self.answer):
            raise ValueError(f"question {self.id}: duplicate correct options")
        self._check_options(self.answer)
        return self


class Numeric(_Base):
    """A number in ``unit``, correct within ± ``tolerance``."""

    type: Literal["numeric"] = "numeric"
    value: float
    tolerance: float = Field(ge=0)
    unit: str = ""

    @model_validator(mode="after")
    def _valid(self) -> Numeric:
        if not math.isfinite(self.value):
            raise ValueError(f"question {self.id}: value must be finite")
        return self


Question = Annotated[SingleChoice | MultipleChoice | Numeric, Field(discriminator="type")]
AnyQuestion = SingleChoice | MultipleChoice | Numeric


def draw_questions(bank: Sequence[AnyQuestion], n: int, seed: int | str) -> list[AnyQuestion]:
    """``n`` distinct questions in random order with shuffled, relabelled options."""
    if not 0 < n <= len(bank):
        raise GradingError(f"cannot draw {n} questions from a bank of {len(bank)}")
    if len({q.id for q in bank}) != len(bank):
        raise GradingError("question ids in the bank must be unique")
    rng = random.Random(seed)  # noqa: S311 - reproducible draw; the seed is the secret
    drawn: list[AnyQuestion] = []
    for question in rng.sample(list(bank), n):
        if isinstance(question, SingleChoice | MultipleChoice):
            drawn.append(_shuffled(question, rng))
        else:
            drawn.append(question)
    return drawn


def _shuffled(question: SingleChoice | MultipleChoice, rng: random.Random) -> Any:
    order = list(question.options)
    rng.shuffle(order)
    labels = _labels(len(order))
    relabel = {opt.id: label for opt, label in zip(order, labels, strict=True)}
    options = [Option(id=label, text=opt.text) for opt, label in zip(order, labels, strict=True)]
    if isinstance(question, SingleChoice):
        return question.model_copy(update={"options": options,
                                           "answer": relabel[question.answer]})
    return question.model_copy(update={"options": options,
                                       "answer": sorted(relabel[a] for a in question.answer)})


def _labels(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return [letters[i] if n <= 26 else f"{letters[i // 26]}{letters[i % 26]}" for i in range(n)]


def public_view(question: AnyQuestion) -> dict[str, Any]:
    """What the trainee sees: prompt, options or unit; no answer, value, tolerance or hint."""
    view: dict[str, Any] = {"id": question.id, "type": question.type, "prompt": question.prompt,
                            "points": question.points}
    if isinstance(question, SingleChoice | MultipleChoice):
        view["options"] = [{"id": o.id, "text": o.text} for o in question.options]
    else:
        view["unit"] = question.unit
    return view


class QuestionResult(BaseModel):
    """How one question was answered."""

    question_id: str
    answered: bool
    correct: bool
    points: int
    earned: int


class GradeResult(BaseModel):
    """Score in 0..1 (points earned / points available), pass flag and per-question results."""

    score: float = Field(ge=0, le=1)
    passed: bool
    pass_mark: float
    earned: int
    possible: int
    results: list[QuestionResult]


def _number(raw: Any, unit: str) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if unit and text.endswith(unit):
            text = text[: -len(unit)].strip()
        try:
            return float(text)
        except ValueError:
            return None
    return None


def is_correct(question: AnyQuestion, answer: Any) -> bool:
    """Whether ``answer`` is right for this (drawn) question; malformed answers are wrong."""
    if isinstance(question, SingleChoice):
        return isinstance(answer, str) and answer == question.answer
    if isinstance(question, MultipleChoice):
        if not isinstance(answer, list | tuple | set | frozenset):
            return False
        chosen = list(answer)
        return (all(isinstance(a, str) for a in chosen) and len(set(chosen)) == len(chosen)
                and set(chosen) == set(question.answer))
    value = _number(answer, question.unit)
    if value is None or not math.isfinite(value):
        return False
    slack = 1e-9 * max(1.0, abs(question.value))  # decimal inputs are not exact in binary
    return abs(value - question.value) <= question.tolerance + slack


def grade(
    questions: Sequence[AnyQuestion], answers: Mapping[str, Any],
    pass_mark: float = DEFAULT_PASS_MARK,
) -> GradeResult:
    """Grade an attempt; unanswered questions score zero; unknown question ids are refused."""
    if not 0 <= pass_mark <= 1:
        raise GradingError("pass mark must lie in 0..1")
    if not questions:
        raise GradingError("an attempt needs at least one question")
    unknown = set(answers) - {q.id for q in questions}
    if unknown:
        raise GradingError(f"answers for questions not in this attempt: {sorted(unknown)}")
    results = []
    for q in questions:
        answered = q.id in answers and answers[q.id] not in (None, "", [])
        correct = answered and is_correct(q, answers[q.id])
        results.append(QuestionResult(question_id=q.id, answered=answered, correct=correct,
                                      points=q.points, earned=q.points if correct else 0))
    earned = sum(r.earned for r in results)
    possible = sum(r.points for r in results)
    passed = earned >= pass_mark * possible - 1e-9
    return GradeResult(score=earned / possible, passed=passed, pass_mark=pass_mark,
                       earned=earned, possible=possible, results=results)


# -- attempt and time limits (pure: the caller supplies counts and timestamps) -----------------
def _aware(*stamps: datetime) -> None:
    if any(s.tzinfo is None or s.utcoffset() is None for s in stamps):
        raise ValueError("timestamps must be timezone-aware")


def attempts_remaining(attempts_used: int, attempt_limit: int | None) -> int | None:
    """Attempts left (``None`` when unlimited)."""
    if attempt_limit is None:
        return None
    return max(0, attempt_limit - attempts_used)


def can_start_attempt(attempts_used: int, attempt_limit: int | None) -> bool:
    """Whether another attempt may start."""
    left = attempts_remaining(attempts_used, attempt_limit)
    return left is None or left > 0


def ensure_can_start(attempts_used: int, attempt_limit: int | None) -> None:
    """Raise :class:`AttemptLimitReached` when no attempt is left."""
    if not can_start_attempt(attempts_used, attempt_limit):
        raise AttemptLimitReached(f"all {attempt_limit} attempts have been used")


def attempt_deadline(started_at: datetime, time_limit_minutes: int | None) -> datetime | None:
    """When the attempt must be submitted (``None`` when untimed)."""
    _aware(started_at)
    return None if time_limit_minutes is None else started_at + timedelta(
        minutes=time_limit_minutes)


def time_remaining(
    started_at: datetime, now: datetime, time_limit_minutes: int | None
) -> timedelta | None:
    """Time left before the deadline, never negative (``None`` when untimed)."""
    _aware(started_at, now)
    deadline = attempt_deadline(started_at, time_limit_minutes)
    return None if deadline is None else max(timedelta(0), deadline - now)


def submitted_in_time(
    started_at: datetime, submitted_at: datetime, time_limit_minutes: int | None,
    grace_seconds: int = 30,
) -> bool:
    """Whether a submission beats the deadline (plus a grace period for network latency)."""
    _aware(started_at, submitted_at)
    if submitted_at < started_at:
        return False
    deadline = attempt_deadline(started_at, time_limit_minutes)
    return deadline is None or submitted_at <= deadline + timedelta(seconds=grace_seconds)


def ensure_in_time(
    started_at: datetime, submitted_at: datetime, time_limit_minutes: int | None,
    grace_seconds: int = 30,
) -> None:
    """Raise :class:`TimeLimitExceeded` for a late submission."""
    if not submitted_in_time(started_at, submitted_at, time_limit_minutes, grace_seconds):
        raise TimeLimitExceeded(f"submitted after the {time_limit_minutes}-minute limit")
