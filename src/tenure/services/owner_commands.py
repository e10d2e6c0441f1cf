"""The owner's remote commands: ring the device, or wipe it (docs/protocol.md Part 2).

A command waits in the device's records (`commands`) until the device acknowledges it
at a check-in. Ringing protects nobody's data and needs only a live session; wiping
destroys the user's data, so it is an owner action that weakens protection: a fresh
sign-in AND a password not changed by a reset within the cool-down (`OwnerActions`). A
wipe releases no claim — a wiped lost device still shows its `lost` lock — and a
password reset cancels the account's pending wipes (services/password_reset.py), so
whoever takes over the mailbox cannot queue one that outlives the owner's recovery.

Ringing is limited per device (an owner, or a stolen session, cannot flood a device's
records) and every device has a cap of pending commands; a second wipe while one is
pending answers the pending one (naturally idempotent).
"""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, RateLimitExceeded

from . import notices
from .authn import OwnerActions, require_session
from .limits import Limit
from .ownership import owned_claim
from .ports import Tx, UnitOfWork

TYPES = ("ring", "wipe")
MAX_PENDING = 10  # pending commands a device may have before owners must wait for it
RING_LIMIT = Limit("ring-device", 5, 3600)  # rings per device per hour


class OwnerCommands:
    def __init__(self, uow: UnitOfWork, clock: Clock, rule: OwnerActions,
                 ring_limit: Limit = RING_LIMIT, max_pending: int = MAX_PENDING) -> None:
        self.uow = uow
        self.clock = clock
        self.rule = rule
        self.ring_limit = ring_limit
        self.max_pending = max_pending

    def issue(self, token: str | None, device_id: str, kind: object) -> str:
        """Queue a ring or a wipe for the device; returns the command id."""
        if kind not in TYPES:
            raise InvalidInput("'type' must be \"ring\" or \"wipe\".")

        def work(tx: Tx) -> str:
            now = self.clock.now()
            session = require_session(tx, token, now)
            if kind == "wipe":
                self.rule.require_weakening(session, now)
            owned_claim(tx, session, device_id)  # 404 unless the device is this account's
            if kind == "wipe":
                waiting = tx.commands.issued_by_account(session.account_id, [device_id], now)
                pending = [c for c in waiting[device_id]
                           if c.kind == "wipe" and c.state == "pending"]
                if pending:
                    return pending[0].command_id
            if tx.commands.pending_count(device_id) >= self.max_pending:
                raise RateLimitExceeded(
                    f"{self.max_pending} commands are already waiting for this device; "
                    "they are delivered when it next checks in. Try again after that.",
                    retry_after=self.ring_limit.window)
            if kind == "ring":
                wait = self.ring_limit.over(tx, device_id, now)
                if wait is not None:
                    raise RateLimitExceeded("This device was rung too often in the last "
                                            "hour; try again later.", retry_after=wait)
            command_id = tx.commands.add(device_id, str(kind), {}, now,
                                         issued_by=session.account_id)
            tx.audit.record(f"device:{device_id}", f"command.{kind}.queued",
                            actor=f"account:{session.account_id}", at=now, command=command_id)
            notices.owner_command(tx, session.email, device_id, str(kind), now)
            return command_id

        return self.uow.run(work)
