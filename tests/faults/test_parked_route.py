"""The supervision staff's view of parked events, end to end (issue 20 item 3): a forged event lands in a real
consumer's queue, is parked at once, and shows in GET /api/v1/operations/parked (count and age) through every
service's operations API; POST /api/v1/operations/parked/replay moves it back. Only a county's supervisor or
administrator may; anyone else is refused."""

from __future__ import annotations

import time
import uuid

import httpx
import pika
import pytest

from infra.oidc.client import login
from shared.messaging.topology import queue_name

pytestmark = pytest.mark.e2e

QUEUE = queue_name("intake", "proxy_application_progressed", "agency", "on_progress")


def token(platform, username: str) -> dict:
    user = next(u for u in platform.users if u["username"] == username)
    return {"authorization": f"Bearer {login(platform.oidc_url, username, user['password'])}"}


def parked_in(overview: dict, queue: str) -> dict:
    agency = next(s for s in overview["services"] if s["service"] == "agency")
    return next(q for q in agency["queues"] if q["queue"] == queue)


@pytest.mark.timeout(900)   # the end-to-end platform may start first, on a shared machine
def test_supervision_staff_see_parked_events_and_replay_them(demo_platform):
    base = f"{demo_platform.gateway_url}/api/v1/operations"
    supervisor = token(demo_platform, "county.supervisor")
    before = httpx.get(f"{base}/parked", headers=supervisor, timeout=60)
    assert before.status_code == 200, before.text
    assert {s["service"] for s in before.json()["services"]} >= {"intake", "approval", "agency", "fees"}
    assert all(s["reachable"] for s in before.json()["services"] if s["service"] in demo_platform.procs)
    start = parked_in(before.json(), QUEUE)["parked"]

    # not from intake's broker user: the agency's consumer parks it as forged, at once
    with pika.BlockingConnection(pika.URLParameters(demo_platform.settings.amqp_url)) as conn:
        conn.channel().basic_publish("intake.events", "proxy_application_progressed", b"{}", pika.BasicProperties(
            message_id=str(uuid.uuid4()), type="proxy_application_progressed", headers={"tenant": "620602001001"}))
    deadline = time.monotonic() + 30
    while True:
        now = httpx.get(f"{base}/parked", headers=supervisor, timeout=60).json()
        if parked_in(now, QUEUE)["parked"] > start or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    row = parked_in(now, QUEUE)
    assert row["parked"] == start + 1 and row["oldest_age_seconds"] >= 0 and now["parked"] >= 1
    print(f"\nparked: {now['parked']} in all; {QUEUE}: {row['parked']}, the oldest {row['oldest_age_seconds']:.1f}s")

    for who, status in (("township.clerk", 403), ("township.supervisor", 403)):
        r = httpx.get(f"{base}/parked", headers=token(demo_platform, who), timeout=60)
        assert r.status_code == status, (who, r.text)
    assert httpx.get(f"{base}/parked", timeout=60).status_code == 401
    r = httpx.post(f"{base}/parked/replay", headers=supervisor, json={"service": "nosuch"}, timeout=60)
    assert r.status_code == 422 and r.json()["field"] == "service"
    r = httpx.post(f"{base}/parked/replay", headers=supervisor, json={"service": "agency", "queue": "x"}, timeout=60)
    assert r.status_code == 422 and r.json()["field"] == "queue"

    replayed = httpx.post(f"{base}/parked/replay", headers=supervisor,
                          json={"service": "agency", "queue": QUEUE, "limit": 1}, timeout=60)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed"] == 1      # back to its queue (where, forged still, it is parked again)
