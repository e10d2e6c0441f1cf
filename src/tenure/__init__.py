"""Tenure: an open-source activation-lock service for device makers."""

__version__ = "0.1.0"
