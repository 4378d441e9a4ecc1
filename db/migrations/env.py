"""Alembic environment: the engine comes from db.session (config.attributes), never from an ini file."""
from alembic import context

from db.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    )
    context.run_migrations()
