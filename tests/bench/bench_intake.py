"""Submit + accept on the real intake process (which asks the real catalogue process), 16 in flight,
beside the bare grpcio echo baseline measured in the same run.

One unit of work is what a window does for one applicant: SubmitApplication (the intake asks the
catalogue's ResolveHandlingUnit, writes the application, the applicant profile, the due-date index
and the outbox) then AcceptApplication (row lock, the tenant's case-number sequence, the notice, the
outbox). The figure is accepted applications per second. Beside it, the CPU every process spent per
application over the same span (intake, catalogue, approval opening the case, PostgreSQL, RabbitMQ, this
client) and the throughput that cost allows on this machine's cores: when the measured rate is near that
ceiling, the machine is saturated and only less CPU per application raises it.
"""

from __future__ import annotations

import itertools
import random

import grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc

from conftest import free_port
from infra.demo.load import load_catalogue, load_demo_users
from infra.oidc.client import login
from shared.grpc.client import bearer
from shared.idnumbers import resident_id_check_char, uscc_check_char
from tests.bench.bench_grpc import IN_FLIGHT, drive, echo_baseline
from tests.bench.common import CpuMeter, Figure, analyze, percentile

APPLICATIONS = 1600
WARMUP = 100


def _pick_item(items: list[cpb.Item]) -> cpb.Item:
    """A county-owned promised item (承诺件) of the demo catalogue."""
    own = [i for i in items if i.listing == cpb.LISTING_KIND_OWN and i.elements.case_kind == "2"
           and i.elements.scenarios]
    return next((i for i in own if "natural_person" in i.elements.targets), own[0])


def run(platform) -> list[Figure]:
    users = load_demo_users()
    load_catalogue(platform.catalogue_target, platform.oidc_url, users)   # idempotent
    if "intake" not in platform.procs:
        platform.start_service("intake")
    clerk = next(u for u in users if u["tenant"] == "620602" and u["roles"] == ["window_clerk"])
    md = bearer(login(platform.oidc_url, clerk["username"], clerk["password"]))
    with grpc.insecure_channel(platform.catalogue_target) as ch:
        items = catalogue_pb2_grpc.CatalogueServiceStub(ch).ListMyItems(
            cpb.ListMyItemsRequest(limit=200), metadata=md, timeout=30).items
    item = _pick_item(list(items))
    scenario = item.elements.scenarios[0]
    person = "natural_person" in item.elements.targets
    run_id = random.randint(10**5, 10**6 - 1)
    seq = itertools.count(1)

    def applicant(n: int) -> pb.Applicant:
        if person:
            body = f"620602{1950 + n % 50}0101{n % 1000:03d}"
            return pb.Applicant(name="测试申请人", id_number=body + resident_id_check_char(body))
        body = f"91620602MA{n % 10**7:07d}"
        return pb.Applicant(name="测试企业有限公司", id_number=body + uscc_check_char(body))

    materials = [pb.MaterialSubmission(code=m.code, supplied=True) for m in scenario.materials]
    base_rate, base_lat = echo_baseline(free_port(), APPLICATIONS * 2)
    with grpc.insecure_channel(platform.target("intake")) as ch:
        stub = intake_pb2_grpc.IntakeServiceStub(ch)

        def submit_and_accept() -> str:
            n = next(seq)
            app = stub.SubmitApplication(pb.SubmitApplicationRequest(
                idempotency_key=f"bench-{run_id}-{n}", item_id=item.id, scenario_code=scenario.code,
                channel=pb.CHANNEL_WINDOW, applicant=applicant(n), materials=materials), metadata=md, timeout=30)
            return stub.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id), metadata=md,
                                          timeout=30).case_number

        for _ in range(WARMUP):
            submit_and_accept()
        analyze(platform.env["SANJI_DATABASE_OWNER_URL"], "intake", "approval")
        with CpuMeter({name: proc.pid for name, proc in platform.procs.items()}) as cpu:
            rate, lat = drive(submit_and_accept, APPLICATIONS)
    note = f"{item.elements.name}；每件 = 收件 + 受理（含目录查询、办件编号、受理通知书、outbox）"
    return [
        Figure(f"intake submit+accept ({IN_FLIGHT} in flight)", rate, "applications/s", "bare grpcio echo calls/s",
               base_rate, note=note),
        Figure("intake submit+accept p50", percentile(lat, 50), "ms", "echo p50", percentile(base_lat, 50),
               higher_is_better=False),
        Figure("intake submit+accept p99", percentile(lat, 99), "ms", "echo p99", percentile(base_lat, 99),
               higher_is_better=False),
        *cpu.figures("intake", len(lat), "application", rate),
    ]
