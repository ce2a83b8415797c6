"""The catalogue's part in onboarding a county (issue 23), for the onboarding service alone — internal methods it
calls on its own service credential, for no person (the interceptor admits no other caller; each use case checks
again): the county's division tree written from the national files' lines, and what the county still lacks here.

The tree is written in a transaction bound to the job's province: catalogue 0007's policy on catalogue.units takes
units of that province only (below it, never the province's own row), so another province's county is refused by
PostgreSQL as well as here. The onboarding service itself holds no grant on this schema."""

from __future__ import annotations

from services.catalogue.admin import UPSERT_UNITS, check_unit_lines
from shared import divisions
from shared.db import Database
from shared.errors import InvalidArgument
from shared.tenancy import DivisionCode, Principal, UnitKind

ONBOARDING = "onboarding"
MAX_LINES = 200_000         # a county's villages are a few hundred to a few thousand lines; a bound, not a rule

_COUNTY_UNITS = "SELECT code, name FROM catalogue.units WHERE code = :c OR code LIKE :p ORDER BY code"


class OnboardingSupport:
    def __init__(self, db: Database):
        self.db = db

    def import_county_units(self, p: Principal, province: str, county: str, lines: list[divisions.SourceLine]
                            ) -> tuple[divisions.UnitsReport, dict[str, str]]:
        """The report by line, and the county's units as they stand after the import."""
        p.require_calling_service(ONBOARDING)
        prov = DivisionCode.parse((province or "").strip(), "province")
        if prov.kind is not UnitKind.PROVINCE:
            raise InvalidArgument("province", "省级区划代码应为 2 位")
        code = DivisionCode.parse((county or "").strip(), "county")
        if code.kind is not UnitKind.COUNTY or not str(code).startswith(str(prov)):
            raise InvalidArgument("county", f"{county} 不是本省（{prov}）的县（区）")
        if len(lines) > MAX_LINES:
            raise InvalidArgument("lines", f"区划行数过多（最多 {MAX_LINES} 行）")
        outside = [divisions.LineProblem(x.source, x.line, f"{x.code} 不是县（区）{code} 或其下级单位")
                   for x in lines if not x.code.startswith(str(code))]
        lines = [x for x in lines if x.code.startswith(str(code))]
        with self.db.unit_of_work(tenant=str(prov)) as uow:
            known = {c for (c,) in uow.rows("SELECT code FROM catalogue.units WHERE code LIKE :p",
                                            {"p": f"{prov}%"})}
            report, rows = check_unit_lines(lines, known)
            report.refused[:0] = outside
            if report.accepted:
                uow.execute(UPSERT_UNITS, {"rows": rows})
            tree = dict(uow.rows(_COUNTY_UNITS, {"c": str(code), "p": f"{code}%"}))
            uow.commit()
        return report, tree

    def readiness(self, p: Principal, unit: str) -> tuple[int, bool]:
        """The items published for the unit, and whether its province has a code format of its own."""
        p.require_calling_service(ONBOARDING)
        code = str(DivisionCode.parse((unit or "").strip(), "unit"))
        with self.db.unit_of_work(tenant=code, subtree=False) as uow:
            items, code_format = uow.row(
                "SELECT (SELECT count(*) FROM catalogue.item_listings l JOIN catalogue.items i ON i.id = l.item_id"
                "  WHERE l.listed_for = :c AND l.revoked_at IS NULL AND i.status = 'published'),"
                " EXISTS (SELECT 1 FROM catalogue.code_formats WHERE province = :p)",
                {"c": code, "p": code[:2]}) or (0, False)
        return int(items), bool(code_format)
