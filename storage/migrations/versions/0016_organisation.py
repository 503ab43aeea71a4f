"""organisation: the province level, commune data, oversight boards and their observations

Since 1/7/2025 local government has two levels, the province and the commune. A province deploys one
tiepdan for all its communes:

- ``units.commune_code`` may be NULL: a unit of the province (its ``province_code`` set), which takes
  the items of communes without units of their own (``is_fallback``) or second complaints
  (``takes_second_complaints``, Luật Khiếu nại 2011, Điều 7);
- ``commune_profiles``: per commune, remote-area status (Luật Khiếu nại 2011, Điều 9, 28, 33, 37) and,
  for a commune without units, the province unit that serves it or where its citizens are sent;
- ``oversight_boards`` (Ban Thanh tra nhân dân, Ban Giám sát đầu tư của cộng đồng — Luật Thực hiện dân
  chủ ở cơ sở 2022, Điều 36–45), their members (``users.board_id``), one-time invites and observations
  with the commune's answer and its deadline.

SQLite cannot drop a NOT NULL in place: ``units`` is rebuilt, which it allows only with foreign keys
off, and that switch works only outside a transaction (see ``_alter_units``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('oversight_boards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_oversight_boards_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_boards')),
    sa.UniqueConstraint('commune_code', 'name', name='uq_oversight_boards_commune_name')
    )
    op.create_index(op.f('ix_oversight_boards_commune_code'), 'oversight_boards', ['commune_code'], unique=False)

    _alter_units_and_users(upgrade=True)

    op.create_table('commune_profiles',
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('province_code', sa.Integer(), nullable=True),
    sa.Column('remote_area', sa.Boolean(), nullable=False),
    sa.Column('served_by_unit_id', sa.Integer(), nullable=True),
    sa.Column('refer_to', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['served_by_unit_id'], ['units.id'], name=op.f('fk_commune_profiles_served_by_unit_id_units')),
    sa.PrimaryKeyConstraint('commune_code', name=op.f('pk_commune_profiles'))
    )
    op.create_index(op.f('ix_commune_profiles_province_code'), 'commune_profiles', ['province_code'], unique=False)

    op.create_table('board_observations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('commune_code', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('rule_id', sa.String(length=80), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('statutory', sa.Boolean(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['board_id'], ['oversight_boards.id'], name=op.f('fk_board_observations_board_id_oversight_boards')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_board_observations_item_id_items')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_board_observations_author_id_users')),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_board_observations_answered_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_observations'))
    )
    op.create_index(op.f('ix_board_observations_board_id'), 'board_observations', ['board_id'], unique=False)
    op.create_index(op.f('ix_board_observations_commune_code'), 'board_observations', ['commune_code'], unique=False)
    op.create_index('ix_board_observations_open_due', 'board_observations', ['due_on'], unique=False,
                    postgresql_where=sa.text('answered_at IS NULL'), sqlite_where=sa.text('answered_at IS NULL'))

    op.create_table('board_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['board_id'], ['oversight_boards.id'], name=op.f('fk_board_invites_board_id_oversight_boards')),
    sa.ForeignKeyConstraint(['used_by'], ['users.id'], name=op.f('fk_board_invites_used_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_invites')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_board_invites_code_hash'))
    )


def downgrade() -> None:
    op.drop_table('board_invites')
    op.drop_index('ix_board_observations_open_due', table_name='board_observations')
    op.drop_index(op.f('ix_board_observations_commune_code'), table_name='board_observations')
    op.drop_index(op.f('ix_board_observations_board_id'), table_name='board_observations')
    op.drop_table('board_observations')
    op.drop_index(op.f('ix_commune_profiles_province_code'), table_name='commune_profiles')
    op.drop_table('commune_profiles')
    # Province units have no commune: nothing may refer to them once the column is NOT NULL again.
    province_units = "(SELECT id FROM units WHERE commune_code IS NULL)"
    op.execute(f"UPDATE users SET unit_id = NULL WHERE unit_id IN {province_units}")
    op.execute(f"UPDATE items SET unit_id = NULL WHERE unit_id IN {province_units}")
    op.execute(f"DELETE FROM routing_rules WHERE unit_id IN {province_units}")
    op.execute(f"DELETE FROM invites WHERE unit_id IN {province_units}")
    op.execute("DELETE FROM units WHERE commune_code IS NULL")
    _alter_units_and_users(upgrade=False)
    op.drop_index(op.f('ix_oversight_boards_commune_code'), table_name='oversight_boards')
    op.drop_table('oversight_boards')


def _alter_units_and_users(*, upgrade: bool) -> None:
    """``units.commune_code`` nullable, the province columns; ``users.board_id`` (or back)."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        if upgrade:
            op.alter_column('units', 'commune_code', existing_type=sa.Integer(), nullable=True)
            op.add_column('units', sa.Column('province_code', sa.Integer(), nullable=True))
            op.add_column('units', sa.Column('takes_second_complaints', sa.Boolean(), nullable=False,
                                             server_default=sa.text('false')))
            op.create_index('ix_units_province_code', 'units', ['province_code'], unique=False)
            op.add_column('users', sa.Column('board_id', sa.Integer(), nullable=True))
            op.create_foreign_key(op.f('fk_users_board_id_oversight_boards'), 'users', 'oversight_boards',
                                  ['board_id'], ['id'])
        else:
            op.drop_constraint(op.f('fk_users_board_id_oversight_boards'), 'users', type_='foreignkey')
            op.drop_column('users', 'board_id')
            op.drop_index('ix_units_province_code', table_name='units')
            op.drop_column('units', 'takes_second_complaints')
            op.drop_column('units', 'province_code')
            op.alter_column('units', 'commune_code', existing_type=sa.Integer(), nullable=False)
        return
    # SQLite can neither drop a NOT NULL nor add a foreign key in place: the tables are rebuilt. Dropping the old table with foreign
    # keys on would delete its rows under the users, items and rules that refer to them, so the keys
    # are switched off for the rebuild; SQLite ignores that switch inside a transaction, hence the
    # commit before it and the new transaction after, in which the rest of the migration runs. The
    # references are checked before the keys are switched on again.
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    with op.batch_alter_table('units', recreate='always') as batch:
        batch.alter_column('commune_code', existing_type=sa.Integer(), nullable=upgrade)
        if upgrade:
            batch.add_column(sa.Column('province_code', sa.Integer(), nullable=True))
            batch.add_column(sa.Column('takes_second_complaints', sa.Boolean(), nullable=False,
                                       server_default=sa.text('false')))
            batch.create_index('ix_units_province_code', ['province_code'], unique=False)
        else:
            batch.drop_index('ix_units_province_code')
            batch.drop_column('takes_second_complaints')
            batch.drop_column('province_code')
    with op.batch_alter_table('users', recreate='always') as batch:
        if upgrade:
            batch.add_column(sa.Column('board_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(op.f('fk_users_board_id_oversight_boards'), 'oversight_boards',
                                     ['board_id'], ['id'])
        else:
            batch.drop_constraint(op.f('fk_users_board_id_oversight_boards'), type_='foreignkey')
            batch.drop_column('board_id')
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"units rebuilt with broken references: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
