"""python -m tests.mutants (`make mutants`) — plant known faults, one at a time, and see whether the tests
that cover the code catch each one (issue 24).

A green suite is evidence only if it turns red when a wall falls. Each fault below is one edit that a
plausible mistake would make: a tenant wall taken down, a field left out of a signature, a broker's
refusal taken for a success, a rule of the domain relaxed. For each, the working tree (tracked and new
files, as they are now; `--commit REF` for a commit instead) is copied outside the repository, the edit
is made in the copy — never in the working tree — and the test files that cover that code run there
against a database and an AMQP vhost of their own. A fault is *caught* when those tests fail.

The faults' tests run on the unchanged copy first (the baseline): a failure there makes every "caught"
meaningless, and the run stops. Not part of `make test`: it runs the covering tests once per fault.

    python -m tests.mutants               # every fault, two at a time
    python -m tests.mutants -k relay -j 1 # the faults whose name contains "relay"
    python -m tests.mutants --list        # the faults and the tests each one runs
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Edit:
    """Replace `old` by `new` in the one file among `files` (a glob) that contains `old`, once."""

    files: str
    old: str
    new: str


@dataclass(frozen=True)
class Fault:
    name: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]


FAULTS = (
    Fault("one-time correction rule disabled (intake)",
          (Edit("services/intake/*.py",
                "if prior is not None and self.materials[code].revision <= prior.revisions.get(code, 0):",
                "if False:"),),
          ("services/intake/tests",)),
    Fault("pause's last day counted as a working day (calendar)",
          (Edit("shared/calendar.py", "            cur = pe\n", "            cur = pe - 1\n"),),
          ("shared/tests/test_calendar.py", "services/approval/tests/test_domain.py")),
    Fault("decision deadline 5 → 6 working days (intake)",
          (Edit("services/intake/*.py", "DECISION_WORKING_DAYS = 5 ", "DECISION_WORKING_DAYS = 6 "),),
          ("services/intake/tests",)),
    Fault("relay never returns unconfirmed rows to the outbox",
          (Edit("shared/messaging/relay.py",
                "                if failed:\n                    cur.execute(self._unclaim_failed,",
                "                if False:\n                    cur.execute(self._unclaim_failed,"),),
          ("shared/messaging/tests",)),
    Fault("FORCE ROW LEVEL SECURITY removed from the shared migration helper",
          (Edit("shared/db.py", '        f"ALTER TABLE {qualified_table} FORCE ROW LEVEL SECURITY",\n', ""),),
          ("tests/test_walls.py", "services/agency/tests", "services/approval/tests", "services/fees/tests")),
    Fault("fees.payments created without RLS (grant kept)",
          (Edit("services/fees/migrations/versions/*.py", '"notices", "payments", "reconciliation"',
                '"notices", "reconciliation"'),
           Edit("services/fees/migrations/versions/*.py", '    op.execute(f"GRANT SELECT ON {S}.treasury_accounts',
                '    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {S}.payments TO sanji_app")\n'
                '    op.execute(f"GRANT SELECT ON {S}.treasury_accounts')),
          ("tests/test_walls.py", "services/fees/tests")),
    Fault("every role reads its whole subtree (the RLS policy widened)",
          (Edit("shared/db.py", "\" OR (current_setting('app.subtree', true) = 'on'\"", '" OR (true"'),),
          ("tests/test_walls.py", "services/agency/tests", "services/intake/tests", "services/catalogue/tests",
           "services/fees/tests")),
    Fault("the payment callback's canonical form leaves notice_number unsigned",
          (Edit("services/fees/*.py", "for k in keys).encode(",
                'for k in keys if k != "notice_number").encode('),),
          ("services/fees/tests",)),
    Fault("the relay treats a broker refusal (nack) as success",
          (Edit("shared/messaging/relay.py",
                "resolved = batch.acked if isinstance(method, pika.spec.Basic.Ack) else batch.nacked",
                "resolved = batch.acked"),),
          ("shared/messaging/tests",)),
    Fault("a new tenant table without RLS (agency migration)",
          (Edit("services/agency/migrations/versions/0001_*.py", "def upgrade() -> None:\n",
                "def upgrade() -> None:\n"
                '    op.execute("CREATE TABLE agency.resident_notes (tenant_code text NOT NULL, note text)")\n'
                '    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON agency.resident_notes TO sanji_app")\n'),),
          ("tests/test_walls.py",)),
)


# --- the scratch copies ---------------------------------------------------------------------------

def copy_tree(dest: Path, commit: str | None) -> None:
    """The working tree as it is (tracked and untracked files, not ignored ones), or a commit; plus gen/."""
    dest.mkdir(parents=True)
    if commit:
        archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                check=True, capture_output=True).stdout.decode().split("\0")
        for rel in filter(None, listed):
            src = REPO / rel
            if src.is_file():                        # a tracked file deleted in the working tree is left out
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    if (REPO / "gen").is_dir():
        shutil.copytree(REPO / "gen", dest / "gen")
    else:
        subprocess.run([sys.executable, "infra/local/gen_proto.py"], cwd=dest, check=True)


def plant(root: Path, fault: Fault) -> list[str]:
    """Make the fault's edits in `root`; the files changed."""
    changed = []
    for edit in fault.edits:
        hits = [Path(p) for p in sorted(glob.glob(str(root / edit.files)))
                if edit.old in Path(p).read_text(encoding="utf-8")]
        if len(hits) != 1:
            raise LookupError(f"{fault.name}: {edit.old!r} found in {len(hits)} of {edit.files}, not in one")
        text = hits[0].read_text(encoding="utf-8")
        if text.count(edit.old) != 1:
            raise LookupError(f"{fault.name}: {edit.old!r} occurs {text.count(edit.old)} times in {hits[0]}")
        hits[0].write_text(text.replace(edit.old, edit.new), encoding="utf-8")
        changed.append(str(hits[0].relative_to(root)))
    return changed


@dataclass
class Outcome:
    fault: str
    tests: tuple[str, ...]
    result: str                 # caught | MISSED | not planted | error
    detail: str
    seconds: float


def run_tests(root: Path, tests: tuple[str, ...], name: str, log: Path, timeout: float) -> tuple[int, str]:
    """pytest over `tests` in `root`, with its own database and vhost; (exit code, first failure)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "gen")]),
           "SANJI_TEST_DATABASE": name, "SANJI_TEST_VHOST": name}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    try:
        out = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        code, text = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:
        code, text = -1, f"timed out after {timeout:.0f}s\n{exc.stdout or ''}"
    log.write_text(text, encoding="utf-8")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.M)
    return code, failed[0] if failed else text.strip().splitlines()[-1] if text.strip() else ""


def try_fault(index: int, fault: Fault, base: Path, work: Path, timeout: float) -> Outcome:
    started = time.monotonic()
    root = work / f"fault-{index}"
    shutil.copytree(base, root, symlinks=True)
    try:
        plant(root, fault)
    except LookupError as exc:
        return Outcome(fault.name, fault.tests, "not planted", str(exc), time.monotonic() - started)
    code, first = run_tests(root, fault.tests, f"sanji_mutant_{index}", work / f"fault-{index}.log", timeout)
    result = {0: "MISSED", 1: "caught"}.get(code, "error")
    return Outcome(fault.name, fault.tests, result, first, time.monotonic() - started)


def drop_scratch_databases(names: list[str]) -> None:
    """The databases and vhosts the runs made (each run's test_settings created them)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from shared.config import PlatformSettings

    url = make_url(PlatformSettings().database_owner_url).set(database="postgres")   # the owner's databases
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            made = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
            for db in made:     # the run's own and those its tests derive from it (<name>_e2e, <name>_walls …)
                if any(db == name or db.startswith(f"{name}_") for name in names):
                    conn.execute(text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
    except Exception as exc:  # noqa: BLE001 — leftovers are harmless; say so and go on
        print(f"(could not drop the scratch databases: {exc})", file=sys.stderr)
    finally:
        engine.dispose()
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    for name in names:
        subprocess.run([ctl, "-q", "delete_vhost", name], capture_output=True)


def table(outcomes: list[Outcome]) -> str:
    rows = ["| planted fault | tests run | caught? | first failure |", "|---|---|---|---|"]
    for o in outcomes:
        rows.append(f"| {o.fault} | {' '.join(o.tests)} | {o.result} | {o.detail.replace('|', '/')[:160]} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only the faults whose name contains this")
    ap.add_argument("-j", type=int, default=2, help="faults tried at once (each has its own database)")
    ap.add_argument("--commit", help="plant in this commit instead of the working tree")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per test run")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run on the unchanged copy")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies and logs")
    ap.add_argument("--list", action="store_true", help="list the faults and their tests")
    args = ap.parse_args(argv)
    faults = [f for f in FAULTS if args.k.lower() in f.name.lower()]
    if args.list:
        for f in faults:
            print(f"{f.name}\n    {' '.join(f.tests)}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="sanji-mutants-"))   # outside the repository
    base = work / "base"
    copy_tree(base, args.commit)
    names = [f"sanji_mutant_{i}" for i in range(len(faults))] + ["sanji_mutant_base"]
    print(f"[mutants] {len(faults)} faults, scratch copies in {work}", flush=True)
    try:
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for f in faults for t in f.tests))
            code, first = run_tests(base, tests, "sanji_mutant_base", work / "baseline.log", args.timeout)
            if code != 0:
                print(f"[mutants] the unchanged copy fails its tests ({first}); see {work}/baseline.log")
                args.keep = True
                return 2
            print("[mutants] baseline: the unchanged copy passes every fault's tests", flush=True)
        outcomes: list[Outcome | None] = [None] * len(faults)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
            futures = {pool.submit(try_fault, i, f, base, work, args.timeout): i for i, f in enumerate(faults)}
            for future in concurrent.futures.as_completed(futures):
                o = future.result()
                outcomes[futures[future]] = o
                print(f"[mutants] {o.result:>11}  {o.fault}  ({o.seconds:.0f} s)", flush=True)
        done = [o for o in outcomes if o is not None]
        print()
        print(table(done))
        missed = [o for o in done if o.result != "caught"]
        print(f"\n[mutants] caught {len(done) - len(missed)} of {len(done)}")
        return 1 if missed else 0
    finally:
        drop_scratch_databases(names)
        if args.keep:
            print(f"[mutants] kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
