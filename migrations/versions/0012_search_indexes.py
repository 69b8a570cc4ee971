"""search: composite indexes for the search answered by the database (open items by material
and creation time, by creation time, by expiry) on listings and requests

Revision ID: 0012_search
Revises: 0011_flows
Create Date: 2026-12-03 08:00:00
"""
from alembic import op


revision = '0012_search'
down_revision = '0011_flows'
branch_labels = None
depends_on = None

INDEXES = [
    (table, f'ix_{table}_{name}', columns)
    for table in ('supplylisting', 'offtakerequest')
    for name, columns in (
        ('status_material_created', ['status', 'material_code', 'created_at']),
        ('status_created', ['status', 'created_at']),
        ('status_expires', ['status', 'expires_on']),
    )
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
