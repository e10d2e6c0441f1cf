"""Checking an organization's bypass code at activation, under a throttle that holds
under concurrency (docs/protocol.md Part 2, "Organization").

Every presented code is counted *before* it is checked, in one atomic statement (the
sign-in throttle's store, key `bypass:<device_id>`), so that a burst of simultaneous
guesses cannot all slip past a count that has not seen the others. The attempt that
reaches five consecutive failures pauses the device's code checks at once,
pessimistically; while paused, attempts answer `429 too-many-attempts` with Retry-After
and are not counted; each further failure doubles the pause up to one hour. A right code
clears the count. A code opens one activation: it is spent by a conditional update in
the activation's own transaction, so of two activations racing with one code, one wins.
"""

from __future__ import annotations

import secrets

from tenure.domain import bypass_code
from tenure.domain.errors import TooManyAttempts
from tenure.domain.model import Claim

from .ports import BypassCodeRow, Tx
from .sessions import FORGET_AFTER, delay_after

THRESHOLD = 5


def throttle_key(device_id: str) -> str:
    return f"bypass:{device_id}"


def new_code(tx: Tx, claim: Claim, now: int) -> str:
    """Issue the device's new code (the previous one stops working); shown once."""
    code = bypass_code.format_code(secrets.token_bytes(bypass_code.RAW_BYTES))
    digest = bypass_code.hash_code(code, secrets.token_bytes(16))
    tx.bypass_codes.put(BypassCodeRow(claim.device_id, claim.holder, digest, now, None))
    return code


def check(tx: Tx, claim: Claim, presented: str, now: int) -> str | None:
    """The stored hash of the organization's current code if `presented` is it (to
    spend with the activation), else None — counted either way, refused while paused."""
    key = throttle_key(claim.device_id)
    count = tx.throttle.admit(key, now, now - FORGET_AFTER)
    if count is None:
        raise TooManyAttempts("Too many wrong bypass codes for this device; try again later.",
                              retry_after=max(1, tx.throttle.blocked_until(key) - now))
    current = tx.bypass_codes.get(claim.device_id)
    if (current is not None and current.spent_at is None and current.tenant_id == claim.holder
            and bypass_code.matches(presented, current.code_hash)):
        tx.throttle.clear(key)
        return current.code_hash
    if count >= THRESHOLD:  # assume the worst: concurrent attempts must wait too
        tx.throttle.block(key, now + delay_after(count, THRESHOLD))
    return None
