"""invoicing: per-year invoice number counter, one credit note per delivery decision

Revision ID: 0008c
Revises: 0008b
Create Date: 2026-12-02 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008c'
down_revision = '0008b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoicenumbercounter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    with op.batch_alter_table('invoice') as batch:
        batch.add_column(sa.Column('delivery_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_invoice_delivery_id_delivery', 'delivery', ['delivery_id'], ['id'])
        batch.create_unique_constraint('uq_invoice_delivery_id', ['delivery_id'])


def downgrade() -> None:
    with op.batch_alter_table('invoice') as batch:
        batch.drop_constraint('uq_invoice_delivery_id', type_='unique')
        batch.drop_constraint('fk_invoice_delivery_id_delivery', type_='foreignkey')
        batch.drop_column('delivery_id')
    op.drop_table('invoicenumbercounter')
