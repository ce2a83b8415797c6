"""Approval's reports reach intake in any order (issue 20 item 2): case_decided, case_completed,
clock_suspended and clock_resumed come through four queues, so a retry or two intake replicas deliver them in
any order. Every order must end in the same application: the decision (with a refusal's reasons) is kept
when the completion came first, and the history lists the facts by their own time, each once.

The domain half tries every order on the rules alone; the integration half delivers every permutation of one
case's four events through intake's real consumer (its registry queues, inbox, unit of work) into PostgreSQL,
one delivery at a time in the permutation's order, and compares what each case ends as."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pika
import pytest
from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.common.v1 import common_pb2
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.domain import Status
from services.intake.repository import IntakeRepository
from services.intake.service import event_consumer
from services.intake.tests.conftest import TOWNSHIP, submit_request
from services.intake.tests.test_domain import CAL, TODAY, at, issued, receive
from shared.clock import CHINA_TZ
from shared.messaging.envelope import to_amqp
from shared.protojson import message_to_json

FACTS = ("suspended", "resumed", "decided", "completed")
REASONS = ("拟建住房占用永久基本农田", "不符合村庄规划")


def events(case_number: str, tenant: str, day: dt.date) -> list[tuple[str, object]]:
    """One case's four reports from approval, in the order they happened (each with its own time)."""
    def t(hour: int) -> str:
        return dt.datetime.combine(day, dt.time(hour), CHINA_TZ).isoformat()
    return [
        ("clock_suspended", approval_ev.ClockSuspended(
            case_number=case_number, tenant=tenant, procedure="expert_review", procedure_name="专家评审", days=5,
            suspended_on=day.isoformat(), notice_number="TZ-1", reason="需专家论证", at=t(9))),
        ("clock_resumed", approval_ev.ClockResumed(
            case_number=case_number, tenant=tenant, resumed_on=day.isoformat(), at=t(11),
            promised=common_pb2.Deadline(due=(day + dt.timedelta(days=14)).isoformat()))),
        ("case_decided", approval_ev.CaseDecided(
            case_number=case_number, tenant=tenant, outcome="denied", decider="county.decider", at=t(14),
            document_number="凉审不许〔2026〕7号", reasons=list(REASONS))),
        ("case_completed", approval_ev.CaseCompleted(
            case_number=case_number, tenant=tenant, outcome="denied", at=t(16))),
    ]


def final(app) -> tuple:
    return (str(app.status), [(h.what, h.at, h.detail) for h in app.history if h.what in FACTS])


# -- the rules alone ---------------------------------------------------------------------------------
def apply_to_domain(app, event_type: str, m) -> None:
    when = dt.datetime.fromisoformat(m.at)
    if event_type == "case_decided":
        app.record_decision(outcome=m.outcome, document_number=m.document_number, reasons=list(m.reasons),
                            decider=m.decider, now=when)
    elif event_type == "case_completed":
        app.complete(outcome=m.outcome, now=when)
    else:
        app.record_clock(suspended=event_type == "clock_suspended", detail=event_type, now=when)


def test_every_order_of_the_reports_ends_in_the_same_application_domain():
    outcomes = set()
    for order in itertools.permutations(range(4)):
        app = receive()
        app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
        evs = events(app.case_number, app.tenant, TODAY)
        for i in order:
            apply_to_domain(app, *evs[i])
        for i in order:                              # a redelivery of each changes nothing
            apply_to_domain(app, *evs[i])
        outcomes.add(repr(final(app)))
        assert app.status == Status.COMPLETED
        assert [h.what for h in app.history if h.what in FACTS] == list(FACTS)
    print(f"domain: 24 orders × 2 deliveries → {len(outcomes)} final state(s)")
    assert len(outcomes) == 1


# -- through the real consumer and PostgreSQL ------------------------------------------------------------
@pytest.fixture
def publisher(migrated):
    conn = pika.BlockingConnection(pika.URLParameters(migrated.amqp_url))
    yield conn.channel()
    conn.close()


def publish(channel, event_type: str, message, tenant: str, case_number: str) -> str:
    event_id = str(uuid.uuid4())
    exchange, routing_key, props, body = to_amqp({
        "id": event_id, "exchange": "approval.events", "routing_key": event_type, "tenant": tenant,
        "correlation_id": case_number, "event_version": 1, "body": message_to_json(message), "headers": {},
        "created_at": dt.datetime.now(dt.UTC)})
    channel.basic_publish(exchange, routing_key, body, props)
    return event_id


def handled(intake_db, event_id: str) -> bool:
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:     # the inbox row is the case's tenant's
        return bool(uow.scalar("SELECT count(*) FROM intake.inbox WHERE event_id = :e", {"e": event_id}))


def purged_consumer(migrated, intake_handlers, intake_db, publisher):
    """Intake's real consumer, its queues declared and emptied of what other modules left there."""
    consumer = event_consumer(intake_handlers, intake_db, migrated.amqp_url)
    consumer.declare()
    for queue in consumer.queue_names():
        publisher.queue_purge(queue)
    return consumer


def deliver_in_order(consumer, publisher, intake_db, evs, order, case_number: str) -> None:
    """Publish a case's events in the permutation's order, each handled before the next is published."""
    for i in order:
        event_id = publish(publisher, *evs[i], TOWNSHIP, case_number)
        for _ in range(50):
            if handled(intake_db, event_id):
                break
            consumer.drain(max_messages=1, timeout=5)
        assert handled(intake_db, event_id), f"event {evs[i][0]} of order {order} not handled"


def test_every_permutation_through_the_consumer_ends_in_the_same_state(migrated, intake_handlers, intake_db, clerk,
                                                                       township_item, today, publisher):
    consumer = purged_consumer(migrated, intake_handlers, intake_db, publisher)
    day = today.today()
    states: dict[str, tuple] = {}
    delivered = 0
    for order in itertools.permutations(range(4)):
        app = clerk.SubmitApplication(submit_request(township_item))
        accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
        evs = events(accepted.case_number, TOWNSHIP, day)
        deliver_in_order(consumer, publisher, intake_db, evs, order, accepted.case_number)
        delivered += len(order)
        with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:
            view = IntakeRepository(uow).by_case_number(TOWNSHIP, accepted.case_number)
        states["-".join(FACTS[i] for i in order)] = final(view.app)
    distinct = {repr(s) for s in states.values()}
    print(f"consumer: {len(states)} permutations, {delivered} deliveries → {len(distinct)} final state(s)")
    assert len(distinct) == 1
    status, facts = next(iter(states.values()))
    assert status == "completed" and [f[0] for f in facts] == list(FACTS)
    decision = facts[2][2]
    assert all(reason in decision for reason in REASONS)     # the refusal's reasons survive any order
