"""The province's payment callback under the docking gateway's rules: carried in the province's signed,
fresh, never-replayed envelope, then handed to the fees service, which still checks the payment platform's
own signature over the callback's fields (its existing callback keeps working beside this route)."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest

from gateway.docking.clients import FeesClient
from gateway.docking.tests.conftest import COUNTY, make_handlers, send
from services.fees.demo import load_demo_fees
from services.fees.handlers import FeesHandlers
from services.fees.payments import canonical_form
from services.fees.service import registration as fees_registration
from services.fees.translate import EventsOut as FeesEvents
from shared.db import Database
from shared.sm2 import Signer, Verifier, generate_keypair
from tests.support import serving


@pytest.fixture(scope="module")
def payment_keys():
    return generate_keypair()


@pytest.fixture
def docking_with_fees(migrated, docking_db, county_keys, province_keys, simulator, verifier, payment_keys):
    from sanji.docking.v1 import docking_pb2_grpc

    from gateway.docking.service import registration

    load_demo_fees(migrated.database_owner_url)
    fees_db = Database.connect(migrated.database_url, schema="fees", pool_size=4)
    fees = FeesHandlers(fees_db, province=Verifier(payment_keys[1]), receipt_signer=Signer(*generate_keypair()),
                        events_out=FeesEvents())
    try:
        with serving([fees_registration(fees)], verifier) as fees_target:
            h = make_handlers(docking_db, county_keys, province_keys, simulator, fees=FeesClient(fees_target))
            with serving([registration(h)], verifier) as target, grpc.insecure_channel(target) as ch:
                yield docking_pb2_grpc.DockingServiceStub(ch), simulator
    finally:
        fees_db.dispose()


def callback_fields() -> dict[str, str]:
    return {"payment_id": f"GSPAY{uuid.uuid4().hex[:16].upper()}",
            "notice_number": f"62{uuid.uuid4().int % 10**16:016d}",
            "amount_fen": "1000", "paid_at": dt.datetime.now(dt.UTC).isoformat(), "payee_account": "27050101040012345",
            "payer_name": "张三", "channel": "unionpay"}


def test_a_callback_in_the_provinces_envelope_reaches_fees_once(docking_with_fees, payment_keys):
    stub, sim = docking_with_fees
    payer = Signer(*payment_keys)
    msg = sim.payment_callback(COUNTY, callback_fields(), lambda f: payer.sign(canonical_form(f)))
    r = send(stub, msg)
    # a payment matching no notice goes to the cashier's reconciliation queue: fees took it, verified
    assert not r.duplicate and r.reference == "queued"
    with pytest.raises(grpc.RpcError) as e:
        send(stub, msg)                                   # the same envelope again: a replay, refused
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_fields_must_still_carry_the_payment_platforms_signature(docking_with_fees):
    stub, sim = docking_with_fees
    other = Signer(*generate_keypair())
    msg = sim.payment_callback(COUNTY, callback_fields(), lambda f: other.sign(canonical_form(f)))
    with pytest.raises(grpc.RpcError) as e:
        send(stub, msg)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_callback_outside_the_envelope_rules_never_reaches_fees(docking_with_fees, payment_keys):
    stub, sim = docking_with_fees
    payer = Signer(*payment_keys)
    fields = callback_fields()
    body = {"fields": fields, "signature": payer.sign(canonical_form(fields))}
    stale = sim.envelope("payment_callback", COUNTY, body, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    with pytest.raises(grpc.RpcError) as e:
        send(stub, stale)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
