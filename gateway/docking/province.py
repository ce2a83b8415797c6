"""The provincial platform over HTTP (the adapter; infra/province is the loopback counterpart tests run
against): reports up, the standard catalogue down, the receipt log for reconciliation. Every request body is
a signed envelope; every answer we rely on is one too, verified with the province's key."""

from __future__ import annotations

from typing import Any

import httpx


class ProvinceUnavailable(Exception):
    """The province did not take the message (down, slow, an error answer): try again later."""


class ProvinceClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, trust_env=False)

    def post_report(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The province's signed receipt of one report; ProvinceUnavailable when it did not take it."""
        try:
            r = self._http.post(f"{self.base_url}/api/reports", json=envelope)
        except httpx.HTTPError as exc:
            raise ProvinceUnavailable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise ProvinceUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        try:
            return r.json()
        except ValueError:
            raise ProvinceUnavailable("the province's answer is not JSON") from None

    def fetch(self, path: str, envelope: dict[str, Any]) -> dict[str, Any]:
        """A signed query (catalogue, receipts); the province's signed answer."""
        try:
            r = self._http.post(f"{self.base_url}{path}", json=envelope)
        except httpx.HTTPError as exc:
            raise ProvinceUnavailable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise ProvinceUnavailable(f"HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    def close(self) -> None:
        self._http.close()
