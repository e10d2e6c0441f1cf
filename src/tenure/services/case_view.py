"""What each party sees of a case: the applicant their case's progress, support all of it.

Anyone else — another account, the owner, a support agent asking as an applicant —
is answered exactly as for a case that does not exist (404).
"""

from __future__ import annotations

from typing import Any

from tenure.clock import Clock
from tenure.domain.cases import CaseState
from tenure.domain.errors import InvalidInput, NotFound

from .authn import require_session
from .ports import CaseRow, Tx, UnitOfWork
from .retail_sales import registered_sale
from .support import require_agent

MAX_LISTED = 500


def not_found() -> NotFound:
    return NotFound("No such case.")


def applicant_view(tx: Tx, case: CaseRow) -> dict[str, Any]:
    view: dict[str, Any] = {"case_id": case.case_id, "kind": case.kind, "state": case.state}
    if case.rules is not None:
        view["rules"] = list(case.rules)
    view["history"] = [{"at": h.at, "state": h.state, **({"reason": h.reason} if h.reason
                                                          else {})}
                       for h in tx.cases.history(case.case_id)]
    return view


def support_view(tx: Tx, case: CaseRow) -> dict[str, Any]:
    view = applicant_view(tx, case)
    decisions = tx.cases.decisions(case.case_id)
    sale = registered_sale(tx, case.device_id)
    view.update({
        "device_id": case.device_id,
        "applicant_id": case.applicant_id,
        "claim_id": case.claim_id,
        "opened_at": case.opened_at,
        "statement": case.statement,
        "purchase": case.purchase,
        "round": case.round,
        "approvals": list(case.approvals),
        "objection_window_ends": case.window_ends_at,
        "duplicates": [c for c in tx.cases.open_for(case.device_id, case.kind,
                                                    case.applicant_id) if c != case.case_id],
        "evidence": [{"evidence_id": e.evidence_id, "content_type": e.content_type,
                      "size": e.size, "sha256": e.sha256, "added_at": e.added_at}
                     for e in tx.cases.evidence(case.case_id)],
        "decisions": [{"at": d.at, "agent": d.actor.removeprefix("account:"),
                       "decision": d.decision, "reason": d.reason, "round": d.round}
                      for d in decisions if d.decision != "objection"],
        "objections": [{"at": d.at, "statement": d.reason, "round": d.round}
                       for d in decisions if d.decision == "objection"],
        # A retailer's registered sale is evidence the applicant did not have to upload.
        "registered_sale": sale.as_json() if sale else None,
    })
    return view


class CaseViews:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def for_applicant(self, bearer: str | None, case_id: str) -> dict[str, Any]:
        with self.uow(readonly=True) as tx:
            session = require_session(tx, bearer, self.clock.now())
            case = tx.cases.get(case_id) if _is_case_id(case_id) else None
            if case is None or case.applicant_id != session.account_id:
                raise not_found()
            return applicant_view(tx, case)

    def listing(self, bearer: str | None, state: str | None) -> list[dict[str, Any]]:
        if state is not None and state not in {s.value for s in CaseState}:
            raise InvalidInput("'state' must be one of: "
                               + ", ".join(s.value for s in CaseState) + ".")
        with self.uow(readonly=True) as tx:
            require_agent(tx, bearer, self.clock.now())
            return [{"case_id": c.case_id, "kind": c.kind, "state": c.state,
                     "opened_at": c.opened_at} for c in tx.cases.listing(state, MAX_LISTED)]

    def for_support(self, bearer: str | None, case_id: str) -> dict[str, Any]:
        with self.uow(readonly=True) as tx:
            require_agent(tx, bearer, self.clock.now())
            case = tx.cases.get(case_id) if _is_case_id(case_id) else None
            if case is None:
                raise not_found()
            return support_view(tx, case)


def _is_case_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
