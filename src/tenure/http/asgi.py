"""Entry point for ASGI servers: `uvicorn --factory tenure.http.asgi:create`.

`tenure serve` is the supported way to run it. Running uvicorn yourself, pass
`--no-proxy-headers` (X-Forwarded-For is honoured only from TENURE_TRUSTED_PROXIES,
by the app) and `--http tenure.http.connections:GuardedHttpToolsProtocol` (read
timeouts and connection caps, decision 0011).
"""

from __future__ import annotations

from starlette.applications import Starlette

from tenure.bootstrap import bootstrap
from tenure.config import load_settings
from tenure.logs import configure_logging

from .app import create_app


def create() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(bootstrap(settings))
