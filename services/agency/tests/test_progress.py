"""Progress back to the resident: intake's ProxyApplicationProgressed events, published to the real
RabbitMQ in the real envelope, consumed by the agency's consumer (inbox, retries, dead letters).

The requests are submitted through the agency (to the real intake, in this process): progress is taken
only for a request the agency submitted, about its own application (issue 15)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sanji.agency.v1 import agency_pb2 as pb
from sqlalchemy import text

from services.agency.tests.conftest import COUNTY, SIBLING_VILLAGE, VILLAGE, proxy_request
from shared.db import relay_transaction

# the moment each test's events start from: just after its proxy request was submitted (set by the
# fixture), so "minutes after" always means after the notes the request already has
_t0 = [dt.datetime.now(dt.UTC)]


def at(minutes: int) -> str:
    return (_t0[0] + dt.timedelta(minutes=minutes)).isoformat()


def requested_and_assigned(as_, item) -> pb.ProxyRequest:
    r = as_("nanyuan.agent").RequestProxy(proxy_request(item))
    return as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))


@pytest.fixture
def assigned(as_, county_item):
    """Submitted upward by its agent (the fixture's name is the step the tests' events start after)."""
    r = requested_and_assigned(as_, county_item)
    done = as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id))
    assert done.status == pb.PROXY_REQUEST_STATUS_SUBMITTED and done.application_id
    _t0[0] = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
    return done


def get(as_, request_id: str) -> pb.ProxyRequest:
    return as_("nanyuan.agent").GetProxyRequest(pb.GetProxyRequestRequest(request_id=request_id))


def steps(r: pb.ProxyRequest) -> list[str]:
    return [n.step for n in r.progress]


def progressed(r: pb.ProxyRequest, step: str, minutes: int, **fields) -> dict:
    return {"proxy_request_id": r.id, "application_id": fields.pop("application_id", r.application_id),
            "handling_tenant": COUNTY, "step": step, "at": at(minutes), **fields}


def completed_events(agency_db, request_id: str) -> list[dict]:
    with relay_transaction(agency_db.engine) as c:
        rows = c.execute(text("SELECT body, tenant FROM agency.outbox WHERE routing_key = 'proxy_completed'"
                              " AND body::jsonb ->> 'request_id' = :r"), {"r": request_id}).all()
    return [{**json.loads(b), "_tenant": t} for b, t in rows]


def test_each_step_updates_the_village_record_and_tells_the_resident(as_, assigned, consumer, intake_events,
                                                                     agency_db):
    r = assigned
    flow = [
        progressed(r, "submitted", 1),
        progressed(r, "correction_requested", 2, material_codes=["M2", "M3"], detail="户口簿页面不清晰"),
        progressed(r, "materials_supplied", 3),
        progressed(r, "accepted", 4, case_number="620602-2026-000123"),
        progressed(r, "result_ready", 5, case_number="620602-2026-000123"),
        progressed(r, "picked_up", 6, case_number="620602-2026-000123", detail="代办员已取回并送达本人"),
    ]
    statuses = []
    for fields in flow:
        intake_events.publish(VILLAGE, **fields)
        assert consumer.drain(1) == 1
        statuses.append(get(as_, r.id).status)
    assert statuses == [pb.PROXY_REQUEST_STATUS_SUBMITTED, pb.PROXY_REQUEST_STATUS_CORRECTION,
                        pb.PROXY_REQUEST_STATUS_SUBMITTED, pb.PROXY_REQUEST_STATUS_ACCEPTED,
                        pb.PROXY_REQUEST_STATUS_RESULT_READY, pb.PROXY_REQUEST_STATUS_DELIVERED]
    final = get(as_, r.id)
    assert (final.application_id, final.case_number, final.handling_tenant) == (
        r.application_id, "620602-2026-000123", COUNTY)
    assert steps(final) == ["requested", "assigned", "submitted", "correction_requested", "materials_supplied",
                            "accepted", "result_ready", "picked_up"]
    notes = {n.step: n.text for n in final.progress}
    correction = notes["correction_requested"]
    assert "户口簿、银行卡（折）复印件" in correction and "户口簿页面不清晰" in correction
    assert "620602-2026-000123" in notes["accepted"] and "受理" in notes["accepted"]
    assert "可领取" in notes["result_ready"] and "已送达" in notes["picked_up"]
    assert consumer.stats.handled == 6 and consumer.stats.dead_lettered == 0
    [done] = completed_events(agency_db, r.id)
    assert done["_tenant"] == VILLAGE and done["case_number"] == "620602-2026-000123"
    assert done["application_id"] == r.application_id


def test_redelivery_is_a_no_op(as_, assigned, consumer, intake_events):
    row = intake_events.row(VILLAGE, **progressed(assigned, "accepted", 1, case_number="620602-2026-000200"))
    for _ in range(3):  # the same message (same event id) three times
        intake_events.publish_row(row)
    assert consumer.drain(3) == 3
    assert (consumer.stats.handled, consumer.stats.duplicates) == (1, 2)
    r = get(as_, assigned.id)
    assert r.status == pb.PROXY_REQUEST_STATUS_ACCEPTED and steps(r).count("accepted") == 1
    # a second event reporting the same step (a new event id) adds no second note either
    intake_events.publish(VILLAGE, **progressed(assigned, "accepted", 2, case_number="620602-2026-000200"))
    assert consumer.drain(1) == 1
    assert steps(get(as_, assigned.id)).count("accepted") == 1


def test_out_of_order_events_never_move_the_case_back(as_, assigned, consumer, intake_events, agency_db):
    r = assigned
    for fields in (progressed(r, "accepted", 3, case_number="620602-2026-000300"),   # before "submitted"
                   progressed(r, "submitted", 1),
                   progressed(r, "correction_requested", 2, material_codes=["M3"]),
                   progressed(r, "picked_up", 6),                                      # before "result_ready"
                   progressed(r, "result_ready", 5)):
        intake_events.publish(VILLAGE, **fields)
    assert consumer.drain(5) == 5
    final = get(as_, r.id)
    assert final.status == pb.PROXY_REQUEST_STATUS_DELIVERED and final.case_number == "620602-2026-000300"
    # the notes tell the story in the order it happened, not the order it arrived
    assert steps(final) == ["requested", "assigned", "submitted", "correction_requested", "accepted",
                            "result_ready", "picked_up"]
    assert len(completed_events(agency_db, r.id)) == 1


def test_rejection_tells_the_reason_and_the_remedies(as_, assigned, consumer, intake_events):
    intake_events.publish(VILLAGE, **progressed(assigned, "rejected", 1, detail="申请人未满80周岁，不符合申领条件"))
    assert consumer.drain(1) == 1
    r = get(as_, assigned.id)
    assert r.status == pb.PROXY_REQUEST_STATUS_REJECTED
    assert "未满80周岁" in r.progress[-1].text and "行政复议" in r.progress[-1].text


def test_progress_for_ids_never_issued_here_is_acknowledged_not_parked(as_, assigned, consumer, intake_events,
                                                                       agency_db):
    """Before: each of these went to the dead-letter queue (a made-up id filled it). Replaying them could never
    help: they are acknowledged, change nothing, and leave the dead-letter queue to what can be helped."""
    before = get(as_, assigned.id)
    intake_events.publish(VILLAGE, **{**progressed(assigned, "accepted", 1), "proxy_request_id": str(uuid.uuid4())})
    intake_events.publish(VILLAGE, **{**progressed(assigned, "accepted", 1), "proxy_request_id": "'; DROP TABLE x"})
    intake_events.publish(VILLAGE, **{**progressed(assigned, "accepted", 1), "proxy_request_id": ""})
    # a unit that does not own it (RLS: the sibling village cannot even see it)
    intake_events.publish_row(intake_events.row(SIBLING_VILLAGE, **progressed(assigned, "accepted", 1)))
    # another application than the one the agency submitted for it
    intake_events.publish(VILLAGE, **progressed(assigned, "accepted", 2, application_id=str(uuid.uuid4()),
                                                case_number="620602-2026-999999"))
    assert consumer.drain(5) == 5
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (5, 0)
    assert consumer.dead_letter_count(consumer.queue) == 0
    after = get(as_, assigned.id)
    assert (after.status, after.application_id, after.case_number) == (
        pb.PROXY_REQUEST_STATUS_SUBMITTED, assigned.application_id, "")
    assert steps(after) == steps(before) and not completed_events(agency_db, assigned.id)


def test_a_body_that_contradicts_its_envelope_is_still_parked(as_, assigned, consumer, intake_events):
    # the village named in the body differs from the envelope's: a broken (or forged) message, kept for people
    row = intake_events.row(VILLAGE, **progressed(assigned, "accepted", 1))
    row["body"] = row["body"].replace(f'"proxy_tenant": "{VILLAGE}"', f'"proxy_tenant": "{SIBLING_VILLAGE}"')
    intake_events.publish_row(row)
    assert consumer.drain(1) == 1
    assert consumer.stats.dead_lettered == 1 and consumer.stats.handled == 0
    [parked] = consumer.dead_letters(consumer.queue)
    assert parked.error.startswith("poison message")
    assert get(as_, assigned.id).status == pb.PROXY_REQUEST_STATUS_SUBMITTED


def test_progress_for_a_request_never_submitted_cannot_take_it_over(as_, county_item, consumer, intake_events):
    """Before: an application made by calling intake directly with another request's id attached itself to that
    request here, which then counted as submitted — its own submission was blocked. Now progress that names an
    application is taken only for a request the agency itself submitted."""
    r = requested_and_assigned(as_, county_item)
    stranger = str(uuid.uuid4())
    intake_events.publish(VILLAGE, **progressed(r, "submitted", 1, application_id=stranger))
    intake_events.publish(VILLAGE, **progressed(r, "accepted", 2, application_id=stranger,
                                                case_number="620602-2026-000777"))
    assert consumer.drain(2) == 2
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (2, 0)
    untouched = get(as_, r.id)
    assert (untouched.status, untouched.application_id, untouched.case_number) == (
        pb.PROXY_REQUEST_STATUS_ASSIGNED, "", "")
    assert steps(untouched) == ["requested", "assigned"]
    # the request is still the resident's: its agent submits it, to its own application
    done = as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id))
    assert done.status == pb.PROXY_REQUEST_STATUS_SUBMITTED and done.application_id not in ("", stranger)
