"""Every planted fault of `make mutants` (tests/mutants.py) still applies to the code as it is now.

`make mutants` is not part of `make test` (it runs the covering tests once per fault), so a refactor that
rewrites a line a fault edits leaves that fault "not planted" unnoticed: the relay's fault did, after the
relay's batch handling was rewritten. Here each fault is planted into a scratch copy of the files its edits
name, with no test run, and each test path it names must exist."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import pytest

from tests.mutants import FAULTS, REPO, plant


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_the_fault_plants_once_and_its_tests_exist(fault, tmp_path: Path):
    for edit in fault.edits:
        for found in glob.glob(str(REPO / edit.files)):
            dest = tmp_path / Path(found).relative_to(REPO)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, dest)
    changed = plant(tmp_path, fault)
    assert len(changed) == len(fault.edits)
    for rel in changed:
        assert (tmp_path / rel).read_text(encoding="utf-8") != (REPO / rel).read_text(encoding="utf-8")
    for tests in fault.tests:
        assert (REPO / tests).exists(), tests
