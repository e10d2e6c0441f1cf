"""Who may use the support and operator console (`/console`, docs/console.md).

Two kinds of people sit at it. Support agents are accounts with the support role,
signed in with their second factor (services/support.py): they look devices up and
decide appeal cases, each under their own name, so that four eyes are two people.
Operators present an admin API key (services/apikeys.py): role `policy` for the
territory policy, `admin` for everything an operator does (device lookup, the audit
trail, the outboxes) — the same roles the admin API asks for. No other key opens the
console: a tenant's key acts for one tenant, a `factory` key only imports devices.

Every page asks here again, so a revoked key or an ended session stops working at the
next page, not when a cookie expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import Forbidden, TenureError, Unauthorized

from .apikeys import live_key
from .authn import AccountSession
from .ports import ApiKeyRow, Tx, UnitOfWork
from .sessions import SignIn
from .support import require_agent

CONSOLE_ROLES = ("policy", "admin")
AGENT_PAGES = frozenset({"devices", "cases"})
ROLE_PAGES = {"admin": frozenset({"devices", "policy", "audit", "outbox"}),
              "policy": frozenset({"policy"})}


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is at the console and which of its pages they may open (for its navigation;
    each page checks again through its own use case)."""

    agent: str | None = None  # the agent's email
    agent_id: str | None = None  # and account id (decisions name agents by it)
    operator: str | None = None  # the key's name
    pages: frozenset[str] = frozenset()

    @property
    def signed_in(self) -> bool:
        return bool(self.pages)


def require_operator(tx: Tx, presented: str | None, role: str) -> ApiKeyRow:
    """The live admin key presented, if it has `role` or `admin` (as ApiKeys.require_role,
    inside the caller's transaction)."""
    row = live_key(tx, presented)
    if row.role not in (role, "admin"):
        raise Forbidden(f"This API key has the role {row.role!r}; this needs {role!r}.")
    return row


def require_reader(tx: Tx, session_token: str | None, operator_key: str | None,
                   now: int) -> str:
    """A support agent or an operator with an `admin` key: the actor who reads. An
    agent's session is tried first; without one the key decides, and without either
    the refusal of the agent's check (not an agent, no second factor) stands."""
    if operator_key and not session_token:
        return f"apikey:{require_operator(tx, operator_key, 'admin').key_id}"
    try:
        return f"account:{require_agent(tx, session_token, now).account_id}"
    except (Unauthorized, Forbidden):
        if not operator_key:
            raise
        return f"apikey:{require_operator(tx, operator_key, 'admin').key_id}"


class ConsoleAccess:
    def __init__(self, uow: UnitOfWork, clock: Clock, sign_in: SignIn) -> None:
        self.uow = uow
        self.clock = clock
        self.sign_in = sign_in

    def sign_in_agent(self, email: object, password: object, client_address: str,
                      totp: object) -> str:
        """A new session token for a support agent. The sign-in itself is the portal's
        (throttles, second factor); an account that may not use the console (no support
        role, second factor off) is refused and the session it just opened is ended."""
        session = self.sign_in(email, password, client_address, totp)
        try:
            with self.uow(readonly=True) as tx:
                require_agent(tx, session.token, self.clock.now())
        except TenureError:
            self.sign_in.sign_out(session.token)
            raise
        return session.token

    def sign_in_operator(self, presented: str | None) -> ApiKeyRow:
        """The operator's key, if it is live and of a console role; audited on the
        `system` stream (the key's id and role, never the key)."""
        def work(tx: Tx) -> ApiKeyRow:
            row = live_key(tx, presented)
            if row.role not in CONSOLE_ROLES:
                raise Forbidden(f"A key of role {row.role!r} does not open the console; "
                                "it needs the role 'policy' or 'admin'.")
            tx.audit.record("system", "console.signed_in", actor=f"apikey:{row.key_id}",
                            at=self.clock.now(), key_id=row.key_id, role=row.role)
            return row

        return self.uow.run(work)

    def visitor(self, session_token: str | None, operator_key: str | None) -> Visitor:
        """Who the cookies name, as far as they still work; never a refusal."""
        with self.uow(readonly=True) as tx:
            agent = _quietly_agent(tx, session_token, self.clock.now())
            key = _quietly_key(tx, operator_key)
        pages: frozenset[str] = frozenset()
        if agent is not None:
            pages |= AGENT_PAGES
        if key is not None:
            pages |= ROLE_PAGES.get(key.role, frozenset())
        return Visitor(agent.email if agent else None, agent.account_id if agent else None,
                       key.name if key else None, pages)


def _quietly_agent(tx: Tx, token: str | None, now: int) -> AccountSession | None:
    if not token:
        return None
    try:
        return require_agent(tx, token, now)
    except (Unauthorized, Forbidden):
        return None


def _quietly_key(tx: Tx, presented: str | None) -> ApiKeyRow | None:
    if not presented:
        return None
    try:
        row = live_key(tx, presented)
    except Unauthorized:
        return None
    return row if row.role in CONSOLE_ROLES else None
