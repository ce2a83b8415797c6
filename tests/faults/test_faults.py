"""Faults with counts, the small run `make test` holds (the large one: `make faults`, tests/faults/run.py):
applications through the real processes while the broker and the database are cut and the processes are
SIGKILLed at random moments and restarted by the supervisor; lost 0, applied twice 0, counted in the databases."""

from __future__ import annotations

import os

import pytest

from tests.faults.platform import fault_platform
from tests.faults.run import run_with_faults

pytestmark = pytest.mark.e2e

APPLICATIONS = int(os.environ.get("SANJI_FAULTS_APPLICATIONS", "40"))


@pytest.mark.timeout(1200)   # a platform of its own to start, on a shared machine
def test_nothing_lost_and_nothing_applied_twice_under_faults(tmp_path_factory):
    with fault_platform(tmp_path_factory.mktemp("faults")) as (platform, proxies, url, password):
        counts = run_with_faults(platform, proxies, url, applications=APPLICATIONS, workers=4, password=password)
    assert counts.lost == 0, counts.table()
    assert counts.twice == 0, counts.table()
