"""Approval's consumers in any order (issue 20 item 2): intake's application_accepted and
application_terminated come through two queues, so a termination may arrive before the case is opened.
It waits (the retry schedule) for the case instead of being dropped — dropped, the case would be opened
afterwards and stay open for ever."""

from __future__ import annotations

from sanji.approval.v1 import approval_pb2 as pb
from sanji.intake.v1 import events_pb2 as intake_ev

from services.approval.tests.conftest import accepted_event, get
from services.approval.tests.test_approval_grpc import outbox_types


def test_a_termination_that_arrives_before_the_case_ends_it_once_opened(bus, as_):
    msg = accepted_event()
    ended = intake_ev.ApplicationTerminated(application_id=msg.application_id, tenant="620602",
                                            case_number=msg.case_number, reason="容缺受理的材料逾期未补交，终止办理")
    bus.publish("intake", ended, "620602", msg.case_number)
    bus.drain(1)                                        # no case yet: sent to wait, not dropped
    assert bus.consumer.stats.retried >= 1
    bus.publish("intake", msg, "620602", msg.case_number)
    bus.drain(2)                                        # the case opens, then the termination comes back
    case = get(as_, msg.case_number)
    assert case.status == pb.CASE_STATUS_TERMINATED
    assert outbox_types(bus, msg.case_number).count("case_opened") == 1
    assert outbox_types(bus, msg.case_number).count("case_terminated") == 1
