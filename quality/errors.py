"""Domain errors of the quality package; web/ maps them to form errors and problem details.

Each error carries a short English `message` with %(name)s placeholders, the values in
`params` (so the message can be translated before it is formatted), the input `field` that
is wrong (or None) and an HTTP `status` hint.
"""


class QualityError(Exception):
    """Base of quality errors: a short English message with %(name)s placeholders."""

    status = 422
    message = "The quality data is not valid."

    def __init__(self, message: str | None = None, field: str | None = None, **params: object):
        if message is not None:
            self.message = message
        self.field = field
        self.params: dict[str, object] = params
        super().__init__(self.message % params if params else self.message)


class UnknownParameter(QualityError):
    """A parameter code that the catalogue does not know."""

    message = "Unknown parameter %(code)s."


class UnknownStandard(QualityError):
    """A grade standard (or version) that does not exist."""

    status = 404
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


class ImmutableVersion(QualityError):
    """A published or retired standard version is never edited; draft a new version."""

    status = 409
    message = "Version %(version)s of %(code)s is %(status)s and can no longer be changed."


class InvalidTransition(QualityError):
    """A lifecycle move that the workflow does not allow."""

    status = 409
    message = "Cannot move %(code)s from %(current)s to %(target)s."


class MissingUmpire(QualityError):
    """The two assays differ by more than the splitting limit and no umpire assay is given."""

    message = (
        "The assays differ by %(difference)s, more than the splitting limit %(limit)s: "
        "an umpire assay is required."
    )
