"""item period changes: especially complex, several places, suspension, when the decision was learned

What a running period's changes need kept on the item:

- ``especially_complex``: the finding that allows a denunciation's second extension (Luật Tố cáo 2018,
  Điều 30 khoản 3). Items extended before carry it in their extension events (``data.rule``); it is
  copied from there;
- ``several_places``: a denunciation checked at several places has 10 working days for its intake
  (Luật Tố cáo 2018, Điều 24 khoản 1);
- ``suspended_on``, ``paused_days``: the running suspension and the days earlier ones stopped the
  resolution period (Luật Tố cáo 2018, Điều 34 khoản 2; NĐ 124/2020/NĐ-CP, Điều 28b, added by NĐ
  155/2026/NĐ-CP);
- ``learned_on``: the day a complainant received or learned of the contested decision, from which the
  90 days to complain run (Luật Khiếu nại 2011, Điều 9).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0017'
down_revision: Union[str, None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ESPECIALLY_COMPLEX_RULE = 'denunciation.extension.especially_complex'


def upgrade() -> None:
    with op.batch_alter_table('items') as batch:
        batch.add_column(sa.Column('especially_complex', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('several_places', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('suspended_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('paused_days', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('learned_on', sa.Date(), nullable=True))
    events = sa.table('item_events', sa.column('item_id', sa.Integer), sa.column('action', sa.String),
                      sa.column('data', sa.JSON))
    items = sa.table('items', sa.column('id', sa.Integer), sa.column('especially_complex', sa.Boolean))
    connection = op.get_bind()
    extended = connection.execute(sa.select(events.c.item_id, events.c.data).where(events.c.action == 'extend'))
    found = sorted({item_id for item_id, data in extended if (data or {}).get('rule') == ESPECIALLY_COMPLEX_RULE})
    if found:
        connection.execute(sa.update(items).where(items.c.id.in_(found)).values(especially_complex=True))


def downgrade() -> None:
    with op.batch_alter_table('items') as batch:
        batch.drop_column('learned_on')
        batch.drop_column('paused_days')
        batch.drop_column('suspended_on')
        batch.drop_column('several_places')
        batch.drop_column('especially_complex')
