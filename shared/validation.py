"""Checks every service applies to the plain inputs of its entrypoints: paging and identifiers.

Each refusal names the field and says in Chinese what is wrong (an InvalidArgument, which the gRPC
interceptor and the REST edge turn into a field violation).
"""

from __future__ import annotations

import uuid

from shared.errors import InvalidArgument

MAX_PAGE = 200
DEFAULT_PAGE = 50


def page(limit: int, offset: int) -> tuple[int, int]:
    """(limit, offset) of a listing: 0 asks for the default page, more than MAX_PAGE gets MAX_PAGE."""
    if limit < 0:
        raise InvalidArgument("limit", "每页条数不能为负数")
    if offset < 0:
        raise InvalidArgument("offset", "偏移量不能为负数")
    return min(limit or DEFAULT_PAGE, MAX_PAGE), offset


def uuid_field(value: str, field: str, what: str) -> str:
    """The identifier in canonical form, or a refusal naming `field`: "{what}格式不正确"."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(field, f"{what}格式不正确") from None
