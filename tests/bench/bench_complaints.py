"""Ratings and complaint lifecycles on the real complaints process, 16 in flight, beside the bare grpcio echo
baseline measured in the same run (issue 16).

- A rating is what the public does from the QR link on a notice: RateCase with the case number and the ID
  suffix (the proof through the RLS scope, the rating in the rated unit's transaction, the public figures, the
  outbox; one in five a 差评, which also opens a rectification ticket on the unit's working-day calendar). The
  cases are put into the service's read model beforehand, as intake's events would, untimed.
- A lifecycle is a complaint from the window to its close: FileComplaint (the hall's window) → AssignHandler →
  ReportProgress → Reply → RecordSatisfaction (满意), five calls and five transactions with their events.
"""

from __future__ import annotations

import itertools
import random
import uuid

import grpc
from sanji.complaints.v1 import complaints_pb2 as pb
from sanji.complaints.v1 import complaints_pb2_grpc

from conftest import free_port
from infra.demo.load import load_demo_users
from infra.oidc.client import login
from services.complaints.commands import CaseAccepted
from services.complaints.rating_handlers import RatingHandlers
from services.complaints.translate import EventsOut
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database
from shared.grpc.client import bearer
from shared.messaging import Envelope
from tests.bench.bench_grpc import IN_FLIGHT, drive, echo_baseline
from tests.bench.common import Figure, percentile

RATINGS = 1600
LIFECYCLES = 320
COUNTY = "620602"


def _put_cases(database_url: str, n: int) -> list[tuple[str, str]]:
    db = Database.connect(database_url, schema="complaints", pool_size=2)
    ratings = RatingHandlers(db, Clock(), EventsOut(), CalendarCache(CalendarStore(db.engine, db.schema)))
    run = uuid.uuid4().hex[:8]
    cases = [(f"BENCH-{run}-{i:06d}", f"{random.randint(0, 99999):05d}X") for i in range(n)]
    try:
        with db.unit_of_work(tenant=COUNTY) as uow:
            for number, suffix in cases:
                env = Envelope(event_id=str(uuid.uuid4()), event_type="application_accepted", tenant=COUNTY,
                               correlation_id=number, event_version=1, traceparent=None, tracestate=None,
                               timestamp=0, source="intake")
                ratings.record_case_accepted(CaseAccepted(
                    case_number=number, tenant=COUNTY, id_suffix=suffix, item_id=f"bench-item-{run}",
                    item_name="居民身份证换领", department="县公安局", accepted_by="county.clerk",
                    accepted_at=""), env, uow)
            uow.commit()
    finally:
        db.dispose()
    return cases


def run(platform) -> list[Figure]:
    if "complaints" not in platform.procs:
        platform.start_service("complaints")
    users = load_demo_users()

    def token(role: str) -> tuple:
        u = next(u for u in users if u["tenant"] == COUNTY and u["roles"] == [role])
        return bearer(login(platform.oidc_url, u["username"], u["password"]))
    clerk, handler = token("window_clerk"), token("complaint_handler")
    cases = _put_cases(platform.env["SANJI_DATABASE_URL"], RATINGS + 50)
    next_case = iter(cases)
    seq = itertools.count()

    with grpc.insecure_channel(platform.target("complaints")) as ch:
        stub = complaints_pb2_grpc.ComplaintsServiceStub(ch)

        def rate_one() -> None:
            number, suffix = next(next_case)
            level = 5 if next(seq) % 5 == 0 else 1 + next(seq) % 3
            stub.RateCase(pb.RateCaseRequest(case_number=number, id_suffix=suffix, level=level,
                                              indicators=[pb.Indicator(code="overall", level=level)]), timeout=60)

        def lifecycle() -> None:
            c = stub.FileComplaint(pb.FileComplaintRequest(
                channel="hall", kind="complaint", category="service_conduct", content="窗口推诿扯皮",
                subject=pb.Subject(tenant=COUNTY, department="县住建局"),
                complainant=pb.Complainant(name="王群众", phone=f"139{random.randint(0, 99_999_999):08d}")),
                metadata=clerk, timeout=60)
            stub.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id), metadata=handler, timeout=60)
            stub.ReportProgress(pb.ReportProgressRequest(complaint_id=c.id, text="已核实"), metadata=handler,
                                timeout=60)
            stub.Reply(pb.ReplyRequest(complaint_id=c.id, outcome="solved", channel="phone", text="已解决"),
                       metadata=handler, timeout=60)
            stub.RecordSatisfaction(pb.RecordSatisfactionRequest(complaint_id=c.id, satisfaction="satisfied"),
                                    metadata=handler, timeout=60)

        for _ in range(50):              # warm-up: connections, the calendar cache, the tokens
            rate_one()
        for _ in range(16):
            lifecycle()
        rating_rate, rating_lat = drive(rate_one, RATINGS)
        life_rate, life_lat = drive(lifecycle, LIFECYCLES)
    echo_rate, echo_lat = echo_baseline(free_port(), RATINGS)
    note = f"{IN_FLIGHT} in flight; a lifecycle is 5 calls (file, assign, progress, reply, satisfaction)"
    return [
        Figure(f"complaints RateCase ({IN_FLIGHT} in flight)", rating_rate, "ratings/s", "bare grpcio echo",
               echo_rate, note="one in five a 差评 with its rectification ticket"),
        Figure("complaints RateCase p99", percentile(rating_lat, 99), "ms", "echo p99", percentile(echo_lat, 99),
               higher_is_better=False),
        Figure(f"complaints lifecycles ({IN_FLIGHT} in flight)", life_rate, "lifecycles/s",
               "bare grpcio echo ÷ 5 calls", echo_rate / 5, note=note),
        Figure("complaints lifecycle p99", percentile(life_lat, 99), "ms", higher_is_better=False, note=note),
    ]
