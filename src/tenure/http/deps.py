"""The one way a route reaches the use cases: the container bound at startup."""

from __future__ import annotations

from starlette.requests import Request

from tenure.bootstrap import Services


def app_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
