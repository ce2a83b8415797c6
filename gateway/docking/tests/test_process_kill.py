"""Nothing lost when the whole docking process dies (issue 18): `python -m gateway.docking` — its gRPC server,
its consumer of the platform's events and its delivery worker — SIGKILLed mid-run, while events are still
arriving through the broker and reports are on their way to the province, then started again: every report
reaches the province once, in order per case."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pika
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.docking.service import event_consumer
from gateway.docking.tests.conftest import COUNTY, make_handlers
from gateway.docking.tests.test_delivery import FLOW, assert_each_once_in_order, case_numbers, event, pending
from shared.db import event_type_of, message_to_json, sql
from shared.messaging.envelope import to_amqp

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DockingProcess:
    """The docking gateway's own entry point in a child process, started and SIGKILLed by PID."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log, self.proc = env, log, None
        self.port = int(env["SANJI_GRPC_PORT"])

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.docking"], cwd=ROOT, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "the docking process did not start serving"
                try:
                    if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)            # no clean stop: open transactions, unacked deliveries
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def docking_process(docking_migrated, docking_db, county_keys, province_keys, simulator, catalogue_server, oidc,
                    tmp_path):
    from tests.support import SERVICE_SECRETS

    # the docking queues, declared as the process declares them (the in-process tests' vhost has no topology)
    event_consumer(make_handlers(docking_db, county_keys, province_keys), docking_db,
                   docking_migrated.amqp_url).declare()
    env = {**os.environ, "SANJI_MODE": "development", "SANJI_DATABASE_URL": docking_migrated.database_url,
           "SANJI_AMQP_URL": docking_migrated.amqp_url, "SANJI_GRPC_PORT": str(_free_port()),
           "SANJI_OIDC_SERVER_URL": oidc.url, "SANJI_SERVICE_CLIENT_SECRET": SERVICE_SECRETS["docking"],
           "SANJI_CATALOGUE_TARGET": catalogue_server, "SANJI_DOCKING_PROVINCE_URL": simulator.url,
           "SANJI_DOCKING_PRIVATE_KEY": county_keys[0], "SANJI_DOCKING_PUBLIC_KEY": county_keys[1],
           "SANJI_DOCKING_PROVINCE_KEYS": f"62:{province_keys[1]}", "SANJI_DOCKING_DELIVERY_BATCH": "1",
           "SANJI_DOCKING_DELIVERY_INTERVAL_SECONDS": "0.05", "SANJI_DOCKING_BACKOFF_FIRST_SECONDS": "0.05",
           "SANJI_DOCKING_BACKOFF_MAX_SECONDS": "0.5", "SANJI_DOCKING_SETTLE_SECONDS": "0.3",
           "SANJI_AMQP_PASSIVE_TOPOLOGY": "false",
           "SANJI_AMQP_VERIFY_PUBLISHERS": "false", "PYTHONUNBUFFERED": "1"}
    process = DockingProcess(env, tmp_path / "docking.log")
    process.start()
    yield process
    process.stop()


def _publish(channel, kind: str, case_number: str) -> None:
    source, message = event(kind, case_number)
    row = {"id": str(uuid.uuid4()), "exchange": f"{source}.events", "routing_key": event_type_of(message),
           "tenant": COUNTY, "correlation_id": case_number, "event_version": 1, "body": message_to_json(message),
           "headers": {}, "created_at": dt.datetime.now(dt.UTC)}
    exchange, routing_key, props, body = to_amqp(row)
    channel.basic_publish(exchange, routing_key, body, props, mandatory=True)


def _queued(db, cases: list[str]) -> int:
    with db.unit_of_work(tenant=COUNTY) as uow:
        return uow.value(sql("SELECT count(*) FROM docking.outbound WHERE case_key = ANY(:c)"), {"c": cases})


def _wait(what, deadline: float, process: DockingProcess | None = None, message: str = "") -> None:
    while not what():
        if process is not None and process.proc is not None:
            assert process.proc.poll() is None, process.log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_killing_the_whole_docking_process_mid_run_and_restarting_it_loses_and_repeats_nothing(
        docking_process, docking_db, simulator, docking_migrated):
    cases = case_numbers(4)
    simulator.fault("slow", 0.05)
    conn = pika.BlockingConnection(pika.URLParameters(docking_migrated.amqp_url))
    channel = conn.channel()
    channel.confirm_delivery()
    deadline = time.monotonic() + 240
    try:
        # each case's events in its order: a step is published once the step before is queued for every case
        # (the broker keeps no order between an event type's queue and another's)
        for step, kind in enumerate(FLOW, 1):
            for c in cases:
                _publish(channel, kind, c)
            if step == 3:
                # mid-run: events of this step still being consumed, reports of the earlier ones on their way
                _wait(lambda: len([r for r in simulator.receipts() if r.case_ref in cases]) >= 2, deadline,
                      docking_process, "nothing reached the province before the kill")
                docking_process.kill()
                # reports were waiting in its outbox when it died (nothing delivers them while it is down)
                assert pending(docking_db) > 0
                docking_process.start()
            _wait(lambda n=step: _queued(docking_db, cases) >= n * len(cases), deadline, docking_process,
                  f"step {kind} not queued")
    finally:
        conn.close()
    simulator.fault("ok")
    _wait(lambda: not pending(docking_db) and len([r for r in simulator.receipts() if r.case_ref in cases])
          >= len(cases) * len(FLOW), deadline, docking_process, "reports still pending after the restart")
    assert _queued(docking_db, cases) == len(cases) * len(FLOW)         # each event once in the outbox
    assert_each_once_in_order(simulator, cases)
