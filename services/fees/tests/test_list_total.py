"""The cashier's list counts its cases up to a cap (issue 22 item 4): a county's year holds 10,000s of cases in a
status and the list counted them all on every page. Up to LIST_TOTAL_CAP the total is exact and total_capped
unset; above it the total is the cap and total_capped set ("1000+"); the page is the same either way, and another
unit's cases neither appear in the list nor count."""

from __future__ import annotations

import pytest
from sanji.fees.v1 import fees_pb2 as pb
from sqlalchemy import text

from services.fees.repository import LIST_TOTAL_CAP
from services.fees.tests.conftest import COUNTY, OTHER_COUNTY, case_number

# numbers no other test draws (conftest's case_number dates its numbers today)
_PREFIX = f"{OTHER_COUNTY.ljust(12, '0')}19990101"


def _add_noticed(fees_db, count: int) -> None:
    """`count` noticed cases of the other county, changed a minute apart (the newest last), written bound to it."""
    with fees_db.unit_of_work(tenant=OTHER_COUNTY) as uow:
        uow.session.execute(text(
            "INSERT INTO fees.cases (tenant_code, case_number, status, source, applicant_name, item_name, updated_at)"
            " SELECT :t, :p || lpad(g::text, 6, '0'), 'noticed', 'cashier', '马秀英', '居民身份证换领',"
            " timestamptz '2026-03-02 09:00+08' + g * interval '1 minute' FROM generate_series(1, :n) g"),
            {"t": OTHER_COUNTY, "p": _PREFIX, "n": count})
        uow.commit()


@pytest.fixture
def many_noticed(fees_db):
    """The other county (wenchuan.cashier's) with LIST_TOTAL_CAP noticed cases; removed afterwards."""
    _add_noticed(fees_db, LIST_TOTAL_CAP)
    yield
    with fees_db.unit_of_work(tenant=OTHER_COUNTY) as uow:
        uow.session.execute(text("DELETE FROM fees.cases WHERE tenant_code = :t AND case_number LIKE :p || '%'"),
                            {"t": OTHER_COUNTY, "p": _PREFIX})
        uow.commit()


def _numbers(first: int, last: int) -> list[str]:
    """The other county's numbers from `last` down to `first`: the list's order (most recently changed first)."""
    return [f"{_PREFIX}{g:06d}" for g in range(last, first - 1, -1)]


def test_the_total_is_exact_up_to_the_cap_and_capped_above_it(as_, fees_db, many_noticed):
    cashier = as_("wenchuan.cashier")
    noticed = pb.ListCasesRequest(status=pb.CASE_STATUS_NOTICED, limit=20)
    page = cashier.ListCases(noticed)
    assert (page.total, page.total_capped) == (LIST_TOTAL_CAP, False)            # exactly the cap: exact
    assert [c.case_number for c in page.cases] == _numbers(LIST_TOTAL_CAP - 19, LIST_TOTAL_CAP)
    with fees_db.unit_of_work(tenant=OTHER_COUNTY) as uow:
        uow.session.execute(text(
            "INSERT INTO fees.cases (tenant_code, case_number, status, source, updated_at)"
            " VALUES (:t, :n, 'noticed', 'cashier', timestamptz '2026-03-02 08:00+08')"),
            {"t": OTHER_COUNTY, "n": f"{_PREFIX}{LIST_TOTAL_CAP + 1:06d}"})
        uow.commit()                                                            # one more, the oldest: above the cap
    page = cashier.ListCases(noticed)
    assert (page.total, page.total_capped) == (LIST_TOTAL_CAP, True)
    assert [c.case_number for c in page.cases] == _numbers(LIST_TOTAL_CAP - 19, LIST_TOTAL_CAP)   # the same page
    # a page past the cap is still read (the cap bounds the count, not the list): the oldest, then nothing
    last = cashier.ListCases(pb.ListCasesRequest(status=pb.CASE_STATUS_NOTICED, limit=20, offset=LIST_TOTAL_CAP))
    assert [c.case_number for c in last.cases] == [f"{_PREFIX}{LIST_TOTAL_CAP + 1:06d}"]
    assert (last.total, last.total_capped) == (LIST_TOTAL_CAP, True)
    beyond = cashier.ListCases(pb.ListCasesRequest(status=pb.CASE_STATUS_NOTICED, limit=20, offset=5000))
    assert not beyond.cases and (beyond.total, beyond.total_capped) == (LIST_TOTAL_CAP, True)
    every = cashier.ListCases(pb.ListCasesRequest(limit=20))                    # no filter: every status counts
    assert (every.total, every.total_capped) == (LIST_TOTAL_CAP, True)
    assert [c.case_number for c in every.cases] == _numbers(LIST_TOTAL_CAP - 19, LIST_TOTAL_CAP)  # in its order
    assert cashier.ListCases(pb.ListCasesRequest(status=pb.CASE_STATUS_SETTLED)).total == 0


def test_another_units_cases_neither_appear_nor_count(as_, fees_db, many_noticed):
    mine = as_("county.cashier").AssessFees(pb.AssessFeesRequest(
        case_number=case_number(), lines=[pb.LineInput(fee_code="FEE-JMSFZ-BL")], item_name="居民身份证换领",
        applicant_name="马秀英")).case_number
    for user, tenant in (("county.cashier", COUNTY), ("dongdajie.cashier", None)):
        listed, offset, totals = [], 0, set()
        while True:
            page = as_(user).ListCases(pb.ListCasesRequest(limit=200, offset=offset))
            listed += [c.case_number for c in page.cases]
            totals.add((page.total, page.total_capped))
            offset += 200
            if len(page.cases) < 200:
                break
        assert not [n for n in listed if n.startswith(_PREFIX)], user
        assert totals == {(len(listed), False)}, user                           # theirs only, exactly
        assert (mine in listed) == (tenant == COUNTY), user
