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

About 590 lines, on purpose: the application is one aggregate whose methods are the state machine of a
case at the window (receive → correct ⇄ supply → accept / reject / deem accepted → decided → completed →
picked up), and each transition checks the others' state; it reads best whole. What is not the
application sits beside it: the applicant and prefill (`applicants.py`), the item version applied for
(`items.py`), case numbers (`casenumbers.py`) and the row's JSON document (`serialization.py`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.intake.applicants import MAX_NAME, Applicant
from services.intake.items import ItemSnapshot, ScenarioSpec, check_scenario
from shared.calendar import R_HOLIDAY, R_MAKEUP, R_PAUSED, R_WEEKEND, DeadlineResult, Pause, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument
from shared.idnumbers import check_resident_id

DECISION_WORKING_DAYS = 5          # 收件后 5 个工作日内作出受理决定，逾期视为受理
MAX_TEXT = 1000
MAX_NOTE = 500
MAX_KEY = 128
MAX_FORM_ENTRIES = 100
SYSTEM_ACTOR = "system"
REJECTION_PENDING = "pending"      # 不予受理意见待确认
REJECTION_CONFIRMED = "confirmed"  # 经窗口首席代表或单位负责人确认


def _instant(stamp: str | dt.datetime) -> dt.datetime:
    """A history time as an instant (a time written without an offset is Beijing time)."""
    t = dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


class Status(enum.StrEnum):
    RECEIVED = "received"          # 已收件，待受理决定
    CORRECTION = "correction"      # 补正中（时钟不计）
    ACCEPTED = "accepted"          # 已受理
    REJECTED = "rejected"          # 不予受理
    TERMINATED = "terminated"      # 容缺未按期补齐，终止办理
    COMPLETED = "completed"        # 已办结（审批服务报告办结，含即办件），结果可领取
    PICKED_UP = "picked_up"        # 已出件


# the back office's facts (decision, suspension, resumption) belong to a case from its acceptance on, whatever
# the case became before they arrived: a decision that arrives after the completion is still the decision
AFTER_ACCEPTANCE = frozenset({Status.ACCEPTED, Status.COMPLETED, Status.PICKED_UP, Status.TERMINATED})

STATUS_LABELS = {
    Status.RECEIVED: "已收件，待受理", Status.CORRECTION: "补正材料中", Status.ACCEPTED: "已受理，办理中",
    Status.REJECTED: "不予受理", Status.TERMINATED: "已终止办理", Status.COMPLETED: "已办结，结果可领取",
    Status.PICKED_UP: "已出件",
}

# Channel codes (one application model, DESIGN §6): 1 window, 2 PC, 3 mobile, 4 post.
CHANNELS = {1: "window", 2: "pc", 3: "mobile", 4: "post"}
CHANNEL_LABELS = {1: "窗口", 2: "网上（电脑端）", 3: "网上（移动端）", 4: "邮寄"}
PICKUP_CHANNELS = {"window": "窗口领取", "post": "邮寄送达", "village": "代办点转交"}

# History entries (`what`) and the step names a person reads in the public progress lookup.
PUBLIC_STEPS = {
    "received": "已收件", "correction_requested": "需补正材料", "materials_supplied": "已补交材料",
    "accepted": "已受理", "deemed_accepted": "已受理（逾期未作决定，视为受理）", "rejected": "不予受理",
    "terminated": "终止办理", "suspended": "审批暂停计时（特别程序）", "resumed": "审批恢复计时",
    "decided": "已作出审批决定", "completed": "已办结，结果可领取", "picked_up": "已出件",
    "extended": "审批延长办理期限",
}


SUSPENSION_REASON = "特别程序"


def explain_deadline(d: DeadlineResult) -> str:
    """A deadline's working-day count in one Chinese sentence (the days not counted, by why)."""
    if d.working_days == 0:
        return "即办件：受理当日办结"
    if d.due is None and d.paused_open:
        return (f"受理次日起计 {d.working_days} 个工作日；审批暂停计时中（{SUSPENSION_REASON}），"
                "恢复计时后重新推算办结日期")
    skipped = {"周末": 0, "法定节假日": 0, "暂停计时": 0}
    makeup = 0
    for day in d.trace:
        if day.reason == R_WEEKEND and not day.counted:
            skipped["周末"] += 1
        elif day.reason.startswith(R_HOLIDAY) and not day.counted:
            skipped["法定节假日"] += 1
        elif day.reason.startswith(R_PAUSED):
            skipped["暂停计时"] += 1
        elif day.reason.startswith(R_MAKEUP):
            makeup += 1
    parts = [f"{what} {n} 天" for what, n in skipped.items() if n]
    text = f"受理次日起计 {d.working_days} 个工作日"
    if parts:
        text += "，" + "、".join(parts) + "不计"
    if makeup:
        text += f"，调休上班 {makeup} 天计入"
    if d.provisional:
        text += f"（{'、'.join(str(y) for y in d.unpublished_years)} 年工作日历尚未发布，暂按周一至周五推算）"
    return text


def iso(value: dt.date | dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def parse_date(value: str, field_name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidArgument(field_name, f"日期格式不正确：{value!r}（应为 YYYY-MM-DD）") from None


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
    """A 容缺 promise: a waivable material accepted missing, to be supplied by a date.

    `promised_by` is a calendar date the applicant chose and signed, not a number of working days: the seed
    asks for "容缺受理实施办法，明确容缺受理条件、补齐要求" (seed 003, (十五) 实行100%容缺受理) and the promise is
    made per material at acceptance ("承诺补交日期" on the acceptance notice: "本件为容缺受理，请于下表所列日期
    前补交容缺材料；逾期未补交的，将终止办理" — notices.WAIVED_CLAUSE). So a calendar published afterwards does
    not move it (issue 23, item 4: only dates the platform counts in working days are re-projected, such as
    the decision date, `reproject_decision_due`); the working days bound only which date may be promised
    (`limit`, counted when the promise was made)."""

    material_code: str
    promised_by: dt.date
    limit: dt.date                 # the latest date allowed when it was made
    closed_at: str = ""

    @property
    def open(self) -> bool:
        return not self.closed_at

    def last_day(self, calendar: WorkingCalendar | None) -> dt.date:
        """The last day the material may be handed in: the signed date, or — when that day is a statutory
        holiday or a weekend off — the first working day after it (民法典 第二百零三条: 期间的最后一日是法定
        休假日的，以法定休假日结束的次日为期间的最后一日), because the window is shut on the signed day. The date
        itself is not rewritten; the notice keeps what the applicant signed."""
        day = self.promised_by
        if calendar is None:
            return day
        for _ in range(40):        # the longest run of days off (春节 with its weekends) is well under 40
            if calendar.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        return day


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
    query_code: str = ""           # 查询码: with the case number, the public progress lookup (querycodes.py)
    accepted_at: dt.datetime | None = None
    accepted_on: dt.date | None = None
    accepted_by: str = ""
    accept_key: str = ""           # the idempotency key the acceptance was made with (a retry gets it back)
    deemed: bool = False
    immediate: bool = False
    corrections: list[CorrectionRound] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    proxy_tenant: str = ""
    proxy_request_id: str = ""
    # 代收 (seed 000 §10, seed 003 §4): the lower window that took it in on the deciding unit's behalf; the
    # application and its case are the deciding unit's (`tenant`), the collecting window follows and hands out
    collect_tenant: str = ""
    form: dict[str, str] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    picked_up_at: dt.datetime | None = None
    pickup: dict[str, str] = field(default_factory=dict)
    rejection: dict[str, str] = field(default_factory=dict)
    termination: dict[str, str] = field(default_factory=dict)
    # recorded at the window where the item asks (seed 001 §7: “对所有政府投资项目和重点建设项目，有上下限标准的，
    # 均按照‘收费从低’的原则，一律按下限征收”); not the agency's key project (重点项目全程代办), a different fact
    # the back office's own due dates (approval's clock_resumed, deadline_extended, due_date_reprojected): the
    # latest by the event's own time, whatever order they arrive in — {"at", "promised_due", "statutory_due",
    # "cause"}; and each extension granted (延期), by its time — {"at", "days", "reason", "statutory_due"}
    back_office: dict[str, str] = field(default_factory=dict)
    extensions: list[dict] = field(default_factory=list)
    government_invested: bool = False     # 政府投资项目
    key_construction: bool = False        # 重点建设项目

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

    def _log_fact(self, at: dt.datetime, what: str, by: str, detail: str) -> bool:
        """A fact the back office reports (approval's events, which may arrive in any order: issue 20 item 2):
        put in the history where its own time puts it, once (the same step at the same time is not repeated).
        False when it is there already."""
        stamp = at.isoformat()
        if any(h.what == what and h.at == stamp for h in self.history):
            return False
        entry = HistoryEntry(at=stamp, what=what, by=by, detail=detail, on=iso(at.date()))
        index = len(self.history)
        while index > 0 and _instant(self.history[index - 1].at) > _instant(at):
            index -= 1
        self.history.insert(index, entry)
        return True

    def _require(self, allowed: Iterable[Status], action: str) -> None:
        if self.status not in tuple(allowed):
            raise FailedPrecondition(f"办件当前状态为“{STATUS_LABELS[self.status]}”，不能{action}")

    def _decision_due(self, calendar: WorkingCalendar) -> dt.date | None:
        """Receipt + 5 working days; working days inside closed correction periods do not count."""
        pauses = [Pause(r.requested_on, max(r.closed_on, r.requested_on), "申请人补正材料")
                  for r in self.corrections if r.closed_on is not None]
        due, _ = calendar.due_date(self.received_on, DECISION_WORKING_DAYS, pauses)
        return due

    def reproject_decision_due(self, calendar: WorkingCalendar) -> tuple[dt.date | None, dt.date | None] | None:
        """A calendar year published or corrected (issue 23): the decision date of an application still
        awaiting its acceptance decision (receipt + 5 working days, closed corrections not counted) counted
        again on it. (before, after) when it moved; None when it did not or no decision is awaited."""
        if self.status not in (Status.RECEIVED, Status.CORRECTION):
            return None
        before, after = self.decision_due, self._decision_due(calendar)
        if after == before:
            return None
        self.decision_due = after
        return before, after

    # -- receipt (收件) ---------------------------------------------------------------------------
    @classmethod
    def receive(cls, *, app_id: str, tenant: str, origin_tenant: str, idempotency_key: str, item: ItemSnapshot,
                scenario_code: str, channel: int, applicant: Applicant, materials: Sequence[SubmittedMaterial],
                via: str, by: str, now: dt.datetime, calendar: WorkingCalendar, unit_name: str = "",
                proxy_tenant: str = "", proxy_request_id: str = "", form: Mapping[str, str] | None = None,
                collect_tenant: str = "",
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
                  collect_tenant=collect_tenant,
                  form=dict(form or {}), immediate=False)
        app.decision_due = app._decision_due(calendar)
        where = (f"经代办点 {proxy_tenant} 代办提交" if proxy_tenant
                 else f"由 {collect_tenant} 窗口代收（{CHANNEL_LABELS.get(channel, '窗口')}）" if collect_tenant
                 else f"通过{CHANNEL_LABELS.get(channel, '窗口')}提交")
        app._log(now, "received", by, f"{where}，收到材料 {len(given)} 件")
        return app

    # -- accept (受理), with 容缺 -----------------------------------------------------------------
    def accept(self, *, waived: Sequence[tuple[str, str]], by: str, now: dt.datetime, today: dt.date,
               calendar: WorkingCalendar, next_case_number: Callable[[dt.date], str], query_code: str,
               note: str = "", government_invested: bool = False, key_construction: bool = False,
               key: str = "") -> None:
        """`query_code`: the 查询码 the case is given with its number (drawn by the caller, at random).
        `government_invested` / `key_construction`: the window's answers where the item asks (收费从低).
        `key`: the idempotency key of this acceptance (`accepted_with` recognises a retry)."""
        key = check_key(key)
        self._require((Status.RECEIVED,), "受理")
        if len(note) > MAX_NOTE:
            raise InvalidArgument("note", f"备注过长（最多 {MAX_NOTE} 字）")
        check_project_facts(self.item, government_invested, key_construction)
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
        self._drop_pending_rejection(by, now, "受理")
        self.case_number = next_case_number(accepted_on)
        self.query_code = _required_code(query_code)
        self.accepted_on = accepted_on
        self.accepted_at = self.received_at if late else now
        self.accepted_by = by
        self.accept_key = key
        self.deemed = late
        self.promises = promises
        self.government_invested, self.key_construction = government_invested, key_construction
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
        facts = [name for name, yes in (("政府投资项目", government_invested), ("重点建设项目", key_construction))
                 if yes]
        if facts:
            detail += f"；经窗口确认为{'、'.join(facts)}（有上下限的收费按下限征收）"
        self._log(now, "deemed_accepted" if late else "accepted", by, detail, on=accepted_on)

    def accepted_with(self, key: str) -> bool:
        """True when this application was accepted with the idempotency key `key` (a retry of that acceptance,
        whatever the case has become since)."""
        key = (key or "").strip()
        return bool(key) and self.accept_key == key and self.status != Status.RECEIVED

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
        self._drop_pending_rejection(by, now, "一次性告知补正")
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

    # -- reject (不予受理): the window proposes, the chief representative or the head confirms ----------
    # Seed 003 §20: “制定‘吐槽找茬’和无权否决机制实施办法 … 设立 … 只说‘YES’不说‘NO’提示牌”. A window
    # clerk has no power to say no alone (无权否决): a refusal takes effect only when the window's chief
    # representative or the unit's head — someone other than who proposed it — confirms it; until then the
    # application stays with the window (its status does not change, the 5-day clock keeps running).
    @property
    def rejection_pending(self) -> bool:
        return self.rejection.get("status") == REJECTION_PENDING

    def reject(self, reason: str, legal_basis: str, *, by: str, now: dt.datetime, today: dt.date) -> None:
        """The window proposes 不予受理: recorded for confirmation, nothing changes for the applicant yet."""
        self._require((Status.RECEIVED, Status.CORRECTION), "作出不予受理决定")
        if self._late(today):
            raise FailedPrecondition("收件已超过 5 个工作日未作出决定，依法自收件之日起视为受理，不能再作不予受理决定")
        if self.rejection_pending:
            raise FailedPrecondition(
                f"已有 {self.rejection['proposed_by']} 提出的不予受理意见待窗口首席代表或单位负责人确认",
                field="application_id")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidArgument("reason", "请写明不予受理的理由")
        if len(reason) > MAX_TEXT:
            raise InvalidArgument("reason", f"理由过长（最多 {MAX_TEXT} 字）")
        if len(legal_basis or "") > MAX_TEXT:
            raise InvalidArgument("legal_basis", f"依据过长（最多 {MAX_TEXT} 字）")
        self.rejection = {"status": REJECTION_PENDING, "reason": reason, "legal_basis": (legal_basis or "").strip(),
                          "proposed_by": by, "proposed_at": now.isoformat()}
        self._log(now, "rejection_proposed", by, f"提出不予受理意见（待窗口首席代表或单位负责人确认）：{reason}")

    def confirm_rejection(self, *, confirm: bool, by: str, by_name: str, by_role: str, note: str, now: dt.datetime,
                          today: dt.date) -> bool:
        """The chief representative or the head confirms the window's refusal (True: it takes effect now,
        the notice names who confirmed it) or overrules it (False: the application stays with the window)."""
        if not self.rejection_pending:
            raise FailedPrecondition("该申请没有待确认的不予受理意见", field="application_id")
        self._require((Status.RECEIVED, Status.CORRECTION), "确认不予受理")
        if by == self.rejection["proposed_by"]:
            raise FailedPrecondition("不予受理意见须由提出人以外的窗口首席代表或单位负责人确认", field="application_id")
        note = (note or "").strip()
        if len(note) > MAX_NOTE:
            raise InvalidArgument("note", f"意见过长（最多 {MAX_NOTE} 字）")
        who = f"{by_role}{by_name or by}"
        if not confirm:
            proposal = self.rejection
            self.rejection = {}
            detail = f"{who}未同意不予受理（{proposal['reason']}），申请留在窗口继续办理"
            self._log(now, "rejection_overruled", by, detail + (f"：{note}" if note else ""))
            return False
        if self._late(today):
            raise FailedPrecondition("收件已超过 5 个工作日未作出决定，依法自收件之日起视为受理，不能再作不予受理决定")
        if self.status == Status.CORRECTION:
            self.corrections[-1].closed_on = today
        self.status = Status.REJECTED
        self.rejection.update(status=REJECTION_CONFIRMED, at=now.isoformat(), by=self.rejection["proposed_by"],
                              confirmed_by=by, confirmed_by_name=by_name or by, confirmed_role=by_role,
                              confirmed_at=now.isoformat(), note=note)
        self._log(now, "rejected", by, f"{self.rejection['reason']}（经{who}确认）")
        return True

    def _drop_pending_rejection(self, by: str, now: dt.datetime, instead: str) -> None:
        """The window decided otherwise before the refusal was confirmed: the proposal lapses."""
        if self.rejection_pending:
            self.rejection = {}
            self._log(now, "rejection_withdrawn", by, f"不予受理意见撤回，改为{instead}")

    # -- the sweep: deemed acceptance (视为受理) and 容缺 expiry -------------------------------------
    def deem_accepted(self, *, today: dt.date, now: dt.datetime, next_case_number: Callable[[dt.date], str],
                      query_code: str) -> bool:
        """No decision within 5 working days of receipt: accepted on the day of receipt."""
        if not self._late(today):
            return False
        self._drop_pending_rejection(SYSTEM_ACTOR, now, "依法视为受理（不予受理意见未在受理期限内确认）")
        self.case_number = next_case_number(self.received_on)
        self.query_code = _required_code(query_code)
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

    def expire_promises(self, *, today: dt.date, now: dt.datetime,
                        calendar: WorkingCalendar | None = None) -> list[Promise]:
        """A 容缺 promise not kept by its last day (`Promise.last_day`: the signed date, moved past days off on
        `calendar`) terminates the case. Returns the broken promises."""
        if self.status != Status.ACCEPTED:
            return []
        broken = [p for p in self.open_promises() if p.last_day(calendar) < today]
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
        if self.status not in AFTER_ACCEPTANCE or any(h.what == "decided" for h in self.history):
            return None
        if outcome == "approved":
            detail = "准予许可" + (f"，决定书编号 {document_number}" if document_number else "")
        elif outcome == "denied":
            why = "；".join(r for r in reasons if r)
            detail = ("不予许可" + (f"，决定书编号 {document_number}" if document_number else "")
                      + (f"，理由：{why}" if why else "") + "。如不服，可依法申请行政复议或者提起行政诉讼")
        else:
            raise InvalidArgument("outcome", f"未知的审批结果：{outcome!r}")
        self._log_fact(now, "decided", decider or SYSTEM_ACTOR, detail)
        return detail

    def record_clock(self, *, suspended: bool, detail: str, now: dt.datetime) -> bool:
        """A suspension (特别程序, with its written notice) or a resumption of the back office's clock,
        while the case is in progress; False when there is nothing to record."""
        if self.status not in AFTER_ACCEPTANCE:
            return False
        return self._log_fact(now, "suspended" if suspended else "resumed", SYSTEM_ACTOR, detail)

    def record_due_dates(self, *, at: dt.datetime, promised_due: str, statutory_due: str, cause: str) -> bool:
        """Approval's due dates as of `at` (it holds the binding ledger): kept when newer than what is held, so
        every order of delivery ends with the latest. False when older or the same (nothing to save)."""
        if self.status not in AFTER_ACCEPTANCE or not (promised_due or statutory_due):
            return False
        held = self.back_office.get("at")
        if held and _instant(held) >= _instant(at.isoformat()):
            return False
        self.back_office = {"at": at.isoformat(), "promised_due": promised_due, "statutory_due": statutory_due,
                            "cause": cause}
        return True

    def record_extension(self, *, at: dt.datetime, days: int, reason: str, statutory_due: str, by: str) -> bool:
        """An extension of the time limit granted by the back office (延期, 行政许可法第四十二条: the applicant is
        told the reason): kept once, in the history by its own time. False when already recorded."""
        if self.status not in AFTER_ACCEPTANCE or days <= 0:
            return False
        stamp = at.isoformat()
        if any(e["at"] == stamp for e in self.extensions):
            return False
        self.extensions.append({"at": stamp, "days": days, "reason": reason, "statutory_due": statutory_due})
        self.extensions.sort(key=lambda e: _instant(e["at"]))
        detail = (f"经批准延长办理期限 {days} 个工作日" + (f"，办结期限延至 {statutory_due}" if statutory_due else "")
                  + (f"；理由：{reason}" if reason else ""))
        self._log_fact(at, "extended", by or SYSTEM_ACTOR, detail)
        return True

    def back_office_due(self) -> tuple[str, str] | None:
        """(promised, statutory) due dates as approval last reported them — when that report is at least as recent
        as every suspension and resumption known here (else the clock changed since, and intake's own count, which
        sees the suspension, stands)."""
        at = self.back_office.get("at")
        if not at:
            return None
        clock = [h.at for h in self.history if h.what in ("suspended", "resumed")]
        if clock and max(_instant(c) for c in clock) > _instant(at):
            return None
        return self.back_office.get("promised_due", ""), self.back_office.get("statutory_due", "")

    def complete(self, *, outcome: str, now: dt.datetime) -> str | None:
        """办结: the result can be handed out. Once; None when already completed or no longer in progress."""
        if self.status != Status.ACCEPTED:
            return None
        self.status = Status.COMPLETED
        result = "许可决定及证照" if outcome == "approved" else "不予许可决定书"
        detail = f"已办结，{result}可领取"
        if self.open_promises():
            detail += "（容缺受理的材料补齐后方可领取）"
        self._log_fact(now, "completed", SYSTEM_ACTOR, detail)
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
    def promised_deadline(self, calendar: WorkingCalendar) -> DeadlineResult | None:
        """The date the case is promised to be finished by, as the public progress page shows it (issue 19):
        the item's promised working days from the acceptance, the back office's suspensions (特别程序, as
        reported by approval's clock events) not counted; an open suspension leaves it without a date.
        None unless the case is in progress (before acceptance, once decided, ended). The approval service's
        case holds the binding trace; this is the same count on the same published calendar."""
        if self.status != Status.ACCEPTED or self.accepted_on is None or any(h.what == "decided" for h in self.history):
            return None
        pauses: list[Pause] = []
        since: dt.date | None = None
        for h in self.history:
            day = dt.date.fromisoformat((h.on or h.at)[:10])
            if h.what == "suspended" and since is None:
                since = max(day, self.accepted_on + dt.timedelta(days=1))
            elif h.what == "resumed" and since is not None:
                pauses.append(Pause(since, max(since, day - dt.timedelta(days=1)), SUSPENSION_REASON))
                since = None
        if since is not None:
            pauses.append(Pause(since, None, SUSPENSION_REASON))
        return calendar.add_working_days(self.accepted_on, self.item.promised_limit_days, pauses)

    def public_steps(self) -> list[tuple[str, str]]:
        """(date, step name) pairs: dates and step names only — no names, no materials."""
        return [(h.on or h.at[:10], PUBLIC_STEPS[h.what]) for h in self.history if h.what in PUBLIC_STEPS]




def check_project_facts(item: ItemSnapshot, government_invested: bool, key_construction: bool) -> None:
    """The window records 政府投资项目 / 重点建设项目 only for an item that asks the question (a project item);
    for any other the answer would put a fee at its lower bound without a reason."""
    if (government_invested or key_construction) and not item.project_facts:
        name = "government_invested" if government_invested else "key_construction_project"
        raise InvalidArgument(name, f"事项“{item.name}”不涉及政府投资项目或重点建设项目的认定")


def _required_code(code: str) -> str:
    if not code:
        raise ValueError("an accepted case is given its query code with its number")
    return code


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


def check_key(idempotency_key: str, field: str = "idempotency_key") -> str:
    """An optional idempotency key: empty, or letters, digits and ._:- up to MAX_KEY."""
    key = (idempotency_key or "").strip()
    if key and (len(key) > MAX_KEY or not re.fullmatch(r"[0-9A-Za-z._:\-]+", key)):
        raise InvalidArgument(field, f"幂等键只能包含字母、数字和 ._:-，最长 {MAX_KEY} 位")
    return key


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
