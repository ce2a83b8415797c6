"""What a window waits on, counted over its whole list (CountApplications): 待受理 · 补正中 · 待出件 on the
window's page came from the 200 rows the page shows, so at a year's volume a correction or a result waiting since
last month was not counted. Each status is counted as the list's total is — the same rows (the unit's own and
those it collected for a higher level, 代收), up to the same cap — inside the unit, and the page shows the
counts the service gives."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE
from services.intake.repository import LIST_TOTAL_CAP
from services.intake.tests.conftest import (
    COUNTY,
    SIBLING,
    TOWNSHIP,
    auth,
    collected_item,
    err,
    field_of,
    submit_request,
)
from services.intake.translate import STATUS

EVERY = [pb.ApplicationStatus.Value(n) for n in pb.ApplicationStatus.keys() if not n.endswith("UNSPECIFIED")]


def _reference(intake_db, tenant: str, *, subtree: bool = False) -> dict[str, int]:
    """The list's rows by status, counted whole (a scan of the unit's year, as the list once read it)."""
    where = "a.tenant_code LIKE :t || '%'" if subtree else "(a.tenant_code = :t OR a.collect_tenant = :t)"
    with intake_db.unit_of_work(tenant=tenant, subtree=subtree) as uow:
        rows = uow.session.execute(text(f"SELECT status, count(*) FROM intake.applications a WHERE {where}"
                                        " GROUP BY status"), {"t": tenant}).all()
    return {r[0]: r[1] for r in rows}


def _expected(reference: dict[str, int], statuses) -> list[tuple[int, int, bool]]:
    out = []
    for value in statuses:
        n = reference.get(next(str(s) for s, v in STATUS.items() if v == value), 0)
        out.append((value, min(n, LIST_TOTAL_CAP), n > LIST_TOTAL_CAP))
    return out


def _counted(caller, statuses, **kw) -> list[tuple[int, int, bool]]:
    got = caller.CountApplications(pb.CountApplicationsRequest(statuses=statuses, **kw))
    return [(c.status, c.count, c.capped) for c in got.counts]


@pytest.fixture(scope="module")
def collecting(stub, tokens, as_user, catalogue_items):
    """The township window with applications of its own in four states, and one it collected for the county."""
    item = collected_item(stub, tokens, "高龄津贴申领")
    clerk = as_user("dongdajie.clerk")
    own = [clerk.SubmitApplication(submit_request(catalogue_items["township"])) for _ in range(5)]
    clerk.RequestCorrection(pb.RequestCorrectionRequest(
        application_id=own[0].id, items=[pb.CorrectionItem(material_code="M1", problem="复印件不清晰")]))
    clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=own[1].id))
    clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=own[2].id))
    collected = clerk.SubmitApplication(submit_request(item))
    assert collected.tenant == COUNTY and collected.collect_tenant == TOWNSHIP
    return own, collected


def test_each_status_is_counted_over_the_whole_list_as_its_total_is(as_user, collecting, intake_db):
    clerk = as_user("dongdajie.clerk")
    reference = _reference(intake_db, TOWNSHIP)
    assert reference["received"] >= 3 and reference["correction"] >= 1 and reference["accepted"] >= 2
    asked = [pb.APPLICATION_STATUS_COMPLETED, pb.APPLICATION_STATUS_RECEIVED, pb.APPLICATION_STATUS_CORRECTION]
    assert _counted(clerk, asked) == _expected(reference, asked)           # in the order asked
    assert _counted(clerk, EVERY) == _expected(reference, EVERY)
    for value, n, capped in _counted(clerk, EVERY):                     # the list's own total, status by status
        listed = clerk.ListApplications(pb.ListApplicationsRequest(status=value, limit=1))
        assert (listed.total, listed.total_capped) == (n, capped)
    # the collected application is the township's to count (its list holds it) and the county's too (its case)
    county = _reference(intake_db, COUNTY)
    assert _counted(as_user("county.clerk"), asked) == _expected(county, asked)
    assert county.get("received", 0) >= 1


def test_a_count_stays_inside_the_unit_and_its_readers(as_user, collecting, catalogue_items, intake_db, intake_stub):
    received = [pb.APPLICATION_STATUS_RECEIVED]
    clerk, sibling = as_user("dongdajie.clerk"), as_user("xidajie.clerk")
    before = {"mine": _counted(clerk, received)[0][1], "sibling": _counted(sibling, received)}
    assert before["sibling"] == _expected(_reference(intake_db, SIBLING), received)
    clerk.SubmitApplication(submit_request(catalogue_items["township"]))
    # the sibling township's window counts its own list only: dongdajie's new application is not in it
    assert _counted(sibling, received) == before["sibling"]
    mine = _counted(clerk, received)[0][1]
    assert mine == before["mine"] + 1
    # the county's supervisor counts its subtree when it asks for it, and its own unit's list otherwise
    supervisor = as_user("county.supervisor")
    subtree = _counted(supervisor, received, subtree=True)
    assert subtree == _expected(_reference(intake_db, COUNTY, subtree=True), received)
    assert subtree[0][1] >= mine
    assert _counted(supervisor, received) == _expected(_reference(intake_db, COUNTY), received)
    # a window asking for the subtree, a role that does not read the list, and nobody at all are refused
    assert err(as_user("dongdajie.clerk").CountApplications,
               pb.CountApplicationsRequest(statuses=received, subtree=True)).code() == grpc.StatusCode.PERMISSION_DENIED
    assert err(as_user("county.agent").CountApplications,
               pb.CountApplicationsRequest(statuses=received)).code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as e:
        intake_stub.CountApplications(pb.CountApplicationsRequest(statuses=received), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("statuses", [
    [],                                                                   # nothing to count
    [pb.APPLICATION_STATUS_UNSPECIFIED],                                  # not a status
    [pb.APPLICATION_STATUS_RECEIVED, 99],                                 # unknown to the API
    [-1],
    [pb.APPLICATION_STATUS_RECEIVED, pb.APPLICATION_STATUS_CORRECTION, pb.APPLICATION_STATUS_RECEIVED],  # twice
])
def test_statuses_that_are_not_a_set_of_known_ones_are_refused(as_user, statuses):
    e = err(as_user("dongdajie.clerk").CountApplications, pb.CountApplicationsRequest(statuses=statuses))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "statuses"
    assert re.search(r"[\u4e00-\u9fff]", e.details())                    # said in Chinese


@pytest.fixture
def cap_of_completed(intake_db):
    """The sibling township (xidajie) with LIST_TOTAL_CAP results waiting for their hand-out (bare rows, written
    bound to it as the service writes); removed afterwards."""
    def add(count: int, first: int = 1) -> None:
        with intake_db.unit_of_work(tenant=SIBLING) as uow:
            uow.session.execute(text(
                "INSERT INTO intake.applications (id, tenant_code, origin_tenant, idempotency_key, item_id,"
                " item_version, item_name, scenario_code, channel, status, applicant_id_number, applicant_id_suffix,"
                " received_at, received_on, doc) SELECT gen_random_uuid(), :t, :t, 'cap-' || g, gen_random_uuid(), 1,"
                " '居民身份证换领', 'S1', 1, 'completed', '620602194003150019', '150019',"
                " timestamptz '2026-01-05 09:00+08' + g * interval '1 minute', date '2026-01-05', '{}'"
                " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"),
                {"t": SIBLING, "first": first, "last": first + count - 1})
            uow.commit()
    add(LIST_TOTAL_CAP)
    yield add
    with intake_db.unit_of_work(tenant=SIBLING) as uow:
        uow.session.execute(text("DELETE FROM intake.applications WHERE tenant_code = :t AND idempotency_key LIKE"
                                 " 'cap-%'"), {"t": SIBLING})
        uow.commit()


def test_a_count_above_the_cap_says_so(as_user, cap_of_completed, intake_db):
    """Up to the list's cap (1,000) a count is exact; above it, it is the cap and says so ("1000+"), as the list's
    total does; the other statuses counted beside it stay exact."""
    sibling, completed = as_user("xidajie.clerk"), [pb.APPLICATION_STATUS_COMPLETED, pb.APPLICATION_STATUS_RECEIVED]
    reference = _reference(intake_db, SIBLING)
    assert reference["completed"] >= LIST_TOTAL_CAP
    assert _counted(sibling, completed) == _expected(reference, completed)
    cap_of_completed(1, first=LIST_TOTAL_CAP + 1)
    reference = _reference(intake_db, SIBLING)
    got = _counted(sibling, completed)
    assert got[0] == (pb.APPLICATION_STATUS_COMPLETED, LIST_TOTAL_CAP, True) and got == _expected(reference, completed)
    listed = sibling.ListApplications(pb.ListApplicationsRequest(status=pb.APPLICATION_STATUS_COMPLETED, limit=1))
    assert (listed.total, listed.total_capped) == (LIST_TOTAL_CAP, True)


def test_the_window_page_shows_what_waits_on_the_whole_list(client, tokens, collecting, intake_db):
    """Filtered to the accepted ones, the page's rows hold no received application: the counts still do."""
    reference = _reference(intake_db, TOWNSHIP)
    page = client.get("/console/window/today", params={"status": "accepted"}, headers=auth(tokens, "dongdajie.clerk"))
    assert page.status_code == 200, page.text
    shown = dict(re.findall(r"(待受理|补正中|待出件) <strong>(\d+\+?)</strong>", page.text))
    assert shown == {"待受理": str(reference["received"]), "补正中": str(reference["correction"]),
                     "待出件": str(reference.get("completed", 0))}
    assert collecting[0][1].id in page.text and collecting[0][3].id not in page.text
    refused = client.get("/console/window/today", params={"status": "waiting"}, headers=auth(tokens, "dongdajie.clerk"))
    assert refused.status_code == 422


def test_the_window_page_pages_through_the_list_as_the_service_lists_it(client, as_user, tokens, catalogue_items):
    """A page at a time (CONSOLE_PAGE rows), newest first: the 下一页 address gives the next rows of the same list
    with its filter kept; an offset that is not a page's is refused."""
    clerk, headers = as_user("dongdajie.clerk"), auth(tokens, "dongdajie.clerk")
    for _ in range(CONSOLE_PAGE + 1):
        clerk.SubmitApplication(submit_request(catalogue_items["township"]))
    listed = clerk.ListApplications(pb.ListApplicationsRequest(status=pb.APPLICATION_STATUS_RECEIVED,
                                                               limit=2 * CONSOLE_PAGE))
    expected = [a.id for a in listed.applications]
    assert len(expected) > CONSOLE_PAGE

    def shown(page_text: str) -> list[str]:
        return re.findall(r'href="/console/window/app/([0-9a-f-]{36})"', page_text)

    first = client.get("/console/window/today", params={"status": "received"}, headers=headers)
    assert first.status_code == 200 and shown(first.text) == expected[:CONSOLE_PAGE]
    following = html.unescape(re.search(r'<a href="([^"]+)" rel="next">下一页</a>', first.text).group(1))
    assert parse_qs(urlsplit(following).query) == {"status": ["received"], "offset": [str(CONSOLE_PAGE)]}
    second = client.get(following, headers=headers)
    assert second.status_code == 200
    assert shown(second.text) == expected[CONSOLE_PAGE:2 * CONSOLE_PAGE] and 'rel="prev">上一页' in second.text
    for bad in ("-1", "x", str(CONSOLE_MAX_OFFSET + 1), "1e3"):
        assert client.get("/console/window/today", params={"offset": bad}, headers=headers).status_code == 422, bad
