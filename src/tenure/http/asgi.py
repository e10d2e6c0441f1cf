"""Entry point for ASGI servers: `uvicorn --factory tenure.http.asgi:create`.

`tenure serve` is the supported way to run it. Running uvicorn yourself, pass
`--no-proxy-headers` (X-Forwarded-For is honoured only from TENURE_TRUSTED_PROXIES,
by the app) and `--http tenure.http.connections:GuardedHttpToolsProtocol` (read
timeouts and connection caps, decision 0011).
"""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from tenure.bootstrap import bootstrap
from tenure.config import load_settings
from tenure.logs import configure_logging

from .app import create_app


def create() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(bootstrap(settings))
    # What start-up made (modules, SQLAlchemy's tables, the key ring: ~90 k objects) lives
    # as long as the process. Left to the collector, every full collection walks it all
    # on the event loop: 30-80 ms during which no request moves, the p99 at half
    # saturation (decision 0020). Frozen, a full collection sees only what came since.
    gc.collect()
    gc.freeze()
    return app
