"""One settings object, read from environment variables and an optional TOML file.

Precedence: environment variable `TENURE_<NAME>` > `[tenure]` table of the file named
by `TENURE_CONFIG` > default. Names are the field names below in upper case.

This module is the only place that reads the environment: the server's settings
(`Settings`) and the reference device agent's (`AgentSettings`, which a device maker's
own agent would not have). Everything else takes values from these objects, so a test
or an embedding application can pass them explicitly.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenure.domain.errors import ConfigError as ConfigError  # re-exported

DEVICE_WORK = ("inline", "threads")
PASSWORD_HASH_COSTS = ("standard", "test")  # crypto/passwords.py
LOG_FORMATS = ("console", "json")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""  # default: SQLite file in the data dir
    issuer: str = "tenure"
    # Where people reach this server (records' lock screens link to it, docs/protocol.md
    # "Ways out of a lock"); default: the address `tenure serve` listens on by default.
    public_url: str = ""
    credential_cooldown_hours: float = 72.0
    record_ttl_seconds: int = 86_400
    next_checkin_seconds: int = 86_400
    nonce_ttl_seconds: int = 600
    session_ttl_hours: float = 720.0
    reauth_seconds: int = 300
    password_reset_ttl_minutes: int = 60
    max_body_bytes: int = 65_536
    smtp_url: str = ""
    mail_from: str = "Tenure <no-reply@localhost>"
    redis_url: str = ""
    geoip_db: str = ""  # MaxMind-format City/Country database; default: embedded data
    trusted_proxies: str = ""  # comma-separated addresses/networks allowed to set X-Forwarded-For
    policy_refresh_seconds: float = 5.0
    unlock_wait_hours: float = 168.0
    unlock_quota: int = 1
    unlock_quota_days: float = 365.0
    unlock_valid_days: float = 14.0
    objection_days: float = 14.0  # appeal cases: the holder's objection window
    # Longest wait for the database (SQLite write lock, PostgreSQL lock or pooled
    # connection) before a request answers 503 with Retry-After.
    database_wait_seconds: float = 1.0
    # Limits (docs/security.md): hits per `rate_window_seconds`; 0 turns a limit off.
    rate_window_seconds: int = 3600
    password_reset_address_limit: int = 10  # resets asked from one client address: then 429
    password_reset_email_limit: int = 3  # reset mails to one address: the rest are dropped
    signup_address_limit: int = 20  # accounts created from one client address: then 429
    relay_address_limit: int = 20  # relay messages asked from one client address (IPv6 /64)
    relay_sender_limit: int = 5  # relay messages from one sender address (and owner replies)
    relay_device_limit: int = 10  # relay messages to one device
    status_rate: int = 30  # public status lookups a minute per address (IPv6 /64) and per device
    password_hash_workers: int = 0  # argon2 at once; 0: one per core but one, at least 1
    password_hash_queue: int = 16  # hashing waiting beyond the workers; then 503
    password_hash_nice: int = 10  # lower CPU priority of the hashing threads (Linux)
    password_hash_cost: str = "standard"  # noqa: S105 - testing hook: `test`, argon2 cheapest
    device_work: str = "inline"  # inline: device transactions on the event loop; threads
    # Server process limits (http/connections.py): slow clients are cut off, not waited for.
    header_timeout_seconds: float = 10.0  # connection (or next request) to end of headers
    body_timeout_seconds: float = 20.0  # headers to end of body, before extensions
    body_min_rate: float = 500.0  # bytes/s: each such amount received adds one second
    max_connections: int = 1000  # open connections per server process; more get 503
    max_header_bytes: int = 16_384
    keepalive_seconds: float = 5.0  # idle time a kept-alive connection stays open
    # Tenants' webhooks may be plain http to any address (development and tests only).
    webhook_allow_insecure: bool = False
    # Hours a creditor's reminder must have been acknowledged before a lock (at most 30 days).
    creditor_notice_hours: float = 72.0
    clock_offset_file: str = ""  # testing hook: seconds added to the system clock
    log_level: str = "info"
    log_format: str = "console"  # console: key=value lines; json: one JSON object per line
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse values that would only fail later, deep inside a request."""
        choices = {"device_work": DEVICE_WORK, "log_format": LOG_FORMATS,
                   "password_hash_cost": PASSWORD_HASH_COSTS}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"TENURE_{name.upper()} must be "
                                  f"{' or '.join(repr(a) for a in allowed)}, got {value!r}")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'tenure.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or "http://127.0.0.1:8080").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def credential_cooldown_seconds(self) -> int:
        return int(self.credential_cooldown_hours * 3600)


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    if kind in (bool, "bool"):
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"TENURE_{name.upper()} must be 1 or 0, got {raw!r}")
    try:
        if kind in (Path, "Path"):
            return Path(str(raw))
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"TENURE_{name.upper()} must be a number, got {raw!r}") from exc
    return str(raw)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    env = dict(os.environ if environ is None else environ)
    from_file: dict[str, Any] = {}
    if env.get("TENURE_CONFIG"):
        path = Path(env["TENURE_CONFIG"])
        try:
            from_file = tomllib.loads(path.read_text()).get("tenure", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    values: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
    for name, spec in known.items():
        raw = env.get(f"TENURE_{name.upper()}", from_file.get(name))
        if raw is not None and raw != "":
            values[name] = _coerce(name, spec.type, raw)
    unknown = set(from_file) - set(known)
    if unknown:
        raise ConfigError(
            f"unknown settings in {env['TENURE_CONFIG']}: {', '.join(sorted(unknown))}")
    values.update(overrides)
    return Settings(**values)


@dataclass(frozen=True)
class AgentSettings:
    """The reference device agent's environment (`tenure device ...`): defaults for its
    options, and the testing clock shared with a test server."""

    state: Path = Path("./device")
    server_url: str = "http://127.0.0.1:8080"
    password: str = ""
    clock_offset_file: str = ""


def load_agent_settings(environ: dict[str, str] | None = None) -> AgentSettings:
    env = os.environ if environ is None else environ
    defaults = AgentSettings()
    return AgentSettings(
        state=Path(env.get("TENURE_DEVICE_STATE") or defaults.state),
        server_url=env.get("TENURE_SERVER_URL") or defaults.server_url,
        password=env.get("TENURE_PASSWORD", ""),
        clock_offset_file=env.get("TENURE_CLOCK_OFFSET_FILE", ""),
    )
