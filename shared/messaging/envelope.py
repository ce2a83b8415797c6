"""The event envelope on the wire (DESIGN §5), compatible with a nameko `@event_handler`.

Exchange `<service>.events` (topic, durable), routing key = event type, body = the event's proto3
JSON. The envelope travels as AMQP properties (`message_id` = event id, `type`, `timestamp`,
`app_id` = source service) and headers (`tenant`, `event_version`, `correlation_id`,
`traceparent`/`tracestate`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika
from google.protobuf.message import Message

from shared.errors import InvalidArgument
from shared.protojson import message_from_dict
from shared.tenancy import DivisionCode

EXCHANGE_SUFFIX = ".events"
TRACE_HEADERS = ("traceparent", "tracestate")
M = TypeVar("M", bound=Message)


class PoisonMessage(Exception):
    """A delivery that can never be handled: no valid envelope or an unparseable body.

    The consumer parks it in the dead-letter queue at once, without retries."""


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    tenant: str
    correlation_id: str | None
    event_version: int
    traceparent: str | None
    tracestate: str | None
    timestamp: int
    source: str
    body: dict[str, Any] = field(default_factory=dict)

    def message(self, cls: type[M]) -> M:
        """The body as the event's own message: the one typed way to read an event. A body that is not
        that message (or names another tenant than the envelope) can never be handled: PoisonMessage."""
        try:
            msg = message_from_dict(cls, self.body)
        except ValueError as exc:
            raise PoisonMessage(f"{self.event_type} {self.event_id}: {exc}") from None
        body_tenant = getattr(msg, "tenant", "") if "tenant" in cls.DESCRIPTOR.fields_by_name else ""
        if body_tenant and body_tenant != self.tenant:
            raise PoisonMessage(f"{self.event_type} {self.event_id}: body tenant {body_tenant!r} differs from the"
                                f" envelope's {self.tenant!r}")
        return msg


def exchange_for(service: str) -> str:
    return f"{service}{EXCHANGE_SUFFIX}"


def declare_exchange_args(service: str) -> dict[str, Any]:
    """Keyword arguments for `channel.exchange_declare`, the same wherever it is declared."""
    return {"exchange": exchange_for(service), "exchange_type": "topic", "durable": True,
            "auto_delete": False}


def _source_of(exchange: str) -> str:
    return exchange[: -len(EXCHANGE_SUFFIX)] if exchange.endswith(EXCHANGE_SUFFIX) else exchange


def _unix_seconds(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    return int(time.time())


def to_amqp(row: Mapping[str, Any]) -> tuple[str, str, pika.BasicProperties, bytes]:
    """One outbox row → (exchange, routing_key, properties, body) ready for `basic_publish`.

    `row` has the outbox columns: id, exchange, routing_key, tenant, correlation_id, event_version,
    body (proto3 JSON text), headers (jsonb: W3C trace context) and created_at."""
    extra = row.get("headers") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    headers: dict[str, Any] = {"tenant": row["tenant"], "event_version": int(row["event_version"])}
    if row.get("correlation_id"):
        headers["correlation_id"] = row["correlation_id"]
    headers.update({k: extra[k] for k in TRACE_HEADERS if extra.get(k)})
    props = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(row["id"]),
        type=row["routing_key"],
        timestamp=_unix_seconds(row.get("created_at")),
        app_id=_source_of(row["exchange"]),
        headers=headers,
    )
    return row["exchange"], row["routing_key"], props, row["body"].encode("utf-8")


def from_amqp(method: Any, properties: pika.BasicProperties, body: bytes) -> Envelope:
    """A delivery → Envelope. Raises PoisonMessage when the envelope or the body is unusable."""
    headers = properties.headers or {}
    try:
        event_id = str(uuid.UUID(str(properties.message_id)))
    except ValueError:
        raise PoisonMessage(f"message_id is not an event id (UUID): {properties.message_id!r}") from None
    tenant = headers.get("tenant")
    if not tenant:
        raise PoisonMessage("missing header 'tenant'")
    try:
        tenant = str(DivisionCode.parse(str(tenant)))
    except InvalidArgument:
        raise PoisonMessage(f"header 'tenant' is not a division code: {tenant!r}") from None
    try:
        version = int(headers.get("event_version", 1))
    except (TypeError, ValueError):
        raise PoisonMessage(f"header 'event_version' is not an integer: {headers.get('event_version')!r}") \
            from None
    try:
        data = json.loads(body.decode(properties.content_encoding or "utf-8"))
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise PoisonMessage(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PoisonMessage(f"body is JSON but not an object: {type(data).__name__}")
    event_type = properties.type or getattr(method, "routing_key", "")
    if not event_type:
        raise PoisonMessage("no event type (property 'type' or routing key)")
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        tenant=tenant,
        correlation_id=headers.get("correlation_id") or None,
        event_version=version,
        traceparent=headers.get("traceparent"),
        tracestate=headers.get("tracestate"),
        timestamp=int(properties.timestamp or 0),
        source=properties.app_id or _source_of(getattr(method, "exchange", "") or ""),
        body=data,
    )
