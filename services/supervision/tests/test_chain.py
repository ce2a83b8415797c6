"""The audit chain in PostgreSQL: every consumed event is appended (a redelivery is not); the day's head is signed;
a row altered, deleted or inserted directly in the database (as its owner) is named by the verification."""

from __future__ import annotations

import datetime as dt

import pytest
from sanji.supervision.v1 import supervision_pb2 as pb
from sqlalchemy import create_engine, text

from services.supervision.tests.conftest import err

D = dt.date
UNIT = "620602003"          # a township of its own, so each test's chain is known


@pytest.fixture
def owner(migrated):
    engine = create_engine(migrated.database_owner_url)
    yield engine
    engine.dispose()


def _chain(owner, tenant):
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
        return c.execute(text("SELECT seq, kind, ref, body FROM supervision.chain_records WHERE tenant_code = :t"
                              " ORDER BY seq"), {"t": tenant}).all()


def _as_owner(owner, tenant, statement, **params):
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
        c.execute(text(statement), {"t": tenant, **params})


def _fill(events, tenant, n=3):
    for _ in range(n):
        app, number = events.new_case(tenant)
        events.accepted(tenant, app, number, D(2026, 9, 29))


def test_every_event_is_chained_once_and_the_chain_verifies(events, handlers, owner, as_):
    tenant = "620602004"
    _fill(events, tenant)
    rows = _chain(owner, tenant)
    assert [r.kind for r in rows] == ["intake.application_accepted"] * 3 and [r.seq for r in rows] == [1, 2, 3]
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert v.ok and v.records == 3 and v.finding == "" and "完整" in v.text
    # a township's own supervisor verifies its chain; the sibling's supervisor cannot even ask for this one
    assert as_("dongdajie.supervisor").VerifyChain(pb.VerifyChainRequest(unit="620602001")).unit == "620602001"
    e = err(as_("xidajie.supervisor").VerifyChain, pb.VerifyChainRequest(unit=tenant))
    assert e.code().name == "PERMISSION_DENIED"


def test_a_row_altered_in_postgresql_is_named(events, handlers, owner, as_):
    tenant = "620602005"
    _fill(events, tenant)
    second = _chain(owner, tenant)[1]
    _as_owner(owner, tenant, "UPDATE supervision.chain_records SET body = replace(body, '建筑', '违章')"
                             " WHERE tenant_code = :t AND seq = 2")
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert (v.ok, v.finding, v.finding_seq, v.finding_ref) == (False, "altered", 2, second.ref)
    assert "篡改" in v.text


def test_a_row_deleted_in_postgresql_is_named(events, handlers, owner, as_):
    tenant = "620602006"
    _fill(events, tenant, 4)
    third = _chain(owner, tenant)[2]
    _as_owner(owner, tenant, "DELETE FROM supervision.chain_records WHERE tenant_code = :t AND seq = 2")
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert (v.finding, v.finding_seq, v.finding_ref) == ("deleted", 3, third.ref)


def test_a_row_inserted_in_postgresql_is_named(events, handlers, owner, as_):
    from shared import hashchain

    tenant = "620602007"
    _fill(events, tenant)
    rows = _chain(owner, tenant)
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
        first_hash = c.execute(text("SELECT hash FROM supervision.chain_records WHERE tenant_code = :t AND seq = 1"),
                               {"t": tenant}).scalar_one()
        forged = hashchain.link(tenant, 1, first_hash, "approval.case_decided", "forged-event", "{}",
                                dt.datetime(2026, 9, 29, 12, tzinfo=dt.UTC))
        c.execute(text("UPDATE supervision.chain_records SET seq = seq + 100 WHERE tenant_code = :t AND seq > 1"),
                  {"t": tenant})
        c.execute(text("UPDATE supervision.chain_records SET seq = seq - 99 WHERE tenant_code = :t AND seq > 100"),
                  {"t": tenant})
        c.execute(text("INSERT INTO supervision.chain_records (tenant_code, seq, kind, ref, body, recorded_at,"
                       " prev_hash, hash) VALUES (:t, 2, :k, :r, :b, :at, :p, :h)"),
                  {"t": tenant, "k": forged.kind, "r": forged.ref, "b": forged.body, "at": forged.recorded_at,
                   "p": forged.prev_hash, "h": forged.hash})
    assert len(_chain(owner, tenant)) == len(rows) + 1
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert (v.finding, v.finding_ref) == ("inserted", "forged-event")


def test_the_day_head_is_signed_and_a_deleted_tail_is_caught(events, handlers, owner, as_, clock):
    tenant = "620602008"
    _fill(events, tenant, 2)
    handlers.seal(D(2026, 12, 31), dt.datetime(2026, 12, 31, 0, 5, tzinfo=dt.UTC))
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert v.ok and v.heads >= 1
    _as_owner(owner, tenant, "DELETE FROM supervision.chain_records WHERE tenant_code = :t AND seq = 2")
    v = as_("county.supervisor").VerifyChain(pb.VerifyChainRequest(unit=tenant))
    assert (v.finding, v.finding_seq) == ("deleted", 2)


def test_the_application_role_cannot_change_or_remove_a_record(supervision_db, events):
    from sqlalchemy.exc import DBAPIError

    tenant = "620602009"
    _fill(events, tenant, 1)
    for statement in ("UPDATE supervision.chain_records SET body = '{}' WHERE tenant_code = :t",
                      "DELETE FROM supervision.chain_records WHERE tenant_code = :t"):
        with pytest.raises(DBAPIError) as e, supervision_db.unit_of_work(tenant=tenant) as uow:
            uow.execute(text(statement), {"t": tenant})
        assert getattr(e.value.orig, "sqlstate", None) == "42501"


def test_a_fee_of_an_unknown_case_is_chained_and_an_early_approval_event_waits(events, owner):
    from sanji.approval.v1 import events_pb2 as approval_ev
    from sanji.fees.v1 import events_pb2 as fees_ev

    from services.supervision.handlers import CaseNotYetKnown

    tenant = "620602010"
    events.send("fees", fees_ev.FeesSettled(case_number="NO-SUCH-CASE", tenant=tenant, paid_fen=100,
                                            at="2026-09-29T10:00:00+08:00"), tenant)
    assert [r.kind for r in _chain(owner, tenant)] == ["fees.fees_settled"]
    with pytest.raises(CaseNotYetKnown):          # retried by the consumer until its case_opened is in
        events.send("approval", approval_ev.CaseDecided(case_number="NOT-OPENED-YET", tenant=tenant,
                                                        outcome="approved", at="2026-09-29T10:00:00+08:00"), tenant)
    assert [r.kind for r in _chain(owner, tenant)] == ["fees.fees_settled"]     # and nothing of it was kept
