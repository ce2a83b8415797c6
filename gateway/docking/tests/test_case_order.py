"""A case's reports reach the province in the case's order, whatever order docking receives them in (issue 18):
the province applies them as status transitions, and the events come from several queues (intake's, approval's,
fees'), so one retried by the consumer lets the next overtake it.

The rule without I/O (domain.send_order, event_time, settled); then through docking's real consumer: each case's
events published to RabbitMQ in every order, as the services' relays publish them (to_amqp of an outbox row),
consumed by docking's own queues with delivery passes in between, and the simulator verifying every report's
signature receives each report once, in the case's order."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid

import pika
import pytest
from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev

from gateway.docking import domain
from gateway.docking.service import SUBSCRIPTIONS
from gateway.docking.service import event_consumer as docking_consumer
from gateway.docking.tests.conftest import COUNTY
from gateway.docking.tests.test_delivery import case_numbers, drain, pending
from shared.db import event_type_of, message_to_json, sql
from shared.messaging.envelope import to_amqp

T0 = dt.datetime(2026, 10, 12, 9, 0, tzinfo=domain.CHINA)


# -- the rule --------------------------------------------------------------------------------------------
LIFECYCLE = ["application_forwarded", "correction_requested", "application_accepted", "clock_suspended",
             "case_decided", "fees_settled", "case_completed", "result_picked_up", "rating_submitted"]


def test_every_order_of_a_cases_reports_is_sent_in_the_lifecycles_order():
    # the event times say the opposite of the lifecycle (clocks of different services): the stage decides
    for order in itertools.permutations(LIFECYCLE[2:7]):
        pending_rows = [{"type": t, "at": T0 - dt.timedelta(minutes=i), "seq": i} for i, t in enumerate(order)]
        assert [r["type"] for r in domain.send_order(pending_rows)] == LIFECYCLE[2:7]
    assert [domain.report_stage(t) for t in LIFECYCLE] == sorted(domain.report_stage(t) for t in LIFECYCLE)
    assert len({domain.report_stage(t) for t in LIFECYCLE}) == len(LIFECYCLE)


def test_within_a_stage_the_events_own_time_orders_then_the_queue():
    # suspended, resumed, suspended again, resumed again: one stage, by the time each happened
    kinds = ["clock_suspended", "clock_resumed", "clock_suspended", "clock_resumed"]
    for order in itertools.permutations(range(4)):
        rows = [{"type": kinds[i], "at": T0 + dt.timedelta(hours=i), "seq": n, "i": i} for n, i in enumerate(order)]
        assert [r["i"] for r in domain.send_order(rows)] == [0, 1, 2, 3]
    # the same time: the order docking queued them
    rows = [{"type": "clock_resumed", "at": T0, "seq": 7}, {"type": "clock_suspended", "at": T0, "seq": 3}]
    assert [r["seq"] for r in domain.send_order(rows)] == [3, 7]
    # acceptance and refusal are one stage (either ends the application's intake), 转交 comes before either
    assert domain.report_stage("application_rejected") == domain.report_stage("application_accepted")
    assert domain.report_stage("application_not_taken") < domain.report_stage("application_accepted")


def test_reports_outside_a_case_are_unstaged():
    for t in ("item_published", "item_adjusted", "complaint_resolved", "something_new"):
        assert domain.report_stage(t) == domain.UNSTAGED
    rows = [{"type": "item_adjusted", "at": T0 + dt.timedelta(days=1), "seq": 1},
            {"type": "item_published", "at": T0, "seq": 2}]
    assert [r["type"] for r in domain.send_order(rows)] == ["item_published", "item_adjusted"]


def test_every_case_event_docking_reports_has_a_stage():
    """A report type the consumer takes for a case without a place in the lifecycle would silently go by its
    event time alone: the table must name it (complaints are queued under their own number, not a case's)."""
    reported = {on.handler.removeprefix("report_") for on in SUBSCRIPTIONS if on.handler.startswith("report_")}
    assert reported - {"complaint_resolved"} <= set(domain.REPORT_STAGES)
    assert domain.report_stage("complaint_resolved") == domain.UNSTAGED


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10-12T09:00:00+08:00", T0),
    ("2026-10-12T01:00:00.250000+00:00", T0 + dt.timedelta(milliseconds=250)),
    ("2026-10-12T09:00:00", None),            # no zone: not an instant — the envelope's time
    ("12 October", None), ("", None), (None, None), (17, None), ("2026-13-40T00:00:00+08:00", None),
])
def test_the_events_own_time_or_when_it_left_its_service(value, expected):
    fallback = dt.datetime(2026, 10, 12, 2, 0, 5, tzinfo=dt.UTC)
    assert domain.event_time(value, fallback) == (expected or fallback)


def test_a_head_settles_for_the_settle_time_then_goes():
    queued = T0
    assert not domain.settled(queued, T0 + domain.SETTLE - dt.timedelta(milliseconds=1))
    assert domain.settled(queued, T0 + domain.SETTLE)
    assert domain.settled(queued, T0, dt.timedelta(0))
    assert dt.timedelta(seconds=1) < domain.SETTLE < dt.timedelta(minutes=1)    # a few seconds, a default


# -- through the real consumer ---------------------------------------------------------------------------
def _at(i: int) -> str:
    return (T0 + dt.timedelta(minutes=10 * i)).isoformat()


def lifecycle_event(kind: str, n: str, at: str) -> tuple[str, object]:
    """(source service, event) of case `n` happening at `at`."""
    t = COUNTY
    if kind == "application_accepted":
        return "intake", intake_ev.ApplicationAccepted(application_id=str(uuid.uuid4()), tenant=t, case_number=n,
                                                        accepted_at=at)
    if kind == "result_picked_up":
        return "intake", intake_ev.ResultPickedUp(application_id=str(uuid.uuid4()), tenant=t, case_number=n,
                                                   channel="window", picked_up_at=at)
    if kind == "fees_settled":
        return "fees", fees_ev.FeesSettled(case_number=n, tenant=t, paid_fen=5000, at=at)
    if kind == "clock_suspended":
        return "approval", approval_ev.ClockSuspended(case_number=n, tenant=t, procedure="hearing", at=at)
    if kind == "case_decided":
        return "approval", approval_ev.CaseDecided(case_number=n, tenant=t, outcome="approved", at=at,
                                                    has_fees=True)
    if kind == "case_completed":
        return "approval", approval_ev.CaseCompleted(case_number=n, tenant=t, at=at, outcome="approved",
                                                      fees_settled=True)
    assert kind == "clock_resumed", kind
    return "approval", approval_ev.ClockResumed(case_number=n, tenant=t, at=at)


def lifecycle_events(case_number: str, kinds: tuple[str, ...]) -> list[tuple[str, object]]:
    """(source service, event) of one case, the i-th happening at T0 + 10·i minutes."""
    return [lifecycle_event(kind, case_number, _at(i)) for i, kind in enumerate(kinds)]


def publish(channel, source: str, message, case_number: str) -> None:
    """As the service's relay publishes an outbox row."""
    row = {"id": str(uuid.uuid4()), "exchange": f"{source}.events", "routing_key": event_type_of(message),
           "tenant": COUNTY, "correlation_id": case_number, "event_version": 1, "body": message_to_json(message),
           "headers": {}, "created_at": dt.datetime.now(dt.UTC)}
    exchange, routing_key, props, body = to_amqp(row)
    channel.basic_publish(exchange, routing_key, body, props, mandatory=True)


@pytest.fixture
def consumer(handlers, docking_db, migrated):
    c = docking_consumer(handlers, docking_db, migrated.amqp_url)
    c.declare()
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        for q in c.queue_names():
            ch.queue_purge(q)
    yield c
    c.stop()


def _consume(consumer, n: int) -> None:
    deadline = time.monotonic() + 60
    done = 0
    while done < n:
        assert time.monotonic() < deadline, f"docking consumed {done} of {n} events"
        done += consumer.drain(n - done, timeout=10)


def _queued(db, cases: list[str]) -> int:
    with db.unit_of_work(tenant=COUNTY) as uow:
        return uow.value(sql("SELECT count(*) FROM docking.outbound WHERE case_key = ANY(:c)"), {"c": cases})


@pytest.mark.parametrize("kinds", [
    ("application_accepted", "clock_suspended", "clock_resumed", "case_decided"),
    ("case_decided", "fees_settled", "case_completed", "result_picked_up"),
], ids=["accepted-suspended-resumed-decided", "decided-fees-completed-delivered"])
def test_every_arrival_order_reaches_the_province_in_the_cases_order(kinds, handlers, consumer, docking_db,
                                                                    simulator, migrated):
    """24 cases, one per order of the case's four events (from intake's, approval's and fees' exchanges); each
    round publishes the next event of every case and docking consumes it, then the delivery worker runs a pass
    while the heads settle (nothing of these cases goes up: the earlier events may still be on their way); once
    the settle time has passed, every case's reports go up once each, in the case's order."""
    orders = list(itertools.permutations(range(len(kinds))))
    cases = case_numbers(len(orders))
    events = {c: lifecycle_events(c, kinds) for c in cases}
    handlers.settle = dt.timedelta(hours=1)            # the settle time, long beside this test's rounds
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        for round_ in range(len(kinds)):
            for c, order in zip(cases, orders, strict=True):
                source, message = events[c][order[round_]]
                publish(ch, source, message, c)
            _consume(consumer, len(cases))
            assert _queued(docking_db, cases) == len(cases) * (round_ + 1)
            handlers.deliver_due()
            assert [r for r in simulator.receipts() if r.case_ref in cases] == []
    handlers.settle = dt.timedelta(0)                  # the settle time has passed
    drain(handlers, docking_db)
    for c, order in zip(cases, orders, strict=True):
        assert simulator.reports_of(c) == list(kinds), (c, order)
    reports = [r for r in simulator.receipts() if r.case_ref in cases]
    assert len(reports) == len(cases) * len(kinds)
    assert len({r.message_id for r in reports}) == len(reports)                      # once each
    for r in reports:                                                               # with the event's own time
        assert r.body["at"] == _at(kinds.index(r.type)), r.type


def test_a_report_whose_earlier_sibling_never_comes_still_goes(handlers, consumer, docking_db, simulator,
                                                               migrated):
    """The hold is bounded: a completion whose decision is lost (or retried past the settle time) goes up once
    the settle time has passed — on the real clock, a short settle — and the late decision after it."""
    [c] = case_numbers(1)
    (_, decided), (_, completed) = lifecycle_events(c, ("case_decided", "case_completed"))
    handlers.settle = dt.timedelta(milliseconds=300)
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        publish(ch, "approval", completed, c)
        _consume(consumer, 1)
        drain(handlers, docking_db)
        assert simulator.reports_of(c) == ["case_completed"]
        publish(ch, "approval", decided, c)                 # later than the settle time: after it, not lost
        _consume(consumer, 1)
        drain(handlers, docking_db)
    assert simulator.reports_of(c) == ["case_completed", "case_decided"]
    assert pending(docking_db) == 0


def test_a_redelivered_event_keeps_its_place_and_is_one_report(handlers, consumer, docking_db, simulator,
                                                               migrated):
    """The same event delivered twice (a redelivery, or two docking replicas consuming) is one report in its
    place, whichever copy comes when."""
    [c] = case_numbers(1)
    (_, accepted), (_, decided) = lifecycle_events(c, ("application_accepted", "case_decided"))
    handlers.settle = dt.timedelta(hours=1)
    row = {"id": str(uuid.uuid4()), "exchange": "approval.events", "routing_key": "case_decided", "tenant": COUNTY,
           "correlation_id": c, "event_version": 1, "body": message_to_json(decided), "headers": {},
           "created_at": dt.datetime.now(dt.UTC)}
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        for source, message in (("approval", decided), ("intake", accepted), ("approval", decided)):
            if message is decided:
                exchange, routing_key, props, body = to_amqp(row)
                ch.basic_publish(exchange, routing_key, body, props, mandatory=True)
            else:
                publish(ch, source, message, c)
        _consume(consumer, 3)
    handlers.deliver_due()
    assert simulator.reports_of(c) == []
    handlers.settle = dt.timedelta(0)
    drain(handlers, docking_db)
    assert simulator.reports_of(c) == ["application_accepted", "case_decided"]


# -- an online case: one queue under its provincial serial, whichever event docking sees first --------------
ONLINE_FLOW = ("application_accepted", "clock_suspended", "case_decided")


def _online_case(docking_db, bound: str) -> tuple[str, str, str]:
    """(serial, application id, case number) of an online application docking forwarded: noted as receive()
    notes it — under the county for a county's or township's unit, under the deciding unit (the province) as a
    case the county's window collected for it (委托收件)."""
    from gateway.docking.repository import DockingRepository

    serial, application_id = f"GS{uuid.uuid4().hex[:14].upper()}", str(uuid.uuid4())
    [number] = case_numbers(1)
    with docking_db.unit_of_work(tenant=COUNTY if len(bound) >= 6 else bound) as uow:
        repo = DockingRepository(uow)
        if len(bound) >= 6:
            repo.record_online(COUNTY, serial, str(uuid.uuid4()), bound, "item")
            repo.forwarded(COUNTY, serial, application_id)
        else:
            repo.record_collected(bound, application_id, COUNTY, serial)
        uow.commit()
    return serial, application_id, number


def _online_event(kind: str, bound: str, application_id: str, number: str, i: int):
    collect = COUNTY if len(bound) < 6 else ""
    at = _at(i)
    if kind == "application_accepted":
        return "intake", intake_ev.ApplicationAccepted(application_id=application_id, tenant=bound, case_number=number,
                                                        accepted_at=at, collect_tenant=collect)
    if kind == "clock_suspended":
        return "approval", approval_ev.ClockSuspended(case_number=number, tenant=bound, procedure="hearing", at=at,
                                                      collect_tenant=collect)
    return "approval", approval_ev.CaseDecided(case_number=number, tenant=bound, outcome="approved", at=at,
                                               collect_tenant=collect)


@pytest.mark.parametrize("bound", [COUNTY, "620602001", "62"], ids=["county", "township", "collected"])
def test_an_online_cases_reports_are_one_queue_under_its_serial_in_every_order(bound, handlers, docking_db,
                                                                              simulator):
    """Approval's events name the case number only; docking learns which provincial serial it belongs to from
    intake's acceptance. Consumed before it, they were queued under the case number — another queue, sent in
    any order beside the acceptance and without the serial. The acceptance now moves them to the serial's
    queue: every order of the three events reaches the province under the serial, with it, in the case's
    order — a county's own online case, a township's (filed under its county) and one the county's window
    collected for the province (filed under the county from the province's events)."""
    from tests.support import deliver_event, subscribed

    orders = list(itertools.permutations(range(len(ONLINE_FLOW))))
    cases = [_online_case(docking_db, bound) for _ in orders]
    keys = {key for serial, _, number in cases for key in (serial, number)}

    def ours(receipts):
        return [r for r in receipts if r.case_ref in keys]
    handlers.settle = dt.timedelta(hours=1)
    for round_ in range(len(ONLINE_FLOW)):
        for (_, application_id, number), order in zip(cases, orders, strict=True):
            i = order[round_]
            source, message = _online_event(ONLINE_FLOW[i], bound, application_id, number, i)
            deliver_event(subscribed(SUBSCRIPTIONS, f"report_{ONLINE_FLOW[i]}", handlers), docking_db, bound,
                          message, source=source)
        handlers.deliver_due()
        assert ours(simulator.receipts()) == []
    handlers.settle = dt.timedelta(0)
    drain(handlers, docking_db)
    for (serial, _, number), order in zip(cases, orders, strict=True):
        assert simulator.reports_of(serial) == list(ONLINE_FLOW), order
        assert simulator.reports_of(number) == [], order
        for r in simulator.receipts():
            if r.case_ref == serial:
                assert (r.tenant, r.body["provincial_serial"], r.body["case_number"]) == (COUNTY, serial, number)
    # this test's cases only: another test's report may be delivered by the same pass (the simulator is shared)
    assert len(ours(simulator.receipts())) == len(cases) * len(ONLINE_FLOW)


def _pending_row(db, tenant: str, key: str, delivered: bool = False) -> None:
    """A report of `tenant` that nobody sends (`next_attempt_at` far ahead; the test removes it afterwards, so
    that no other test's delivery pass or reconciliation meets it)."""
    with db.unit_of_work(tenant=tenant) as uow:
        uow.execute(sql("INSERT INTO docking.outbound (message_id, tenant_code, case_key, type, body, delivered_at,"
                        " next_attempt_at) VALUES (:m, :t, :k, 'case_decided', '{\"event\": \"case_decided\"}',"
                        " CASE WHEN :d THEN now() - interval '400 days' END, now() + interval '1 day')"),
                    {"m": uuid.uuid4(), "t": tenant, "k": key, "d": delivered})
        uow.commit()


@pytest.mark.parametrize(("bound", "scope", "target", "delivered"), [
    ("620602001", "county", "620621", False),      # a township: not another county's reports
    ("620602001", "county", "620602002", False),   # nor a sibling township's
    ("620602001", "county", COUNTY, True),         # nor its county's delivered ones
    ("62", "collect", "620621", False),            # the province through the window's scope: not another county
    ("62", "collect", COUNTY, True),               # nor the window's delivered reports
    (COUNTY, "collect", "620621", False),          # a county: not its sibling's
])
def test_the_rekey_reaches_only_the_pending_reports_the_scope_files(docking_db, bound, scope, target, delivered):
    from gateway.docking.repository import DockingRepository

    key = f"K{uuid.uuid4().hex[:12]}"
    _pending_row(docking_db, target, key, delivered)
    with docking_db.unit_of_work(tenant=bound) as uow:
        repo = DockingRepository(uow)
        if scope == "county":
            repo.file_under_county()
        else:
            repo.file_under(COUNTY)
        assert repo.rekey(target, [key], "STOLEN", "S1") == 0
        uow.commit()
    with docking_db.unit_of_work(tenant=target) as uow:
        assert uow.value(sql("SELECT case_key FROM docking.outbound WHERE case_key IN (:k, 'STOLEN')"),
                         {"k": key}) == key
        uow.execute(sql("DELETE FROM docking.outbound WHERE case_key = :k"), {"k": key})
        uow.commit()


def test_a_correction_consumed_after_the_acceptance_still_goes_first(handlers, docking_db, simulator):
    """补正 is told before a case has a number: its report is queued under the application id. Consumed after the
    acceptance (its queue retried), it joins the case's queue under the case number, first, in every order."""
    from tests.support import deliver_event, subscribed

    kinds = ("correction_requested", "application_accepted", "case_decided")
    orders = list(itertools.permutations(range(len(kinds))))
    cases = [(str(uuid.uuid4()), n) for n in case_numbers(len(orders))]
    keys = {key for case in cases for key in case}

    def ours(receipts):
        return [r for r in receipts if r.case_ref in keys]
    handlers.settle = dt.timedelta(hours=1)
    for round_ in range(len(kinds)):
        for (application_id, number), order in zip(cases, orders, strict=True):
            i = order[round_]
            if kinds[i] == "correction_requested":
                source, message = "intake", intake_ev.CorrectionRequested(
                    application_id=application_id, tenant=COUNTY, material_codes=["M1"], requested_at=_at(i))
            elif kinds[i] == "application_accepted":
                source, message = "intake", intake_ev.ApplicationAccepted(
                    application_id=application_id, tenant=COUNTY, case_number=number, accepted_at=_at(i))
            else:
                source, message = lifecycle_event("case_decided", number, _at(i))
            deliver_event(subscribed(SUBSCRIPTIONS, f"report_{kinds[i]}", handlers), docking_db, COUNTY, message,
                          source=source)
        handlers.deliver_due()
        assert ours(simulator.receipts()) == []
    handlers.settle = dt.timedelta(0)
    drain(handlers, docking_db)
    for (application_id, number), order in zip(cases, orders, strict=True):
        assert simulator.reports_of(number) == list(kinds), order
        assert simulator.reports_of(application_id) == [], order
    # this test's cases only: another test's report may be delivered by the same pass (CI at 55a6484 counted 19
    # receipts for these 18 reports), as in the online-case test above
    assert len(ours(simulator.receipts())) == len(cases) * len(kinds)
