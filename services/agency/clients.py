"""The agency's adapters to the services it asks over gRPC: the catalogue (where an item is handled)
and intake (submitting the application upward). Built at the composition root; the caller's token
travels with every call (`make_channel` forwards the principal bound to the request), and to intake also
the agency's own credential (its client-credentials token): intake takes a proxy submission from the
agency service only, never from an agent calling its port directly.

They take and give domain values (the handlers never build or read a message): the messages of the
callee's API are written and read here. Downstream errors become domain errors here, keeping the field
the callee named where there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from sanji.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc
from sanji.intake.v1 import intake_pb2, intake_pb2_grpc

from services.agency.domain import NATURAL_PERSON, Material, Resident
from shared import errors
from shared.auth import ServiceCredentials
from shared.grpc.client import make_channel
from shared.grpc.server import FIELD_KEY


@dataclass(frozen=True)
class ResolvedItem:
    """An item as the caller's unit may take it in, and the unit whose window decides on it."""

    item_id: str
    version: int
    name: str
    handling_tenant: str
    handling_unit_name: str
    proxy: bool
    scenarios: dict[str, dict[str, str]]   # scenario code → {material code: material name}


@dataclass(frozen=True)
class ProxySubmission:
    """An application submitted upward for a resident (代办提交): the resident is the applicant, the materials
    are those the village holds. `idempotency_key`: a retry never makes a second application."""

    idempotency_key: str
    proxy_request_id: str
    item_id: str
    scenario_code: str
    resident: Resident
    materials: Sequence[Material] = ()
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmittedApplication:
    application_id: str
    handling_tenant: str
    case_number: str
    status: int


def domain_error(exc: grpc.RpcError, *, service: str, default_field: str | None = None) -> errors.DomainError:
    """A downstream gRPC error as the domain error that reports it to our caller."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    trailing = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
    field = trailing.get(FIELD_KEY) or default_field
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument(field or "request", details)
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(details, field=field)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return errors.PermissionDenied(details, field=field)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return errors.Unauthenticated(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return errors.FailedPrecondition(details, field=field)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return errors.AlreadyExists(details, field=field)
    return errors.Unavailable(f"{service}暂时无法响应，请稍后重试")


class CatalogueClient:
    def __init__(self, target: str, *, timeout: float = 10.0):
        self.target = target
        self.timeout = timeout
        self._stub: catalogue_pb2_grpc.CatalogueServiceStub | None = None

    def _service(self) -> catalogue_pb2_grpc.CatalogueServiceStub:
        if self._stub is None:
            self._stub = catalogue_pb2_grpc.CatalogueServiceStub(make_channel(self.target))
        return self._stub

    def resolve(self, item_id: str) -> ResolvedItem:
        """Where the caller's unit sends an application for this item (清单之外无许可)."""
        try:
            r = self._service().ResolveHandlingUnit(catalogue_pb2.ResolveHandlingUnitRequest(item_id=item_id),
                                                    timeout=self.timeout)
        except grpc.RpcError as exc:
            err = domain_error(exc, service="事项目录服务", default_field="item_id")
            if isinstance(err, errors.NotFound | errors.FailedPrecondition | errors.InvalidArgument):
                # unknown, unpublished, cancelled or not in this unit's list: the item is the bad input
                raise errors.InvalidArgument("item_id", err.message or "该事项不在本单位清单中") from None
            raise err from None
        scenarios = {s.code: {m.code: m.name for m in s.materials} for s in r.item.elements.scenarios}
        return ResolvedItem(item_id=r.item.id, version=r.item.version, name=r.item.elements.name,
                            handling_tenant=r.handling_tenant, handling_unit_name=r.handling_unit_name,
                            proxy=r.proxy, scenarios=scenarios)


class IntakeClient:
    """`service`: the agency's own credentials (ServiceCredentials.from_settings(settings, "agency")), sent
    beside the agent's token: SubmitProxyApplication is internal to the platform, for the agency only."""

    def __init__(self, target: str, *, service: ServiceCredentials, timeout: float = 15.0):
        self.target = target
        self.timeout = timeout
        self.service = service
        self._stub: intake_pb2_grpc.IntakeServiceStub | None = None

    def _service(self) -> intake_pb2_grpc.IntakeServiceStub:
        if self._stub is None:
            self._stub = intake_pb2_grpc.IntakeServiceStub(make_channel(self.target, service=self.service))
        return self._stub

    def submit_proxy(self, s: ProxySubmission) -> SubmittedApplication:
        r = s.resident
        request = intake_pb2.SubmitProxyApplicationRequest(
            idempotency_key=s.idempotency_key, proxy_request_id=s.proxy_request_id, item_id=s.item_id,
            scenario_code=s.scenario_code,
            applicant=intake_pb2.Applicant(kind=r.kind, name=r.name,
                                           id_type="resident_id" if r.kind == NATURAL_PERSON else "uscc",
                                           id_number=r.id_number, phone=r.phone, address=r.address),
            materials=[intake_pb2.MaterialSubmission(code=m.code, supplied=True, note=m.note) for m in s.materials],
            form=dict(s.form))
        try:
            app = self._service().SubmitProxyApplication(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise domain_error(exc, service="综合受理服务") from None
        return SubmittedApplication(application_id=app.id, handling_tenant=app.tenant, case_number=app.case_number,
                                    status=app.status)
