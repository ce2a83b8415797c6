"""The caller's trace context through the platform's gRPC server and client where no spans are kept
(OpenTelemetry's interceptors are then left out): what a call emits still carries the caller's trace."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, format_span_id, format_trace_id

from shared.grpc.client import make_channel
from shared.grpc.server import Registration
from tests.support import serving

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
METHOD = "/sanji.test.v1.Trace/Seen"


def _seen(request: bytes, context) -> bytes:
    """The traceparent the handler would put on what it emits."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "").encode()


def _add(servicer, server) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "sanji.test.v1.Trace", {"Seen": grpc.unary_unary_rpc_method_handler(_seen)}),))


class _NoTokens:
    def verify(self, token: str):
        raise AssertionError("a public method called without a token verifies nothing")


@pytest.fixture(scope="module")
def target():
    with serving([Registration(object(), _add, "sanji.test.v1.Trace", public_methods=("Seen",))], _NoTokens(),
                 workers=1) as t:                        # one worker thread: a context left attached would show
        yield t


def test_the_callers_trace_reaches_the_handler_through_the_platform_client(target):
    parent = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1)))
    channel = make_channel(target, spans=False)
    try:
        with trace.use_span(parent):
            seen = channel.unary_unary(METHOD)(b"", timeout=10).decode()
    finally:
        channel.close()
    assert seen == f"00-{format_trace_id(TRACE_ID)}-{format_span_id(SPAN_ID)}-01"


def test_a_traceparent_in_the_metadata_becomes_the_handlers_context(target):
    traceparent = f"00-{format_trace_id(TRACE_ID)}-{format_span_id(SPAN_ID)}-01"
    with grpc.insecure_channel(target) as channel:
        seen = channel.unary_unary(METHOD)(b"", metadata=(("traceparent", traceparent),), timeout=10).decode()
        assert seen == traceparent
        # the next call, on the same (only) worker thread, carries none: the context was detached
        assert channel.unary_unary(METHOD)(b"", timeout=10) == b""
        # an unreadable traceparent is ignored, never an error
        assert channel.unary_unary(METHOD)(b"", metadata=(("traceparent", "00-zz-1-01"),), timeout=10) == b""
