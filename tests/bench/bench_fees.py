"""Assess + issue + pay + settle on the real fees process, beside same-run baselines.

One settlement is what the fee window and the province do for one case: AssessFees (the published
fee catalogue, one fee line), IssueNotice (row lock, the tenant's notice-number sequence, the notice,
the outbox), then the provincial platform's payment callback (SM2 signature verified over the
canonical form, matched to the notice, the receipt countersigned with SM2 and digested with SM3,
`payment_received` and `fees_settled` in the outbox). The callbacks are signed beforehand, outside the
timed phases: that is the province's work, not ours.

Baselines measured in the same run: a bare PostgreSQL INSERT + COMMIT per case (the floor of any
durable per-case write), and the SM2 work one settlement needs done in this process (one verify and
one sign, with Tongsuo through `tongsuopy`), the ceiling of the signatures alone on one core.

CASES is the issue's 10,000. (With the earlier pure-Python `gmssl`, SM2 cost ~100 ms of CPU per
settlement and the run settled ~10 cases/s, so it measured 600 cases only.)
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc
from sqlalchemy import create_engine, text

from infra.demo.load import load_demo_users
from infra.oidc.client import login
from services.fees import signing
from services.fees.demo import TREASURY_ACCOUNTS, load_demo_fees
from services.fees.payments import canonical_form
from shared.db import relay_transaction
from shared.grpc.client import bearer
from tests.bench.common import Figure, percentile

CASES = 10_000
IN_FLIGHT = 8
COUNTY = "620602"


def _bare_insert_rate(url: str, n: int) -> float:
    """INSERT + COMMIT, one row per case, one connection (the floor of a durable write per case)."""
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            c.execute(text("CREATE TEMP TABLE bench_fee_case (case_number text PRIMARY KEY, total_fen bigint)"))
            c.commit()
            t0 = time.perf_counter()
            for i in range(n):
                c.execute(text("INSERT INTO bench_fee_case VALUES (:n, 2000)"), {"n": f"case-{i}"})
                c.commit()
            return n / (time.perf_counter() - t0)
    finally:
        eng.dispose()


def _sm2_ceiling(rounds: int = 500) -> float:
    """Settlements/s if the service did nothing but its SM2 work (one verify, one sign)."""
    private, public = signing.generate_keypair()
    signer, verifier = signing.Signer(private, public), signing.Verifier(public)
    data = canonical_form({"payment_id": "GSPAY0000001", "notice_number": "6206020000002026381746205",
                           "amount_fen": "2000", "paid_at": "2026-09-18T10:26:08+08:00",
                           "payee_account": "27050101040012345", "channel": "unionpay"})
    sig = signer.sign(data)
    t0 = time.perf_counter()
    for _ in range(rounds):
        verifier.verify(sig, data)
        signer.sign(data)
    return rounds / (time.perf_counter() - t0)


def _parallel(fn, items: list, in_flight: int = IN_FLIGHT) -> tuple[float, list, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def one(x):
        t0 = time.perf_counter()
        out = fn(x)
        with lock:
            latencies.append((time.perf_counter() - t0) * 1000)
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        results = list(pool.map(one, items))
    return time.perf_counter() - t0, results, latencies


def run(platform) -> list[Figure]:
    owner_url = platform.env["SANJI_DATABASE_OWNER_URL"]
    load_demo_fees(owner_url)
    if "fees" not in platform.procs:
        platform.start_service("fees")
    users = load_demo_users()
    cashier = next(u for u in users if u["tenant"] == COUNTY and u["roles"] == ["cashier"])
    md = bearer(login(platform.oidc_url, cashier["username"], cashier["password"]))
    account = next(a["account_number"] for a in TREASURY_ACCOUNTS if a["tenant_code"] == COUNTY)
    day = dt.date.today().strftime("%Y%m%d")
    start = random.randint(100_000, 899_999)
    numbers = [f"{COUNTY.ljust(12, '0')}{day}{start + i:06d}" for i in range(CASES)]
    province = signing.Signer(signing.DEV_PROVINCE_PRIVATE_KEY, signing.DEV_PROVINCE_PUBLIC_KEY)

    with grpc.insecure_channel(platform.target("fees")) as ch:
        stub = fees_pb2_grpc.FeesServiceStub(ch)

        def assess_and_issue(number: str) -> str:
            stub.AssessFees(pb.AssessFeesRequest(case_number=number, lines=[pb.LineInput(fee_code="FEE-JMSFZ-GBF")],
                                                 applicant_name="测试申请人"), metadata=md, timeout=60)
            return stub.IssueNotice(pb.IssueNoticeRequest(case_number=number), metadata=md,
                                    timeout=60).notice.notice_number

        for n in numbers[:10]:   # warm-up: connections, caches, the token
            assess_and_issue(n)
        numbers = numbers[10:]
        t_issue, notices, issue_lat = _parallel(assess_and_issue, numbers)

        callbacks = []
        for i, notice in enumerate(notices):   # the province's side, untimed
            fields = {"payment_id": f"BENCH{start}{i:07d}", "notice_number": notice, "amount_fen": "2000",
                      "paid_at": dt.datetime.now(dt.UTC).isoformat(), "payee_account": account, "channel": "unionpay"}
            callbacks.append(pb.PaymentCallback(fields=fields, signature=province.sign(canonical_form(fields))))

        def pay(cb: pb.PaymentCallback) -> bool:
            return stub.RecordPaymentCallback(cb, timeout=60).settled

        t_pay, settled, pay_lat = _parallel(pay, callbacks)

    eng = create_engine(owner_url)
    try:
        with relay_transaction(eng) as c:
            in_outbox = c.execute(text("SELECT count(*) FROM fees.outbox WHERE routing_key = 'fees_settled'"
                                       " AND correlation_id = ANY(:n)"), {"n": numbers}).scalar_one()
    finally:
        eng.dispose()
    if sum(settled) != len(numbers) or in_outbox != len(numbers):
        raise RuntimeError(f"only {sum(settled)} of {len(numbers)} cases settled ({in_outbox} fees_settled)")

    rate = len(numbers) / (t_issue + t_pay)
    base = _bare_insert_rate(owner_url, len(numbers))
    ceiling = _sm2_ceiling()
    note = f"{len(numbers)} cases, {IN_FLIGHT} in flight; callbacks signed beforehand (the province's work)"
    return [
        Figure("fees assess+issue+pay+settle", rate, "settlements/s", "bare PostgreSQL INSERT+COMMIT per case",
               base, note=note),
        Figure("fees settlements vs the SM2 work alone", rate, "settlements/s",
               "SM2 verify + sign per settlement (tongsuopy), one core", ceiling, note=note),
        Figure("fees assess+issue (phase 1)", len(numbers) / t_issue, "cases/s", note=note),
        Figure("fees payment callbacks (phase 2)", len(numbers) / t_pay, "callbacks/s", "SM2 verify + sign (tongsuopy)",
               ceiling, note=note),
        Figure("fees assess+issue p99", percentile(issue_lat, 99), "ms", higher_is_better=False, note=note),
        Figure("fees payment callback p99", percentile(pay_lat, 99), "ms", higher_is_better=False, note=note),
    ]
