"""Calls around the rules (issue 15, item 3): a proxy submission reaches intake only through the agency service.

Before: services forwarded the person's token and nothing else, so a village agent could call
SubmitProxyApplication on intake's gRPC port directly — skipping agency's record of the resident's signed
authorisation — and name any proxy request id it liked: a made-up one (its progress events then filled
agency's dead-letter queue) or another request's (whose progress it then took over, blocking it).
Now the method is internal to the platform: only the agency service, with its own client-credentials token
beside the agent's, may call it; and a proxy request id names one application, refused at the call when it
already names another. Everything here goes through intake's real gRPC server with the platform's chain.
"""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from services.intake.commands import SubmitCommand
from services.intake.tests.conftest import TOWNSHIP, VILLAGE, err, field_of, outbox_count, proxy_request
from services.intake.translate import proxy_command
from shared.errors import PermissionDenied
from tests.support import Caller

CODE = grpc.StatusCode


def applications_for(intake_db, request_id: str) -> int:
    """Applications naming the proxy request, at any unit (the owner's view, RLS aside)."""
    with intake_db.engine.connect() as c:
        c.execute(text("SELECT set_config('app.tenant', '62', false), set_config('app.subtree', 'on', false)"))
        return c.execute(text("SELECT count(*) FROM intake.applications WHERE proxy_request_id = :r"),
                         {"r": request_id}).scalar()


def test_a_village_agent_calling_intake_directly_is_refused_and_nothing_is_written(as_user, intake_stub, tokens,
                                                                                  catalogue_items, intake_db, today):
    req = proxy_request(catalogue_items["township"])
    before = outbox_count(intake_db)
    # the agent's own token, straight at intake's port: no service credential
    e = err(as_user("nanyuan.agent").SubmitProxyApplication, req)
    assert e.code() == CODE.UNAUTHENTICATED
    # the agent's token offered as a service credential too: a person is no service
    forged = (("authorization", f"Bearer {tokens['nanyuan.agent']}"),
              ("x-sanji-service", f"Bearer {tokens['nanyuan.agent']}"))
    e = err(intake_stub.SubmitProxyApplication, req, metadata=forged, timeout=10)
    assert e.code() == CODE.UNAUTHENTICATED
    # a garbled service token
    e = err(intake_stub.SubmitProxyApplication, req, timeout=10, metadata=(
        ("authorization", f"Bearer {tokens['nanyuan.agent']}"), ("x-sanji-service", "Bearer not.a.token")))
    assert e.code() == CODE.UNAUTHENTICATED
    assert applications_for(intake_db, req.proxy_request_id) == 0 and outbox_count(intake_db) == before


def test_another_services_credential_is_refused(intake_stub, tokens, service_credentials, catalogue_items, intake_db,
                                               today):
    req = proxy_request(catalogue_items["township"])
    for service in ("fees", "approval", "catalogue", "intake"):
        caller = Caller(intake_stub, tokens["nanyuan.agent"], service=service_credentials(service))
        e = err(caller.SubmitProxyApplication, req)
        assert e.code() == CODE.PERMISSION_DENIED and "内部服务" in e.details(), service
    assert applications_for(intake_db, req.proxy_request_id) == 0


def test_the_agency_credential_alone_acts_for_no_one(intake_stub, service_credentials, catalogue_items, today):
    caller = Caller(intake_stub, None, service=service_credentials("agency"))
    assert err(caller.SubmitProxyApplication, proxy_request(catalogue_items["township"])).code() == \
        CODE.UNAUTHENTICATED


def test_the_agency_path_works_and_a_public_or_window_method_needs_no_service(via_agency, clerk, catalogue_items,
                                                                               intake_db, today):
    req = proxy_request(catalogue_items["township"])
    app = via_agency("nanyuan.agent").SubmitProxyApplication(req)
    assert (app.tenant, app.proxy_tenant, app.proxy_request_id) == (TOWNSHIP, VILLAGE, req.proxy_request_id)
    assert applications_for(intake_db, req.proxy_request_id) == 1
    # the window's own methods stay what they were: the clerk's token alone
    assert clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).proxy_request_id == \
        req.proxy_request_id


def test_a_proxy_request_id_names_one_application_refused_at_the_call(via_agency, catalogue_items, intake_db,
                                                                      today):
    """The made-up id case: an id that is no request id at all is refused; one that already names an
    application — the same point's with another key, or another village's — is refused at the call, so
    no application can take over (and block) another request's progress. The same submission again is
    the same application."""
    township = catalogue_items["township"]
    mine = proxy_request(township)
    first = via_agency("nanyuan.agent").SubmitProxyApplication(mine)
    assert via_agency("nanyuan.agent").SubmitProxyApplication(mine).id == first.id        # a retry: the same
    before = outbox_count(intake_db)
    again = proxy_request(township, proxy_request_id=mine.proxy_request_id)                # another key
    e = err(via_agency("nanyuan.agent").SubmitProxyApplication, again)
    assert e.code() == CODE.ALREADY_EXISTS and field_of(e) == "proxy_request_id" and not e.details().isascii()
    county = proxy_request(catalogue_items["county"], proxy_request_id=mine.proxy_request_id)   # another unit
    e = err(via_agency("nanyuan.agent").SubmitProxyApplication, county)
    assert e.code() == CODE.ALREADY_EXISTS and field_of(e) == "proxy_request_id"
    for made_up in ("1", "' OR 1=1 --", "x" * 65, str(uuid.uuid4())[:-1]):
        e = err(via_agency("nanyuan.agent").SubmitProxyApplication, proxy_request(township, proxy_request_id=made_up))
        assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "proxy_request_id", made_up
    assert applications_for(intake_db, mine.proxy_request_id) == 1 and outbox_count(intake_db) == before


def test_another_proxy_points_request_id_is_refused_once_used(via_agency, catalogue_items, intake_db, today):
    theirs = proxy_request(catalogue_items["county"])           # the county's key-project agent's request
    via_agency("county.agent").SubmitProxyApplication(theirs)
    e = err(via_agency("nanyuan.agent").SubmitProxyApplication,
            proxy_request(catalogue_items["county"], proxy_request_id=theirs.proxy_request_id))
    assert e.code() == CODE.ALREADY_EXISTS and field_of(e) == "proxy_request_id"
    assert applications_for(intake_db, theirs.proxy_request_id) == 1


def test_the_same_submission_made_concurrently_is_one_application(via_agency, catalogue_items, intake_db, today):
    req = proxy_request(catalogue_items["township"])
    agent = via_agency("nanyuan.agent")
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: agent.SubmitProxyApplication(req).id, range(8)))
    assert len(ids) == 1 and applications_for(intake_db, req.proxy_request_id) == 1


def test_the_use_case_itself_takes_proxy_submissions_from_the_agency_only(intake_handlers, verifier, tokens,
                                                                          catalogue_items, today):
    """The server refuses first; the rule is said again where it lives, so no other wiring can skip it."""
    agent = verifier.verify(tokens["nanyuan.agent"])
    cmd: SubmitCommand = proxy_command(proxy_request(catalogue_items["township"]))
    for via in ("", "fees"):
        with pytest.raises(PermissionDenied, match="帮办代办"):
            intake_handlers.submit_proxy(dataclasses.replace(agent, via=via), cmd)
