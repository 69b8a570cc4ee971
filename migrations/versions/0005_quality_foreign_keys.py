"""quality's organisation and member columns get real foreign keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00

Identity moved to the ground floor (participants), so quality may refer to organisations and
members by foreign key. Existing rows are kept; a reference to an organisation or member that
does not exist (possible before, as nothing enforced it) is cleared where the column may be
empty, and otherwise stops the upgrade with a message naming the rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, referred table, nullable)
KEYS = [
    ("standardversion", "proposed_by_org_id", "organization", True),
    ("consultationresponse", "organization_id", "organization", False),
    ("consultationresponse", "member_id", "member", True),
    ("assay", "organization_id", "organization", False),
    ("certificate", "issuer_org_id", "organization", False),
]


def _name(table: str, column: str) -> str:
    return f"fk_{table}_{column}"


def upgrade() -> None:
    conn = op.get_bind()
    for table, column, referred, nullable in KEYS:
        orphans = f"{column} IS NOT NULL AND {column} NOT IN (SELECT id FROM {referred})"
        if nullable:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = NULL WHERE {orphans}"))
            continue
        ids = [r[0] for r in conn.execute(sa.text(f"SELECT id FROM {table} WHERE {orphans}"))]
        if ids:
            raise RuntimeError(
                f"{table}.{column} refers to missing {referred} rows (ids {ids[:20]}); "
                "fix or remove those rows, then upgrade again."
            )
    for table, column, referred, _nullable in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_name(table, column), referred, [column], ["id"])


def downgrade() -> None:
    for table, column, _referred, _nullable in reversed(KEYS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_name(table, column), type_="foreignkey")
