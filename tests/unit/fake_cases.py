"""In-memory appeal cases and support agents for the service unit tests (the ports
`Cases` and `SupportAgents`); the SQL ones are proven by tests/integration."""

from __future__ import annotations

from dataclasses import replace

from tenure.services.ports import CaseDecision, CaseEntry, CaseRow, EvidenceRow

from .fake_repositories import LostRace, State, _Repo


class FakeSupportAgents(_Repo):
    def add(self, account_id: str, now: int) -> bool:
        if account_id in self.s.support_agents:
            return False
        self.s.support_agents[account_id] = now
        return True

    def remove(self, account_id: str) -> bool:
        return self.s.support_agents.pop(account_id, None) is not None

    def has(self, account_id: str) -> bool:
        return account_id in self.s.support_agents

    def all(self) -> list[tuple[str, str, int]]:
        return sorted(((a, self.s.accounts[a].email, at)
                       for a, at in self.s.support_agents.items()), key=lambda r: r[1])


class FakeCases(_Repo):
    def __init__(self, state: State) -> None:
        super().__init__(state)
        for table in ("rows", "history", "decisions", "evidence"):
            state.cases.setdefault(table, {})

    def add(self, case: CaseRow) -> None:
        if case.case_id in self.s.cases["rows"]:
            raise LostRace(case.case_id)
        self.s.cases["rows"][case.case_id] = case

    def get(self, case_id: str, lock: bool = False) -> CaseRow | None:
        found: CaseRow | None = self.s.cases["rows"].get(case_id)
        return found

    def save(self, case_id: str, state: str, round: int, approvals: tuple[str, ...],
             window_ends_at: int | None) -> None:
        row = self.s.cases["rows"][case_id]
        self.s.cases["rows"][case_id] = replace(row, state=state, round=round,
                                                approvals=approvals,
                                                window_ends_at=window_ends_at)

    def listing(self, state: str | None, limit: int) -> list[CaseRow]:
        rows = sorted(self.s.cases["rows"].values(), key=lambda c: (c.opened_at, c.case_id))
        return [c for c in rows if state in (None, c.state)][:limit]

    def for_device(self, device_id: str, limit: int) -> list[CaseRow]:
        rows = [c for c in self.s.cases["rows"].values() if c.device_id == device_id]
        return sorted(rows, key=lambda c: (-c.opened_at, c.case_id))[:limit]

    def open_for(self, device_id: str, kind: str, applicant_id: str) -> list[str]:
        return [c.case_id for c in self.listing(None, 10**6)
                if (c.device_id, c.kind, c.applicant_id) == (device_id, kind, applicant_id)
                and c.state not in ("granted", "refused")]

    def due(self, now: int, limit: int) -> list[str]:
        return [c.case_id for c in self.listing("objection-window", limit)
                if c.window_ends_at is not None and c.window_ends_at <= now]

    def add_history(self, case_id: str, at: int, state: str, reason: str | None) -> None:
        self.s.cases["history"].setdefault(case_id, []).append(CaseEntry(at, state, reason))

    def history(self, case_id: str) -> list[CaseEntry]:
        return list(self.s.cases["history"].get(case_id, []))

    def add_decision(self, case_id: str, decision: CaseDecision) -> None:
        self.s.cases["decisions"].setdefault(case_id, []).append(decision)

    def decisions(self, case_id: str) -> list[CaseDecision]:
        return list(self.s.cases["decisions"].get(case_id, []))

    def add_evidence(self, evidence: EvidenceRow) -> None:
        self.s.cases["evidence"].setdefault(evidence.case_id, []).append(evidence)

    def evidence(self, case_id: str) -> list[EvidenceRow]:
        return list(self.s.cases["evidence"].get(case_id, []))


class MemoryEvidence:
    """Evidence files in a dict, by SHA-256."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        self.files[digest] = data
        return digest

    def read(self, sha256: str) -> bytes | None:
        return self.files.get(sha256)
