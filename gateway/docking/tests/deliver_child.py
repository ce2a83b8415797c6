"""A delivery worker in a process of its own, for the test that kills it mid-run (SIGKILL: no clean stop)."""

from __future__ import annotations

import datetime as dt
import sys
import time

from gateway.docking.handlers import DockingHandlers
from gateway.docking.province import ProvinceClient
from gateway.docking.translate import EventsOut
from shared.db import Database
from shared.sm2 import Signer


def main(argv: list[str]) -> int:
    database_url, private, public, province_public, url = argv
    db = Database.connect(database_url, schema="docking", pool_size=2)
    h = DockingHandlers(db, signer=Signer(private, public), province_keys={"62": province_public},
                        events_out=EventsOut(), province=ProvinceClient(url, timeout=10),
                        backoff_first=dt.timedelta(milliseconds=20), backoff_max=dt.timedelta(milliseconds=100),
                        batch=1, settle=dt.timedelta(milliseconds=200))
    print("ready", flush=True)
    while True:
        h.deliver_due()
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
