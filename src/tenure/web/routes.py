"""Every page route, and the static files the pages load (one stylesheet, htmx)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from . import appeal, owner, public

STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    *owner.routes,
    *public.routes,
    *appeal.routes,
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
