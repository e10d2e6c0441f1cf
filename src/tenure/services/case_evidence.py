"""Evidence for a case: proof of purchase as a PDF, JPEG or PNG, at most 10 MiB.

The type is recognised by the file's first bytes, never by its name or a declared
content type, so a page or script cannot pass for a receipt; files are served back
with that recognised type, as an attachment, only to the applicant and support.
The file lives outside the database (under the data directory, named by its SHA-256);
the database keeps its hash, type and size.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.cases import FINAL
from tenure.domain.errors import CaseClosed, TooLarge, UnsupportedEvidence

from .authn import require_session
from .case_view import _is_case_id, not_found
from .ports import CaseRow, EvidenceFiles, EvidenceRow, Tx, UnitOfWork
from .support import require_agent

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_CASE = 20
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(data: bytes) -> str | None:
    """The content type the file's first bytes show, or None."""
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    return None


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    content_type: str
    data: bytes
    sha256: str


class CaseEvidence:
    def __init__(self, uow: UnitOfWork, clock: Clock, files: EvidenceFiles) -> None:
        self.uow = uow
        self.clock = clock
        self.files = files

    def add(self, bearer: str | None, case_id: str, data: bytes | None) -> EvidenceRow:
        """Checked (who, which case, what file) before the file is written; the row is
        added in a second transaction that checks the case again."""
        with self.uow(readonly=True) as tx:
            self._own_open_case(tx, bearer, case_id)
        if data is None:
            raise UnsupportedEvidence("Send the file as the multipart form field 'file'.")
        if len(data) > MAX_EVIDENCE_BYTES:
            raise TooLarge("Evidence files may be at most 10 MiB.")
        content_type = sniff(data)
        if content_type is None:
            raise UnsupportedEvidence("Evidence must be a PDF, JPEG or PNG file.")
        digest = self.files.put(data)

        def work(tx: Tx) -> EvidenceRow:
            now = self.clock.now()
            case, account_id = self._own_open_case(tx, bearer, case_id)
            if len(tx.cases.evidence(case.case_id)) >= MAX_FILES_PER_CASE:
                raise CaseClosed(f"A case takes at most {MAX_FILES_PER_CASE} evidence files.")
            row = EvidenceRow(secrets.token_hex(16), case.case_id, digest, content_type,
                              len(data), now)
            tx.cases.add_evidence(row)
            tx.audit.record(f"device:{case.device_id}", "case.evidence_added",
                            actor=f"account:{account_id}", at=now, case=case.case_id,
                            evidence=row.evidence_id, sha256=digest, size=len(data))
            return row

        return self.uow.run(work)

    def for_applicant(self, bearer: str | None, case_id: str,
                      evidence_id: str) -> EvidenceFile:
        with self.uow(readonly=True) as tx:
            session = require_session(tx, bearer, self.clock.now())
            case = tx.cases.get(case_id) if _is_case_id(case_id) else None
            if case is None or case.applicant_id != session.account_id:
                raise not_found()
            return self._file(tx, case, evidence_id)

    def for_support(self, bearer: str | None, case_id: str, evidence_id: str) -> EvidenceFile:
        with self.uow(readonly=True) as tx:
            require_agent(tx, bearer, self.clock.now())
            case = tx.cases.get(case_id) if _is_case_id(case_id) else None
            if case is None:
                raise not_found()
            return self._file(tx, case, evidence_id)

    def _file(self, tx: Tx, case: CaseRow, evidence_id: str) -> EvidenceFile:
        for row in tx.cases.evidence(case.case_id):
            if row.evidence_id == evidence_id:
                data = self.files.read(row.sha256)
                if data is not None:
                    return EvidenceFile(row.content_type, data, row.sha256)
        raise not_found()

    def _own_open_case(self, tx: Tx, bearer: str | None, case_id: str
                       ) -> tuple[CaseRow, str]:
        now_session = require_session(tx, bearer, self.clock.now())
        case = tx.cases.get(case_id) if _is_case_id(case_id) else None
        if case is None or case.applicant_id != now_session.account_id:
            raise not_found()
        if case.state in {s.value for s in FINAL}:
            raise CaseClosed(f"This case is {case.state}; it takes no more evidence.")
        return case, now_session.account_id
