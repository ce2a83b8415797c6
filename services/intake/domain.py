"""Intake rules (一窗受理), plain Python: no database, no network, no clock of its own.

An application is received (收件) at a window, online, by post, or from a village proxy point
(代办); a window clerk of the handling unit then takes one of three decisions:

- accept (受理) → a case number and an acceptance notice (即办件 then go to the window's chief
  representative, who decides on the spot in the approval service); with waivable materials missing
  (容缺受理) the applicant promises a make-up date per material;
- request correction (补正) → one notice listing *every* missing or defective material at once
  (一次性告知); the decision clock stops while the applicant corrects; a later correction request may
  only name materials changed or newly supplied since the previous one;
- reject (不予受理) → a notice with the reason and the applicant's remedies.

With no decision within 5 working days of receipt (correction time not counted) the application is
deemed accepted on the day of receipt (《中华人民共和国行政许可法》第三十二条：逾期不告知的，自收到申请
材料之日起即为受理). A 容缺 promise not kept by its date terminates the case.

The approval service reports the decision and the completion (办结) back; only a completed case's
result is handed out (出件), and only once every 容缺 promise is kept.

Every function takes the day, the time and the working-day calendar it needs as arguments; case
numbers come from a callback so the caller decides where the sequence lives.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.calendar import Pause, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument

# identity numbers: one rule, shared with agency (a resident a village agent registers is one the window takes)
from shared.idnumbers import check_id_number, check_resident_id, resident_id_check_char

DECISION_WORKING_DAYS = 5          # 收件后 5 个工作日内作出受理决定，逾期视为受理
CASE_NUMBER_MAX_DEFAULT = 50       # GB/T 39046-2020: 办件编号 an..50
CASE_SEQUENCE_MAX = 999_999
MAX_TEXT = 1000
MAX_NOTE = 500
MAX_NAME = 100
MAX_KEY = 128
MAX_FORM_ENTRIES = 100
SYSTEM_ACTOR = "system"


class Status(enum.StrEnum):
    RECEIVED = "received"          # 已收件，待受理决定
    CORRECTION = "correction"      # 补正中（时钟不计）
    ACCEPTED = "accepted"          # 已受理
    REJECTED = "rejected"          # 不予受理
    TERMINATED = "terminated"      # 容缺未按期补齐，终止办理
    COMPLETED = "completed"        # 已办结（审批服务报告办结，含即办件），结果可领取
    PICKED_UP = "picked_up"        # 已出件


STATUS_LABELS = {
    Status.RECEIVED: "已收件，待受理", Status.CORRECTION: "补正材料中", Status.ACCEPTED: "已受理，办理中",
    Status.REJECTED: "不予受理", Status.TERMINATED: "已终止办理", Status.COMPLETED: "已办结，结果可领取",
    Status.PICKED_UP: "已出件",
}

# Channel codes (one application model, DESIGN §6): 1 window, 2 PC, 3 mobile, 4 post.
CHANNELS = {1: "window", 2: "pc", 3: "mobile", 4: "post"}
CHANNEL_LABELS = {1: "窗口", 2: "网上（电脑端）", 3: "网上（移动端）", 4: "邮寄"}
PICKUP_CHANNELS = {"window": "窗口领取", "post": "邮寄送达", "village": "代办点转交"}
TARGET_LABELS = {"natural_person": "自然人", "legal_person": "法人"}
ID_TYPES = {"resident_id": "居民身份证", "uscc": "统一社会信用代码"}
KIND_OF_ID = {"resident_id": "natural_person", "uscc": "legal_person"}

# History entries (`what`) and the step names a person reads in the public progress lookup.
PUBLIC_STEPS = {
    "received": "已收件", "correction_requested": "需补正材料", "materials_supplied": "已补交材料",
    "accepted": "已受理", "deemed_accepted": "已受理（逾期未作决定，视为受理）", "rejected": "不予受理",
    "terminated": "终止办理", "suspended": "审批暂停计时（特别程序）", "resumed": "审批恢复计时",
    "decided": "已作出审批决定", "completed": "已办结，结果可领取", "picked_up": "已出件",
}


def iso(value: dt.date | dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def parse_date(value: str, field_name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidArgument(field_name, f"日期格式不正确：{value!r}（应为 YYYY-MM-DD）") from None


# ---------------------------------------------------------------------------------------------
# Applicant (申请人) and prefill (表单只填一次)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Applicant:
    kind: str = ""
    name: str = ""
    id_type: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    organisation: str = ""
    dishonest: bool = False        # 失信被执行人 (from the credit list, per application)

    PROFILE_FIELDS = ("kind", "name", "id_type", "id_number", "phone", "address", "organisation")

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in (*self.PROFILE_FIELDS, "dishonest")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Applicant:
        d = d or {}
        return cls(**{f: str(d.get(f, "") or "").strip() for f in cls.PROFILE_FIELDS},
                   dishonest=bool(d.get("dishonest", False)))

    def profile(self) -> dict[str, str]:
        """What the tenant keeps to prefill the next form (the credit flag is not kept: it is
        checked against the credit list each time)."""
        return {f: getattr(self, f) for f in self.PROFILE_FIELDS}

    @property
    def id_suffix(self) -> str:
        return self.id_number[-6:]

    @property
    def masked_id(self) -> str:
        n = self.id_number
        return n[:6] + "*" * (len(n) - 10) + n[-4:] if len(n) > 10 else n


def prefill(given: Applicant, profile: Mapping[str, str] | None) -> Applicant:
    """Fields left empty are taken from the tenant's record of the same person or company."""
    if not profile:
        return given
    changes = {f: str(profile.get(f, "") or "") for f in Applicant.PROFILE_FIELDS
               if not getattr(given, f) and profile.get(f)}
    return replace(given, **changes)


def validate_applicant(a: Applicant, targets: Sequence[str], today: dt.date, prefix: str = "applicant") -> Applicant:
    number = a.id_number.strip().upper()
    if not number:
        raise InvalidArgument(f"{prefix}.id_number", "请填写申请人证件号码")
    id_type = a.id_type.strip()
    if not id_type:
        # from the applicant's kind, else a valid resident ID, else the item's only target, else the shape
        if a.kind in TARGET_LABELS:
            id_type = "resident_id" if a.kind == "natural_person" else "uscc"
        elif re.fullmatch(r"\d{17}[\dX]", number) and resident_id_check_char(number[:17]) == number[17]:
            id_type = "resident_id"
        elif len(targets) == 1:
            id_type = "resident_id" if targets[0] == "natural_person" else "uscc"
        else:
            id_type = "resident_id" if re.fullmatch(r"\d+X?", number) else "uscc"
    if id_type not in ID_TYPES:
        raise InvalidArgument(f"{prefix}.id_type",
                              f"证件类型应为居民身份证（resident_id）或统一社会信用代码（uscc）：{id_type}")
    kind = a.kind.strip() or KIND_OF_ID[id_type]
    if kind not in TARGET_LABELS:
        raise InvalidArgument(f"{prefix}.kind", f"申请人类型应为自然人（natural_person）或法人（legal_person）：{kind}")
    if KIND_OF_ID[id_type] != kind:
        wanted = ID_TYPES["resident_id" if kind == "natural_person" else "uscc"]
        raise InvalidArgument(f"{prefix}.id_type", f"{TARGET_LABELS[kind]}应使用{wanted}")
    if targets and kind not in targets:
        allowed = "、".join(TARGET_LABELS.get(t, t) for t in targets)
        raise InvalidArgument(f"{prefix}.kind", f"该事项的服务对象为{allowed}，申请人类型不符")
    number = check_id_number(id_type, number, f"{prefix}.id_number", today)
    name = a.name.strip()
    if not name:
        raise InvalidArgument(f"{prefix}.name", "请填写申请人姓名或单位名称")
    if len(name) > MAX_NAME:
        raise InvalidArgument(f"{prefix}.name", f"申请人名称过长（最多 {MAX_NAME} 字）")
    phone = a.phone.strip()
    if phone and not re.fullmatch(r"[0-9+\-() ]{5,20}", phone):
        raise InvalidArgument(f"{prefix}.phone", "联系电话格式不正确")
    if len(a.address) > 200:
        raise InvalidArgument(f"{prefix}.address", "地址过长（最多 200 字）")
    if len(a.organisation) > MAX_NAME:
        raise InvalidArgument(f"{prefix}.organisation", f"过长（最多 {MAX_NAME} 字）")
    return replace(a, kind=kind, id_type=id_type, id_number=number, name=name, phone=phone,
                   address=a.address.strip(), organisation=a.organisation.strip())


def check_id_suffix(suffix: str, field_name: str = "id_suffix") -> str:
    s = (suffix or "").strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{6}", s):
        raise InvalidArgument(field_name, "请输入证件号码后 6 位")
    return s


# ---------------------------------------------------------------------------------------------
# The item version applied for (a snapshot: the case finishes under it)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MaterialSpec:
    code: str
    name: str
    core: bool = False
    waivable: bool = False
    makeup_days: int = 0

    @property
    def may_waive(self) -> bool:
        return self.waivable and not self.core


@dataclass(frozen=True)
class ScenarioSpec:
    code: str
    name: str
    materials: tuple[MaterialSpec, ...] = ()

    def material(self, code: str) -> MaterialSpec | None:
        return next((m for m in self.materials if m.code == code), None)


@dataclass(frozen=True)
class ItemSnapshot:
    id: str
    version: int
    tenant: str
    name: str
    case_kind: str                 # 1 即办, 2 承诺
    promised_limit_days: int
    statutory_limit_days: int = 0
    targets: tuple[str, ...] = ()
    department: str = ""
    basic_code: str = ""
    scenarios: tuple[ScenarioSpec, ...] = ()
    item_type: str = ""
    joint: bool = False
    joint_departments: tuple[str, ...] = ()
    has_fees: bool = False
    fee_codes: tuple[str, ...] = ()     # the item's fee references (收费目录 codes)
    site_inspection: str = ""           # 现场踏勘: "" | counted | suspends (the approval clock stops)

    @property
    def immediate(self) -> bool:
        return self.case_kind == "1"

    def scenario(self, code: str) -> ScenarioSpec | None:
        return next((s for s in self.scenarios if s.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "tenant": self.tenant, "name": self.name,
                "case_kind": self.case_kind, "promised_limit_days": self.promised_limit_days,
                "statutory_limit_days": self.statutory_limit_days, "targets": list(self.targets),
                "department": self.department, "basic_code": self.basic_code, "item_type": self.item_type,
                "joint": self.joint, "joint_departments": list(self.joint_departments), "has_fees": self.has_fees,
                "fee_codes": list(self.fee_codes), "site_inspection": self.site_inspection,
                "scenarios": [{"code": s.code, "name": s.name, "materials": [
                    {"code": m.code, "name": m.name, "core": m.core, "waivable": m.waivable,
                     "makeup_days": m.makeup_days} for m in s.materials]} for s in self.scenarios]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemSnapshot:
        return cls(
            id=str(d.get("id", "")), version=int(d.get("version", 0) or 0), tenant=str(d.get("tenant", "")),
            name=str(d.get("name", "")), case_kind=str(d.get("case_kind", "")),
            promised_limit_days=int(d.get("promised_limit_days", 0) or 0),
            statutory_limit_days=int(d.get("statutory_limit_days", 0) or 0),
            targets=tuple(d.get("targets", []) or ()), department=str(d.get("department", "")),
            basic_code=str(d.get("basic_code", "")), item_type=str(d.get("item_type", "")),
            joint=bool(d.get("joint", False)), joint_departments=tuple(d.get("joint_departments", []) or ()),
            has_fees=bool(d.get("has_fees", False) or d.get("fees")),
            site_inspection=str(d.get("site_inspection", "")),
            fee_codes=tuple(d.get("fee_codes") or (str(f.get("fee_code", "")) for f in d.get("fees", []) or ()
                                                   if isinstance(f, Mapping) and f.get("fee_code"))),
            scenarios=tuple(ScenarioSpec(
                code=str(s.get("code", "")), name=str(s.get("name", "")),
                materials=tuple(MaterialSpec(code=str(m.get("code", "")), name=str(m.get("name", "")),
                                             core=bool(m.get("core", False)), waivable=bool(m.get("waivable", False)),
                                             makeup_days=int(m.get("makeup_days", 0) or 0))
                                for m in s.get("materials", []) or []))
                for s in d.get("scenarios", []) or []))


# ---------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmittedMaterial:
    """A material handed in (listing it in a request means it was handed in)."""

    code: str
    note: str = ""


@dataclass
class MaterialState:
    code: str
    supplied: bool = False
    revision: int = 0              # 1 for the first supply, +1 each time it is supplied again
    supplied_at: str = ""
    supplied_via: str = ""         # window | pc | mobile | post | village:<code> | agency:<code>
    note: str = ""


@dataclass
class CorrectionItem:
    material_code: str
    problem: str
    carried: bool = False          # named in an earlier notice and still open (not a new request)


@dataclass
class CorrectionRound:
    """One correction notice (补正材料通知书): what it names and the revisions it saw."""

    number: int
    requested_at: str
    requested_on: dt.date
    requested_by: str
    items: list[CorrectionItem]
    revisions: dict[str, int]      # material code → revision when the notice was issued
    closed_on: dt.date | None = None


@dataclass
class Promise:
    """A 容缺 promise: a waivable material accepted missing, to be supplied by a date."""

    material_code: str
    promised_by: dt.date
    limit: dt.date                 # the latest date allowed when it was made
    closed_at: str = ""

    @property
    def open(self) -> bool:
        return not self.closed_at


@dataclass
class HistoryEntry:
    at: str
    what: str
    by: str
    detail: str = ""
    on: str = ""                   # the date the step counts for (e.g. a deemed acceptance: receipt)


@dataclass
class Application:
    id: str
    tenant: str                    # the handling tenant: the owner
    origin_tenant: str             # where it was submitted (the window itself, or the village point)
    idempotency_key: str
    item: ItemSnapshot
    scenario_code: str
    channel: int
    applicant: Applicant
    materials: dict[str, MaterialState]
    status: Status
    received_at: dt.datetime
    received_on: dt.date
    created_by: str = ""
    handling_unit_name: str = ""
    decision_due: dt.date | None = None
    case_number: str = ""
    accepted_at: dt.datetime | None = None
    accepted_on: dt.date | None = None
    accepted_by: str = ""
    deemed: bool = False
    immediate: bool = False
    corrections: list[CorrectionRound] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    proxy_tenant: str = ""
    proxy_request_id: str = ""
    form: dict[str, str] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    picked_up_at: dt.datetime | None = None
    pickup: dict[str, str] = field(default_factory=dict)
    rejection: dict[str, str] = field(default_factory=dict)
    termination: dict[str, str] = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------------------
    @property
    def scenario(self) -> ScenarioSpec:
        s = self.item.scenario(self.scenario_code)
        assert s is not None, "an application always names a scenario of its item version"
        return s

    @property
    def correlation_id(self) -> str:
        return self.case_number or self.id

    def material_name(self, code: str) -> str:
        m = self.scenario.material(code)
        return m.name if m else code

    def open_corrections(self) -> list[CorrectionItem]:
        """Items of correction notices not yet answered (the material not supplied again since)."""
        out: dict[str, CorrectionItem] = {}
        for r in self.corrections:
            for it in r.items:
                if self.materials[it.material_code].revision <= r.revisions.get(it.material_code, 0):
                    out[it.material_code] = it
                else:
                    out.pop(it.material_code, None)
        return list(out.values())

    def open_promises(self) -> list[Promise]:
        return [p for p in self.promises if p.open]

    @property
    def promise_due(self) -> dt.date | None:
        dates = [p.promised_by for p in self.open_promises()]
        return min(dates) if dates and self.status == Status.ACCEPTED else None

    def _late(self, today: dt.date) -> bool:
        return self.status == Status.RECEIVED and self.decision_due is not None and today > self.decision_due

    def _log(self, now: dt.datetime, what: str, by: str, detail: str = "", on: dt.date | None = None) -> None:
        self.history.append(HistoryEntry(at=now.isoformat(), what=what, by=by, detail=detail,
                                         on=iso(on or now.date())))

    def _require(self, allowed: Iterable[Status], action: str) -> None:
        if self.status not in tuple(allowed):
            raise FailedPrecondition(f"办件当前状态为“{STATUS_LABELS[self.status]}”，不能{action}")

    def _decision_due(self, calendar: WorkingCalendar) -> dt.date | None:
        """Receipt + 5 working days; working days inside closed correction periods do not count."""
        pauses = [Pause(r.requested_on, max(r.closed_on, r.requested_on), "申请人补正材料")
                  for r in self.corrections if r.closed_on is not None]
        due, _ = calendar.due_date(self.received_on, DECISION_WORKING_DAYS, pauses)
        return due

    # -- receipt (收件) ---------------------------------------------------------------------------
    @classmethod
    def receive(cls, *, app_id: str, tenant: str, origin_tenant: str, idempotency_key: str, item: ItemSnapshot,
                scenario_code: str, channel: int, applicant: Applicant, materials: Sequence[SubmittedMaterial],
                via: str, by: str, now: dt.datetime, calendar: WorkingCalendar, unit_name: str = "",
                proxy_tenant: str = "", proxy_request_id: str = "", form: Mapping[str, str] | None = None,
                materials_field: str = "materials") -> Application:
        scenario = check_scenario(item, scenario_code)
        given = check_materials(scenario, materials, materials_field)
        at = now.isoformat()
        states = {m.code: (MaterialState(m.code, True, 1, at, via, given[m.code].note) if m.code in given
                           else MaterialState(m.code)) for m in scenario.materials}
        app = cls(id=app_id, tenant=tenant, origin_tenant=origin_tenant, idempotency_key=idempotency_key, item=item,
                  scenario_code=scenario.code, channel=channel, applicant=applicant, materials=states,
                  status=Status.RECEIVED, received_at=now, received_on=now.date(), created_by=by,
                  handling_unit_name=unit_name, proxy_tenant=proxy_tenant, proxy_request_id=proxy_request_id,
                  form=dict(form or {}), immediate=False)
        app.decision_due = app._decision_due(calendar)
        where = (f"经代办点 {proxy_tenant} 代办提交" if proxy_tenant
                 else f"通过{CHANNEL_LABELS.get(channel, '窗口')}提交")
        app._log(now, "received", by, f"{where}，收到材料 {len(given)} 件")
        return app

    # -- accept (受理), with 容缺 -----------------------------------------------------------------
    def accept(self, *, waived: Sequence[tuple[str, str]], by: str, now: dt.datetime, today: dt.date,
               calendar: WorkingCalendar, next_case_number: Callable[[dt.date], str], note: str = "") -> None:
        self._require((Status.RECEIVED,), "受理")
        if len(note) > MAX_NOTE:
            raise InvalidArgument("note", f"备注过长（最多 {MAX_NOTE} 字）")
        late = self._late(today)
        accepted_on = self.received_on if late else today
        if waived and self.item.immediate:
            raise InvalidArgument("waived", "即办件当场办结，不适用容缺受理")
        if waived and self.applicant.dishonest:
            raise FailedPrecondition("申请人被列入失信被执行人名单，依规不适用容缺受理；请补齐全部材料后再予受理",
                                     field="applicant.dishonest")
        promises = self._check_waived(waived, accepted_on, today, calendar)
        waived_codes = {p.material_code for p in promises}
        open_codes = {c.material_code for c in self.open_corrections()}
        missing = [m for m in self.scenario.materials if m.code not in waived_codes
                   and (not self.materials[m.code].supplied or m.code in open_codes)]
        if missing:
            names = "、".join(f"《{m.name}》" for m in missing)
            raise FailedPrecondition(f"申请材料不齐全，不能受理：{names}尚未提交或需补正。"
                                     "请一次性告知补正，或对可容缺材料办理容缺受理", field="waived")
        self.case_number = next_case_number(accepted_on)
        self.accepted_on = accepted_on
        self.accepted_at = self.received_at if late else now
        self.accepted_by = by
        self.deemed = late
        self.promises = promises
        # 即办件: accepted here, decided on the spot by the window's chief representative (approval)
        self.immediate = self.item.immediate and not late
        self.status = Status.ACCEPTED
        detail = f"办件编号 {self.case_number}"
        if promises:
            detail += "；容缺受理：" + "、".join(
                f"《{self.material_name(p.material_code)}》承诺 {p.promised_by.isoformat()} 前补交" for p in promises)
        if late:
            detail += "；收件后 5 个工作日内未作决定，依法自收件之日起视为受理"
        if note:
            detail += f"；{note}"
        if self.immediate:
            detail += "；即办件，由窗口首席代表当场作出决定"
        self._log(now, "deemed_accepted" if late else "accepted", by, detail, on=accepted_on)

    def _check_waived(self, waived: Sequence[tuple[str, str]], accepted_on: dt.date, today: dt.date,
                      calendar: WorkingCalendar) -> list[Promise]:
        out: list[Promise] = []
        seen: set[str] = set()
        item_limit, _ = calendar.due_date(accepted_on, self.item.promised_limit_days)
        for i, (code, promised_by) in enumerate(waived):
            f = f"waived[{i}]"
            spec = self.scenario.material(code)
            if spec is None:
                raise InvalidArgument(f"{f}.material_code",
                                      f"材料“{code}”不在办理情形“{self.scenario.name}”的材料清单中")
            if code in seen:
                raise InvalidArgument(f"{f}.material_code", f"材料《{spec.name}》重复")
            seen.add(code)
            if not spec.may_waive:
                raise InvalidArgument(f"{f}.material_code", f"《{spec.name}》是核心材料或未列入容缺清单，不能容缺受理")
            state = self.materials[code]
            if state.supplied and code not in {c.material_code for c in self.open_corrections()}:
                raise InvalidArgument(f"{f}.material_code", f"《{spec.name}》已提交，无需容缺")
            if not promised_by:
                raise InvalidArgument(f"{f}.promised_by", f"请填写《{spec.name}》的承诺补交日期")
            day = parse_date(promised_by, f"{f}.promised_by")
            material_limit, _ = calendar.due_date(accepted_on, spec.makeup_days)
            limit = min(material_limit, item_limit)
            if day < today or day <= accepted_on:
                raise InvalidArgument(f"{f}.promised_by", f"承诺补交日期应晚于受理日期（{accepted_on.isoformat()}）")
            if day > limit:
                why = (f"该材料的补交时限为 {spec.makeup_days} 个工作日" if material_limit <= item_limit
                       else f"事项承诺办结时限为 {self.item.promised_limit_days} 个工作日")
                raise InvalidArgument(f"{f}.promised_by",
                                      f"承诺补交日期 {day.isoformat()} 超过补交期限：{why}，最迟 {limit.isoformat()}")
            out.append(Promise(code, day, limit))
        return out

    # -- request correction (补正，一次性告知) -----------------------------------------------------
    def request_correction(self, items: Sequence[tuple[str, str]], *, by: str, now: dt.datetime,
                           today: dt.date) -> CorrectionRound:
        self._require((Status.RECEIVED,), "要求补正")
        if self._late(today):
            raise FailedPrecondition("收件已超过 5 个工作日未作出决定，依法自收件之日起视为受理，不能再要求补正")
        if not items:
            raise InvalidArgument("items", "请列明需要补正的全部材料")
        prior = self.corrections[-1] if self.corrections else None
        named: list[CorrectionItem] = []
        seen: set[str] = set()
        for i, (code, problem) in enumerate(items):
            f = f"items[{i}]"
            spec = self.scenario.material(code)
            if spec is None:
                raise InvalidArgument(f"{f}.material_code",
                                      f"材料“{code}”不在办理情形“{self.scenario.name}”的材料清单中")
            if code in seen:
                raise InvalidArgument(f"{f}.material_code", f"材料《{spec.name}》重复")
            seen.add(code)
            if len(problem) > MAX_NOTE:
                raise InvalidArgument(f"{f}.problem", f"问题说明过长（最多 {MAX_NOTE} 字）")
            if prior is not None and self.materials[code].revision <= prior.revisions.get(code, 0):
                raise InvalidArgument(
                    f"{f}.material_code",
                    f"《{spec.name}》自第 {prior.number} 次补正告知后未更改或补交，依“一次性告知”规定不能再次要求补正"
                    "（补正告知应当一次性列明全部问题）")
            state = self.materials[code]
            named.append(CorrectionItem(code, problem.strip() or ("不符合要求" if state.supplied else "缺少该材料")))
        if prior is None:
            # one notice lists everything: every material still missing is on the first one
            named += [CorrectionItem(m.code, "缺少该材料") for m in self.scenario.materials
                      if not self.materials[m.code].supplied and m.code not in seen]
        else:
            named += [replace(c, carried=True) for c in self.open_corrections() if c.material_code not in seen]
        rnd = CorrectionRound(number=len(self.corrections) + 1, requested_at=now.isoformat(), requested_on=today,
                              requested_by=by, items=named,
                              revisions={c: s.revision for c, s in self.materials.items()})
        self.corrections.append(rnd)
        self.status = Status.CORRECTION
        self.decision_due = None
        self._log(now, "correction_requested", by, f"第 {rnd.number} 次补正告知：" + "、".join(
            f"《{self.material_name(c.material_code)}》{c.problem}" for c in named))
        return rnd

    # -- supply (补交 / 补正材料) -------------------------------------------------------------------
    def supply(self, materials: Sequence[SubmittedMaterial], *, via: str, by: str, now: dt.datetime, today: dt.date,
               calendar: WorkingCalendar) -> tuple[list[str], bool]:
        """Returns (material codes supplied, whether 容缺 promises were closed)."""
        self._require((Status.RECEIVED, Status.CORRECTION, Status.ACCEPTED), "补交材料")
        if not materials:
            raise InvalidArgument("materials", "请列明补交的材料")
        given = check_materials(self.scenario, materials, "materials")
        if self.status == Status.ACCEPTED:
            promised = {p.material_code for p in self.open_promises()}
            for i, m in enumerate(materials):
                if m.code not in promised:
                    raise InvalidArgument(f"materials[{i}].code",
                                          f"已受理的办件只能补交容缺受理时承诺补交的材料：《{self.material_name(m.code)}》不在其中")
        at = now.isoformat()
        for code, m in given.items():
            s = self.materials[code]
            s.supplied, s.revision, s.supplied_at, s.supplied_via, s.note = True, s.revision + 1, at, via, m.note
        closes = False
        if self.status == Status.ACCEPTED:
            for p in self.open_promises():
                if p.material_code in given:
                    p.closed_at = at
                    closes = True
        elif self.status == Status.CORRECTION:
            self.corrections[-1].closed_on = today
            self.status = Status.RECEIVED
            self.decision_due = self._decision_due(calendar)
        codes = list(given)
        detail = "补交：" + "、".join(f"《{self.material_name(c)}》" for c in codes)
        if closes:
            detail += "（容缺承诺已兑现）"
        self._log(now, "materials_supplied", by, detail)
        return codes, closes

    # -- reject (不予受理) --------------------------------------------------------------------------
    def reject(self, reason: str, legal_basis: str, *, by: str, now: dt.datetime, today: dt.date) -> None:
        self._require((Status.RECEIVED, Status.CORRECTION), "作出不予受理决定")
        if self._late(today):
            raise FailedPrecondition("收件已超过 5 个工作日未作出决定，依法自收件之日起视为受理，不能再作不予受理决定")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidArgument("reason", "请写明不予受理的理由")
        if len(reason) > MAX_TEXT:
            raise InvalidArgument("reason", f"理由过长（最多 {MAX_TEXT} 字）")
        if len(legal_basis or "") > MAX_TEXT:
            raise InvalidArgument("legal_basis", f"依据过长（最多 {MAX_TEXT} 字）")
        if self.status == Status.CORRECTION:
            self.corrections[-1].closed_on = today
        self.status = Status.REJECTED
        self.rejection = {"reason": reason, "legal_basis": (legal_basis or "").strip(), "at": now.isoformat(),
                          "by": by}
        self._log(now, "rejected", by, reason)

    # -- the sweep: deemed acceptance (视为受理) and 容缺 expiry -------------------------------------
    def deem_accepted(self, *, today: dt.date, now: dt.datetime, next_case_number: Callable[[dt.date], str]) -> bool:
        """No decision within 5 working days of receipt: accepted on the day of receipt."""
        if not self._late(today):
            return False
        self.case_number = next_case_number(self.received_on)
        self.accepted_on = self.received_on
        self.accepted_at = self.received_at
        self.accepted_by = SYSTEM_ACTOR
        self.deemed = True
        self.status = Status.ACCEPTED
        due = self.decision_due
        self._log(now, "deemed_accepted", SYSTEM_ACTOR,
                  f"收件后 5 个工作日内（截至 {iso(due)}）未作出受理决定，依法自收件之日"
                  f"（{self.received_on.isoformat()}）起视为受理；办件编号 {self.case_number}", on=self.received_on)
        return True

    def expire_promises(self, *, today: dt.date, now: dt.datetime) -> list[Promise]:
        """A 容缺 promise not kept by its date terminates the case. Returns the broken promises."""
        if self.status != Status.ACCEPTED:
            return []
        broken = [p for p in self.open_promises() if p.promised_by < today]
        if not broken:
            return []
        what = "、".join(f"《{self.material_name(p.material_code)}》（承诺 {p.promised_by.isoformat()} 前补交）"
                        for p in broken)
        reason = f"容缺受理承诺补交的材料{what}逾期未补交，依容缺受理承诺终止办理"
        self.status = Status.TERMINATED
        self.termination = {"reason": reason, "at": now.isoformat()}
        self._log(now, "terminated", SYSTEM_ACTOR, reason)
        return broken

    # -- what the back office reports (the approval service's events) -------------------------------
    def record_decision(self, *, outcome: str, document_number: str, reasons: Sequence[str], decider: str,
                        now: dt.datetime) -> str | None:
        """The decision (决定) on an accepted case, once. Returns what the applicant is told, or None
        when there is nothing to record (already recorded, or the case is no longer in progress)."""
        if self.status != Status.ACCEPTED or any(h.what == "decided" for h in self.history):
            return None
        if outcome == "approved":
            detail = "准予许可" + (f"，决定书编号 {document_number}" if document_number else "")
        elif outcome == "denied":
            why = "；".join(r for r in reasons if r)
            detail = ("不予许可" + (f"，决定书编号 {document_number}" if document_number else "")
                      + (f"，理由：{why}" if why else "") + "。如不服，可依法申请行政复议或者提起行政诉讼")
        else:
            raise InvalidArgument("outcome", f"未知的审批结果：{outcome!r}")
        self._log(now, "decided", decider or SYSTEM_ACTOR, detail)
        return detail

    def record_clock(self, *, suspended: bool, detail: str, now: dt.datetime) -> bool:
        """A suspension (特别程序, with its written notice) or a resumption of the back office's clock,
        while the case is in progress; False when there is nothing to record."""
        if self.status != Status.ACCEPTED:
            return False
        self._log(now, "suspended" if suspended else "resumed", SYSTEM_ACTOR, detail)
        return True

    def complete(self, *, outcome: str, now: dt.datetime) -> str | None:
        """办结: the result can be handed out. Once; None when already completed or no longer in progress."""
        if self.status != Status.ACCEPTED:
            return None
        self.status = Status.COMPLETED
        result = "许可决定及证照" if outcome == "approved" else "不予许可决定书"
        detail = f"已办结，{result}可领取"
        if self.open_promises():
            detail += "（容缺受理的材料补齐后方可领取）"
        self._log(now, "completed", SYSTEM_ACTOR, detail)
        return detail

    # -- hand-out (出件) ---------------------------------------------------------------------------
    def pick_up(self, *, picked_up_by: str, id_number: str, channel: str, what: str, tracking_number: str,
                by: str, now: dt.datetime, today: dt.date) -> None:
        if self.status == Status.ACCEPTED:
            raise FailedPrecondition("办件尚未办结（审批决定或缴费未完成），暂不能出件")
        self._require((Status.COMPLETED,), "出件")
        if self.open_promises():
            raise FailedPrecondition("容缺受理的材料尚未补齐，不能出件")
        name = (picked_up_by or "").strip()
        if not name:
            raise InvalidArgument("picked_up_by", "请填写领取人姓名")
        if len(name) > MAX_NAME:
            raise InvalidArgument("picked_up_by", f"领取人姓名过长（最多 {MAX_NAME} 字）")
        number = check_resident_id(id_number, "id_number", today)
        channel = (channel or "").strip()
        if channel not in PICKUP_CHANNELS:
            raise InvalidArgument("channel", "出件方式应为窗口领取（window）、邮寄（post）或代办点转交（village）")
        tracking = (tracking_number or "").strip()
        if channel == "post" and not tracking:
            raise InvalidArgument("tracking_number", "邮寄送达须填写邮件单号")
        if len(tracking) > 64:
            raise InvalidArgument("tracking_number", "邮件单号过长")
        if channel == "village" and not self.proxy_tenant:
            raise InvalidArgument("channel", "只有经代办点提交的办件才能由代办点转交")
        what = (what or "").strip() or "办理结果"
        if len(what) > 200:
            raise InvalidArgument("what", "领取内容过长（最多 200 字）")
        self.status = Status.PICKED_UP
        self.picked_up_at = now
        self.pickup = {"picked_up_by": name, "id_number": number, "channel": channel, "what": what,
                       "tracking_number": tracking, "by": by, "at": now.isoformat()}
        masked = number[:6] + "********" + number[-4:]
        detail = f"{PICKUP_CHANNELS[channel]}：{what}，领取人 {name}（{masked}）"
        if tracking:
            detail += f"，邮件单号 {tracking}"
        self._log(now, "picked_up", by, detail)

    # -- public view -------------------------------------------------------------------------------
    def public_steps(self) -> list[tuple[str, str]]:
        """(date, step name) pairs: dates and step names only — no names, no materials."""
        return [(h.on or h.at[:10], PUBLIC_STEPS[h.what]) for h in self.history if h.what in PUBLIC_STEPS]


def check_scenario(item: ItemSnapshot, scenario_code: str) -> ScenarioSpec:
    if not scenario_code:
        raise InvalidArgument("scenario_code", "请选择办理情形")
    s = item.scenario(scenario_code)
    if s is None:
        names = "、".join(f"{x.code} {x.name}" for x in item.scenarios)
        raise InvalidArgument("scenario_code", f"事项“{item.name}”没有办理情形“{scenario_code}”（可选：{names}）")
    return s


def check_materials(scenario: ScenarioSpec, materials: Sequence[SubmittedMaterial],
                    prefix: str) -> dict[str, SubmittedMaterial]:
    out: dict[str, SubmittedMaterial] = {}
    for i, m in enumerate(materials):
        f = f"{prefix}[{i}]"
        if not m.code:
            raise InvalidArgument(f"{f}.code", "材料编码不能为空")
        spec = scenario.material(m.code)
        if spec is None:
            raise InvalidArgument(f"{f}.code", f"材料“{m.code}”不在办理情形“{scenario.name}”的材料清单中")
        if m.code in out:
            raise InvalidArgument(f"{f}.code", f"材料《{spec.name}》重复")
        if len(m.note) > MAX_NOTE:
            raise InvalidArgument(f"{f}.note", f"备注过长（最多 {MAX_NOTE} 字）")
        out[m.code] = m
    return out


def check_submission(idempotency_key: str, channel: int, form: Mapping[str, str]) -> str:
    key = (idempotency_key or "").strip()
    if not key:
        raise InvalidArgument("idempotency_key", "请提供幂等键（同一申请重复提交时使用同一键）")
    if len(key) > MAX_KEY or not re.fullmatch(r"[0-9A-Za-z._:\-]+", key):
        raise InvalidArgument("idempotency_key", f"幂等键只能包含字母、数字和 ._:-，最长 {MAX_KEY} 位")
    if channel not in CHANNELS:
        raise InvalidArgument("channel", "申请渠道应为 1 窗口、2 电脑端、3 移动端、4 邮寄")
    if len(form) > MAX_FORM_ENTRIES:
        raise InvalidArgument("form", f"表单项过多（最多 {MAX_FORM_ENTRIES} 项）")
    for k, v in form.items():
        if not k or len(k) > 64:
            raise InvalidArgument("form", f"表单项名称不正确：{k!r}")
        if len(v) > 2000:
            raise InvalidArgument(f"form.{k}", "表单项内容过长（最多 2000 字）")
    return key


# ---------------------------------------------------------------------------------------------
# Case numbers (办件编号, GB/T 39046 an..50)
# ---------------------------------------------------------------------------------------------

CASE_NUMBER_RE = re.compile(r"^(\d{12})(\d{8})(\d{6})$")


def format_case_number(tenant: str, on: dt.date, seq: int, max_length: int = CASE_NUMBER_MAX_DEFAULT) -> str:
    """`{tenant code right-padded to 12 with 0}{yyyymmdd of acceptance}{6-digit per-tenant yearly sequence}`
    — 26 characters, e.g. 620602001000 20260302 000017 (no separators). The sequence restarts each year
    per tenant, has no gaps and is never reused; the date makes the number readable at a glance."""
    if not 1 <= seq <= CASE_SEQUENCE_MAX:
        raise FailedPrecondition(f"本单位 {on.year} 年办件编号已用尽（每年最多 {CASE_SEQUENCE_MAX} 件）")
    if not tenant.isdigit() or len(tenant) > 12:
        raise FailedPrecondition(f"单位代码不能用于办件编号：{tenant}")
    number = f"{tenant.ljust(12, '0')}{on:%Y%m%d}{seq:06d}"
    if len(number) > max_length:
        raise FailedPrecondition(f"办件编号长度 {len(number)} 超过本省规定的最大长度 {max_length}")
    return number


def parse_case_number(number: str) -> tuple[str, dt.date, int] | None:
    m = CASE_NUMBER_RE.match(number or "")
    if not m:
        return None
    try:
        day = dt.date(int(m[2][:4]), int(m[2][4:6]), int(m[2][6:]))
    except ValueError:
        return None
    return m[1], day, int(m[3])


def check_case_number(number: str, max_length: int = CASE_NUMBER_MAX_DEFAULT) -> str:
    n = (number or "").strip()
    if not n:
        raise InvalidArgument("case_number", "请输入办件编号")
    if len(n) > max_length or not re.fullmatch(r"[0-9A-Za-z\-]+", n):
        raise InvalidArgument("case_number", "办件编号格式不正确")
    return n


# ---------------------------------------------------------------------------------------------
# Persistence shape (a JSON document per application; pure conversion)
# ---------------------------------------------------------------------------------------------

def _dt(value: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def to_doc(a: Application) -> dict[str, Any]:
    return {
        "item": a.item.to_dict(), "applicant": a.applicant.to_dict(), "created_by": a.created_by,
        "handling_unit_name": a.handling_unit_name, "accepted_at": iso(a.accepted_at), "accepted_by": a.accepted_by,
        "deemed": a.deemed, "immediate": a.immediate, "form": a.form,
        "materials": [vars(s) for s in a.materials.values()],
        "corrections": [{"number": r.number, "requested_at": r.requested_at, "requested_on": iso(r.requested_on),
                         "requested_by": r.requested_by, "items": [vars(i) for i in r.items],
                         "revisions": r.revisions, "closed_on": iso(r.closed_on)} for r in a.corrections],
        "promises": [{"material_code": p.material_code, "promised_by": iso(p.promised_by), "limit": iso(p.limit),
                      "closed_at": p.closed_at} for p in a.promises],
        "history": [vars(h) for h in a.history], "picked_up_at": iso(a.picked_up_at), "pickup": a.pickup,
        "rejection": a.rejection, "termination": a.termination,
    }


def from_doc(*, id: str, tenant: str, origin_tenant: str, idempotency_key: str, scenario_code: str,  # noqa: A002
             channel: int, status: str, case_number: str | None, received_at: dt.datetime, received_on: dt.date,
             decision_due: dt.date | None, accepted_on: dt.date | None, proxy_tenant: str | None,
             proxy_request_id: str | None, doc: Mapping[str, Any]) -> Application:
    return Application(
        id=id, tenant=tenant, origin_tenant=origin_tenant, idempotency_key=idempotency_key,
        item=ItemSnapshot.from_dict(doc["item"]), scenario_code=scenario_code, channel=channel,
        applicant=Applicant.from_dict(doc.get("applicant")),
        materials={m["code"]: MaterialState(**m) for m in doc.get("materials", [])},
        status=Status(status), received_at=received_at, received_on=received_on, created_by=doc.get("created_by", ""),
        handling_unit_name=doc.get("handling_unit_name", ""), decision_due=decision_due,
        case_number=case_number or "", accepted_at=_dt(doc.get("accepted_at", "")), accepted_on=accepted_on,
        accepted_by=doc.get("accepted_by", ""), deemed=bool(doc.get("deemed")), immediate=bool(doc.get("immediate")),
        corrections=[CorrectionRound(number=r["number"], requested_at=r["requested_at"],
                                     requested_on=dt.date.fromisoformat(r["requested_on"]),
                                     requested_by=r.get("requested_by", ""),
                                     items=[CorrectionItem(**i) for i in r["items"]], revisions=dict(r["revisions"]),
                                     closed_on=_d(r.get("closed_on"))) for r in doc.get("corrections", [])],
        promises=[Promise(p["material_code"], dt.date.fromisoformat(p["promised_by"]),
                          dt.date.fromisoformat(p["limit"]), p.get("closed_at", "")) for p in doc.get("promises", [])],
        proxy_tenant=proxy_tenant or "", proxy_request_id=proxy_request_id or "", form=dict(doc.get("form", {})),
        history=[HistoryEntry(**h) for h in doc.get("history", [])], picked_up_at=_dt(doc.get("picked_up_at", "")),
        pickup=dict(doc.get("pickup", {})), rejection=dict(doc.get("rejection", {})),
        termination=dict(doc.get("termination", {})),
    )
