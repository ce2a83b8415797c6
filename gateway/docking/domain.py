"""The docking gateway's rules (省平台对接), plain Python without I/O: what a message from the province must be,
the time window and backoff, the province's progress codes and 同 elements, the catalogue comparison and the
daily reconciliation.

Numbers here are defaults where neither the seeds nor the law give one; each says so. Per-province data
(progress codes, the elements held the same) is keyed by the province's two-digit division code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.errors import InvalidArgument, PermissionDenied, Unauthenticated

# ±5 minutes (issue 18): a message stamped further from our clock is refused, and a nonce need only be
# remembered this long (an older message is refused on its timestamp before its nonce is looked at).
CLOCK_WINDOW = dt.timedelta(minutes=5)
NONCE = re.compile(r"^[0-9a-f]{32,64}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DIVISION = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")
CHINA = dt.timezone(dt.timedelta(hours=8))

ENVELOPE_FIELDS = ("message_id", "type", "sender", "receiver", "tenant", "case_ref", "timestamp", "nonce", "body",
                   "key_id", "signature")


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class InboundType(StrEnum):
    """What the province may send (the province's messages reach only these: issue 18)."""

    ONLINE_APPLICATION = "online_application"     # 网上申请（省一体化平台转入）
    PAYMENT_CALLBACK = "payment_callback"         # 统一公共支付平台缴费回调


@dataclass(frozen=True)
class Refusal(Exception):
    """A message refused before anything was done: reason (a short English word for logs and counts) and the
    Chinese text its sender reads."""

    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def province_of_sender(sender: str) -> str:
    """`province:62` → '62'; anything else is no province."""
    kind, _, code = str(sender).partition(":")
    if kind != "province" or not re.fullmatch(r"\d{2}", code):
        raise Refusal("bad_sender", "发送方不是省级平台（sender 应为 province:<省代码>）")
    return code


def check_inbound_shape(msg: Any) -> dict[str, Any]:
    """The envelope of a message from the province, before its signature is looked at: every field there
    and of its type, a known inbound type, a county tenant inside the sending province."""
    if not isinstance(msg, dict):
        raise Refusal("malformed", "报文须为 JSON 对象")
    missing = [f for f in ENVELOPE_FIELDS if f not in msg]
    if missing:
        raise Refusal("malformed", f"报文缺少字段：{'、'.join(missing)}")
    extra = sorted(set(msg) - set(ENVELOPE_FIELDS))
    if extra:
        raise Refusal("malformed", f"报文含未定义字段：{'、'.join(extra)}")
    for name in ENVELOPE_FIELDS:
        if name != "body" and not isinstance(msg[name], str):
            raise Refusal("malformed", f"字段 {name} 须为字符串")
    if not isinstance(msg["body"], dict):
        raise Refusal("malformed", "字段 body 须为 JSON 对象")
    if not UUID.match(msg["message_id"]):
        raise Refusal("malformed", "message_id 须为小写 UUID")
    if not NONCE.match(msg["nonce"]):
        raise Refusal("malformed", "nonce 须为 32–64 位小写十六进制随机数")
    if msg["type"] not in set(InboundType):
        raise Refusal("route", f"省级平台不能发送此类报文：{msg['type'][:40]}")
    province = province_of_sender(msg["sender"])
    tenant = msg["tenant"]
    if not re.fullmatch(r"\d{6}", tenant):
        raise Refusal("malformed", "tenant 须为县级统计用区划代码（6 位）")
    if not tenant.startswith(province):
        raise Refusal("tenant", "报文所指县不在发送方省份内")
    if msg["receiver"] != f"county:{tenant}":
        raise Refusal("tenant", "接收方与报文所指县不一致")
    return msg


def parse_timestamp(value: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Refusal("malformed", "timestamp 须为带时区的 ISO 8601 时间") from None
    if at.tzinfo is None:
        raise Refusal("malformed", "timestamp 须为带时区的 ISO 8601 时间")
    return at


def check_fresh(timestamp: str, now: dt.datetime, window: dt.timedelta = CLOCK_WINDOW) -> dt.datetime:
    at = parse_timestamp(timestamp)
    if abs(at - now) > window:
        raise Refusal("stale", f"报文时间戳超出允许范围（±{int(window.total_seconds() // 60)} 分钟）")
    return at


def refusal_error(refusal: Refusal) -> Exception:
    """How a refusal reaches the sender: a signature or freshness problem is no identity, the rest bad input
    or a route the province may not take."""
    if refusal.reason in ("signature", "stale", "replay", "unknown_key", "bad_sender"):
        return Unauthenticated(refusal.message)
    if refusal.reason in ("route", "tenant"):
        return PermissionDenied(refusal.message)
    return InvalidArgument("envelope_json", refusal.message)


# -- delivery to the province ---------------------------------------------------------------------------
# A default, not a number of the seeds: 1 s doubling to 5 minutes, so a province down for an hour is tried
# about a dozen times per case head and picked up within five minutes of its return.
BACKOFF_FIRST = dt.timedelta(seconds=1)
BACKOFF_MAX = dt.timedelta(minutes=5)


def next_attempt(attempts: int, now: dt.datetime, first: dt.timedelta = BACKOFF_FIRST,
                 cap: dt.timedelta = BACKOFF_MAX) -> dt.datetime:
    """When to try again after `attempts` failed attempts (1, 2, 4 … seconds, at most `cap`)."""
    delay = first * (2 ** max(0, min(attempts - 1, 20)))
    return now + min(delay, cap)


# The platform's own progress code of each reported event (DESIGN §6: 1 received, 3 accepted, 4 not accepted,
# 6 correction started, 8 department handling, 9/10 special procedure start/end, 11 completed). What the
# province receives is its own code for it, from the catalogue's code-mapping tables (code set `progress`,
# province code → this internal code, per province: data, not code). The documented default: a province with
# no `progress` table, or none for this code, receives the internal code itself — the DESIGN's list, which is
# the national 办件信息汇聚 coding Gansu (62) and Sichuan (51) publish, so their tables map it one to one.
PROGRESS_CODE_SET = "progress"
DEFAULT_PROGRESS_CODES: dict[str, str] = {
    "application_accepted": "3",
    "application_rejected": "4",
    "correction_requested": "6",
    "case_decided": "8",
    "clock_suspended": "9",
    "clock_resumed": "10",
    "fees_settled": "8",
    "case_completed": "11",
    "case_delivered": "11",
    "result_picked_up": "11",
}


def province_progress_codes(table: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A province's `progress` mapping rows (its code, the internal code) turned round: internal → its code.
    Where it maps two of its codes onto one internal code, the first by its code is the one it is sent."""
    out: dict[str, str] = {}
    for external, internal in sorted(table):
        out.setdefault(internal, external)
    return out


def progress_code(event_type: str, province_codes: Mapping[str, str] | None = None) -> str:
    """The code the province receives for a reported event: its mapping of the internal code, by default the
    internal code itself ('' for an event that has none, e.g. a guide)."""
    internal = DEFAULT_PROGRESS_CODES.get(event_type, "")
    if not internal:
        return ""
    return (province_codes or {}).get(internal, internal)


# -- guides up (办事指南推送) ------------------------------------------------------------------------------
# a published or adjusted item's guide goes to the provincial portal as a message of type `guide` (the events
# are the report types the reconciliation counts)
GUIDE_EVENTS = ("item_published", "item_adjusted")


def envelope_type(report_type: str) -> str:
    """The envelope type of an outbound message: a guide, or a case report (办件信息)."""
    return "guide" if report_type in GUIDE_EVENTS else "case_report"


def guide_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the portal receives for an item (as GetPublicItem gives it): its identity, every element of its guide,
    and its 容缺 list — per 情形, the materials that may be accepted missing and made up later, with the days."""
    elements = dict(item.get("elements") or {})
    tolerated = [{"scenario_code": str(s.get("code", "")), "scenario": str(s.get("name", "")),
                  "code": str(m.get("code", "")), "name": str(m.get("name", "")),
                  "makeup_days": int(m.get("makeup_days", 0) or 0)}
                 for s in elements.get("scenarios", []) or [] for m in s.get("materials", []) or []
                 if m.get("waivable") and not m.get("core")]
    return {"item_id": str(item.get("id", "")), "version": int(item.get("version", 0) or 0),
            "unit": str(item.get("tenant", "")), "name": str(elements.get("name", "")),
            "basic_code": str(elements.get("basic_code", "")),
            "implementation_code": str(elements.get("implementation_code", "")),
            "published_at": str(item.get("published_at", "")), "change_reason": str(item.get("change_reason", "")),
            "guide": elements, "tolerated_materials": tolerated}


# -- a case's reports in the case's order -----------------------------------------------------------------
# The province applies a case's reports as status transitions, so they must reach it in the case's own order,
# not in the order docking happened to consume them: the events come from several queues (intake's, approval's,
# fees' …), and one of them retried by the consumer (a dependency briefly down, a redelivery, a second docking
# replica) lets the next one overtake it. Each report keeps its place in the case's lifecycle — its stage here,
# then its event's own time, then the order docking queued it — and the sender sends a case's pending reports
# in that order.
#
# The stages: a default read off the platform's lifecycle (issue 18's 受理/转交 < 环节/暂停/恢复/延期 < 决定 <
# 收费 < 办结 < 送达), not a number of the seeds. Docking's own 转交 comes before intake's acceptance; 补正 is
# told before a case is accepted (or refused); approval suspends and resumes the clock between acceptance and
# decision; a case with fees completes only once fees are settled (approval's completion waits for
# fees_settled); intake hands out the result of a completed case. A rating (好差评) of the case comes after it
# (it is no status of the case). Reports outside a case's lifecycle (a guide, a complaint, each queued under
# its own key) have no stage: their time and queue order alone order them.
UNSTAGED = 0
REPORT_STAGES: dict[str, int] = {
    "application_forwarded": 10,      # 转交（委托收件：转至受理单位）
    "application_not_taken": 10,      # 未能转入（省平台网上申请未被受理系统接收）
    "correction_requested": 20,       # 补正告知
    "application_accepted": 30,       # 受理
    "application_rejected": 30,       # 不予受理
    "clock_suspended": 40,            # 暂停计时（特别程序）
    "clock_resumed": 40,              # 恢复计时
    "case_decided": 50,               # 决定
    "fees_settled": 60,               # 收费
    "case_completed": 70,             # 办结
    "result_picked_up": 80,           # 送达（领取/邮寄）
    "rating_submitted": 90,           # 评价
}

# How long a case's next report waits after docking queued it before it is sent: long enough for an earlier
# event of the case that the consumer is still retrying to arrive and take its place (the consumer retries after
# 1 s and then 5 s: shared.messaging.topology.DEFAULT_BACKOFF), short beside what the province's status view
# needs. A default, not a number of the seeds (setting SANJI_DOCKING_SETTLE_SECONDS). An event retried for
# longer (a dependency down for minutes) arrives after its successor was sent: the wait is bounded, so a report
# whose earlier sibling never comes is still sent.
#
# A later stage is not held back while the case has no report of an earlier stage: which earlier reports a case
# must have cannot be known without guessing — a case without fees has no 收费, a 即办 case may be handed out
# at once, a case accepted before docking ran or under another unit has no acceptance here, a refused application
# has no case at all. The order key and the settle time are all the sender relies on.
SETTLE = dt.timedelta(seconds=8)


def report_stage(report_type: str) -> int:
    return REPORT_STAGES.get(report_type, UNSTAGED)


def event_time(value: Any, fallback: dt.datetime) -> dt.datetime:
    """The event's own time (an ISO 8601 time with its zone, as the services write it) or, where it has none or
    it cannot be read, `fallback` (the envelope's timestamp: when the event left its service)."""
    try:
        at = dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        return fallback
    return at


def report_order(stage: int, at: dt.datetime, seq: int) -> tuple[int, dt.datetime, int]:
    """The order of a case's reports (the sender's SQL orders by the same columns)."""
    return (stage, at, seq)


def send_order(reports: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A case's pending reports (type, at, seq) in the order they go to the province."""
    return sorted(reports, key=lambda r: report_order(report_stage(str(r["type"])), r["at"], int(r["seq"])))


def settled(queued_at: dt.datetime, now: dt.datetime, settle: dt.timedelta = SETTLE) -> bool:
    """A case's head may go once it has waited the settle time since docking queued it."""
    return queued_at <= now - settle


def case_key(body: Mapping[str, Any], correlation_id: str | None) -> str:
    """What orders a case's reports: its case number where the event has one, else its application id
    (an application not yet accepted has no case number); a complaint by its number."""
    return str(body.get("case_number") or correlation_id or body.get("application_id") or body.get("number") or "")


# -- catalogue down: the elements held the same ----------------------------------------------------------
ELEMENT_LABELS: dict[str, str] = {
    "name": "事项名称", "code": "事项编码", "type": "事项类型", "basis": "设定依据", "level": "行使层级",
    "conditions": "受理条件", "object": "服务对象", "materials": "申请材料", "limits": "办理时限", "fees": "收费",
}
# seed 000 (三级四同: name, code, type, basis) and seed 003 (三级十同: all ten): which one a province holds is
# its data. Gansu's documents (seed 003) say 十同; the 四同 set is what a province on seed 000's rule keeps.
FOUR_SAME = ("name", "code", "type", "basis")
TEN_SAME = tuple(ELEMENT_LABELS)
SAME_ELEMENTS: dict[str, tuple[str, ...]] = {"62": TEN_SAME, "51": FOUR_SAME}


def same_elements(province: str) -> tuple[str, ...]:
    return SAME_ELEMENTS.get(province, TEN_SAME)


def elements_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The ten standard elements of an item written as the catalogue writes one (ItemElements, proto3 JSON with
    the proto's field names) — the province's standard items and the county's implementation items alike."""
    materials = sorted({str(m.get("name", "")) for s in item.get("scenarios", []) or []
                        for m in (s.get("materials", []) or [])})
    fees = sorted(f"{f.get('fee_code', '')}:{f.get('name', '')}" for f in item.get("fees", []) or [])
    statutory = int(item.get("statutory_limit_days", 0) or 0)
    promised = int(item.get("promised_limit_days", 0) or 0)
    return {"name": item.get("name", ""), "code": item.get("basic_code", ""), "type": item.get("item_type", ""),
            "basis": item.get("legal_basis", ""), "level": item.get("exercise_level", ""),
            "conditions": item.get("acceptance_conditions", ""), "object": sorted(item.get("targets", []) or []),
            "materials": materials, "limits": f"法定{statutory}日，承诺{promised}日", "fees": fees}


def _norm(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "；".join(sorted(_norm(v) for v in value))
    if isinstance(value, dict):
        return "；".join(f"{k}={_norm(v)}" for k, v in sorted(value.items()))
    return re.sub(r"\s+", "", str(value if value is not None else ""))


@dataclass(frozen=True)
class Difference:
    element: str
    standard: str
    county: str

    @property
    def label(self) -> str:
        return ELEMENT_LABELS[self.element]


@dataclass
class ItemComparison:
    standard_code: str
    name: str
    county_item_id: str = ""
    differences: list[Difference] = field(default_factory=list)
    draft_item_id: str = ""


def compare_item(standard: Mapping[str, Any], county: Mapping[str, Any], elements: Iterable[str]) -> list[Difference]:
    """Every element the province holds the same on which the county's implementation differs."""
    out = []
    for e in elements:
        s, c = _norm(standard.get(e)), _norm(county.get(e))
        if s != c:
            out.append(Difference(e, s, c))
    return out


def compare_catalogue(standard: list[Mapping[str, Any]], county: list[Mapping[str, Any]],
                      elements: Iterable[str]) -> list[ItemComparison]:
    """The province's standard items matched with the county's by basic code (the standard item's code is
    the basic code the county's implementation item carries). Both are ItemElements-shaped dicts; a county item
    also carries its `id`."""
    elements = tuple(elements)
    by_code = {str(c.get("basic_code")): c for c in county}
    out = []
    for s in standard:
        code = str(s.get("basic_code"))
        mine = by_code.get(code)
        if mine is None:
            out.append(ItemComparison(code, str(s.get("name", ""))))
        else:
            out.append(ItemComparison(code, str(s.get("name", "")), str(mine.get("id", "")),
                                      compare_item(elements_of(s), elements_of(mine), elements)))
    return out


# -- daily reconciliation ---------------------------------------------------------------------------------
def day_of(at: dt.datetime) -> str:
    """The day a message belongs to: China time."""
    return at.astimezone(CHINA).date().isoformat()


@dataclass(frozen=True)
class TypeCount:
    message_type: str
    ours: int
    theirs: int
    our_hash: str
    their_hash: str

    @property
    def matches(self) -> bool:
        return self.ours == self.theirs and self.our_hash == self.their_hash


@dataclass
class Reconciliation:
    day: str
    tenant: str
    types: list[TypeCount]
    missing_at_province: list[str]
    unknown_to_us: list[str]
    resent: int = 0
    pdf: bytes = b""            # the printable report, once rendered (handlers: documents.reconciliation_pdf)

    def csv_rows(self) -> list[list[str]]:
        rows = [["日期", "单位", "报文类型", "本方条数", "省方条数", "本方摘要", "省方摘要", "一致"]]
        for t in self.types:
            rows.append([self.day, self.tenant, t.message_type, str(t.ours), str(t.theirs), t.our_hash, t.their_hash,
                         "是" if t.matches else "否"])
        rows += [[self.day, self.tenant, "省方未收到", m, "", "", "", "已重发"] for m in self.missing_at_province]
        rows += [[self.day, self.tenant, "本方无记录", m, "", "", "", "待核查"] for m in self.unknown_to_us]
        return rows


def reconcile(day: str, tenant: str, ours: Mapping[str, str], theirs: Mapping[str, str],
              digest: Any) -> Reconciliation:
    """`ours`/`theirs`: message id → message type, for one day and tenant; `digest(ids)`: the hash of a sorted
    list of ids (SM3, given by the caller). Counts and hashes per type, and the ids on one side only."""
    types = sorted(set(ours.values()) | set(theirs.values()))
    rows = []
    for t in types:
        a = sorted(i for i, k in ours.items() if k == t)
        b = sorted(i for i, k in theirs.items() if k == t)
        rows.append(TypeCount(t, len(a), len(b), digest(a), digest(b)))
    return Reconciliation(day, tenant, rows, sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours)))
