"""The owner's device list on real databases: a fixed number of statements however many
devices the account owns (it used to read each device, its grants and its bootloader
state one device at a time)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.domain.model import Claim, ClaimKind
from tenure.services.tokens import digest


def owner_with_devices(runtime: Services, clock: FixedClock, n: int) -> tuple[str, str]:
    """An account owning `n` devices, each rung, the first lost, granted and unlocked: its
    token and the first device."""
    account_id, token = secrets.token_hex(16), secrets.token_urlsafe(32)
    now = clock.now()
    ids = [f"OD{secrets.token_hex(6).upper()}" for _ in range(n)]
    with runtime.uow() as tx:
        tx.accounts.create(account_id, f"{account_id}@example.com", "not-a-hash", now)
        tx.sessions.create(digest(token), account_id, now, now + 3600)
        tx.devices.insert_many([(d, "Tenure Phone 1", "TP1", "global", "Ed25519",
                                 secrets.token_bytes(44), now) for d in ids], [])
        for device_id in ids:
            tx.claims.add(Claim(secrets.token_hex(16), device_id, ClaimKind.OWNER,
                                account_id, now))
            tx.commands.add(device_id, "ring", {}, now, issued_by=account_id)
        tx.claims.add(Claim(secrets.token_hex(16), ids[0], ClaimKind.LOST, account_id, now,
                            message="Lost"))
        tx.unlocks.add(secrets.token_hex(16), ids[0], account_id, "nonce", now, now + 60)
        tx.unlocks.report_bootloader(ids[0], "unlocked", now, None)
    return token, ids[0]


@contextmanager
def statements(runtime: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(runtime.uow.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(runtime.uow.engine, "before_cursor_execute", note)


def test_listing_devices_takes_the_same_statements_for_one_or_many(
        runtime: Services, clock: FixedClock) -> None:
    (one, _), (many, first) = (owner_with_devices(runtime, clock, 1),
                               owner_with_devices(runtime, clock, 6))
    with statements(runtime) as for_one:
        (single,) = runtime.owner_devices.overview(one)
    with statements(runtime) as for_many:
        listed = runtime.owner_devices.overview(many)
    assert len(listed) == 6
    assert len(for_many) == len(for_one)
    assert single["unlock"]["bootloader"] == "unlocked"
    assert single["unlock"]["blocked_by"] == ["lost"]
    assert [c["kind"] for c in single["claims"]] == ["owner", "lost"]
    assert all([(c["type"], c["state"]) for c in d["commands"]] == [("ring", "pending")]
               for d in [single, *listed])
    states = {d["device_id"]: d["unlock"]["bootloader"] for d in listed}
    assert states.pop(first) == "unlocked" and set(states.values()) == {"unknown"}
