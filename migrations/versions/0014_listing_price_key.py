"""search: a listing's price for the month stored as a sort key (`price_key`, `price_month`),
so that a cheapest-first search or a price ceiling reads an index instead of working out every
listing's price; filled by `refresh_prices` (the nightly job, index values, listing writes);
and listings and requests by latitude (a nearest-first page looked for within a circle)

Revision ID: 0014_price_key
Revises: 0013_mipgap
Create Date: 2026-12-03 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_price_key'
down_revision = '0013_mipgap'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supplylisting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_key', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('price_month', sa.Date(), nullable=True))
    op.create_index('ix_supplylisting_status_price_key', 'supplylisting', ['status', 'price_key'], unique=False)
    op.create_index('ix_supplylisting_status_price_month', 'supplylisting', ['status', 'price_month'], unique=False)
    for table in ('supplylisting', 'offtakerequest'):
        op.create_index(f'ix_{table}_status_lat', table, ['status', 'lat'], unique=False)


def downgrade() -> None:
    for table in ('offtakerequest', 'supplylisting'):
        op.drop_index(f'ix_{table}_status_lat', table_name=table)
    op.drop_index('ix_supplylisting_status_price_month', table_name='supplylisting')
    op.drop_index('ix_supplylisting_status_price_key', table_name='supplylisting')
    with op.batch_alter_table('supplylisting', schema=None) as batch_op:
        batch_op.drop_column('price_month')
        batch_op.drop_column('price_key')
