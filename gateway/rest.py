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
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from google.protobuf import json_format
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


def to_json(message) -> dict:
    """A service's answer as the REST body: proto3 JSON under the proto's own field names, every field
    present (an empty list or a zero is written out, so clients need no defaults of their own)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


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
