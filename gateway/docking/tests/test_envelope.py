"""The envelope both ways (issue 18): every message signed with SM2 by its sender, stamped within ±5 minutes,
with a nonce never seen before; refused otherwise — forged, altered, stale and replayed, 100 %. Every message
taken is in the county's message log, an SM3 chain that shows an altered or missing entry."""

from __future__ import annotations

import copy
import datetime as dt
import json

import grpc
import pytest
from sanji.docking.v1 import docking_pb2 as pb

from gateway.docking.envelope import canonical_form, seal
from gateway.docking.repository import DockingRepository
from gateway.docking.tests.conftest import (
    COUNTY,
    OTHER_PROVINCE_COUNTY,
    SIBLING_COUNTY,
    TOWNSHIP,
    applicant,
    make_handlers,
    new_id,
    owner_exec,
    send,
)
from shared.sm2 import Signer, generate_keypair
from tests.support import Caller


def application(sim, tenant=COUNTY, unit=TOWNSHIP, **kw):
    return sim.online_application(tenant, unit, new_id(), applicant(), **kw)


def refused(stub, msg) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        send(stub, msg)
    return e.value


def test_a_signed_fresh_message_is_taken_once_and_logged(docking_stub, simulator, handlers, docking_db):
    msg = application(simulator)
    r = send(docking_stub, msg)
    assert r.message_id == msg["message_id"] and not r.duplicate
    receipt = json.loads(r.receipt_json)
    # our answer is signed by the county's key, for the province to check
    assert receipt["type"] == "receipt" and receipt["body"] == {"message_id": msg["message_id"], "duplicate": False}
    assert simulator.county.verify(receipt["signature"], canonical_form(receipt))
    with docking_db.unit_of_work(tenant=COUNTY) as uow:
        entry = DockingRepository(uow).logged(COUNTY, "in", msg["message_id"])
        serial = DockingRepository(uow).online(COUNTY, msg["body"]["provincial_serial"])
    assert entry["signature"] == msg["signature"] and entry["nonce"] == msg["nonce"] and len(entry["hash"]) == 64
    assert serial["unit_code"] == TOWNSHIP and serial["status"] == "received"


def test_the_same_message_id_again_with_a_new_nonce_is_a_duplicate_not_a_second_application(
        docking_stub, simulator):
    msg = application(simulator)
    assert not send(docking_stub, msg).duplicate
    again = simulator.envelope(msg["type"], COUNTY, msg["body"], message_id=msg["message_id"],
                               case_ref=msg["case_ref"])
    assert again["nonce"] != msg["nonce"]
    assert send(docking_stub, again).duplicate


def _forged(sim, msg):
    other = Signer(*generate_keypair())
    forged = seal(other, type=msg["type"], sender=msg["sender"], receiver=msg["receiver"], tenant=msg["tenant"],
                  body=msg["body"], case_ref=msg["case_ref"])
    forged["key_id"] = msg["key_id"]          # claims the province's key
    forged["signature"] = other.sign(canonical_form(forged))
    return forged


def _altered(field, value):
    def alter(sim, msg):
        out = copy.deepcopy(msg)
        if field.startswith("body."):
            out["body"][field[5:]] = value
        else:
            out[field] = value
        return out
    return alter


def _stale(minutes):
    def stale(sim, msg):
        return sim.envelope(msg["type"], msg["tenant"], msg["body"], case_ref=msg["case_ref"],
                            now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes))
    return stale


ATTACKS = {
    "forged with another key": _forged,
    "signature of another message": lambda sim, msg: {**msg, "signature": application(sim)["signature"]},
    "no signature": _altered("signature", ""),
    "altered body (unit)": _altered("body.unit", "620602002"),
    "altered body (applicant)": _altered("body.applicant", {"name": "李四"}),
    "altered timestamp": _altered("timestamp", (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()),
    "altered nonce": _altered("nonce", "ab" * 16),
    "altered tenant": _altered("tenant", SIBLING_COUNTY),
    "stale by 6 minutes": _stale(-6),
    "ahead by 6 minutes": _stale(6),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_forged_altered_and_stale_messages_from_the_province_are_refused(attack, docking_stub, simulator,
                                                                         docking_db, docking_migrated):
    msg = ATTACKS[attack](simulator, application(simulator))
    e = refused(docking_stub, msg)
    assert e.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.INVALID_ARGUMENT)
    with docking_db.unit_of_work(tenant=msg["tenant"]) as uow:
        assert DockingRepository(uow).logged(msg["tenant"], "in", msg["message_id"]) is None
    # counted where operations read it (the owner: the application role may only append)
    [(reason,)] = owner_exec(docking_migrated.database_owner_url, "SELECT reason FROM docking.refusals"
                             " WHERE claimed_message_id = :m", m=msg["message_id"])
    assert reason in ("signature", "stale", "tenant", "route")


def test_within_the_window_is_taken(docking_stub, simulator):
    msg = simulator.envelope("online_application", COUNTY, application(simulator)["body"],
                             now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4))
    assert not send(docking_stub, msg).duplicate


def test_a_replayed_message_is_refused(docking_stub, simulator):
    msg = application(simulator)
    send(docking_stub, msg)
    e = refused(docking_stub, msg)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED and "重放" in e.details()


def test_the_province_reaches_only_the_routes_meant_for_it(docking_stub, simulator):
    body = application(simulator)["body"]
    e = refused(docking_stub, simulator.envelope("case_report", COUNTY, body))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    e = refused(docking_stub, simulator.envelope("reconcile_now", COUNTY, body))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_province_message_for_one_county_cannot_touch_another(docking_stub, simulator, docking_db):
    # the unit named belongs to another county than the one the message is for
    e = refused(docking_stub, application(simulator, tenant=COUNTY, unit="620621100"))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    # a county of another province: the province's key does not speak for it
    e = refused(docking_stub, application(simulator, tenant=OTHER_PROVINCE_COUNTY, unit="513221100"))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    # what one county's message made is invisible to another county's transaction (RLS)
    msg = application(simulator)
    send(docking_stub, msg)
    with docking_db.unit_of_work(tenant=SIBLING_COUNTY) as uow:
        repo = DockingRepository(uow)
        assert repo.logged(COUNTY, "in", msg["message_id"]) is None
        assert repo.online(COUNTY, msg["body"]["provincial_serial"]) is None


def test_a_province_without_a_configured_key_is_refused(docking_db, county_keys, province_keys, simulator, verifier):
    from gateway.docking.service import registration
    from tests.support import serving

    h = make_handlers(docking_db, county_keys, province_keys, simulator)
    h.verifiers = {}
    import grpc as g
    from sanji.docking.v1 import docking_pb2_grpc

    with serving([registration(h)], verifier) as target, g.insecure_channel(target) as ch:
        e = refused(docking_pb2_grpc.DockingServiceStub(ch), application(simulator))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("raw, field", [("not json", "envelope_json"), ("[]", "envelope_json"),
                                        ('{"message_id": "x"}', "envelope_json")])
def test_bad_input_is_refused_naming_the_field(docking_stub, raw, field):
    from grpc import StatusCode

    from shared.grpc.server import FIELD_KEY

    e = refused(docking_stub, raw)
    assert e.code() == StatusCode.INVALID_ARGUMENT
    assert dict(e.trailing_metadata())[FIELD_KEY] == field


def test_the_message_log_is_a_chain_that_shows_an_altered_or_missing_entry(docking_stub, simulator, tokens,
                                                                            docking_migrated):
    for _ in range(3):
        send(docking_stub, application(simulator))
    admin = Caller(docking_stub, tokens["county.admin"])
    v = admin.VerifyMessageLog(pb.VerifyMessageLogRequest())
    assert v.intact and v.entries >= 3
    owner = docking_migrated.database_owner_url
    seq = owner_exec(owner, "SELECT max(seq) - 1 FROM docking.log_records WHERE tenant_code = :t", t=COUNTY)[0][0]
    body = owner_exec(owner, "SELECT body FROM docking.log_records WHERE tenant_code = :t AND seq = :s",
                      t=COUNTY, s=seq)[0][0]
    try:
        owner_exec(owner, "UPDATE docking.log_records SET body = replace(body, '\"in\"', '\"in\"') || ' '"
                          " WHERE tenant_code = :t AND seq = :s", t=COUNTY, s=seq)
        v = admin.VerifyMessageLog(pb.VerifyMessageLogRequest())
        assert not v.intact and v.first_bad_seq == seq and "篡改" in v.problem
    finally:
        owner_exec(owner, "UPDATE docking.log_records SET body = :b WHERE tenant_code = :t AND seq = :s",
                   b=body, t=COUNTY, s=seq)
    assert admin.VerifyMessageLog(pb.VerifyMessageLogRequest()).intact
    row = owner_exec(owner, "SELECT * FROM docking.log_records WHERE tenant_code = :t AND seq = :s", t=COUNTY, s=seq)[0]
    try:
        owner_exec(owner, "DELETE FROM docking.log_records WHERE tenant_code = :t AND seq = :s", t=COUNTY, s=seq)
        v = admin.VerifyMessageLog(pb.VerifyMessageLogRequest())
        assert not v.intact and "删除" in v.problem
    finally:
        owner_exec(owner, "INSERT INTO docking.log_records (tenant_code, seq, kind, ref, body, recorded_at, prev_hash,"
                          " hash) VALUES (:a, :b, :c, :d, :e, :f, :g, :h)",
                   **dict(zip("abcdefgh", row, strict=True)))
    assert admin.VerifyMessageLog(pb.VerifyMessageLogRequest()).intact
    # the log is the county's: a clerk may not read it
    with pytest.raises(grpc.RpcError) as e:
        Caller(docking_stub, tokens["county.clerk"]).VerifyMessageLog(pb.VerifyMessageLogRequest())
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_refused_messages_are_all_counted_and_a_bounded_number_stored(docking_db, docking_migrated, county_keys,
                                                                      province_keys):
    import json
    import random
    import uuid

    from gateway.docking.tests.conftest import make_handlers
    from shared.errors import InvalidArgument

    h = make_handlers(docking_db, county_keys, province_keys, refusals_per_minute=3)
    # a minute of its own (the count is per minute, across the process): the handlers' clock set there
    minute = dt.datetime(2001, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=random.randrange(500_000))
    h.now = lambda: minute + dt.timedelta(seconds=7)
    ids = [str(uuid.uuid4()) for _ in range(8)]
    for mid in ids:
        with pytest.raises(InvalidArgument):
            h.receive(json.dumps({"message_id": mid, "type": "online_application", "flood": "x" * 1000}))
    [(seen, stored)] = owner_exec(docking_migrated.database_owner_url,
                                  "SELECT seen, stored FROM docking.refusal_minutes WHERE minute = :m", m=minute)
    assert (seen, stored) == (8, 3)
    kept = owner_exec(docking_migrated.database_owner_url, "SELECT claimed_message_id, reason, body_bytes"
                      " FROM docking.refusals WHERE claimed_message_id = ANY(:ids)", ids=ids)
    assert sorted(r[0] for r in kept) == sorted(ids[:3])
    assert all(r[1] == "malformed" and r[2] > 1000 for r in kept)
