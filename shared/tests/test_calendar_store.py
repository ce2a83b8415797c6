"""The calendar store against the real PostgreSQL: DDL as the owner, everything else as the app role."""

from __future__ import annotations

import datetime as dt
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError

from shared.calendar import CalendarYear, seed_year_from_package
from shared.calendar_store import CalendarStore, calendar_table_statements, main
from shared.config import PlatformSettings
from shared.db import make_engine
from shared.errors import InvalidArgument
from shared.tests.schemas import scratch_schema

D = dt.date
SCHEMA = "caltest"
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def app_engine(test_settings: PlatformSettings) -> Iterator[Engine]:
    with scratch_schema(test_settings.database_owner_url, SCHEMA, calendar_table_statements(SCHEMA)) as conn:
        for stmt in calendar_table_statements(SCHEMA):     # the DDL is idempotent
            conn.execute(text(stmt))
    engine = make_engine(test_settings.database_url, pool_size=2, application_name="sanji-caltest")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def store(app_engine: Engine) -> CalendarStore:
    return CalendarStore(app_engine, SCHEMA)


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.calendar_years")).scalar_one()


def test_seed_is_idempotent_and_loads_the_package_years(store: CalendarStore, app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        present = set(conn.execute(text(f"SELECT year FROM {SCHEMA}.calendar_years WHERE region = ''"))
                      .scalars())
    assert store.seed_from_package(range(2020, 2027)) == [y for y in range(2020, 2027) if y not in present]
    assert store.seed_from_package(range(2020, 2027)) == []
    assert count_rows(app_engine) >= 7
    cal = store.load()
    assert all(cal.is_published(y) for y in range(2020, 2027))
    assert cal.day_kind(D(2026, 10, 10)) == (True, "makeup_workday:国庆节")
    assert cal.due_date(D(2026, 9, 18), 20) == (D(2026, 10, 22), False)


def test_the_app_role_cannot_drop_or_delete(store: CalendarStore, app_engine: Engine) -> None:
    store.seed_from_package([2026])
    with pytest.raises(ProgrammingError, match="permission denied"), app_engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {SCHEMA}.calendar_years"))


def test_publish_2027_and_reload_reprojects(store: CalendarStore) -> None:
    store.seed_from_package()
    before = store.load()
    assert before.due_date(D(2026, 12, 15), 20) == (D(2027, 1, 12), True)

    y2027 = CalendarYear(year=2027, holidays={D(2027, 1, 1): "元旦"}, source="admin")
    stored = store.publish(y2027, by="县政务服务中心管理员")
    assert stored.published_by == "县政务服务中心管理员" and stored.published_at is not None

    after = store.load()
    assert after.is_published(2027)
    assert after.year(2027).published_by == "县政务服务中心管理员"
    assert after.due_date(D(2026, 12, 15), 20) == (D(2027, 1, 13), False)

    # publishing again corrects the year in place (upsert), no second row
    corrected = CalendarYear(year=2027, holidays={D(2027, 1, 1): "元旦", D(2027, 1, 4): "元旦"})
    store.publish(corrected, by="管理员")
    assert store.regions(2027) == [""]
    assert store.load().due_date(D(2026, 12, 15), 20) == (D(2027, 1, 14), False)
    # seeding never overwrites what an administrator published
    store.publish(CalendarYear(year=2026, holidays={D(2026, 10, 1): "国庆节"}), by="管理员")
    assert store.seed_from_package([2026]) == []
    assert store.load().day_kind(D(2026, 10, 2)) == (True, "workday")
    store.publish(CalendarYear.from_dict(_package_2026()), by="管理员")
    assert store.load().day_kind(D(2026, 10, 2)) == (False, "holiday:国庆节")


def _package_2026() -> dict:
    return seed_year_from_package(2026).to_dict()


def test_region_override_most_specific_prefix_wins(store: CalendarStore) -> None:
    store.seed_from_package()
    national = CalendarYear.from_dict(_package_2026())
    # a province-wide local holiday, and a county that additionally closes another day
    province = CalendarYear(year=2026, holidays={**national.holidays, D(2026, 3, 16): "地方节日"},
                            makeup_workdays=national.makeup_workdays)
    county = CalendarYear(year=2026, holidays={**province.holidays, D(2026, 3, 17): "县庆"},
                          makeup_workdays=national.makeup_workdays)
    store.publish(province, "62", by="省管理员")
    store.publish(county, "620602", by="县管理员")

    assert store.load().day_kind(D(2026, 3, 16)) == (True, "workday")                      # national
    assert store.load("51").day_kind(D(2026, 3, 16)) == (True, "workday")                  # another province
    gansu = store.load("620102")
    assert gansu.day_kind(D(2026, 3, 16)) == (False, "holiday:地方节日")
    assert gansu.day_kind(D(2026, 3, 17)) == (True, "workday")
    village = store.load("620602001001")
    assert village.day_kind(D(2026, 3, 16)) == (False, "holiday:地方节日")
    assert village.day_kind(D(2026, 3, 17)) == (False, "holiday:县庆")
    assert village.day_kind(D(2026, 10, 10)) == (True, "makeup_workday:国庆节")
    assert village.is_published(2025)                                                        # national years
    # (other tests of this module publish other provinces' years in the same schema)
    assert [r for r in store.regions(2026) if r in ("", "51", "62", "620602")] == ["", "62", "620602"]

    with pytest.raises(InvalidArgument) as exc:
        store.publish(county, "62x", by="县管理员")
    assert exc.value.field == "region"


def test_cli_show_and_publish(test_settings: PlatformSettings, store: CalendarStore, tmp_path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    y2028 = CalendarYear(year=2028, holidays={D(2028, 1, 1): "元旦"}, makeup_workdays={D(2028, 1, 8): "元旦"})
    path = tmp_path / "2028.json"
    path.write_text(y2028.to_json(), encoding="utf-8")
    url = test_settings.database_url
    assert main(["publish", "--year", "2028", "--file", str(path), "--database-url", url,
                 "--schema", SCHEMA, "--by", "管理员"]) == 0
    assert "已发布 2028 年日历" in capsys.readouterr().out
    assert store.load().year(2028).makeup_workdays == {D(2028, 1, 8): "元旦"}
    assert main(["show", "--year", "2028", "--database-url", url, "--schema", SCHEMA]) == 0
    assert "元旦" in capsys.readouterr().out
    # a file for another year is refused with a Chinese message, not a stack trace
    assert main(["publish", "--year", "2029", "--file", str(path), "--database-url", url,
                 "--schema", SCHEMA]) == 2
    assert "不一致" in capsys.readouterr().err

    # the module entry point, as an administrator runs it
    out = subprocess.run([sys.executable, "-m", "shared.calendar_store", "show", "--year", "2026"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert "国庆节：2026-10-01 至 2026-10-07 放假" in out.stdout
    assert "2026-10-10（星期六）" in out.stdout


# Ningxia's own festivals of 2026 (宁夏回族自治区: 开斋节放假 1 天、古尔邦节放假 2 天; the days follow the Islamic
# calendar: 1 Shawwal 1447 ≈ 2026-03-20, 10 Dhu al-Hijja 1447 ≈ 2026-05-27), published by the province as
# additions only: the national 2026 (国庆节 10-01…10-07 with 10-10 a make-up Saturday) comes from the national row.
NINGXIA_2026 = {D(2026, 3, 20): "开斋节", D(2026, 5, 27): "古尔邦节", D(2026, 5, 28): "古尔邦节"}


def test_a_province_year_is_layered_over_the_national_year(store: CalendarStore, app_engine: Engine) -> None:
    store.seed_from_package([2026])
    store.publish(CalendarYear(year=2026, holidays=NINGXIA_2026), "64", by="宁夏管理员")
    xingqing = store.load("640104")                                          # 兴庆区, Ningxia
    assert xingqing.day_kind(D(2026, 3, 20)) == (False, "holiday:开斋节")     # the province's addition
    assert xingqing.day_kind(D(2026, 5, 28)) == (False, "holiday:古尔邦节")
    assert xingqing.day_kind(D(2026, 10, 1)) == (False, "holiday:国庆节")     # the nation's, not repeated
    assert xingqing.day_kind(D(2026, 10, 10)) == (True, "makeup_workday:国庆节")
    assert xingqing.year(2026).published_by == "宁夏管理员"
    # a deadline across both: 20 working days from 2026-05-20 end 6-17 on the nation's calendar; in Ningxia
    # 古尔邦节 takes two of them and 端午节 (6-19, national) a third: 6-22
    assert store.load("620602").due_date(D(2026, 5, 20), 20)[0] == D(2026, 6, 17)
    assert xingqing.due_date(D(2026, 5, 20), 20)[0] == D(2026, 6, 22)
    assert store.load("620602").day_kind(D(2026, 3, 20)) == (True, "workday")   # Gansu: not Ningxia's days
    # the stored row holds only the additions: the national days sent with them are left out
    store.publish(CalendarYear(year=2026, holidays={**seed_year_from_package(2026).holidays, **NINGXIA_2026}),
                  "64", by="宁夏管理员")
    with app_engine.connect() as conn:
        stored = conn.execute(text(f"SELECT data FROM {SCHEMA}.calendar_years WHERE region = '64' AND year = 2026"))
        assert set(CalendarYear.from_dict(stored.scalar_one()).holidays) == set(NINGXIA_2026)
    again, before = store.load("640104").year(2026), xingqing.year(2026)     # and the layered year is the same
    assert (again.holidays, again.makeup_workdays) == (before.holidays, before.makeup_workdays)


def test_a_province_cannot_take_a_national_day_away(store: CalendarStore) -> None:
    store.seed_from_package([2026])
    # a make-up working day on 国庆节 (10-03 is a Saturday) is refused, naming the field
    with pytest.raises(InvalidArgument) as info:
        store.publish(CalendarYear(year=2026, makeup_workdays={D(2026, 10, 3): "调休"}), "64", by="宁夏管理员")
    assert info.value.field == "makeup_workdays" and "国庆节" in info.value.message
    # a province holiday on the nation's make-up Saturday (10-10) gives way: the national arrangement wins
    store.publish(CalendarYear(year=2026, holidays={**NINGXIA_2026, D(2026, 10, 10): "自定"}), "64", by="宁夏管理员")
    assert store.load("640104").day_kind(D(2026, 10, 10)) == (True, "makeup_workday:国庆节")


def test_without_a_national_year_the_province_year_stands_alone(store: CalendarStore) -> None:
    # 2031: no national row (the package knows years up to 2026): the province's arrangement is the year
    store.publish(CalendarYear(year=2031, holidays={D(2031, 10, 1): "国庆节"}), "64", by="宁夏管理员")
    cal = store.load("640104")
    assert cal.is_published(2031) and cal.day_kind(D(2031, 10, 1)) == (False, "holiday:国庆节")
    assert not store.load("620602").is_published(2031)
    # the nation's year, stored later, layers under it
    store.publish(CalendarYear(year=2031, holidays={D(2031, 1, 1): "元旦", D(2031, 10, 1): "国庆节"}), by="国务院")
    cal = store.load("640104")
    assert cal.day_kind(D(2031, 1, 1)) == (False, "holiday:元旦") and cal.day_kind(D(2031, 10, 1))[0] is False
