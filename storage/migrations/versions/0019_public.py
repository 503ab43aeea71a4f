"""public pages and open data: the publication versions the public pages' cache reads, stored
announcements (for the feeds), Open311 API keys, disclosures' documents and projects' photos, and a
calendar SEQUENCE for reception sessions

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa



revision: str = '0019'
down_revision: Union[str, None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "public_changes",
        sa.Column("commune_code", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("commune_code", name=op.f("pk_public_changes")),
    )
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
        sa.UniqueConstraint("commune_code", "key", name="uq_announcements_commune_key"),
    )
    op.create_index(op.f("ix_announcements_commune_code"), "announcements", ["commune_code"])
    op.create_index(op.f("ix_announcements_published_at"), "announcements", ["published_at"])
    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("commune_code", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_keys_key_hash")),
    )
    op.create_index(op.f("ix_open311_keys_commune_code"), "open311_keys", ["commune_code"])
    op.create_table(
        "public_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_code", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_files")),
        sa.UniqueConstraint("owner", "owner_id", "filename", name="uq_public_files_owner_filename"),
    )
    op.create_index(op.f("ix_public_files_commune_code"), "public_files", ["commune_code"])
    with op.batch_alter_table("reception_sessions") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reception_sessions") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("sequence")
    op.drop_index(op.f("ix_public_files_commune_code"), table_name="public_files")
    op.drop_table("public_files")
    op.drop_index(op.f("ix_open311_keys_commune_code"), table_name="open311_keys")
    op.drop_table("open311_keys")
    op.drop_index(op.f("ix_announcements_published_at"), table_name="announcements")
    op.drop_index(op.f("ix_announcements_commune_code"), table_name="announcements")
    op.drop_table("announcements")
    op.drop_table("public_changes")
