"""scheduled jobs: once-only job claims and the APScheduler job store

Revision ID: 0008b
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import participants.columns


revision = '0008b'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobclaim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('claimed_at', participants.columns.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job', 'key')
    )
    # The job store of the scheduler process (APScheduler 3.x SQLAlchemyJobStore, its own
    # layout): created here so that the schema is the migrations' alone; the job store would
    # otherwise create it when the scheduler starts. Not a SQLModel table (web.scheduler owns it).
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(191), nullable=False),
    sa.Column('next_run_time', sa.Float(25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_apscheduler_jobs_next_run_time', 'apscheduler_jobs', ['next_run_time'])


def downgrade() -> None:
    op.drop_index('ix_apscheduler_jobs_next_run_time', table_name='apscheduler_jobs')
    op.drop_table('apscheduler_jobs')
    op.drop_table('jobclaim')
