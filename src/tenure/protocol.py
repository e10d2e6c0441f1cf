"""The wire vocabulary of the protocol (docs/protocol.md), shared by server and agent.

Content types, token `typ`s, problem names, endpoint paths and the shapes of the
JSON a device and the server exchange. Both sides import this one module, so a name
cannot drift between what the server sends and what the reference device expects.
It imports nothing of tenure and does no I/O.

The `TypedDict`s describe documents as they travel; `total=False` marks members that
docs/protocol.md calls optional (a reader must still check every value it is sent).
"""

# ruff: noqa: S105 - names of tokens and problems, not secrets
from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# -- content types ------------------------------------------------------------------------
JOSE_JSON = "application/jose+json"  # signed device requests (flattened JWS JSON)
JOSE = "application/jose"  # a compact JWS as a whole body (webhooks)
PROBLEM_JSON = "application/problem+json"  # RFC 9457 problem documents
JSON = "application/json"

# -- headers ------------------------------------------------------------------------------
REPLAY_NONCE = "Replay-Nonce"
RETRY_AFTER = "Retry-After"
IDEMPOTENCY_KEY = "Idempotency-Key"

# -- token types (JWS `typ`): one key ring signs them all, so every reader checks it -----
RECORD_TYP = "tenure-record+jwt"  # server → device: activation/check-in records
BL_TOKEN_TYP = "tenure-bl-token+jwt"  # bootloader → server, signed by the device key
UNLOCK_TYP = "tenure-unlock+jwt"  # server → bootloader: the unlock grant
STATUS_TYP = "tenure-status+jwt"  # server → buyer: the public status statement
EVENT_TYP = "tenure-event+jwt"  # server → tenant: webhook events
APPEAL_TYP = "tenure-appeal+jwt"  # device → applicant: proof of holding the device

# -- problems -----------------------------------------------------------------------------
PROBLEM_PREFIX = "urn:tenure:problem:"

# Part 1
MALFORMED = "malformed"
UNKNOWN_DEVICE = "unknown-device"
BAD_SIGNATURE = "bad-signature"
BAD_NONCE = "bad-nonce"
URL_MISMATCH = "url-mismatch"
TOO_LARGE = "too-large"
ALREADY_BOUND = "already-bound"
REAUTHENTICATION_REQUIRED = "reauthentication-required"
EMAIL_TAKEN = "email-taken"
WEAK_PASSWORD = "weak-password"
INVALID_CREDENTIALS = "invalid-credentials"
TOO_MANY_ATTEMPTS = "too-many-attempts"
UNLOCK_NOT_PERMITTED = "unlock-not-permitted"
# Part 2
CREDENTIAL_COOLDOWN = "credential-cooldown"
TOTP_REQUIRED = "totp-required"
CLAIMS_HELD = "claims-held"
DEVICE_HELD = "device-held"
DUPLICATE_LOAN = "duplicate-loan"
ALREADY_FINANCED = "already-financed"
NOTICE_NOT_ACKNOWLEDGED = "notice-not-acknowledged"
NO_PRIOR_REMINDER = "no-prior-reminder"
CREDITOR_STATE = "creditor-state"
TRANSFER_PENDING = "transfer-pending"
INVALID_APPEAL_TOKEN = "invalid-appeal-token"
UNSUPPORTED_EVIDENCE = "unsupported-evidence"
# This server's own names for failures docs/protocol.md leaves unnamed
INVALID_INPUT = "invalid-input"
INVALID_TOKEN = "invalid-token"
UNKNOWN_TERRITORY = "unknown-territory"
NOT_ACTIVATED = "not-activated"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not-found"
METHOD_NOT_ALLOWED = "method-not-allowed"
HTTP_ERROR = "http-error"
INVALID_ROWS = "invalid-rows"
INVALID_POLICY = "invalid-policy"
INVALID_CONFIG = "invalid-config"
KEY_RING = "key-ring"
GEO_DATA = "geo-data"
PROBLEM_INTERNAL = "internal"
# Answered by `tenure serve`'s connection layer before a request reaches the app
REQUEST_TIMEOUT = "request-timeout"
HEADERS_TOO_LARGE = "headers-too-large"
OVERLOADED = "overloaded"
# Answered when the database cannot be had in time, or an import was overtaken
UNAVAILABLE = "unavailable"
IMPORT_CONFLICT = "import-conflict"
# Account hardening (docs/security.md)
IDEMPOTENCY_KEY_IN_USE = "idempotency-key-in-use"
RATE_LIMITED = "rate-limited"
TOTP_ENABLED = "totp-enabled"
# Appeals (docs/redress.md)
CASE_CLOSED = "case-closed"

PROTOCOL_PROBLEMS = frozenset({
    MALFORMED, UNKNOWN_DEVICE, BAD_SIGNATURE, BAD_NONCE, URL_MISMATCH, TOO_LARGE,
    ALREADY_BOUND, REAUTHENTICATION_REQUIRED, EMAIL_TAKEN, WEAK_PASSWORD,
    INVALID_CREDENTIALS, TOO_MANY_ATTEMPTS, UNLOCK_NOT_PERMITTED, CREDENTIAL_COOLDOWN,
    TOTP_REQUIRED, CLAIMS_HELD, DEVICE_HELD, DUPLICATE_LOAN, ALREADY_FINANCED,
    NOTICE_NOT_ACKNOWLEDGED, NO_PRIOR_REMINDER, TRANSFER_PENDING, INVALID_APPEAL_TOKEN,
    UNSUPPORTED_EVIDENCE,
})
"""Every problem name docs/protocol.md defines."""

PROBLEMS = PROTOCOL_PROBLEMS | {
    INVALID_INPUT, INVALID_TOKEN, UNKNOWN_TERRITORY, NOT_ACTIVATED, UNAUTHORIZED, FORBIDDEN,
    NOT_FOUND, METHOD_NOT_ALLOWED, HTTP_ERROR, INVALID_ROWS, INVALID_POLICY, INVALID_CONFIG,
    KEY_RING, GEO_DATA, PROBLEM_INTERNAL, REQUEST_TIMEOUT, HEADERS_TOO_LARGE, OVERLOADED,
    UNAVAILABLE, IMPORT_CONFLICT, IDEMPOTENCY_KEY_IN_USE, RATE_LIMITED, TOTP_ENABLED,
    CASE_CLOSED,
    CREDITOR_STATE,
}
"""Every problem name this server may answer with."""


def problem_type(name: str) -> str:
    """`malformed` → `urn:tenure:problem:malformed`."""
    return PROBLEM_PREFIX + name


def problem_name(type_: object) -> str:
    """The name of a problem `type` (`""` when it is not one of ours)."""
    text = str(type_ or "")
    return text.removeprefix(PROBLEM_PREFIX) if text.startswith(PROBLEM_PREFIX) else ""


# -- endpoints ----------------------------------------------------------------------------
KEYS_PATH = "/v1/keys"
NONCE_PATH = "/v1/device/nonce"
ACTIVATION_PATH = "/v1/device/activation"
BIND_PATH = "/v1/device/bind"
UNBIND_PATH = "/v1/device/unbind"
CHECKIN_PATH = "/v1/device/checkin"
DEVICE_PREFIX = "/v1/device/"
ACCOUNTS_PATH = "/v1/accounts"
SESSIONS_PATH = "/v1/sessions"
PASSWORD_RESETS_PATH = "/v1/password-resets"
PASSWORD_RESET_CONFIRM_PATH = "/v1/password-resets/confirm"
MY_DEVICES_PATH = "/v1/me/devices"
MY_DEVICE_COMMANDS_PATH = "/v1/me/devices/{device_id}/commands"  # ring, wipe
UNLOCKS_PATH = "/v1/unlocks"
CASES_PATH = "/v1/cases"


# -- shapes -------------------------------------------------------------------------------
Alg = Literal["Ed25519", "EdDSA", "ES256"]
LockKind = Literal["owner", "lost", "organization", "creditor", "territory"]


class ProtectedHeader(TypedDict):
    """The protected header of a signed device request."""

    alg: str
    kid: str  # the device_id
    nonce: str
    url: str  # the request path


class FlattenedJWS(TypedDict):
    protected: str
    payload: str
    signature: str


class Gnss(TypedDict, total=False):
    country: str
    subdivision: str


class Signals(TypedDict, total=False):
    sim_mcc: list[str]
    gnss: Gnss


class ActivationPayload(TypedDict, total=False):
    signals: Signals
    account_token: str
    bypass_code: str
    locale: str  # BCP 47 tag of the screen's language (extension, docs/protocol.md)


class AccountPayload(TypedDict):
    """`bind` and `unbind`."""

    account_token: str


class CheckinPayload(TypedDict, total=False):
    signals: Signals
    acks: list[str]
    bootloader: str  # "locked" | "unlocked": the bootloader's state, reported
    locale: str  # BCP 47 tag of the screen's language (extension, docs/protocol.md)


class Lock(TypedDict, total=False):
    kind: LockKind
    message: str
    hint: str  # owner only
    contact: str
    territory: str  # territory only
    rule: str
    until: int
    allows: list[str]  # creditor: what still works, e.g. "emergency-calls"


class OwnerHint(TypedDict):
    hint: str


class Command(TypedDict, total=False):
    id: str
    type: str  # "message" | "ring" | "wipe" | "notice"
    message: str
    text: str


class RecordPayload(TypedDict):
    """The payload of a `tenure-record+jwt`."""

    iss: str
    sub: str
    nonce: str
    iat: int
    exp: int
    status: Literal["activated", "locked"]
    locks: list[Lock]
    owner: OwnerHint | None
    commands: list[Command]
    next_checkin: int
    policy_version: int
    offline_lock_at: NotRequired[int]  # while a creditor claim is in force or locked


class RecordAnswer(TypedDict):
    """The body of a successful device endpoint."""

    record: str


class BootloaderTokenPayload(TypedDict):
    """The payload of a `tenure-bl-token+jwt`, signed by the device key."""

    sub: str
    nonce: str
    iat: int


class UnlockTokenPayload(TypedDict):
    """The payload of a `tenure-unlock+jwt`, signed by the server."""

    iss: str
    sub: str
    bl_nonce: str
    iat: int
    exp: int


class Problem(TypedDict, total=False):
    type: str
    title: str
    status: int
    detail: str
    retry_after: int
