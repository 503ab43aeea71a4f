"""outbox ids never reused

Outbox ids are the web chat's read cursor. SQLite without AUTOINCREMENT hands out the highest id
again once the highest rows are deleted (as /privacy does), so a new message could hide behind a
browser's cursor. PostgreSQL sequences never reuse ids; nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0008"
down_revision: Union[str, None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
