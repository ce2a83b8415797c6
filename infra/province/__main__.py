"""python -m infra.province — the provincial platform simulator on loopback (`make run` starts it in
development mode): reports, the standard catalogue and the receipt log over HTTP; `--send-demo-application`
sends one online application to the county's inbound route and exits."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from gateway.docking.settings import DEV_DOCKING_PUBLIC_KEY
from infra.province.catalogue import standard_catalogue
from infra.province.simulator import ProvinceSimulator


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="sanji provincial platform simulator (loopback)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=15090)
    ap.add_argument("--province", default="62")
    ap.add_argument("--county-public-key", default=DEV_DOCKING_PUBLIC_KEY,
                    help="the docking gateway's SM2 public key (development key by default)")
    ap.add_argument("--county-url", default="http://127.0.0.1:8000", help="the county's REST edge")
    ap.add_argument("--receipt-log", default="", help="a JSON-lines file keeping the receipt log across restarts")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sim = ProvinceSimulator(county_public_key=args.county_public_key, province=args.province,
                            catalogue=standard_catalogue(args.province), host=args.host, port=args.port,
                            county_url=args.county_url, receipt_log=args.receipt_log or None)
    sim.start()
    print(f"province simulator on {sim.url} (province {args.province}, {len(sim.catalogue)} standard items)",
          flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
