"""Appeal cases (with history, decisions and evidence rows) and the support role."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tenure.services.ports.rows import CaseDecision, CaseEntry, CaseRow, EvidenceRow

from . import tables as t
from .repositories import insert_ignoring_duplicates


def _case(row: Any) -> CaseRow:
    return CaseRow(
        case_id=row.case_id, device_id=row.device_id, kind=row.kind,
        applicant_id=row.applicant_id, claim_id=row.claim_id,
        rules=tuple(json.loads(row.rules)) if row.rules is not None else None,
        statement=row.statement, purchase=json.loads(row.purchase), state=row.state,
        round=row.round, approvals=tuple(json.loads(row.approvals)), opened_at=row.opened_at,
        window_ends_at=row.window_ends_at)


class SupportAgentRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, account_id: str, now: int) -> bool:
        return insert_ignoring_duplicates(self.conn, t.support_agents,
                                          {"account_id": account_id, "added_at": now})

    def remove(self, account_id: str) -> bool:
        return bool(self.conn.execute(delete(t.support_agents).where(
            t.support_agents.c.account_id == account_id)).rowcount)

    def has(self, account_id: str) -> bool:
        return self.conn.execute(select(t.support_agents.c.account_id).where(
            t.support_agents.c.account_id == account_id)).first() is not None

    def all(self) -> list[tuple[str, str, int]]:
        s, a = t.support_agents, t.accounts
        rows = self.conn.execute(
            select(s.c.account_id, a.c.email, s.c.added_at)
            .join(a, a.c.account_id == s.c.account_id).order_by(a.c.email))
        return [(r.account_id, r.email, r.added_at) for r in rows]


class CaseRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, case: CaseRow) -> None:
        self.conn.execute(insert(t.cases).values(
            case_id=case.case_id, device_id=case.device_id, kind=case.kind,
            applicant_id=case.applicant_id, claim_id=case.claim_id,
            rules=None if case.rules is None else json.dumps(list(case.rules)),
            statement=case.statement, purchase=json.dumps(case.purchase, sort_keys=True),
            state=case.state, round=case.round, approvals=json.dumps(list(case.approvals)),
            opened_at=case.opened_at, window_ends_at=case.window_ends_at))

    def get(self, case_id: str, lock: bool = False) -> CaseRow | None:
        query = select(t.cases).where(t.cases.c.case_id == case_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _case(row)

    def save(self, case_id: str, state: str, round: int, approvals: tuple[str, ...],
             window_ends_at: int | None) -> None:
        self.conn.execute(update(t.cases).where(t.cases.c.case_id == case_id).values(
            state=state, round=round, approvals=json.dumps(list(approvals)),
            window_ends_at=window_ends_at))

    def listing(self, state: str | None, limit: int) -> list[CaseRow]:
        query = select(t.cases).order_by(t.cases.c.opened_at, t.cases.c.case_id).limit(limit)
        if state is not None:
            query = query.where(t.cases.c.state == state)
        return [_case(r) for r in self.conn.execute(query)]

    def for_device(self, device_id: str, limit: int) -> list[CaseRow]:
        """The device's cases, newest first (support looking a device up)."""
        c = t.cases.c
        return [_case(r) for r in self.conn.execute(
            select(t.cases).where(c.device_id == device_id)
            .order_by(c.opened_at.desc(), c.case_id).limit(limit))]

    def open_for(self, device_id: str, kind: str, applicant_id: str) -> list[str]:
        c = t.cases.c
        return list(self.conn.execute(
            select(c.case_id).where(c.device_id == device_id, c.kind == kind,
                                    c.applicant_id == applicant_id,
                                    c.state.not_in(("granted", "refused")))
            .order_by(c.opened_at, c.case_id)).scalars())

    def due(self, now: int, limit: int) -> list[str]:
        c = t.cases.c
        return list(self.conn.execute(
            select(c.case_id).where(c.window_ends_at <= now, c.state == "objection-window")
            .order_by(c.window_ends_at).limit(limit)).scalars())

    def _next_seq(self, table: Any, case_id: str) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(table.c.seq), 0))
                                     .where(table.c.case_id == case_id)).scalar_one()) + 1

    def add_history(self, case_id: str, at: int, state: str, reason: str | None) -> None:
        self.conn.execute(insert(t.case_history).values(
            case_id=case_id, seq=self._next_seq(t.case_history, case_id), at=at, state=state,
            reason=reason))

    def history(self, case_id: str) -> list[CaseEntry]:
        h = t.case_history.c
        return [CaseEntry(r.at, r.state, r.reason) for r in self.conn.execute(
            select(h.at, h.state, h.reason).where(h.case_id == case_id).order_by(h.seq))]

    def add_decision(self, case_id: str, decision: CaseDecision) -> None:
        self.conn.execute(insert(t.case_decisions).values(
            case_id=case_id, seq=self._next_seq(t.case_decisions, case_id), at=decision.at,
            actor=decision.actor, decision=decision.decision, reason=decision.reason,
            round=decision.round))

    def decisions(self, case_id: str) -> list[CaseDecision]:
        d = t.case_decisions.c
        return [CaseDecision(r.at, r.actor, r.decision, r.reason, r.round)
                for r in self.conn.execute(select(t.case_decisions).where(d.case_id == case_id)
                                           .order_by(d.seq))]

    def add_evidence(self, evidence: EvidenceRow) -> None:
        self.conn.execute(insert(t.case_evidence).values(
            evidence_id=evidence.evidence_id, case_id=evidence.case_id, sha256=evidence.sha256,
            content_type=evidence.content_type, size=evidence.size,
            added_at=evidence.added_at))

    def evidence(self, case_id: str) -> list[EvidenceRow]:
        e = t.case_evidence.c
        return [EvidenceRow(r.evidence_id, r.case_id, r.sha256, r.content_type, r.size,
                            r.added_at)
                for r in self.conn.execute(select(t.case_evidence).where(e.case_id == case_id)
                                           .order_by(e.added_at, e.evidence_id))]
