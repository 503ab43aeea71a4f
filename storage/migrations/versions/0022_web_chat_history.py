"""web chat history and drafts: no schema change

The web chat's history needs no table of its own: the person's side is kept as outbox rows of their
chat (dedupe key ``said:web:…``, status ``sent``; bot/channels/web_history.py), beside the bot's
messages, so one id sequence orders both sides, pages are read on the existing ``ix_outbox_chat``
(channel, chat_id, id), and the privacy erasure and the retention sweep already delete them. A draft
is kept by the browser (localStorage), and a half-written submission is the conversation state the
server already keeps. The revision stays in the chain so that the numbering agreed for this release
holds.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision: str = '0022'
down_revision: Union[str, None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass  # nothing to change: see above


def downgrade() -> None:
    pass
