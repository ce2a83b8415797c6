"""Intake use cases. Each takes a command, runs it in one unit of work, records its events.

Walls: every use case runs in a transaction bound to the caller's tenant (RLS), with one documented
exception — the village proxy hand-off (`submit_proxy`), which writes the application into the
*handling* unit's inbox, and which only the agency service may call (for an agent of the proxy point,
after recording the resident's signed authorisation): service identity, shared/grpc/server.py.
Decisions bind the caller's tenant without the subtree, so a supervisor (who reads the subtree) can
never change a descendant's row, and a sibling never sees it at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.intake import domain
from services.intake.applicants import Applicant, check_full_id, prefill, validate_applicant
from services.intake.casenumbers import CASE_NUMBER_MAX_DEFAULT, check_case_number, format_case_number
from services.intake.catalogue import CatalogueClient, Resolution
from services.intake.commands import (
    RecordCompletion,
    RecordDecision,
    RecordDueDates,
    RecordResumption,
    RecordSuspension,
    SubmitCommand,
)
from services.intake.domain import CHANNELS, Application, Status, SubmittedMaterial
from services.intake.items import check_scenario
from services.intake.notices import NoticeTemplate, build_notice, render_notice_pdf
from services.intake.querycodes import QUERY_CODE_LENGTH_DEFAULT, check_query_code, new_query_code
from services.intake.repository import (
    ADDED,
    LIST_TOTAL_CAP,
    ApplicationListing,
    ApplicationView,
    IntakeRepository,
    ProxyRequestTaken,
    count_statement,
    list_statement,
    listing_page,
)
from shared.calendar import CalendarYear
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.provinces import ProvinceBook
from shared.tenancy import DivisionCode, Principal, Role, UnitKind, can_read
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.intake")

# who reads the unit's applications: the window, the back office, the cashier, the supervisor, the admin, and the
# window's chief representative and the unit's head, who confirm or overrule a refusal the window proposes
# (无权否决, seed 003 §20) and so must open the list and the application it is on
READ_ROLES = (Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE, Role.HEAD, Role.SUPERVISOR, Role.REVIEWER, Role.DECIDER,
              Role.CASHIER, Role.TENANT_ADMIN)
NOT_FOUND = "办件不存在或无权查看"
# the one answer of the public lookup to a wrong code, a wrong ID number and an unknown case alike
LOOKUP_NOT_FOUND = "未找到该办件，请核对办件编号和查询码（或申请人证件号码）"
# the service that records a proxy request with the resident's authorisation: the only caller of submit_proxy
PROXY_CALLER = "agency"
ONLINE_CALLER = "docking"      # online applications reach intake only through the docking gateway
TEMPLATE_TTL = 300.0


@dataclass
class SweepResult:
    deemed: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class Changes:
    """What one use case adds besides the application itself: the notices it issues."""

    notices: list[dict] = field(default_factory=list)


class IntakeHandlers:
    """`events_out` builds the messages of the events the use cases record (translate.EventsOut, given by the
    composition root): a use case names the event and gives domain values, and never sees the message."""

    def __init__(self, db: Database, catalogue: CatalogueClient, clock: Clock, events_out: Any, *,
                 public_base_url: str = "http://127.0.0.1:8000", case_number_max: int = CASE_NUMBER_MAX_DEFAULT,
                 calendars: CalendarCache | None = None, query_code_length: int = QUERY_CODE_LENGTH_DEFAULT,
                 provinces: ProvinceBook | None = None):
        self.db = db
        self.catalogue = catalogue
        self.clock = clock
        self.events_out = events_out
        self.public_base_url = public_base_url.rstrip("/")
        self.case_number_max = case_number_max
        self.query_code_length = query_code_length
        new_query_code(query_code_length)        # a length no code can have stops the service at start-up
        # the province records (issue 23): a province counts on the published years of the region its record
        # names, in intake as in approval
        self.provinces = provinces
        self.calendars = calendars or CalendarCache(CalendarStore(
            db.engine, db.schema, province_region=provinces.calendar_region if provinces is not None else None))
        self._template_cache: tuple[float, dict[str, NoticeTemplate]] | None = None
        self._taken = threading.local()      # the case number taken by this thread's open acceptance

    # -- receipt (收件) ----------------------------------------------------------------------------
    def submit(self, p: Principal, cmd: SubmitCommand) -> ApplicationView:
        """A window (or online / post) submission at the clerk's own unit."""
        p.require(Role.WINDOW_CLERK)
        key = domain.check_submission(cmd.idempotency_key, cmd.channel, cmd.form)
        uuid_field(cmd.item_id, "item_id", "事项标识")
        if cmd.item_version < 0:
            raise InvalidArgument("item_version", "版本号不能为负数")
        me = str(p.tenant)
        id_number = cmd.applicant.id_number.strip().upper()
        with self.db.unit_of_work(p, subtree=False) as uow:
            existing, profile = IntakeRepository(uow).receipt(me, me, key, id_number or None)
            if existing is not None:      # the same key: the same application, whatever else was sent
                return existing
            # one transaction around the catalogue call: nothing is locked while it runs
            res = self.catalogue.resolve(cmd.item_id, cmd.item_version, tenant=me)
            if res.handling_tenant == me:
                return self._receive(uow, res, cmd, key, origin=me, via=CHANNELS[cmd.channel], by=p.username,
                                     checked=True, profile=profile)
            if not res.collect:
                if res.proxy:
                    raise FailedPrecondition(
                        f"该事项由{res.handling_unit_name}受理；本单位为代办点，请通过帮办代办提交", field="item_id")
                raise FailedPrecondition(f"该事项由{res.handling_unit_name}受理，"
                                         "不在本单位窗口的受理清单中（清单之外无许可）", field="item_id")
        # 代收 (seed 000 §10, seed 003 §4): this window takes it in on the deciding unit's behalf. The application
        # is that unit's row from the start — written in a transaction bound to it, as a proxy hand-off is (the
        # catalogue's 代收 listing for this very window is what authorises it) — and this window reads it back
        # through its collect_tenant (intake migration 0005) to decide on it for the deciding unit, follow it and
        # hand out the result. Nothing of the deciding unit's records prefills it.
        with self.db.unit_of_work(tenant=res.handling_tenant) as uow:
            return self._receive(uow, res, cmd, key, origin=me, via=CHANNELS[cmd.channel], by=p.username,
                                 collect_tenant=me)

    def submit_proxy(self, p: Principal, cmd: SubmitCommand) -> ApplicationView:
        """A village proxy point (or the county's key-project agent) submits for a resident, upward to
        the unit that handles the item (帮办代办) — through the agency service, which recorded the request
        and the resident's authorisation (`p.via`: the service whose own credential carried the call; the
        server lets no one else call, and this says so again where the rule is). The proxy request id
        names one application only: an id that already names another is refused here, at the call."""
        if p.via != PROXY_CALLER:
            raise PermissionDenied("代办提交须经帮办代办服务办理（核验代办登记和居民委托书后提交）")
        p.require(Role.AGENT)
        kind = p.tenant.kind
        # 帮办代办 at every level (issue 21 item 1): a village point, a township centre or the county's team
        if kind not in (UnitKind.VILLAGE, UnitKind.TOWNSHIP, UnitKind.COUNTY):
            raise PermissionDenied("只有村（社区）代办点、乡镇（街道）便民服务中心或县级帮办代办队伍可以代办提交")
        key = domain.check_submission(cmd.idempotency_key, 1, cmd.form)
        if not cmd.proxy_request_id.strip():
            raise InvalidArgument("proxy_request_id", "请提供代办申请编号")
        request_id = uuid_field(cmd.proxy_request_id.strip(), "proxy_request_id", "代办申请编号")
        uuid_field(cmd.item_id, "item_id", "事项标识")
        me = str(p.tenant)
        res = self.catalogue.resolve(cmd.item_id, 0, tenant=me)
        if not res.proxy and res.handling_tenant != me:
            raise FailedPrecondition("该事项既不由本单位受理，也不在本单位的代办清单中，不能代办提交", field="item_id")
        handler = DivisionCode.parse(res.handling_tenant, "item_id")
        if not handler.contains(p.tenant):
            raise FailedPrecondition("受理单位不是本代办点的上级单位，不能代办提交", field="item_id")
        via = f"village:{me}" if kind == UnitKind.VILLAGE else f"agency:{me}"      # a township's or the county's
        # The hand-off (DESIGN §3): the application is owned by the handling unit, so it is written in
        # a transaction bound to that unit's tenant — into its window's inbox. What authorises it is
        # checked above: the agent role, a village point (or the county itself), and the catalogue's
        # proxy listing for this very caller. The village keeps no row of it and reads none: it hears
        # of progress through `proxy_application_progressed` events addressed to its own tenant. Nor is
        # the form prefilled from the receiving unit's records: the receipt would show them to the village.
        try:
            with self.db.unit_of_work(tenant=res.handling_tenant) as uow:
                view = self._receive(uow, res, cmd, key, origin=me, via=via, by=p.username, proxy_tenant=me,
                                     proxy_request_id=request_id)
        except ProxyRequestTaken:
            # the same submission made concurrently went in first (the same key: its application), or the
            # request already names another application, here or at another unit: never a second one
            with self.db.unit_of_work(tenant=res.handling_tenant) as uow:
                view = IntakeRepository(uow).by_key(res.handling_tenant, me, key)
            if view is None or view.app.proxy_request_id != request_id:
                log.warning("proxy request %s of %s already names another application; refused", request_id, me)
                raise AlreadyExists("该代办申请已提交过办件，不能再提交另一份申请", field="proxy_request_id") from None
        view.receipt_only = True
        view.notices = []
        return view

    def submit_online(self, p: Principal, handling_unit: str, cmd: SubmitCommand) -> ApplicationView:
        """An application made on the provincial portal (网上申请), forwarded by the docking gateway (`p.via`: its
        own credential, the only one this call carries; it checked the province's signature), addressed to a unit:
        it waits at the window of the unit that decides on it there like any other application, channel PC or
        mobile — the addressed unit's own, or one it collects for (代收; the answer's tenant is the deciding one)."""
        if p.via != ONLINE_CALLER:
            raise PermissionDenied("网上申请须经省平台对接网关转入（核验省级平台签名后提交）")
        key = domain.check_submission(cmd.idempotency_key, cmd.channel, cmd.form)
        if CHANNELS[cmd.channel] not in ("pc", "mobile"):
            raise InvalidArgument("channel", "网上申请的渠道应为 2 电脑端或 3 移动端")
        unit = str(DivisionCode.parse(handling_unit, "handling_unit"))
        uuid_field(cmd.item_id, "item_id", "事项标识")
        # resolved at the addressed unit, as its own window would be: its own or delegated item is taken in there;
        # an item it takes in on a higher level's behalf (代收, 委托收件: e.g. the province's, entrusted to the
        # county's comprehensive window) is the deciding unit's row from the start, collected by the addressed
        # unit — the answer's tenant tells the docking gateway it was forwarded
        res = self.catalogue.resolve_public(cmd.item_id, unit=unit)
        if res.handling_tenant == unit:
            collect = ""
        elif res.collect:
            collect = unit
        else:
            raise FailedPrecondition(f"该事项由{res.handling_unit_name}受理，"
                                     "不在所指受理单位的清单中（清单之外无许可）", field="handling_unit")
        with self.db.unit_of_work(tenant=res.handling_tenant) as uow:
            return self._receive(uow, res, cmd, key, origin=unit, via=CHANNELS[cmd.channel], by="省一体化政务服务平台",
                                 collect_tenant=collect)

    def _receive(self, uow: UnitOfWork, res: Resolution, cmd: SubmitCommand, key: str, *, origin: str, via: str,
                 by: str, proxy_tenant: str = "", proxy_request_id: str = "", checked: bool = False,
                 profile: dict | None = None, collect_tenant: str = "") -> ApplicationView:
        """Write a received application. `checked`: the caller has already looked for its key; `profile`:
        what the platform holds on this applicant, to prefill the form with (a window submission only)."""
        repo = IntakeRepository(uow)
        tenant = res.handling_tenant
        if not checked:
            existing = repo.by_key(tenant, origin, key)
            if existing is not None:
                return existing
        now, today = self.clock.now(), self.clock.today()
        check_scenario(res.item, cmd.scenario_code)
        given = cmd.applicant
        applicant = validate_applicant(prefill(given, profile), res.item.targets, today)
        app = Application.receive(
            app_id=str(uuid.uuid4()), tenant=tenant, origin_tenant=origin, idempotency_key=key, item=res.item,
            scenario_code=cmd.scenario_code, channel=cmd.channel, applicant=applicant, materials=cmd.materials,
            via=via, by=by, now=now, calendar=self.calendars.get(tenant), unit_name=res.handling_unit_name,
            proxy_tenant=proxy_tenant, proxy_request_id=proxy_request_id, form=cmd.form,
            collect_tenant=collect_tenant)
        uow.emit(self.events_out.application_submitted(app), correlation_id=app.id)
        self._progress(uow, app, "submitted", now, f"已提交至{app.handling_unit_name}",
                       [c for c, s in app.materials.items() if s.supplied])
        # the events go in with the application, in its statement, and only if it went in
        if not repo.add(app, applicant.profile(), uow.outbox_cte(when=ADDED)):
            # the same key, concurrently: the first wins, this returns it (and writes nothing)
            existing = repo.by_key(tenant, origin, key)
            assert existing is not None
            return existing
        uow.commit()
        return ApplicationView(app)

    # -- decisions -------------------------------------------------------------------------------
    def _decide(self, p: Principal, app_id: str,
                change: Callable[[Application, IntakeRepository, UnitOfWork, Changes], None],
                roles: Sequence[Role] = (Role.WINDOW_CLERK,)) -> ApplicationView:
        p.require(*roles)
        uuid_field(app_id, "application_id", "办件标识")
        self._taken.number = ""
        try:
            owner = ""
            while True:
                # an application this window collected for a higher level (代收) is decided here on that level's
                # behalf, in a transaction bound to it: its case number, its events, its row
                with (self.db.unit_of_work(tenant=owner) if owner else self.db.unit_of_work(p, subtree=False)) as uow:
                    repo = IntakeRepository(uow)
                    view = repo.get(app_id, lock=True, tenant=owner or str(p.tenant))
                    if view is None and not owner:
                        owner = repo.owner_of_collected(app_id, str(p.tenant)) or ""
                        if owner:
                            continue
                    if view is None or (owner and view.app.collect_tenant != str(p.tenant)):
                        raise NotFound(NOT_FOUND)
                    changes = Changes()
                    change(view.app, repo, uow, changes)
                    repo.save(view.app, changes.notices, uow.outbox_cte())    # the events in the same statement
                    uow.commit()
                break
        except Exception:
            if self._taken.number:
                log.warning("case number %s was taken but application %s was not accepted; it stays unused",
                            self._taken.number, app_id)
            raise
        finally:
            self._taken.number = ""
        view.notices += [{k: v for k, v in n.items() if k != "data"} for n in changes.notices]
        return view

    def accept(self, p: Principal, app_id: str, waived: Sequence[tuple[str, str]] = (),
               note: str = "", *, government_invested: bool = False, key_construction: bool = False,
               key: str = "") -> ApplicationView:
        """受理 (with 容缺 when `waived` names waivable materials and their promised dates). `key`: the same key
        again (a retry after a lost reply) returns the acceptance already made, changing nothing."""
        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            if app.accepted_with(key):
                return
            now, today = self.clock.now(), self.clock.today()
            app.accept(waived=waived, by=p.username, now=now, today=today, calendar=self.calendars.get(app.tenant),
                       next_case_number=self._numbers(repo, app), query_code=new_query_code(self.query_code_length),
                       note=note.strip(), government_invested=government_invested,
                       key_construction=key_construction, key=key)
            self._accepted(out, uow, app, now)
        return self._decide(p, app_id, change)

    def request_correction(self, p: Principal, app_id: str, items: Sequence[tuple[str, str]]) -> ApplicationView:
        """补正: one notice listing every missing or defective material (一次性告知)."""
        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            now, today = self.clock.now(), self.clock.today()
            rnd = app.request_correction(items, by=p.username, now=now, today=today)
            self._notice(out, app, "correction", now, correction_round=rnd.number)
            codes = [i.material_code for i in rnd.items]
            uow.emit(self.events_out.correction_requested(app, codes, now), correlation_id=app.correlation_id)
            self._progress(uow, app, "correction_requested", now, f"第 {rnd.number} 次补正告知", codes)
        return self._decide(p, app_id, change)

    def supply(self, p: Principal, app_id: str, materials: Sequence[SubmittedMaterial]) -> ApplicationView:
        """补交: back to the decision after a correction, or a 容缺 promise kept."""
        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            now, today = self.clock.now(), self.clock.today()
            codes, closes = app.supply(materials, via="window", by=p.username, now=now, today=today,
                                       calendar=self.calendars.get(app.tenant))
            uow.emit(self.events_out.materials_supplied(app, codes, now, closes), correlation_id=app.correlation_id)
        return self._decide(p, app_id, change)

    def reject(self, p: Principal, app_id: str, reason: str, legal_basis: str = "") -> ApplicationView:
        """不予受理 proposed at the window: it waits for the chief representative or the head (无权否决);
        nothing reaches the applicant yet."""
        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            now, today = self.clock.now(), self.clock.today()
            app.reject(reason, legal_basis, by=p.username, now=now, today=today)
        return self._decide(p, app_id, change)

    def confirm_rejection(self, p: Principal, app_id: str, *, confirm: bool, note: str = "") -> ApplicationView:
        """The chief representative or the head confirms a proposed 不予受理 (then the notice, naming who
        confirmed it, with the reason and the applicant's remedies) or overrules it (it stays with the window)."""
        role = Role.CHIEF_REPRESENTATIVE if p.has(Role.CHIEF_REPRESENTATIVE) else Role.HEAD

        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            now, today = self.clock.now(), self.clock.today()
            if not app.confirm_rejection(confirm=confirm, by=p.username, by_name=p.display_name or p.username,
                                         by_role=role.label, note=note, now=now, today=today):
                return
            self._notice(out, app, "rejection", now)
            uow.emit(self.events_out.application_rejected(app, now), correlation_id=app.correlation_id)
            self._progress(uow, app, "rejected", now, app.rejection["reason"])
        return self._decide(p, app_id, change, roles=(Role.CHIEF_REPRESENTATIVE, Role.HEAD))

    def record_pickup(self, p: Principal, app_id: str, *, picked_up_by: str, id_number: str, channel: str,
                      what: str = "", tracking_number: str = "") -> ApplicationView:
        """出件: who collected what, when, by which channel."""
        def change(app: Application, repo: IntakeRepository, uow: UnitOfWork, out: Changes) -> None:
            now, today = self.clock.now(), self.clock.today()
            app.pick_up(picked_up_by=picked_up_by, id_number=id_number, channel=channel, what=what,
                        tracking_number=tracking_number, by=p.username, now=now, today=today)
            uow.emit(self.events_out.result_picked_up(app, now, recorded_by=p.username),
                     correlation_id=app.correlation_id)
            self._progress(uow, app, "picked_up", now, domain.PICKUP_CHANNELS[app.pickup["channel"]])
        return self._decide(p, app_id, change)

    # -- the back office reports back (approval.events, consumed in the consumer's unit of work) -----
    def apply_calendar_year(self, region: str, year: CalendarYear) -> int:
        """calendar_year_published (approval: a province's year, published once — issue 23) → intake's copy of
        the calendar, and the decision date of every application under the region that awaits one, counted
        again on it; the number of applications whose date moved. The year is written in its own transaction
        and each tenant's dates in theirs (machine work), all before the consumer records the event: a
        redelivery does it all again, to the same result."""
        if len(region) != 2 or not region.isdigit():
            raise PoisonMessage(f"calendar_year_published for region {region!r}: only a province publishes a year")
        # the provinces whose record names this region count on the year too (asked first: an unreachable
        # catalogue is retried before anything is written)
        followers = self.provinces.following(region) if self.provinces is not None else []
        self.calendars.store.publish(year, region, by=year.published_by or "approval", now=year.published_at)
        self.calendars.invalidate()
        tenants: list[str] = []
        for province in (region, *followers):
            with self.db.unit_of_work(tenant=province, subtree=True) as uow:
                tenants.extend(IntakeRepository(uow).tenants_awaiting_decision(province))
        moved = 0
        for tenant in tenants:
            calendar = self.calendars.store.load(tenant)
            with self.db.unit_of_work(tenant=tenant) as uow:
                repo = IntakeRepository(uow)
                for view in repo.awaiting_decision(tenant):
                    if view.app.reproject_decision_due(calendar) is not None:
                        repo.save(view.app)
                        moved += 1
                uow.commit()
        log.info("calendar %s/%d applied: %d decision date(s) moved in %d tenant(s)", region, year.year, moved,
                 len(tenants))
        return moved

    def on_case_decided(self, cmd: RecordDecision, env: Envelope, uow: UnitOfWork) -> None:
        """case_decided → the decision in the application's history and, for a proxied application,
        word to the village point."""
        app, repo = self._case_of(cmd.case_number, env, uow)
        if app is None:
            return
        now = cmd.at or self.clock.now()
        try:
            detail = app.record_decision(outcome=cmd.outcome, document_number=cmd.document_number,
                                         reasons=list(cmd.reasons), decider=cmd.decider, now=now)
        except InvalidArgument as exc:
            raise PoisonMessage(f"case_decided unusable: {exc}") from None
        if detail is None:
            log.info("case %s: decision already recorded or case not in progress (%s)", app.case_number, app.status)
            return
        repo.save(app)
        self._progress(uow, app, "decided", now, detail)

    def on_case_completed(self, cmd: RecordCompletion, env: Envelope, uow: UnitOfWork) -> None:
        """case_completed (办结; after fees_settled when the case has fees) → the result can be handed out."""
        app, repo = self._case_of(cmd.case_number, env, uow)
        if app is None:
            return
        now = cmd.at or self.clock.now()
        detail = app.complete(outcome=cmd.outcome, now=now)
        if detail is None:
            log.info("case %s: completion already recorded or case not in progress (%s)", app.case_number, app.status)
            return
        repo.save(app)
        self._progress(uow, app, "result_ready", now, detail)

    def on_clock_suspended(self, cmd: RecordSuspension, env: Envelope, uow: UnitOfWork) -> None:
        """clock_suspended → the applicant's record (and the village point) says why and for how long."""
        detail = (f"因{cmd.procedure or '特别程序'}暂停计时" + (f" {cmd.days} 个工作日" if cmd.days else "")
                  + (f"，自 {cmd.suspended_on} 起" if cmd.suspended_on else "")
                  + (f"，书面告知书编号 {cmd.notice_number}" if cmd.notice_number else "")
                  + (f"；原因：{cmd.reason}" if cmd.reason else ""))
        self._clock(cmd.case_number, cmd.at, env, uow, suspended=True, detail=detail)

    def on_clock_resumed(self, cmd: RecordResumption, env: Envelope, uow: UnitOfWork) -> None:
        detail = ("恢复计时" + (f"，自 {cmd.resumed_on} 起" if cmd.resumed_on else "")
                  + (f"，承诺办结日期调整为 {cmd.promised_due}" if cmd.promised_due else ""))
        self._clock(cmd.case_number, cmd.at, env, uow, suspended=False, detail=detail,
                    due=RecordDueDates(case_number=cmd.case_number, at=cmd.at, promised_due=cmd.promised_due,
                                       statutory_due=cmd.statutory_due, cause="resumed"))

    def on_due_dates(self, cmd: RecordDueDates, env: Envelope, uow: UnitOfWork) -> None:
        """deadline_extended / due_date_reprojected → approval's due dates (the latest by their own time) and an
        extension's days and reason, for the public progress page; the same in any order of delivery."""
        app, repo = self._case_of(cmd.case_number, env, uow)
        if app is None:
            return
        now = cmd.at or self.clock.now()
        changed = app.record_due_dates(at=now, promised_due=cmd.promised_due, statutory_due=cmd.statutory_due,
                                       cause=cmd.cause)
        if cmd.extension_days:
            changed = app.record_extension(at=now, days=cmd.extension_days, reason=cmd.reason,
                                           statutory_due=cmd.statutory_due, by=cmd.approved_by) or changed
        if changed:
            repo.save(app)

    def _clock(self, case_number: str, at: dt.datetime | None, env: Envelope, uow: UnitOfWork, *, suspended: bool,
               detail: str, due: RecordDueDates | None = None) -> None:
        app, repo = self._case_of(case_number, env, uow)
        if app is None:
            return
        now = at or self.clock.now()
        dated = due is not None and app.record_due_dates(at=now, promised_due=due.promised_due,
                                                         statutory_due=due.statutory_due, cause=due.cause)
        if not app.record_clock(suspended=suspended, detail=detail, now=now):
            if dated:
                repo.save(app)
            return
        repo.save(app)
        self._progress(uow, app, "suspended" if suspended else "resumed", now, detail)

    @staticmethod
    def _case_of(case_number: str, env: Envelope, uow: UnitOfWork) -> tuple[Application | None, IntakeRepository]:
        """The case the event names, in the envelope's tenant (the message's own tenant was checked against it
        when the consumer read it: `Envelope.message`)."""
        if not case_number:
            raise PoisonMessage("approval event without a case number")
        repo = IntakeRepository(uow)
        view = repo.by_case_number(env.tenant, case_number, lock=True)
        if view is None:
            # a case opened without an application here (a drill or a migrated case): nothing to tell
            log.warning("approval event %s for case %s unknown at intake", env.event_id, case_number)
            return None, repo
        return view.app, repo

    # -- the sweep: deemed acceptance and 容缺 expiry (machine work, per tenant) ------------------
    def sweep(self, today: dt.date | None = None) -> SweepResult:
        """Everything past due by `today`: found through the due-date index, acted on per tenant and
        per application, each in its own transaction bound to the owning tenant."""
        today = today or self.clock.today()
        now = self.clock.now()
        if now.date() != today:
            now = dt.datetime.combine(today, now.timetz())
        out = SweepResult()
        with self.db.unit_of_work() as uow:
            tenants = IntakeRepository(uow).tenants_with_due(today)
        for tenant in tenants:
            with self.db.unit_of_work(tenant=tenant) as uow:
                due = IntakeRepository(uow).due_in_tenant(tenant, today)
            for app_id, kind in due:
                try:
                    self._sweep_one(tenant, app_id, kind, today, now, out)
                except Exception:  # noqa: BLE001 — one bad case must not stop the others; it is retried
                    log.exception("sweep of application %s (%s) failed", app_id, kind)
                    out.failed.append(app_id)
        return out

    def _sweep_one(self, tenant: str, app_id: str, kind: str, today: dt.date, now: dt.datetime,
                   out: SweepResult) -> None:
        with self.db.unit_of_work(tenant=tenant) as uow:
            repo = IntakeRepository(uow)
            view = repo.get(app_id, lock=True, tenant=tenant)
            if view is None:
                return
            app, changes = view.app, Changes()
            if kind == "decision":
                if not app.deem_accepted(today=today, now=now, next_case_number=self._numbers(repo, app),
                                         query_code=new_query_code(self.query_code_length)):
                    return
                self._accepted(changes, uow, app, now)
                out.deemed.append(app.id)
            else:
                broken = app.expire_promises(today=today, now=now, calendar=self.calendars.get(tenant))
                if not broken:
                    return
                self._notice(changes, app, "termination", now)
                uow.emit(self.events_out.application_terminated(app), correlation_id=app.correlation_id)
                self._progress(uow, app, "terminated", now, app.termination["reason"],
                               [b.material_code for b in broken])
                out.terminated.append(app.id)
            repo.save(app, changes.notices)
            uow.commit()

    # -- shared steps -----------------------------------------------------------------------------
    def _numbers(self, repo: IntakeRepository, app: Application) -> Callable[[dt.date], str]:
        """Case numbers come from the tenant's sequence, drawn only once every check of the acceptance
        has passed: a number is never given twice and no acceptance waits on another; one that still
        fails to commit leaves its number unused (logged)."""
        def next_case_number(on: dt.date) -> str:
            seq = repo.next_sequence(app.tenant, on.year)
            number = format_case_number(app.tenant, on, seq, self.case_number_max)
            self._taken.number = number
            return number
        return next_case_number

    def _accepted(self, out: Changes, uow: UnitOfWork, app: Application, now: dt.datetime) -> None:
        self._notice(out, app, "deemed_acceptance" if app.deemed else "acceptance", now)
        uow.emit(self.events_out.application_accepted(app), correlation_id=app.case_number)
        detail = f"已受理，办件编号 {app.case_number}" + ("（逾期未作决定，视为受理）" if app.deemed else "")
        self._progress(uow, app, "accepted", now, detail, [x.material_code for x in app.promises])

    def _notice(self, out: Changes, app: Application, kind: str, now: dt.datetime, correction_round: int = 0) -> None:
        """Issue a notice: its text frozen from the newest template of its kind (written with the application)."""
        template = self._templates()[kind]
        data = build_notice(app, template, issued_at=now, public_base_url=self.public_base_url,
                            correction_round=correction_round)
        out.notices.append({"id": str(uuid.uuid4()), "kind": kind, "template_version": template.version,
                            "title": template.title, "issued_at": now.isoformat(), "data": data})

    def _templates(self) -> dict[str, NoticeTemplate]:
        """The notice templates, re-read every few minutes (a new version applies to later notices)."""
        cached = self._template_cache
        if cached is None or time.monotonic() - cached[0] > TEMPLATE_TTL:
            with self.db.unit_of_work() as uow:
                cached = (time.monotonic(), IntakeRepository(uow).templates())
            self._template_cache = cached
        return cached[1]

    def _progress(self, uow: UnitOfWork, app: Application, step: str, now: dt.datetime, detail: str = "",
                  codes: Sequence[str] = ()) -> None:
        """Progress of a proxied application, addressed to the village point's own tenant."""
        if not app.proxy_tenant:
            return
        uow.emit(self.events_out.proxy_application_progressed(app, step, now, detail, codes),
                 correlation_id=app.correlation_id, tenant=app.proxy_tenant)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, p: Principal, app_id: str) -> ApplicationView:
        p.require(*READ_ROLES)
        uuid_field(app_id, "application_id", "办件标识")
        with self.db.unit_of_work(p) as uow:  # supervisors' transactions read the subtree (RLS)
            view = IntakeRepository(uow).get(app_id)
        if view is None or not (can_read(p, DivisionCode(view.app.tenant)) or view.app.collect_tenant == str(p.tenant)):
            raise NotFound(NOT_FOUND)
        return view

    def list(self, p: Principal, *, status: Status | None, subtree: bool, limit: int,
             offset: int) -> tuple[list[ApplicationListing], int, bool]:
        """A page of the list (each application as a list shows it), its total counted up to LIST_TOTAL_CAP,
        and whether more rows than that match."""
        p.require(*READ_ROLES)
        if subtree and not p.reads_subtree:
            raise PermissionDenied("只有监察员可以查看下级单位的办件")
        limit, offset = page(limit, offset)
        # the page and its capped count in one statement, read in one round trip under the caller's binding (no
        # BEGIN or ROLLBACK: Database.read_planned)
        listed, counted = listing_page(self.db.read_planned(p, *list_statement(
            str(p.tenant), subtree=subtree, status=status, limit=limit, offset=offset)))
        return listed, min(counted, LIST_TOTAL_CAP), counted > LIST_TOTAL_CAP

    def count(self, p: Principal, *, statuses: Sequence[Status], subtree: bool) -> list[tuple[Status, int, bool]]:
        """How many of the list's applications (`list`'s rows, the whole list) are in each status, in the order
        asked: (status, count up to LIST_TOTAL_CAP, whether more match) — what a window waits on, counted where it
        is and not among the page it happens to show."""
        p.require(*READ_ROLES)
        if subtree and not p.reads_subtree:
            raise PermissionDenied("只有监察员可以查看下级单位的办件")
        if not statuses:
            raise InvalidArgument("statuses", "请至少选择一个办件状态")
        if len(set(statuses)) != len(statuses):
            raise InvalidArgument("statuses", "办件状态不能重复")
        row = self.db.read_planned(p, *count_statement(str(p.tenant), subtree=subtree, statuses=statuses))[0]
        return [(status, min(n, LIST_TOTAL_CAP), n > LIST_TOTAL_CAP) for status, n in zip(statuses, row, strict=True)]

    def notice(self, p: Principal, app_id: str, notice_id: str) -> tuple[dict, bytes]:
        """A notice and its printable PDF (rendered from the snapshot frozen when it was issued)."""
        self.get(p, app_id)
        uuid_field(notice_id, "notice_id", "通知书标识")
        with self.db.unit_of_work(p) as uow:
            data = IntakeRepository(uow).notice(app_id, notice_id)
        if data is None:
            raise NotFound("通知书不存在或无权查看")
        return data, render_notice_pdf(data)

    def applicant_profile(self, p: Principal, id_number: str) -> Applicant:
        p.require(Role.WINDOW_CLERK)
        number = (id_number or "").strip().upper()
        if not number or len(number) > 18:
            raise InvalidArgument("id_number", "请输入 18 位证件号码")
        with self.db.unit_of_work(p, subtree=False) as uow:
            profile = IntakeRepository(uow).profile(str(p.tenant), number)
        if profile is None:
            raise NotFound("本单位没有该申请人的办理记录")
        return Applicant.from_dict(profile)

    def lookup_progress(self, case_number: str, query_code: str = "", id_number: str = "") -> Application:
        """Public: a case by its number and a secret its applicant holds — the query code printed on its
        notices, or the applicant's full ID number. A wrong code, a wrong ID number and an unknown case
        answer alike (nothing about existence leaks); the database shows the row only when they match."""
        number = check_case_number(case_number, self.case_number_max)
        given_code, given_id = bool((query_code or "").strip()), bool((id_number or "").strip())
        if given_code == given_id:
            raise InvalidArgument("query_code", "请输入通知书上的查询码，或申请人完整的证件号码（二者选一）")
        code = check_query_code(query_code) if given_code else ""
        full_id = "" if given_code else check_full_id(id_number)
        with self.db.unit_of_work() as uow:
            app = IntakeRepository(uow).lookup(number, query_code=code, id_number=full_id)
        if app is None:
            raise NotFound(LOOKUP_NOT_FOUND)
        return app


__all__ = ["IntakeHandlers", "ApplicationView", "SweepResult", "Status"]
