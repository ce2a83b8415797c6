"""gRPC servicer and event consumer of supervision: translate, call a handler, translate back."""

from __future__ import annotations

import importlib

from sanji.supervision.v1 import supervision_pb2 as pb
from sanji.supervision.v1 import supervision_pb2_grpc

from services.supervision.handlers import SupervisionHandlers
from services.supervision.translate import (
    accountability_in,
    accountability_to_pb,
    calendar_year_in,
    card_status_filter,
    card_to_pb,
    fact_of,
    order_status_filter,
    order_to_pb,
    rules_to_pb,
    stats_row_to_pb,
    verdict_to_pb,
)
from shared import registry
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal, current_principal_or_none

# the public scorecard and ranking (晒成绩单: counts and shares of units, no personal data)
PUBLIC_METHODS = ("GetScorecard", "GetRanking")


class SupervisionServicer(supervision_pb2_grpc.SupervisionServiceServicer):
    def __init__(self, handlers: SupervisionHandlers):
        self.h = handlers

    def ListCards(self, request, context):
        rows, total = self.h.list_cards(
            current_principal(), unit=request.unit, status=card_status_filter(request.status),
            severity=request.severity, rule_id=request.rule_id, case_number=request.case_number,
            post_holder=request.post_holder, limit=request.limit, offset=request.offset)
        rules = self.h.rules(current_principal())
        return pb.ListCardsResponse(cards=[card_to_pb(c, rules) for c in rows], total=total)

    def GetCard(self, request, context):
        return card_to_pb(self.h.get_card(current_principal(), request.card_id), self.h.rules(current_principal()))

    def ListRules(self, request, context):
        return rules_to_pb(self.h.rules(current_principal()))

    def IssueOrder(self, request, context):
        return order_to_pb(self.h.issue_order(current_principal(), request.card_id, request.request,
                                              request.reply_days, request.idempotency_key))

    def AnswerOrder(self, request, context):
        return order_to_pb(self.h.answer_order(current_principal(), request.order_id, request.reason,
                                               request.rectification))

    def GetOrder(self, request, context):
        return order_to_pb(self.h.get_order(current_principal(), request.order_id))

    def ListOrders(self, request, context):
        rows, total = self.h.list_orders(current_principal(), order_status_filter(request.status), request.limit,
                                         request.offset)
        return pb.ListOrdersResponse(orders=[order_to_pb(o) for o in rows], total=total)

    def GetOrderDocument(self, request, context):
        name, content = self.h.order_document(current_principal(), request.order_id)
        return pb.Document(filename=name, media_type="application/pdf", content=content)

    def RecordAccountability(self, request, context):
        return accountability_to_pb(self.h.record_accountability(current_principal(), accountability_in(request)))

    def ListAccountability(self, request, context):
        rows, total = self.h.list_accountability(current_principal(), request.person, request.limit, request.offset)
        return pb.ListAccountabilityResponse(records=[accountability_to_pb(r) for r in rows], total=total)

    def GetStats(self, request, context):
        by, month, rows = self.h.stats(current_principal(), request.by, request.month, request.unit)
        return pb.StatsResponse(by=by, month=month, rows=[stats_row_to_pb(r) for r in rows])

    def ExportStats(self, request, context):
        name, media, content = self.h.export_stats(current_principal(), request.by, request.month, request.unit,
                                                   request.format)
        return pb.Document(filename=name, media_type=media, content=content)

    def GetScorecard(self, request, context):
        s = self.h.scorecard(request.unit, request.month)
        return pb.Scorecard(unit=s["unit"], unit_name=s["unit_name"], month=s["month"],
                            totals=stats_row_to_pb(s["totals"]),
                            departments=[stats_row_to_pb(r) for r in s["departments"]])

    def GetRanking(self, request, context):
        r = self.h.ranking(request.month, request.region)
        return pb.Ranking(month=r["month"], region=r["region"], basis=r["basis"],
                          counties=[pb.RankingEntry(**e) for e in r["counties"]],
                          departments=[pb.RankingEntry(**e) for e in r["departments"]])

    def VerifyChain(self, request, context):
        p = current_principal()
        unit = request.unit or str(p.tenant)
        return verdict_to_pb(unit, self.h.verify_chain(p, unit))

    def Sweep(self, request, context):
        p = current_principal_or_none()
        from shared.errors import PermissionDenied
        from shared.tenancy import Role

        if p is None or not p.has(Role.SUPERVISOR):
            raise PermissionDenied("当前用户没有所需角色（监察员）")
        r = self.h.sweep()
        return pb.SweepResponse(cases=r.cases, raised=r.raised, closed=r.closed, escalated=r.escalated,
                                sealed=r.sealed)


def registration(handlers: SupervisionHandlers) -> Registration:
    return Registration(servicer=SupervisionServicer(handlers),
                        add_to_server=supervision_pb2_grpc.add_SupervisionServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["SupervisionService"].full_name,
                        public_methods=PUBLIC_METHODS)


def _message(source: str, event_type: str):
    events = importlib.import_module(f"sanji.{source}.v1.events_pb2")
    return getattr(events, "".join(part.capitalize() for part in event_type.split("_")))


def _row(source: str, event_type: str, handler: str) -> On:
    if event_type == "calendar_year_published":
        return On(handler, _message(source, event_type),
                  lambda h, m, env, uow: h.apply_calendar_year(*calendar_year_in(m), env, uow))
    return On(handler, _message(source, event_type),
              lambda h, m, env, uow: h.record(fact_of(source, event_type, m), env, uow))


# every event supervision watches (shared/registry.py): each into the read model and the audit chain, one way
SUBSCRIPTIONS = tuple(_row(s.source, s.event_type, s.handler) for s in registry.spec("supervision").subscribes)


def event_consumer(handlers: SupervisionHandlers, db: Database, amqp_url: str, **options) -> EventConsumer:
    return consumer_for("supervision", SUBSCRIPTIONS, handlers, db, amqp_url, **options)
