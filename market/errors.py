"""Domain errors of the market package; web/ maps them to form errors and problem details."""


class MarketError(Exception):
    """Base of market errors: a short English message with %(name)s placeholders."""

    status = 400

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.field = field
        self.params = params


class ValidationFailed(MarketError):
    """Input breaks a rule; nothing was written."""

    status = 422


class NotFound(MarketError):
    status = 404


class PermissionDenied(MarketError):
    status = 403


class Conflict(MarketError):
    status = 409


class TooManyAttempts(MarketError):
    status = 429


def N_(message: str) -> str:
    """Marks a message for translation where it is used later (gettext_noop)."""
    return message
