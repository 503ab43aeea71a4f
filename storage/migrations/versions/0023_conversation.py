"""conversation: when a consultation actually closed, and why it closed before its published end

Issue 18: a leader closing a consultation before ``closes_at`` gives a reason, shown with the result;
the consultation keeps the moment it really closed (``closed_at``) for its pages.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0023'
down_revision: Union[str, None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('consultations') as batch:
        batch.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('close_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consultations') as batch:
        batch.drop_column('close_reason')
        batch.drop_column('closed_at')
