"""flows: a standard version keeps the justification of a publication despite an open consultation or an objection

Revision ID: 0011_flows
Revises: 0010
Create Date: 2026-12-03 04:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_flows'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('standardversion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_justification', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('standardversion', schema=None) as batch_op:
        batch_op.drop_column('publish_justification')
