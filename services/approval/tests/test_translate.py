"""The events the approval service reads, as its consumer reads them (`Envelope.message`, then the
subscription table's translation into a command), and the events it writes (`EventsOut`). No I/O."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from google.protobuf import json_format
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev

from services.approval.case import Case
from services.approval.domain import OpenCase
from services.approval.translate import (
    EventsOut,
    open_case_command,
    pick_up_command,
    settle_fees_command,
    terminate_command,
)
from shared.calendar import WorkingCalendar, seed_year_from_package
from shared.clock import CHINA_TZ
from shared.db import event_type_of, message_to_json
from shared.messaging import Envelope, PoisonMessage

CAL = WorkingCalendar(seed_year_from_package(y) for y in (2025, 2026))


def envelope(body, event_type: str = "application_accepted", tenant: str = "620602",
             correlation_id: str | None = None) -> Envelope:
    return Envelope(event_id=str(uuid.uuid4()), event_type=event_type, tenant=tenant, correlation_id=correlation_id,
                    event_version=1, traceparent=None, tracestate=None, timestamp=0, source="intake", body=body)


def wire(message) -> Envelope:
    """The message as its producer's outbox writes it and the consumer receives it."""
    return envelope(json.loads(message_to_json(message)), event_type_of(message),
                    correlation_id=getattr(message, "case_number", None))


# -- application_accepted as the consumer reads it ---------------------------------------------------
def _accepted_body() -> dict:
    msg = intake_ev.ApplicationAccepted(
        application_id="a-1", tenant="620602", case_number="62060220260302000001", item_id="i-1", item_version=3,
        accepted_at="2026-03-02T10:00:00+08:00", waived_materials=["M2"], joint=True, joint_departments=["规划"],
        fee_codes=["F1"], promised_limit_days=10, statutory_limit_days=20, site_inspection="counted",
        materials=[intake_ev.AcceptedMaterial(code="M1", name="申请表", supplied=True, core=True),
                   intake_ev.AcceptedMaterial(code="M2", name="户口簿", waived=True)])
    return json.loads(json_format.MessageToJson(msg, preserving_proto_field_name=True, indent=None,
                                                always_print_fields_with_no_presence=True))


def test_the_accepted_event_reads_the_same_by_constructor_and_by_json_format():
    body = _accepted_body()
    reference = intake_ev.ApplicationAccepted()
    json_format.ParseDict(body, reference)
    read = envelope(body).message
    assert read(intake_ev.ApplicationAccepted) == reference
    # what the constructor refuses, json_format reads: camelCase names, integers as strings, unknown fields
    assert envelope({**body, "item_version": "3"}).message(intake_ev.ApplicationAccepted) == reference
    camel = {k: v for k, v in body.items() if k != "promised_limit_days"} | {"promisedLimitDays": 10}
    assert envelope(camel).message(intake_ev.ApplicationAccepted) == reference
    assert envelope({**body, "added_in_a_later_version": {"x": 1}}).message(intake_ev.ApplicationAccepted) == \
        reference


@pytest.mark.parametrize("bad", [{"item_version": "three"}, {"materials": [{"code": 5}]}, {"joint": "yes"},
                                 {"accepted_at": 20260302}])
def test_an_unreadable_accepted_event_is_poison(bad):
    with pytest.raises(PoisonMessage):
        envelope({**_accepted_body(), **bad}).message(intake_ev.ApplicationAccepted)


def test_an_accepted_event_that_is_not_an_object_or_names_another_tenant_is_poison():
    with pytest.raises(PoisonMessage):
        envelope(["not", "an", "object"]).message(intake_ev.ApplicationAccepted)
    with pytest.raises(PoisonMessage):
        envelope(_accepted_body(), tenant="513221").message(intake_ev.ApplicationAccepted)


def test_the_accepted_event_becomes_the_command_that_opens_the_case():
    env = envelope(_accepted_body())
    cmd = open_case_command(env.message(intake_ev.ApplicationAccepted), env)
    assert isinstance(cmd, OpenCase) and cmd.validate() is cmd
    assert (cmd.case_number, cmd.item_version, cmd.item_name, cmd.joint, cmd.joint_departments, cmd.fee_codes) == (
        "62060220260302000001", 3, "i-1", True, ("规划",), ("F1",))
    assert cmd.accepted_at == dt.datetime(2026, 3, 2, 10, tzinfo=CHINA_TZ) and cmd.accepted_on == dt.date(2026, 3, 2)
    assert [(m["code"], m["waived"], m["core"]) for m in cmd.materials] == [("M1", False, True), ("M2", True, False)]
    # 即办 by the case kind; the case number from the correlation id when the body has none; an instant
    # without an offset is Beijing time
    body = {**_accepted_body(), "case_kind": "1", "case_number": "", "accepted_at": "2026-03-02T23:30:00"}
    env = envelope(body, correlation_id="620602-C-1")
    cmd = open_case_command(env.message(intake_ev.ApplicationAccepted), env)
    assert cmd.immediate and cmd.case_number == "620602-C-1" and cmd.accepted_on == dt.date(2026, 3, 2)


@pytest.mark.parametrize("accepted_at", ["", "yesterday"])
def test_an_accepted_event_without_a_usable_time_is_poison(accepted_at):
    env = envelope({**_accepted_body(), "accepted_at": accepted_at})
    with pytest.raises(PoisonMessage, match="application_accepted unusable: accepted_at"):
        open_case_command(env.message(intake_ev.ApplicationAccepted), env)


# -- the other events in -----------------------------------------------------------------------------
def test_fees_settled_becomes_the_settlement():
    env = wire(fees_ev.FeesSettled(case_number="620602-C-2", tenant="620602", paid_fen=12_000, waived_fen=500,
                                   at="2026-09-21T09:00:00+08:00", waived_in_full=False))
    cmd = settle_fees_command(env.message(fees_ev.FeesSettled), env)      # int64 travels as a string
    assert (cmd.case_number, cmd.paid_fen, cmd.waived_fen, cmd.waived_in_full) == ("620602-C-2", 12_000, 500, False)
    assert cmd.settled_at == dt.datetime(2026, 9, 21, 9, tzinfo=CHINA_TZ)
    bare = envelope({"tenant": "620602"}, "fees_settled", correlation_id="620602-C-3")
    cmd = settle_fees_command(bare.message(fees_ev.FeesSettled), bare)
    assert (cmd.case_number, cmd.settled_at) == ("620602-C-3", None)
    for env in (envelope({}, "fees_settled"), envelope({"case_number": "n", "at": "soon"}, "fees_settled")):
        with pytest.raises(PoisonMessage):
            settle_fees_command(env.message(fees_ev.FeesSettled), env)


def test_result_picked_up_and_application_terminated_become_their_commands():
    env = wire(intake_ev.ResultPickedUp(case_number="620602-C-4", tenant="620602", channel="post",
                                        picked_up_at="2026-09-22T15:00:00+08:00", picked_up_by="金桂芳",
                                        tracking_number="EMS1"))
    cmd = pick_up_command(env.message(intake_ev.ResultPickedUp), env)
    assert (cmd.case_number, cmd.channel, cmd.recorded_by, cmd.picked_up_by, cmd.tracking_number) == (
        "620602-C-4", "post", "system", "金桂芳", "EMS1")
    assert cmd.picked_up_at == dt.datetime(2026, 9, 22, 15, tzinfo=CHINA_TZ)
    defaults = envelope({"case_number": "620602-C-5"}, "result_picked_up")
    cmd = pick_up_command(defaults.message(intake_ev.ResultPickedUp), defaults)
    assert (cmd.channel, cmd.picked_up_at) == ("window", None)
    for body in ({}, {"case_number": "n", "picked_up_at": "noon"}):
        env = envelope(body, "result_picked_up")
        with pytest.raises(PoisonMessage):
            pick_up_command(env.message(intake_ev.ResultPickedUp), env)
    env = wire(intake_ev.ApplicationTerminated(case_number="620602-C-6", tenant="620602", reason="逾期未补交"))
    assert terminate_command(env.message(intake_ev.ApplicationTerminated), env).reason == "逾期未补交"
    env = envelope({"reason": "x"}, "application_terminated")
    with pytest.raises(PoisonMessage):
        terminate_command(env.message(intake_ev.ApplicationTerminated), env)


# -- events out ----------------------------------------------------------------------------------------
def test_events_out_write_what_the_handlers_computed():
    env = envelope(_accepted_body())
    now = dt.datetime(2026, 3, 2, 11, tzinfo=CHINA_TZ)
    case = Case.open(open_case_command(env.message(intake_ev.ApplicationAccepted), env), case_id="c-1",
                     tenant="620602", category="investment", now=now)
    out = EventsOut()
    opened = out.case_opened(case, case.promised_deadline(CAL), case.statutory_deadline(CAL), now)
    assert (opened.case_number, opened.category, opened.joint, opened.opened_at) == (
        "62060220260302000001", "investment", True, now.isoformat())
    assert opened.promised.due == case.promised_deadline(CAL).due.isoformat() and len(opened.promised.trace) > 0
    completed = out.case_completed(case, True, None)
    assert (completed.late, completed.outcome, completed.fees_settled, completed.HasField("delivery")) == (
        True, "", False, False)
    assert event_type_of(opened) == "case_opened" and event_type_of(completed) == "case_completed"
