"""quality: an assay result's uncertainty is NULL when the laboratory stated none (was stored
as 0, which the API then reported as an exact measurement); existing zeros become NULL

Revision ID: 0016_uncertainty
Revises: 0015_open_kg
Create Date: 2026-12-03 15:30:00
"""
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


revision = '0016_uncertainty'
down_revision = '0015_open_kg'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assayresult', schema=None) as batch_op:
        batch_op.alter_column('uncertainty', existing_type=sa.String(length=40), nullable=True)
    conn = op.get_bind()
    # Stored as the Decimal's text ("0", "0.00", "0E-3"…): compared as numbers here.
    rows = conn.execute(sa.text('SELECT id, uncertainty FROM assayresult')).all()
    zeros = [{'id': i} for i, u in rows if u is not None and Decimal(u) == 0]
    if zeros:
        conn.execute(sa.text('UPDATE assayresult SET uncertainty = NULL WHERE id = :id'), zeros)


def downgrade() -> None:
    op.execute("UPDATE assayresult SET uncertainty = '0' WHERE uncertainty IS NULL")
    with op.batch_alter_table('assayresult', schema=None) as batch_op:
        batch_op.alter_column('uncertainty', existing_type=sa.String(length=40), nullable=False)
