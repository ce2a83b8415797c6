"""Translation between the intake's proto messages and its commands, aggregates and views."""

from __future__ import annotations

from sanji.intake.v1 import intake_pb2 as pb

from services.intake.domain import STATUS_LABELS, Applicant, Application, Status, SubmittedMaterial, iso
from services.intake.handlers import ApplicationView, SubmitCommand
from shared.errors import InvalidArgument

STATUS = {Status.RECEIVED: pb.APPLICATION_STATUS_RECEIVED, Status.CORRECTION: pb.APPLICATION_STATUS_CORRECTION,
          Status.ACCEPTED: pb.APPLICATION_STATUS_ACCEPTED, Status.REJECTED: pb.APPLICATION_STATUS_REJECTED,
          Status.TERMINATED: pb.APPLICATION_STATUS_TERMINATED, Status.COMPLETED: pb.APPLICATION_STATUS_COMPLETED,
          Status.PICKED_UP: pb.APPLICATION_STATUS_PICKED_UP}
STATUS_FROM_PB = {v: k for k, v in STATUS.items()}


def applicant_from_pb(a: pb.Applicant) -> Applicant:
    return Applicant(kind=a.kind.strip(), name=a.name.strip(), id_type=a.id_type.strip(),
                     id_number=a.id_number.strip().upper(), phone=a.phone.strip(), address=a.address.strip(),
                     organisation=a.organisation.strip(), dishonest=a.dishonest)


def applicant_to_pb(a: Applicant) -> pb.Applicant:
    return pb.Applicant(kind=a.kind, name=a.name, id_type=a.id_type, id_number=a.id_number, phone=a.phone,
                        address=a.address, organisation=a.organisation, dishonest=a.dishonest)


def materials_from_pb(materials) -> list[SubmittedMaterial]:
    """Listing a material in a request means it was handed in (the output fields are ignored)."""
    return [SubmittedMaterial(code=m.code.strip(), note=m.note.strip()) for m in materials]


def submit_command(r: pb.SubmitApplicationRequest) -> SubmitCommand:
    return SubmitCommand(idempotency_key=r.idempotency_key, item_id=r.item_id.strip(), item_version=r.item_version,
                         scenario_code=r.scenario_code.strip(), channel=int(r.channel),
                         applicant=applicant_from_pb(r.applicant), materials=materials_from_pb(r.materials),
                         form=dict(r.form))


def proxy_command(r: pb.SubmitProxyApplicationRequest) -> SubmitCommand:
    return SubmitCommand(idempotency_key=r.idempotency_key, item_id=r.item_id.strip(),
                         scenario_code=r.scenario_code.strip(), channel=pb.CHANNEL_WINDOW,
                         applicant=applicant_from_pb(r.applicant), materials=materials_from_pb(r.materials),
                         form=dict(r.form), proxy_request_id=r.proxy_request_id)


def status_filter(value: int) -> str | None:
    if value == pb.APPLICATION_STATUS_UNSPECIFIED:
        return None
    if value not in STATUS_FROM_PB:
        raise InvalidArgument("status", "未知的办件状态")
    return str(STATUS_FROM_PB[value])


def notice_to_pb(meta: dict, pdf: bytes = b"") -> pb.Notice:
    issued = meta["issued_at"]
    return pb.Notice(id=meta["id"], kind=meta["kind"], template_version=str(meta["template_version"]),
                     issued_at=issued if isinstance(issued, str) else issued.isoformat(), title=meta["title"], pdf=pdf)


def application_to_pb(view: ApplicationView) -> pb.Application:
    a: Application = view.app
    out = pb.Application(
        id=a.id, tenant=a.tenant, item_id=a.item.id, item_version=a.item.version, item_name=a.item.name,
        scenario_code=a.scenario_code, channel=a.channel, applicant=applicant_to_pb(a.applicant),
        materials=[pb.MaterialSubmission(code=s.code, supplied=s.supplied, note=s.note, revision=s.revision,
                                         supplied_at=s.supplied_at, supplied_via=s.supplied_via)
                   for s in a.materials.values()],
        status=STATUS[a.status], case_number=a.case_number, received_at=a.received_at.isoformat(),
        decision_due=iso(a.decision_due), accepted_at=iso(a.accepted_at), accepted_on=iso(a.accepted_on),
        deemed_accepted=a.deemed, waived=[pb.WaivedMaterial(material_code=p.material_code,
                                                            promised_by=p.promised_by.isoformat())
                                          for p in a.open_promises()],
        proxy_tenant=a.proxy_tenant, proxy_request_id=a.proxy_request_id, case_kind=a.item.case_kind,
        idempotency_key=a.idempotency_key, form=a.form, picked_up_at=iso(a.picked_up_at),
        handling_unit_name=a.handling_unit_name)
    if not view.receipt_only:
        out.open_corrections.extend(pb.CorrectionItem(material_code=c.material_code, problem=c.problem)
                                    for c in a.open_corrections())
        out.notices.extend(notice_to_pb(n) for n in view.notices)
        out.history.extend(pb.Event(at=h.at, what=h.what, by=h.by, detail=h.detail) for h in a.history)
    return out


def progress_to_pb(a: Application) -> pb.Progress:
    """Step names and dates only: no names, no materials."""
    return pb.Progress(case_number=a.case_number, item_name=a.item.name, step=STATUS_LABELS[a.status],
                       steps=[pb.Event(at=day, what=step) for day, step in a.public_steps()])
