"""One clock (issue 20 item 4): every service takes its dates from the platform `Clock`, so a drill that pins
the day sees that day in everything the services stamp — never the machine's date nor PostgreSQL's now().

Two halves: a scan of every service's source (so a new service or a new statement is covered without anyone
remembering) for the ways a real date sneaks in, and the pinned day seen in what the catalogue and fees
stamp through their real handlers and PostgreSQL (intake, approval, agency are pinned by their own tests and
the end-to-end drill: tests/test_e2e_*.py run on E2E_TODAY)."""

from __future__ import annotations

import ast
import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb

from services.catalogue import translate as catalogue_translate
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.translate import EventsOut as CatalogueEventsOut
from services.fees.catalogue_handlers import FeeCatalogueHandlers
from services.fees.demo import FEE_ITEMS
from services.fees.translate import EventsOut as FeesEventsOut
from shared.clock import CHINA_TZ, Clock
from shared.db import Database
from shared.tenancy import DivisionCode, Principal, Role

ROOT = Path(__file__).resolve().parent.parent
PINNED = dt.date(2026, 3, 17)          # a day that is not the machine's today
COUNTY = "620602"

# SQL that reads the database's clock for a date a person sees; `updated_at = now()` is bookkeeping
SQL_NOW = re.compile(r"(?<![\w.])(now\(\)|current_date|current_timestamp|localtimestamp)", re.IGNORECASE)
BOOKKEEPING = re.compile(r"updated_at\s*=\s*now\(\)", re.IGNORECASE)


def service_sources() -> list[Path]:
    """Every service module outside its tests and migrations (the migrations' column defaults are fallbacks
    for rows written without a time: the scan below makes sure the code writes one)."""
    return sorted(p for p in (ROOT / "services").rglob("*.py")
                  if "tests" not in p.parts and "migrations" not in p.parts and p.name != "demo.py")


def real_clock_calls(path: Path) -> list[str]:
    """`date.today()`, `datetime.now()`, `datetime.utcnow()`, `datetime.today()` and `time.time()` as dates."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (owner_name, name) in {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"),
                                      ("datetime", "today")}:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner_name}.{name}()")
    return found


def test_no_service_reads_a_date_but_from_the_clock():
    calls = [c for p in service_sources() for c in real_clock_calls(p)]
    sql_now = []
    for p in service_sources():
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            if SQL_NOW.search(BOOKKEEPING.sub("", line)):
                sql_now.append(f"{p.relative_to(ROOT)}:{n} {line.strip()}")
    print(f"scanned {len(service_sources())} service modules: {len(calls)} real-clock calls, "
          f"{len(sql_now)} SQL now()/current_date as a date")
    assert calls == []
    assert sql_now == []


def test_the_scan_finds_what_it_looks_for(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import datetime as dt\nx = dt.date.today()\ny = dt.datetime.now(dt.UTC)\n")
    assert len(real_clock_calls_at(planted, tmp_path)) == 2
    assert SQL_NOW.search("published_at = CASE WHEN :st = 'published' THEN now() END")
    assert not SQL_NOW.search(BOOKKEEPING.sub("", "SET updated_at = now() WHERE id = :id"))


def real_clock_calls_at(path: Path, root: Path) -> list[str]:
    global ROOT
    saved, ROOT = ROOT, root
    try:
        return real_clock_calls(path)
    finally:
        ROOT = saved


def local_day(stamp: dt.datetime) -> dt.date:
    return stamp.astimezone(CHINA_TZ).date()


def test_the_catalogue_stamps_the_pinned_day(migrated, catalogue_db: Database):
    clock = Clock(PINNED)
    handlers = CatalogueHandlers(catalogue_db, events_out=CatalogueEventsOut(), clock=clock)
    admin = Principal(subject="clock-test", username="clock.admin", tenant=DivisionCode(COUNTY),
                      roles=frozenset({str(Role.TENANT_ADMIN)}))
    message = json_format.ParseDict({
        "name": "农村村民宅基地审批", "basic_code": f"C{uuid.uuid4().hex[:8].upper()}", "item_type": "01",
        "exercise_level": "4", "case_kind": "2", "department": "凉州区农业农村局",
        "legal_basis": "《中华人民共和国土地管理法》第六十二条", "acceptance_conditions": "本集体经济组织成员",
        "targets": ["natural_person"], "statutory_limit_days": 20, "promised_limit_days": 10,
        "scenarios": [{"code": "S1", "name": "新建住房", "materials": [
            {"code": "M1", "name": "申请表", "core": True, "copies": 1}]}]}, pb.ItemElements())
    draft = handlers.create_item(admin, catalogue_translate.elements(message))
    published = handlers.publish(admin, draft.id)
    print(f"catalogue: created {local_day(draft.created_at)}, published {local_day(published.published_at)}")
    assert local_day(draft.created_at) == PINNED
    assert local_day(published.published_at) == PINNED
    guide, _, _ = handlers.render_guide(admin, draft.id, "html")
    assert "2026年3月17日" in guide.decode() or "2026-03-17" in guide.decode()
    cancelled = handlers.cancel(admin, draft.id, "测试撤销")
    assert local_day(cancelled.published_at) == PINNED


@pytest.fixture
def fees_db(migrated):
    db = Database.connect(migrated.database_url, schema="fees", pool_size=1)
    yield db
    db.dispose()


def test_fees_stamp_the_pinned_day(fees_db: Database):
    handlers = FeeCatalogueHandlers(fees_db, events_out=FeesEventsOut(), clock=Clock(PINNED))
    admin = Principal(subject="clock-test", username="clock.admin", tenant=DivisionCode("513221"),
                      roles=frozenset({str(Role.TENANT_ADMIN)}))
    definition = {**FEE_ITEMS[2], "fee_code": f"FEE-CLOCK-{uuid.uuid4().hex[:6].upper()}"}
    created = handlers.create_fee_item(admin, definition)
    published = handlers.publish_fee_item(admin, created.id)
    print(f"fees: fee item published {local_day(published.published_at)}")
    assert local_day(published.published_at) == PINNED
