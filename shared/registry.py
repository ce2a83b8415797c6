"""The one list of the platform's services (DESIGN §2).

Everything that needs to know which services exist reads it: migrations (`infra.migrate`), the
database and broker bootstrap (`infra.local.bootstrap`), the local runner (`make run`), the gateway's
settings and routers, and the k8s consistency test. Adding a service = its folder under `services/`
(a copy of the template, services/README.md) + one row here + its k8s block.

A row says what a reader of the architecture wants to know at a glance: the gRPC port the service
takes on a developer's machine, its PostgreSQL schema, the events it publishes on `<name>.events`,
the events it consumes (and under which handler name, which names its queue), and the services it
calls over gRPC. Plain data: no imports of any service.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscription:
    """One event a service consumes: queue `evt-<source>-<event_type>--<service>.<handler>`."""

    source: str
    event_type: str
    handler: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    # the local gRPC port: below Linux's ephemeral range (32768-60999), so an outgoing connection made
    # at start-up cannot hold it and `make run` fail with "Address already in use"; every pod uses 50051
    port: int
    title: str                                   # 中文名, for people reading a listing
    summary: str = ""                            # what it does, in a line (k8s annotation, listings)
    publishes: tuple[str, ...] = ()
    subscribes: tuple[Subscription, ...] = ()
    calls: tuple[str, ...] = ()                  # services this one calls over gRPC
    rest: bool = True                            # the gateway has a router for it: gateway/routes_<name>.py
    # where its code lives when not under services/ (e.g. the docking gateway, gateway.docking): the same shape
    package: str = ""
    # the PostgreSQL role it runs as when not the shared application role (sanji_app): a role of its own, granted its
    # own schema only (the bootstrap makes it; its migrations grant it its tables), so no statement of it can reach
    # another service's tables whatever it binds
    database_role: str = ""

    @property
    def schema(self) -> str:
        return self.name

    @property
    def module(self) -> str:
        """Its package (`python -m <module>` runs it; `<module>.settings`, `<module>.service` …)."""
        return self.package or f"services.{self.name}"

    @property
    def folder(self) -> str:
        """Its folder in the checkout (migrations, template files)."""
        return self.module.replace(".", "/")

    @property
    def target_setting(self) -> str:
        """The settings field (and SANJI_… variable, upper-cased) that holds where it is reached."""
        return f"{self.name}_target"

    @property
    def local_target(self) -> str:
        return f"127.0.0.1:{self.port}"


def _subs(*rows: tuple[str, str, str]) -> tuple[Subscription, ...]:
    return tuple(Subscription(*row) for row in rows)


# In start order: a service comes after the services it calls and the sources it consumes from
# (a consumer declares its queues before its source's relay publishes: DESIGN §5).
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "catalogue", 15051, "事项目录",
        summary="事项目录：事项、办理情形、材料、时限、收费依据、办事指南",
        publishes=("item_published", "item_adjusted", "item_cancelled", "item_delegated"),
    ),
    ServiceSpec(
        "intake", 15052, "一窗受理",
        summary="一窗受理：申请、受理、补正、不予受理、容缺、出件",
        publishes=("application_submitted", "application_accepted", "correction_requested",
                   "application_rejected", "materials_supplied", "application_terminated",
                   "result_picked_up", "proxy_application_progressed"),
        subscribes=_subs(("approval", "case_decided", "record_decision"),
                         ("approval", "case_completed", "record_completion"),
                         ("approval", "clock_suspended", "record_suspension"),
                         ("approval", "clock_resumed", "record_resumption"),
                         # approval's due dates on the public progress page (延期, re-projection; issue 19)
                         ("approval", "deadline_extended", "record_extension"),
                         ("approval", "due_date_reprojected", "record_reprojection"),
                         # the one calendar (issue 23): a province's year, applied and re-projected here too
                         ("approval", "calendar_year_published", "apply_calendar_year")),
        calls=("catalogue",),
    ),
    ServiceSpec(
        "agency", 15053, "帮办代办",
        summary="帮办代办：代办申请、代办员、上门服务、材料交接",
        publishes=("proxy_requested", "agent_assigned", "documents_handed_over", "documents_received",
                   "proxy_completed"),
        subscribes=_subs(("intake", "proxy_application_progressed", "on_progress")),
        calls=("catalogue", "intake"),
    ),
    ServiceSpec(
        "approval", 15054, "审批",
        summary="审批：审查、决定、并联审批、时限台账、证照",
        publishes=("case_opened", "review_completed", "case_decided", "clock_suspended", "clock_resumed",
                   "deadline_extended", "certificate_issued", "case_completed", "inspection_requested",
                   "inspection_recorded", "due_date_reprojected", "case_terminated", "case_delivered",
                   "step_claimed", "step_released", "calendar_year_published"),
        subscribes=_subs(("intake", "application_accepted", "open_case"),
                         ("fees", "fees_settled", "settle_fees"),
                         ("intake", "result_picked_up", "record_delivery"),
                         ("intake", "application_terminated", "terminate_case")),
        calls=("catalogue",),     # the province's record: the region whose published years its units count on
    ),
    ServiceSpec(
        "fees", 15055, "一窗收费",
        summary="一个窗口收费：缴款书、支付、退费、对账",
        publishes=("fees_assessed", "notice_issued", "payment_received", "fees_settled", "refund_made",
                   "fee_waived", "payment_queued", "fee_item_published", "fee_item_cancelled"),
        subscribes=_subs(("approval", "case_decided", "on_case_decided")),
        calls=("catalogue",),     # the province's record: which payment key set verifies its callbacks
    ),
    ServiceSpec(
        "complaints", 15056, "投诉与评价",
        summary="投诉（吐槽找茬）与好差评：3日报动态、7日报结果、延期、答复、回访、差评整改、申诉复核",
        publishes=("complaint_received", "complaint_assigned", "complaint_progress_reported", "complaint_extended",
                   "complaint_replied", "complaint_resolved", "complaint_reopened", "complaint_escalated",
                   "follow_up_due", "return_visit_recorded", "rating_submitted", "rectification_due",
                   "rectification_done", "rectification_rated", "appeal_decided"),
        # its read model of cases (exists, accepted, who handled it), and its own escalations: a second 不满意
        # opens the complaint at the level above, in that unit's own transaction
        subscribes=_subs(("intake", "application_accepted", "record_case_accepted"),
                         ("approval", "case_decided", "record_case_decided"),
                         ("approval", "case_completed", "record_case_completed"),
                         ("complaints", "complaint_escalated", "open_escalated"),
                         ("approval", "calendar_year_published", "apply_calendar_year")),
        calls=("catalogue",),     # the units (tenant tree): is the level above on the platform before escalating
    ),
    # the provincial docking gateway: a process of its own beside the REST edge (gateway/docking), the province's
    # one way in and the county's reports' one way up
    ServiceSpec(
        "docking", 15058, "省平台对接",
        summary="省平台对接：标准事项比对、网上申请转入、办件上报、支付回调、每日对账；SM2 签名、防重放、SM3 日志链",
        publishes=("case_reported",),
        subscribes=_subs(*[(source, event, f"report_{event}") for source, events in (
            ("intake", ("application_accepted", "correction_requested", "application_rejected", "result_picked_up")),
            ("approval", ("case_decided", "clock_suspended", "clock_resumed", "case_completed")),
            ("fees", ("fees_settled",)),
            ("complaints", ("rating_submitted", "complaint_resolved")),      # ratings and complaint outcomes
        ) for event in events], *[("catalogue", event, f"guide_{event}")     # guides up to the portal
                                  for event in ("item_published", "item_adjusted")]),
        calls=("catalogue", "intake", "fees"),
        package="gateway.docking",
    ),
    # the province administrator's onboarding of a county (issue 23): the command's steps as a job; the one process
    # holding the identity provider's realm-admin client
    ServiceSpec(
        "onboarding", 15059, "县区上线",
        summary="县区上线：省级管理员从全国区划文件与人员名单上线本省县（区），逐行报告，初始岗位与占位印章，尚缺清单",
        # internal methods on its own credential: approval's back office set-up and readiness, fees' and catalogue's
        # readiness — it reads and writes no table of theirs
        calls=("approval", "fees", "catalogue"),
        database_role="sanji_onboarding",
    ),
    # last: it consumes everyone's events (its read model per case, step and post, and the audit chain)
    ServiceSpec(
        "supervision", 15057, "电子监察",
        summary="电子监察：逐环节、逐岗位黄牌红牌，督办函，责任追究，统计与成绩单，防篡改留痕链",
        publishes=("card_raised", "card_cleared", "supervision_order_issued", "supervision_order_answered",
                   "supervision_order_escalated"),
        subscribes=_subs(*[(source, event, f"on_{event}") for source, events in (
            ("intake", ("application_submitted", "application_accepted", "correction_requested",
                        "application_rejected", "materials_supplied", "application_terminated",
                        "result_picked_up")),
            ("approval", ("case_opened", "review_completed", "case_decided", "clock_suspended", "clock_resumed",
                          "deadline_extended", "case_completed", "due_date_reprojected", "case_terminated",
                          "case_delivered", "step_claimed", "step_released", "calendar_year_published")),
            ("fees", ("fees_settled", "fee_waived", "refund_made")),
            ("agency", ("proxy_requested", "proxy_completed")),
            ("complaints", ("complaint_received", "complaint_assigned", "complaint_progress_reported",
                            "complaint_extended", "complaint_replied", "complaint_resolved", "complaint_reopened",
                            "rating_submitted", "rectification_due", "rectification_done", "appeal_decided")),
        ) for event in events]),
        calls=("catalogue",),     # the province's record: its warning / red-card thresholds, its calendar region
    ),
)

BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}
NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
SCHEMAS: tuple[str, ...] = tuple(s.schema for s in SERVICES)
PORTS: dict[str, int] = {s.name: s.port for s in SERVICES}


def spec(name: str) -> ServiceSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no service {name!r} in shared/registry.py (known: {', '.join(NAMES)})") from None


def subscribers_of(source: str) -> list[tuple[ServiceSpec, Subscription]]:
    """Who consumes the events of `source`: the queues that must exist before its relay publishes."""
    return [(s, sub) for s in SERVICES for sub in s.subscribes if sub.source == source]
