"""Issue 23, item 5: every HTTP response says which trace it is (`traceparent`, `X-Trace-Id`), every error
body too (`trace_id`), the 500 of an unexpected error included, and it is the trace the request's calls to
the services carry, so a complaint about a request leads to its trace."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from gateway.app import create_app, instrument
from gateway.settings import GatewaySettings
from shared.errors import NotFound

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class _NoTokens:
    def verify(self, token: str):
        raise AssertionError("no route of this test verifies a token")


def _app():
    app = create_app(GatewaySettings(), verifier=_NoTokens())

    @app.get("/test/outgoing")
    def outgoing():
        """What a gRPC call made here would carry (the platform's client injects the current context)."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier

    @app.get("/test/page-error")
    def page_error():
        raise NotFound("没有这个办件")

    @app.get("/test/boom")
    def boom():
        raise RuntimeError("an unexpected fault")

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(_app(), raise_server_exceptions=False) as c:
        yield c


def _trace_of(response) -> str:
    found = TRACEPARENT.match(response.headers["traceparent"])
    assert found, response.headers["traceparent"]
    assert response.headers["x-trace-id"] == found.group(1)
    return found.group(1)


def test_every_response_names_its_trace_and_the_calls_it_makes_carry_it(client):
    r = client.get("/test/outgoing")
    trace_id = _trace_of(r)
    assert trace_id != "0" * 32
    assert TRACEPARENT.match(r.json()["traceparent"]).group(1) == trace_id
    assert _trace_of(client.get("/test/outgoing")) != trace_id          # one trace per request
    assert _trace_of(client.get("/healthz"))


def test_the_callers_trace_is_continued(client):
    r = client.get("/test/outgoing", headers={"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"})
    assert _trace_of(r) == CALLER_TRACE
    assert r.json()["traceparent"].split("-")[1] == CALLER_TRACE
    # an unreadable traceparent is ignored: a trace of its own, never an error
    r = client.get("/test/outgoing", headers={"traceparent": "00-zz-1-01"})
    assert r.status_code == 200 and _trace_of(r) != CALLER_TRACE


@pytest.mark.parametrize("path,status", [("/api/v1/no-such-route", 404), ("/test/boom", 500),
                                         ("/api/v1/public/items?limit=abc", 422)])
def test_every_error_body_carries_the_trace_id(client, path, status):
    r = client.get(path, headers={"accept": "application/json"})
    assert r.status_code == status
    trace_id = _trace_of(r)
    assert r.json()["trace_id"] == trace_id and r.json()["message"]


def test_the_chinese_error_page_shows_the_trace_id(client):
    r = client.get("/test/page-error", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "没有这个办件" in r.text
    assert f'追踪编号：<code id="trace-id">{_trace_of(r)}</code>' in r.text


def test_with_opentelemetrys_instrumentation_the_id_is_the_server_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = _app()
    instrument(app, tracer_provider=provider)
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            ok = c.get("/test/outgoing")
            failed = c.get("/test/boom")
            continued = c.get("/test/outgoing", headers={"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"})
    finally:
        provider.shutdown()
    servers = {format_trace_id(s.context.trace_id): s for s in exporter.get_finished_spans()
               if s.kind == SpanKind.SERVER}
    for r in (ok, failed, continued):
        assert _trace_of(r) in servers
    assert _trace_of(continued) == CALLER_TRACE
    assert failed.status_code == 500 and failed.json()["trace_id"] == _trace_of(failed)
    assert TRACEPARENT.match(ok.json()["traceparent"]).group(1) == _trace_of(ok)
