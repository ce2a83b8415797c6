"""Accepting takes an idempotency key like submitting does (issue 20 item 7): a retry after a lost reply gets
the acceptance already made — the same case number, no second application_accepted — instead of a 409 that
leaves the client to look; another key, or none, on an accepted application is still refused."""

from __future__ import annotations

import grpc
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.domain import Status
from services.intake.tests.conftest import err, field_of, key, outbox, submit_request
from services.intake.tests.test_domain import CAL, TODAY, at, issued, receive


def test_the_domain_knows_a_retry_of_its_acceptance():
    app = receive()
    assert not app.accepted_with("k-1")
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, key="k-1", **issued())
    assert app.status == Status.ACCEPTED and app.accepted_with("k-1")
    assert not app.accepted_with("k-2") and not app.accepted_with("")


def test_a_retried_acceptance_with_its_key_gets_the_same_case(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    k = key("accept")
    first = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, idempotency_key=k))
    again = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, idempotency_key=k))
    assert first.status == again.status == pb.APPLICATION_STATUS_ACCEPTED
    assert again.case_number == first.case_number and again.query_code == first.query_code
    events = [e[0] for e in outbox(intake_db, app.id, first.case_number)]
    assert events.count("application_accepted") == 1
    for other in (key("other"), ""):
        e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id, idempotency_key=other))
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_malformed_acceptance_key_is_refused_naming_the_field(clerk, township_item):
    app = clerk.SubmitApplication(submit_request(township_item))
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id, idempotency_key="有 空格"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "idempotency_key"
