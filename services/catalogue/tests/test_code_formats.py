"""A province's own item-code format as data (issue 23, item 3): 兴庆区 (640104, Ningxia) writes 12-character
basic and 31-character implementation codes; before Ningxia's format is configured they are refused with a
message that says how to configure it, after `set-code-format` they are accepted and the province's limit
holds — with no SQL and no migration."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.catalogue import admin
from services.catalogue.domain import Elements
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.translate import EventsOut
from shared.db import owner_connection
from shared.errors import InvalidArgument
from shared.tenancy import DivisionCode, Principal, Role

COUNTY = "640104"
ADMIN = Principal(subject="test:xingqing-admin", username="xingqing.admin", tenant=DivisionCode(COUNTY),
                  roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="兴庆区管理员")
BASIC_12 = "640104000123"
IMPLEMENTATION_31 = "11640104MB1234567X4000112300001"


def _elements(basic: str, implementation: str) -> Elements:
    return Elements.from_dict({
        "name": "城乡居民最低生活保障金给付", "basic_code": basic, "implementation_code": implementation,
        "item_type": "05", "exercise_level": "4", "case_kind": "2", "department": "兴庆区民政局",
        "legal_basis": "《社会救助暂行办法》", "acceptance_conditions": "家庭人均收入低于当地最低生活保障标准",
        "targets": ["natural_person"], "statutory_limit_days": 30, "promised_limit_days": 15,
        "scenarios": [{"code": "S1", "name": "首次申请", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True}]}]})


@pytest.fixture(scope="module")
def handlers(migrated, catalogue_db):
    admin.import_units(migrated.database_owner_url, f"code,name\n{COUNTY},兴庆区\n")
    with owner_connection(migrated.database_owner_url) as conn:
        conn.execute(text("DELETE FROM catalogue.code_formats WHERE province = '64'"))
    return CatalogueHandlers(catalogue_db, events_out=EventsOut())


def test_a_provinces_longer_codes_are_accepted_once_its_format_is_configured(migrated, handlers, capsys):
    with pytest.raises(InvalidArgument) as refused:
        handlers.create_item(ADMIN, _elements(BASIC_12, IMPLEMENTATION_31))
    assert refused.value.field == "elements.basic_code"
    assert "基本编码过长：12 位，按GB/T 39046-2020最多 10 位" in refused.value.message
    assert "本省未配置事项编码规则" in refused.value.message and "set-code-format" in refused.value.message

    assert admin.main(["set-code-format", "--province", "64", "--basic-max", "12", "--implementation-max", "31",
                       "--description", "宁夏回族自治区政务服务事项编码规则"], settings=migrated) == 0
    assert "已配置省 64 的事项编码规则" in capsys.readouterr().out
    row = handlers.create_item(ADMIN, _elements(BASIC_12, IMPLEMENTATION_31))
    assert row.elements["basic_code"] == BASIC_12 and row.elements["implementation_code"] == IMPLEMENTATION_31
    with pytest.raises(InvalidArgument) as refused:
        handlers.create_item(ADMIN, _elements(BASIC_12 + "9", IMPLEMENTATION_31))
    assert refused.value.message == "基本编码过长：13 位，按宁夏回族自治区政务服务事项编码规则最多 12 位"
    assert admin.main(["list-code-formats"], settings=migrated) == 0
    listing = capsys.readouterr().out
    assert "64\t基本编码 12\t实施编码 31" in listing and "（默认）\t基本编码 10" in listing


@pytest.mark.parametrize("args,message", [
    (["--province", "6", "--basic-max", "12", "--implementation-max", "31", "--description", "x"],
     "省代码应为 2 位数字"),
    (["--province", "65", "--basic-max", "0", "--implementation-max", "31", "--description", "x"],
     "basic_max 应在 1 到 64 之间"),
    (["--province", "65", "--basic-max", "12", "--implementation-max", "31", "--description", " "],
     "请填写编码规则的名称"),
])
def test_a_bad_format_is_refused_naming_what_is_wrong(migrated, capsys, args, message):
    assert admin.main(["set-code-format", *args], settings=migrated) == admin.UNREADABLE
    assert message in capsys.readouterr().err
    with owner_connection(migrated.database_owner_url) as conn:
        assert conn.execute(text("SELECT count(*) FROM catalogue.code_formats WHERE province = '65'")).scalar() == 0
