"""OpenTelemetry, set up once per process.

Exporter by setting (`SANJI_OTEL_EXPORTER`): `none` (trace context still propagates), `console`,
`otlp` (to `SANJI_OTEL_ENDPOINT`), or `jsonl:<path>` (one span per line in a file, `{service}` in the
path replaced by the service's name; tests read it).
A trace started at the gateway continues through gRPC (interceptors), the outbox (the traceparent
is stored with the event), RabbitMQ (envelope header) and the consumer; SQL statements appear as
child spans through the SQLAlchemy instrumentation.
"""

from __future__ import annotations

import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

_lock = threading.Lock()
_provider: TracerProvider | None = None
_recording = False


def spans_recorded() -> bool:
    """Whether this process keeps spans (an exporter is set up). When it does not, the busiest paths (the
    outbox relay, the event consumer) make no span of their own and pass the trace context they received
    on as it is: the trace id still travels from the gateway to the last consumer, at no cost per event."""
    return _recording


def setup_telemetry(service_name: str, exporter: str = "none", endpoint: str = "") -> TracerProvider:
    global _provider, _recording
    with _lock:
        if _provider is not None:
            return _provider
        # with no exporter nothing is recorded (spans would only cost CPU), but trace ids still travel
        # in traceparent/the envelope, so a collector switched on later sees whole traces
        sampler = ALWAYS_OFF if exporter == "none" else ParentBased(ALWAYS_ON)
        provider = TracerProvider(resource=Resource.create({"service.name": f"sanji-{service_name}"}),
                                  sampler=sampler)
        if exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
        elif exporter.startswith("jsonl:"):
            path = exporter.split(":", 1)[1].replace("{service}", service_name)
            out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            provider.add_span_processor(SimpleSpanProcessor(
                ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")))
        elif exporter != "none":
            raise ValueError(f"unknown SANJI_OTEL_EXPORTER {exporter!r}")
        trace.set_tracer_provider(provider)
        _provider, _recording = provider, exporter != "none"
        return provider


def shutdown_telemetry() -> None:
    if _provider is not None:
        _provider.shutdown()
