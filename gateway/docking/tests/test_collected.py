"""委托收件 reported under the collecting county (issue 18): a provincial application the county's comprehensive
window takes in on the province's behalf becomes the province's case (tenant "62"); every later event of that
case — intake's acceptance, approval's decision and completion, fees' settlement — comes bound to "62", and the
province still hears each of them once, in order, from the county that collected it, with its own serial.

Through the real services and consumers: intake and approval handlers behind their own gRPC and consumers,
their outboxes published by the real relays to RabbitMQ, approval's and docking's consumers (inbox, retries),
the docking delivery worker's pass and the province simulator verifying every report's signature."""

from __future__ import annotations

import time
import uuid

import pika
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import intake_pb2 as ipb

from gateway.docking.repository import COLLECTED_FILING
from gateway.docking.service import SUBSCRIPTIONS
from gateway.docking.service import event_consumer as docking_consumer
from gateway.docking.tests.conftest import COUNTY, OTHER_PROVINCE_COUNTY, SIBLING_COUNTY, send
from gateway.docking.tests.test_delivery import drain
from gateway.docking.tests.test_online import APPLICANT, demo_spec, materials
from services.approval.administration import AdministrationHandlers
from services.approval.handlers import ApprovalHandlers
from services.approval.service import event_consumer as approval_consumer
from services.approval.translate import EventsOut as ApprovalEvents
from services.catalogue import translate as catalogue_translate
from services.catalogue.domain import ListingKind
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.translate import EventsOut as CatalogueEvents
from shared.clock import Clock
from shared.db import Database, sql
from shared.messaging import OutboxRelay
from shared.tenancy import DivisionCode, Principal
from tests.support import Caller, deliver_event, subscribed

PROVINCE = "62"
FLOW = ["application_forwarded", "application_accepted", "case_decided", "case_completed", "fees_settled"]


def gansu(username: str, *roles: str) -> Principal:
    return Principal(subject=f"test-{username}", username=username, tenant=DivisionCode(PROVINCE),
                     roles=frozenset(roles), display_name=username)


@pytest.fixture
def approval(migrated):
    db = Database.connect(migrated.database_url, schema="approval", pool_size=4)
    handlers = ApprovalHandlers(db, Clock(), ApprovalEvents())
    admin = AdministrationHandlers(db, Clock(), handlers.events_out, calendars=handlers.calendars,
                                   categories=handlers.categories)
    yield db, handlers, admin
    db.dispose()


def _purged(consumer, amqp_url: str):
    consumer.declare()
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        ch = conn.channel()
        for q in consumer.queue_names():
            ch.queue_purge(q)
    return consumer


class Pipeline:
    """intake's and approval's outboxes → their relays → RabbitMQ → approval's and docking's consumers, driven
    from the test's thread; then the docking delivery worker's pass to the province."""

    def __init__(self, amqp_url: str, outboxes, consumers, docking, docking_db):
        self.amqp_url, self.outboxes, self.consumers = amqp_url, outboxes, consumers
        self.docking, self.docking_db = docking, docking_db

    def waiting(self, consumer) -> int:
        with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as conn:
            ch = conn.channel()
            return sum(ch.queue_declare(q, passive=True).method.message_count for q in consumer.queue_names()
                       if not q.endswith(".dlq") and ".retry." not in q)

    def run(self, until, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for db, service in self.outboxes:
                relay = OutboxRelay(db.engine, service, self.amqp_url, service=service)
                try:
                    relay.drain(timeout=30)
                finally:
                    relay.stop()
            for consumer in self.consumers:
                n = self.waiting(consumer)
                if n:
                    consumer.drain(n, timeout=30)
            drain(self.docking, self.docking_db, tenants=(COUNTY,))
            if until():
                return
            assert time.monotonic() < deadline, "the reports did not reach the province"
            time.sleep(0.1)


def test_a_collected_provincial_case_is_reported_under_the_county_once_in_order(
        online, approval, catalogue_db, migrated, simulator, docking_db, tokens):
    docking, intake, h, intake_handlers = online
    approval_db, approval_h, admin = approval
    # the province's own item, listed for collection (代收) at the county's comprehensive window
    catalogue = CatalogueHandlers(catalogue_db, events_out=CatalogueEvents())
    province_admin = gansu("gansu.admin", "tenant_admin")
    row = catalogue.create_item(province_admin, catalogue_translate.elements(
        json_format.ParseDict(demo_spec("委托收件上报测试"), cpb.ItemElements())))
    catalogue.publish(province_admin, row.id)
    catalogue.delegate(province_admin, row.id, [COUNTY], ListingKind.COLLECT, "委托县政务服务中心综合窗口收件")
    item = catalogue_translate.row_to_item(catalogue.get_public_item(row.id))

    intake_db = intake_handlers.db
    # the retry options of approval's own test consumer (services/approval/tests/conftest.py): both declare
    # approval's queues in the suite's one vhost, and a queue's arguments are fixed by whoever declares it first
    consumers = [_purged(approval_consumer(approval_h, approval_db, migrated.amqp_url, max_retries=1,
                                           backoff=(0.5,)), migrated.amqp_url),
                 _purged(docking_consumer(h, docking_db, migrated.amqp_url), migrated.amqp_url)]
    pipeline = Pipeline(migrated.amqp_url, [(intake_db, "intake"), (approval_db, "approval")], consumers, h,
                        docking_db)
    try:
        msg = simulator.online_application(COUNTY, COUNTY, item.id, APPLICANT,
                                           scenario_code=item.elements.scenarios[0].code, materials=materials(item))
        serial = msg["body"]["provincial_serial"]
        application_id = send(docking, msg).reference
        assert application_id
        # the county's window accepts it for the province: the case is the province's
        clerk = Caller(intake, tokens["county.clerk"])
        accepted = clerk.AcceptApplication(ipb.AcceptApplicationRequest(application_id=application_id))
        assert accepted.case_number

        def case():
            try:
                return approval_h.get_case(gansu("gs.reviewer", "reviewer"), case_number=accepted.case_number)
            except Exception:       # noqa: BLE001 — not opened yet
                return None

        pipeline.run(lambda: case() is not None and simulator.reports_of(serial)[:2] == FLOW[:2])
        view = case()
        assert (view.case.tenant, view.case.collect_tenant) == (PROVINCE, COUNTY)

        # the province's back office reviews and decides (不予许可: no seal needed), which completes the case
        reviewer, decider = gansu("gs.reviewer", "reviewer"), gansu("gs.decider", "decider")
        [review] = [s for s in view.case.steps if str(s.kind) == "review"]
        for person in (reviewer, decider):
            admin.saw(person)
            admin.assign_desks(province_admin, person.username, [review.desk], person.username)
        approval_h.claim(reviewer, review.id, "", "")
        approval_h.complete_review(reviewer, review.id, "材料不符合条件", "disagree")
        [decision] = [s for s in case().case.steps if str(s.kind) == "decision"]
        approval_h.claim(decider, decision.id, "", "")
        approval_h.decide(decider, view.case.id, "deny", "不予许可", ["申请材料不符合法定形式"])
        pipeline.run(lambda: simulator.reports_of(serial)[:4] == FLOW[:4])

        # fees' settlement names no collecting window (fees does not carry it): docking's own note finds it
        deliver_event(subscribed(SUBSCRIPTIONS, "report_fees_settled", h), docking_db, PROVINCE,
                      fees_ev.FeesSettled(case_number=accepted.case_number, tenant=PROVINCE,
                                          at="2026-12-07T10:00:00+08:00"), source="fees")
        pipeline.run(lambda: simulator.reports_of(serial) == FLOW)
    finally:
        for c in consumers:
            c.stop()

    reports = [r for r in simulator.receipts() if r.case_ref == serial]
    assert [r.type for r in reports] == FLOW                       # each once, in order
    assert [r.seq for r in reports] == sorted(r.seq for r in reports)
    for r in reports:
        assert r.tenant == COUNTY, r.type                          # from the county that collected it
        assert r.body["provincial_serial"] == serial, r.type
    for r in reports[1:]:
        assert (r.body["unit"], r.body["collected_by"]) == (PROVINCE, COUNTY), r.type
        assert r.body["case_number"] == accepted.case_number
    assert reports[2].body["detail"]["outcome"] == "denied"
    # intake's and approval's events name the collecting window themselves; fees' does not (docking's note)
    assert [r.body["detail"].get("collect_tenant", "") for r in reports[1:]] == [COUNTY, COUNTY, COUNTY, ""]
    assert [r.body["progress_code"] for r in reports] == ["", "3", "8", "11", "8"]   # the default codes
    # nothing of the case was filed under the province itself
    with docking_db.unit_of_work(tenant=PROVINCE) as uow:
        assert uow.value(sql("SELECT count(*) FROM docking.outbound WHERE case_key = :k"), {"k": serial}) == 0


def test_a_window_outside_the_unit_is_no_collector(handlers, docking_db, unsent):
    """An event of the province naming a window of another province, or of the county naming its sibling county,
    is reported as not collected (under its own unit), never under the named window."""
    from sanji.approval.v1 import events_pb2 as approval_ev

    for tenant, window in ((PROVINCE, OTHER_PROVINCE_COUNTY), (COUNTY, SIBLING_COUNTY)):
        number = f"T{uuid.uuid4().hex[:10].upper()}"
        unsent.append((tenant, number))
        deliver_event(subscribed(SUBSCRIPTIONS, "report_case_decided", handlers), docking_db, tenant,
                      approval_ev.CaseDecided(case_number=number, tenant=tenant, outcome="approved",
                                              collect_tenant=window))
        with docking_db.unit_of_work(tenant=tenant) as uow:
            assert uow.value(sql("SELECT tenant_code FROM docking.outbound WHERE case_key = :k"),
                             {"k": number}) == tenant
        with docking_db.unit_of_work(tenant=window) as uow:
            assert uow.value(sql("SELECT count(*) FROM docking.outbound WHERE case_key = :k"), {"k": number}) == 0


@pytest.mark.parametrize(("bound", "window"), [
    (PROVINCE, OTHER_PROVINCE_COUNTY),     # the province cannot file under another province's county
    (SIBLING_COUNTY, COUNTY),              # a county cannot file under its sibling
    (COUNTY, PROVINCE),                    # nor a county under the province above it
    (COUNTY, COUNTY[:4]),
])
def test_the_filing_scope_reaches_only_below_the_bound_unit(docking_db, bound, window):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="row-level security"), docking_db.unit_of_work(tenant=bound) as uow:
        uow.widen(COLLECTED_FILING, window=window)
        uow.execute(sql("INSERT INTO docking.outbound (message_id, tenant_code, case_key, type, body) VALUES"
                        " (:m, :t, 'k', 'case_decided', '{}')"), {"m": uuid.uuid4(), "t": window})
    # and below it, only through the scope
    with pytest.raises(DBAPIError, match="row-level security"), docking_db.unit_of_work(tenant=PROVINCE) as uow:
        uow.execute(sql("INSERT INTO docking.outbound (message_id, tenant_code, case_key, type, body) VALUES"
                        " (:m, :t, 'k', 'case_decided', '{}')"), {"m": uuid.uuid4(), "t": COUNTY})


def test_the_collected_cases_are_walled_by_the_deciding_unit(docking_db):
    app = str(uuid.uuid4())
    with docking_db.unit_of_work(tenant=PROVINCE) as uow:
        uow.execute(sql("INSERT INTO docking.collected_cases (tenant_code, application_id, collect_tenant,"
                        " provincial_serial) VALUES ('62', :a, :c, 'S1')"), {"a": app, "c": COUNTY})
        uow.commit()
    for other in (COUNTY, "51", SIBLING_COUNTY):
        with docking_db.unit_of_work(tenant=other) as uow:
            assert uow.value(sql("SELECT count(*) FROM docking.collected_cases WHERE application_id = :a"),
                             {"a": app}) == 0


@pytest.mark.parametrize("target", [SIBLING_COUNTY, "620602002", "62", OTHER_PROVINCE_COUNTY, "620602001001"])
def test_the_county_filing_scope_reaches_only_the_units_own_county(docking_db, target):
    """A township files its reports under its own county (docking 0004) — not under another county, a sibling
    township, the province or a village below it — and reads no other county's online applications."""
    from sqlalchemy.exc import DBAPIError

    from gateway.docking.repository import COUNTY_FILING
    from gateway.docking.tests.conftest import TOWNSHIP

    with pytest.raises(DBAPIError, match="row-level security"), docking_db.unit_of_work(tenant=TOWNSHIP) as uow:
        uow.widen(COUNTY_FILING, on="on")
        uow.execute(sql("INSERT INTO docking.outbound (message_id, tenant_code, case_key, type, body) VALUES"
                        " (:m, :t, 'k', 'case_decided', '{}')"), {"m": uuid.uuid4(), "t": target})
    serial = f"S{uuid.uuid4().hex[:12]}"
    with docking_db.unit_of_work(tenant=SIBLING_COUNTY) as uow:
        uow.execute(sql("INSERT INTO docking.online_applications (tenant_code, provincial_serial, message_id,"
                        " unit_code, item_id, status) VALUES (:t, :s, :m, :t, 'i', 'received')"),
                    {"t": SIBLING_COUNTY, "s": serial, "m": uuid.uuid4()})
        uow.commit()
    with docking_db.unit_of_work(tenant=TOWNSHIP) as uow:
        uow.widen(COUNTY_FILING, on="on")
        assert uow.value(sql("SELECT count(*) FROM docking.online_applications WHERE provincial_serial = :s"),
                         {"s": serial}) == 0
        assert uow.execute(sql("UPDATE docking.online_applications SET case_number = 'X' WHERE provincial_serial"
                               " = :s"), {"s": serial}) == 0
