"""Domain errors. Raised anywhere; mapped to gRPC status in one interceptor and to HTTP at the gateway.

Messages are for people and therefore Chinese; `field` names the input that was wrong.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller is meant to see."""

    code = "internal"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidArgument(DomainError):
    """Bad input: gRPC INVALID_ARGUMENT, HTTP 422. Always names the field."""

    code = "invalid_argument"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class NotFound(DomainError):
    """Absent, or not visible to the caller (the two are indistinguishable on purpose)."""

    code = "not_found"


class PermissionDenied(DomainError):
    """Authenticated, but the role or tenant may not do this."""

    code = "permission_denied"


class Unauthenticated(DomainError):
    """No token, or a token that failed verification."""

    code = "unauthenticated"


class FailedPrecondition(DomainError):
    """The state does not allow this now (e.g. publishing a cancelled item)."""

    code = "failed_precondition"


class AlreadyExists(DomainError):
    code = "already_exists"


class Unavailable(DomainError):
    code = "unavailable"
