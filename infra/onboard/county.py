"""Onboarding one county in one command (issue 23, item 2): its tree from the national division files, its
staff into the identity provider, its back office ready for day one, and what it still lacks.

1. **Tree** — the county's row of areas.csv, its townships from streets.csv and its villages from the
   villages file, as published (UTF-8, BOM or GBK), into the catalogue's units with a report by line
   (services.catalogue.admin: the command writes with the owner's credentials; the onboarding service asks
   the catalogue, whose ImportCountyUnits writes them bound to the province — catalogue 0007's policy).
2. **Staff** — the staff list (infra/onboard/staff.py) provisioned through python-keycloak's `KeycloakAdmin`
   with the realm's provisioning plan (infra/keycloak/provision.py: groups mirroring the tree, users with
   their `tenant` attribute, realm roles, membership): a real Keycloak in production, the loopback
   provider's admin API for `make run` and the tests. Initial passwords go to a credentials sheet.
3. **Back office** — every reviewer and decider the command provisioned sits at every desk (后台分类) of
   their unit, and each unit with a decider gets a placeholder approval seal, so reviewers see work on the
   first day instead of "待办队列中暂无可认领的办件". The staff are recorded as the unit's own first: approval
   otherwise learns that only from a person's first call, and onboarding is the authority that has just put
   them in the unit.
4. **Check** — what the county still lacks before it can serve: published items, a fee catalogue, a
   treasury account, a real seal, staff for each role the hall needs, its province's code format.

Steps 3 and 4 go through a `BackOffice` port. The onboarding service (services/onboarding) asks the owners over
gRPC — approval's SetUpUnitBackOffice and GetBackOfficeReadiness, fees' GetFeesReadiness, catalogue's
GetCatalogueReadiness, internal methods callable by the onboarding service alone on its own credential — and
touches no table of theirs. The operator's command (`python -m infra.onboard`) keeps a route that needs no running
service, for a first install: `DirectBackOffice`, approval's own administration handlers in-process on the
application role bound to each unit (RLS in force), and the readiness read per owner schema, bound to the county.
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
from services.catalogue.admin import import_unit_lines
from shared import divisions
from shared.clock import Clock
from shared.config import DatabaseToolSettings
from shared.db import Database, owner_connection
from shared.errors import AlreadyExists
from shared.tenancy import DivisionCode, Principal, Role

# the roles a county hall needs on its first day (一窗受理、审查、决定、收费、负责人、管理员)
HALL_ROLES = (Role.WINDOW_CLERK, Role.REVIEWER, Role.DECIDER, Role.CASHIER, Role.HEAD, Role.TENANT_ADMIN)
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
    """Where the county's tree is written: with the owner's credentials (the operator's command) or by the
    catalogue's ImportCountyUnits, bound to the province (the onboarding service: services/onboarding/clients.py)."""

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


def county_units(owner_url: str, county: str) -> dict[str, str]:
    with owner_connection(owner_url) as conn:
        rows = conn.execute(text(_COUNTY_UNITS), {"c": county, "p": county + "%"}).all()
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True)
class Readiness:
    """What each owner says of a county: catalogue (published items, its province's code format), fees (published
    fee items, a treasury account) and approval (a seal, and whether it is the placeholder)."""

    published_items: int
    code_format: bool
    published_fee_items: int
    treasury_account: bool
    seal: bool
    placeholder_seal: bool


class BackOffice(Protocol):
    """Steps 3 and 4 at the owners: the onboarding service's gRPC calls, or the command's direct route."""

    def set_up(self, users: list[dict], unit_names: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
        """Every desk for each reviewer and decider; a placeholder seal for each unit with a decider and no seal.
        → (username → desks, units given a placeholder seal)."""

    def readiness(self, county: str) -> Readiness: ...


def _operator(unit: str) -> Principal:
    return Principal(subject="admin-command:onboard", username="onboard", tenant=DivisionCode.parse(unit),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="县级上线（onboard）", machine=True)


@dataclass
class DirectBackOffice:
    """The operator's command on a first install, when the services may not be running yet: approval's own
    administration handlers in-process on the application role, bound to each unit (RLS in force), as that unit's
    administrator; the readiness read from each owner's schema in a transaction bound to the county. The
    onboarding service never uses it (services/onboarding/clients.py)."""

    database_url: str
    clock: Clock

    def set_up(self, users: list[dict], unit_names: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
        from services.approval.administration import PLACEHOLDER_SEAL_PREFIX, AdministrationHandlers
        from services.approval.repository import ApprovalRepository
        from services.approval.translate import EventsOut

        db = Database.connect(self.database_url, schema="approval", service="approval", pool_size=1)
        try:
            admin = AdministrationHandlers(db, self.clock, EventsOut())
            all_desks = [key for key, _ in admin.list_categories()]
            desks: dict[str, list[str]] = {}
            seals: list[str] = []
            for u in users:
                if not {str(Role.REVIEWER), str(Role.DECIDER)} & set(u["roles"]):
                    continue
                with db.unit_of_work(tenant=u["tenant"]) as uow:
                    ApprovalRepository(uow).saw_staff(u["tenant"], u["username"], u["name"], self.clock.now())
                    uow.commit()
                desks[u["username"]] = admin.assign_desks(_operator(u["tenant"]), u["username"], all_desks,
                                                          u["name"])
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

    def readiness(self, county: str) -> Readiness:
        from services.approval.administration import PLACEHOLDER_SEAL_PREFIX

        def read(schema: str, statement: str, params: dict) -> tuple:
            db = Database.connect(self.database_url, schema=schema, service="onboard", pool_size=1)
            try:
                with db.unit_of_work(tenant=county) as uow:
                    return uow.row(statement, params) or ()
            finally:
                db.dispose()

        items, code_format = read(
            "catalogue", "SELECT (SELECT count(*) FROM catalogue.item_listings l JOIN catalogue.items i"
            " ON i.id = l.item_id WHERE l.listed_for = :c AND l.revoked_at IS NULL AND i.status = 'published'),"
            " EXISTS (SELECT 1 FROM catalogue.code_formats WHERE province = :p)", {"c": county, "p": county[:2]})
        fee_items, treasury = read(
            "fees", "SELECT (SELECT count(*) FROM fees.fee_items WHERE tenant_code = :c AND status = 'published'),"
            " EXISTS (SELECT 1 FROM fees.treasury_accounts WHERE tenant_code = :c)", {"c": county})
        (seal,) = read("approval", "SELECT (SELECT code FROM approval.seals WHERE tenant_code = :c)", {"c": county})
        return Readiness(int(items), bool(code_format), int(fee_items), bool(treasury), seal is not None,
                         seal is not None and seal.startswith(PLACEHOLDER_SEAL_PREFIX))


def what_it_lacks(ready: Readiness, county: str, users: list[dict]) -> list[str]:
    """What the county cannot yet serve without, each with what to do, in Chinese."""
    lacks: list[str] = []
    if not ready.published_items:
        lacks.append("没有已发布的事项：导入事项清单（python -m services.catalogue.admin import-items --tenant "
                     f"{county} 清单.csv），由单位管理员补全后发布")
    if not ready.published_fee_items:
        lacks.append("没有已发布的收费项目（收费目录）：有收费的事项无法开具缴款书")
    if not ready.treasury_account:
        lacks.append("没有登记国库（非税收入）账户：缴款无法收缴（收缴分离）")
    if not ready.seal:
        lacks.append("没有行政审批专用章：决定人无法作出决定（一枚印章管审批）")
    elif ready.placeholder_seal:
        lacks.append("行政审批专用章为占位：请单位管理员登记正式印章名称、编码和印模")
    held = {r for u in users if u["tenant"] == county for r in u["roles"]}
    missing = [r.label for r in HALL_ROLES if str(r) not in held]
    if missing:
        lacks.append(f"县级政务服务中心缺少以下角色的工作人员：{'、'.join(missing)}")
    if not ready.code_format:
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
    return onboard_uploads(county, areas=uploads[0], streets=uploads[1], villages=uploads[2], staff=uploads[3],
                           idp=idp, units=OwnerUnits(settings.database_owner_url),
                           back_office=DirectBackOffice(settings.database_url, Clock.from_settings(settings)), out=out)


def onboard_uploads(county: str, *, areas: Upload, streets: Upload, villages: Upload, staff: Upload,
                    idp: provision.KeycloakAdminPort, units: UnitsStore, back_office: BackOffice,
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
    result.desks, result.seals = back_office.set_up(users, tree_units)
    out(f"岗位：{len(result.desks)} 名审核人、决定人分配到本单位全部岗位；占位印章：{len(result.seals)} 个单位")

    out("== 4. 尚缺")
    result.lacks = what_it_lacks(back_office.readiness(county), county, users)
    for line in result.lacks or ["无"]:
        out(f"  - {line}")
    return result
