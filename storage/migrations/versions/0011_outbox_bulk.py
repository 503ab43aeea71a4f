"""outbox bulk

The many copies of a publication or a scheduled notice (an announcement to thousands of subscribers)
are marked ``bulk`` and claimed after everything else, so a broadcast going out at Telegram's 30
messages a second does not hold back the replies of people talking to the bot. Rows already in the
outbox are not bulk (they go out in order, as before).

A plain ADD COLUMN on SQLite, not a batch rebuild, so the outbox keeps its AUTOINCREMENT (0008).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('bulk', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('outbox', recreate='always', table_kwargs={'sqlite_autoincrement': True}) as batch_op:
            batch_op.drop_column('bulk')
    else:
        op.drop_column('outbox', 'bulk')
