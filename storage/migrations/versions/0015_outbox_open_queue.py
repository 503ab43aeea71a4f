"""outbox: the open messages in claiming order, and each chat's in order

The dispatcher claims chat by chat (scheduler/outbox.py, storage/repositories_outbox.py ``claim_due``): a
message is claimed only as its chat's first open (pending or sending) message or after due ones, so
that a chat whose first message waits (its pace, a retry, another dispatcher's lease) is passed over
however long its queue. ``ix_outbox_open_queue`` walks the open messages oldest first, replies before
broadcast copies, without reading the sent history; ``ix_outbox_open_chat`` finds a chat's first open
message with one probe.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index('ix_outbox_open_queue', 'outbox', ['channel', 'bulk', 'id'], unique=False,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_index('ix_outbox_open_chat', 'outbox', ['channel', 'chat_id', 'id'], unique=False,
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index('ix_outbox_open_chat', table_name='outbox')
    op.drop_index('ix_outbox_open_queue', table_name='outbox')
