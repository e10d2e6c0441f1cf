"""Structured logs (key=value lines on stderr; JSON with TENURE_LOG_FORMAT=json)."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "info", fmt: str | None = None) -> None:
    """`fmt` is `Settings.log_format`; callers that pass only the level get the format
    from the settings (the environment is read in one place, tenure.config)."""
    if fmt is None:
        from tenure.config import load_settings

        fmt = load_settings().log_format
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
