"""search: composite indexes for the search answered by the database on listings and requests:
open items by material and creation time, by creation time, and a covering index of every
column the search's filters and sorts read (the count and the sorts scan it, not the rows)

Revision ID: 0012_search
Revises: 0011_flows
Create Date: 2026-12-03 08:00:00
"""
from alembic import op

# The columns of market.models.SEARCH_COLUMNS as of this revision.
SEARCH_COLUMNS = {
    'supplylisting': [
        'status', 'material_code', 'expires_on', 'visibility', 'organization_id',
        'invited_org_ids', 'monthly_kg', 'committed_kg', 'created_at', 'data_quality_level',
        'price_kind', 'fixed_price_jpy_per_t', 'index_id', 'index_factor', 'premium_jpy_per_t',
        'floor_jpy_per_t', 'cap_jpy_per_t', 'origin_prefecture', 'available_from',
        'standard_version_id', 'lat', 'lon',
    ],
    'offtakerequest': [
        'status', 'material_code', 'expires_on', 'organization_id', 'monthly_kg', 'filled_kg',
        'created_at', 'delivery_prefecture', 'start_month', 'standard_version_id', 'lat', 'lon',
    ],
}


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
    )
] + [
    (table, f'ix_{table}_search', columns) for table, columns in SEARCH_COLUMNS.items()
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
