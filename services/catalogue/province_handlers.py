"""The province records (issue 23, item 3): read by every unit (reference data), written by the province's own
administrator in a transaction bound to the province (the table's policy refuses any other binding too)."""

from __future__ import annotations

import json

from sqlalchemy import text as sql

from services.catalogue.provinces import ProvinceRecord, require_province_admin
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.errors import InvalidArgument, NotFound
from shared.tenancy import Principal

S = "catalogue"
_COLUMNS = ("tenant_code, name, calendar_region, payment_key_ref, n_tong, complaint_working_days,"
            " rectification_days, updated_by, supervision_thresholds")


def _record(r: tuple) -> ProvinceRecord:
    return ProvinceRecord(tenant_code=r[0], name=r[1], calendar_region=r[2], payment_key_ref=r[3],
                          n_tong=tuple(r[4] or ()), complaint_working_days=r[5], rectification_days=r[6],
                          updated_by=r[7], supervision_thresholds=dict(r[8] or {}))


class ProvinceRepository:
    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def get(self, province: str) -> ProvinceRecord | None:
        r = self.uow.row(sql(f"SELECT {_COLUMNS} FROM {S}.provinces WHERE tenant_code = :p"), {"p": province})
        return _record(r) if r else None

    def all(self) -> list[ProvinceRecord]:
        return [_record(r) for r in self.uow.rows(sql(f"SELECT {_COLUMNS} FROM {S}.provinces ORDER BY tenant_code"))]

    def put(self, record: ProvinceRecord, by: str, at) -> int:
        return self.uow.execute(sql(
            f"INSERT INTO {S}.provinces ({_COLUMNS}, updated_at) VALUES (:p, :name, :region, :key,"
            " CAST(:n_tong AS jsonb), :working, :rect, :by, CAST(:thresholds AS jsonb), :at)"
            " ON CONFLICT (tenant_code) DO UPDATE SET"
            " name = EXCLUDED.name, calendar_region = EXCLUDED.calendar_region,"
            " payment_key_ref = EXCLUDED.payment_key_ref, n_tong = EXCLUDED.n_tong,"
            " complaint_working_days = EXCLUDED.complaint_working_days,"
            " rectification_days = EXCLUDED.rectification_days, updated_by = EXCLUDED.updated_by,"
            " supervision_thresholds = EXCLUDED.supervision_thresholds,"
            " updated_at = EXCLUDED.updated_at"),
            {"p": record.tenant_code, "name": record.name, "region": record.calendar_region,
             "key": record.payment_key_ref, "n_tong": json.dumps(list(record.n_tong), ensure_ascii=False),
             "working": record.complaint_working_days, "rect": record.rectification_days, "by": by, "at": at,
             "thresholds": json.dumps(dict(record.supervision_thresholds), sort_keys=True)})


class ProvinceHandlers:
    def __init__(self, db: Database, clock: Clock | None = None):
        self.db = db
        self.clock = clock or Clock()    # the platform's clock stamps a change (issue 20 item 4)

    def get(self, province: str) -> ProvinceRecord:
        """Any unit (or the public) reads a province's record: the services' per-province defaults."""
        province = (province or "").strip()
        if len(province) != 2 or not province.isdigit():
            raise InvalidArgument("tenant_code", f"省代码应为 2 位数字：{province!r}")
        with self.db.unit_of_work() as uow:
            found = ProvinceRepository(uow).get(province)
        if found is None:
            raise NotFound(f"本部署尚未配置省 {province} 的省级配置")
        return found

    def list(self) -> list[ProvinceRecord]:
        with self.db.unit_of_work() as uow:
            return ProvinceRepository(uow).all()

    def put(self, p: Principal, province: str, data: dict) -> ProvinceRecord:
        """The province's administrator creates or updates its own record."""
        require_province_admin(p, (province or "").strip())
        record = ProvinceRecord.from_dict(data, tenant_code=str(p.tenant))
        with self.db.unit_of_work(p, subtree=False) as uow:
            ProvinceRepository(uow).put(record, p.username, self.clock.now())
            uow.commit()
        return self.get(record.tenant_code)
