"""Agency use cases. Each takes a command, runs it in one unit of work, records its events.

Calls to other services (catalogue, intake) happen outside any open transaction: nothing is held
locked while another process works, and a failed call leaves nothing written. They go through the
adapters of clients.py, which take and give domain values; the events a use case records are built
by `events_out` (translate.EventsOut); dates and times come from the platform's `Clock`, so a drill
that pins the date pins it here too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.agency import domain
from services.agency.clients import CatalogueClient, IntakeClient, ProxySubmission
from services.agency.commands import RecordProgress, RequestProxy
from services.agency.domain import TERMINAL, HandOverItem, Material, Progress, Status, check_form, check_text
from services.agency.repository import AgencyRepository, HandOverRow, ProxyRow
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.tenancy import DivisionCode, Principal, Role, can_read
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.agency")

# who holds and passes on originals (hand-overs): the proxy point, and the windows of the units above it
STAFF = (Role.AGENT, Role.TENANT_ADMIN, Role.WINDOW_CLERK)
# who reads proxy requests — residents' ID numbers, phones and addresses: the proxy point's agents and its
# admin, and supervisors of a unit above for their subtree (can_read); not every staff member of the unit
PROXY_READERS = (Role.AGENT, Role.TENANT_ADMIN, Role.SUPERVISOR)
# who reads the custody of originals: those who hold them, and supervisors
CUSTODY_READERS = (*STAFF, Role.SUPERVISOR)
NOT_FOUND = "代办申请不存在或无权查看"
HANDOVER_NOT_FOUND = "移交记录不存在或无权查看"


def _on_path(tenant: DivisionCode, h: HandOverRow) -> bool:
    """The unit is one of the custody path's: from the proxy point up to the handling unit."""
    return h.origin_tenant.startswith(str(tenant)) and str(tenant).startswith(h.handling_tenant)


def _may_see_handover(p: Principal, h: HandOverRow) -> bool:
    """The application's own wall beside RLS: the giver, the receiver, the units on the path, and
    supervisors of an ancestor."""
    return (str(p.tenant) in (h.from_tenant, h.to_tenant) or _on_path(p.tenant, h)
            or can_read(p, DivisionCode(h.from_tenant)))


def _fingerprinted(resident: domain.Resident) -> dict:
    """The resident as a request's fingerprint holds it (a resident's as before enterprises were taken too)."""
    d = asdict(resident)
    if d.get("kind") == domain.NATURAL_PERSON:
        del d["kind"]
    return d


class AgencyHandlers:
    """`events_out` builds the messages of the events the use cases record (translate.EventsOut, given by the
    composition root): a use case names the event and gives domain values, and never sees the message."""

    def __init__(self, db: Database, catalogue: CatalogueClient, intake: IntakeClient, clock: Clock,
                 events_out: Any):
        self.db = db
        self.catalogue = catalogue
        self.intake = intake
        self.clock = clock
        self.events_out = events_out

    # -- proxy requests ----------------------------------------------------------------------------
    def request_proxy(self, p: Principal, cmd: RequestProxy) -> ProxyRow:
        """A proxy point records a resident's request (代办登记) — or the county a key project's."""
        p.require(Role.AGENT, Role.TENANT_ADMIN)
        project = domain.check_proxy_point(p.tenant, cmd.key_project, cmd.project_name)
        if cmd.key_project:
            p.require(Role.AGENT)  # the named agent of a key project is the county agent who takes it on
        now = self.clock.now()
        today = now.date()
        resident = domain.check_resident(cmd.resident, today)
        group = domain.parse_special_group(cmd.special_group)
        domain.check_group_of(resident, group)
        a = cmd.authorisation
        auth = domain.check_authorisation(a.signed_on, a.scope, a.document_ref, a.valid_until, today)
        key = domain.check_idempotency_key(cmd.idempotency_key)
        item_id = uuid_field(cmd.item_id, "item_id", "事项标识")
        fingerprint = hashlib.sha256(json.dumps(
            [_fingerprinted(resident), str(group), cmd.door_to_door, item_id, cmd.scenario_code.strip(), asdict(auth),
             cmd.key_project, project], default=str, ensure_ascii=False).encode()).hexdigest()

        existing = self._existing(p, key, fingerprint)
        if existing is not None:
            return existing
        item = self.catalogue.resolve(item_id)  # with the caller's token: the caller's own list
        domain.check_forwarding(p.tenant, DivisionCode.parse(item.handling_tenant, "item_id"), item.proxy)
        scenario = domain.check_scenario(cmd.scenario_code, item.scenarios)

        request_id = str(uuid.uuid4())
        agent, agent_name = (p.username, p.display_name) if cmd.key_project else ("", "")
        status = Status.ASSIGNED if cmd.key_project else Status.REQUESTED
        tenant = str(p.tenant)
        try:
            with self.db.unit_of_work(p) as uow:
                repo = AgencyRepository(uow)
                repo.add(id=request_id, tenant=tenant, idempotency_key=key, fingerprint=fingerprint, resident=resident,
                         special_group=group, door_to_door=cmd.door_to_door, key_project=cmd.key_project,
                         project_name=project, item_id=item.item_id, item_version=item.version, item_name=item.name,
                         scenario_code=scenario, material_names=item.scenarios.get(scenario, {}),
                         handling_tenant=item.handling_tenant, handling_unit_name=item.handling_unit_name,
                         authorisation=auth, agent=agent, agent_name=agent_name, status=status, now=now,
                         created_by=p.username)
                repo.add_note(tenant, request_id, "requested", now, "requested", domain.requested_text(
                    item_name=item.name, handling_unit=item.handling_unit_name, door_to_door=cmd.door_to_door,
                    key_project=cmd.key_project, project_name=project, agent_name=agent_name, group=group))
                row = repo.read(request_id)
                uow.emit(self.events_out.proxy_requested(row), correlation_id=request_id)
                if cmd.key_project:
                    uow.emit(self.events_out.agent_assigned(row), correlation_id=request_id)
                uow.commit()
        except IntegrityError:
            existing = self._existing(p, key, fingerprint)  # the same key committed concurrently
            if existing is None:
                raise
            return existing
        return row

    def _existing(self, p: Principal, key: str, fingerprint: str) -> ProxyRow | None:
        with self.db.unit_of_work(p) as uow:
            row = AgencyRepository(uow).find_by_key(str(p.tenant), key)
        if row is not None and row.fingerprint != fingerprint:
            raise AlreadyExists("该幂等键已用于另一份内容不同的代办申请", field="idempotency_key")
        return row

    def _load_own(self, repo: AgencyRepository, p: Principal, request_id: str) -> ProxyRow:
        """The caller's own request, locked for a change; NotFound if it cannot see it at all."""
        request_id = uuid_field(request_id, "request_id", "代办申请标识")
        if repo.lock(request_id):
            row = repo.read(request_id)
            if row is not None and row.tenant == str(p.tenant):
                return row
        row = repo.read(request_id)
        if row is None or not can_read(p, DivisionCode(row.tenant)):
            raise NotFound(NOT_FOUND)
        raise PermissionDenied("只能办理本单位的代办申请")

    @staticmethod
    def _check_acting_agent(p: Principal, row: ProxyRow, what: str) -> None:
        if p.has(Role.TENANT_ADMIN):
            return
        if not p.has(Role.AGENT) or row.agent != p.username:
            raise PermissionDenied(f"只有指派的代办员或单位管理员可以{what}")

    def assign_agent(self, p: Principal, request_id: str, agent: str, agent_name: str) -> ProxyRow:
        """Assign the agent (指派代办员): the unit's admin assigns anyone, an agent only themself."""
        p.require(Role.AGENT, Role.TENANT_ADMIN)
        agent = check_text(agent, "agent", "代办员账号", max_len=100) or (p.username if p.has(Role.AGENT) else "")
        if not agent:
            raise InvalidArgument("agent", "请填写代办员账号")
        if not p.has(Role.TENANT_ADMIN) and agent != p.username:
            raise PermissionDenied("代办员只能指派自己；指派其他代办员须由单位管理员操作")
        name = check_text(agent_name, "agent_name", "代办员姓名", max_len=domain.MAX_NAME)
        name = name or (p.display_name if agent == p.username else agent)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            row = self._load_own(repo, p, request_id)
            if row.status in TERMINAL:
                raise FailedPrecondition(f"该代办申请已{row.status.label}，不能再指派代办员")
            if (row.agent, row.agent_name) == (agent, name):
                return row
            changes: dict = {"agent": agent, "agent_name": name}
            if row.status == Status.REQUESTED:
                changes |= {"status": Status.ASSIGNED, "status_at": now}
            repo.update(row.id, now, **changes)
            repo.add_note(row.tenant, row.id, f"assigned:{agent}@{now.isoformat()}", now, "assigned",
                          domain.assigned_text(name))
            row = repo.read(row.id)
            uow.emit(self.events_out.agent_assigned(row), correlation_id=row.id)
            uow.commit()
        return row

    def schedule_visit(self, p: Principal, request_id: str, scheduled_for: str, address: str,
                       purpose: str) -> ProxyRow:
        """Schedule a door-to-door visit (预约上门) for a special-group resident or a key project."""
        p.require(Role.AGENT, Role.TENANT_ADMIN)
        now = self.clock.now()
        when = domain.check_visit_time(scheduled_for, now)
        address = check_text(address, "address", "上门地址", max_len=200)
        purpose = check_text(purpose, "purpose", "上门事由", max_len=200) or "上门收取材料、核验原件"
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            row = self._load_own(repo, p, request_id)
            domain.check_may_visit(row.status, row.door_to_door, row.agent)
            self._check_acting_agent(p, row, "预约上门")
            address = address or row.resident.address
            if not address:
                raise InvalidArgument("address", "请填写上门地址（登记时未留住址）")
            visit_id = str(uuid.uuid4())
            repo.add_visit(id=visit_id, tenant=row.tenant, request_id=row.id, scheduled_for=when, address=address,
                           purpose=purpose, scheduled_by=p.username, now=now)
            repo.update(row.id, now)
            repo.add_note(row.tenant, row.id, f"visit:{visit_id}:scheduled", now, "visit_scheduled",
                          domain.visit_scheduled_text(when, address, purpose))
            row = repo.read(row.id)
            uow.commit()
        return row

    def record_visit(self, p: Principal, request_id: str, visit_id: str, outcome: str,
                     materials: Sequence[Material]) -> ProxyRow:
        """Record a visit: what happened and which materials were collected (上门服务记录)."""
        p.require(Role.AGENT, Role.TENANT_ADMIN)
        visit_id = uuid_field(visit_id, "visit_id", "上门预约标识")
        outcome = check_text(outcome, "outcome", "上门服务情况", required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            row = self._load_own(repo, p, request_id)
            self._check_acting_agent(p, row, "记录上门服务")
            visit = next((v for v in row.visits if v.id == visit_id), None)
            if visit is None:
                raise NotFound("该代办申请没有这次上门预约", field="visit_id")
            if visit.done_at is not None:
                raise FailedPrecondition("这次上门服务已经记录过了", field="visit_id")
            if row.status in TERMINAL:
                raise FailedPrecondition(f"该代办申请已{row.status.label}")
            collected = [self._collected(row, m, now)
                         for m in domain.check_materials(materials, row.material_names, "materials")]
            repo.record_visit(visit_id, done_at=now, outcome=outcome, done_by=p.username,
                              done_by_name=p.display_name, materials=collected)
            repo.update(row.id, now, materials=domain.merge_materials(row.materials, collected))
            repo.add_note(row.tenant, row.id, f"visit:{visit_id}:done", now, "visit_done", domain.visit_done_text(
                outcome, [row.material_names.get(m.code, m.code) for m in collected]))
            row = repo.read(row.id)
            uow.commit()
        return row

    @staticmethod
    def _collected(row: ProxyRow, m: Material, now: dt.datetime) -> Material:
        via = f"agency:{row.tenant}" if row.key_project else f"village:{row.tenant}"
        return replace(m, supplied=True, supplied_at=now.isoformat(), supplied_via=via)

    def submit_upward(self, p: Principal, request_id: str, materials: Sequence[Material],
                      form: Mapping[str, str]) -> ProxyRow:
        """The assigned agent submits the application to the handling unit on the resident's behalf
        (代办提交). The proxy request id is the idempotency key at intake: a retry never makes a
        second application."""
        p.require(Role.AGENT)
        form = check_form(form)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            row = self._load_own(repo, p, request_id)
            if row.application_id:
                return row  # already submitted: the same result, never a second application
            if not row.agent:
                raise FailedPrecondition("请先指派代办员", field="request_id")
            if row.agent != p.username:
                raise PermissionDenied("只有指派的代办员可以代为提交申请")
            if row.status in TERMINAL:
                raise FailedPrecondition(f"该代办申请已{row.status.label}")
            row.authorisation.check_still_valid(now.date())
            extra = [self._collected(row, m, now)
                     for m in domain.check_materials(materials, row.material_names, "materials")]
            held = domain.merge_materials(row.materials, extra)
            if row.submission_started_at is None:
                # from now on intake's progress may name this request's application (on_progress), and only
                # then: committed before the call, so intake's first event always finds it
                repo.update(row.id, now, submission_started_at=now)
                uow.commit()
        app = self.intake.submit_proxy(ProxySubmission(
            idempotency_key=f"agency-proxy:{row.id}", proxy_request_id=row.id, item_id=row.item_id,
            scenario_code=row.scenario_code, resident=row.resident, materials=held, form=form))

        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            row = self._load_own(repo, p, row.id)
            progress = domain.advance(_progress(row), "submitted", now, application_id=app.application_id,
                                      handling_tenant=app.handling_tenant)
            unit_name = row.handling_unit_name if progress.handling_tenant == row.handling_tenant \
                else progress.handling_tenant
            repo.update(row.id, now, status=progress.status, status_at=progress.status_at,
                        application_id=progress.application_id, handling_tenant=progress.handling_tenant,
                        handling_unit_name=unit_name, case_number=progress.case_number, materials=held,
                        submitted_at=row.submitted_at or now)
            repo.add_note(row.tenant, row.id, domain.note_key("submitted", now), now, "submitted",
                          domain.progress_text("submitted", item_name=row.item_name, handling_unit=unit_name,
                                               agent_name=row.agent_name))
            row = repo.read(row.id)
            uow.commit()
        return row

    # -- reading -------------------------------------------------------------------------------
    def get(self, p: Principal, request_id: str) -> ProxyRow:
        p.require(*PROXY_READERS)
        request_id = uuid_field(request_id, "request_id", "代办申请标识")
        with self.db.unit_of_work(p) as uow:
            row = AgencyRepository(uow).read(request_id)
        if row is None or not can_read(p, DivisionCode(row.tenant)):
            raise NotFound(NOT_FOUND)
        return row

    def list(self, p: Principal, status: str, limit: int, offset: int) -> tuple[list[ProxyRow], int]:
        p.require(*PROXY_READERS)
        status = (status or "").strip()
        if status and status not in {s.value for s in Status}:
            raise InvalidArgument("status", f"不认识的状态：{status}")
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            rows, total = AgencyRepository(uow).list(status, limit, offset)
        return [r for r in rows if can_read(p, DivisionCode(r.tenant))], total

    # -- custody of originals ------------------------------------------------------------------
    def hand_over(self, p: Principal, request_id: str, application_id: str, to_tenant: str,
                  items: Sequence[HandOverItem]) -> HandOverRow:
        """Hand the originals to the next unit up (原件移交): a record owned by the giver, pending until
        the receiver confirms."""
        p.require(*STAFF)
        if not (to_tenant or "").strip():
            raise InvalidArgument("to_tenant", "请选择接收单位")
        to = DivisionCode.parse(to_tenant, "to_tenant")
        application_id = check_text(application_id, "application_id", "办件标识", max_len=100)
        if request_id:
            request_id = uuid_field(request_id, "request_id", "代办申请标识")
        elif not application_id:
            raise InvalidArgument("request_id", "请指明代办申请或办件")
        now = self.clock.now()
        tenant = str(p.tenant)
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            own = self._own_request(repo, p, request_id, application_id)
            if own is not None:  # the first hop: from the proxy point itself
                if not own.application_id:
                    raise FailedPrecondition("请先将申请提交至受理单位，再移交原件", field="request_id")
                if application_id and application_id != own.application_id:
                    raise InvalidArgument("application_id", "办件与代办申请不一致")
                checked = domain.check_handover_items(items)
                origin, handling, app_id, case, previous, req = (own.tenant, own.handling_tenant, own.application_id,
                                                                 own.case_number, None, own.id)
            else:  # an onward hop: the originals this unit received and confirmed
                received = [h for h in repo.chain(application_id=application_id, request_id=request_id)
                            if h.to_tenant == tenant]
                if not received:
                    raise NotFound("本单位没有接收过该办件的原件，或无权查看")
                last = received[-1]
                if not last.received:
                    raise FailedPrecondition("请先确认接收下级移交的原件，再继续向上移交", field="request_id")
                checked = domain.check_handover_items(items) if items else last.items
                origin, handling, app_id, case, previous, req = (last.origin_tenant, last.handling_tenant,
                                                                 last.application_id, last.case_number, last.id,
                                                                 last.request_id)
            domain.check_handover_path(p.tenant, to, DivisionCode(handling))
            handover_id = str(uuid.uuid4())
            repo.add_handover(id=handover_id, from_tenant=tenant, to_tenant=str(to), origin_tenant=origin,
                              handling_tenant=handling, request_id=req, application_id=app_id, case_number=case,
                              previous_id=previous, items=checked, handed_by=p.username,
                              handed_by_name=p.display_name, now=now)
            row = repo.handover(handover_id)
            uow.emit(self.events_out.documents_handed_over(row), correlation_id=case or app_id)
            uow.commit()
        return row

    @staticmethod
    def _own_request(repo: AgencyRepository, p: Principal, request_id: str, application_id: str) -> ProxyRow | None:
        """The caller's own proxy request named by id, or by its application."""
        row = repo.read(request_id) if request_id else repo.find_by_application(str(p.tenant), application_id)
        return row if row is not None and row.tenant == str(p.tenant) else None

    def confirm_receipt(self, p: Principal, handover_id: str, note: str) -> HandOverRow:
        """The receiving unit confirms it holds the originals (签收). Only the addressee may."""
        p.require(*STAFF)
        handover_id = uuid_field(handover_id, "handover_id", "移交记录标识")
        note = check_text(note, "note", "签收备注")
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            h = repo.handover(handover_id)
            if h is None or not _may_see_handover(p, h):
                raise NotFound(HANDOVER_NOT_FOUND)
            if h.from_tenant == str(p.tenant):
                raise PermissionDenied("移交方不能自行确认接收，须由接收单位确认")
            if h.to_tenant != str(p.tenant):
                raise PermissionDenied("只有接收单位可以确认接收")
            if h.received:
                return h
            if repo.add_receipt(h, received_by=p.username, received_by_name=p.display_name, note=note, now=now):
                uow.emit(self.events_out.documents_received(h, received_by=p.username),
                         correlation_id=h.case_number or h.application_id)
            h = repo.handover(handover_id)
            uow.commit()
        return h

    def list_handovers(self, p: Principal, direction: str, pending_only: bool) -> list[HandOverRow]:
        p.require(*CUSTODY_READERS)
        direction = (direction or "").strip()
        if direction not in ("incoming", "outgoing", ""):
            raise InvalidArgument("direction", "方向应为 incoming（移交给本单位）或 outgoing（本单位移出）")
        with self.db.unit_of_work(p) as uow:
            return AgencyRepository(uow).handovers(str(p.tenant), direction, pending_only)

    def custody_chain(self, p: Principal, application_id: str, request_id: str) -> list[HandOverRow]:
        """Every hop of a case's originals: who handed over, who received, what, when (保管链)."""
        p.require(*CUSTODY_READERS)
        application_id = check_text(application_id, "application_id", "办件标识", max_len=100)
        if request_id:
            request_id = uuid_field(request_id, "request_id", "代办申请标识")
        elif not application_id:
            raise InvalidArgument("application_id", "请提供办件标识或代办申请标识")
        with self.db.unit_of_work(p) as uow:
            repo = AgencyRepository(uow)
            rows = [h for h in repo.chain(application_id=application_id, request_id=request_id)
                    if _may_see_handover(p, h)]
            if not rows:  # no hop yet: an empty chain for the request's own unit, nothing for others
                own = repo.read(request_id) if request_id else repo.find_by_application(str(p.tenant), application_id)
                if own is None or not can_read(p, DivisionCode(own.tenant)):
                    raise NotFound("未找到该办件的原件交接记录，或无权查看")
        return rows

    # -- progress back to the resident (event consumer) ------------------------------------------
    def on_progress(self, cmd: RecordProgress, env: Envelope, uow: UnitOfWork) -> None:
        """intake.events / proxy_application_progressed, envelope tenant = the proxy point. Runs in the
        consumer's unit of work (bound to that tenant, inbox row in the same transaction).

        Progress is taken only for a request this unit issued and the agency submitted, and only about its
        own application. Anything else — an id never issued here (made up, or another unit's, which RLS
        hides), a request never submitted, another application — changes nothing and is acknowledged with
        a warning, not parked: replaying it could never help, and parking it would fill the dead-letter
        queue that holds the events that can be helped."""
        if cmd.proxy_tenant and cmd.proxy_tenant != env.tenant:
            raise PoisonMessage(f"proxy_tenant {cmd.proxy_tenant} is not the envelope tenant {env.tenant}")
        at = cmd.at or self._event_time(env)
        repo = AgencyRepository(uow)
        request_id = domain.issued_id(cmd.request_id)
        if request_id is None or not repo.lock(request_id):
            log.warning("progress event %s names proxy request %r, which %s never issued: ignored", env.event_id,
                        cmd.request_id[:64], env.tenant)
            return
        row = repo.read(request_id)
        if row.submission_started_at is None:
            log.warning("progress event %s names proxy request %s, which the agency never submitted: ignored",
                        env.event_id, request_id)
            return
        if cmd.application_id and row.application_id and cmd.application_id != row.application_id:
            log.warning("progress event %s names application %r, not proxy request %s's (%s): ignored",
                        env.event_id, cmd.application_id[:64], request_id, row.application_id)
            return
        progress = domain.advance(_progress(row), cmd.step, at, application_id=cmd.application_id,
                                  handling_tenant=cmd.handling_tenant, case_number=cmd.case_number)
        if progress != _progress(row):
            repo.update(row.id, self.clock.now(), status=progress.status, status_at=progress.status_at,
                        application_id=progress.application_id, handling_tenant=progress.handling_tenant,
                        case_number=progress.case_number)
        names = [row.material_names.get(c, c) for c in cmd.material_codes]
        repo.add_note(row.tenant, row.id, domain.note_key(cmd.step, at), at, cmd.step or "progress",
                      domain.progress_text(cmd.step, item_name=row.item_name,
                                           case_number=progress.case_number or cmd.case_number, detail=cmd.detail,
                                           materials=names, handling_unit=row.handling_unit_name,
                                           agent_name=row.agent_name, query_code=cmd.query_code))
        if progress.status == Status.DELIVERED and row.status != Status.DELIVERED:
            uow.emit(self.events_out.proxy_completed(row, progress), correlation_id=progress.case_number or row.id)
        log.info("proxy request %s: %s → %s (event %s)", row.id, cmd.step, progress.status, env.event_id)

    def _event_time(self, env: Envelope) -> dt.datetime:
        """An event that does not say when its step happened: when it was published, else now."""
        if env.timestamp:
            return dt.datetime.fromtimestamp(env.timestamp, dt.UTC)
        return self.clock.now()


def _progress(row: ProxyRow) -> Progress:
    return Progress(status=row.status, status_at=row.status_at, application_id=row.application_id,
                    handling_tenant=row.handling_tenant, case_number=row.case_number)
