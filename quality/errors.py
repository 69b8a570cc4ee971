"""Errors of the quality package, on the one domain error base (participants.errors).

Each has a default English message with %(name)s placeholders; the status comes from the
generic class it also is (NotFound 404, Conflict 409, otherwise 422).
"""

from participants.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class QualityError(ValidationFailed):
    """Base of quality errors: invalid quality data (422 unless a subclass says otherwise)."""

    message = "The quality data is not valid."


class UnknownParameter(QualityError):
    """A parameter code that the catalogue does not know."""

    message = "Unknown parameter %(code)s."


class UnknownStandard(NotFound, QualityError):
    """A grade standard (or version) that does not exist."""

    message = "Unknown grade standard %(code)s."


class InvalidMeasurement(QualityError):
    """A measured value or uncertainty that cannot be used (negative, not a Decimal, …)."""

    message = "Invalid measurement of %(parameter)s."


class DuplicateParameter(QualityError):
    """The same parameter given twice in one set of results."""

    message = "Parameter %(parameter)s is given more than once."


class InvalidSpec(QualityError):
    """A grade specification (limit, requirement, schedule) that is inconsistent."""

    message = "The grade specification is not consistent."


class InvalidEvidence(QualityError):
    """Lot evidence for the data-quality level that cannot be interpreted."""

    message = "The lot evidence is not valid."


class InvalidContent(QualityError):
    """Certificate content that has no canonical JSON form."""

    message = "The certificate content cannot be encoded: %(reason)s."


class ImmutableVersion(Conflict, QualityError):
    """A published or retired standard version is never edited; draft a new version."""

    message = "Version %(version)s of %(code)s is %(status)s and can no longer be changed."


class InvalidTransition(Conflict, QualityError):
    """A lifecycle move that the workflow does not allow."""

    message = "Cannot move %(code)s from %(current)s to %(target)s."


class MissingUmpire(QualityError):
    """The two assays differ by more than the splitting limit and no umpire assay is given."""

    message = (
        "The assays differ by %(difference)s, more than the splitting limit %(limit)s: "
        "an umpire assay is required."
    )


class NotPermitted(PermissionDenied, QualityError):
    """The acting organisation may not take this step of the quality workflow."""

    message = "Your organisation may not do this."


class ConsultationClosed(Conflict, QualityError):
    """A response to a version that is not (or no longer) under consultation."""

    message = "The consultation on this version is not open."


class CustodyNotCovered(QualityError):
    """A recycled-content claim above the organisation's chain-of-custody balance."""

    message = (
        "The recycled-content claim needs %(needed)s t of recycled %(material)s, but your "
        "chain-of-custody balance has %(available)s t available."
    )
