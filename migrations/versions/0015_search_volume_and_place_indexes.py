"""search: listings and requests by open volume (largest first), then newest and id, the
search's whole order, so that a largest-volume page stops after its rows; and by latitude and
longitude (was latitude only), so that a nearest-first circle checks longitudes in the index

Revision ID: 0015_open_kg
Revises: 0014_price_key
Create Date: 2026-12-03 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_open_kg'
down_revision = '0014_price_key'
branch_labels = None
depends_on = None

TAKEN = {'supplylisting': 'committed_kg', 'offtakerequest': 'filled_kg'}


def upgrade() -> None:
    for table, taken in TAKEN.items():
        op.create_index(
            f'ix_{table}_status_open_kg',
            table,
            ['status', sa.text(f'(monthly_kg - {taken}) DESC'), sa.text('created_at DESC'), 'id'],
            unique=False,
        )
        op.drop_index(f'ix_{table}_status_lat', table_name=table)
        op.create_index(f'ix_{table}_status_lat_lon', table, ['status', 'lat', 'lon'], unique=False)


def downgrade() -> None:
    for table in TAKEN:
        op.drop_index(f'ix_{table}_status_lat_lon', table_name=table)
        op.create_index(f'ix_{table}_status_lat', table, ['status', 'lat'], unique=False)
        op.drop_index(f'ix_{table}_status_open_kg', table_name=table)
