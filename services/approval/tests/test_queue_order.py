"""A desk's queue read in index order (issue 22 item 4): the open steps carry their case's promised due date
(steps.due) so that each desk's queue is read from an index in its order. These tests hold the queue to the
statement it replaced — the same rows in the same order, page after page — while the due dates move (a
suspension empties the promised due date, a resumption moves it, a re-projection rewrites it in bulk), and
hold every unfinished step's `due` to its case's promised_due."""

from __future__ import annotations

import datetime as dt

from sanji.approval.v1 import approval_pb2 as pb
from sqlalchemy import text

from services.approval.deadlines import Projection
from services.approval.repository import QUEUE_TOTAL_CAP, ApprovalRepository
from services.approval.tests.conftest import get, step_of
from shared.clock import CHINA_TZ

D = dt.date
TENANT = "620602"
DESK = "market_access"
# the statement the queue ran before (every open step of the desk joined, sorted and counted): the reference
_REFERENCE = ("SELECT s.id::text FROM approval.steps s JOIN approval.cases c ON c.id = s.case_id"
              " WHERE s.tenant_code = :t AND s.kind = 'review' AND s.status = 'open' AND s.desk = :d"
              " ORDER BY c.promised_due NULLS LAST, s.opened_at, s.id")


def _reference(db) -> list[str]:
    with db.unit_of_work(tenant=TENANT) as uow:
        return [r[0] for r in uow.session.execute(text(_REFERENCE), {"t": TENANT, "d": DESK}).all()]


def _out_of_step(db) -> list[tuple[str, str]]:
    """Unfinished steps whose `due` is not their case's promised_due (none, ever)."""
    with db.unit_of_work(tenant=TENANT) as uow:
        return [(r[0], r[1]) for r in uow.session.execute(text(
            "SELECT s.id::text, s.status FROM approval.steps s JOIN approval.cases c ON c.id = s.case_id"
            " WHERE s.status IN ('waiting','open','claimed') AND s.due IS DISTINCT FROM c.promised_due")).all()]


def _walk(caller, page: int) -> tuple[list[str], set[tuple[int, bool]]]:
    ids: list[str] = []
    totals: set[tuple[int, bool]] = set()
    while True:
        got = caller.ListQueue(pb.ListQueueRequest(desk=DESK, kind="review", limit=page, offset=len(ids)))
        totals.add((got.total, got.total_capped))
        ids += [t.step_id for t in got.tasks]
        if len(got.tasks) < page:
            return ids, totals


def _same_as_before(as_, db) -> list[str]:
    reference = _reference(db)
    for page in (1, 3, 200):
        ids, totals = _walk(as_("county.reviewer"), page)
        assert ids == reference, page
        assert totals == {(min(len(reference), QUEUE_TOTAL_CAP), len(reference) > QUEUE_TOTAL_CAP)}
    assert _out_of_step(db) == []
    return reference


def test_the_queue_is_the_same_rows_in_the_same_order_as_the_due_dates_move(bus, as_, clock, approval_db):
    # three cases accepted on different days (different promised due dates), one more on the first day
    cases = [bus.accepted(accepted_on=day) for day in (D(2026, 9, 22), D(2026, 9, 18), D(2026, 9, 21),
                                                       D(2026, 9, 18))]
    views = [get(as_, m.case_number) for m in cases]
    steps = [step_of(v, "review").id for v in views]
    queue = _same_as_before(as_, approval_db)
    assert set(steps) <= set(queue)
    # a suspension empties the promised due date: released back to the desk, the step goes last (NULLS LAST)
    reviewer = as_("county.reviewer")
    reviewer.ClaimTask(pb.ClaimTaskRequest(step_id=steps[1]))
    clock.set_today(D(2026, 9, 23))
    suspended = reviewer.SuspendClock(pb.SuspendClockRequest(case_id=views[1].id, procedure="expert_review",
                                                             reason="组织专家评审", days=5))
    assert suspended.promised.due == ""
    reviewer.ReleaseTask(pb.ReleaseTaskRequest(step_id=steps[1]))
    queue = _same_as_before(as_, approval_db)
    assert queue.index(steps[1]) > max(queue.index(s) for s in (steps[0], steps[2], steps[3]))
    # resumed, the case has a promised due date again, later than before
    clock.set_today(D(2026, 9, 25))
    reviewer.ClaimTask(pb.ClaimTaskRequest(step_id=steps[1]))
    resumed = reviewer.ResumeClock(pb.ResumeClockRequest(case_id=views[1].id, reason="评审结束"))
    assert resumed.promised.due > views[1].promised.due
    reviewer.ReleaseTask(pb.ReleaseTaskRequest(step_id=steps[1]))
    _same_as_before(as_, approval_db)
    # a re-projection rewrites the due dates in bulk (apply_projections): the steps follow
    with approval_db.unit_of_work(tenant=TENANT) as uow:
        repo = ApprovalRepository(uow)
        rows = {r.id: r for r in repo.open_cases(TENANT, "00000000-0000-0000-0000-000000000000", 10_000)}
        moved = [(rows[views[0].id], Projection(D(2026, 12, 31), rows[views[0].id].statutory_due,
                                                rows[views[0].id].delivery_due, False, False))]
        repo.apply_projections(TENANT, moved, "测试：重新推算", dt.datetime(2026, 9, 25, 10, tzinfo=CHINA_TZ))
        uow.commit()
    queue = _same_as_before(as_, approval_db)
    with approval_db.unit_of_work(tenant=TENANT) as uow:      # the cached due date the queue orders by
        assert uow.session.execute(text("SELECT promised_due FROM approval.cases WHERE id = :i"),
                                   {"i": views[0].id}).scalar() == D(2026, 12, 31)
    assert queue.index(steps[0]) > max(queue.index(s) for s in (steps[1], steps[2], steps[3]))
    # the claimed queue ("mine") is the same statement's rows too
    reviewer.ClaimTask(pb.ClaimTaskRequest(step_id=steps[2]))
    mine = reviewer.ListQueue(pb.ListQueueRequest(mine=True, kind="review", limit=200))
    assert steps[2] in [t.step_id for t in mine.tasks] and mine.total == len(mine.tasks)
    assert steps[2] not in _same_as_before(as_, approval_db)
    # "the next task" takes the first step of the queue the reviewer may take (the statement it replaced)
    with approval_db.unit_of_work(tenant=TENANT) as uow:
        first = uow.session.execute(text(
            "SELECT s.id::text FROM approval.steps s JOIN approval.cases c ON c.id = s.case_id"
            " WHERE s.tenant_code = :t AND s.status = 'open' AND s.desk = :d AND s.kind = 'review'"
            " AND c.accepted_by <> :me AND NOT EXISTS (SELECT 1 FROM approval.steps o WHERE o.case_id = s.case_id"
            " AND o.id <> s.id AND (o.claimed_by = :me OR o.done_by = :me))"
            " ORDER BY c.promised_due NULLS LAST, s.opened_at, s.id LIMIT 1"),
            {"t": TENANT, "d": DESK, "me": "county.reviewer"}).scalar()
    task = reviewer.ClaimTask(pb.ClaimTaskRequest(desk=DESK, kind="review"))
    assert task.step_id == first
    reviewer.ReleaseTask(pb.ReleaseTaskRequest(step_id=task.step_id))


def test_a_persons_queue_reads_their_own_desks_alone_and_refuses_a_desk_not_theirs(bus, as_, staffed):
    """The desks, the page and the count come from one statement (repository.queue_statement): a person's queue is
    the steps of the desks assigned to them, counted as listed; a desk they are not assigned to is refused, not read;
    with no desk, the queue is empty."""
    import grpc

    from services.approval.tests.conftest import DESKS, rpc_error

    social = bus.accepted(item_type="20", department="凉州区民政局")          # the social affairs desk
    market = bus.accepted()                                                  # the market access desk
    admin, reviewer = as_("county.admin"), as_("county.reviewer3")
    try:
        admin.AssignDesks(pb.AssignDesksRequest(username="county.reviewer3", desks=["social_affairs"]))
        queue = reviewer.ListQueue(pb.ListQueueRequest(kind="review", limit=200))
        numbers = {t.case_number for t in queue.tasks}
        assert social.case_number in numbers and market.case_number not in numbers
        assert {t.desk for t in queue.tasks} == {"social_affairs"}
        whole_desk = as_("county.reviewer").ListQueue(pb.ListQueueRequest(desk="social_affairs", kind="review",
                                                                          limit=200))
        assert [t.step_id for t in queue.tasks] == [t.step_id for t in whole_desk.tasks]
        assert queue.total == whole_desk.total == len(queue.tasks)
        e = rpc_error(reviewer.ListQueue, pb.ListQueueRequest(desk="market_access", kind="review"))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED and "market_access" in e.details()
        admin.AssignDesks(pb.AssignDesksRequest(username="county.reviewer3", desks=[]))
        empty = reviewer.ListQueue(pb.ListQueueRequest(kind="review", limit=200))
        assert list(empty.tasks) == [] and (empty.total, empty.total_capped) == (0, False)
        e = rpc_error(reviewer.ListQueue, pb.ListQueueRequest(desk="social_affairs", kind="review"))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        admin.AssignDesks(pb.AssignDesksRequest(username="county.reviewer3", desks=DESKS))
