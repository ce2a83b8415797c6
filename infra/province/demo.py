"""python -m infra.province.demo — the province sends one online application (网上申请) to the demo county, as
its portal would after a resident applied there: the item 居民身份证换领 (or the first published item with a
scenario) of 凉州区, signed with the simulated province's key and posted to the county's REST edge. It prints
the application id; the county's window (county.clerk) finds it among its received applications, channel PC.

Development mode only (the repository's province key). Run beside `make run`.
"""

from __future__ import annotations

import argparse
import sys

import httpx

from gateway.docking.settings import DEV_DOCKING_PUBLIC_KEY
from infra.province.simulator import ProvinceSimulator

COUNTY = "620602"
APPLICANT = {"kind": "natural_person", "name": "王小梅", "id_type": "resident_id", "id_number": "11010519491231002X",
             "phone": "13900000000", "address": "甘肃省武威市凉州区东大街 1 号"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateway", default="http://127.0.0.1:8000")
    ap.add_argument("--query", default="居民身份证")
    args = ap.parse_args(argv)
    found = httpx.get(f"{args.gateway}/api/v1/public/items", params={"region": COUNTY, "q": args.query, "limit": 20},
                      timeout=30, trust_env=False).json().get("items", [])
    items = [i for i in found if i.get("tenant") == COUNTY and i["elements"].get("scenarios")]
    if not items:
        print(f"凉州区没有可网上申请的已公开事项（检索：{args.query}）", file=sys.stderr)
        return 1
    item = items[0]
    scenario = item["elements"]["scenarios"][0]
    sim = ProvinceSimulator(county_public_key=DEV_DOCKING_PUBLIC_KEY, county_url=args.gateway)
    try:
        msg = sim.online_application(COUNTY, COUNTY, item["id"], APPLICANT, scenario_code=scenario["code"],
                                     materials=[{"code": m["code"], "supplied": True}
                                                for m in scenario.get("materials", [])])
        r = sim.send(msg)
    finally:
        sim.stop()
    print(f"{r.status_code} {r.text}")
    if r.status_code != 200:
        return 1
    print(f"网上申请（省级流水号 {msg['body']['provincial_serial']}）已转入凉州区综合窗口：{item['elements']['name']}，"
          f"申请编号 {r.json()['reference']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
