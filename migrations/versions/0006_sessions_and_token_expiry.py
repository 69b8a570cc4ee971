"""sessions that end, API tokens that expire, login throttling by account and address

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:04:50.631423

- `membersession`: one row per logged-in browser (only the SHA-256 of its random id), so that
  logout, a password change or reset and removal from the organisation end it on the server.
  Session cookies issued before this revision carry a member id, which names no session:
  everybody logs in once more after the upgrade.
- `apitoken.expires_at`: existing tokens expire 90 days after they were created (the default
  lifetime; a token older than that stops working at once).
- `loginattempt`: failures are counted per (e-mail, client address); the index on
  (e-mail, at) becomes one on (e-mail, client address, at), which serves both.
"""

from datetime import timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

import participants.columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EXISTING_TOKEN_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    op.create_table(
        "membersession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", participants.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", participants.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", participants.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("remote_addr", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("membersession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membersession_member_id"), ["member_id"], unique=False)

    # The column first may be empty, is filled for existing tokens, then required.
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", participants.columns.UTCDateTime(timezone=True), nullable=True)
        )
    tokens = sa.table(
        "apitoken",
        sa.column("id", sa.Integer()),
        sa.column("created_at", participants.columns.UTCDateTime(timezone=True)),
        sa.column("expires_at", participants.columns.UTCDateTime(timezone=True)),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(tokens.c.id, tokens.c.created_at)).all()
    if rows:
        conn.execute(
            tokens.update()
            .where(tokens.c.id == sa.bindparam("token_id"))
            .values(expires_at=sa.bindparam("expiry")),
            [
                {"token_id": token_id, "expiry": created_at + EXISTING_TOKEN_LIFETIME}
                for token_id, created_at in rows
            ],
        )
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at",
            existing_type=participants.columns.UTCDateTime(timezone=True),
            nullable=False,
        )

    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_loginattempt_email_at")
        batch_op.create_index(
            "ix_loginattempt_email_remote_addr_at", ["email", "remote_addr", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_loginattempt_email_remote_addr_at")
        batch_op.create_index("ix_loginattempt_email_at", ["email", "at"], unique=False)

    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("membersession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membersession_member_id"))

    op.drop_table("membersession")
