"""Every page route, and the static files the pages load (one stylesheet, htmx)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import (
    appeal,
    console,
    console_audit,
    console_cases,
    console_devices,
    console_outbox,
    console_policy,
    owner,
    owner_account,
    owner_actions,
    owner_reset,
    owner_transfers,
    public,
)

STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    *owner.routes,
    *public.routes,
    *appeal.routes,
    *owner_actions.routes,
    *owner_account.routes,
    *owner_reset.routes,
    *owner_transfers.routes,
    *console.routes, *console_devices.routes, *console_cases.routes, *console_policy.routes,
    *console_audit.routes, *console_outbox.routes,
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
