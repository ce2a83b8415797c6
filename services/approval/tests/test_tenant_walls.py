"""The approval service's tenant walls: through the gRPC API with real tokens (a township's case is not
found by its sibling or, without supervision, by its county; it is decided with the township's own seal),
and in PostgreSQL itself, as the application role, whatever the service might ask."""

from __future__ import annotations

import grpc
import pytest
from sanji.approval.v1 import approval_pb2 as pb
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from services.approval.tests.conftest import get, reviewed, rpc_error, step_of

PD = grpc.StatusCode.PERMISSION_DENIED
NF = grpc.StatusCode.NOT_FOUND


def test_tenant_isolation_through_grpc(bus, as_, approval_db):
    msg = bus.accepted("620602001")                              # a case of the 东大街 township
    own = get(as_, msg.case_number, "dongdajie.reviewer")
    assert own.tenant == "620602001"
    for user in ("xidajie.reviewer", "county.reviewer"):         # a sibling township; the county (not supervision)
        e = rpc_error(as_(user).GetCase, pb.GetCaseRequest(case_id=own.id))
        assert e.code() == NF
        e = rpc_error(as_(user).ClaimTask, pb.ClaimTaskRequest(step_id=own.steps[0].id))
        assert e.code() == NF
        e = rpc_error(as_(user).GetCase, pb.GetCaseRequest(case_number=msg.case_number))
        assert e.code() == NF
    queue = as_("xidajie.reviewer").ListQueue(pb.ListQueueRequest(limit=200))
    assert msg.case_number not in [t.case_number for t in queue.tasks]
    e = rpc_error(as_("county.admin").PublishCalendarYear, pb.PublishCalendarYearRequest(
        year=2028, holidays={"2028-01-01": "元旦"}, region="513221"))
    assert e.code() == PD
    assert as_("county.supervisor").GetCase(pb.GetCaseRequest(case_id=own.id)).tenant == "620602001"
    # the township decides its own case with its own seal
    reviewed(as_, msg.case_number, "dongdajie.reviewer", viewer="dongdajie.reviewer")
    case = get(as_, msg.case_number, "dongdajie.reviewer")
    as_("dongdajie.decider").ClaimTask(pb.ClaimTaskRequest(step_id=step_of(case, "decision").id))
    case = as_("dongdajie.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert case.certificate.seal_name == "凉州区东大街街道便民服务中心审批专用章"
    assert case.certificate.number.startswith("620602001-2026-XK")


def test_row_level_security_as_the_application_role(bus, as_, approval_settings):
    msg = bus.accepted("620602001")
    case_id = get(as_, msg.case_number, "dongdajie.reviewer").id
    engine = create_engine(approval_settings.database_url)
    try:
        def visible(tenant: str | None, subtree: str = "off") -> int:
            with engine.begin() as conn:
                if tenant is not None:
                    conn.execute(text("SELECT set_config('app.tenant', :t, true), set_config('app.subtree', :s, true)"),
                                 {"t": tenant, "s": subtree})
                return conn.execute(text(
                    "SELECT (SELECT count(*) FROM approval.cases WHERE id = :i)"
                    " + (SELECT count(*) FROM approval.steps WHERE case_id = :i)"
                    " + (SELECT count(*) FROM approval.history WHERE case_id = :i)"), {"i": case_id}).scalar_one()

        assert visible("620602001") >= 4
        assert visible("620602002") == 0                         # a sibling township
        assert visible("620602") == 0                            # the county, without supervision
        assert visible("620602", "on") >= 4                      # the county's supervisor reads its subtree
        assert visible(None) == 0                                # no tenant bound: nothing
        with pytest.raises(ProgrammingError), engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.tenant', '620602002', true)"))
            conn.execute(text("INSERT INTO approval.seals (tenant_code, name, code, registered_by)"
                              " VALUES ('620602001', '伪造印章', 'x', 'x')"))
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.tenant', '620602002', true)"))
            updated = conn.execute(text("UPDATE approval.cases SET status = 'delivered' WHERE id = :i"),
                                   {"i": case_id}).rowcount
        assert updated == 0
    finally:
        engine.dispose()
