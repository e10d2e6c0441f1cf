"""Territory policy versions: validate, preview the impact, apply, roll back.

Every change is a new immutable version (audited with author and reason); rollback
applies an older document as a new version, and withdrawing records a version without
rules, so history only grows. Servers read the
active version through a cache refreshed every few seconds
(`TENURE_POLICY_REFRESH_SECONDS`), keeping the device hot path free of policy queries.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, NotFound
from tenure.domain.jsonread import JsonRejected, check_tree
from tenure.domain.model import Device
from tenure.domain.policy import Policy, PolicyError, parse_policy, verdict
from tenure.domain.territory import Presence
from tenure.domain.text import clean_text
from tenure.geo.territories import normalise_territory
from tenure.i18n import LOCALES

from .ports import PolicyVersion, Tx, UnitOfWork

EMPTY = Policy()
# The document of a withdrawal: valid TOML with no rules, so every territory is allowed.
WITHDRAWN = "# Withdrawn: no rules; every territory is allowed.\n"


MAX_DOCUMENT_CHARS = 256 * 1024
MAX_VERSION = 2**31 - 1  # policy versions are 32-bit integers in the store


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def parse_document(text: str) -> Policy:
    """Parse and validate a TOML policy; PolicyError lists every problem with its place.

    A hostile document fails here as a PolicyError, never as a crash: size first;
    then what tomllib itself cannot survive (nesting past the recursion limit, an
    integer of thousands of digits) and `inf`/`nan`; then the JSON reader's depth and
    number limits on what was decoded (domain/jsonread.py)."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyError([f"the document is larger than {MAX_DOCUMENT_CHARS // 1024} KiB"])
    try:
        doc = tomllib.loads(text, parse_float=_finite)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([f"not valid TOML: {exc}"]) from exc
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise PolicyError([f"not valid TOML: {reason}"]) from exc
    try:
        check_tree(doc)
    except JsonRejected as exc:
        raise PolicyError([f"not valid TOML here: {exc}"]) from exc
    return parse_policy(doc, normalise_territory, LOCALES)


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    policy: Policy


@dataclass
class ImpactRow:
    model: str
    territory: str
    newly_refused: int = 0
    newly_locked: int = 0
    released: int = 0


@dataclass
class Impact:
    from_version: int
    rows: list[ImpactRow] = field(default_factory=list)

    @property
    def totals(self) -> ImpactRow:
        total = ImpactRow("all models", "all")
        for row in self.rows:
            total.newly_refused += row.newly_refused
            total.newly_locked += row.newly_locked
            total.released += row.released
        return total

    def as_json(self) -> dict[str, object]:
        return {"from_version": self.from_version,
                "rows": [vars(r) for r in self.rows], "totals": vars(self.totals)}

    def render(self) -> str:
        lines = [f"Impact against active version {self.from_version} "
                 "(from each device's last known territory):",
                 f"{'model':<24} {'territory':<10} {'newly refused':>14} {'newly locked':>13} "
                 f"{'released':>9}"]
        for r in self.rows:
            lines.append(f"{r.model:<24} {r.territory:<10} {r.newly_refused:>14,} "
                         f"{r.newly_locked:>13,} {r.released:>9,}")
        t = self.totals
        if not self.rows:
            lines.append("(no device changes)")
        lines.append(f"{'total':<35} {t.newly_refused:>14,} {t.newly_locked:>13,} "
                     f"{t.released:>9,}")
        return "\n".join(lines)


def impact(tx: Tx, old: Policy, new: Policy, from_version: int) -> Impact:
    """What changing `old` for `new` does, evaluated once per (product, territory) group."""
    rows: dict[tuple[str, str], ImpactRow] = defaultdict(lambda: ImpactRow("", ""))

    def row(model: str, territory: str) -> ImpactRow:
        found = rows[(model, territory)]
        found.model, found.territory = model, territory
        return found

    for model, sku, market, territory, in_use, count in tx.territory.groups():
        device = Device("", model, sku, market)
        here = Presence((territory,), new.evidence, ())
        before, after = verdict(old, device, here), verdict(new, device, here)
        if (after and after.refuses_activation) and not (before and before.refuses_activation):
            row(model, territory).newly_refused += count
        if in_use and after and after.effect == "lock_in_use" and not (
            before and before.effect == "lock_in_use"
        ):
            row(model, territory).newly_locked += count
    for model, sku, market, territory, count in tx.territory.locked_groups():
        device = Device("", model, sku, market)
        after = verdict(new, device, Presence((territory,), new.evidence, ()))
        if not (after and after.effect == "lock_in_use"):
            row(model, territory).released += count
    return Impact(from_version, sorted(rows.values(), key=lambda r: (r.model, r.territory)))


class PolicyStore:
    def __init__(self, uow: UnitOfWork, clock: Clock, refresh_seconds: float) -> None:
        self.uow = uow
        self.clock = clock
        self.refresh = refresh_seconds
        self._cached: tuple[float, ActivePolicy] | None = None
        self._lock = threading.Lock()

    def active_in(self, tx: Tx) -> ActivePolicy:
        number = tx.policies.latest_number()
        if number == 0:
            return ActivePolicy(0, EMPTY)
        entry = tx.policies.get(number)
        assert entry is not None
        return ActivePolicy(number, parse_document(entry.document))

    def current(self, tx: Tx | None = None) -> ActivePolicy:
        """The active policy, at most `refresh_seconds` old. Inside a request, pass its
        unit of work: the refresh then reads on the request's own connection instead of
        taking a second one from the pool while the first is held (which, with many
        requests in flight, can exhaust the pool)."""
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self.refresh:
            return cached[1]
        with self._lock:
            if tx is not None:
                active = self._refresh(tx, cached)
            else:
                with self.uow(readonly=True) as own:
                    active = self._refresh(own, cached)
            self._cached = (time.monotonic(), active)
            return active

    def _refresh(self, tx: Tx, cached: tuple[float, ActivePolicy] | None) -> ActivePolicy:
        number = tx.policies.latest_number()
        if cached is not None and cached[1].version == number:
            return cached[1]
        return self.active_in(tx)

    def preview(self, text: str) -> Impact:
        new = parse_document(text)
        with self.uow(readonly=True) as tx:
            active = self.active_in(tx)
            return impact(tx, active.policy, new, active.version)

    def apply(self, text: str, author: str, reason: str,
              rollback_of: int | None = None, action: str = "policy.applied") -> PolicyVersion:
        parse_document(text)
        if isinstance(reason, str) and not reason.strip():
            raise InvalidInput("a reason is required for every policy change (--reason)")
        reason = clean_text(reason, "reason", max_length=1000, multiline=True)
        author = clean_text(author, "author", max_length=200)

        def work(tx: Tx) -> PolicyVersion:
            now = self.clock.now()
            entry = PolicyVersion(tx.policies.latest_number() + 1, text,
                                  hashlib.sha256(text.encode()).hexdigest(), author,
                                  reason, now, rollback_of)
            tx.policies.add(entry)
            tx.audit.record("policy", action, actor=author, at=now,
                            version=entry.version, sha256=entry.sha256, reason=entry.reason,
                            rollback_of=rollback_of)
            return entry

        entry = self.uow.run(work)
        self._cached = None
        return entry

    def rollback(self, version: int, author: str, reason: str) -> PolicyVersion:
        if version == 0:
            raise NotFound("version 0 is no policy at all; to return to it, withdraw the "
                           "policy (tenure policy withdraw, POST /v1/admin/policy/withdraw)")
        with self.uow(readonly=True) as tx:
            old = tx.policies.get(version) if 1 <= version <= MAX_VERSION else None
        if old is None:
            raise NotFound(f"there is no policy version {version}")
        return self.apply(old.document, author, reason or f"rollback to version {version}",
                          rollback_of=version)

    def withdraw(self, author: str, reason: str) -> PolicyVersion:
        """Return to "no policy" (every territory allowed) as a new, audited version, so
        that the step is visible in the history and can itself be rolled back."""
        with self.uow(readonly=True) as tx:
            active = self.active_in(tx)
        if not active.policy.rules:
            raise InvalidInput("no policy rules are in force; there is nothing to withdraw")
        return self.apply(WITHDRAWN, author, reason, action="policy.withdrawn")

    def history(self) -> list[PolicyVersion]:
        with self.uow(readonly=True) as tx:
            return tx.policies.history()

    def document(self, version: int | None = None) -> PolicyVersion:
        with self.uow(readonly=True) as tx:
            number = version if version is not None else tx.policies.latest_number()
            entry = tx.policies.get(number) if 1 <= number <= MAX_VERSION else None
        if entry is None:
            raise NotFound("no policy has been applied yet" if version is None
                           else f"there is no policy version {version}")
        return entry
