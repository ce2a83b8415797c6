"""REST edge of the operations API every service answers (shared/grpc/operations.py; issue 20 item 3): the
events waiting because of a fault — parked after their retries, or kept in an outbox because no queue took
them — for supervision staff and administrators of a county, and the replay that sends parked ones back.
Each service is asked with the caller's own token and checks the caller itself."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sanji.common.v1 import operations_pb2 as pb
from sanji.common.v1 import operations_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, Strict
from shared import registry
from shared.grpc.operations import MAX_REPLAY

router = APIRouter(prefix="/api/v1/operations", tags=["运行维护"])
BACKENDS = {name: Backend(name, operations_pb2_grpc.OperationsServiceStub) for name in registry.NAMES}
SERVICE_PATTERN = "^(" + "|".join(registry.NAMES) + ")$"


class ParkedQueue(BaseModel):
    queue: str = Field(description="消息队列")
    parked: int = Field(description="积压（重试用尽后停放）的消息数")
    oldest_age_seconds: float = Field(description="最早一条已停放的秒数（无积压时为 0）")


class ServiceParked(BaseModel):
    service: str = Field(description="服务")
    reachable: bool = Field(description="服务是否应答；不应答时其余字段为空")
    parked: int = Field(0, description="各队列积压合计")
    unroutable: int = Field(0, description="因无队列接收而暂存在发件箱、等待重发的事件数")
    unroutable_since: str = Field("", description="其中最早一条的写入时间")
    queues: list[ParkedQueue] = Field(default_factory=list)


class ParkedOverview(BaseModel):
    parked: int = Field(description="全部服务积压合计")
    unroutable: int = Field(description="全部服务发件箱中无队列接收的事件合计")
    oldest_age_seconds: float = Field(description="最早一条积压消息已停放的秒数")
    services: list[ServiceParked]


class ReplayIn(Strict):
    service: str = Field(pattern=SERVICE_PATTERN, description="服务名（如 intake）")
    queue: str = Field("", max_length=200, description="只重放该队列；留空则重放该服务全部队列")
    limit: int = Field(0, ge=0, le=MAX_REPLAY, description="每个队列最多重放条数；0 表示全部")


class ReplayOut(BaseModel):
    service: str
    replayed: int = Field(description="已移回原队列重新处理的消息数")
    now: ServiceParked = Field(description="重放后仍在等待的")


def _service(answer: pb.ParkedEvents) -> ServiceParked:
    return ServiceParked(service=answer.service, reachable=True, parked=answer.parked, unroutable=answer.unroutable,
                         unroutable_since=answer.unroutable_since,
                         queues=[ParkedQueue(queue=q.queue, parked=q.parked, oldest_age_seconds=q.oldest_age_seconds)
                                 for q in answer.queues])


@router.get("/parked", response_model=ParkedOverview, summary="积压与暂存的消息（各服务、各队列的条数和最久等待）")
def parked(request: Request, p: User) -> ParkedOverview:
    services = []
    for name, backend in BACKENDS.items():
        try:
            services.append(_service(backend.call(request, p, "ListParked", pb.ListParkedRequest())))
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNIMPLEMENTED,
                                  grpc.StatusCode.DEADLINE_EXCEEDED):
                raise                     # refused (role, unit): the caller is told, not a partial answer
            services.append(ServiceParked(service=name, reachable=False))
    ages = [q.oldest_age_seconds for s in services for q in s.queues if q.parked]
    return ParkedOverview(parked=sum(s.parked for s in services), unroutable=sum(s.unroutable for s in services),
                          oldest_age_seconds=max(ages, default=0.0), services=services)


@router.post("/parked/replay", response_model=ReplayOut, summary="重放积压的消息（移回原队列重新处理）")
def replay(body: ReplayIn, request: Request, p: User) -> ReplayOut:
    answer = BACKENDS[body.service].call(request, p, "ReplayParked",
                                         pb.ReplayParkedRequest(queue=body.queue, limit=body.limit), at_least=60)
    return ReplayOut(service=answer.service, replayed=answer.replayed, now=_service(answer.now))
