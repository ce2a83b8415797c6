"""The docking gateway's adapters to the platform services it calls over gRPC. Built at the composition root;
they take and give plain values (the handlers never build or read a message of another service's API)."""

from __future__ import annotations

from typing import Any

from sanji.fees.v1 import fees_pb2, fees_pb2_grpc

from shared.grpc.client import make_channel


class FeesClient:
    """The fees service's payment callback (public, verified by the payment platform's own SM2 signature):
    the province's callbacks reach it through docking, under docking's signature and replay policy."""

    def __init__(self, target: str, *, timeout: float = 15.0):
        self._stub = fees_pb2_grpc.FeesServiceStub(make_channel(target))
        self._timeout = timeout

    def record_callback(self, fields: dict[str, str], signature: str) -> dict[str, Any]:
        r = self._stub.RecordPaymentCallback(fees_pb2.PaymentCallback(fields=fields, signature=signature),
                                             timeout=self._timeout)
        return {"status": r.outcome, "payment_id": r.payment_id, "notice_number": r.notice_number,
                "settled": r.settled}
