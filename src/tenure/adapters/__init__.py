"""Adapters to the world outside the database: Redis for used nonces, SMTP and files for
mail. Each satisfies a port of `tenure.services.ports`; `tenure.bootstrap` picks them
from the settings."""
