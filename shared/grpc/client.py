"""gRPC clients: the caller's token and the trace context travel with every call.

Service-to-service calls forward the calling user's token (the callee checks the same person) and, from a
service with credentials, the service's own client-credentials token (`x-sanji-service`), which internal
methods require;
the OpenTelemetry client interceptor injects `traceparent` where the process keeps spans, and where it keeps
none the token interceptor injects the current trace context itself (no client span made per call).
"""

from __future__ import annotations

import collections

import grpc
from opentelemetry import propagate
from opentelemetry.instrumentation.grpc import client_interceptor as otel_client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel as otel_intercept_channel

from shared.auth import ServiceCredentials
from shared.telemetry import spans_recorded
from shared.tenancy import current_principal_or_none

SERVICE_KEY = "x-sanji-service"     # read by shared.grpc.server.PlatformInterceptor


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials",
                                                     "wait_for_ready", "compression")),
               grpc.ClientCallDetails):
    pass


class ForwardCallerToken(grpc.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` of the principal bound to this call, unless set; with
    `trace_context`, also the current trace context (`traceparent`, `tracestate`), unless set."""

    def __init__(self, *, trace_context: bool = False, service: ServiceCredentials | None = None):
        self._trace_context = trace_context
        self._service = service

    def intercept_unary_unary(self, continuation, client_call_details, request):
        metadata = list(client_call_details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            principal = current_principal_or_none()
            if principal is not None and principal.token:
                metadata.append(("authorization", f"Bearer {principal.token}"))
        if self._service is not None and not any(k == SERVICE_KEY for k, _ in metadata):
            metadata.append((SERVICE_KEY, f"Bearer {self._service.token()}"))
        if self._trace_context and not any(k == "traceparent" for k, _ in metadata):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            metadata.extend(carrier.items())
        details = _Details(client_call_details.method, client_call_details.timeout, metadata,
                           client_call_details.credentials, client_call_details.wait_for_ready,
                           client_call_details.compression)
        return continuation(details, request)


def make_channel(target: str, *, spans: bool | None = None, service: ServiceCredentials | None = None) -> grpc.Channel:
    """A channel that forwards the caller's token and trace context, and with `service` this service's own
    credential. `spans`: a client span per call (OpenTelemetry's interceptor); None: as this process's
    telemetry says."""
    # round_robin: a target that names several addresses (`ipv4:a:p,b:p`, a headless k8s Service's DNS name)
    # spreads the calls over every replica; with one address it is the same as pick_first
    # reconnect backoff capped at 2 s (gRPC's default grows to 120 s): a service restarted by its supervisor, a
    # rollout or a drill is reached again within 2 s of serving, instead of the caller answering 503 for minutes
    channel = grpc.insecure_channel(target, options=[("grpc.enable_retries", 1),
                                                     ("grpc.lb_policy_name", "round_robin"),
                                                     ("grpc.initial_reconnect_backoff_ms", 200),
                                                     ("grpc.min_reconnect_backoff_ms", 200),
                                                     ("grpc.max_reconnect_backoff_ms", 2000)])
    if spans_recorded() if spans is None else spans:
        # OpenTelemetry's client interceptor has its own wrapping API; ours is a plain grpc interceptor
        traced = otel_intercept_channel(channel, otel_client_interceptor())
        return grpc.intercept_channel(traced, ForwardCallerToken(service=service))
    return grpc.intercept_channel(channel, ForwardCallerToken(trace_context=True, service=service))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
