"""`tenure device ...`: the reference device agent (filled in by tenure.agent)."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    from tenure.agent.cli import register as register_agent

    register_agent(commands)
