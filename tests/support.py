"""Test support shared by service and end-to-end tests: a small real tenant tree, test users, the
OIDC provider on loopback and logins through it, and the services' own client credentials."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from infra.oidc.client import login
from shared import registry

# Real division codes (统计用区划代码): 凉州区 with two streets and their communities, and
# 汶川县 as "another county".
UNITS_CSV = """code,name
620602,凉州区
620602001,东大街街道
620602001001,南苑社区居委会
620602001002,大众社区居委会
620602002,西大街街道
620602002001,达府社区居委会
513221,汶川县
513221100,威州镇
513221100001,南桥社区居委会
"""

PASSWORD = "test-pass"


def user(username: str, tenant: str, *roles: str, name: str = "") -> dict:
    return {"username": username, "password": PASSWORD, "name": name or username, "tenant": tenant,
            "roles": list(roles), "email": f"{username}@example.gov.cn"}


TEST_USERS = [
    user("county.admin", "620602", "tenant_admin", name="王建国"),
    user("county.clerk", "620602", "window_clerk", name="李娜"),
    user("county.supervisor", "620602", "supervisor", name="赵监察"),
    user("dongdajie.admin", "620602001", "tenant_admin", name="张伟"),
    user("dongdajie.clerk", "620602001", "window_clerk"),
    # intake: the township centre's head, who confirms (or overrules) its window's refusals (无权否决)
    user("dongdajie.head", "620602001", "head", name="周建华"),
    # agency: the township centre's agent (帮办代办 at every level, issue 21 item 1)
    user("dongdajie.agent", "620602001", "agent", name="郑街代"),
    user("xidajie.admin", "620602002", "tenant_admin", name="刘洋"),
    user("nanyuan.agent", "620602001001", "agent", name="陈代办"),
    user("nanyuan.admin", "620602001001", "tenant_admin"),
    user("dazhong.agent", "620602001002", "agent"),
    user("wenchuan.admin", "513221", "tenant_admin", name="杨川"),
    # provinces as data (issue 23): the province-level administrators (tenant_admin of a 2-digit tenant)
    user("gansu.admin", "62", "tenant_admin", name="甘肃省政务服务管理员"),
    user("sichuan.admin", "51", "tenant_admin", name="四川省政务服务管理员"),
    user("ningxia.admin", "64", "tenant_admin", name="宁夏回族自治区政务服务管理员"),   # onboards 兴庆区 (640104)
    # catalogue import: the admin of 广安区 (Sichuan), whose real published list the import test loads
    user("guangan.admin", "511602", "tenant_admin", name="邓广安"),
    # agency: the county's key-project agent and a second agent at 南苑 (not the assigned one)
    user("county.agent", "620602", "agent", name="孙重点"),
    user("nanyuan.agent2", "620602001001", "agent", name="周代办"),
    # intake: a sibling township's window
    user("xidajie.clerk", "620602002", "window_clerk", name="吴窗口"),
    # fees: the fee window's cashiers, the head who approves waivers and refunds, another county's cashier
    user("county.cashier", "620602", "cashier", name="刘春梅"),
    user("county.head", "620602", "head", name="冯志刚"),
    user("dongdajie.cashier", "620602001", "cashier", name="郭丽"),
    user("wenchuan.cashier", "513221", "cashier", name="马晓燕"),
    # approval: the county's back office (审核人、决定人; county.head above approves extensions), the window's
    # chief representative, and the back offices of two sibling townships
    user("county.reviewer", "620602", "reviewer", name="张审查"),
    user("county.reviewer2", "620602", "reviewer", name="钱审查"),
    user("county.reviewer3", "620602", "reviewer", name="孙审查"),
    user("county.decider", "620602", "decider", name="李决定"),
    user("county.decider2", "620602", "decider", name="周决定"),
    user("county.both", "620602", "reviewer", "decider", name="吴兼岗"),
    user("county.chief", "620602", "chief_representative", "window_clerk", name="冯首代"),
    # a chief representative who does not also work the window: reads it and confirms its refusals, takes nothing in
    user("county.chiefonly", "620602", "chief_representative", name="郑首代"),
    user("dongdajie.reviewer", "620602001", "reviewer", name="陈街审"),
    user("dongdajie.decider", "620602001", "decider", name="褚街决"),
    user("xidajie.reviewer", "620602002", "reviewer", name="卫街审"),
    # supervision: a township's supervisor, its sibling's, and another county's
    user("dongdajie.supervisor", "620602001", "supervisor", name="徐监察"),
    user("xidajie.supervisor", "620602002", "supervisor", name="韩监察"),
    user("wenchuan.supervisor", "513221", "supervisor", name="羌监察"),
    # complaints: the handlers of the county bureau and of two sibling townships, one county handler who is
    # complained about (dongdajie.head above approves the township's extensions)
    user("county.complaints", "620602", "complaint_handler", name="陈投诉"),
    user("county.complaints2", "620602", "complaint_handler", name="韩被诉"),
    user("dongdajie.complaints", "620602001", "complaint_handler", name="何街诉"),
    user("xidajie.complaints", "620602002", "complaint_handler", name="施街诉"),
]


# Each service's own client secret (client `sanji-<service>`, client-credentials grant) for this test run:
# random per run, as `make run` makes them (infra/local/platform.py); the in-process provider knows them all.
SERVICE_SECRETS = {name: secrets.token_urlsafe(24) for name in registry.NAMES}


def service_clients() -> dict[str, str]:
    """The provider's client table: client id → secret."""
    return {f"sanji-{name}": secret for name, secret in SERVICE_SECRETS.items()}


class Tokens:
    """Logs each test user in once (a real authorization-code flow against the provider)."""

    def __init__(self, oidc_url: str):
        self.oidc_url = oidc_url
        self._cache: dict[str, str] = {}

    def __getitem__(self, username: str) -> str:
        if username not in self._cache:
            self._cache[username] = login(self.oidc_url, username, PASSWORD)
        return self._cache[username]


def deliver_event(handler, db, tenant: str, message, source: str = "approval") -> None:
    """One event handed to a service's own handler as its consumer hands it over: the envelope (body in
    the wire's JSON form), in a unit of work bound to the tenant, committed."""
    import json
    import time
    import uuid

    from shared.db import event_type_of, message_to_json
    from shared.messaging import Envelope

    env = Envelope(event_id=str(uuid.uuid4()), event_type=event_type_of(message), tenant=tenant,
                   correlation_id=getattr(message, "case_number", None), event_version=1, traceparent=None,
                   tracestate=None, timestamp=int(time.time()), source=source,
                   body=json.loads(message_to_json(message)))
    with db.unit_of_work(tenant=tenant) as uow:
        handler(env, uow)
        uow.commit()


def subscribed(table, handler: str, handlers):
    """What a service's consumer calls for the deliveries of its subscription `handler` (a row of its
    subscription table, `SUBSCRIPTIONS` in its service.py): the body read as the row's message, then the
    row's call — as `shared.messaging.consumer_for` binds it. For `deliver_event`."""
    [on] = [row for row in table if row.handler == handler]
    return on.bound(handlers)


def report_from_approval(handlers, db, tenant: str, case_number: str, outcome: str = "approved", *,
                         completed: bool = True, reasons: tuple[str, ...] = ()) -> None:
    """What the approval service reports back to intake: case_decided, then case_completed."""
    from sanji.approval.v1 import events_pb2 as approval_ev

    from services.intake.service import SUBSCRIPTIONS

    at = handlers.clock.now().isoformat()
    deliver_event(subscribed(SUBSCRIPTIONS, "record_decision", handlers), db, tenant, approval_ev.CaseDecided(
        case_number=case_number, tenant=tenant, outcome=outcome, decider="county.decider", at=at,
        document_number=f"{case_number}-D", reasons=list(reasons)))
    if completed:
        deliver_event(subscribed(SUBSCRIPTIONS, "record_completion", handlers), db, tenant, approval_ev.CaseCompleted(
            case_number=case_number, tenant=tenant, outcome=outcome, at=at))


@contextmanager
def serving(registrations, verifier, workers: int = 8) -> Iterator[str]:
    """A service's real gRPC server (the platform's interceptor chain) in this process, on a free
    loopback port: yields its target, stops it afterwards."""
    from shared.grpc.server import build_server

    server, port, _ = build_server(registrations, verifier=verifier, host="127.0.0.1", port=0, workers=workers)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


class Caller:
    """caller.SomeMethod(request): the stub called with a user's token (None: no token) and, with `service`
    (shared.auth.ServiceCredentials), that service's own credential beside it, as the service's client sends
    it (`x-sanji-service`)."""

    def __init__(self, stub, token: str | None, timeout: float = 20, service=None):
        from shared.grpc.client import bearer

        self._stub, self._timeout, self._service = stub, timeout, service
        self.md = bearer(token) if token else None

    def metadata(self):
        if self._service is None:
            return self.md
        from shared.grpc.client import SERVICE_KEY

        return (*(self.md or ()), (SERVICE_KEY, f"Bearer {self._service.token()}"))

    def __getattr__(self, method):
        return lambda request: getattr(self._stub, method)(request, metadata=self.metadata(), timeout=self._timeout)
