"""Every failure a user or an operator can act on, as one tree of exception classes.

Each error carries a stable problem name (`code`, the `<name>` of docs/protocol.md's
`urn:tenure:problem:<name>`), a `title`, a `detail` written for the person who reads
it, and optional extension members. It carries no HTTP status: how a failure is told
is the business of each channel, and each maps it once — the HTTP edge through the
class-keyed table of `tenure.http.problems`, the CLI through `tenure.cli.main`.

Families group errors by what the caller can do about them, so that a channel (or a
caller) can catch a whole family:

    TenureError
    ├── RequestError                  the request itself is wrong; fix it, then resend
    │   ├── Malformed                   malformed
    │   │   └── JWSError                  (crypto: not a JWS we can read)
    │   ├── TooLarge                    too-large
    │   ├── InvalidInput                invalid-input
    │   │   ├── WeakPassword              weak-password
    │   │   └── KeyRejected               (crypto: a key the protocol does not accept)
    │   ├── InvalidToken                invalid-token
    │   ├── InvalidAppealToken          invalid-appeal-token
    │   ├── UnsupportedEvidence         unsupported-evidence
    │   └── UnknownTerritory            unknown-territory
    ├── DeviceAuthError               a signed device request that proves nothing
    │   ├── UnknownDevice               unknown-device
    │   ├── BadSignature                bad-signature
    │   ├── BadNonce                    bad-nonce
    │   └── UrlMismatch                 url-mismatch
    ├── AuthError                     who is asking is not established (well enough)
    │   ├── Unauthorized                unauthorized
    │   ├── InvalidCredentials          invalid-credentials
    │   ├── TotpRequired                totp-required
    │   └── ReauthenticationRequired    reauthentication-required
    ├── Refused                       the caller is known and may not do this (now)
    │   ├── Forbidden                   forbidden
    │   ├── UnlockNotPermitted          unlock-not-permitted
    │   └── CredentialCoolingDown       credential-cooldown
    ├── Conflict                      the state of things forbids it
    │   ├── AlreadyBound                already-bound
    │   ├── NotActivated                not-activated
    │   ├── EmailTaken                  email-taken
    │   ├── ImportConflict              import-conflict
    │   ├── DeviceHeld                  device-held
    │   ├── TotpEnabled                 totp-enabled
    │   ├── ClaimsHeld                  claims-held
    │   ├── TransferPending             transfer-pending
    │   ├── CaseClosed                  case-closed
    │   └── IdempotencyKeyInUse         idempotency-key-in-use
    ├── NotFound                      not-found
    │   └── DeviceNotFound              unknown-device (404: the public status check)
    ├── RateLimited                   slow down (extension `retry_after`, seconds)
    │   ├── TooManyAttempts             too-many-attempts
    │   └── RateLimitExceeded           rate-limited
    ├── Unavailable                   unavailable: the database is busy; retry soon
    │   └── Overloaded                  overloaded (password hashing saturated)
    └── OperatorError                 the server's own set-up or input: an operator fixes it
        ├── ConfigError                 invalid-config     (config.py re-exports it)
        ├── KeyRingError                key-ring           (crypto/keyring.py)
        ├── GeoDataError                geo-data           (geo/ip.py)
        ├── ImportAborted               invalid-rows       (services/provision.py)
        └── PolicyError                 invalid-policy     (domain/policy.py)

Families have no `code` and cannot be raised themselves: a new failure gets its own
class with its own name (and, at the HTTP edge, its own row in the table). The
errors of other layers (config, crypto, geo) live here rather than in their modules
because `domain` imports nothing from the rest of tenure; those modules re-export them.
Several also derive from the built-in they used to be (ValueError, RuntimeError), so
that existing `except ValueError` callers keep working.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TenureError(Exception):
    """Root of the tree; raise a concrete member (one with a `code`), never a family."""

    code: ClassVar[str] = ""
    title: ClassVar[str] = "Error"

    def __init__(self, detail: str = "", **extensions: Any) -> None:
        if not self.code:
            raise TypeError(f"{type(self).__name__} is a family of errors; "
                            "raise one of its members")
        super().__init__(detail)
        self.detail = detail or self.title
        self.extensions = extensions


# -- the request itself is wrong ---------------------------------------------------------

class RequestError(TenureError):
    """The request cannot be read or holds values that are not acceptable."""


class Malformed(RequestError):
    code = "malformed"
    title = "Malformed request"


class JWSError(Malformed, ValueError):
    """Not a JWS we can read: wrong shape, bad encoding, not JSON (tenure.crypto.jws)."""


class TooLarge(RequestError):
    code = "too-large"
    title = "Request too large"


class InvalidInput(RequestError):
    code = "invalid-input"
    title = "Invalid input"


class WeakPassword(InvalidInput):
    code = "weak-password"
    title = "Weak password"


class KeyRejected(InvalidInput, ValueError):
    """A public key the protocol does not accept (tenure.crypto.keys: `KeyError_`);
    answered as invalid-input, and reported per row in a provisioning import."""


class InvalidToken(RequestError):
    code = "invalid-token"
    title = "Invalid or expired token"


class InvalidAppealToken(RequestError):
    """An appeal token that does not prove the applicant holds the device: not a JWS of
    `typ` tenure-appeal+jwt, not signed by that device's key, or older than 24 hours."""

    code = "invalid-appeal-token"
    title = "Invalid appeal token"


class UnsupportedEvidence(RequestError):
    """Evidence that is not a PDF, JPEG or PNG by its content (docs/redress.md)."""

    code = "unsupported-evidence"
    title = "Unsupported evidence"


class UnknownTerritory(RequestError):
    code = "unknown-territory"
    title = "Unknown territory code"


# -- a device request that proves nothing --------------------------------------------------

class DeviceAuthError(TenureError):
    """A signed device request whose sender, signature, nonce or URL does not hold."""


class UnknownDevice(DeviceAuthError):
    code = "unknown-device"
    title = "Unknown device"


class BadSignature(DeviceAuthError):
    code = "bad-signature"
    title = "Bad signature"


class BadNonce(DeviceAuthError):
    code = "bad-nonce"
    title = "Bad nonce"


class UrlMismatch(DeviceAuthError):
    code = "url-mismatch"
    title = "URL mismatch"


# -- who is asking is not established ------------------------------------------------------

class AuthError(TenureError):
    """No credential, a wrong one, or one too old for what it is asked to do."""


class Unauthorized(AuthError):
    code = "unauthorized"
    title = "Authentication required"


class InvalidCredentials(AuthError):
    code = "invalid-credentials"
    title = "Invalid credentials"


class TotpRequired(AuthError):
    """The password was right, and the account has a second factor on: send `totp`."""

    code = "totp-required"
    title = "Second factor required"


class ReauthenticationRequired(AuthError):
    code = "reauthentication-required"
    title = "Reauthentication required"


# -- known caller, not allowed -------------------------------------------------------------

class Refused(TenureError):
    """The caller is who they say, and may not do this (or not yet)."""


class Forbidden(Refused):
    code = "forbidden"
    title = "Forbidden"


class UnlockNotPermitted(Refused):
    code = "unlock-not-permitted"
    title = "Unlock not permitted"


class CredentialCoolingDown(Refused):
    code = "credential-cooldown"
    title = "Password changed recently"


CredentialCooldown = CredentialCoolingDown  # the name the problem suggests


# -- the state of things forbids it --------------------------------------------------------

class Conflict(TenureError):
    """The request is fine, but the current state of the device or account refuses it."""


class AlreadyBound(Conflict):
    code = "already-bound"
    title = "Device already bound"


class NotActivated(Conflict):
    code = "not-activated"
    title = "Device not activated"


class EmailTaken(Conflict):
    code = "email-taken"
    title = "Email already registered"


class ImportConflict(Conflict):
    """Another import added some of the same devices meanwhile: nothing was imported."""

    code = "import-conflict"
    title = "Import conflict"


class DeviceHeld(Conflict):
    """Another claim holds the device (docs/protocol.md Part 2): lift it first — e.g. the
    owner's own lost mode before removing or unbinding the device."""

    code = "device-held"
    title = "Device held by another claim"


class TotpEnabled(Conflict):
    """The account's second factor is already on: enrolling again would replace it."""

    code = "totp-enabled"
    title = "Second factor already on"


class ClaimsHeld(Conflict):
    """The account still holds a claim (docs/protocol.md Part 2, `DELETE /v1/me`):
    deleting it would leave a lock nobody can lift; release or transfer the devices first."""

    code = "claims-held"
    title = "Account holds claims"


class TransferPending(Conflict):
    """The device already has a pending ownership transfer; one at a time, so that two
    buyers can never both be promised the same device."""

    code = "transfer-pending"
    title = "Transfer pending"


class CaseClosed(Conflict):
    """The case is not in a state that takes this step (decided already, or its objection
    window is not open)."""

    code = "case-closed"
    title = "Case not open for this step"


class DuplicateLoan(Conflict):
    """The creditor already enrolled a device under this loan id (unique per tenant)."""

    code = "duplicate-loan"
    title = "Loan id already used"


class AlreadyFinanced(Conflict):
    """A creditor already holds a claim on the device (financing is public anyway: the
    status check shows `financed`)."""

    code = "already-financed"
    title = "Device already financed"


class NoticeNotAcknowledged(Conflict):
    """The device's user has not accepted the creditor's enrollment notice yet."""

    code = "notice-not-acknowledged"
    title = "Enrollment notice not accepted"


class NoPriorReminder(Conflict):
    """A creditor lock needs a reminder acknowledged between 72 h and 30 days before."""

    code = "no-prior-reminder"
    title = "No reminder acknowledged in time"


class CreditorState(Conflict):
    """The creditor claim's state does not allow this move (e.g. unlocking a device
    that is not locked, cancelling a completion that is not pending)."""

    code = "creditor-state"
    title = "Not possible in the claim's state"


class IdempotencyKeyInUse(Conflict):
    """A request with the same Idempotency-Key is still running; retry for its answer."""

    code = "idempotency-key-in-use"
    title = "Idempotency-Key in use"


# -- nothing there, or nothing the caller may see ------------------------------------------

class NotFound(TenureError):
    code = "not-found"
    title = "Not found"


class DeviceNotFound(NotFound):
    """A public lookup (the buyer's status check) names no device Tenure knows.

    The one problem name told at two statuses: the device protocol answers an unknown
    device `401 unknown-device` (UnknownDevice: the request proves nothing), the public
    status check `404 unknown-device` (nothing there); both are in the wire contract.
    """

    code = "unknown-device"
    title = "Unknown device"


# -- slow down -----------------------------------------------------------------------------

class RateLimited(TenureError):
    """Too many requests; `retry_after` (seconds) says when to come back."""


class TooManyAttempts(RateLimited):
    code = "too-many-attempts"
    title = "Too many attempts"


class RateLimitExceeded(RateLimited):
    """A fixed-window limit (password resets, sign-ups per client address) is used up."""

    code = "rate-limited"
    title = "Too many requests"


# -- the server cannot serve this now -----------------------------------------------------

class Unavailable(TenureError):
    """The database could not be had within its bound (a long write holds it): retry
    soon (`retry_after`, seconds). Nothing ran."""

    code = "unavailable"
    title = "Service unavailable"


class Overloaded(Unavailable):
    """The bounded password-hashing pool and its queue are full: retry in a moment
    (`retry_after`). Nothing ran."""

    code = "overloaded"
    title = "Server busy"


# -- the operator's side -------------------------------------------------------------------

class OperatorError(TenureError):
    """Configuration, keys, data files or documents an operator provides are wrong."""


class ConfigError(OperatorError, ValueError):
    code = "invalid-config"
    title = "Invalid configuration"


class KeyRingError(OperatorError, RuntimeError):
    code = "key-ring"
    title = "Key ring unusable"


class GeoDataError(OperatorError, ValueError):
    """A configured geolocation database is missing or unreadable (fail at start-up)."""

    code = "geo-data"
    title = "Geolocation data unusable"


class ImportAborted(OperatorError):
    """A provisioning file has bad rows: the import is rolled back, nothing is kept."""

    code = "invalid-rows"
    title = "Invalid rows"

    def __init__(self, detail: str = "The file has invalid rows; nothing was imported.",
                 **extensions: Any) -> None:
        super().__init__(detail, **extensions)


class PolicyError(OperatorError):
    """Every problem found in a policy document, one per line, with its location."""

    code = "invalid-policy"
    title = "Invalid policy"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problems: " + "; ".join(problems),
                         problems=problems)
        self.problems = problems
