"""Imports every table module so SQLModel.metadata is complete (Alembic, tests)."""

import market.models  # noqa: F401
