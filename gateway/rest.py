"""What every REST router of the gateway shares, written once: strict request bodies, a service reached
with the caller's token, answers as proto3 JSON, documents (PDF, CSV, HTML) as files.

A router is `gateway/routes_<service>.py` (one per row of shared/registry.py with `rest`): a module-level
`router = APIRouter(...)` whose endpoints take `p: User` (gateway.edge) and call their service through a
`Backend`, e.g.

    intake = Backend("intake", intake_pb2_grpc.IntakeServiceStub)

    @router.get("/api/v1/intake/applications/{application_id}")
    def get_application(application_id: str, request: Request, p: User):
        return to_json(intake.call(request, p, "GetApplication", pb.GetApplicationRequest(...)))

Types are checked here (422 naming the field); the rules are the service's (also 422 naming the field).
The caller's token travels with each call, so the service checks the same person again.

Statuses are enums on the wire (`<ENUM>_UNSPECIFIED = 0`, then `<ENUM>_<TOKEN>`; `make lint` checks it), but
the REST API speaks their lower-case tokens, in answers and in query parameters alike: every enum named
`…Status` of a sanji package is written by `to_json` as its token ("awaiting_fees", "paid"; "" for the zero,
no status) and read from a query parameter with `status_query` / `status_number`. The token is the value's
name without the enum's prefix, lower-cased, which each service's translate.py keeps equal to its domain's
StrEnum value (tests/test_proto_style.py checks every table).
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from fastapi import Query, Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.edge import edge_of, md
from gateway.inputs import int_range
from shared import registry
from shared.tenancy import Principal


class Strict(BaseModel):
    """A request body: a field the API does not know is refused (422 naming it), not silently dropped; a
    whole number its service's message cannot carry is refused too (gateway.inputs.int_range: the range of
    the proto fields of its name), so no body reaches protobuf's "Value out of range"."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _numbers_the_protos_carry(cls, value, info: ValidationInfo):
        numbers = value if isinstance(value, list) else [value]
        for number in numbers:
            if isinstance(number, int) and not isinstance(number, bool):
                lo, hi = int_range(info.field_name)
                if number > hi:
                    raise PydanticCustomError("less_than_equal", "Input should be less than or equal to {le}",
                                              {"le": hi})
                if number < lo:
                    raise PydanticCustomError("greater_than_equal", "Input should be greater than or equal to {ge}",
                                              {"ge": lo})
        return value


# -- statuses as tokens ----------------------------------------------------------------------------------
def is_status_enum(enum: EnumDescriptor) -> bool:
    """A status enum of ours: its REST form is the token."""
    return enum.name.endswith("Status") and enum.full_name.startswith("sanji.")


@functools.cache
def _tokens(enum: EnumDescriptor) -> dict[int | str, str]:
    # the prefix is the zero value's name without UNSPECIFIED (infra/lint_proto.py holds every enum to it)
    prefix = enum.values_by_number[0].name.removesuffix("UNSPECIFIED")
    tokens: dict[int | str, str] = {}
    for v in enum.values:
        token = "" if v.number == 0 else v.name.removeprefix(prefix).lower()
        tokens[v.number] = tokens[v.name] = token
    return tokens


def _enum(enum) -> EnumDescriptor:
    return getattr(enum, "DESCRIPTOR", enum)          # a generated enum (pb.CaseStatus) or its descriptor


def status_tokens(enum) -> dict[int, str]:
    """Number → token of a status enum ("" for the zero)."""
    d = _enum(enum)
    return {n: t for n, t in _tokens(d).items() if isinstance(n, int)}


def enum_json_values(enum) -> list[str]:
    """What `to_json` writes for a field of this enum: the tokens of a status enum, else the value names."""
    d = _enum(enum)
    return list(status_tokens(d).values()) if is_status_enum(d) else [v.name for v in d.values]


def status_query(enum, what: str = "状态"):
    """A query parameter taking the tokens of the status enum `enum` ("" = no filter); anything else is
    refused with 422 naming the parameter, before the service is called."""
    tokens = [t for t in status_tokens(enum).values() if t]
    return Query("", max_length=max(map(len, tokens)), pattern=f"^({'|'.join(tokens)})?$",
                 description=f"按{what}筛选：{'、'.join(tokens)}（留空不筛选）")


def status_number(enum, token: str) -> int:
    """The enum number of a token `status_query` let through ("" → 0, no filter)."""
    return {t: n for n, t in status_tokens(enum).items()}[token]


@functools.cache
def _holds_status(message: Descriptor) -> bool:
    seen: set[str] = set()

    def walk(m: Descriptor) -> bool:
        if m.full_name in seen or not m.full_name.startswith("sanji."):
            return False
        seen.add(m.full_name)
        return any((f.enum_type is not None and is_status_enum(f.enum_type))
                   or (f.message_type is not None and walk(f.message_type)) for f in m.fields)
    return walk(message)


def _render_statuses(message: Descriptor, out: dict) -> None:
    """Rewrite, in place, the status enums of `out` (MessageToDict of a `message`) as their tokens."""
    for field in message.fields:
        if field.name not in out:
            continue
        value = out[field.name]
        target = field.message_type
        if target is not None and target.GetOptions().map_entry:
            vf = target.fields_by_name["value"]
            if vf.enum_type is not None and is_status_enum(vf.enum_type):
                tokens = _tokens(vf.enum_type)
                out[field.name] = {k: tokens.get(v, v) for k, v in value.items()}
            elif vf.message_type is not None and _holds_status(vf.message_type):
                for item in value.values():
                    _render_statuses(vf.message_type, item)
        elif field.enum_type is not None and is_status_enum(field.enum_type):
            tokens = _tokens(field.enum_type)
            out[field.name] = [tokens.get(v, v) for v in value] if isinstance(value, list) else tokens.get(value, value)
        elif target is not None and _holds_status(target):
            for item in (value if isinstance(value, list) else [value]):
                _render_statuses(target, item)


def to_json(message) -> dict:
    """A service's answer as the REST body: proto3 JSON under the proto's own field names, every field
    present (an empty list or a zero is written out, so clients need no defaults of their own), statuses
    as their tokens."""
    out = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                    always_print_fields_with_no_presence=True)
    if _holds_status(message.DESCRIPTOR):
        _render_statuses(message.DESCRIPTOR, out)
    return out


class Backend:
    """One service as a router reaches it: the stub on the app's channel to the service's target."""

    def __init__(self, service: str, stub_cls: type):
        self.service = registry.spec(service).name     # a name not in the registry fails at import
        self.stub_cls = stub_cls

    def stub(self, request: Request):
        return edge_of(request).stub(self.service, self.stub_cls)

    def call(self, request: Request, p: Principal | None, method: str, message, *, at_least: float = 0.0):
        """`method` with the caller's token (None: a public call, no token) within the gateway's gRPC
        timeout, or `at_least` seconds for work known to take longer."""
        edge = edge_of(request)
        return getattr(edge.stub(self.service, self.stub_cls), method)(
            message, metadata=md(p) if p else None, timeout=max(edge.timeout, at_least))


def file_response(content: bytes, media_type: str, filename: str = "", *, inline: bool = False) -> Response:
    """A document as a file: saved (attachment) or opened in the browser (inline) under `filename`,
    written as RFC 5987 UTF-8 so a Chinese name survives; no filename, no content-disposition."""
    headers = {}
    if filename:
        headers["content-disposition"] = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(filename)}"
    return Response(content=content, media_type=media_type, headers=headers)
