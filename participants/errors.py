"""The one error base of every domain package; web/ maps it to HTTP in one place.

Each error carries a short English `message` with %(name)s placeholders, the values in
`params` (so the message is translated before it is formatted), the input `field` that is
wrong (or None) and an HTTP `status`. Subclasses may give a default message.
"""


class DomainError(Exception):
    """Base of all domain errors: DomainError(message=None, field=None, **params)."""

    status = 422
    message = "The input is not valid."

    def __init__(self, message: str | None = None, field: str | None = None, **params: object):
        if message is not None:
            self.message = message
        self.field = field
        self.params: dict[str, object] = params
        super().__init__(self.message % params if params else self.message)


class ValidationFailed(DomainError):
    """Input breaks a rule; nothing was written."""

    status = 422


class NotFound(DomainError):
    """No such record, or not one the acting member may see (the same answer for both)."""

    status = 404
    message = "Not found."


class Unauthenticated(DomainError):
    """The credentials given (e-mail and password, a token) do not identify an active member."""

    status = 401
    message = "Wrong e-mail address or password."


class PermissionDenied(DomainError):
    """The acting member's role, organisation kind or verification does not allow this."""

    status = 403
    message = "You may not do this."


class Conflict(DomainError):
    """The record's state does not allow this now (a lifecycle step, volume, a version)."""

    status = 409
    message = "This conflicts with the current state."


class TooManyAttempts(DomainError):
    """Slow down: too many failed attempts; `retry_after` seconds until the next try."""

    status = 429
    message = "Too many attempts. Try again later."

    def __init__(self, message: str | None = None, field: str | None = None, **params: object):
        self.retry_after = int(params.pop("retry_after", 0) or 0)
        super().__init__(message, field, **params)


def N_(message: str) -> str:
    """Marks a message for translation where it is used later (gettext_noop)."""
    return message
