"""Alembic migrations of the hub schema, runnable from code (``fedhub db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads", engine: Engine | None = None) -> None:
    """Bring the database at ``url`` (or on ``engine``) up to ``revision`` (all domain heads)."""
    cfg = alembic_config(url)
    if engine is not None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


def head_revisions() -> set[str]:
    """Heads of every domain branch (domains migrate on their own branch from the kernel)."""
    return set(ScriptDirectory(str(HERE)).get_heads())


def connection_is_current(conn: Connection) -> bool:
    """True when every revision (all domain branches, with their dependencies) is applied."""
    script = ScriptDirectory(str(HERE))
    current = MigrationContext.configure(conn).get_current_heads()
    if not current:
        return False
    applied = {r.revision for r in script.revision_map.iterate_revisions(current, "base")
               if r is not None}
    return applied >= {r.revision for r in script.walk_revisions()}


def current_matches_head(engine: Engine) -> bool:
    with engine.connect() as conn:
        return connection_is_current(conn)
