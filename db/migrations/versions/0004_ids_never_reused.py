"""recordings, transcription runs and jobs: ids are never reused after a delete (SQLite AUTOINCREMENT)

Without AUTOINCREMENT SQLite hands out max(id) + 1, so deleting the newest recording gave its id to the
next upload, and an old link (?run=N) opened someone else's recording. PostgreSQL sequences never go back,
so there is nothing to do there. SQLite cannot alter a primary key: each table is copied (batch mode; env.py
turns foreign keys off meanwhile, so dropping the old copy deletes nothing that refers to it).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("recordings", "transcription_runs", "jobs")


def _copy_tables(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _copy_tables(autoincrement=True)


def downgrade() -> None:
    _copy_tables(autoincrement=False)
