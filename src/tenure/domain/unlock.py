"""May this owner unlock this device's bootloader now? One pure decision.

Granted only to the bound account, after the binding has lasted the waiting period,
within the account's quota of devices per period, and never while the device is
reported lost, financed, held by an organization or restricted by territory policy.
Each refusal says why in words a person understands, and when waiting helps, from when.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Claim, ClaimKind

BLOCKING = {
    ClaimKind.LOST: "it is reported lost",
    ClaimKind.CREDITOR: "a financing company holds a claim on it",
    ClaimKind.ORGANIZATION: "it is managed by an organization",
    ClaimKind.TERRITORY: "it is locked by the territory policy",
}


@dataclass(frozen=True, slots=True)
class UnlockRules:
    wait_seconds: int  # binding age required (default 168 h)
    quota: int  # devices per account per period (default 1)
    quota_seconds: int  # the period (default 365 days)
    valid_seconds: int  # lifetime of a grant (default 14 days)


@dataclass(frozen=True, slots=True)
class UnlockInput:
    account_id: str
    claims: tuple[Claim, ...]  # the device's active claims
    granted_devices: tuple[tuple[str, int], ...]  # (device id, granted at) of this account
    device_id: str
    now: int
    rules: UnlockRules


@dataclass(frozen=True, slots=True)
class UnlockDecision:
    allowed: bool
    reason: str
    retry_after: int | None = None  # when waiting helps: from when it may be granted
    expires_at: int | None = None


def eligible_from(owner_since: int, rules: UnlockRules) -> int:
    return owner_since + rules.wait_seconds


def quota_left(given: UnlockInput) -> tuple[int, int | None]:
    """Devices this account may still unlock, and when the oldest grant frees a place."""
    if given.rules.quota <= 0:  # unlocking is switched off: no place ever frees
        return 0, None
    window_start = given.now - given.rules.quota_seconds
    recent: dict[str, int] = {}
    for device_id, at in given.granted_devices:
        if at > window_start and device_id != given.device_id:
            recent[device_id] = min(at, recent.get(device_id, at))
    left = given.rules.quota - len(recent)
    if left > 0 or not recent:
        return left, None
    # Enough grants must age out to bring the account below its quota again.
    times = sorted(recent.values())
    frees_at = times[len(times) - given.rules.quota] + given.rules.quota_seconds
    return 0, frees_at


def decide_unlock(given: UnlockInput) -> UnlockDecision:
    owner = next((c for c in given.claims if c.kind is ClaimKind.OWNER), None)
    if owner is None or owner.holder != given.account_id:
        return UnlockDecision(False, "This device is not bound to your account; only the "
                                     "account it is bound to can unlock its bootloader.")
    blocking = [BLOCKING[c.kind] for c in given.claims if c.kind in BLOCKING]
    if blocking:
        return UnlockDecision(False, "The bootloader cannot be unlocked while "
                                     + " and ".join(blocking) + ".")
    ready = eligible_from(owner.created_at, given.rules)
    left, frees_at = quota_left(given)
    if given.now < ready:
        hours = given.rules.wait_seconds // 3600
        return UnlockDecision(False, f"The device must have been bound to your account for "
                                     f"{hours} hours before its bootloader can be unlocked.",
                              retry_after=max(ready, frees_at or 0))
    if left <= 0:
        return UnlockDecision(False, f"Your account may unlock {given.rules.quota} device(s) "
                                     f"per {given.rules.quota_seconds // 86400} days and has "
                                     "used that quota.", retry_after=frees_at)
    return UnlockDecision(True, "granted", expires_at=given.now + given.rules.valid_seconds)
