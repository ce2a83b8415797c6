"""The audit chain's `verify` command (issue 17: "A `verify` command and endpoint report the first record that was
altered, deleted or inserted"); the endpoint is VerifyChain (gRPC) / GET /api/v1/supervision/chain (REST).

    python -m services.supervision.verify --unit 620602001     # one unit's chain
    python -m services.supervision.verify --all                # every unit that has a chain

It reads as the application role (SANJI_DATABASE_URL), never as the owner: each unit's chain is read in a unit of
work bound to that unit, so row-level security applies as it does to the service itself. `--all` first lists the
units that have a chain through the threshold sweep's named scope (`app.sweep`), which opens the chain tips only
(tenant code, last seq and hash: no record content) — the same list the daily head signing walks — and then
verifies each unit bound to it. A unit whose whole chain and tip were removed is not in that list; verify it by
`--unit`, which then reports an empty chain.

The verdict is printed in Chinese, one line per unit. Exit status: 0 when every chain verified, 1 when any chain
has a finding (the first altered, deleted or inserted record, or a bad head signature), 2 when the command could
not run (a bad unit code, the database unreachable).
"""

from __future__ import annotations

import argparse
import sys
from typing import ClassVar

from shared import hashchain
from shared.config import DatabaseToolSettings
from shared.db import Database
from shared.errors import InvalidArgument
from shared.tenancy import DivisionCode

SCHEMA = "supervision"
FINDING, CANNOT_RUN = 1, 2


class VerifySettings(DatabaseToolSettings):
    """The application role's database URL and the chain-head public keys (current and earlier ones): the
    command needs no private key."""

    DEV_DEFAULTS: ClassVar[dict[str, str]] = {"supervision_chain_public_key": hashchain.DEV_CHAIN_PUBLIC_KEY}
    supervision_chain_public_key: str = ""
    supervision_chain_previous_public_keys: str = ""

    def public_keys(self) -> dict[str, str]:
        keys = {}
        for k in (self.supervision_chain_public_key, *self.supervision_chain_previous_public_keys.split(",")):
            k = (k or "").strip().lower()
            if k:
                keys[hashchain.key_id(k)] = k
        return keys


def chained_units(db: Database) -> list[str]:
    """The units with a chain (their tips), through the sweep's named scope on the application role."""
    from services.supervision.repository import SupervisionRepository

    with db.unit_of_work() as uow:
        return sorted(SupervisionRepository(uow).chained_tenants())


def verify_unit(db: Database, unit: str, public_keys: dict[str, str]) -> hashchain.Verdict:
    """One unit's stored chain, read in a unit of work bound to that unit (RLS in force)."""
    with db.unit_of_work(tenant=unit) as uow:
        return hashchain.verify_stored(uow, SCHEMA, unit, public_keys)


def verdict_line(unit: str, v: hashchain.Verdict) -> str:
    if v.ok:
        if not v.records_checked:
            return f"{unit}：留痕链为空（没有任何记录）"
        return (f"{unit}：留痕链完整，未发现篡改、删除或插入（记录 {v.records_checked} 条，"
                f"签名链头 {v.heads_checked} 个，最后序号 {v.last_seq}）")
    f = v.finding
    assert f is not None
    return f"{unit}：发现问题——{f.text}"


def main(argv: list[str] | None = None, settings: VerifySettings | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.supervision.verify",
                                 description="verify the supervision audit chain (SM3 hash chain, SM2-signed heads)")
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--unit", help="division code of the unit whose chain to verify")
    which.add_argument("--all", action="store_true", help="every unit that has a chain")
    args = ap.parse_args(argv)
    settings = settings or VerifySettings()
    keys = settings.public_keys()
    if not keys:
        print("无法核验：未配置链头公钥 SANJI_SUPERVISION_CHAIN_PUBLIC_KEY", file=sys.stderr)
        return CANNOT_RUN
    try:
        units = [str(DivisionCode.parse(args.unit, "unit"))] if args.unit else None
    except InvalidArgument as exc:
        print(f"无法核验：单位代码不正确（{exc.message}）", file=sys.stderr)
        return CANNOT_RUN
    db = Database.connect(settings.database_url, schema=SCHEMA, pool_size=2)
    try:
        if units is None:
            units = chained_units(db)
            if not units:
                print("没有任何单位的留痕链")
                return 0
        findings = 0
        for unit in units:
            v = verify_unit(db, unit, keys)
            print(verdict_line(unit, v))
            findings += not v.ok
    except Exception as exc:  # noqa: BLE001 — the operator reads why it could not run
        print(f"无法核验：{type(exc).__name__}: {exc}", file=sys.stderr)
        return CANNOT_RUN
    finally:
        db.dispose()
    if len(units) > 1:
        print(f"共核验 {len(units)} 个单位，" + (f"{findings} 个发现问题" if findings else "全部完整"))
    return FINDING if findings else 0


if __name__ == "__main__":
    sys.exit(main())
