"""Agency rules (帮办代办), plain Python — no I/O.

A village point (村/社区便民服务代办点) records a proxy request for a resident with the resident's
authorisation (委托书); anyone may book door-to-door service, and special groups (老年人、残疾人、
优抚对象、低保户) and key projects get it free; an agent (代办员) is assigned, visits are scheduled and recorded, the
application is submitted upward to the unit that handles the item, and the originals travel
village → township → county one hop at a time, each hop signed by the giver and confirmed by the
receiver. The county gives key projects (重大投资、重点工程) full-process free agency with a named
agent. Everything is free of charge (免费代办).

The resident is told of each step in Chinese (`progress_text`); the status only moves forward, so
events arriving out of order never undo what a later event said (`advance`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.clock import CHINA_TZ
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.idnumbers import check_resident_id, check_uscc
from shared.tenancy import DivisionCode, UnitKind

MAX_NAME = 50
MAX_TEXT = 500
MAX_KEY = 128
MAX_ITEMS = 100
MAX_COPIES = 1000
MAX_FORM_FIELDS = 100


class SpecialGroup(enum.StrEnum):
    ELDERLY = "elderly"      # 老年人
    DISABLED = "disabled"    # 残疾人
    YOUFU = "youfu"          # 优抚对象
    DIBAO = "dibao"          # 低保户
    NONE = "none"

    @property
    def label(self) -> str:
        return {"elderly": "老年人", "disabled": "残疾人", "youfu": "优抚对象", "dibao": "低保户",
                "none": "非特殊群体"}[self.value]


class Status(enum.StrEnum):
    REQUESTED = "requested"          # 已登记
    ASSIGNED = "assigned"            # 已指派代办员
    SUBMITTED = "submitted"          # 已提交受理单位
    CORRECTION = "correction"        # 需要补正
    ACCEPTED = "accepted"            # 已受理
    REJECTED = "rejected"            # 不予受理
    TERMINATED = "terminated"        # 终止办理
    RESULT_READY = "result_ready"    # 结果可领取
    DELIVERED = "delivered"          # 结果已送达

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.REQUESTED: "已登记", Status.ASSIGNED: "已指派代办员", Status.SUBMITTED: "已提交受理单位",
    Status.CORRECTION: "需要补正", Status.ACCEPTED: "已受理", Status.REJECTED: "不予受理",
    Status.TERMINATED: "终止办理", Status.RESULT_READY: "结果可领取", Status.DELIVERED: "结果已送达",
}
TERMINAL = frozenset({Status.REJECTED, Status.TERMINATED, Status.DELIVERED})

# How far a case has come. A step moves the status forward to a later phase; within one phase
# (submitted ⇄ correction) the step that happened later wins. Nothing ever moves back.
PHASE = {Status.REQUESTED: 0, Status.ASSIGNED: 1, Status.SUBMITTED: 2, Status.CORRECTION: 2,
         Status.ACCEPTED: 3, Status.REJECTED: 3, Status.TERMINATED: 4, Status.RESULT_READY: 5,
         Status.DELIVERED: 6}

# The steps intake reports for a proxy application (ProxyApplicationProgressed.step).
STEP_STATUS = {
    "submitted": Status.SUBMITTED,
    "correction_requested": Status.CORRECTION,
    "materials_supplied": Status.SUBMITTED,
    "accepted": Status.ACCEPTED,
    "rejected": Status.REJECTED,
    "terminated": Status.TERMINATED,
    "result_ready": Status.RESULT_READY,
    "picked_up": Status.DELIVERED,
}
# steps that can happen more than once for one application (each occurrence gets its own note)
REPEATABLE_STEPS = frozenset({"correction_requested", "materials_supplied"})


def check_text(value: str, field: str, label: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str:
    """A free-text field a person fills in: trimmed, present when `required`, not longer than `max_len`."""
    v = (value or "").strip()
    if required and not v:
        raise InvalidArgument(field, f"请填写{label}")
    if len(v) > max_len:
        raise InvalidArgument(field, f"{label}过长（最多 {max_len} 个字）")
    return v


def check_form(form: Mapping[str, str]) -> dict[str, str]:
    """The application form the agent fills in for the resident, as intake will take it."""
    if len(form) > MAX_FORM_FIELDS:
        raise InvalidArgument("form", f"表单字段过多（最多 {MAX_FORM_FIELDS} 项）")
    for k, v in form.items():
        if not k or len(k) > 64:
            raise InvalidArgument("form", f"表单字段名不正确：{k!r}")
        if len(v) > 2000:
            raise InvalidArgument(f"form.{k}", "表单内容过长（最多 2000 个字）")
    return dict(form)


# --- the resident ---------------------------------------------------------------------------------
_PHONE_RE = re.compile(r"^[0-9+\-() ]{7,20}$")


NATURAL_PERSON = "natural_person"
LEGAL_PERSON = "legal_person"
RESIDENT_KINDS = {NATURAL_PERSON: "群众（自然人）", LEGAL_PERSON: "企业（法人）"}


@dataclass(frozen=True)
class Resident:
    """Who asks for help: a resident (居民身份证) or an enterprise (统一社会信用代码). Seed 004: “为企业和群众
    提供免费的全过程代理帮办服务”; seed 003 §19: “对复杂企业开办实行全程帮办代办”."""

    name: str
    id_number: str
    phone: str = ""
    address: str = ""
    kind: str = NATURAL_PERSON


def check_resident(r: Resident, today: dt.date) -> Resident:
    kind = (r.kind or "").strip() or NATURAL_PERSON
    if kind not in RESIDENT_KINDS:
        raise InvalidArgument("resident.kind", "委托人类型应为 natural_person（群众）或 legal_person（企业）")
    name = (r.name or "").strip()
    if not name:
        raise InvalidArgument("resident.name", "请填写委托人（居民）姓名" if kind == NATURAL_PERSON
                              else "请填写委托企业名称")
    if len(name) > MAX_NAME:
        raise InvalidArgument("resident.name", f"名称过长（最多 {MAX_NAME} 个字）")
    id_number = (check_resident_id(r.id_number, "resident.id_number", today) if kind == NATURAL_PERSON
                 else check_uscc(r.id_number, "resident.id_number"))
    phone = (r.phone or "").strip()
    if phone and not _PHONE_RE.match(phone):
        raise InvalidArgument("resident.phone", "联系电话格式不正确")
    address = (r.address or "").strip()
    if len(address) > 200:
        raise InvalidArgument("resident.address", "住址过长（最多 200 个字）")
    return Resident(name=name, id_number=id_number, phone=phone, address=address, kind=kind)


def check_group_of(resident: Resident, group: SpecialGroup) -> None:
    """The special groups (老年人、残疾人、优抚对象、低保户) are people; an enterprise belongs to none."""
    if resident.kind == LEGAL_PERSON and group != SpecialGroup.NONE:
        raise InvalidArgument("special_group", "企业不属于老年人、残疾人、优抚对象、低保户等特殊群体，请选择 none")


def parse_special_group(value: str) -> SpecialGroup:
    v = (value or "").strip().lower() or SpecialGroup.NONE.value
    try:
        return SpecialGroup(v)
    except ValueError:
        raise InvalidArgument("special_group", "特殊群体类别应为 elderly（老年人）、disabled（残疾人）、"
                                               "youfu（优抚对象）、dibao（低保户）或 none（无）") from None


def door_to_door_free(group: SpecialGroup, door_to_door: bool, key_project: bool) -> bool:
    """Anyone may book door-to-door service (上门服务): seeds 001 and 003 list it among the general service
    measures (“开展上门服务、预约服务、代办服务等”; “积极推行预约服务、延时服务、联动服务、远程服务、上门服务”).
    Only its being free is reserved: seed 001 — “对申请办理行政审批及公共服务事项的身障人、老年人、优抚人员、
    低保人员等特殊人群提供便捷、优质、高效、无偿的上门代办服务”, and key projects get “代办人员全程免费代办”.
    True when the booked visit is free of charge for this request."""
    return door_to_door and (group != SpecialGroup.NONE or key_project)


def door_to_door_terms(group: SpecialGroup, door_to_door: bool, key_project: bool) -> str:
    """What the resident is told about a booked visit's cost (Chinese)."""
    if not door_to_door:
        return ""
    if key_project:
        return "重点项目全程免费代办，上门服务免费"
    if group != SpecialGroup.NONE:
        return f"{group.label}享受免费上门代办服务"
    return ("上门服务已预约；免费上门仅面向老年人、残疾人、优抚对象、低保户和重点项目，"
            "其他群众的上门服务是否收费按本地规定事先告知")


# --- the authorisation (委托书) ----------------------------------------------------------------------
@dataclass(frozen=True)
class Authorisation:
    signed_on: dt.date
    scope: str
    document_ref: str
    valid_until: dt.date | None = None

    def check_still_valid(self, today: dt.date) -> None:
        if self.valid_until is not None and self.valid_until < today:
            raise FailedPrecondition(f"委托书已于 {self.valid_until.isoformat()} 到期，请居民重新签署委托书",
                                     field="authorisation.valid_until")


def parse_date(value: str, field: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument(field, f"{label}格式应为 YYYY-MM-DD") from None


def check_authorisation(signed_on: str, scope: str, document_ref: str, valid_until: str,
                        today: dt.date) -> Authorisation:
    """The resident's signed authorisation: required, signed not after today, with its scope and the
    reference of the signed document; if it has an end date, not already expired."""
    if not any(s.strip() for s in (signed_on or "", scope or "", document_ref or "", valid_until or "")):
        raise InvalidArgument("authorisation", "缺少居民签署的委托书：代办须经本人书面委托")
    if not (signed_on or "").strip():
        raise InvalidArgument("authorisation.signed_on", "请填写委托书签署日期")
    signed = parse_date(signed_on, "authorisation.signed_on", "委托书签署日期")
    if signed > today:
        raise InvalidArgument("authorisation.signed_on", "委托书签署日期不能晚于今天")
    scope = (scope or "").strip()
    if not scope:
        raise InvalidArgument("authorisation.scope", "请填写委托事项范围")
    if len(scope) > MAX_TEXT:
        raise InvalidArgument("authorisation.scope", f"委托事项范围过长（最多 {MAX_TEXT} 个字）")
    ref = (document_ref or "").strip()
    if not ref:
        raise InvalidArgument("authorisation.document_ref", "请登记委托书（扫描件编号或存档号）")
    if len(ref) > 200:
        raise InvalidArgument("authorisation.document_ref", "委托书编号过长")
    until = None
    if (valid_until or "").strip():
        until = parse_date(valid_until, "authorisation.valid_until", "委托书有效期")
        if until < signed:
            raise InvalidArgument("authorisation.valid_until", "委托书有效期不能早于签署日期")
        if until < today:
            raise InvalidArgument("authorisation.valid_until", "委托书已过有效期，请居民重新签署")
    return Authorisation(signed_on=signed, scope=scope, document_ref=ref, valid_until=until)


# --- who may take in a proxy request ---------------------------------------------------------------
# 帮办代办 at every level: seed 001 — “不宜下放的，由乡镇（街道）民生服务中心或村（社区）免费代办”; seed 003 §19 —
# “进一步健全市县两级帮办代办服务队伍 … 对复杂企业开办实行全程帮办代办”; seed 004 — “为企业和群众提供免费的全过程
# 代理帮办服务”. A village point, a township centre and the county's 帮办代办 team all take requests, each
# forwarding to the level that decides (`check_forwarding`); key projects stay with the county.
PROXY_LEVELS = (UnitKind.VILLAGE, UnitKind.TOWNSHIP, UnitKind.COUNTY)


def check_proxy_point(tenant: DivisionCode, key_project: bool, project_name: str) -> str:
    """Villages, townships and the county take proxy requests; the county alone key projects' full-process
    agency. Returns the project name."""
    name = (project_name or "").strip()
    if key_project:
        if tenant.kind != UnitKind.COUNTY:
            raise InvalidArgument("key_project", "重大投资、重点工程项目的全程代办由县级政务服务中心承担")
        if not name:
            raise InvalidArgument("project_name", "请填写重点项目名称")
        if len(name) > 200:
            raise InvalidArgument("project_name", "项目名称过长（最多 200 个字）")
        return name
    if tenant.kind not in PROXY_LEVELS:
        raise PermissionDenied("代办申请由村（社区）代办点、乡镇（街道）便民服务中心或县级帮办代办队伍登记")
    if name:
        raise InvalidArgument("project_name", "只有重点项目需要填写项目名称")
    return ""


def check_forwarding(tenant: DivisionCode, handling: DivisionCode, listed_for_proxy: bool) -> None:
    """Where a proxy request goes: to the unit that decides the item — the proxy unit itself (its own window)
    or a unit above it. An item the unit neither handles nor has listed for 代办 is outside its list."""
    if handling == tenant:
        return
    if not listed_for_proxy:
        raise InvalidArgument("item_id", "该事项不在本单位的代办清单中（清单之外不代办）")
    if not handling.is_ancestor_of(tenant):
        raise InvalidArgument("item_id", f"该事项的办理单位（{handling}）不是本单位的上级单位，不能转报")


def check_idempotency_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise InvalidArgument("idempotency_key", "请提供幂等键（同一代办申请重复提交时使用同一个键）")
    if len(key) > MAX_KEY:
        raise InvalidArgument("idempotency_key", f"幂等键过长（最多 {MAX_KEY} 个字符）")
    return key


def check_scenario(code: str, scenarios: Mapping[str, Mapping[str, str]]) -> str:
    """The scenario (办理情形) must be one of the item's."""
    code = (code or "").strip()
    if not scenarios:
        if code:
            raise InvalidArgument("scenario_code", f"该事项没有办理情形：{code}")
        return ""
    if not code:
        raise InvalidArgument("scenario_code", "请选择办理情形")
    if code not in scenarios:
        raise InvalidArgument("scenario_code", f"该事项没有办理情形：{code}")
    return code


@dataclass(frozen=True)
class Material:
    """One material as the village collected it (MaterialSubmission)."""

    code: str
    supplied: bool = True
    note: str = ""
    supplied_at: str = ""
    supplied_via: str = ""


def check_materials(materials: Sequence[Material], known: Mapping[str, str], field: str) -> list[Material]:
    """Material codes must belong to the chosen scenario (when the scenario lists any)."""
    out: list[Material] = []
    seen: set[str] = set()
    for i, m in enumerate(materials):
        code = (m.code or "").strip()
        if not code:
            raise InvalidArgument(f"{field}[{i}].code", "请填写材料编码")
        if known and code not in known:
            raise InvalidArgument(f"{field}[{i}].code", f"该办理情形没有材料：{code}")
        if code in seen:
            raise InvalidArgument(f"{field}[{i}].code", f"材料重复：{code}")
        if len(m.note or "") > MAX_TEXT:
            raise InvalidArgument(f"{field}[{i}].note", f"备注过长（最多 {MAX_TEXT} 个字）")
        seen.add(code)
        out.append(Material(code=code, supplied=m.supplied, note=(m.note or "").strip(), supplied_at=m.supplied_at,
                            supplied_via=m.supplied_via))
    return out


def merge_materials(held: Iterable[Material], new: Iterable[Material]) -> list[Material]:
    """What the village holds after collecting `new`: by code, the newer entry wins; order kept."""
    out: dict[str, Material] = {m.code: m for m in held}
    for m in new:
        out[m.code] = m
    return list(out.values())


# --- visits ----------------------------------------------------------------------------------------
def parse_datetime(value: str, field: str) -> dt.datetime:
    """ISO 8601; a time without an offset is China time."""
    try:
        t = dt.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument(field, "时间格式应为 ISO 8601，例如 2026-05-01T09:30") from None
    return t if t.tzinfo else t.replace(tzinfo=CHINA_TZ)


def check_visit_time(scheduled_for: str, now: dt.datetime) -> dt.datetime:
    if not (scheduled_for or "").strip():
        raise InvalidArgument("scheduled_for", "请填写预约上门时间")
    t = parse_datetime(scheduled_for, "scheduled_for")
    if t < now:
        raise InvalidArgument("scheduled_for", "预约上门时间不能早于当前时间")
    if t > now + dt.timedelta(days=366):
        raise InvalidArgument("scheduled_for", "预约上门时间不能晚于一年之后")
    return t


def check_may_visit(status: Status, door_to_door: bool, agent: str) -> None:
    if not door_to_door:
        raise FailedPrecondition("该代办申请未预约上门服务", field="request_id")
    if status in TERMINAL:
        raise FailedPrecondition(f"该代办申请已{status.label}，不能再预约上门")
    if not agent:
        raise FailedPrecondition("请先指派代办员，再预约上门服务")


# --- custody of originals --------------------------------------------------------------------------
class HandOverStatus(enum.StrEnum):
    PENDING = "pending"              # 待接收：已移交，接收单位尚未确认
    RECEIVED = "received"            # 已接收（签收）


@dataclass(frozen=True)
class HandOverItem:
    description: str
    copies: int = 1
    material_code: str = ""


def check_handover_items(items: Sequence[HandOverItem]) -> list[HandOverItem]:
    if not items:
        raise InvalidArgument("items", "请列明移交的原件")
    if len(items) > MAX_ITEMS:
        raise InvalidArgument("items", f"一次最多移交 {MAX_ITEMS} 项原件")
    out = []
    for i, it in enumerate(items):
        desc = (it.description or "").strip()
        if not desc:
            raise InvalidArgument(f"items[{i}].description", "请填写原件名称")
        if len(desc) > 200:
            raise InvalidArgument(f"items[{i}].description", "原件名称过长（最多 200 个字）")
        if not 1 <= it.copies <= MAX_COPIES:
            raise InvalidArgument(f"items[{i}].copies", f"份数应在 1 到 {MAX_COPIES} 之间")
        code = (it.material_code or "").strip()
        if len(code) > 64:
            raise InvalidArgument(f"items[{i}].material_code", "材料编码过长")
        out.append(HandOverItem(description=desc, copies=it.copies, material_code=code))
    return out


def check_handover_path(giver: DivisionCode, to: DivisionCode, handling: DivisionCode) -> None:
    """Originals go up one level at a time from the proxy point to the unit that handles the case:
    village → its township → its county. The receiver must be the giver's parent, on the way to
    the handling unit; a unit that is the handling unit itself has nothing more to hand over."""
    if giver == handling:
        raise FailedPrecondition("本单位即为办理单位，原件无需继续移交", field="to_tenant")
    if not handling.is_ancestor_of(giver):
        raise InvalidArgument("to_tenant", f"本单位不在该办件的移交路径上（办理单位：{handling}）")
    parent = giver.parent
    if to == giver:
        raise InvalidArgument("to_tenant", "不能移交给本单位")
    if to != parent:
        if to.is_ancestor_of(giver) and handling.contains(to):
            raise InvalidArgument("to_tenant", f"原件须逐级移交，请先移交给上一级单位：{parent}")
        raise InvalidArgument("to_tenant", f"只能移交给本单位的上一级单位：{parent}")


# --- progress back to the resident -----------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    status: Status
    status_at: dt.datetime
    application_id: str = ""
    handling_tenant: str = ""
    case_number: str = ""


def advance(current: Progress, step: str, at: dt.datetime, *, application_id: str = "", handling_tenant: str = "",
            case_number: str = "") -> Progress:
    """Apply one reported step. Facts (application id, handling unit, case number) are kept once known;
    the status moves to a later phase, or within a phase to the later step; never back."""
    target = STEP_STATUS.get(step)
    status, status_at = current.status, current.status_at
    if target is not None:
        later_phase = PHASE[target] > PHASE[current.status]
        same_phase_later = (PHASE[target] == PHASE[current.status] and current.status not in TERMINAL
                            and at >= current.status_at)
        if later_phase or same_phase_later:
            status, status_at = target, at
    return Progress(status=status, status_at=status_at,
                    application_id=current.application_id or application_id,
                    handling_tenant=handling_tenant or current.handling_tenant,
                    case_number=current.case_number or case_number)


def issued_id(value: str) -> str | None:
    """A proxy request id as the agency issues them (a UUID, in its one form), or None: an id that is not
    one was never issued here."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def note_key(step: str, at: dt.datetime) -> str:
    """One note per step of an application; repeatable steps get one per occurrence."""
    return f"{step}@{at.isoformat()}" if step in REPEATABLE_STEPS else step


def china_time(t: dt.datetime) -> str:
    return t.astimezone(CHINA_TZ).strftime("%Y年%m月%d日 %H:%M")


def progress_text(step: str, *, item_name: str, case_number: str = "", detail: str = "",
                  materials: Sequence[str] = (), handling_unit: str = "", agent_name: str = "",
                  query_code: str = "") -> str:
    """What the village point tells the resident about one step (Chinese, a sentence a person reads)."""
    item = f"「{item_name}」" if item_name else "您委托代办的事项"
    listed = "、".join(materials)
    unit = handling_unit or "受理单位"
    if step == "submitted":
        who = f"代办员{agent_name}" if agent_name else "代办员"
        return f"{who}已将您的{item}申请及在村里收取的材料提交至{unit}，您无需再次提交材料，请等待受理。"
    if step == "accepted":
        code = f"，查询码 {query_code}" if query_code else ""
        how = "办件编号和查询码（或本人完整身份证号码）" if query_code else "办件编号和本人完整身份证号码"
        number = f"，办件编号 {case_number}{code}，可凭{how}查询进度" if case_number else ""
        later = f"其中{listed}为容缺受理，须按承诺期限补齐，代办员会提醒您。" if listed else ""
        return f"您的{item}申请已受理{number}。{later}"
    if step == "correction_requested":
        what = f"：{listed}" if listed else ""
        extra = f"（{detail}）" if detail else ""
        return f"您的{item}申请需要补正材料{what}{extra}。代办员会与您联系补齐，您无需前往窗口。"
    if step == "materials_supplied":
        return f"您的{item}申请的补正材料已提交，等待窗口重新审查。"
    if step == "rejected":
        reason = f"，理由：{detail}" if detail else ""
        return (f"您的{item}申请不予受理{reason}。如对决定不服，可依法申请行政复议或者提起行政诉讼；"
                "代办员可协助您了解救济途径。")
    if step == "terminated":
        reason = f"：{detail}" if detail else ""
        missing = f"未按期补齐的材料：{listed}。" if listed else ""
        return f"您的{item}申请已终止办理{reason}。{missing}如需继续办理，代办员可协助您重新申请。"
    if step == "suspended":
        return f"您的{item}申请{detail or '因特别程序暂停计时'}，所需时间不计入办理时限。"
    if step == "resumed":
        return f"您的{item}申请已{detail or '恢复计时'}。"
    if step == "decided":
        return f"您的{item}申请已作出审批决定：{detail or '请向代办员了解'}。办结后代办员会通知您领取结果。"
    if step == "result_ready":
        number = f"（办件编号 {case_number}）" if case_number else ""
        return f"您的{item}办理结果已可领取{number}，代办员将为您取回并送达。"
    if step == "picked_up":
        how = f"（{detail}）" if detail else ""
        return f"您的{item}办理结果已送达{how}，本次代办全程免费。感谢您的信任。"
    return f"您的{item}申请有新进展：{detail or step}。"


def requested_text(*, item_name: str, handling_unit: str, door_to_door: bool, key_project: bool, project_name: str,
                   agent_name: str, group: SpecialGroup = SpecialGroup.NONE) -> str:
    if key_project:
        return (f"已为重点项目「{project_name}」登记「{item_name}」全程代办，由代办员{agent_name}负责，"
                "从申请到取得结果全程免费代办。")
    visit = f"；代办员将上门为您服务（{door_to_door_terms(group, door_to_door, False)}）" if door_to_door else ""
    return f"代办点已登记您委托代办的「{item_name}」，将提交至{handling_unit or '受理单位'}办理。代办全程免费{visit}。"


def assigned_text(agent_name: str) -> str:
    return f"已为您指派代办员{agent_name}，全程免费为您代办，有事可直接与代办员联系。"


def visit_scheduled_text(when: dt.datetime, address: str, purpose: str) -> str:
    why = f"（{purpose}）" if purpose else ""
    return f"代办员将于{china_time(when)}上门服务{why}，地址：{address}。"


def visit_done_text(outcome: str, material_names: Sequence[str]) -> str:
    got = f"；收取材料：{'、'.join(material_names)}" if material_names else ""
    return f"代办员已上门服务：{outcome}{got}。材料由代办点随申请一并提交，您无需再跑窗口。"
