"""Alembic, driven from code: the migrations ship inside the package (no alembic.ini).

Alembic is imported only to migrate. Whether the schema is current needs just the newest
revision (read from the migration files' `revision` and `down_revision` lines) and the
row of `alembic_version`: every CLI command checks the schema before it works, and
importing alembic and loading each migration was about a fifth of its time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, inspect

from .database import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)
_DOWN = re.compile(r'^down_revision = (?:None|"([^"]+)")$', re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if revision == "head" and _current(url):
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def pending(engine: Engine) -> bool:
    """True when the database is behind the code (readiness fails until migrated)."""
    with engine.connect() as conn:
        return current_revision(conn) != head_revision()


@cache
def head_revision() -> str | None:
    """The newest migration's revision. Each file names its own and the one before it
    on a line of its own; should they ever form anything but one plain chain, alembic
    answers instead."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        names, downs = _REVISION.findall(text), _DOWN.findall(text)
        if len(names) != 1 or len(downs) != 1:
            return _alembic_head()
        revisions[names[0]] = downs[0] or None
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1 or list(revisions.values()).count(None) != 1:
        return _alembic_head()
    return heads.pop()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: never migrated, or not one revision)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return str(found[0]) if len(found) == 1 else None


def _current(url: str) -> bool:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return current_revision(conn) == head_revision()
    finally:
        engine.dispose()
