"""The public progress page shows approval's due dates (issue 19): an extension (延期) granted by the back office,
a resumption and a calendar re-projection reach intake's read model as approval's events (deadline_extended,
clock_resumed, due_date_reprojected) and /progress shows the new date with its explanation — the same in every
order of delivery, because intake keeps the latest dates by the event's own time and each extension once.

The domain half tries every order on the rules alone; the integration half delivers every permutation of one
case's four reports through intake's real consumer into PostgreSQL and reads the public progress lookup."""

from __future__ import annotations

import datetime as dt
import itertools

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.common.v1 import common_pb2
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.commands import RecordDueDates
from services.intake.tests.conftest import TOWNSHIP, submit_request
from services.intake.tests.test_any_order import deliver_in_order, publisher, purged_consumer  # noqa: F401 — the fixture
from services.intake.tests.test_domain import CAL, TODAY, at, issued, receive
from services.intake.translate import progress_to_pb, record_extension, record_reprojection, record_resumption
from shared.clock import CHINA_TZ

REASON = "需征求自然资源部门意见，二十日内不能作出决定"


def reports(case_number: str, tenant: str, day: dt.date) -> list[tuple[str, object]]:
    """One case's reports, in the order they happened: suspended, resumed (dates P1/S1), an extension of 10
    working days (S2), then a calendar re-projection (P3/S3)."""
    def t(hour: int) -> str:
        return dt.datetime.combine(day, dt.time(hour), CHINA_TZ).isoformat()

    def d(days: int) -> common_pb2.Deadline:
        return common_pb2.Deadline(due=(day + dt.timedelta(days=days)).isoformat())
    return [
        ("clock_suspended", approval_ev.ClockSuspended(
            case_number=case_number, tenant=tenant, procedure="expert_review", procedure_name="专家评审", days=3,
            suspended_on=day.isoformat(), notice_number="TZ-9", reason="需专家论证", at=t(9))),
        ("clock_resumed", approval_ev.ClockResumed(
            case_number=case_number, tenant=tenant, resumed_on=day.isoformat(), at=t(10), promised=d(14),
            statutory=d(28))),
        ("deadline_extended", approval_ev.DeadlineExtended(
            case_number=case_number, tenant=tenant, days=10, approved_by="county.head", reason=REASON, at=t(11),
            promised=d(14), statutory=d(42))),
        ("due_date_reprojected", approval_ev.DueDateReprojected(
            case_number=case_number, tenant=tenant, cause="calendar_year_published", at=t(12), promised=d(15),
            statutory=d(43))),
    ]


def expected(day: dt.date) -> tuple:
    return ((day + dt.timedelta(days=15)).isoformat(), 10, REASON, (day + dt.timedelta(days=43)).isoformat())


def shown(progress: pb.Progress) -> tuple:
    return (progress.promised_due, progress.extension_days, progress.extension_reason, progress.extended_due)


# -- the rules alone ---------------------------------------------------------------------------------
def apply_to_domain(app, event_type: str, m) -> None:
    when = dt.datetime.fromisoformat(m.at)
    if event_type == "clock_suspended":
        app.record_clock(suspended=True, detail="suspended", now=when)
        return
    if event_type == "clock_resumed":
        r = record_resumption(m)
        cmd = RecordDueDates(case_number=r.case_number, at=r.at, promised_due=r.promised_due,
                             statutory_due=r.statutory_due, cause="resumed")
        app.record_clock(suspended=False, detail="resumed", now=when)
    else:
        cmd = record_extension(m) if event_type == "deadline_extended" else record_reprojection(m)
    app.record_due_dates(at=cmd.at, promised_due=cmd.promised_due, statutory_due=cmd.statutory_due, cause=cmd.cause)
    if cmd.extension_days:
        app.record_extension(at=cmd.at, days=cmd.extension_days, reason=cmd.reason, statutory_due=cmd.statutory_due,
                             by=cmd.approved_by)


def test_every_order_of_approvals_dates_shows_the_same_due_date_and_extension_domain():
    outcomes = set()
    for order in itertools.permutations(range(4)):
        app = receive()
        app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
        before = progress_to_pb(app, CAL)
        assert before.promised_due and not before.extended_due        # intake's own count until approval reports
        evs = reports(app.case_number, app.tenant, TODAY)
        for i in order + order:                       # each delivered twice: a redelivery changes nothing
            apply_to_domain(app, *evs[i])
        progress = progress_to_pb(app, CAL)
        outcomes.add(repr((shown(progress), progress.promised_due_explained,
                           [(h.what, h.at) for h in app.history])))
        assert shown(progress) == expected(TODAY)
        assert f"已延期 10 个工作日，原因：{REASON}" in progress.promised_due_explained
        assert [h.what for h in app.history].count("extended") == 1
        assert ("审批延长办理期限" in [s for _, s in app.public_steps()])
    assert len(outcomes) == 1


def test_a_suspension_reported_after_approvals_dates_pauses_the_page_again():
    app = receive()
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    evs = reports(app.case_number, app.tenant, TODAY)
    for i in (1, 2):                                  # resumed, extended (11:00)
        apply_to_domain(app, *evs[i])
    later = approval_ev.ClockSuspended(case_number=app.case_number, tenant=app.tenant, procedure_name="听证",
                                       at=dt.datetime.combine(TODAY, dt.time(15), CHINA_TZ).isoformat())
    apply_to_domain(app, "clock_suspended", later)
    progress = progress_to_pb(app, CAL)
    assert progress.clock_paused and not progress.promised_due and not progress.extended_due


# -- through the real consumer and PostgreSQL ------------------------------------------------------------
def test_every_permutation_through_the_consumer_shows_the_same_dates_on_the_progress_lookup(
        migrated, intake_handlers, intake_db, clerk, township_item, today, publisher):  # noqa: F811
    consumer = purged_consumer(migrated, intake_handlers, intake_db, publisher)
    day = today.today()
    states: dict[str, tuple] = {}
    for order in itertools.permutations(range(4)):
        app = clerk.SubmitApplication(submit_request(township_item))
        accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
        evs = reports(accepted.case_number, TOWNSHIP, day)
        deliver_in_order(consumer, publisher, intake_db, evs, order, accepted.case_number)
        progress = clerk.LookupProgress(pb.LookupProgressRequest(case_number=accepted.case_number,
                                                                 query_code=accepted.query_code))
        states["-".join(evs[i][0] for i in order)] = (shown(progress), progress.promised_due_explained.split("；")[1:])
    distinct = {repr(s) for s in states.values()}
    print(f"consumer: {len(states)} permutations, {4 * len(states)} deliveries → {len(distinct)} final state(s)")
    assert len(distinct) == 1
    assert next(iter(states.values()))[0] == expected(day)
