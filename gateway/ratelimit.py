"""Rate limits per client on every route anyone may call without logging in (issue 15, item 5).

The counting is the `limits` library's (a moving window in the configured storage); this module only says
which budget a request draws on and answers 429 in Chinese with Retry-After when it is spent. The client is
the address `Edge.client_address` gives (the peer, or the forwarded client behind a trusted proxy).

Budgets (GatewaySettings.rate_limit_*, defaults there):
- `lookup`: the public progress lookup and the payment status (what an enumeration tries);
- `callback`: the provincial payment platform's callback;
- `login`: the console's login and callback;
- `public`: every other route that needs no login — found from the routes, not listed: a route without
  the `current_user` dependency is public, so a new public route is limited without anyone remembering.
Routes that need a login are not limited here (the token names who calls); /healthz and the console
pages (which only redirect a visitor without a session to the login) are not limited either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge import current_user
from gateway.errors import body

LOOKUP, PUBLIC, CALLBACK, LOGIN = "lookup", "public", "callback", "login"
# routes with a budget of their own; None: not limited
BY_PATH: dict[str, str | None] = {
    "/api/v1/public/progress": LOOKUP,
    "/progress": LOOKUP,
    "/complaints/follow": LOOKUP,     # a complaint's number with 4 digits of a phone
    "/rate": LOOKUP,                  # a case number with 6 digits of an ID
    "/api/v1/payments/{notice_number}/status": LOOKUP,
    "/api/v1/payments/callback": CALLBACK,
    # complaints (issue 16): the follow-up and the ratings prove a secret (phone digits, ID suffix): lookups;
    # the 12345 hotline's signed hand-over counts as a callback
    "/api/v1/public/complaints/follow": LOOKUP,
    "/api/v1/public/complaints/satisfaction": LOOKUP,
    "/api/v1/public/ratings": LOOKUP,
    "/api/v1/public/rectifications/rate": LOOKUP,
    "/api/v1/hotline/complaints": CALLBACK,
    "/console/login": LOGIN,
    "/console/callback": LOGIN,
    "/console": None,
    "/console/logout": None,
    "/healthz": None,
}


def needs_login(dependant: Dependant) -> bool:
    return any(d.call is current_user or needs_login(d) for d in dependant.dependencies)


def budget_of(route: BaseRoute) -> str | None:
    path = getattr(route, "path", "")
    if path in BY_PATH:
        return BY_PATH[path]
    if isinstance(route, APIRoute) and needs_login(route.dependant):
        return None
    return PUBLIC


class RateLimiter:
    """The budgets of one app and where their counts live."""

    def __init__(self, settings):
        self.limits: dict[str, list[RateLimitItem]] = {
            LOOKUP: parse_many(settings.rate_limit_lookup), PUBLIC: parse_many(settings.rate_limit_public),
            CALLBACK: parse_many(settings.rate_limit_callback), LOGIN: parse_many(settings.rate_limit_login)}
        self.strategy = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self._budgets: dict[int, str | None] = {}
        self._routes: list[BaseRoute] | None = None

    def budget(self, routes: Iterable[BaseRoute], scope: Scope) -> str | None:
        """The budget of the route the request is for (each included router's routes as they were declared)."""
        if self._routes is None:
            self._routes = [ctx.original_route for ctx in iter_route_contexts(list(routes))]
        partial = None
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return self._budget(route)
            if match is Match.PARTIAL and partial is None:
                partial = route
        # a method the route does not take is still a request to it; no route at all: the public's 404
        return self._budget(partial) if partial is not None else PUBLIC

    def _budget(self, route: BaseRoute) -> str | None:
        if id(route) not in self._budgets:
            self._budgets[id(route)] = budget_of(route)
        return self._budgets[id(route)]

    def retry_after(self, budget: str, client: str) -> int | None:
        """Count one request of `client` against `budget`: None if it may go on, else the seconds to wait."""
        for limit in self.limits[budget]:
            if not self.strategy.hit(limit, budget, client):
                reset = self.strategy.get_window_stats(limit, budget, client).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None


class RateLimitMiddleware:
    """Pure ASGI: a request over its client's budget never reaches the routes (nor the body parser)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        app = scope["app"]
        limiter: RateLimiter = app.state.rate_limiter
        budget = limiter.budget(app.router.routes, scope)
        if budget is not None:
            request = Request(scope)
            wait = limiter.retry_after(budget, app.state.edge.client_address(request))
            if wait is not None:
                response = body("rate_limited", f"请求过于频繁，请于 {wait} 秒后再试", status=429)
                response.headers["retry-after"] = str(wait)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)
