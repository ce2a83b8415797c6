"""Daily reconciliation (每日对账): counts and hashes per day and message type against the province's receipt
log; every mismatch listed, a report the province has no receipt of sent again, the report kept as CSV."""

from __future__ import annotations

import csv
import io

import grpc
import pytest
from sanji.docking.v1 import docking_pb2 as pb

from gateway.docking import domain
from gateway.docking.service import registration
from gateway.docking.tests.conftest import COUNTY
from gateway.docking.tests.test_delivery import FLOW, assert_each_once_in_order, case_numbers, drain, interleaved
from shared.db import sql
from tests.support import Caller, serving


@pytest.fixture
def admin(handlers, verifier, tokens):
    from sanji.docking.v1 import docking_pb2_grpc

    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as ch:
        yield Caller(docking_pb2_grpc.DockingServiceStub(ch), tokens["county.admin"])


def today() -> str:
    import datetime as dt

    return domain.day_of(dt.datetime.now(dt.UTC))


def test_after_an_outage_reconciliation_shows_no_difference(handlers, docking_db, simulator, admin):
    simulator.fault("down")
    cases = case_numbers(2)
    interleaved(handlers, docking_db, cases)
    handlers.deliver_due()
    simulator.fault("ok")
    drain(handlers, docking_db)
    assert_each_once_in_order(simulator, cases)
    # the simulator is this test's: it holds only what was delivered to it today; ours may hold earlier tests'
    r = admin.Reconcile(pb.ReconcileRequest(day=today()))
    mine = {t.message_type: t for t in r.types}
    for kind in FLOW:
        assert mine[kind].theirs >= len(cases)
    ours = {m for m in r.missing_at_province}
    assert not r.unknown_to_us
    # what was delivered to an earlier test's simulator is missing here: listed and sent again, then matched
    drain(handlers, docking_db)
    again = admin.Reconcile(pb.ReconcileRequest(day=today()))
    assert not again.missing_at_province and all(t.matches for t in again.types)
    assert again.resent == 0 and r.resent == len(ours)


def test_a_report_the_province_lost_is_listed_resent_and_the_report_kept(handlers, docking_db, simulator, admin):
    admin.Reconcile(pb.ReconcileRequest(day=today()))          # earlier tests' reports: sent to this simulator
    drain(handlers, docking_db)
    cases = case_numbers(2)
    interleaved(handlers, docking_db, cases)
    drain(handlers, docking_db)
    lost = [r for r in simulator.receipts() if r.case_ref == cases[0]][1]
    simulator.forget(lost.message_id)
    r = admin.Reconcile(pb.ReconcileRequest(day=today()))
    assert r.missing_at_province == [lost.message_id] and r.resent == 1
    [bad] = [t for t in r.types if not t.matches]
    assert bad.message_type == lost.type and bad.ours == bad.theirs + 1 and bad.our_hash != bad.their_hash
    rows = list(csv.reader(io.StringIO(r.csv)))
    assert rows[0][:4] == ["日期", "单位", "报文类型", "本方条数"]
    assert ["省方未收到", lost.message_id] == [rows[-1][2], rows[-1][3]]
    drain(handlers, docking_db)
    assert [x.message_id for x in simulator.receipts()].count(lost.message_id) == 1
    assert all(t.matches for t in admin.Reconcile(pb.ReconcileRequest(day=today())).types)
    with docking_db.unit_of_work(tenant=COUNTY) as uow:
        kept = uow.rows(sql("SELECT mismatches, resent, csv, pdf FROM docking.reconciliations ORDER BY id DESC"
                            " LIMIT 2"))
    assert kept[0][0] == 0 and kept[1][0] == 1 and kept[1][1] == 1 and lost.message_id in kept[1][2]
    # the PDF beside the CSV, kept and given: the same rows, printable
    assert r.pdf.startswith(b"%PDF") and bytes(kept[1][3]) == r.pdf
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.pdf)).pages)
    assert "省方未收到" in text and lost.message_id in "".join(text.split())


def test_reconciliation_is_for_the_county_and_its_staff(admin, handlers, verifier, tokens):
    from sanji.docking.v1 import docking_pb2_grpc

    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as ch:
        stub = docking_pb2_grpc.DockingServiceStub(ch)
        for user in ("county.clerk", "dongdajie.admin"):
            with pytest.raises(grpc.RpcError) as e:
                Caller(stub, tokens[user]).Reconcile(pb.ReconcileRequest(day=today()))
            assert e.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION)
    with pytest.raises(grpc.RpcError) as e:
        admin.Reconcile(pb.ReconcileRequest(day="2026-13-01"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_daily_run_reconciles_every_county_that_reported_and_signs_the_logs_day(
        handlers, docking_db, simulator, admin):
    import datetime as dt

    admin.Reconcile(pb.ReconcileRequest(day=today()))          # earlier tests' reports: sent to this simulator
    drain(handlers, docking_db)
    cases = case_numbers(1)
    interleaved(handlers, docking_db, cases)
    drain(handlers, docking_db)
    found = handlers.daily(dt.date.fromisoformat(today()))
    assert found.get(COUNTY) == 0
    with docking_db.unit_of_work(tenant=COUNTY) as uow:
        kept = uow.row(sql("SELECT day::text, mismatches FROM docking.reconciliations ORDER BY id DESC LIMIT 1"))
    assert kept == (today(), 0)


def test_a_restarted_simulator_keeps_its_receipt_log_and_reconciliation_still_matches(
        docking_db, county_keys, province_keys, verifier, tokens, tmp_path):
    from sanji.docking.v1 import docking_pb2_grpc

    from gateway.docking.tests.conftest import make_handlers
    from infra.province.simulator import ProvinceSimulator

    log = tmp_path / "receipts.jsonl"

    def simulator(port: int = 0) -> ProvinceSimulator:
        return ProvinceSimulator(county_public_key=county_keys[1], private_key=province_keys[0],
                                 public_key=province_keys[1], port=port, receipt_log=log).start()

    first = simulator()
    h = make_handlers(docking_db, county_keys, province_keys, first)
    with serving([registration(h)], verifier) as target, grpc.insecure_channel(target) as ch:
        admin = Caller(docking_pb2_grpc.DockingServiceStub(ch), tokens["county.admin"])
        try:
            admin.Reconcile(pb.ReconcileRequest(day=today()))      # earlier tests' reports: sent to this one too
            drain(h, docking_db)
            cases = case_numbers(3)
            interleaved(h, docking_db, cases)
            drain(h, docking_db)
            lost = [r for r in first.receipts() if r.case_ref == cases[1]][0]
            first.forget(lost.message_id)                           # a loss survives the restart too
            before = {r.message_id for r in first.receipts()}
        finally:
            first.stop()
        second = simulator(first.port)
        try:
            assert {r.message_id for r in second.receipts()} == before
            assert_each_once_in_order(second, [cases[0], cases[2]])
            r = admin.Reconcile(pb.ReconcileRequest(day=today()))
            assert r.missing_at_province == [lost.message_id] and not r.unknown_to_us
            drain(h, docking_db)
            again = admin.Reconcile(pb.ReconcileRequest(day=today()))
            assert not again.missing_at_province and all(t.matches for t in again.types) and again.resent == 0
            assert second.reports_of(cases[1]).count(lost.type) == 1
        finally:
            second.stop()


def test_a_townships_reports_are_reconciled_with_its_county(handlers, docking_db, simulator, admin):
    """A township's case (a county item delegated to it, e.g. taken in online at its window) is reported by the
    county's docking to the province like the county's own: the county's reconciliation counts it, its message
    log holds it, and nothing is left over on either side."""
    from gateway.docking.tests.conftest import TOWNSHIP

    admin.Reconcile(pb.ReconcileRequest(day=today()))          # earlier tests' reports: sent to this simulator
    drain(handlers, docking_db, tenants=(COUNTY, TOWNSHIP))
    cases = case_numbers(2, tenant=TOWNSHIP)
    interleaved(handlers, docking_db, cases, tenant=TOWNSHIP)
    drain(handlers, docking_db, tenants=(COUNTY, TOWNSHIP))
    assert_each_once_in_order(simulator, cases)
    assert {r.tenant for r in simulator.receipts() if r.case_ref in cases} == {COUNTY}
    r = admin.Reconcile(pb.ReconcileRequest(day=today()))
    assert not r.unknown_to_us and not r.missing_at_province and r.resent == 0
    assert all(t.matches for t in r.types)
    with docking_db.unit_of_work(tenant=COUNTY) as uow:
        logged = uow.value(sql("SELECT count(*) FROM docking.log_records WHERE tenant_code = :t AND ref = ANY(:r)"),
                           {"t": COUNTY, "r": [f"out:{x.message_id}" for x in simulator.receipts()
                                               if x.case_ref in cases]})
    assert logged == len(cases) * len(FLOW)
