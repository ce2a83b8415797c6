"""Onboarding one county in one command (issue 23, item 2): its tree from the national division files, its
staff into the identity provider, its back office ready for day one, and what it still lacks.

1. **Tree** — the county's row of areas.csv, its townships from streets.csv and its villages from the
   villages file, as published (UTF-8, BOM or GBK), into the catalogue's units with a report by line
   (services.catalogue.admin: the command writes with the owner's credentials, the onboarding service through
   the province administrator's binding on the application role — catalogue 0007).
2. **Staff** — the staff list (infra/onboard/staff.py) provisioned through python-keycloak's `KeycloakAdmin`
   with the realm's provisioning plan (infra/keycloak/provision.py: groups mirroring the tree, users with
   their `tenant` attribute, realm roles, membership): a real Keycloak in production, the loopback
   provider's admin API for `make run` and the tests. Initial passwords go to a credentials sheet.
3. **Back office** — every reviewer and decider the command provisioned sits at every desk (后台分类) of
   their unit, and each unit with a decider gets a placeholder approval seal, so reviewers see work on the
   first day instead of "待办队列中暂无可认领的办件". This goes through approval's own administration
   handlers on the application role, bound to each unit (RLS in force), as that unit's administrator. The
   staff are recorded as the unit's own first: approval otherwise learns that only from a person's first
   call, and the command is the authority that has just put them in the unit.
4. **Check** — what the county still lacks before it can serve: published items, a fee catalogue, a
   treasury account, a real seal, staff for each role the hall needs, its province's code format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import text

from infra.keycloak import provision
from infra.onboard.staff import StaffReport, read_staff
from services.catalogue.admin import UPSERT_UNITS, check_unit_lines, import_unit_lines
from shared import divisions
from shared.clock import Clock
from shared.config import DatabaseToolSettings
from shared.db import Database, owner_connection
from shared.errors import AlreadyExists
from shared.tenancy import DivisionCode, Principal, Role

# the roles a county hall needs on its first day (一窗受理、审查、决定、收费、负责人、管理员)
HALL_ROLES = (Role.WINDOW_CLERK, Role.REVIEWER, Role.DECIDER, Role.CASHIER, Role.HEAD, Role.TENANT_ADMIN)
PLACEHOLDER_SEAL_PREFIX = "PENDING-"
STAFF_ACTIONS = (provision.CreateGroup, provision.CreateUser, provision.AssignRoles, provision.JoinGroup)


@dataclass
class Onboarding:
    county: str
    units: divisions.UnitsReport | None = None
    staff: StaffReport | None = None
    provisioned: provision.ApplyReport | None = None
    desks: dict[str, list[str]] = field(default_factory=dict)      # username → desks
    seals: list[str] = field(default_factory=list)                 # units given a placeholder seal
    lacks: list[str] = field(default_factory=list)


class OnboardingFailed(Exception):
    """A step that cannot go on (the county's own row refused, an unreadable file); Chinese, for the operator."""


Upload = tuple[bytes, str]          # a file's content and its name (for the report by line)


def read_upload(path: Path) -> Upload:
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        raise OnboardingFailed(f"无法读取 {path}：{exc.strerror or exc}") from None


def read_files(county: str, areas: Upload, streets: Upload, villages: Upload) -> list[divisions.SourceLine]:
    def load(upload: Upload) -> tuple[str, str]:
        content, name = upload
        return divisions.decode(content, name), name

    try:
        return divisions.county_lines(county, areas=load(areas), streets=load(streets), villages=load(villages))
    except divisions.UnreadableDivisions as exc:
        raise OnboardingFailed(str(exc)) from None


class UnitsStore(Protocol):
    """Where the county's tree is written: with the owner's credentials (the operator's command) or through the
    province administrator's binding on the application role (the onboarding service, catalogue 0007)."""

    def write(self, lines: list[divisions.SourceLine]) -> divisions.UnitsReport: ...

    def of_county(self, county: str) -> dict[str, str]: ...


_COUNTY_UNITS = "SELECT code, name FROM catalogue.units WHERE code = :c OR code LIKE :p"


@dataclass
class OwnerUnits:
    owner_url: str

    def write(self, lines: list[divisions.SourceLine]) -> divisions.UnitsReport:
        return import_unit_lines(self.owner_url, lines)

    def of_county(self, county: str) -> dict[str, str]:
        return county_units(self.owner_url, county)


@dataclass
class ProvinceUnits:
    """The tree written in a transaction bound to the province (2-digit tenant): the table's policy takes units of
    that province only, so another province's county is refused by PostgreSQL as well as by the service."""

    db: Database
    province: str

    def write(self, lines: list[divisions.SourceLine]) -> divisions.UnitsReport:
        with self.db.unit_of_work(tenant=self.province) as uow:
            known = {c for (c,) in uow.rows("SELECT code FROM catalogue.units WHERE code LIKE :p",
                                            {"p": self.province + "%"})}
            report, rows = check_unit_lines(lines, known)
            if report.accepted:
                uow.execute(UPSERT_UNITS, {"rows": rows})
            uow.commit()
        return report

    def of_county(self, county: str) -> dict[str, str]:
        with self.db.unit_of_work(tenant=self.province) as uow:
            return dict(uow.rows(_COUNTY_UNITS, {"c": county, "p": county + "%"}))


def county_units(owner_url: str, county: str) -> dict[str, str]:
    with owner_connection(owner_url) as conn:
        rows = conn.execute(text(_COUNTY_UNITS), {"c": county, "p": county + "%"}).all()
    return {r[0]: r[1] for r in rows}


def _operator(unit: str) -> Principal:
    return Principal(subject="admin-command:onboard", username="onboard", tenant=DivisionCode.parse(unit),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="县级上线（onboard）", machine=True)


def set_up_back_office(database_url: str, clock: Clock, users: list[dict], unit_names: dict[str, str]
                       ) -> tuple[dict[str, list[str]], list[str]]:
    """Every desk for each reviewer and decider; a placeholder seal for each unit with a decider."""
    from services.approval.administration import AdministrationHandlers
    from services.approval.repository import ApprovalRepository
    from services.approval.translate import EventsOut

    db = Database.connect(database_url, schema="approval", service="approval", pool_size=1)
    try:
        admin = AdministrationHandlers(db, clock, EventsOut())
        all_desks = [key for key, _ in admin.list_categories()]
        desks: dict[str, list[str]] = {}
        seals: list[str] = []
        for u in users:
            if not {str(Role.REVIEWER), str(Role.DECIDER)} & set(u["roles"]):
                continue
            with db.unit_of_work(tenant=u["tenant"]) as uow:
                ApprovalRepository(uow).saw_staff(u["tenant"], u["username"], u["name"], clock.now())
                uow.commit()
            desks[u["username"]] = admin.assign_desks(_operator(u["tenant"]), u["username"], all_desks, u["name"])
        for unit in sorted({u["tenant"] for u in users if str(Role.DECIDER) in u["roles"]}):
            name = f"{unit_names.get(unit, unit)}行政审批专用章（占位，待登记）"
            try:
                admin.register_seal(_operator(unit), name, f"{PLACEHOLDER_SEAL_PREFIX}{unit}")
                seals.append(unit)
            except AlreadyExists:
                pass                       # the unit has its seal already: a real one is never replaced
        return desks, seals
    finally:
        db.dispose()


def what_it_lacks(database_url: str, county: str, users: list[dict]) -> list[str]:
    """What the county cannot yet serve without, each with what to do, in Chinese."""
    lacks: list[str] = []
    db = Database.connect(database_url, schema="catalogue", service="onboard", pool_size=1)
    try:
        with db.unit_of_work(tenant=county) as uow:
            items = uow.value("SELECT count(*) FROM catalogue.item_listings l JOIN catalogue.items i"
                              " ON i.id = l.item_id WHERE l.listed_for = :c AND l.revoked_at IS NULL"
                              " AND i.status = 'published'", {"c": county})
            code_format = uow.scalar("SELECT description FROM catalogue.code_formats WHERE province = :p",
                                     {"p": county[:2]})
            fee_items = uow.value("SELECT count(*) FROM fees.fee_items WHERE tenant_code = :c"
                                  " AND status = 'published'", {"c": county})
            treasury = uow.scalar("SELECT payee_name FROM fees.treasury_accounts WHERE tenant_code = :c",
                                  {"c": county})
            seal = uow.scalar("SELECT code FROM approval.seals WHERE tenant_code = :c", {"c": county})
    finally:
        db.dispose()
    if not items:
        lacks.append("没有已发布的事项：导入事项清单（python -m services.catalogue.admin import-items --tenant "
                     f"{county} 清单.csv），由单位管理员补全后发布")
    if not fee_items:
        lacks.append("没有已发布的收费项目（收费目录）：有收费的事项无法开具缴款书")
    if not treasury:
        lacks.append("没有登记国库（非税收入）账户：缴款无法收缴（收缴分离）")
    if seal is None:
        lacks.append("没有行政审批专用章：决定人无法作出决定（一枚印章管审批）")
    elif seal.startswith(PLACEHOLDER_SEAL_PREFIX):
        lacks.append("行政审批专用章为占位：请单位管理员登记正式印章名称、编码和印模")
    held = {r for u in users if u["tenant"] == county for r in u["roles"]}
    missing = [r.label for r in HALL_ROLES if str(r) not in held]
    if missing:
        lacks.append(f"县级政务服务中心缺少以下角色的工作人员：{'、'.join(missing)}")
    if code_format is None:
        lacks.append(f"本省（{county[:2]}）未配置事项编码规则：事项编码按 GB/T 39046 默认格式校验"
                     "（基本编码最多 10 位、实施编码最多 24 位）")
    return lacks


def credentials_sheet(users: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["username", "name", "unit_code", "initial_password"])
    writer.writerows([u["username"], u["name"], u["tenant"], u["password"]] for u in users)
    return buf.getvalue()


def onboard(settings: DatabaseToolSettings, county: str, *, areas: Path, streets: Path, villages: Path,
            staff: Path, idp: provision.KeycloakAdminPort, out: Callable[[str], None] = print) -> Onboarding:
    """The operator's command: the files from disk, the units with the owner's credentials."""
    uploads = [read_upload(p) for p in (areas, streets, villages, staff)]
    return onboard_uploads(settings.database_url, Clock.from_settings(settings), county, areas=uploads[0],
                           streets=uploads[1], villages=uploads[2], staff=uploads[3], idp=idp,
                           units=OwnerUnits(settings.database_owner_url), out=out)


def onboard_uploads(database_url: str, clock: Clock, county: str, *, areas: Upload, streets: Upload,
                    villages: Upload, staff: Upload, idp: provision.KeycloakAdminPort, units: UnitsStore,
                    out: Callable[[str], None] = print) -> Onboarding:
    """The four steps, for the command and the onboarding service alike; each prints its report through `out`.
    Raises OnboardingFailed when a step cannot go on."""
    DivisionCode.parse(county, "county")
    # the identity provider's administrator first: a refused client stops the command before anything is written
    idp.get_realm_role(str(Role.TENANT_ADMIN))
    result = Onboarding(county)
    out(f"== 1. 单位树：{county}（{areas[1]}、{streets[1]}、{villages[1]}）")
    result.units = units.write(read_files(county, areas, streets, villages))
    for line in result.units.summary():
        out(line)
    tree_units = units.of_county(county)
    if county not in tree_units:
        raise OnboardingFailed(f"县（区）{county} 未能导入，无法继续")

    out(f"== 2. 工作人员：{staff[1]}")
    try:
        staff_text = divisions.decode(staff[0], staff[1])
        result.staff = read_staff(staff_text, staff[1], units=tree_units, county=county)
    except divisions.UnreadableDivisions as exc:
        raise OnboardingFailed(str(exc)) from None
    for line in result.staff.summary():
        out(line)
    users = [{k: v for k, v in u.items() if k != "line"} for u in result.staff.users]
    tree = [{"code": c, "name": n} for c, n in sorted(tree_units.items())]
    actions = [a for a in provision.plan(tree, users) if isinstance(a, STAFF_ACTIONS)]
    result.provisioned = provision.apply(actions, idp)
    out(f"统一身份认证：新建/更新 {result.provisioned.created}；已存在 {result.provisioned.unchanged}")

    out("== 3. 后台岗位与印章")
    result.desks, result.seals = set_up_back_office(database_url, clock, users, tree_units)
    out(f"岗位：{len(result.desks)} 名审核人、决定人分配到本单位全部岗位；占位印章：{len(result.seals)} 个单位")

    out("== 4. 尚缺")
    result.lacks = what_it_lacks(database_url, county, users)
    for line in result.lacks or ["无"]:
        out(f"  - {line}")
    return result
