"""Whole-project limits without I/O (issue 21 item 8): seed 002 “城市规划区房地产建设项目审批时间压缩到70个工作日
以内”; seed 003 §35 “确保全过程审批时间控制在100个工作日以内”. Dates hand-checked on the 2026 calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from services.approval.projects import PROJECT_KINDS, Project, ProjectCase
from shared.calendar import WorkingCalendar, seed_year_from_package
from shared.errors import FailedPrecondition, InvalidArgument

D = dt.date
CAL = WorkingCalendar(seed_year_from_package(y) for y in (2025, 2026))


def project(kind: str = "real_estate", limit: int = 0) -> Project:
    return Project.create(tenant="620602", name="凉州区天马湖住宅小区一期", kind=kind, limit_days=limit,
                          started_on=D(2026, 3, 2), by="county.head")


def case(n: int, dept: str, due: dt.date | None, status: str = "review") -> ProjectCase:
    return ProjectCase(case_id=f"c{n}", case_number=f"620602-2026-{n:06d}", item_name=f"事项{n}", department=dept,
                       status=status, promised_due=due)


def test_the_caps_come_from_the_seeds_and_a_project_may_promise_less_never_more():
    assert PROJECT_KINDS["real_estate"][1] == 70 and PROJECT_KINDS["construction"][1] == 100
    assert project().limit_days == 70 and project("construction").limit_days == 100
    assert project("construction", 60).limit_days == 60
    with pytest.raises(InvalidArgument) as e:
        project("real_estate", 71)
    assert e.value.field == "limit_days" and "70" in e.value.message
    with pytest.raises(InvalidArgument) as e:
        project("farm")
    assert e.value.field == "kind"


def test_the_projects_own_ledger_pauses_its_clock_with_a_reason():
    p = project()
    # 70 working days from Mon 2026-03-02, over 清明 and 劳动节 (05-09, a Saturday, is a make-up working day);
    # checked against chinese_calendar.is_workday counted day by day
    due, provisional = p.due(CAL)
    assert due == D(2026, 6, 11) and not provisional
    with pytest.raises(InvalidArgument) as e:
        p.suspend(" ", by="county.head", today=D(2026, 3, 9))
    assert e.value.field == "reason"
    p.suspend("专家评审（规划方案）", by="county.head", today=D(2026, 3, 9))
    assert p.due(CAL)[0] is None                                   # while paused: no date yet
    with pytest.raises(FailedPrecondition):
        p.suspend("again", by="county.head", today=D(2026, 3, 10))
    p.resume(by="county.head", today=D(2026, 3, 13))                # Mon 03-09 … Fri 03-13: five working days
    assert p.due(CAL)[0] == D(2026, 6, 18)
    with pytest.raises(FailedPrecondition):
        p.resume(by="county.head", today=D(2026, 3, 16))


def test_the_department_or_case_holding_the_project_up_is_named():
    p = project()
    p.add_case(case(1, "凉州区自然资源局", D(2026, 4, 1), status="completed"))
    p.add_case(case(2, "凉州区住房和城乡建设局", D(2026, 5, 20)))
    p.add_case(case(3, "凉州区生态环境局", D(2026, 4, 20)))
    [hold] = p.holding_up(CAL, D(2026, 4, 1))
    assert (hold.department, hold.case_number) == ("凉州区住房和城乡建设局", "620602-2026-000002")
    p.add_case(case(4, "凉州区消防救援大队", D(2026, 7, 1)))        # promised beyond the project's own limit
    [hold] = p.holding_up(CAL, D(2026, 4, 1))
    assert hold.department == "凉州区消防救援大队" and "晚于项目全流程时限" in hold.reason
    late = p.holding_up(CAL, D(2026, 6, 12))                      # the project's date has passed
    assert {h.department for h in late} == {"凉州区住房和城乡建设局", "凉州区生态环境局", "凉州区消防救援大队"}
    assert p.late(CAL, D(2026, 6, 12)) and not p.late(CAL, D(2026, 6, 11))
    with pytest.raises(FailedPrecondition):
        p.add_case(case(2, "x", None))
