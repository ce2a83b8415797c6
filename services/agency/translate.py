"""Translation between the agency's proto messages and its rows and commands: requests and responses of the
gRPC API, intake's progress events it reads (message → command) and the events it records (domain → message,
`EventsOut`)."""

from __future__ import annotations

import datetime as dt

from sanji.agency.v1 import agency_pb2 as pb
from sanji.agency.v1 import events_pb2 as ev
from sanji.intake.v1 import events_pb2 as intake_ev
from sanji.intake.v1 import intake_pb2

from services.agency.commands import AuthorisationInput, RecordProgress, RequestProxy
from services.agency.domain import (
    HandOverItem,
    HandOverStatus,
    Material,
    Progress,
    Resident,
    Status,
    door_to_door_free,
    parse_datetime,
)
from services.agency.repository import HandOverRow, ProxyRow
from shared.errors import InvalidArgument
from shared.messaging import PoisonMessage

# -- statuses: domain StrEnum ↔ proto enum, one table each (the REST token of each proto value is the domain's
# value: PROXY_REQUEST_STATUS_RESULT_READY ↔ "result_ready"; tests/test_proto_style.py holds every table to it) -
PROXY_STATUS = {Status.REQUESTED: pb.PROXY_REQUEST_STATUS_REQUESTED, Status.ASSIGNED: pb.PROXY_REQUEST_STATUS_ASSIGNED,
                Status.SUBMITTED: pb.PROXY_REQUEST_STATUS_SUBMITTED,
                Status.CORRECTION: pb.PROXY_REQUEST_STATUS_CORRECTION,
                Status.ACCEPTED: pb.PROXY_REQUEST_STATUS_ACCEPTED, Status.REJECTED: pb.PROXY_REQUEST_STATUS_REJECTED,
                Status.TERMINATED: pb.PROXY_REQUEST_STATUS_TERMINATED,
                Status.RESULT_READY: pb.PROXY_REQUEST_STATUS_RESULT_READY,
                Status.DELIVERED: pb.PROXY_REQUEST_STATUS_DELIVERED}
HAND_OVER_STATUS = {HandOverStatus.PENDING: pb.HAND_OVER_STATUS_PENDING,
                    HandOverStatus.RECEIVED: pb.HAND_OVER_STATUS_RECEIVED}
PROXY_STATUS_FROM_PB = {v: k for k, v in PROXY_STATUS.items()}


def proxy_status_filter(value: int) -> Status | None:
    """ListProxyRequestsRequest.status: UNSPECIFIED is no filter; a number the API does not know is refused."""
    if value == pb.PROXY_REQUEST_STATUS_UNSPECIFIED:
        return None
    if value not in PROXY_STATUS_FROM_PB:
        raise InvalidArgument("status", f"不认识的状态：{value}")
    return PROXY_STATUS_FROM_PB[value]


def _iso(t: dt.datetime | dt.date | None) -> str:
    return t.isoformat() if t else ""


def request_proxy_command(r: pb.RequestProxyRequest) -> RequestProxy:
    a = r.authorisation
    return RequestProxy(
        resident=Resident(name=r.resident.name, id_number=r.resident.id_number, phone=r.resident.phone,
                          address=r.resident.address, kind=r.resident.kind),
        special_group=r.special_group, door_to_door=r.door_to_door, item_id=r.item_id, scenario_code=r.scenario_code,
        authorisation=AuthorisationInput(signed_on=a.signed_on, scope=a.scope, document_ref=a.document_ref,
                                         valid_until=a.valid_until),
        key_project=r.key_project, project_name=r.project_name, idempotency_key=r.idempotency_key)


def materials_in(materials) -> list[Material]:
    return [Material(code=m.code, supplied=True, note=m.note) for m in materials]


def handover_items_in(items) -> list[HandOverItem]:
    return [HandOverItem(description=i.description, copies=i.copies, material_code=i.material_code) for i in items]


def _material(m: Material) -> intake_pb2.MaterialSubmission:
    return intake_pb2.MaterialSubmission(code=m.code, supplied=m.supplied, note=m.note, supplied_at=m.supplied_at,
                                         supplied_via=m.supplied_via)


def proxy_to_pb(row: ProxyRow) -> pb.ProxyRequest:
    a = row.authorisation
    return pb.ProxyRequest(
        id=row.id, tenant=row.tenant,
        resident=pb.Resident(name=row.resident.name, id_number=row.resident.id_number, phone=row.resident.phone,
                             address=row.resident.address, kind=row.resident.kind),
        special_group=str(row.special_group), door_to_door=row.door_to_door, key_project=row.key_project,
        project_name=row.project_name, item_id=row.item_id, item_name=row.item_name, scenario_code=row.scenario_code,
        authorisation=pb.Authorisation(signed_on=_iso(a.signed_on), scope=a.scope, document_ref=a.document_ref,
                                       valid_until=_iso(a.valid_until)),
        agent=row.agent, agent_name=row.agent_name, status=PROXY_STATUS[row.status],
        visits=[pb.Visit(id=v.id, scheduled_for=_iso(v.scheduled_for), address=v.address, purpose=v.purpose,
                         done_at=_iso(v.done_at), outcome=v.outcome, by=v.done_by, by_name=v.done_by_name,
                         scheduled_by=v.scheduled_by, materials=[_material(m) for m in v.materials])
                for v in row.visits],
        application_id=row.application_id, handling_tenant=row.handling_tenant, case_number=row.case_number,
        progress=[pb.ProgressNote(at=_iso(n.at), step=n.step, text=n.text) for n in row.notes],
        materials=[_material(m) for m in row.materials], free_of_charge=row.free_of_charge,
        created_at=_iso(row.created_at), handling_unit_name=row.handling_unit_name, updated_at=_iso(row.updated_at),
        submitted_at=_iso(row.submitted_at), item_version=row.item_version, created_by=row.created_by,
        door_to_door_free=door_to_door_free(row.special_group, row.door_to_door, row.key_project))


def handover_to_pb(h: HandOverRow) -> pb.HandOverRecord:
    return pb.HandOverRecord(
        id=h.id, request_id=h.request_id, application_id=h.application_id, from_tenant=h.from_tenant,
        to_tenant=h.to_tenant, handed_by=h.handed_by, handed_at=_iso(h.handed_at),
        items=[pb.HandOverItem(description=i.description, copies=i.copies, material_code=i.material_code)
               for i in h.items],
        received_by=h.received_by, received_at=_iso(h.received_at), status=HAND_OVER_STATUS[h.status],
        case_number=h.case_number, handed_by_name=h.handed_by_name, received_by_name=h.received_by_name, note=h.note,
        handling_tenant=h.handling_tenant, origin_tenant=h.origin_tenant)


# -- events in: intake's progress of a proxied application ---------------------------------------------
def record_progress(m: intake_ev.ProxyApplicationProgressed) -> RecordProgress:
    """The event as the handler's command (the request id as sent: whether the agency issued it is the
    handler's question); an event that gives an unreadable time can never be handled (PoisonMessage)."""
    at = None
    if m.at:
        try:
            at = parse_datetime(m.at, "at")
        except InvalidArgument:
            raise PoisonMessage(f"'at' is not an ISO 8601 time: {m.at!r}") from None
    return RecordProgress(request_id=m.proxy_request_id, step=m.step, proxy_tenant=m.proxy_tenant,
                          application_id=m.application_id, handling_tenant=m.handling_tenant,
                          case_number=m.case_number, detail=m.detail, material_codes=tuple(m.material_codes), at=at,
                          query_code=m.query_code)


# -- events out: agency.events, built from the rows ------------------------------------------------------
class EventsOut:
    """The messages of the events the agency records, one method per event, from domain values. The handlers
    get an instance (`events_out`) from the composition root and emit what it builds in their unit of work."""

    def proxy_requested(self, row: ProxyRow) -> ev.ProxyRequested:
        return ev.ProxyRequested(request_id=row.id, tenant=row.tenant, item_id=row.item_id,
                                 special_group=str(row.special_group), door_to_door=row.door_to_door,
                                 key_project=row.key_project, handling_tenant=row.handling_tenant)

    def agent_assigned(self, row: ProxyRow) -> ev.AgentAssigned:
        return ev.AgentAssigned(request_id=row.id, tenant=row.tenant, agent=row.agent)

    def documents_handed_over(self, h: HandOverRow) -> ev.DocumentsHandedOver:
        return ev.DocumentsHandedOver(handover_id=h.id, from_tenant=h.from_tenant, to_tenant=h.to_tenant,
                                      application_id=h.application_id, request_id=h.request_id, items=len(h.items))

    def documents_received(self, h: HandOverRow, *, received_by: str) -> ev.DocumentsReceived:
        return ev.DocumentsReceived(handover_id=h.id, from_tenant=h.from_tenant, to_tenant=h.to_tenant,
                                    received_by=received_by, application_id=h.application_id,
                                    request_id=h.request_id)

    def proxy_completed(self, row: ProxyRow, progress: Progress) -> ev.ProxyCompleted:
        return ev.ProxyCompleted(request_id=row.id, tenant=row.tenant, application_id=progress.application_id,
                                 case_number=progress.case_number)
