"""The appeal state machine (domain/cases.py): four eyes before any grant, the objection
window, and who may not decide. Property-based: whatever the sequence of decisions,
objections and expiries, no case is granted without two distinct approvals in the round
that granted it — before an objection and after one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenure.domain.cases import (
    REFUSAL_REASONS,
    Case,
    CaseKind,
    CaseState,
    decide,
    expire,
    object_to,
)
from tenure.domain.errors import CaseClosed, Forbidden, InvalidInput, TenureError

WINDOW = 14 * 86400
AGENTS = ("agent-a", "agent-b", "agent-c")


def new_case(kind: CaseKind = CaseKind.ACTIVATION_LOCK) -> Case:
    return Case("c" * 32, kind, CaseState.OPEN, "applicant")


def test_two_different_agents_open_the_objection_window() -> None:
    first = decide(new_case(), "agent-a", "approve", None, 100, WINDOW, False)
    assert first.case.state is CaseState.OPEN and not first.steps
    second = decide(first.case, "agent-b", "approve", None, 200, WINDOW, False)
    assert second.case.state is CaseState.OBJECTION_WINDOW
    assert [s.state for s in second.steps] == [CaseState.APPROVED, CaseState.OBJECTION_WINDOW]
    assert second.window_opened and not second.granted
    assert second.case.window_ends == 200 + WINDOW


def test_one_agent_cannot_approve_twice() -> None:
    first = decide(new_case(), "agent-a", "approve", None, 100, WINDOW, False)
    with pytest.raises(Forbidden):
        decide(first.case, "agent-a", "approve", None, 101, WINDOW, False)


def test_an_agent_cannot_decide_their_own_case_or_a_device_bound_to_them() -> None:
    with pytest.raises(Forbidden):
        decide(new_case(), "applicant", "approve", None, 1, WINDOW, False)
    with pytest.raises(Forbidden):
        decide(new_case(), "agent-a", "refuse", "claim-upheld", 1, WINDOW, True)


def test_a_territory_case_is_granted_at_the_second_approval() -> None:
    case = new_case(CaseKind.TERRITORY)
    case = decide(case, "agent-a", "approve", None, 1, WINDOW, False).case
    done = decide(case, "agent-b", "approve", None, 2, WINDOW, False)
    assert done.granted and done.case.state is CaseState.GRANTED
    assert [s.state for s in done.steps] == [CaseState.APPROVED, CaseState.GRANTED]


def test_the_window_grants_only_once_it_has_ended() -> None:
    case = decide(new_case(), "agent-a", "approve", None, 0, WINDOW, False).case
    case = decide(case, "agent-b", "approve", None, 0, WINDOW, False).case
    assert not expire(case, WINDOW - 1).granted
    assert expire(case, WINDOW).granted


def test_an_objection_starts_the_approvals_over_and_the_same_agents_may_approve_again() -> None:
    case = decide(new_case(), "agent-a", "approve", None, 0, WINDOW, False).case
    case = decide(case, "agent-b", "approve", None, 0, WINDOW, False).case
    objected = object_to(case, 10).case
    assert objected.state is CaseState.OBJECTED and objected.approvals == ()
    assert not expire(objected, 10 * WINDOW).granted  # no window any more
    again = decide(objected, "agent-a", "approve", None, 20, WINDOW, False)
    assert not again.granted
    done = decide(again.case, "agent-b", "approve", None, 30, WINDOW, False)
    assert done.granted and done.case.state is CaseState.GRANTED


def test_one_refusal_ends_it_with_a_listed_reason() -> None:
    with pytest.raises(InvalidInput):
        decide(new_case(), "agent-a", "refuse", "because", 1, WINDOW, False)
    with pytest.raises(InvalidInput):  # nothing was objected to
        decide(new_case(), "agent-a", "refuse", "objection-upheld", 1, WINDOW, False)
    done = decide(new_case(), "agent-a", "refuse", "duplicate-case", 1, WINDOW, False)
    assert done.refused and done.case.state is CaseState.REFUSED
    with pytest.raises(CaseClosed):
        decide(done.case, "agent-b", "approve", None, 2, WINDOW, False)


def test_objecting_outside_the_window_is_refused() -> None:
    with pytest.raises(CaseClosed):
        object_to(new_case(), 1)
    case = decide(new_case(), "agent-a", "approve", None, 0, WINDOW, False).case
    case = decide(case, "agent-b", "approve", None, 0, WINDOW, False).case
    with pytest.raises(CaseClosed):
        object_to(case, WINDOW)


events = st.lists(st.one_of(
    st.tuples(st.just("approve"), st.sampled_from(AGENTS), st.none()),
    st.tuples(st.just("refuse"), st.sampled_from(AGENTS), st.sampled_from(REFUSAL_REASONS)),
    st.tuples(st.just("object"), st.none(), st.none()),
    st.tuples(st.just("wait"), st.none(), st.none()),
), max_size=12)


@given(kind=st.sampled_from(list(CaseKind)), script=events)
def test_no_path_grants_without_two_distinct_approvals_in_its_round(
        kind: CaseKind, script: list[tuple[str, str | None, str | None]]) -> None:
    case, now = new_case(kind), 0
    approvers_this_round: list[str] = []
    for action, agent, reason in script:
        now += 86400
        before = case
        try:
            if action in ("approve", "refuse"):
                assert agent is not None
                outcome = decide(case, agent, action, reason, now, WINDOW, False)
            elif action == "object":
                outcome = object_to(case, now)
            else:
                now += WINDOW
                outcome = expire(case, now)
        except TenureError:
            assert case == before  # a refused step changes nothing
            continue
        if action == "approve":
            approvers_this_round.append(str(agent))
        if action == "object":
            approvers_this_round = []
        case = outcome.case
        if outcome.granted:
            assert len(set(approvers_this_round)) >= 2
            assert len(set(case.approvals)) == len(case.approvals) >= 2
        if case.state in (CaseState.GRANTED, CaseState.REFUSED):
            break
    if case.state is CaseState.GRANTED:
        assert len(set(approvers_this_round)) >= 2
    if kind is CaseKind.TERRITORY:
        assert case.state not in (CaseState.OBJECTION_WINDOW, CaseState.OBJECTED)
