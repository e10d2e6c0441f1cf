"""Masked holder hints: enough for an owner to recognise, too little to identify."""

from __future__ import annotations


def _mask(part: str) -> str:
    return f"{part[:1]}***" if part else "***"


def mask_email(email: str) -> str:
    """`alice@example.com` → `a***@e***.com`: first letters and the top-level domain only."""
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    if not dot:
        return f"{_mask(local)}@{_mask(domain)}"
    return f"{_mask(local)}@{_mask(name)}.{tld}"
