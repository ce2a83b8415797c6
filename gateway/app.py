"""The REST edge (FastAPI): every service's REST routes, the public pages and the staff console. It owns
no business data; it verifies the caller's token and calls the services over gRPC with that token, so
each service checks the same person again.

The routers are the registry's: one module `gateway/routes_<name>.py` for each row of shared/registry.py
with `rest`. A registered service without its router stops the gateway at start-up, not on a request.
"""

import importlib
from collections.abc import Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from gateway import contract, pages, routes_operations, tracing
from gateway import errors as http_errors
from gateway.edge import Edge
from gateway.inputs import check_inputs
from gateway.ratelimit import RateLimiter, RateLimitMiddleware
from gateway.settings import GatewaySettings
from shared import registry
from shared.auth import TokenVerifier


def routers(services: Iterable[registry.ServiceSpec] = registry.SERVICES) -> list[APIRouter]:
    """The router of each registered service with a REST edge, in the registry's order. Imported, not
    looked for: a missing module is the ModuleNotFoundError that names it."""
    return [importlib.import_module(f"gateway.routes_{spec.name}").router for spec in services if spec.rest]


@asynccontextmanager
async def _lifespan(app: FastAPI):
    yield
    app.state.edge.close()


def create_app(settings: GatewaySettings, *, verifier: TokenVerifier | None = None) -> FastAPI:
    app = FastAPI(
        title="sanji 县乡村三级政务服务平台 API",
        version="0.1.0",
        description="公开的办事指南查询与事项检索；各单位凭令牌管理本单位事项清单。错误信息为中文，422 时指明字段。",
        lifespan=_lifespan,
        # every route's inputs are checked once here (text PostgreSQL and UTF-8 can hold, numbers the protos carry)
        dependencies=[Depends(check_inputs)],
        # /docs logs in with the realm's authorization-code flow and PKCE, as the console does
        swagger_ui_init_oauth={"clientId": settings.oidc_client_id, "usePkceWithAuthorizationCodeGrant": True,
                               "scopes": "openid profile"},
    )
    http_errors.install(app)
    pages.install(app)           # pages answer errors as Chinese pages, with a Content-Security-Policy
    app.state.edge = Edge(settings, verifier or TokenVerifier.from_settings(settings))
    app.state.rate_limiter = RateLimiter(settings)
    app.add_middleware(RateLimitMiddleware)
    for router in routers():
        app.include_router(router)
    app.include_router(routes_operations.router)     # every service's parked events (issue 20 item 3)
    app.include_router(pages.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"status": "ok"}

    contract.install(app, settings)
    tracing.install(app)        # the trace id on every response, errors included (issue 23, item 5)
    return app


def instrument(app: FastAPI, tracer_provider=None) -> None:
    """OpenTelemetry's server span for every request; the trace-id layer stays the outermost."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    tracing.uninstall(app)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz", tracer_provider=tracer_provider)
    tracing.install(app, spans_inside=True)
