"""Zalo template notices and set-up

Template notices (ZNS) sent for held notices, keyed by tracking id and counted per commune; OA
messages Zalo bills (48 hours to 7 days after the citizen last wrote); pending OAuth v4 PKCE
authorisations; each commune's approved templates per notice type; and on attachments the link a
copied photo came from.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import storage.models


revision: str = '0020'
down_revision: Union[str, None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('zalo_template_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tracking_id', sa.String(length=200), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('notice_type', sa.String(length=40), nullable=False),
    sa.Column('template_id', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('msg_id', sa.String(length=100), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('cost_vnd', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zalo_template_notices')),
    sa.UniqueConstraint('tracking_id', name=op.f('uq_zalo_template_notices_tracking_id'))
    )
    op.create_index('ix_zalo_template_notices_commune_day', 'zalo_template_notices', ['commune_code', 'sent_on'])
    op.create_index(op.f('ix_zalo_template_notices_outbox_id'), 'zalo_template_notices', ['outbox_id'])
    op.create_table('zalo_charged_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('sent_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zalo_charged_messages'))
    )
    op.create_index('ix_zalo_charged_messages_commune_day', 'zalo_charged_messages', ['commune_code', 'sent_on'])
    op.create_table('zalo_notice_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('notice', sa.String(length=30), nullable=False),
    sa.Column('template_id', sa.String(length=50), nullable=False),
    sa.Column('price_vnd', sa.Integer(), nullable=False),
    sa.Column('code_param', sa.String(length=50), nullable=False),
    sa.Column('date_param', sa.String(length=50), nullable=True),
    sa.Column('status_param', sa.String(length=50), nullable=True),
    sa.Column('in_charged_band', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zalo_notice_templates')),
    sa.UniqueConstraint('commune_code', 'notice', name='uq_zalo_notice_templates_commune_notice')
    )
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.add_column(sa.Column('source_url', sa.Text(), nullable=True))
    op.create_table('zalo_oauth_states',
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=50), nullable=False),
    sa.Column('code_verifier', sa.Text(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_zalo_oauth_states'))
    )


def downgrade() -> None:
    op.drop_table('zalo_oauth_states')
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.drop_column('source_url')
    op.drop_table('zalo_notice_templates')
    op.drop_index('ix_zalo_charged_messages_commune_day', table_name='zalo_charged_messages')
    op.drop_table('zalo_charged_messages')
    op.drop_index(op.f('ix_zalo_template_notices_outbox_id'), table_name='zalo_template_notices')
    op.drop_index('ix_zalo_template_notices_commune_day', table_name='zalo_template_notices')
    op.drop_table('zalo_template_notices')
