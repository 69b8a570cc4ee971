"""Settlement of a disputed assay (the split-assay rule of quality.pricing) as a record.

A calculation over the values given: it reads nothing confidential and stores nothing, so
any authenticated member may ask for it.
"""

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from participants.fields import Line, Measurement
from quality.catalogue import get_parameter
from quality.pricing import Settlement, settle_assay


class SettlementRequest(BaseModel):
    """The seller's and the buyer's assay of one parameter, the splitting limit, the umpire's."""

    model_config = ConfigDict(extra="forbid")
    parameter: Line(40, min_length=1)
    seller: Measurement
    buyer: Measurement
    splitting_limit: Measurement
    umpire: Measurement | None = None


def settle_disputed_assay(session: Session, data: SettlementRequest) -> Settlement:
    """Average within the splitting limit, else the umpire's value (MissingUmpire without it)."""
    get_parameter(session, data.parameter)
    return settle_assay(data.seller, data.buyer, data.splitting_limit, data.umpire)
