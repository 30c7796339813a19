"""Resolve relative time expressions in English chat text to absolute dates.

A memory that says "yesterday" means nothing a month later, so text is annotated when it
is said ("yesterday [7 May 2023]"). Questions go the other way: "what did I do last week?"
becomes a date window the retriever can filter on. Standard library only, so it runs
wherever the assistant does, with no model and no network.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Month names that are also everyday words ("you may go", "they march on", "an august
# body") count as months only when capitalised, on top of needing an anchor (see _RULES).
WORD_MONTHS = frozenset({"may", "march", "august"})
NUMBERS = {
    "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3, "a": 1, "an": 1,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
# Offsets in days from today for the fixed words.
DAY_WORDS = {
    "today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
    "yesterday": -1, "last night": -1, "the day before yesterday": -2,
    "tomorrow": 1, "the day after tomorrow": 2,
}  # fmt: skip
# Steps for last / this / next; "this past weekend" is the one just gone.
STEPS = {"last": -1, "this past": -1, "this": 0, "next": 1}
# A phrase that spells out a year is already absolute, so annotate() leaves it alone.
_HAS_YEAR = re.compile(r"\d{4}")

Resolved = tuple[date, date, str]


@dataclass(frozen=True)
class TimeRef:
    """One time expression found in a text, resolved to an inclusive date range."""

    phrase: str
    start: date
    end: date
    granularity: str  # "day" | "week" | "month" | "year" | "weekend"
    span: tuple[int, int]

    def label(self) -> str:
        """Human text for the range, as written into annotated memories."""
        if self.granularity == "day":
            return format_day(self.start)
        if self.granularity in ("week", "weekend"):
            return f"the {self.granularity} of {format_day(self.start)}"
        if self.granularity == "month":
            return f"{MONTHS[self.start.month - 1].title()} {self.start.year}"
        return str(self.start.year)


def format_day(day: date) -> str:
    """8 May 2023."""
    # Own month names rather than strftime("%B"), which follows the process locale.
    return f"{day.day} {MONTHS[day.month - 1].title()} {day.year}"


def _alternation(words: Iterable[str]) -> str:
    """Regex alternation, longest first so "a couple of" is tried before "a"."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(w.replace(" ", r"\s+") for w in ordered)


def _norm(words: str) -> str:
    return " ".join(words.lower().split())


def _add_months(day: date, months: int) -> date:
    """Shift by whole months, clamping the day (31 March minus a month is 28/29 February)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _day(day: date) -> Resolved:
    return day, day, "day"


def _week(day: date) -> Resolved:
    monday = day - timedelta(days=day.weekday())  # weeks run Monday..Sunday (ISO)
    return monday, monday + timedelta(days=6), "week"


def _weekend(day: date) -> Resolved:
    saturday = day + timedelta(days=5 - day.weekday())  # the weekend that closes day's week
    return saturday, saturday + timedelta(days=1), "weekend"


def _month(year: int, month: int) -> Resolved:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), "month"


def _year(year: int) -> Resolved:
    return date(year, 1, 1), date(year, 12, 31), "year"


def _resolve_day_word(m: re.Match[str], today: date) -> Resolved:
    return _day(today + timedelta(days=DAY_WORDS[_norm(m.group())]))


def _resolve_ago(m: re.Match[str], today: date) -> Resolved:
    n = int(m["n"]) if m["n"].isdigit() else NUMBERS[_norm(m["n"])]
    unit = m["unit"].lower()
    if unit == "day":
        return _day(today - timedelta(days=n))
    if unit == "week":
        return _week(today - timedelta(weeks=n))
    if unit == "month":
        shifted = _add_months(today, -n)
        return _month(shifted.year, shifted.month)
    return _year(today.year - n)


def _resolve_period(m: re.Match[str], today: date) -> Resolved:
    step, unit = STEPS[_norm(m["rel"])], m["unit"].lower()
    if unit == "week":
        return _week(today + timedelta(weeks=step))
    if unit == "weekend":
        return _weekend(today + timedelta(weeks=step))
    if unit == "month":
        shifted = _add_months(today.replace(day=1), step)
        return _month(shifted.year, shifted.month)
    return _year(today.year + step)


def _resolve_weekday(m: re.Match[str], today: date) -> Resolved:
    target, rel = WEEKDAYS.index(m["wd"].lower()), _norm(m["rel"])
    if rel == "next":  # the first one after today
        return _day(today + timedelta(days=(target - today.weekday()) % 7 or 7))
    if rel == "this":  # the one in the current Monday..Sunday week
        return _day(today + timedelta(days=target - today.weekday()))
    # "last", "this past" and bare "on" look back: chat mostly reports what happened.
    return _day(today - timedelta(days=(today.weekday() - target) % 7 or 7))


def _resolve_anchored_month(m: re.Match[str], today: date) -> Resolved:
    month, rel = MONTHS.index(m["mon"].lower()) + 1, m["rel"].lower()
    if rel == "next":
        year = today.year if month > today.month else today.year + 1
    elif rel == "last":
        year = today.year if month < today.month else today.year - 1
    elif rel == "this":
        year = today.year
    else:  # "in March": the most recent March not after now
        year = today.year if month <= today.month else today.year - 1
    return _month(year, month)


def _resolve_month_year(m: re.Match[str], today: date) -> Resolved:
    return _month(int(m["year"]), MONTHS.index(m["mon"].lower()) + 1)


def _resolve_dated(m: re.Match[str], today: date) -> Resolved | None:
    month, day = MONTHS.index(m["mon"].lower()) + 1, int(m["day"])
    years = [int(m["year"])] if m["year"] else [today.year - 1, today.year, today.year + 1]
    valid = [date(y, month, day) for y in years if 1 <= day <= calendar.monthrange(y, month)[1]]
    if not valid:  # "30 February": not a date, so not a match
        return None
    # Without a year take the nearest such day: people mention recent and upcoming dates.
    return _day(min(valid, key=lambda d: abs((d - today).days)))


def _resolve_iso(m: re.Match[str], today: date) -> Resolved | None:
    try:
        return _day(date(int(m["year"]), int(m["month"]), int(m["day"])))
    except ValueError:
        return None


def _resolve_year(m: re.Match[str], today: date) -> Resolved:
    return _year(int(m["year"]))


_MON = rf"(?P<mon>{'|'.join(MONTHS)})"
_REL = r"(?P<rel>last|this\s+past|this|next)"
_ORD = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4})\b)?"
_SUB = r"(?:(?:early|late|mid)[\s-]+)?"  # "in early March" still means March
_WD = rf"\b(?P<rel>last|this\s+past|this|next|on)\s+(?P<wd>{'|'.join(WEEKDAYS)})\b"
_ANCHOR = r"\b(?P<rel>in|since|during|early|late|last|next|this)\s+"
_RULES: list[tuple[str, Callable[[re.Match[str], date], Resolved | None]]] = [
    (rf"\b(?:{_alternation(DAY_WORDS)})\b", _resolve_day_word),
    (
        rf"\b(?P<n>\d{{1,3}}|{_alternation(NUMBERS)})\s+(?P<unit>day|week|month|year)s?\s+ago\b",
        _resolve_ago,
    ),
    (rf"\b{_REL}\s+(?P<unit>week|weekend|month|year)\b", _resolve_period),
    (_WD, _resolve_weekday),
    # A bare month name is too ambiguous ("march", "may"): it needs an anchor word (not
    # with a day after it: "since December 30" is a day)...
    (rf"{_ANCHOR}{_SUB}{_MON}\b(?!\s+\d)", _resolve_anchored_month),
    # ...or a year,
    (rf"\b(?:(?:in|since|during)\s+)?{_SUB}{_MON}\s+(?P<year>\d{{4}})\b", _resolve_month_year),
    # ...or a day number.
    (rf"\b(?:the\s+)?{_ORD}\s+(?:of\s+)?{_MON}\b{_YEAR}", _resolve_dated),
    (rf"\b{_MON}\s+{_ORD}\b{_YEAR}", _resolve_dated),
    (r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b", _resolve_iso),
    (r"\b(?:in|since|during)\s+(?P<year>(?:19|20)\d{2})\b", _resolve_year),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE), resolve) for pattern, resolve in _RULES]


def find_time_refs(text: str, now: datetime | date) -> list[TimeRef]:
    """All time expressions in text, resolved against now, in reading order.

    Explicit dates ("8 May 2023") are returned too. Where matches overlap the longest
    wins, so "the day before yesterday" is one reference, not "yesterday".
    """
    today = now.date() if isinstance(now, datetime) else now  # datetime subclasses date
    found: list[TimeRef] = []
    for pattern, resolve in _COMPILED:
        for m in pattern.finditer(text):
            mon = m.groupdict().get("mon")
            if mon and mon.lower() in WORD_MONTHS and not mon[0].isupper():
                continue
            resolved = resolve(m, today)
            if resolved is not None:
                found.append(TimeRef(m.group(), *resolved, span=m.span()))
    found.sort(key=lambda r: (r.span[0] - r.span[1], r.span[0]))  # longest, then leftmost
    kept: list[TimeRef] = []
    for ref in found:
        if all(ref.span[1] <= k.span[0] or ref.span[0] >= k.span[1] for k in kept):
            kept.append(ref)
    return sorted(kept, key=lambda r: r.span[0])


def annotate(text: str, now: datetime | date) -> str:
    """Text with each relative phrase followed by its absolute date in brackets.

    Phrases that already carry a year are left alone, as is a phrase already followed by
    a bracket, so annotating twice changes nothing.
    """
    out = text
    for ref in reversed(find_time_refs(text, now)):  # right to left keeps spans valid
        end = ref.span[1]
        if _HAS_YEAR.search(ref.phrase) or re.match(r"\s*\[", text[end:]):
            continue
        out = f"{out[:end]} [{ref.label()}]{out[end:]}"
    return out


def time_window(question: str, now: datetime | date) -> tuple[date, date] | None:
    """The inclusive date window covering every time reference in question, or None."""
    refs = find_time_refs(question, now)
    if not refs:
        return None
    return min(r.start for r in refs), max(r.end for r in refs)
