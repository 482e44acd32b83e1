"""Seed courses shipped with fedhub: course metadata, markdown modules and question banks.

Each course lives in its own sub-package directory holding ``course.json`` (metadata and the
module list), one markdown file per module and ``questions.json`` (the question bank).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, model_validator

from training_portal.grading import AnyQuestion, Question

SEED_DIR = Path(__file__).parent
_QUESTIONS = TypeAdapter(list[Question])
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ModuleSpec(BaseModel):
    """One learning module: a markdown document."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=3)
    minutes: int = Field(ge=5, le=240)
    body: str = Field(min_length=200)


class CourseSpec(BaseModel):
    """A course, its modules, its assessment rules and its question bank."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=3)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    qualification: str = Field(min_length=3)
    summary: str = Field(min_length=20)
    validity_months: int = Field(ge=1, le=120)
    pass_mark: float = Field(gt=0, le=1)
    attempt_limit: int = Field(ge=1)
    time_limit_minutes: int = Field(ge=5)
    questions_per_attempt: int = Field(ge=1)
    modules: list[ModuleSpec] = Field(min_length=1)
    questions: list[AnyQuestion] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CourseSpec:
        module_ids = [m.id for m in self.modules]
        if len(set(module_ids)) != len(module_ids):
            raise ValueError(f"course {self.id}: duplicate module ids")
        question_ids = [q.id for q in self.questions]
        if len(set(question_ids)) != len(question_ids):
            raise ValueError(f"course {self.id}: duplicate question ids")
        for q in self.questions:
            if q.module not in module_ids:
                raise ValueError(f"course {self.id}: question {q.id} names unknown module "
                                 f"{q.module!r}")
        if self.questions_per_attempt > len(self.questions):
            raise ValueError(f"course {self.id}: draws {self.questions_per_attempt} questions "
                             f"from a bank of {len(self.questions)}")
        return self

    @property
    def total_minutes(self) -> int:
        """Estimated study time of all modules."""
        return sum(m.minutes for m in self.modules)


def load_course(directory: Path) -> CourseSpec:
    """Read and validate one course directory."""
    meta: dict[str, Any] = json.loads((directory / "course.json").read_text(encoding="utf-8"))
    modules = []
    for entry in meta.pop("modules"):
        body = (directory / entry.pop("file")).read_text(encoding="utf-8")
        heading = re.match(r"#\s+(.+)", body)
        if heading is None or heading.group(1).strip() != entry["title"]:
            raise ValueError(f"{directory.name}: module {entry['id']} must start with "
                             f"'# {entry['title']}'")
        modules.append(ModuleSpec(**entry, body=body))
    questions = _QUESTIONS.validate_json((directory / "questions.json").read_bytes())
    return CourseSpec(**meta, modules=modules, questions=questions)


def load_seed_courses(root: Path = SEED_DIR) -> list[CourseSpec]:
    """All seed courses, validated, in directory order."""
    return [load_course(d) for d in sorted(root.iterdir())
            if d.is_dir() and (d / "course.json").exists()]
