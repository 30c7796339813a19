"""Relative time expressions resolve to the right absolute dates, without false positives."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from assistant.memory.timeparse import TimeRef, annotate, find_time_refs, time_window

NOW = datetime(2023, 5, 8, 13, 56)  # a Monday
D = date

CASES = [
    # (sentence, phrase, start, end, granularity)
    ("I did it today.", "today", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("We eat out tonight", "tonight", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("I ran this morning.", "this morning", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("Call me this evening", "this evening", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("I went to the group yesterday.", "yesterday", D(2023, 5, 7), D(2023, 5, 7), "day"),
    ("Yesterday was long.", "Yesterday", D(2023, 5, 7), D(2023, 5, 7), "day"),
    ("Saw it the day before yesterday", "the day before yesterday", D(2023, 5, 6),
     D(2023, 5, 6), "day"),
    ("The exam is tomorrow.", "tomorrow", D(2023, 5, 9), D(2023, 5, 9), "day"),
    ("Back the day after tomorrow", "the day after tomorrow", D(2023, 5, 10), D(2023, 5, 10),
     "day"),
    ("I slept badly last night.", "last night", D(2023, 5, 7), D(2023, 5, 7), "day"),
    ("I moved 3 days ago.", "3 days ago", D(2023, 5, 5), D(2023, 5, 5), "day"),
    ("It broke a day ago", "a day ago", D(2023, 5, 7), D(2023, 5, 7), "day"),
    ("Met her two weeks ago", "two weeks ago", D(2023, 4, 24), D(2023, 4, 30), "week"),
    ("a week ago I quit", "a week ago", D(2023, 5, 1), D(2023, 5, 7), "week"),
    ("Moved a couple of months ago", "a couple of months ago", D(2023, 3, 1), D(2023, 3, 31),
     "month"),
    ("Bought it twelve months ago", "twelve months ago", D(2022, 5, 1), D(2022, 5, 31),
     "month"),
    ("Visited a few years ago.", "a few years ago", D(2020, 1, 1), D(2020, 12, 31), "year"),
    ("I was ill last week.", "last week", D(2023, 5, 1), D(2023, 5, 7), "week"),
    ("Busy this week", "this week", D(2023, 5, 8), D(2023, 5, 14), "week"),
    ("Free NEXT WEEK?", "NEXT WEEK", D(2023, 5, 15), D(2023, 5, 21), "week"),
    ("Paid last month", "last month", D(2023, 4, 1), D(2023, 4, 30), "month"),
    ("Due this month", "this month", D(2023, 5, 1), D(2023, 5, 31), "month"),
    ("Starts next month", "next month", D(2023, 6, 1), D(2023, 6, 30), "month"),
    ("Married last year", "last year", D(2022, 1, 1), D(2022, 12, 31), "year"),
    ("Retiring this year", "this year", D(2023, 1, 1), D(2023, 12, 31), "year"),
    ("Moving next year", "next year", D(2024, 1, 1), D(2024, 12, 31), "year"),
    ("Camped last weekend", "last weekend", D(2023, 5, 6), D(2023, 5, 7), "weekend"),
    ("Went hiking this past weekend", "this past weekend", D(2023, 5, 6), D(2023, 5, 7),
     "weekend"),
    ("Party this weekend", "this weekend", D(2023, 5, 13), D(2023, 5, 14), "weekend"),
    ("Away next weekend", "next weekend", D(2023, 5, 20), D(2023, 5, 21), "weekend"),
    ("I saw Ana last Tuesday", "last Tuesday", D(2023, 5, 2), D(2023, 5, 2), "day"),
    ("Gym last Monday", "last Monday", D(2023, 5, 1), D(2023, 5, 1), "day"),
    ("We talked on Friday.", "on Friday", D(2023, 5, 5), D(2023, 5, 5), "day"),
    ("See you next Tuesday", "next Tuesday", D(2023, 5, 9), D(2023, 5, 9), "day"),
    ("See you next Monday", "next Monday", D(2023, 5, 15), D(2023, 5, 15), "day"),
    ("Dinner this Friday", "this Friday", D(2023, 5, 12), D(2023, 5, 12), "day"),
    ("It snowed in March.", "in March", D(2023, 3, 1), D(2023, 3, 31), "month"),
    ("We met in June", "in June", D(2022, 6, 1), D(2022, 6, 30), "month"),
    ("Started in May", "in May", D(2023, 5, 1), D(2023, 5, 31), "month"),
    ("Sick since February", "since February", D(2023, 2, 1), D(2023, 2, 28), "month"),
    ("Busy during early March", "during early March", D(2023, 3, 1), D(2023, 3, 31), "month"),
    ("Graduated last May", "last May", D(2022, 5, 1), D(2022, 5, 31), "month"),
    ("Flying next June", "next June", D(2023, 6, 1), D(2023, 6, 30), "month"),
    ("Hired in June 2021", "in June 2021", D(2021, 6, 1), D(2021, 6, 30), "month"),
    ("Since March 2020 I work remotely", "Since March 2020", D(2020, 3, 1), D(2020, 3, 31),
     "month"),
    ("Born 8 May 2023", "8 May 2023", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("Due May 8, 2023.", "May 8, 2023", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("Party on May 8th", "May 8th", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("Back on January 2", "January 2", D(2023, 1, 2), D(2023, 1, 2), "day"),
    ("Since December 30", "December 30", D(2022, 12, 30), D(2022, 12, 30), "day"),
    ("Born on the 3rd of May 1990.", "the 3rd of May 1990", D(1990, 5, 3), D(1990, 5, 3),
     "day"),
    ("Logged 2023-05-08 at noon", "2023-05-08", D(2023, 5, 8), D(2023, 5, 8), "day"),
    ("We lived there in 2022.", "in 2022", D(2022, 1, 1), D(2022, 12, 31), "year"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "phrase", "start", "end", "granularity"), CASES)
def test_resolves_each_form(text, phrase, start, end, granularity):
    refs = find_time_refs(text, NOW)
    assert len(refs) == 1, refs
    ref = refs[0]
    assert (ref.phrase, ref.start, ref.end, ref.granularity) == (phrase, start, end, granularity)
    assert text[ref.span[0] : ref.span[1]] == phrase


@pytest.mark.parametrize(
    "text",
    [
        "You may go",
        "They march on",
        "I may visit",
        "May I ask you something?",
        "in may be",  # lowercase "may" is the verb even after "in"
        "an august institution",
        "Sunday school was fun",
        "Mondays are hard",
        "We met in the park",
        "I have 3 cats and 2 dogs",
        "Logged 2023-13-40",
    ],
)
def test_no_false_positives(text):
    assert find_time_refs(text, NOW) == []


def test_capitalised_may_needs_day_year_or_anchor():
    assert [r.phrase for r in find_time_refs("May 2022 was wet", NOW)] == ["May 2022"]
    assert [r.phrase for r in find_time_refs("Since May I run", NOW)] == ["Since May"]
    assert [r.phrase for r in find_time_refs("May 12 is fine", NOW)] == ["May 12"]


def test_overlaps_keep_the_longest_and_results_are_in_reading_order():
    refs = find_time_refs("Yesterday I planned next week; the day before yesterday I slept", NOW)
    assert [r.phrase for r in refs] == ["Yesterday", "next week", "the day before yesterday"]
    early = find_time_refs("in early March 2021", NOW)
    assert [r.phrase for r in early] == ["in early March 2021"]


def test_impossible_days_are_not_days():
    # No 30 February: only the month that was named remains.
    refs = find_time_refs("Born 30 February 2023", NOW)
    assert [(r.phrase, r.granularity) for r in refs] == [("February 2023", "month")]


def test_accepts_a_date_as_now():
    assert find_time_refs("yesterday", date(2023, 5, 8))[0].start == date(2023, 5, 7)


def test_labels():
    ref = find_time_refs("yesterday", NOW)[0]
    assert ref.label() == "7 May 2023"
    assert find_time_refs("last week", NOW)[0].label() == "the week of 1 May 2023"
    assert find_time_refs("last month", NOW)[0].label() == "April 2023"
    assert find_time_refs("last year", NOW)[0].label() == "2022"
    assert find_time_refs("last weekend", NOW)[0].label() == "the weekend of 6 May 2023"
    assert isinstance(ref, TimeRef)


def test_annotate_inserts_brackets_after_the_phrase():
    assert (
        annotate("I went to the support group yesterday.", NOW)
        == "I went to the support group yesterday [7 May 2023]."
    )
    assert (
        annotate("Last week was busy, and in March I moved.", NOW)
        == "Last week [the week of 1 May 2023] was busy, and in March [March 2023] I moved."
    )


def test_annotate_leaves_other_text_alone():
    for text in ["No dates here, you may go.", "Born on 8 May 2023 and 2023-05-08.", ""]:
        assert annotate(text, NOW) == text
    mixed = "On 3 June 2021 I met Bo; tomorrow we meet again."
    assert annotate(mixed, NOW) == "On 3 June 2021 I met Bo; tomorrow [9 May 2023] we meet again."


def test_annotate_is_idempotent():
    once = annotate("yesterday and two weeks ago", NOW)
    assert once == "yesterday [7 May 2023] and two weeks ago [the week of 24 April 2023]"
    assert annotate(once, NOW) == once


def test_time_window_for_questions():
    assert time_window("What did I do last week?", NOW) == (date(2023, 5, 1), date(2023, 5, 7))
    assert time_window("Where was I on Friday?", NOW) == (date(2023, 5, 5), date(2023, 5, 5))
    assert time_window("What did I eat between yesterday and tomorrow?", NOW) == (
        date(2023, 5, 7),
        date(2023, 5, 9),
    )
    assert time_window("What happened in 2022?", NOW) == (date(2022, 1, 1), date(2022, 12, 31))
    assert time_window("What is my cat called?", NOW) is None


@pytest.mark.parametrize(
    ("text", "now", "start", "end"),
    [
        ("a month ago", D(2023, 3, 31), D(2023, 2, 1), D(2023, 2, 28)),  # clamp 31 -> 28
        ("a month ago", D(2024, 3, 31), D(2024, 2, 1), D(2024, 2, 29)),  # leap year
        ("last month", D(2024, 1, 15), D(2023, 12, 1), D(2023, 12, 31)),  # across the year
        ("next month", D(2023, 12, 31), D(2024, 1, 1), D(2024, 1, 31)),
        ("13 months ago", D(2024, 1, 31), D(2022, 12, 1), D(2022, 12, 31)),
        ("yesterday", D(2024, 3, 1), D(2024, 2, 29), D(2024, 2, 29)),
        ("tomorrow", D(2023, 2, 28), D(2023, 3, 1), D(2023, 3, 1)),
        ("a year ago", D(2024, 2, 29), D(2023, 1, 1), D(2023, 12, 31)),
        ("last week", D(2021, 1, 1), D(2020, 12, 21), D(2020, 12, 27)),
        ("29 February 2024", D(2023, 5, 8), D(2024, 2, 29), D(2024, 2, 29)),
        ("February 29", D(2023, 5, 8), D(2024, 2, 29), D(2024, 2, 29)),  # only valid year
        ("in February", D(2024, 5, 8), D(2024, 2, 1), D(2024, 2, 29)),
    ],
)
def test_month_end_and_leap_year_arithmetic(text, now, start, end):
    refs = find_time_refs(text, now)
    assert [(r.start, r.end) for r in refs] == [(start, end)]
