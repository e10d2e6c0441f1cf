"""In-memory fakes of the redress ports (transfers, the message relay), over the same
`State` as tests/unit/fake_repositories.py."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from tenure.services.ports import RelayMessage, TransferRow

from .fake_repositories import State, _Repo


class FakeTransfers(_Repo):
    def add(self, row: TransferRow) -> bool:
        if any(r["row"].device_id == row.device_id and r["row"].state == "pending"
               for r in self.s.transfers.values()):
            return False  # the partial unique index of the SQL adapter
        self.s.transfers[row.transfer_id] = {"row": replace(row, state="pending",
                                                            failures=0), "to_account": None}
        return True

    def get(self, transfer_id: str, lock: bool = False) -> TransferRow | None:
        found = self.s.transfers.get(transfer_id)
        return found["row"] if found else None

    def expire(self, device_id: str, now: int) -> None:
        for entry in self.s.transfers.values():
            row = entry["row"]
            if row.device_id == device_id and row.state == "pending" and row.expires_at <= now:
                entry["row"] = replace(row, state="expired")

    def count_failure(self, transfer_id: str) -> int:
        entry = self.s.transfers[transfer_id]
        entry["row"] = replace(entry["row"], failures=entry["row"].failures + 1)
        return int(entry["row"].failures)

    def finish(self, transfer_id: str, state: str, now: int,
               to_account: str | None = None) -> bool:
        entry = self.s.transfers.get(transfer_id)
        if entry is None or entry["row"].state != "pending":
            return False
        entry["row"] = replace(entry["row"], state=state)
        entry["to_account"] = to_account
        return True

    def pending_from(self, account_id: str, now: int) -> list[TransferRow]:
        return [e["row"] for e in self.s.transfers.values()
                if e["row"].from_account == account_id and e["row"].state == "pending"
                and e["row"].expires_at > now]


class FakeRelay(_Repo):
    def add(self, message: RelayMessage, token_hash: str, client: str) -> None:
        self.s.relay[message.message_id] = {"message": message, "token_hash": token_hash,
                                            "client": client, "recipients": None}

    def by_token(self, token_hash: str) -> RelayMessage | None:
        return next((e["message"] for e in self.s.relay.values()
                     if e["token_hash"] == token_hash), None)

    def get(self, message_id: str) -> RelayMessage | None:
        found = self.s.relay.get(message_id)
        return found["message"] if found else None

    def confirm(self, message_id: str, now: int, recipients: int,
                owner_account: str | None) -> bool:
        entry = self.s.relay[message_id]
        if entry["message"].confirmed_at is not None:
            return False
        entry["message"] = replace(entry["message"], confirmed_at=now,
                                   owner_account=owner_account)
        entry["recipients"] = recipients
        return True

    def replied(self, message_id: str) -> None:
        entry = self.s.relay[message_id]
        entry["message"] = replace(entry["message"], replies=entry["message"].replies + 1)

    def recent(self, since: int, limit: int) -> list[dict[str, Any]]:
        senders: dict[str, dict[str, Any]] = {}
        for entry in self.s.relay.values():
            m = entry["message"]
            if m.created_at < since:
                continue
            row = senders.setdefault(m.from_addr, {"from": m.from_addr, "asked": 0,
                                                   "confirmed": 0, "devices": set(),
                                                   "replies": 0, "last": 0})
            row["asked"] += 1
            row["confirmed"] += m.confirmed_at is not None
            row["devices"].add(m.device_id)
            row["replies"] += m.replies
            row["last"] = max(row["last"], m.created_at)
        out = [{**r, "devices": len(r["devices"])} for r in senders.values()]
        return sorted(out, key=lambda r: (-r["asked"], r["from"]))[:limit]

    def forget_owner(self, account_id: str) -> None:
        for entry in self.s.relay.values():
            if entry["message"].owner_account == account_id:
                entry["message"] = replace(entry["message"], owner_account=None)


def messages(state: State) -> list[dict[str, Any]]:
    """Every relayed message as plain data, for assertions."""
    return [{**asdict(e["message"]), "recipients": e["recipients"]}
            for e in state.relay.values()]
