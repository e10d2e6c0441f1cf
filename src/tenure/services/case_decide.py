"""Deciding appeal cases: support's decisions, the holder's objection, the end of the
objection window, and the grant's effects (domain/cases.py has the rules).

Each step is one transaction that holds the case row (so two agents approving at once
are serialised), records the decision and the states passed through, writes an audit
event on the device's chain and mails whoever the step concerns. The objection window
is a due time stored with the case (`window_ends_at`): the server's maintenance round
grants the cases past it (`expire_due`), so it survives restarts and runs on whichever
replica gets there first.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from tenure.clock import Clock
from tenure.domain.case_request import MAX_OBJECTION
from tenure.domain.cases import (
    APPROVE,
    Case,
    CaseKind,
    CaseState,
    Outcome,
    decide,
    expire,
    object_to,
)
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.text import clean_text
from tenure.domain.wording import N_, Phrase

from . import case_notices
from .authn import OwnerActions, require_session
from .case_view import _is_case_id, not_found, support_view
from .notices import when
from .ports import CaseDecision, CaseRow, Tx, UnitOfWork
from .support import require_agent
from .tenant_access import require_tenant

MAX_NOTE = 1000


def as_case(row: CaseRow) -> Case:
    return Case(row.case_id, CaseKind(row.kind), CaseState(row.state), row.applicant_id,
                row.round, row.approvals, row.window_ends_at)


def tenant_case_opened(tx: Tx, row: CaseRow, claim: Claim, now: int) -> None:
    """A tenant holding the claim (organization or creditor) is told by a `case.opened`
    webhook event with the case id (docs/protocol.md, Webhooks), written in this
    transaction; the dispatcher delivers it."""
    event_id = tx.events.emit(claim.holder, "case.opened", row.device_id, now,
                              {"case_id": row.case_id})
    tx.audit.record(f"device:{row.device_id}", "case.holder_notified", actor="system",
                    at=now, case=row.case_id, tenant=claim.holder, event=event_id)


class CaseDecisions:
    def __init__(self, uow: UnitOfWork, clock: Clock, owner_actions: OwnerActions,
                 window_seconds: int) -> None:
        self.uow = uow
        self.clock = clock
        self.owner_actions = owner_actions
        self.window = window_seconds

    # -- support -------------------------------------------------------------------------
    def decide(self, bearer: str | None, case_id: str, decision: object,
               reason: object) -> dict[str, Any]:
        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock.now()
            agent = require_agent(tx, bearer, now)
            self.owner_actions.require_fresh(agent, now)
            row = tx.cases.get(case_id, lock=True) if _is_case_id(case_id) else None
            if row is None:
                raise not_found()
            bound = any(c.holder == agent.account_id for c in tx.claims.active(row.device_id))
            note = reason
            if decision == APPROVE:
                note = clean_text(reason, "reason", max_length=MAX_NOTE, multiline=True,
                                  required=False) or None
            outcome = decide(as_case(row), agent.account_id, decision, reason, now,
                             self.window, bound)
            tx.cases.add_decision(row.case_id, CaseDecision(
                now, f"account:{agent.account_id}", str(decision),
                None if note is None else str(note), row.round))
            tx.audit.record(f"device:{row.device_id}", f"case.{decision}d",
                            actor=f"account:{agent.account_id}", at=now, case=row.case_id,
                            round=row.round, reason=note if decision != APPROVE else None)
            self._apply(tx, row, outcome, now)
            fresh = tx.cases.get(row.case_id)
            assert fresh is not None
            return support_view(tx, fresh)

        return self.uow.run(work)

    # -- the holder ----------------------------------------------------------------------
    def owner_object(self, bearer: str | None, case_id: str, statement: object) -> dict[str, Any]:
        """The owner holding the case's claim objects in the window. Anyone else gets the
        answer for a case that does not exist."""
        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock.now()
            session = require_session(tx, bearer, now)
            row = tx.cases.get(case_id, lock=True) if _is_case_id(case_id) else None
            claim = _claim(tx, row) if row is not None else None
            if (row is None or claim is None or claim.kind is not ClaimKind.OWNER
                    or claim.holder != session.account_id):
                raise not_found()
            return self._object(tx, row, f"account:{session.account_id}", statement, now)

        return self.uow.run(work)

    def tenant_object(self, api_key: str | None, kind: str, case_id: str,
                      statement: object) -> dict[str, Any]:
        """An organization or creditor holding the case's claim objects in the window
        (`POST /v1/{org|creditor}/cases/{id}/objection`); any other tenant gets the
        answer for a case that does not exist."""
        def work(tx: Tx) -> dict[str, Any]:
            now = self.clock.now()
            tenant = require_tenant(tx, api_key, kind)
            row = tx.cases.get(case_id, lock=True) if _is_case_id(case_id) else None
            claim = _claim(tx, row) if row is not None else None
            if (row is None or claim is None or claim.kind.value != kind
                    or claim.holder != tenant.tenant_id):
                raise not_found()
            return self._object(tx, row, tenant.actor, statement, now)

        return self.uow.run(work)

    def _object(self, tx: Tx, row: CaseRow, actor: str, statement: object,
                now: int) -> dict[str, Any]:
        text = clean_text(statement, "statement", max_length=MAX_OBJECTION, multiline=True)
        outcome = object_to(as_case(row), now)
        tx.cases.add_decision(row.case_id, CaseDecision(now, actor, "objection", text,
                                                        row.round))
        tx.audit.record(f"device:{row.device_id}", "case.objected", actor=actor, at=now,
                        case=row.case_id)
        self._apply(tx, row, outcome, now)
        fresh = tx.cases.get(row.case_id)
        assert fresh is not None
        return {"case_id": fresh.case_id, "kind": fresh.kind, "state": fresh.state}

    # -- the maintenance round -----------------------------------------------------------
    def expire_due(self, limit: int = 100) -> int:
        """Grant the cases whose objection window has ended; each in its own transaction."""
        with self.uow(readonly=True) as tx:
            due = tx.cases.due(self.clock.now(), limit)
        granted = 0
        for case_id in due:
            granted += self.uow.run(functools.partial(self._expire, case_id=case_id))
        return granted

    def _expire(self, tx: Tx, *, case_id: str) -> int:
        now = self.clock.now()
        row = tx.cases.get(case_id, lock=True)
        if row is None:
            return 0
        case = as_case(row)
        if not expire(case, now).granted:
            return 0  # another replica got there first
        if row.kind == CaseKind.ACTIVATION_LOCK.value and any(
                c.kind is ClaimKind.LOST for c in tx.claims.active(row.device_id)):
            # The owner reported the device lost during the window: that is an objection
            # (a case cannot be opened against a lost device either); support decides.
            assert case.window_ends is not None
            self._object(tx, row, "system", "The owner reported the device lost during "
                         "the objection window.", case.window_ends - 1)
            return 0
        outcome = expire(case, now)
        tx.audit.record(f"device:{row.device_id}", "case.window_ended", actor="system",
                        at=now, case=row.case_id)
        self._apply(tx, row, outcome, now)
        return 1

    # -- what follows a step -------------------------------------------------------------
    def _apply(self, tx: Tx, row: CaseRow, outcome: Outcome, now: int) -> None:
        case = outcome.case
        tx.cases.save(row.case_id, case.state.value, case.round, case.approvals,
                      case.window_ends)
        for step in outcome.steps:
            tx.cases.add_history(row.case_id, now, step.state.value, step.reason)
        if not outcome.changed_state:
            return
        updated = dataclasses.replace(row, state=case.state.value, round=case.round,
                                      approvals=case.approvals, window_ends_at=case.window_ends)
        applicant = tx.accounts.by_id(row.applicant_id)
        claim = _claim(tx, row)
        if outcome.window_opened and case.window_ends is not None:
            self._tell_holder(tx, updated, claim, case.window_ends, now)
        if outcome.granted:
            self._grant(tx, updated, claim, now)
        if applicant is None:
            return
        last = outcome.steps[-1]
        if last.state is CaseState.REFUSED and last.reason:
            case_notices.refused(tx, applicant.email, updated, last.reason, now)
        elif last.state is CaseState.OBJECTION_WINDOW:
            case_notices.step(tx, applicant.email, updated, now, Phrase.of(
                N_("approved; the holder may object until %(ends)s"),
                ends=when(case.window_ends or now)))
        elif last.state is CaseState.OBJECTED:
            case_notices.step(tx, applicant.email, updated, now,
                              Phrase.of(N_("objected; support reviews the case again")))
        elif last.state is CaseState.GRANTED:
            case_notices.step(tx, applicant.email, updated, now, Phrase.of(N_("granted")),
                              _granted_text(updated))

    def _tell_holder(self, tx: Tx, row: CaseRow, claim: Claim | None, ends: int,
                     now: int) -> None:
        if claim is None:
            return
        if claim.kind in (ClaimKind.OWNER, ClaimKind.LOST):
            holder = tx.accounts.by_id(claim.holder)
            if holder is not None:
                case_notices.window_to_holder(tx, holder.email, row, ends, now)
        else:
            tenant_case_opened(tx, row, claim, now)
        tx.audit.record(f"device:{row.device_id}", "case.window_opened", actor="system",
                        at=now, case=row.case_id, ends=ends)

    def _grant(self, tx: Tx, row: CaseRow, claim: Claim | None, now: int) -> None:
        """One transaction with the step that granted it: release the claim the case was
        opened against (if still held), queue a wipe for an activation-lock case, exempt
        the device from a territory case's rules."""
        effects: dict[str, Any] = {}
        if claim is not None and tx.claims.release(claim.claim_id, now, by=f"case:{row.case_id}"):
            effects["released"] = claim.claim_id
            if claim.kind is ClaimKind.OWNER:
                holder = tx.accounts.by_id(claim.holder)
                if holder is not None:
                    case_notices.granted_to_holder(tx, holder.email, row, now)
        if row.kind == CaseKind.ACTIVATION_LOCK.value:
            effects["wipe"] = tx.commands.add(row.device_id, "wipe", {"reason": "appeal"}, now)
        if row.kind == CaseKind.TERRITORY.value and row.rules:
            tx.territory.exempt(row.device_id, row.rules, now)
            effects["exempt"] = list(row.rules)
        tx.audit.record(f"device:{row.device_id}", "case.granted", actor="system", at=now,
                        case=row.case_id, **effects)


def _claim(tx: Tx, row: CaseRow) -> Claim | None:
    """The claim the case is against, while it is held."""
    if row.claim_id is None:
        return None
    return next((c for c in tx.claims.active(row.device_id) if c.claim_id == row.claim_id),
                None)


def _granted_text(row: CaseRow) -> Phrase:
    if row.kind == CaseKind.ACTIVATION_LOCK.value:
        return Phrase.of(N_("The activation lock is released; the device wipes itself at "
                            "its next check-in and can then be set up with your account."))
    if row.kind == CaseKind.TERRITORY.value:
        return Phrase.of(N_("The device is exempt from the territory rules %(rules)s; it is "
                            "released at its next check-in."), rules=", ".join(row.rules or ()))
    return Phrase.of(N_("The claim on the device is released."))

