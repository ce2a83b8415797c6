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


def test_records_appended_in_one_transaction_link_and_a_repeat_in_it_is_skipped(supervision_db):
    """A run of events in one transaction (a consumer's batch): the first append locks the tip, the next ones
    follow on from the tip it remembers, one statement each; a ref already in the chain is skipped there too and
    the tip stays; after the commit a new transaction locks the tip again, and the whole chain verifies."""
    from shared import hashchain

    tenant = "620602041"
    at = dt.datetime(2026, 10, 9, 9, 0, tzinfo=dt.UTC)
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        sent = []
        real = uow._send                                     # counts the statements, each still sent as it was
        uow._send = lambda statements, **kw: sent.extend(statements) or real(statements, **kw)
        first = [hashchain.append(uow, "supervision", tenant, "test.batch", "ref-0", '{"i":0}', at)]
        opening = len(sent)
        first += [hashchain.append(uow, "supervision", tenant, "test.batch", f"ref-{i}", f'{{"i":{i}}}', at)
                  for i in range(1, 4)]
        assert opening >= 2 and len(sent) == opening + 3   # the tip locked once, then a statement a record
        again = hashchain.append(uow, "supervision", tenant, "test.batch", "ref-1", '{"i":1}', at)
        last = hashchain.append(uow, "supervision", tenant, "test.batch", "ref-4", '{"i":4}', at)
        uow.commit()
    assert again is None and all(first) and last is not None
    seqs = [r.seq for r in [*first, last]]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert [r.prev_hash for r in [*first, last]][1:] == [r.hash for r in first]
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        assert uow.held == {}                                  # a new transaction knows nothing it does not lock
        after = hashchain.append(uow, "supervision", tenant, "test.batch", "ref-5", '{"i":5}', at)
        assert hashchain.append(uow, "supervision", tenant, "test.batch", "ref-0", '{"i":0}', at) is None
        uow.commit()
    assert after.seq == last.seq + 1 and after.prev_hash == last.hash
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        verdict = hashchain.verify_stored(uow, "supervision", tenant, {})
    assert verdict.ok, verdict.finding
    assert verdict.last_seq == after.seq and verdict.last_hash == after.hash


def test_a_transaction_rolled_back_forgets_the_tip_it_held(supervision_db):
    from shared import hashchain

    tenant = "620602042"
    at = dt.datetime(2026, 10, 9, 9, 0, tzinfo=dt.UTC)
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        kept = hashchain.append(uow, "supervision", tenant, "test.batch", "kept", "{}", at)
        uow.commit()
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        hashchain.append(uow, "supervision", tenant, "test.batch", "lost", "{}", at)
        assert uow.held
        uow.rollback()
        assert uow.held == {}
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        again = hashchain.append(uow, "supervision", tenant, "test.batch", "lost", "{}", at)
        uow.commit()
    assert again.seq == kept.seq + 1 and again.prev_hash == kept.hash
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        assert hashchain.verify_stored(uow, "supervision", tenant, {}).ok
