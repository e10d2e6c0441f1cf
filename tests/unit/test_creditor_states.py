"""The creditor claim's state machine (domain/creditor.py): the rules that protect the
borrower, checked on every sequence of moves hypothesis can find."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain import creditor as c
from tenure.domain.creditor import Loan, LoanState, LockRules
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.errors import CreditorState, NoPriorReminder, NoticeNotAcknowledged
from tenure.domain.model import Act, Claim, ClaimKind, Device

HOUR, DAY = 3600, 86400
NOW = 1_800_000_000
RULES = LockRules()  # 72 h .. 30 days
IN_FORCE = Loan(LoanState.IN_FORCE, notice_acknowledged_at=NOW - 60 * DAY)


def test_a_lock_before_the_notice_is_accepted_is_refused_whatever_the_reminders() -> None:
    with pytest.raises(NoticeNotAcknowledged):
        c.lock(Loan(), "pay", [NOW - 5 * DAY], NOW, RULES)


@pytest.mark.parametrize(("age", "allowed"), [
    (72 * HOUR - 1, False),  # too recent: the user had less than 72 hours
    (72 * HOUR, True),
    (30 * DAY, True),
    (30 * DAY + 1, False),  # too old: it warns nobody any more
])
def test_the_reminder_window_is_72_hours_to_30_days(age: int, allowed: bool) -> None:
    if allowed:
        assert c.lock(IN_FORCE, "pay", [NOW - age], NOW, RULES).state is LoanState.LOCKED
    else:
        with pytest.raises(NoPriorReminder):
            c.lock(IN_FORCE, "pay", [NOW - age], NOW, RULES)


def test_one_reminder_in_the_window_is_enough_even_with_a_fresher_one() -> None:
    locked = c.lock(IN_FORCE, "pay", [NOW - 100 * HOUR, NOW - HOUR], NOW, RULES)
    assert locked.locked_at == NOW and locked.lock_message == "pay"


def test_a_reminder_seen_before_the_notice_was_accepted_does_not_count() -> None:
    accepted = Loan(LoanState.IN_FORCE, notice_acknowledged_at=NOW - 3 * DAY)
    with pytest.raises(NoPriorReminder):
        c.lock(accepted, "pay", [NOW - 4 * DAY], NOW, RULES)
    assert c.lock(accepted, "pay", [NOW - 3 * DAY], NOW, RULES).state is LoanState.LOCKED


def test_the_notice_hours_setting_moves_the_window() -> None:
    with pytest.raises(NoPriorReminder):
        c.lock(IN_FORCE, "pay", [NOW - 80 * HOUR], NOW, LockRules(notice_seconds=96 * HOUR))


def test_unlock_returns_to_in_force_and_only_from_locked() -> None:
    locked = c.lock(IN_FORCE, "pay", [NOW - 4 * DAY], NOW, RULES)
    assert c.unlock(locked).state is LoanState.IN_FORCE
    assert c.unlock(IN_FORCE) == IN_FORCE  # a retried unlock answers the same
    with pytest.raises(CreditorState):
        c.unlock(Loan())


def test_completion_is_cancellable_back_to_the_prior_state_within_48_hours() -> None:
    locked = c.lock(IN_FORCE, "pay", [NOW - 4 * DAY], NOW, RULES)
    completing = c.complete(locked, NOW)
    assert completing.state is LoanState.COMPLETING
    assert completing.complete_at == NOW + 48 * HOUR
    assert not c.locks_device(completing)  # paid: the device is not locked meanwhile
    assert c.cancel_completion(completing, NOW + 47 * HOUR).state is LoanState.LOCKED
    with pytest.raises(CreditorState):
        c.cancel_completion(completing, NOW + 48 * HOUR)


def test_finish_only_after_the_window() -> None:
    completing = c.complete(IN_FORCE, NOW)
    with pytest.raises(CreditorState):
        c.finish(completing, NOW + 48 * HOUR - 1)
    done = c.finish(completing, NOW + 48 * HOUR)
    assert done.state is LoanState.COMPLETED and not done.held


def test_offline_lock_only_while_in_force_or_locked() -> None:
    assert c.offline_lock_at(Loan(), NOW, 30) is None
    assert c.offline_lock_at(IN_FORCE, NOW, 30) == NOW + 30 * DAY
    assert c.offline_lock_at(c.complete(IN_FORCE, NOW), NOW, 30) is None


# -- properties over random sequences of moves ---------------------------------------------

MOVES = st.lists(st.tuples(
    st.sampled_from(["ack", "remind", "lock", "unlock", "complete", "cancel", "finish"]),
    st.integers(min_value=0, max_value=40 * DAY)), max_size=25)


def play(moves: list[tuple[str, int]]) -> list[tuple[str, Loan, Loan, int, list[int]]]:
    """Apply the moves (each after a pause), keeping refused ones out; returns every
    accepted move with the loan before and after, the time, and the reminder acks."""
    loan, now, acks = Loan(), NOW, []
    history = []
    for move, pause in moves:
        now += pause
        before = loan
        try:
            if move == "ack":
                loan = c.acknowledge_notice(loan, now)
            elif move == "remind":
                acks.append(now)
            elif move == "lock":
                loan = c.lock(loan, "pay", acks, now, RULES)
            elif move == "unlock":
                loan = c.unlock(loan)
            elif move == "complete":
                loan = c.complete(loan, now)
            elif move == "cancel":
                loan = c.cancel_completion(loan, now)
            else:
                loan = c.finish(loan, now)
        except (CreditorState, NoPriorReminder, NoticeNotAcknowledged):
            assert loan == before  # a refusal changes nothing
            continue
        history.append((move, before, loan, now, list(acks)))
    return history


@settings(max_examples=400, deadline=None)
@given(moves=MOVES)
def test_no_lock_without_an_accepted_notice_and_a_reminder_in_the_window(
        moves: list[tuple[str, int]]) -> None:
    for _move, before, after, now, acks in play(moves):
        if after.state is LoanState.LOCKED and before.state is not LoanState.LOCKED:
            assert after.notice_acknowledged_at is not None
            assert after.notice_acknowledged_at <= now
            assert any(now - 30 * DAY <= at <= now - 72 * HOUR
                       and at >= after.notice_acknowledged_at for at in acks)


@settings(max_examples=400, deadline=None)
@given(moves=MOVES)
def test_completed_is_terminal_and_releases(moves: list[tuple[str, int]]) -> None:
    finished = False
    for move, before, after, _now, _acks in play(moves):
        if finished:
            assert after == before and move in ("ack", "remind")  # nothing moves it
        if after.state is LoanState.COMPLETED:
            finished = True
            assert not after.held and not c.locks_device(after)
            assert c.offline_lock_at(after, NOW, 30) is None


@settings(max_examples=200, deadline=None)
@given(state=st.sampled_from(list(LoanState)), act=st.sampled_from(list(Act)))
def test_the_device_is_locked_by_the_creditor_exactly_when_the_claim_is_locked(
        state: LoanState, act: Act) -> None:
    claim = Claim("cl-1", "SN-1", ClaimKind.CREDITOR, "bank", NOW, contact="+49 30 1234")
    decision = decide(DecisionInput(Device("SN-1", "P", "S", "DE", (), NOW), act, (claim,),
                                    NOW, 0, creditor=Loan(state, lock_message="Overdue")))
    if state is LoanState.LOCKED:
        (lock,) = decision.locks
        assert lock.kind is ClaimKind.CREDITOR and lock.message == "Overdue"
        assert lock.contact == "+49 30 1234"
        assert lock.allows == ("emergency-calls", "call-contact", "network-settings")
    else:
        assert decision.locks == ()
