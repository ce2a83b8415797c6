"""The operations API every service process answers beside its own (proto sanji.common.v1.OperationsService):
the events waiting because of a fault and the move that sends parked ones back (issue 20 item 3).

- parked: each of the service's consumer queues' dead-letter queue (`<queue>.dlq`), how many and how old the
  oldest (shared.messaging.replay), and the outbox's events that reached no queue (shared.messaging.relay);
- replay: parked events back to their queue with a fresh retry budget (the inbox makes an event applied
  meanwhile a no-op).

Who: supervision staff (监察员) and administrators (单位管理员) of a county or a province: parked events are the
deployment's, not one unit's, and the answer carries no business data (queue names and counts). The gateway's
route for them is gateway/routes_operations.py.
"""

from __future__ import annotations

from typing import Any

from sanji.common.v1 import operations_pb2 as pb
from sanji.common.v1 import operations_pb2_grpc

from shared.errors import InvalidArgument, PermissionDenied
from shared.grpc.server import Registration
from shared.messaging import replay as parking
from shared.messaging.relay import unroutable_events
from shared.tenancy import Role, current_principal

MAX_REPLAY = 100_000


def _require_operator() -> None:
    p = current_principal()
    p.require(Role.SUPERVISOR, Role.TENANT_ADMIN)
    if len(str(p.tenant)) > 6:
        raise PermissionDenied("只有县级及以上单位的监察员或管理员可以查看和重放积压的消息")


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    def __init__(self, service: str, amqp_url: str, engine: Any):
        self.service, self.amqp_url, self.engine = service, amqp_url, engine

    def _queues(self) -> list[str]:
        return parking.service_queues(self.service)

    def _parked(self) -> pb.ParkedEvents:
        rows = parking.parked(self.amqp_url, self._queues()) if self._queues() else []
        count, oldest = unroutable_events(self.engine, self.service)
        return pb.ParkedEvents(
            service=self.service, parked=sum(r.parked for r in rows), unroutable=count,
            unroutable_since=oldest.isoformat() if oldest else "",
            queues=[pb.ParkedQueue(queue=r.queue, parked=r.parked, oldest_age_seconds=r.oldest_age_seconds or 0.0)
                    for r in rows])

    def ListParked(self, request, context):
        _require_operator()
        return self._parked()

    def ReplayParked(self, request, context):
        _require_operator()
        queues = self._queues()
        if request.queue and request.queue not in queues:
            raise InvalidArgument("queue", f"{self.service} 没有名为 {request.queue[:100]} 的消息队列")
        if not 0 <= request.limit <= MAX_REPLAY:
            raise InvalidArgument("limit", f"每个队列一次最多重放 {MAX_REPLAY} 条")
        chosen = [request.queue] if request.queue else queues
        moved = parking.replay(self.amqp_url, self.service, chosen, request.limit or None) if chosen else {}
        return pb.ReplayResult(service=self.service, replayed=sum(moved.values()), now=self._parked())


def operations_registration(service: str, amqp_url: str, engine: Any) -> Registration:
    return Registration(servicer=OperationsServicer(service, amqp_url, engine),
                        add_to_server=operations_pb2_grpc.add_OperationsServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["OperationsService"].full_name)
