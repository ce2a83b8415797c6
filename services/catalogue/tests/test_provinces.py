"""Provinces as data (issue 23, item 3): several provinces' records side by side in one deployment, read by every
unit, each written only by its own province's administrator — the handler refuses another province's (or a
county's) administrator, and the table's policy refuses the write even when the handler is bypassed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.catalogue.province_handlers import ProvinceHandlers
from services.catalogue.provinces import ProvinceRecord
from shared.db import owner_connection
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role


def _admin(tenant: str, username: str) -> Principal:
    return Principal(subject=f"test:{username}", username=username, tenant=DivisionCode(tenant),
                     roles=frozenset({str(Role.TENANT_ADMIN)}))


NINGXIA = _admin("64", "ningxia.admin")
GANSU = _admin("62", "gansu.admin")
XINGQING = _admin("640104", "xingqing.admin")          # a county's administrator: below the province

NINGXIA_RECORD = {"name": "宁夏回族自治区", "payment_key_ref": "ningxia-pay-2026", "rectification_days": 10,
                  "complaint_working_days": True, "n_tong": ["事项名称", "事项类型", "设定依据", "申请材料"]}


@pytest.fixture
def provinces(migrated, catalogue_db):
    yield ProvinceHandlers(catalogue_db)
    with owner_connection(migrated.database_owner_url) as conn:
        conn.execute(text("SELECT set_config('app.tenant', '64', true)"))
        conn.execute(text("DELETE FROM catalogue.provinces WHERE tenant_code = '64'"))


def test_several_provinces_each_managed_by_its_own_administrator(provinces):
    with pytest.raises(NotFound):
        provinces.get("64")
    record = provinces.put(NINGXIA, "64", NINGXIA_RECORD)
    assert record == ProvinceRecord(tenant_code="64", name="宁夏回族自治区", calendar_region="64",
                                    payment_key_ref="ningxia-pay-2026", n_tong=tuple(NINGXIA_RECORD["n_tong"]),
                                    complaint_working_days=True, rectification_days=10, updated_by="ningxia.admin")
    assert [r.tenant_code for r in provinces.list()] == ["51", "62", "64"]      # one deployment, three provinces
    assert provinces.get("62").rectification_days == 15 and provinces.get("62").name == "甘肃省"
    # an update by the same administrator
    assert provinces.put(NINGXIA, "64", {**NINGXIA_RECORD, "rectification_days": 7}).rectification_days == 7


def test_one_provinces_admin_cannot_touch_another_provinces_record(provinces, migrated, catalogue_db):
    before = provinces.get("62")
    with pytest.raises(PermissionDenied):
        provinces.put(NINGXIA, "62", {"name": "甘肃省", "rectification_days": 1})
    with pytest.raises(PermissionDenied):
        provinces.put(XINGQING, "64", NINGXIA_RECORD)                          # a county is not the province
    with pytest.raises(PermissionDenied):
        provinces.put(Principal(subject="t:c", username="clerk", tenant=DivisionCode("64"),
                                roles=frozenset({str(Role.WINDOW_CLERK)})), "64", NINGXIA_RECORD)
    # below the handler: a transaction bound to Ningxia neither changes nor creates Gansu's row
    with catalogue_db.unit_of_work(tenant="64") as uow:
        assert uow.execute(text("UPDATE catalogue.provinces SET rectification_days = 1 WHERE tenant_code = '62'")) == 0
        uow.commit()
    with pytest.raises(Exception, match="row-level security"), catalogue_db.unit_of_work(tenant="64") as uow:
        uow.execute(text("INSERT INTO catalogue.provinces (tenant_code, name, calendar_region)"
                         " VALUES ('65', '新疆', '65')"))
    assert provinces.get("62") == before


@pytest.mark.parametrize("change,field_name", [
    ({"name": " "}, "name"),
    ({"calendar_region": "640104"}, "calendar_region"),
    ({"payment_key_ref": "-----BEGIN PRIVATE KEY-----"}, "payment_key_ref"),
    ({"n_tong": ["事项名称", "事项名称"]}, "n_tong"),
    ({"n_tong": "事项名称"}, "n_tong"),
    ({"rectification_days": 0}, "rectification_days"),
    ({"rectification_days": True}, "rectification_days"),
    ({"complaint_working_days": "是"}, "complaint_working_days"),
    ({"secret": "x"}, "secret"),
    ({"supervision_thresholds": {"case-promised-deadline.red_days": 1}}, "supervision_thresholds"),
    ({"supervision_thresholds": {"case-promised-deadline.yellow_working_days": 99}}, "supervision_thresholds"),
    ({"supervision_thresholds": [1]}, "supervision_thresholds"),
])
def test_a_bad_record_is_refused_naming_the_field(provinces, change, field_name):
    with pytest.raises(InvalidArgument) as info:
        provinces.put(NINGXIA, "64", {**NINGXIA_RECORD, **change})
    assert info.value.field == field_name and info.value.message
    with pytest.raises(InvalidArgument) as info:
        provinces.get("6")
    assert info.value.field == "tenant_code"
