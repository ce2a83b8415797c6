"""End to end through the real processes: the province simulator sends an online application to the county's
REST edge; the docking process checks it and hands it to intake on its own service credential; the county's
window finds it, accepts it; the docking process reports the acceptance to the province with its serial."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.docking.settings import DEV_DOCKING_PUBLIC_KEY
from infra.oidc.client import login
from infra.province import demo
from infra.province.simulator import ProvinceSimulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def province(demo_platform):
    sim = ProvinceSimulator(county_public_key=DEV_DOCKING_PUBLIC_KEY, port=demo_platform.ports.province,
                            county_url=demo_platform.gateway_url).start()
    yield sim
    sim.stop()


def test_a_provincial_online_application_arrives_at_the_county_window(demo_platform, province, capsys):
    assert demo.main(["--gateway", demo_platform.gateway_url]) == 0
    out = capsys.readouterr().out
    application_id = out.strip().split("申请编号 ")[-1]
    clerk = next(u for u in demo_platform.users if u["tenant"] == "620602" and "window_clerk" in u["roles"])
    auth = {"authorization": f"Bearer {login(demo_platform.oidc_url, clerk['username'], clerk['password'])}"}
    gw = demo_platform.gateway_url
    app = httpx.get(f"{gw}/api/v1/intake/applications/{application_id}", headers=auth, timeout=30).json()
    assert app["tenant"] == "620602" and app["channel"] == "CHANNEL_PC"
    accepted = httpx.post(f"{gw}/api/v1/intake/applications/{application_id}/accept", headers=auth, json={},
                          timeout=30)
    assert accepted.status_code == 200, accepted.text
    deadline = time.monotonic() + 60
    while not [r for r in province.receipts() if r.body.get("application_id") == application_id]:
        assert time.monotonic() < deadline, "the acceptance did not reach the province"
        time.sleep(0.2)
    [report] = [r for r in province.receipts() if r.body.get("application_id") == application_id]
    assert report.type == "application_accepted" and report.body["provincial_serial"]
    assert report.body["case_number"] == accepted.json()["case_number"]
