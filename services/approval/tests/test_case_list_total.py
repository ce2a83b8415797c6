"""The case list counts its cases up to a cap and reads its page in index order (issue 22 item 4): at a year of a
county it sorted and counted every case for each page. Up to CASES_TOTAL_CAP the total is exact and total_capped
unset; above it the total is the cap and total_capped set ("1000+"); the page is the same either way, a page past
the cap is still read, and another unit's cases neither appear in a list nor count."""

from __future__ import annotations

import uuid

import pytest
from sanji.approval.v1 import approval_pb2 as pb
from sqlalchemy import text

from services.approval.repository import CASES_TOTAL_CAP

WENCHUAN = "513221"                 # wenchuan.supervisor's county (tests/support.py)
_PREFIX = f"{WENCHUAN}-LIST{uuid.uuid4().hex[:6].upper()}-"


def _add_cases(approval_db, first: int, last: int) -> None:
    """Cases `first`..`last` of the county, in review, each due a day after the one before (the list's order), all
    due long before any other test's case (they come first in the list)."""
    with approval_db.unit_of_work(tenant=WENCHUAN) as uow:
        uow.session.execute(text(
            "INSERT INTO approval.cases (id, tenant_code, case_number, application_id, item_id, item_version,"
            " item_name, category, accepted_at, accepted_on, promised_days, statutory_days, status, opened_at,"
            " promised_due, statutory_due)"
            " SELECT gen_random_uuid(), :t, :p || lpad(g::text, 6, '0'), gen_random_uuid()::text, 'item-list', 1,"
            " '居民身份证换领', 'social_affairs', timestamptz '2026-03-02 09:00+08', date '2026-03-02', 10, 20,"
            " 'review', timestamptz '2000-01-01 09:00+08', date '2000-01-01' + g, date '2000-01-01' + g + 10"
            " FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"),
            {"t": WENCHUAN, "p": _PREFIX, "a": first, "b": last})
        uow.commit()


def _existing(approval_db) -> int:
    """The county's cases other tests of the run left (a handful): the list counts them too."""
    with approval_db.unit_of_work(tenant=WENCHUAN) as uow:
        return uow.value("SELECT count(*) FROM approval.cases WHERE tenant_code = :t", {"t": WENCHUAN})


@pytest.fixture
def many_cases(approval_db):
    """The county with exactly CASES_TOTAL_CAP cases, the ones other tests left and ours in review (their number is
    yielded); ours removed afterwards."""
    ours = CASES_TOTAL_CAP - _existing(approval_db)
    assert ours >= 500
    _add_cases(approval_db, 1, ours)
    yield ours
    with approval_db.unit_of_work(tenant=WENCHUAN) as uow:
        uow.session.execute(text("DELETE FROM approval.cases WHERE tenant_code = :t AND case_number LIKE :p || '%'"),
                            {"t": WENCHUAN, "p": _PREFIX})
        uow.commit()


def _numbers(first: int, last: int) -> list[str]:
    return [f"{_PREFIX}{g:06d}" for g in range(first, last + 1)]


def test_the_total_is_exact_up_to_the_cap_and_capped_above_it(as_, approval_db, many_cases):
    ours, supervisor = many_cases, as_("wenchuan.supervisor")
    page = supervisor.ListCases(pb.ListCasesRequest(limit=20))
    assert (page.total, page.total_capped) == (CASES_TOTAL_CAP, False)              # exactly the cap: exact
    assert [c.case_number for c in page.cases] == _numbers(1, 20)                  # the most urgent first
    _add_cases(approval_db, ours + 1, ours + 1)                                    # one more
    page = supervisor.ListCases(pb.ListCasesRequest(limit=20))
    assert (page.total, page.total_capped) == (CASES_TOTAL_CAP, True)
    assert [c.case_number for c in page.cases] == _numbers(1, 20)                  # the same page
    middle = supervisor.ListCases(pb.ListCasesRequest(limit=20, offset=480))
    assert [c.case_number for c in middle.cases] == _numbers(481, 500)
    # a page past the cap is still read (the cap bounds the count, not the list): the one case beyond, then nothing
    last = supervisor.ListCases(pb.ListCasesRequest(limit=20, offset=CASES_TOTAL_CAP))
    assert len(last.cases) == 1 and (last.total, last.total_capped) == (CASES_TOTAL_CAP, True)
    beyond = supervisor.ListCases(pb.ListCasesRequest(limit=20, offset=5000))
    assert not beyond.cases and (beyond.total, beyond.total_capped) == (CASES_TOTAL_CAP, True)
    review = supervisor.ListCases(pb.ListCasesRequest(status=pb.CASE_STATUS_REVIEW, limit=20))
    assert review.total >= min(ours + 1, CASES_TOTAL_CAP) and [c.case_number for c in review.cases] == _numbers(1, 20)
    decision = supervisor.ListCases(pb.ListCasesRequest(status=pb.CASE_STATUS_DECISION, limit=200))
    assert not [c for c in decision.cases if c.case_number.startswith(_PREFIX)] and not decision.total_capped


def test_another_units_cases_neither_appear_nor_count(as_, many_cases):
    for user in ("county.reviewer", "dongdajie.reviewer"):
        listed, offset = [], 0
        while True:
            page = as_(user).ListCases(pb.ListCasesRequest(limit=200, offset=offset))
            listed += [c.case_number for c in page.cases]
            offset += len(page.cases)
            if not page.cases:
                break
        assert not [n for n in listed if n.startswith(_PREFIX)], user
        assert len(listed) == page.total or page.total_capped, user     # what counts is what lists
