"""What every input is checked for once, at the edge, for every route (issue 20, items 5 and 7):

- text PostgreSQL and UTF-8 can hold: no NUL character (PostgreSQL's text cannot store it) and no lone
  UTF-16 surrogate (U+D800–U+DFFF, which has no UTF-8 form: a JSON "\\ud800" escape would reach the
  database driver and fail there) — in the path, the query (names and values) and the JSON body (keys and
  values, at any depth). A percent-encoded path or query that is not UTF-8 (a surrogate encoded as
  %ED%A0%80, Latin-1 bytes) is refused too, instead of being stored with U+FFFD where its characters were;
- whole numbers the protos can carry: a number the service's message cannot hold is refused here instead of
  crashing the gateway with protobuf's "Value out of range". The range of a number is the narrowest of the
  integer fields of that name in the services' request messages (int32 unless every such field is wider,
  like the int64 `*_fen` amounts), and signed 32 bits for a name no message has.

Both answer 422 in the gateway's error shape naming the field. `check_inputs` is an app-wide dependency
(path, query and body text, query and path numbers); numbers inside a body are checked by `gateway.rest.Strict`
through `int_range`, where the field path is known.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import typing
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from fastapi import Request
from fastapi.routing import APIRoute
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from shared import registry
from shared.errors import InvalidArgument

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "含有无法保存的字符（空字符 NUL 或不成对的 UTF-16 代理码元），请删除后重试"
INT32 = (-(2**31), 2**31 - 1)
_RANGES = {
    FieldDescriptor.TYPE_INT32: INT32, FieldDescriptor.TYPE_SINT32: INT32, FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _messages(descriptor: Descriptor) -> Iterator[Descriptor]:
    yield descriptor
    for nested in descriptor.nested_types:
        yield from _messages(nested)


@functools.cache
def proto_int_ranges() -> dict[str, tuple[int, int]]:
    """Field name → the range every integer field of that name in the registered services' messages holds."""
    ranges: dict[str, tuple[int, int]] = {}
    for spec in registry.SERVICES:
        module = importlib.import_module(f"sanji.{spec.name}.v1.{spec.name}_pb2")
        for top in module.DESCRIPTOR.message_types_by_name.values():
            for message in _messages(top):
                for field in message.fields:
                    if field.type in _RANGES:
                        lo, hi = _RANGES[field.type]
                        old = ranges.get(field.name, (lo, hi))
                        ranges[field.name] = (max(lo, old[0]), min(hi, old[1]))
    return ranges


def int_range(name: str) -> tuple[int, int]:
    return proto_int_ranges().get(name, INT32)


def int_out_of_range(name: str, value: int) -> str | None:
    """The Chinese message for a number outside what `name` can carry, or None."""
    lo, hi = int_range(name)
    if value > hi:
        return f"数值过大（不能大于 {hi}）"
    if value < lo:
        return f"数值过小（不能小于 {lo}）"
    return None


def unstorable(text: str) -> bool:
    return UNSTORABLE.search(text) is not None


def _refuse(field: str) -> InvalidArgument:
    return InvalidArgument(field, f"{field}：{UNSTORABLE_TEXT}")


def check_json(value, path: str = "") -> None:
    """Every key and text value of a JSON document, at any depth; the field named by its dotted path."""
    if isinstance(value, str):
        if unstorable(value):
            raise _refuse(path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if unstorable(str(key)):
                raise _refuse(path or "body")
            check_json(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{path}.{i}" if path else str(i))


def _is_int(annotation) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def _int_params(route: APIRoute):
    return [(p, where) for where, params in (("path", route.dependant.path_params),
                                             ("query", route.dependant.query_params))
            for p in params if _is_int(p.field_info.annotation)]


def _decoded(raw: bytes) -> str | None:
    """A percent-encoded name or value as text; None if it is not UTF-8."""
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_pairs(raw: bytes, where: str) -> None:
    """A query string or a form body: every name and value UTF-8 and storable; the field named by its name."""
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        text_name, text_value = _decoded(name), _decoded(value)
        if text_name is None or unstorable(text_name):
            raise _refuse(where)
        if text_value is None or unstorable(text_value):
            raise _refuse(text_name)


def check_path(request: Request) -> None:
    """The percent-encoded path decodes as UTF-8 (the server replaced what did not with U+FFFD), and each
    path parameter is storable."""
    if _decoded(request.scope.get("raw_path") or b"") is None:
        raise _refuse(next((n for n, v in request.path_params.items() if "\ufffd" in str(v)), "path"))
    for name, value in request.path_params.items():
        if isinstance(value, str) and unstorable(value):
            raise _refuse(name)


async def check_inputs(request: Request) -> None:
    """The app-wide dependency: text of the path, the query and the body (JSON or form); numbers of the path
    and query."""
    check_path(request)
    check_pairs(request.scope.get("query_string") or b"", "query")
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        for param, where in _int_params(route):
            raw = (request.path_params if where == "path" else request.query_params).get(param.alias)
            try:
                number = int(raw) if raw is not None else None
            except ValueError:
                number = None            # not a number at all: FastAPI's own check names it
            if number is not None and (problem := int_out_of_range(param.name, number)):
                raise InvalidArgument(param.alias, f"{param.alias}：{problem}")
    if request.method in ("POST", "PUT", "PATCH"):
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            return                   # uploaded files: bounded and read by their route, checked by their service
        raw = await request.body()
        if not raw:
            return
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            check_pairs(raw, "body")
            return
        try:
            document = json.loads(raw)
        except ValueError:
            return                   # not JSON: the route's own parsing refuses it (422) or reads it
        check_json(document)
