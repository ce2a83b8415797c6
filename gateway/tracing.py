"""The trace id of every request, returned to whoever made it (issue 23, item 5).

Every HTTP response carries `traceparent` (W3C) and `X-Trace-Id` (the 32 hex digits support staff search
for), and every error body carries `trace_id` too, so a complaint about a request ("办件提交失败，编号
…") leads to its trace through the gateway, the services, the outbox relay and the consumers.

The trace is the one OpenTelemetry's FastAPI instrumentation started (it continues the caller's
`traceparent`); where no span is started inside (a process without the instrumentation, as in tests), the
one this middleware holds: the caller's trace continued, or a new one, so the gRPC calls made for the
request carry the id that is returned. It is the outermost layer of the application (outside
OpenTelemetry's: `gateway.app.instrument` puts it back on top), so the 500 of an unexpected error carries
it too.
"""

from __future__ import annotations

import random

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, format_span_id, format_trace_id

TRACE_HEADER = "X-Trace-Id"
_RANDOM = random.SystemRandom()


def current_trace_id() -> str:
    """The current trace's id as 32 hex digits; empty when there is no trace."""
    ctx = trace.get_current_span().get_span_context()
    return format_trace_id(ctx.trace_id) if ctx.is_valid else ""


def _traceparent(ctx: SpanContext) -> str:
    return f"00-{format_trace_id(ctx.trace_id)}-{format_span_id(ctx.span_id)}-{int(ctx.trace_flags):02x}"


def _new_span_context(parent: SpanContext) -> SpanContext:
    """A span of the caller's trace (or of a new one) that records nothing: the request's place in the trace."""
    trace_id = parent.trace_id if parent.is_valid else _RANDOM.getrandbits(128) or 1
    flags = parent.trace_flags if parent.is_valid else TraceFlags(TraceFlags.DEFAULT)
    return SpanContext(trace_id, _RANDOM.getrandbits(64) or 1, is_remote=False, trace_flags=flags)


class TraceIdMiddleware:
    """Pure ASGI, outside every other layer: the trace id on the response's headers."""

    def __init__(self, app, *, spans_inside: bool = False):
        self.app = app
        self.spans_inside = spans_inside        # OpenTelemetry's middleware starts the request's span inside

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the request's place in the trace when nothing inside starts a span: the caller's trace continued,
        # or a new one (OpenTelemetry's middleware, where installed, continues the caller's itself)
        token = None
        if not self.spans_inside:
            carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            parent = trace.get_current_span(propagate.extract(carrier)).get_span_context()
            token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(_new_span_context(parent))))

        async def send_with_trace(message):
            if message["type"] == "http.response.start":
                # the span current where the response starts: the server span where the app is instrumented
                span_context = trace.get_current_span().get_span_context()
                extra = [(b"traceparent", _traceparent(span_context).encode()),
                         (TRACE_HEADER.lower().encode(), format_trace_id(span_context.trace_id).encode())]
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            if token is not None:
                otel_context.detach(token)


def install(app: FastAPI, *, spans_inside: bool = False) -> None:
    """Put `TraceIdMiddleware` outside every other layer of `app`, Starlette's error handling included (the
    500 of an unexpected error is answered outside every middleware added with `add_middleware`)."""
    if getattr(app, "_unwrapped_build_middleware_stack", None) is not None:
        return
    build = app.build_middleware_stack
    app._unwrapped_build_middleware_stack = build

    def build_with_trace_ids():
        return TraceIdMiddleware(build(), spans_inside=spans_inside)

    app.build_middleware_stack = build_with_trace_ids


def uninstall(app: FastAPI) -> None:
    """Take the layer off again (OpenTelemetry's instrumentation rebuilds the stack from Starlette's own)."""
    build = getattr(app, "_unwrapped_build_middleware_stack", None)
    if build is not None:
        app.build_middleware_stack = build
        app._unwrapped_build_middleware_stack = None
