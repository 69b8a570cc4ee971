"""Imports every table module so SQLModel.metadata is complete (Alembic, tests)."""

import contracts.models  # noqa: F401
import market.models  # noqa: F401
import quality.models  # noqa: F401
