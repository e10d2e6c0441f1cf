"""The texts of territory policy: the default messages a restricted device shows, and
the placeholders a maker's own message may use (`{maker}`, `{contact}`, `{territory}`)."""

from __future__ import annotations

from string import Formatter

DEFAULT_MESSAGE = (
    "The policy of {maker} does not permit sale or provision of the product to the territory "
    "in which you have attempted to activate it. Please contact {contact} directly for "
    "additional information."
)
IN_USE_MESSAGE = (
    "The policy of {maker} does not permit use of the product in the territory in which it is "
    "being used. Please contact {contact} directly for additional information."
)
NOTICE_MESSAGE = (
    "The policy of {maker} does not permit use of this product in {territory}. Unless the device "
    "leaves it, it will be locked from {when}. Contact {contact} for more information."
)

PLACEHOLDERS = ("maker", "contact", "territory")


def fill_placeholders(template: str, values: dict[str, str]) -> str:
    """Replace {maker}, {contact}, {territory} literally: braces inside the values (or a
    `{when}` left for later) are text, never format fields."""
    for name in PLACEHOLDERS:
        template = template.replace("{" + name + "}", values[name])
    return template


def placeholder_problems(template: str) -> list[str]:
    try:
        fields = [f for _, f, spec, conv in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return [f"unbalanced braces ({exc})"]
    return [f"unknown placeholder {{{f}}}" for f in fields if f not in PLACEHOLDERS]
