"""zalo oa

The Zalo Official Account channel: its OAuth pair (refresh tokens rotate, so the current pair lives in
the database), the users who unfollowed it, and on the outbox the item a notification is about and
an index over messages held for a chat's next interaction (Zalo refuses replies 7 days after the
user's last interaction).

On SQLite the outbox column is added with a plain ALTER TABLE (its foreign key inline), not a batch
rebuild, so the table keeps the AUTOINCREMENT of migration 0008.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.models


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('zalo_tokens',
    sa.Column('app_id', sa.String(length=50), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=False),
    sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seeded_from', sa.String(length=64), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_zalo_tokens'))
    )
    op.create_table('zalo_unfollows',
    sa.Column('user_id', sa.String(length=100), nullable=False),
    sa.Column('unfollowed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_zalo_unfollows'))
    )
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its foreign key inline; Alembic would rebuild the table instead.
        op.execute('ALTER TABLE outbox ADD COLUMN item_id INTEGER '
                   'CONSTRAINT fk_outbox_item_id_items REFERENCES items (id)')
    else:
        op.add_column('outbox', sa.Column('item_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_outbox_item_id_items', 'outbox', 'items', ['item_id'], ['id'])
    op.create_index('ix_outbox_held', 'outbox', ['channel', 'chat_id'], unique=False,
                    postgresql_where=sa.text("status = 'held'"), sqlite_where=sa.text("status = 'held'"))
    op.create_index(op.f('ix_outbox_item_id'), 'outbox', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_item_id'), table_name='outbox')
    op.drop_index('ix_outbox_held', table_name='outbox')
    if op.get_bind().dialect.name == 'sqlite':
        # Dropping a column with a foreign key rebuilds the table on SQLite: keep AUTOINCREMENT (0008).
        with op.batch_alter_table('outbox', recreate='always', table_kwargs={'sqlite_autoincrement': True}) as batch_op:
            batch_op.drop_column('item_id')
    else:
        op.drop_constraint('fk_outbox_item_id_items', 'outbox', type_='foreignkey')
        op.drop_column('outbox', 'item_id')
    op.drop_table('zalo_unfollows')
    op.drop_table('zalo_tokens')
