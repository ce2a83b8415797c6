"""gRPC clients: the caller's token and the trace context travel with every call.

Service-to-service calls forward the calling user's token (the callee checks the same person);
the OpenTelemetry client interceptor injects `traceparent`.
"""

from __future__ import annotations

import collections

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor as otel_client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel as otel_intercept_channel

from shared.tenancy import current_principal_or_none


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                                     "wait_for_ready", "compression")),
               grpc.ClientCallDetails):
    pass


class ForwardCallerToken(grpc.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` of the principal bound to this call, unless set."""

    def intercept_unary_unary(self, continuation, client_call_details, request):
        metadata = list(client_call_details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            principal = current_principal_or_none()
            if principal is not None and principal.token:
                metadata.append(("authorization", f"Bearer {principal.token}"))
        details = _Details(client_call_details.method, client_call_details.timeout, metadata,
                           client_call_details.credentials, client_call_details.wait_for_ready,
                           client_call_details.compression)
        return continuation(details, request)


def make_channel(target: str) -> grpc.Channel:
    channel = grpc.insecure_channel(target, options=[("grpc.enable_retries", 1)])
    # OpenTelemetry's client interceptor has its own wrapping API; ours is a plain grpc interceptor
    traced = otel_intercept_channel(channel, otel_client_interceptor())
    return grpc.intercept_channel(traced, ForwardCallerToken())


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
