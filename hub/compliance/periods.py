"""Reporting periods: calendar arithmetic for monthly to annual schedules, labels, parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Frequency(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    semiannual = "semiannual"
    annual = "annual"


MONTHS = {Frequency.monthly: 1, Frequency.quarterly: 3, Frequency.semiannual: 6,
          Frequency.annual: 12}


@dataclass(frozen=True, order=True)
class Period:
    """``[start, end)``: the first day and the day after the last one."""

    start: date
    end: date

    @property
    def label(self) -> str:
        """``2026-Q1``, ``2026-03``, ``2026-H1``, ``2026`` when calendar-aligned, else a range."""
        s, months = self.start, _months_between(self.start, self.end)
        if s.day != 1 or months is None:
            return f"{s.isoformat()}/{self.end.isoformat()}"
        if months == 1:
            return f"{s.year}-{s.month:02d}"
        if months == 3 and s.month % 3 == 1:
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if months == 6 and s.month in (1, 7):
            return f"{s.year}-H{1 if s.month == 1 else 2}"
        if months == 12 and s.month == 1:
            return str(s.year)
        return f"{s.isoformat()}/{self.end.isoformat()}"


def add_months(d: date, months: int) -> date:
    """First-of-month arithmetic (``d`` must be the first of a month)."""
    index = d.year * 12 + (d.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _months_between(start: date, end: date) -> int | None:
    if start.day != 1 or end.day != 1:
        return None
    return (end.year - start.year) * 12 + end.month - start.month


def period_containing(day: date, frequency: Frequency, anchor_month: int = 1) -> Period:
    """The reporting period of the schedule that contains ``day``."""
    months = MONTHS[frequency]
    offset = (day.month - anchor_month) % months
    start = add_months(date(day.year, day.month, 1), -offset)
    return Period(start, add_months(start, months))


def last_ended(today: date, frequency: Frequency, anchor_month: int = 1) -> Period:
    """The most recent period that has ended by ``today``."""
    current = period_containing(today, frequency, anchor_month)
    return period_containing(current.start - timedelta(days=1), frequency, anchor_month)


def periods_between(first_day: date, today: date, frequency: Frequency,
                    anchor_month: int = 1) -> list[Period]:
    """Every period that contains a day on or after ``first_day`` and ended by ``today``."""
    out: list[Period] = []
    p = period_containing(first_day, frequency, anchor_month)
    while p.end <= today:
        out.append(p)
        p = Period(p.end, add_months(p.end, MONTHS[frequency]))
    return out


_PATTERNS = (
    (re.compile(r"^(\d{4})-Q([1-4])$"), lambda y, n: (date(y, 3 * n - 2, 1), 3)),
    (re.compile(r"^(\d{4})-H([12])$"), lambda y, n: (date(y, 6 * n - 5, 1), 6)),
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), lambda y, n: (date(y, n, 1), 1)),
)


def parse_period(text: str) -> Period:
    """``2026-Q1``, ``2026-H2``, ``2026-03``, ``2026`` or ``START/END`` (ISO dates)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        return Period(date(int(text), 1, 1), date(int(text) + 1, 1, 1))
    for pattern, make in _PATTERNS:
        m = pattern.match(text)
        if m:
            start, months = make(int(m.group(1)), int(m.group(2)))
            return Period(start, add_months(start, months))
    if "/" in text:
        a, _, b = text.partition("/")
        start, end = date.fromisoformat(a), date.fromisoformat(b)
        if end <= start:
            raise ValueError("the period's end is not after its start")
        return Period(start, end)
    raise ValueError(f"not a period: {text!r} (use 2026-Q1, 2026-H1, 2026-03, 2026 or "
                     "START/END dates)")
