"""Migration 0170: what the old `notify` wrote (and nothing read) lands in the inbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import crmflow
from crmflow.core.store import make_db, migrate
from crmflow.notifications import inbox

MIGRATIONS = Path(crmflow.__file__).parent / "migrations"


def test_old_notification_rows_are_copied_into_the_inbox(tmp_path, crmflow_engine):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db = make_db(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["db"] = db
    command.upgrade(cfg, "0001_engine")  # a database from before notifications
    with db.begin() as conn:
        conn.execute(sa.text(
            "insert into notifications (recipient, text, channel, created_at, read_at) values "
            "('manager', 'Rush order R-1 is late', 'inbox', :at, null), "
            "('mia', 'Approve PA-7', 'inbox', :at, :at)"
        ), {"at": datetime(2026, 1, 5, 8, 0)})  # fmt: skip
    migrate(db)
    db.dispose()

    engine = crmflow_engine(database_url=url)
    [old] = inbox(engine, "manager")
    assert (old["text"], old["read"]) == ("Rush order R-1 is late", False)
    assert old["created_at"] == "2026-01-05T08:00:00+00:00"
    assert [(n["text"], n["read"]) for n in inbox(engine, "mia")] == [("Approve PA-7", True)]
