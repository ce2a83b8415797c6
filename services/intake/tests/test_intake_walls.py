"""The intake's walls through its gRPC API: the village proxy hand-off (the one documented crossing), tenant
isolation of reads and decisions, RLS on every table, case-number sequences per tenant."""

from __future__ import annotations

import grpc
import pytest
from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from services.intake.tests.conftest import (
    COUNTY,
    SIBLING,
    TOWNSHIP,
    VILLAGE,
    err,
    field_of,
    notice_pdf,
    outbox,
    proxy_request,
    rid,
    submit_request,
    whole_list,
)
from tests.support import report_from_approval

CODE = grpc.StatusCode


# -- village proxy ---------------------------------------------------------------------------------------
def test_village_proxy_lands_in_the_township_and_the_village_cannot_read_it(as_user, via_agency, clerk,
                                                                            township_item, intake_db,
                                                                            intake_handlers, today):
    agent = via_agency("nanyuan.agent")
    req = proxy_request(township_item)
    app = agent.SubmitProxyApplication(req)
    assert (app.tenant, app.proxy_tenant, app.proxy_request_id) == (TOWNSHIP, VILLAGE, req.proxy_request_id)
    assert {m.supplied_via for m in app.materials} == {f"village:{VILLAGE}"} and all(m.supplied for m in app.materials)
    assert not app.history and not app.notices                     # a receipt, not the case file
    assert agent.SubmitProxyApplication(req).id == app.id          # idempotent
    # the township window sees it and accepts it without asking for the materials again
    seen = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert seen.proxy_tenant == VILLAGE and seen.history[0].what == "received"
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED
    assert "经代办点" in notice_pdf(clerk, accepted, "acceptance")
    # the village reads none of it: not through the API, not through SQL
    for user in ("nanyuan.admin",):
        e = err(as_user(user).GetApplication, pb.GetApplicationRequest(application_id=app.id))
        assert e.code() == CODE.NOT_FOUND
        listed = as_user(user).ListApplications(pb.ListApplicationsRequest(limit=200))
        assert app.id not in {a.id for a in listed.applications}
    with intake_db.unit_of_work(tenant=VILLAGE) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE id = :i"),
                                   {"i": app.id}).scalar() == 0
    # it hears of progress by events addressed to its own tenant
    events = outbox(intake_db, app.id, accepted.case_number)
    assert [(e[0], e[2]) for e in events] == [
        ("application_submitted", TOWNSHIP), ("proxy_application_progressed", VILLAGE),
        ("application_accepted", TOWNSHIP), ("proxy_application_progressed", VILLAGE)]
    assert events[1][1]["step"] == "submitted" and events[1][1]["proxy_request_id"] == req.proxy_request_id
    assert events[0][1]["proxy_tenant"] == VILLAGE and events[2][1]["proxy_tenant"] == VILLAGE
    assert events[3][1]["step"] == "accepted" and events[3][1]["case_number"] == accepted.case_number
    # the village gives the resident the query code (it acts for them under a signed authorisation)
    assert events[3][1]["query_code"] == accepted.query_code and not events[1][1].get("query_code")
    # decided and completed by the back office: the village hears of both; the pick-up goes back the same way
    report_from_approval(intake_handlers, intake_db, TOWNSHIP, accepted.case_number)
    steps = [e[1].get("step") for e in outbox(intake_db, accepted.case_number)
             if e[0] == "proxy_application_progressed"]
    assert steps[-2:] == ["decided", "result_ready"]
    done = clerk.RecordPickup(pb.RecordPickupRequest(application_id=app.id, picked_up_by="金桂芳", id_number=rid(),
                                                     channel="village", what="批准书"))
    assert done.status == pb.APPLICATION_STATUS_PICKED_UP
    last = outbox(intake_db, accepted.case_number)[-2:]
    assert [(e[0], e[2], e[1].get("step")) for e in last] == [("result_picked_up", TOWNSHIP, None),
                                                              ("proxy_application_progressed", VILLAGE, "picked_up")]


def test_village_proxy_of_a_county_item_reaches_the_county_window(as_user, via_agency, catalogue_items, intake_db,
                                                                  today):
    app = via_agency("nanyuan.agent").SubmitProxyApplication(proxy_request(catalogue_items["county"]))
    assert app.tenant == COUNTY and app.handling_unit_name == "凉州区"
    accepted = as_user("county.clerk").AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.case_number.startswith("620602000000")
    e = err(as_user("dongdajie.clerk").GetApplication, pb.GetApplicationRequest(application_id=app.id))
    assert e.code() == CODE.NOT_FOUND
    # the back office opens the case with the item's own rule for its site inspection (现场踏勘)
    event = next(e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_accepted")
    assert event[1]["site_inspection"] == "suspends"


def test_proxy_is_refused_outside_the_proxy_list_and_for_other_roles(as_user, via_agency, clerk, catalogue_items,
                                                                    today):
    e = err(via_agency("dazhong.agent").SubmitProxyApplication, proxy_request(catalogue_items["township"]))
    assert e.code() == CODE.FAILED_PRECONDITION and field_of(e) == "item_id"
    e = err(via_agency("dongdajie.clerk").SubmitProxyApplication, proxy_request(catalogue_items["township"]))
    assert e.code() == CODE.PERMISSION_DENIED
    e = err(as_user("nanyuan.agent").SubmitApplication, submit_request(catalogue_items["township"]))
    assert e.code() == CODE.PERMISSION_DENIED
    e = err(via_agency("nanyuan.agent").SubmitProxyApplication, proxy_request(catalogue_items["township"],
                                                                              proxy_request_id=""))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "proxy_request_id"
    # the receiving unit's records are not prefilled into a proxy submission (the receipt would show them)
    number = rid()
    clerk.SubmitApplication(submit_request(catalogue_items["township"], applicant=pb.Applicant(
        name="钱七", id_number=number, phone="13911112222")))
    e = err(via_agency("nanyuan.agent").SubmitProxyApplication, proxy_request(
        catalogue_items["township"], applicant=pb.Applicant(id_number=number)))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "applicant.name" and "钱七" not in e.details()


# -- walls ---------------------------------------------------------------------------------------------
def test_tenant_isolation_of_reads_and_decisions(as_user, clerk, township_item, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    accept = pb.AcceptApplicationRequest(application_id=app.id)
    get = pb.GetApplicationRequest(application_id=app.id)
    sibling = as_user("xidajie.clerk")
    for call in (lambda: sibling.GetApplication(get), lambda: sibling.AcceptApplication(accept),
                 lambda: sibling.RejectApplication(pb.RejectApplicationRequest(application_id=app.id, reason="x")),
                 lambda: sibling.RequestCorrection(pb.RequestCorrectionRequest(
                     application_id=app.id, items=[pb.CorrectionItem(material_code="M1")]))):
        assert err(call).code() == CODE.NOT_FOUND
    assert app.id not in {a.id for a in whole_list(sibling)}
    county_clerk = as_user("county.clerk")                     # the county window is not a supervisor
    assert err(county_clerk.GetApplication, get).code() == CODE.NOT_FOUND
    assert err(county_clerk.AcceptApplication, accept).code() == CODE.NOT_FOUND
    assert err(as_user("wenchuan.admin").GetApplication, get).code() == CODE.NOT_FOUND
    supervisor = as_user("county.supervisor")
    assert supervisor.GetApplication(get).id == app.id
    subtree = whole_list(supervisor, subtree=True)
    assert app.id in {a.id for a in subtree} and all(a.tenant.startswith(COUNTY) for a in subtree)
    assert app.id not in {a.id for a in whole_list(supervisor)}
    e = err(supervisor.AcceptApplication, accept)
    assert e.code() == CODE.PERMISSION_DENIED                  # read-only supervision
    e = err(clerk.ListApplications, pb.ListApplicationsRequest(subtree=True))
    assert e.code() == CODE.PERMISSION_DENIED
    mine = whole_list(clerk, status=pb.APPLICATION_STATUS_RECEIVED)
    assert app.id in {a.id for a in mine}
    # the window's own, and those it collected for the county (代收), in the status asked for
    assert all(TOWNSHIP in (a.tenant, a.collect_tenant) and a.status == pb.APPLICATION_STATUS_RECEIVED for a in mine)


def test_rls_alone_walls_every_intake_table(clerk, township_item, intake_db, today):
    app = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id))
    with intake_db.unit_of_work(tenant=SIBLING) as uow:
        s = uow.session
        for table, col in (("applications", "id"), ("notices", "application_id"), ("deadlines", "application_id")):
            assert s.execute(text(f"SELECT count(*) FROM intake.{table} WHERE {col} = :i"), {"i": app.id}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM intake.applicant_profiles WHERE tenant_code = :t"),
                         {"t": TOWNSHIP}).scalar() == 0
        assert s.execute(text("UPDATE intake.applications SET status = 'rejected' WHERE id = :i"),
                         {"i": app.id}).rowcount == 0
        with pytest.raises(Exception, match="row-level security"):
            s.execute(text("INSERT INTO intake.applicant_profiles (tenant_code, id_number, data)"
                           " VALUES (:t, 'x', '{}')"), {"t": TOWNSHIP})
    with intake_db.unit_of_work() as uow:                       # public: no application at all
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications")).scalar() == 0
    with intake_db.engine.connect() as c:                        # no tenant bound: nothing
        assert c.execute(text("SELECT count(*) FROM intake.applications")).scalar() == 0
        owners = set(c.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'intake'")).scalars())
        assert owners == {"sanji_owner"}
        forced = set(c.execute(text("SELECT relname FROM pg_class WHERE relnamespace = 'intake'::regnamespace"
                                    " AND relrowsecurity AND relforcerowsecurity")).scalars())
        assert {"applications", "deadlines", "notices", "applicant_profiles"} <= forced
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE id = :i"),
                                   {"i": app.id}).scalar() == 1


def test_case_number_sequences_are_drawn_only_for_the_bound_tenant(clerk, township_item, intake_db, today):
    number = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id)).case_number
    year = int(number[12:16])                                  # 12-digit unit code, then the date
    seq_name = f"intake.case_seq_{TOWNSHIP}_{year}"
    for bound, y, refusal in ((SIBLING, year, "bound to"), (TOWNSHIP, 1999, "no case-number sequence")):
        with intake_db.unit_of_work(tenant=bound) as uow:
            with pytest.raises(Exception, match=refusal):
                uow.session.execute(text("SELECT intake.next_case_sequence(:t, :y)"), {"t": TOWNSHIP, "y": y})
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:      # the application role cannot touch it directly
        with pytest.raises(Exception, match="permission denied"):
            uow.session.execute(text(f"SELECT nextval('{seq_name}')"))
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:      # the next draw follows the last number given
        nxt = uow.session.execute(text("SELECT intake.next_case_sequence(:t, :y)"),
                                  {"t": TOWNSHIP, "y": year}).scalar_one()
        assert nxt == int(number[-6:]) + 1
        uow.rollback()


def test_rls_alone_shows_the_public_lookup_one_row_and_only_for_its_secret(clerk, township_item, intake_db, today):
    """The lookup's wall on its own: a public transaction (no tenant) that sets the lookup's settings itself,
    as raw SQL would — the six-character suffix of the old scope opens nothing; the case number opens its row
    only with the digest of its query code or the full ID number, and never another case's row."""
    from services.intake.querycodes import query_code_digest

    number = rid()
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=clerk.SubmitApplication(
        submit_request(township_item, applicant=pb.Applicant(name="周八", id_number=number))).id))
    other = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id))
    case, code = accepted.case_number, accepted.query_code

    def visible(**settings: str) -> int:
        with intake_db.unit_of_work() as uow:
            for name, value in settings.items():
                uow.session.execute(text("SELECT set_config(:n, :v, true)"), {"n": f"app.{name}", "v": value})
            return uow.session.execute(text("SELECT count(*) FROM intake.applications")).scalar()

    assert visible(lookup_case=case, lookup_suffix=number[-6:]) == 0                    # the old key
    assert visible(lookup_case=case, lookup_code=code) == 0                             # the code, not its digest
    assert visible(lookup_case=case, lookup_code=query_code_digest(case, other.query_code)) == 0
    assert visible(lookup_case=other.case_number, lookup_code=query_code_digest(case, code)) == 0
    assert visible(lookup_case=case, lookup_id=number[-6:]) == 0
    assert visible(lookup_case=case, lookup_id="", lookup_code="") == 0
    assert visible(lookup_code=query_code_digest(case, code), lookup_id=number) == 0     # no case named
    assert visible(lookup_case=case, lookup_code=query_code_digest(case, code)) == 1
    assert visible(lookup_case=case, lookup_id=number) == 1
    with intake_db.engine.connect() as c:                    # the code is kept as a digest beside the row
        c.execute(text("SELECT set_config('app.tenant', :t, false)"), {"t": TOWNSHIP})
        kept = c.execute(text("SELECT query_code_hash FROM intake.applications WHERE case_number = :c"),
                         {"c": case}).scalar()
    assert kept == query_code_digest(case, code) and code not in kept
