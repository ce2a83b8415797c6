"""The complaint rules come from the province's record (issue 23, item 3): Gansu's administrator sets the
rectification days at the catalogue and a new 差评's rectification is due on them; another province's tenants keep
theirs; without a record the defaults (domain.ComplaintRules) hold."""

from __future__ import annotations

from sanji.complaints.v1 import complaints_pb2 as pb

from services.catalogue.province_handlers import ProvinceHandlers
from shared.tenancy import DivisionCode, Principal, Role

from .conftest import COUNTY

GANSU_ADMIN = Principal(subject="test:gansu-admin", username="gansu.admin", tenant=DivisionCode("62"),
                        roles=frozenset({str(Role.TENANT_ADMIN)}))


def test_a_rectification_is_due_on_the_provinces_own_days(as_, put_case, handlers, catalogue_db):
    complaints, _ = handlers
    provinces = ProvinceHandlers(catalogue_db)
    before = provinces.get("62")
    assert complaints.rules(COUNTY).rectification_days == before.rectification_days == 15
    assert complaints.rules("990101").rectification_days == 15            # no record: the default
    try:
        provinces.put(GANSU_ADMIN, "62", {"name": before.name, "rectification_days": 10})
        complaints.rules.invalidate()
        assert complaints.rules(COUNTY).rectification_days == 10 and complaints.rules("513221").rectification_days == 15
        number, suffix = put_case(COUNTY)
        r = as_(None).RateCase(pb.RateCaseRequest(case_number=number, id_suffix=suffix, level=5, text="没办成"))
        x = as_("county.complaints").GetRectification(pb.GetRectificationRequest(rectification_id=r.rectification_id))
        # 10 working days after the eve of National Day (10-01…10-07 off, Saturday 10-10 worked): 10-20, not 10-27
        assert x.due_on == "2026-10-20" and "计第10个工作日" in x.due_trace
    finally:
        provinces.put(GANSU_ADMIN, "62", {"name": before.name, "rectification_days": before.rectification_days,
                                          "complaint_working_days": before.complaint_working_days})
        complaints.rules.invalidate()
