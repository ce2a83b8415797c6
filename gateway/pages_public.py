"""Public pages without login (they work on a phone): the fee catalogue with each fee's basis and the
supervision channel. The guide search is the home page (gateway/pages.py); the progress page is intake's
(gateway/routes_intake.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sanji.fees.v1 import fees_pb2 as fpb

from gateway.pages_kit import render
from gateway.routes_fees import fees

router = APIRouter(include_in_schema=False)


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


@router.get("/fees", response_class=HTMLResponse)
def fee_catalogue(request: Request, region: str = Query("", max_length=12, pattern=r"^\d*$")):
    items = fees.call(request, None, "ListPublicFeeItems", fpb.ListPublicFeeItemsRequest(region=region)).items
    return render(request, "fees.html", {"items": items, "region": region, "yuan": yuan})
