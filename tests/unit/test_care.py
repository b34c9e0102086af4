"""Care navigation rules (pure): due times across DST, N attempts, duplicates, repeats,
the before/after measure and SLA."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from heart.domain.care import (
    REFERRAL_TRANSITIONS,
    CallRef,
    CareRules,
    PersonKey,
    ReferralTransitionError,
    SlaTask,
    calls_before_after,
    check_referral_transition,
    duplicate_score,
    follow_up_due,
    is_overdue,
    normalize_address,
    normalize_phone,
    repeat_summary,
    sla_report,
    summarise_before_after,
    task_state_after,
)

NY = ZoneInfo("America/New_York")


def ny(*a):
    return dt.datetime(*a, tzinfo=NY)


# ------------------------------------------------------------------ 48 h across DST


def test_due_is_48_elapsed_hours_across_spring_forward():
    # DST starts Sunday 2024-03-10 02:00 in Durham: the clock skips an hour
    closed = ny(2024, 3, 9, 10, 0)
    due = follow_up_due(closed)
    assert due - closed == dt.timedelta(hours=48)
    assert due.astimezone(NY) == ny(2024, 3, 11, 11, 0)  # wall clock: one hour later


def test_due_is_48_elapsed_hours_across_fall_back():
    closed = ny(2024, 11, 2, 10, 0)  # DST ends Sunday 2024-11-03 02:00
    due = follow_up_due(closed)
    assert due - closed == dt.timedelta(hours=48)
    assert due.astimezone(NY) == ny(2024, 11, 4, 9, 0)


def test_due_inside_the_repeated_hour():
    # 01:30 EDT on the fall-back day (fold=0) + 48 h = 00:30 EST two days later
    closed = dt.datetime(2024, 11, 3, 1, 30, tzinfo=NY, fold=0)
    due = follow_up_due(closed)
    assert (due - closed).total_seconds() == 48 * 3600
    assert due.astimezone(NY).replace(tzinfo=None) == dt.datetime(2024, 11, 5, 0, 30)


def test_due_hours_are_a_setting_and_naive_is_refused():
    assert follow_up_due(ny(2024, 1, 1, 0, 0), CareRules(follow_up_due_hours=24)) == ny(
        2024, 1, 2, 0, 0
    )
    with pytest.raises(ValueError, match="closed_at"):
        follow_up_due(dt.datetime(2024, 1, 1))
    assert is_overdue(ny(2024, 1, 1, 0, 0), ny(2024, 1, 1, 0, 0))
    assert not is_overdue(ny(2024, 1, 1, 0, 1), ny(2024, 1, 1, 0, 0))


def test_rules_from_mapping_validates_keys():
    assert CareRules.from_mapping({"max_failed_attempts": 2}).max_failed_attempts == 2
    with pytest.raises(ValueError, match="unknown"):
        CareRules.from_mapping({"nope": 1})
    with pytest.raises(ValueError, match="max_failed_attempts"):
        CareRules.from_mapping({"max_failed_attempts": 0})


# ------------------------------------------------------------------ N failed attempts


def test_task_closes_after_n_failed_attempts():
    rules = CareRules(max_failed_attempts=3)
    s = task_state_after(["unable_to_reach", "left_message"], rules)
    assert not s.closed and s.failed_attempts == 2
    s = task_state_after(["unable_to_reach", "callback_requested", "left_message"], rules)
    assert not s.closed  # a callback request is not a failure
    s = task_state_after(["unable_to_reach", "left_message", "wrong_number"], rules)
    assert s.closed and s.outcome == "unable_to_reach" and s.reason.code == "max_failed_attempts"


def test_closing_outcome_closes_at_once():
    s = task_state_after(["unable_to_reach", "connected_to_care"])
    assert s.closed and s.outcome == "connected_to_care"
    with pytest.raises(ValueError, match="outcome"):
        task_state_after(["bogus"])


def test_n_is_a_setting():
    assert task_state_after(["unable_to_reach"], CareRules(max_failed_attempts=1)).closed


# ------------------------------------------------------------------ duplicates


def test_name_and_dob_is_probable_with_reasons():
    a = PersonKey("Jon Smith", dt.date(1980, 5, 4), "", "")
    b = PersonKey("John Smith", dt.date(1980, 5, 4), "", "")
    s = duplicate_score(a, b)
    assert s.probable()
    codes = [r.code for r in s.reasons]
    assert "name_similar" in codes and "dob_same" in codes
    assert all("Smith" not in r.text for r in s.reasons)  # reasons never quote data


def test_phone_formats_match_and_swapped_names():
    a = PersonKey("Smith, Maria", None, "(919) 555-0101", "")
    b = PersonKey("Maria Smith", None, "+1 919 555 0101", "")
    s = duplicate_score(a, b)
    assert s.probable() and {"name_similar", "phone_same"} <= {r.code for r in s.reasons}


def test_different_dob_is_not_probable_and_phone_alone_is_not():
    a = PersonKey("Jon Smith", dt.date(1980, 5, 4))
    b = PersonKey("Jon Smith", dt.date(1991, 1, 1))
    assert not duplicate_score(a, b).probable()
    assert not duplicate_score(
        PersonKey(phone="9195550101"), PersonKey(phone="919-555-0101")
    ).probable()


def test_transposed_dob_and_address():
    a = PersonKey("Ann Lee", dt.date(1990, 3, 4), "", "12 Main Street Apt 3")
    b = PersonKey("Anne Lee", dt.date(1990, 4, 3), "", "12 main st #3")
    s = duplicate_score(a, b)
    assert {"dob_transposed", "address_similar"} <= {r.code for r in s.reasons}
    assert s.probable()


def test_normalisers():
    assert normalize_phone("1-919-555-0101") == "9195550101"
    assert normalize_address("12 Main Street, Apt. 3") == normalize_address("12 main st apt 3")


# ------------------------------------------------------------------ repeat calls, measure


def test_repeat_summary_text():
    now = ny(2024, 3, 30, 12, 0)
    calls = [
        CallRef(ny(2024, 3, 5, 9, 0)),
        CallRef(ny(2024, 3, 26, 9, 0), handled_by_team=True),
        CallRef(ny(2024, 3, 30, 11, 0)),
        CallRef(ny(2024, 1, 1, 9, 0)),  # outside 30 days
    ]
    s = repeat_summary(calls, now=now, follow_up_open=True)
    assert s.text == "3 calls in 30 days; last handled by a team 4 days ago; follow-up open"
    assert s.repeat


def test_before_after_90_days():
    first = ny(2024, 4, 1, 12, 0)
    times = [
        first - dt.timedelta(days=100),  # outside
        first - dt.timedelta(days=89),
        first - dt.timedelta(days=1),
        first,  # the first contact itself: neither
        first + dt.timedelta(days=10),
    ]
    r = calls_before_after(first, times, now=first + dt.timedelta(days=91))
    assert (r.before, r.after, r.complete) == (2, 1, True)
    r2 = calls_before_after(first, times, now=first + dt.timedelta(days=5))
    assert not r2.complete
    s = summarise_before_after([r, r2])
    assert s.people == 2 and s.complete_people == 1 and s.mean_before == 2.0


# ------------------------------------------------------------------ SLA


def test_sla_per_week_and_navigator():
    now = ny(2024, 3, 30, 0, 0)
    c = ny(2024, 3, 4, 10, 0)  # ISO week 10
    tasks = [
        SlaTask(c, c + dt.timedelta(hours=5), "ana"),
        SlaTask(c, c + dt.timedelta(hours=49), "ana"),
        SlaTask(c, None, ""),  # missed
        SlaTask(now - dt.timedelta(hours=1), None, ""),  # not yet due: not counted
    ]
    r = sla_report(tasks, now=now, tz=NY)
    assert [(w.key, w.due, w.within) for w in r.by_week] == [("2024-W10", 3, 1)]
    nav = {n.key: (n.due, n.within) for n in r.by_navigator}
    assert nav == {"ana": (2, 1), "(none)": (1, 0)}
    assert r.overall.share == round(1 / 3, 4)


# ------------------------------------------------------------------ referral statuses


def test_referral_transitions():
    assert check_referral_transition("sent", "accepted") == "accepted"
    assert check_referral_transition("accepted", "completed") == "completed"
    with pytest.raises(ReferralTransitionError, match="a sent referral cannot become completed"):
        check_referral_transition("sent", "completed")
    with pytest.raises(ReferralTransitionError, match="a completed referral cannot become sent"):
        check_referral_transition("completed", "sent")
    with pytest.raises(ReferralTransitionError, match="status: unknown 'lost'"):
        check_referral_transition("sent", "lost")
    # every status the table moves to is one of its keys (final ones have no way out)
    assert set().union(*REFERRAL_TRANSITIONS.values()) <= set(REFERRAL_TRANSITIONS)
