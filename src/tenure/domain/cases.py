"""Appeal cases: the state machine, without I/O (docs/redress.md; docs/protocol.md Part 2).

A locked-out buyer or a traveller hit by a territory rule opens a case against one held
claim; support decides it with four eyes. The rules, all here so that no caller can
forget one:

- `open` (and `objected`) cases are decided by support agents. Two approvals by two
  *different* agents in the same round approve the case; one refusal (with one of
  `REFUSAL_REASONS`) ends it.
- An approved case whose claim has a holder (every kind but `territory`) enters the
  `objection-window`; the holder is told and may object until `window_ends`. Without
  an objection the window's end grants the case; an objection moves it to `objected`,
  back with support, and starts a new round: approvals start over (the same two
  agents may approve again), two approvals grant it, one refusal ends it.
- A territory case has no holder to object: its second approval grants it at once.
- An agent may not decide a case they opened, nor one about a device they are bound
  to; nor approve twice in one round.

`approved` is the moment of the second approval: it is written to the history and
followed at once by `objection-window` or `granted`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from .errors import CaseClosed, Forbidden, InvalidInput
from .model import ClaimKind


class CaseKind(StrEnum):
    ACTIVATION_LOCK = "activation-lock"
    TERRITORY = "territory"
    ORGANIZATION = "organization"
    CREDITOR = "creditor"


class CaseState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    OBJECTION_WINDOW = "objection-window"
    OBJECTED = "objected"
    GRANTED = "granted"
    REFUSED = "refused"


CLAIM_KIND = {
    CaseKind.ACTIVATION_LOCK: ClaimKind.OWNER,
    CaseKind.TERRITORY: ClaimKind.TERRITORY,
    CaseKind.ORGANIZATION: ClaimKind.ORGANIZATION,
    CaseKind.CREDITOR: ClaimKind.CREDITOR,
}

REFUSAL_REASONS = (
    "insufficient-evidence",
    "evidence-inconsistent",
    "not-the-device",
    "claim-upheld",
    "objection-upheld",
    "duplicate-case",
)
APPROVE = "approve"
REFUSE = "refuse"
DECIDABLE = (CaseState.OPEN, CaseState.OBJECTED)
FINAL = (CaseState.GRANTED, CaseState.REFUSED)


@dataclass(frozen=True, slots=True)
class Case:
    """What the rules need of a case: its kind, where it stands, who may not decide it,
    and the approvals of the current round."""

    case_id: str
    kind: CaseKind
    state: CaseState
    applicant: str  # account id
    round: int = 1  # a new round starts with each objection
    approvals: tuple[str, ...] = ()  # agents who approved in this round, in order
    window_ends: int | None = None

    @property
    def has_objection_window(self) -> bool:
        return self.kind is not CaseKind.TERRITORY


@dataclass(frozen=True, slots=True)
class Step:
    """One state the case passed through, for its history."""

    state: CaseState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The case after an event, the states it passed through, and what must follow."""

    case: Case
    steps: tuple[Step, ...] = ()
    window_opened: bool = False  # tell the holder: the objection window is open
    granted: bool = False  # apply the grant's effects, in the same transaction
    refused: bool = False

    @property
    def changed_state(self) -> bool:
        return bool(self.steps)


def decide(case: Case, agent: str, decision: object, reason: object, now: int,
           window_seconds: int, agent_bound: bool) -> Outcome:
    """A support agent's decision. `agent_bound`: the agent holds a claim on the device."""
    if decision not in (APPROVE, REFUSE):
        raise InvalidInput("'decision' must be \"approve\" or \"refuse\".")
    if case.state not in DECIDABLE:
        raise CaseClosed(f"This case is {case.state.value}; only open or objected cases "
                         "are decided.")
    if agent == case.applicant:
        raise Forbidden("Support agents cannot decide a case they opened themselves.")
    if agent_bound:
        raise Forbidden("Support agents cannot decide a case about a device bound to them.")
    if decision == REFUSE:
        if reason not in REFUSAL_REASONS:
            raise InvalidInput("A refusal needs 'reason', one of: "
                               + ", ".join(REFUSAL_REASONS) + ".")
        if reason == "objection-upheld" and case.state is not CaseState.OBJECTED:
            raise InvalidInput("'objection-upheld' refuses an objected case only.")
        refused = replace(case, state=CaseState.REFUSED, window_ends=None)
        return Outcome(refused, (Step(CaseState.REFUSED, str(reason)),), refused=True)
    if agent in case.approvals:
        raise Forbidden("This agent has already approved the case; a second agent must.")
    approvals = (*case.approvals, agent)
    if len(approvals) < 2:
        return Outcome(replace(case, approvals=approvals))
    if case.state is CaseState.OPEN and case.has_objection_window:
        waiting = replace(case, state=CaseState.OBJECTION_WINDOW, approvals=approvals,
                          window_ends=now + window_seconds)
        return Outcome(waiting, (Step(CaseState.APPROVED), Step(CaseState.OBJECTION_WINDOW)),
                       window_opened=True)
    granted = replace(case, state=CaseState.GRANTED, approvals=approvals, window_ends=None)
    return Outcome(granted, (Step(CaseState.APPROVED), Step(CaseState.GRANTED)), granted=True)


def object_to(case: Case, now: int) -> Outcome:
    """The holder objects: back with support, approvals start over."""
    if case.state is not CaseState.OBJECTION_WINDOW or (
            case.window_ends is not None and now >= case.window_ends):
        raise CaseClosed("This case is not in its objection window.")
    objected = replace(case, state=CaseState.OBJECTED, round=case.round + 1, approvals=(),
                       window_ends=None)
    return Outcome(objected, (Step(CaseState.OBJECTED),))


def expire(case: Case, now: int) -> Outcome:
    """The objection window ran out without an objection: the case is granted."""
    if (case.state is not CaseState.OBJECTION_WINDOW or case.window_ends is None
            or now < case.window_ends):
        return Outcome(case)
    granted = replace(case, state=CaseState.GRANTED, window_ends=None)
    return Outcome(granted, (Step(CaseState.GRANTED),), granted=True)
