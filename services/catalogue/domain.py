"""Catalogue rules (清单管理), plain Python.

An item carries the standard elements held identical across province, city and county (三级十同).
Its versions move draft → published → (adjusted: a new published version supersedes it) /
cancelled; a published item can be delegated (下放) to lower units or listed for village proxy
points (代办). Code formats and code-set mappings are per-province data, passed in.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from shared.autoapproval import parse_rule
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode, UnitKind
from shared.versioned import Version, Versioned, VersionStatus

# GB/T 39046-2020 code sets: the defaults; a province maps its own codes onto them (data).
ITEM_TYPES = {
    "01": "行政许可", "02": "行政处罚", "03": "行政强制", "04": "行政征收", "05": "行政给付", "06": "行政检查",
    "07": "行政确认", "08": "行政奖励", "09": "行政裁决", "10": "其他行政权力", "20": "公共服务",
}
EXERCISE_LEVELS = {"4": "县级", "5": "乡镇（街道）级", "6": "村（社区）级", "7": "分级行使"}
CASE_KINDS = {"1": "即办件", "2": "承诺件"}
TARGETS = {"natural_person": "自然人", "legal_person": "法人"}
# 现场踏勘: whether the item needs one and how its time counts
SITE_INSPECTION = {"": "无需现场踏勘", "counted": "需现场踏勘（时间计入办理时限）",
                   "suspends": "需现场踏勘（特别程序，所需时间不计入办理时限，书面告知申请人）"}
MAX_LIMIT_DAYS = 365
MAX_NAME = 200


# an item version's status: draft → published → superseded (adjusted) / cancelled (shared.versioned)
Status = VersionStatus


class ListingKind(enum.StrEnum):
    OWN = "own"
    DELEGATED = "delegated"   # 下放: the target unit handles it
    PROXY = "proxy"           # 代办: a village point takes it in for residents
    # 代收 (seed 000 §10 报批件, seed 003 §4 代为收件): a lower window takes in an item a higher level decides, on
    # that level's behalf; the case is the deciding unit's, the collecting window follows it and hands out
    COLLECT = "collect"


@dataclass(frozen=True)
class CodeFormat:
    """How a province writes item codes (GB/T 39046 by default: an..10, an..24, an..50)."""

    province: str = ""
    basic_max: int = 10
    implementation_max: int = 24
    case_number_max: int = 50
    basic_pattern: str = r"[0-9A-Za-z]+"
    implementation_pattern: str = r"[0-9A-Za-z\-]+"
    description: str = "GB/T 39046-2020"

    def check_basic(self, code: str, field_name: str) -> None:
        _check_code(code, self.basic_max, self.basic_pattern, field_name, "基本编码", self.description, self.hint)

    def check_implementation(self, code: str, field_name: str) -> None:
        _check_code(code, self.implementation_max, self.implementation_pattern, field_name, "实施编码",
                    self.description, self.hint)

    @property
    def hint(self) -> str:
        """What to do when a province's real codes do not fit: the default applies only where the province
        has configured no format of its own (issue 23, item 3)."""
        if self.province:
            return ""
        return ("（本省未配置事项编码规则，按国家标准校验；本省编码更长的，由运维按省级编码规则配置："
                "python -m services.catalogue.admin set-code-format --province <省代码> …）")


GBT_39046 = CodeFormat()


def _check_code(code: str, max_len: int, pattern: str, field_name: str, label: str, spec: str,
                hint: str = "") -> None:
    if not code:
        raise InvalidArgument(field_name, f"{label}不能为空")
    if len(code) > max_len:
        raise InvalidArgument(field_name, f"{label}过长：{len(code)} 位，按{spec}最多 {max_len} 位{hint}")
    if not re.fullmatch(pattern, code):
        raise InvalidArgument(field_name, f"{label}格式不符合{spec}：{code}{hint}")


@dataclass(frozen=True)
class Material:
    code: str
    name: str
    core: bool = False
    waivable: bool = False
    makeup_days: int = 0
    copies: int = 1
    form: str = ""
    source: str = ""
    sample: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Scenario:
    code: str
    name: str
    description: str = ""
    materials: tuple[Material, ...] = ()


@dataclass(frozen=True)
class FeeReference:
    fee_code: str
    name: str
    basis: str = ""
    standard: str = ""


@dataclass(frozen=True)
class Elements:
    """The standard elements of an item (三级十同) plus what the guide needs."""

    name: str
    basic_code: str
    item_type: str
    exercise_level: str
    case_kind: str
    department: str
    legal_basis: str
    acceptance_conditions: str
    targets: tuple[str, ...]
    statutory_limit_days: int
    promised_limit_days: int
    scenarios: tuple[Scenario, ...] = ()
    fees: tuple[FeeReference, ...] = ()
    implementation_code: str = ""
    keywords: tuple[str, ...] = ()
    handling_place: str = ""
    handling_hours: str = ""
    consult_phone: str = ""
    complaint_phone: str = ""
    steps: tuple[str, ...] = ()
    online: bool = False
    max_trips: int = 1
    joint: bool = False
    joint_departments: tuple[str, ...] = ()
    site_inspection: str = ""
    project_facts: bool = False      # the window asks: 政府投资项目 / 重点建设项目 (收费从低, seed 001 §7)
    auto_approval: str = ""          # 秒批: the rule that decides a 即办件 at acceptance (shared/autoapproval.py)

    @classmethod
    def from_dict(cls, d: Mapping) -> Elements:
        """From the proto3-JSON dict of ItemElements (unknown keys refused by the proto parser)."""
        def ints(v, default=0):
            return int(v) if v not in (None, "") else default

        scenarios = tuple(
            Scenario(code=str(s.get("code", "")), name=str(s.get("name", "")),
                     description=str(s.get("description", "")),
                     materials=tuple(Material(
                         code=str(m.get("code", "")), name=str(m.get("name", "")), core=bool(m.get("core", False)),
                         waivable=bool(m.get("waivable", False)), makeup_days=ints(m.get("makeup_days")),
                         copies=ints(m.get("copies"), 1), form=str(m.get("form", "")), source=str(m.get("source", "")),
                         sample=str(m.get("sample", "")), notes=str(m.get("notes", "")))
                         for m in s.get("materials", []) or []))
            for s in d.get("scenarios", []) or [])
        fees = tuple(FeeReference(fee_code=str(f.get("fee_code", "")), name=str(f.get("name", "")),
                                  basis=str(f.get("basis", "")), standard=str(f.get("standard", "")))
                     for f in d.get("fees", []) or [])
        return cls(
            name=str(d.get("name", "")).strip(), basic_code=str(d.get("basic_code", "")).strip(),
            implementation_code=str(d.get("implementation_code", "")).strip(),
            item_type=str(d.get("item_type", "")), exercise_level=str(d.get("exercise_level", "")),
            case_kind=str(d.get("case_kind", "")), department=str(d.get("department", "")).strip(),
            legal_basis=str(d.get("legal_basis", "")).strip(),
            acceptance_conditions=str(d.get("acceptance_conditions", "")).strip(),
            targets=tuple(d.get("targets", []) or ()), statutory_limit_days=ints(d.get("statutory_limit_days")),
            promised_limit_days=ints(d.get("promised_limit_days")), scenarios=scenarios, fees=fees,
            keywords=tuple(str(k) for k in d.get("keywords", []) or ()),
            handling_place=str(d.get("handling_place", "")),
            handling_hours=str(d.get("handling_hours", "")), consult_phone=str(d.get("consult_phone", "")),
            complaint_phone=str(d.get("complaint_phone", "")), steps=tuple(str(s) for s in d.get("steps", []) or ()),
            online=bool(d.get("online", False)), max_trips=ints(d.get("max_trips"), 1),
            joint=bool(d.get("joint", False)), joint_departments=tuple(d.get("joint_departments", []) or ()),
            site_inspection=str(d.get("site_inspection", "")).strip(),
            project_facts=bool(d.get("project_facts", False)),
            auto_approval=str(d.get("auto_approval", "")).strip(),
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _check_identity(el: Elements, fmt: CodeFormat, f: Callable[[str], str]) -> None:
    """What names an item, in a draft as in a published version: its name, its codes in the province's
    format and its type."""
    if not el.name:
        raise InvalidArgument(f("name"), "事项名称不能为空")
    if len(el.name) > MAX_NAME:
        raise InvalidArgument(f("name"), f"事项名称过长（最多 {MAX_NAME} 字）")
    fmt.check_basic(el.basic_code, f("basic_code"))
    if el.implementation_code:
        fmt.check_implementation(el.implementation_code, f("implementation_code"))
    if el.item_type not in ITEM_TYPES:
        raise InvalidArgument(f("item_type"),
                              f"未知的事项类型：{el.item_type or '（空）'}（应为 GB/T 39046 代码，如 01 行政许可）")


def validate_elements(el: Elements, fmt: CodeFormat = GBT_39046, prefix: str = "elements") -> Elements:
    """Refuse incomplete or inconsistent elements, naming the first offending field."""
    f = lambda name: f"{prefix}.{name}"  # noqa: E731
    _check_identity(el, fmt, f)
    if el.exercise_level not in EXERCISE_LEVELS:
        raise InvalidArgument(f("exercise_level"),
                              f"未知的行使层级：{el.exercise_level or '（空）'}（4 县级、5 乡镇级、6 村级、7 分级）")
    if el.case_kind not in CASE_KINDS:
        raise InvalidArgument(f("case_kind"), f"未知的办件类型：{el.case_kind or '（空）'}（1 即办件、2 承诺件）")
    for name, label in (("department", "实施部门"), ("legal_basis", "设定依据"), ("acceptance_conditions", "受理条件")):
        if not getattr(el, name):
            raise InvalidArgument(f(name), f"{label}不能为空")
    if not el.targets:
        raise InvalidArgument(f("targets"), "服务对象不能为空（自然人或法人）")
    for i, t in enumerate(el.targets):
        if t not in TARGETS:
            raise InvalidArgument(f(f"targets[{i}]"), f"未知的服务对象：{t}")
    for name, label in (("statutory_limit_days", "法定办结时限"), ("promised_limit_days", "承诺办结时限")):
        v = getattr(el, name)
        if v < 0:
            raise InvalidArgument(f(name), f"{label}不能为负数")
        if v > MAX_LIMIT_DAYS:
            raise InvalidArgument(f(name), f"{label}不能超过 {MAX_LIMIT_DAYS} 个工作日")
    if el.statutory_limit_days and el.promised_limit_days > el.statutory_limit_days:
        raise InvalidArgument(f("promised_limit_days"), "承诺办结时限不能长于法定办结时限")
    if el.case_kind == "1" and el.promised_limit_days != 0:
        raise InvalidArgument(f("promised_limit_days"), "即办件当场办结，承诺办结时限应为 0")
    if el.case_kind == "2" and el.promised_limit_days < 1:
        raise InvalidArgument(f("promised_limit_days"), "承诺件的承诺办结时限至少为 1 个工作日")
    if el.max_trips < 0:
        raise InvalidArgument(f("max_trips"), "到现场次数不能为负数")
    if not el.scenarios:
        raise InvalidArgument(f("scenarios"), "至少需要一个办理情形")
    seen_scenarios: set[str] = set()
    for i, s in enumerate(el.scenarios):
        sf = f"scenarios[{i}]"
        if not s.code:
            raise InvalidArgument(f(f"{sf}.code"), "办理情形编码不能为空")
        if s.code in seen_scenarios:
            raise InvalidArgument(f(f"{sf}.code"), f"办理情形编码重复：{s.code}")
        seen_scenarios.add(s.code)
        if not s.name:
            raise InvalidArgument(f(f"{sf}.name"), "办理情形名称不能为空")
        if not s.materials:
            raise InvalidArgument(f(f"{sf}.materials"), f"办理情形“{s.name}”没有申请材料")
        seen_materials: set[str] = set()
        for j, m in enumerate(s.materials):
            mf = f"{sf}.materials[{j}]"
            if not m.code:
                raise InvalidArgument(f(f"{mf}.code"), "材料编码不能为空")
            if m.code in seen_materials:
                raise InvalidArgument(f(f"{mf}.code"), f"材料编码重复：{m.code}")
            seen_materials.add(m.code)
            if not m.name:
                raise InvalidArgument(f(f"{mf}.name"), "材料名称不能为空")
            if m.copies < 0:
                raise InvalidArgument(f(f"{mf}.copies"), "份数不能为负数")
            if m.core and m.waivable:
                raise InvalidArgument(f(f"{mf}.waivable"), f"核心材料“{m.name}”不能容缺")
            if m.waivable:
                if m.makeup_days < 1:
                    raise InvalidArgument(f(f"{mf}.makeup_days"),
                                          f"可容缺材料“{m.name}”须设定补交时限（至少 1 个工作日）")
                if m.makeup_days > el.promised_limit_days:
                    raise InvalidArgument(
                        f(f"{mf}.makeup_days"),
                        f"容缺补交时限（{m.makeup_days} 个工作日）"
                        f"不能超过承诺办结时限（{el.promised_limit_days} 个工作日）")
            elif m.makeup_days:
                raise InvalidArgument(f(f"{mf}.makeup_days"), "只有可容缺材料才有补交时限")
    for i, fee in enumerate(el.fees):
        if not fee.fee_code:
            raise InvalidArgument(f(f"fees[{i}].fee_code"), "收费项目编码不能为空")
        if not fee.name:
            raise InvalidArgument(f(f"fees[{i}].name"), "收费项目名称不能为空")
    if el.joint and not el.joint_departments:
        raise InvalidArgument(f("joint_departments"), "联办事项须列明参与并联审批的部门")
    if el.site_inspection not in SITE_INSPECTION:
        raise InvalidArgument(f("site_inspection"), f"未知的现场踏勘规则：{el.site_inspection}"
                                                    "（应为空、counted 计入办理时限或 suspends 暂停计时）")
    if el.auto_approval:
        parse_rule(el.auto_approval, f("auto_approval"))
        if el.case_kind != "1":
            raise InvalidArgument(f("auto_approval"), "秒批只适用于即办件（办件类型 1），承诺件须经审查、决定")
    return el


def validate_draft(el: Elements, fmt: CodeFormat = GBT_39046, prefix: str = "elements") -> Elements:
    """What any draft holds, even one taken from a published list that gives no more (an import):
    the item's name, its codes in the province's format, its type and its department. The rest of
    the standard elements may still be missing; `Item.publish` refuses a draft until they are there."""
    f = lambda name: f"{prefix}.{name}"  # noqa: E731
    _check_identity(el, fmt, f)
    if not el.department:
        raise InvalidArgument(f("department"), "实施部门不能为空")
    return el


# ---------------------------------------------------------------------------------------------
# Lifecycle: the one of every versioned list entry (shared.versioned), told in the catalogue's words
# ---------------------------------------------------------------------------------------------

class ItemVersion(Version[Elements]):
    """A version of an item: its content is the item's standard elements."""

    @property
    def elements(self) -> Elements:
        return self.content


class Item(Versioned[Elements]):
    """An item and its versions; `versions[-1]` is the current one."""

    noun = "事项"
    version_type = ItemVersion

    def checked_reason(self, reason: str, action: str) -> str:
        if not reason.strip():
            raise InvalidArgument("reason", f"{action}事项须说明理由")
        return reason.strip()

    def check_same_entry(self, elements: Elements) -> None:
        if elements.basic_code != self.current.content.basic_code:
            raise InvalidArgument("elements.basic_code", "事项基本编码不可调整；如需变更请取消原事项后新建")

    def update_draft(self, elements: Elements) -> ItemVersion:
        # the code before the status: what an admin editing a draft has always been told first
        if elements.basic_code != self.current.content.basic_code:
            raise InvalidArgument("elements.basic_code", "事项基本编码创建后不可修改")
        return super().update_draft(elements)

    def publish(self, fmt: CodeFormat = GBT_39046) -> ItemVersion:
        """Only a complete draft is published: an imported draft holds its name, codes, type and
        department only, and stays a draft until the admin has filled in the rest."""
        def complete(elements: Elements) -> None:
            try:
                validate_elements(elements, fmt)
            except InvalidArgument as exc:
                raise FailedPrecondition(f"草稿要素不完整，不能发布：{exc.message}", field=exc.field) from None

        return super().publish(complete)


@dataclass
class ItemRow:
    """One item version as read back, with how it reaches the reader (`listing`: own, delegated, proxy):
    what the handlers return and the guide, the cache and the API translation read."""

    id: str
    tenant: str
    version: int
    status: str
    elements: dict
    created_at: dt.datetime | None
    published_at: dt.datetime | None
    change_reason: str
    listing: str = ""


def check_delegation(item: Item, owner: DivisionCode, targets: Iterable[DivisionCode], kind: ListingKind,
                     known_units: Iterable[str]) -> list[DivisionCode]:
    """Where a published item may be listed: strict descendants of the owner that exist;
    delegation (下放) to townships or villages, proxy (代办) to village points and township centres (帮办代办 at
    every level, issue 21 item 1: seed 001 “由乡镇（街道）民生服务中心或村（社区）免费代办”)."""
    if item.status != Status.PUBLISHED:
        raise FailedPrecondition("只有已发布的事项可以下放或设为代办")
    if kind not in (ListingKind.DELEGATED, ListingKind.PROXY, ListingKind.COLLECT):
        raise InvalidArgument("kind", "请选择下放（DELEGATED）、代办（PROXY）或代收（COLLECT）")
    known = set(known_units)
    out: list[DivisionCode] = []
    targets = list(targets)
    if not targets:
        raise InvalidArgument("target_tenants", "请至少选择一个下级单位")
    for i, t in enumerate(targets):
        name = f"target_tenants[{i}]"
        if not owner.is_ancestor_of(t):
            raise PermissionDenied(f"只能下放给本单位的下级单位：{t}")
        if str(t) not in known:
            raise InvalidArgument(name, f"单位不存在：{t}")
        if kind == ListingKind.PROXY and t.kind not in (UnitKind.TOWNSHIP, UnitKind.VILLAGE):
            raise InvalidArgument(name, f"代办只能设给乡镇（街道）便民服务中心或村（社区）代办点：{t}")
        if kind == ListingKind.COLLECT and t.kind not in (UnitKind.TOWNSHIP, UnitKind.COUNTY):
            raise InvalidArgument(name, f"代收只能设给乡镇（街道）便民服务中心或县级政务服务中心：{t}")
        if kind == ListingKind.DELEGATED and t.kind not in (UnitKind.TOWNSHIP, UnitKind.VILLAGE):
            raise InvalidArgument(name, f"只能下放到乡镇（街道）或村（社区）：{t}")
        if t not in out:
            out.append(t)
    return out


def with_elements(el: Elements, **changes) -> Elements:
    return replace(el, **changes)
