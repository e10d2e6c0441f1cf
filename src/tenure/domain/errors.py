"""Errors a user can act on. Each carries a stable code that becomes the problem `type`.

The status numbers follow HTTP because every channel (HTTP, CLI) reports the same
classes of failure; the CLI prints `detail` and ignores `status`.
"""

from __future__ import annotations

from typing import Any


class TenureError(Exception):
    code = "internal"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


def _error(code: str, status: int, title: str) -> type[TenureError]:
    return type(
        "".join(part.capitalize() for part in code.split("-")),
        (TenureError,),
        {"code": code, "status": status, "title": title},
    )


Malformed = _error("malformed", 400, "Malformed request")
BadNonce = _error("bad-nonce", 400, "Bad nonce")
UrlMismatch = _error("url-mismatch", 400, "URL mismatch")
UnknownDevice = _error("unknown-device", 401, "Unknown device")
BadSignature = _error("bad-signature", 401, "Bad signature")
TooLarge = _error("too-large", 413, "Request too large")
AlreadyBound = _error("already-bound", 409, "Device already bound")
NotActivated = _error("not-activated", 409, "Device not activated")
ReauthenticationRequired = _error(
    "reauthentication-required", 401, "Reauthentication required"
)
Unauthorized = _error("unauthorized", 401, "Authentication required")
InvalidCredentials = _error("invalid-credentials", 401, "Invalid credentials")
TooManyAttempts = _error("too-many-attempts", 429, "Too many attempts")
EmailTaken = _error("email-taken", 409, "Email already registered")
WeakPassword = _error("weak-password", 422, "Weak password")
InvalidInput = _error("invalid-input", 422, "Invalid input")
InvalidToken = _error("invalid-token", 400, "Invalid or expired token")
NotFound = _error("not-found", 404, "Not found")
Forbidden = _error("forbidden", 403, "Forbidden")
UnknownTerritory = _error("unknown-territory", 400, "Unknown territory code")
UnlockNotPermitted = _error("unlock-not-permitted", 403, "Unlock not permitted")
CredentialCoolingDown = _error("credential-cooldown", 403, "Password changed recently")
