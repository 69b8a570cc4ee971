"""matching: a run keeps how it was solved and what is proven of it: the solver's method, the
proven gap to the best possible surplus and whether the allocation is proven optimal (NULL on
the runs before)

Revision ID: 0013_mipgap
Revises: 0012_search
Create Date: 2026-12-04 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013_mipgap'
down_revision = '0012_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matchrun', schema=None) as batch_op:
        batch_op.add_column(sa.Column('solver_method', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('mip_gap', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('optimal', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matchrun', schema=None) as batch_op:
        batch_op.drop_column('optimal')
        batch_op.drop_column('mip_gap')
        batch_op.drop_column('solver_method')
