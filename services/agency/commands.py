"""What the agency's use cases take (the handlers' commands), plain Python: no I/O.

A gRPC request becomes `RequestProxy` (translate.request_proxy_command); intake's progress event becomes
`RecordProgress` (translate.record_progress, through service.SUBSCRIPTIONS). The handlers take these and
domain values, never a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.agency.domain import Resident


@dataclass(frozen=True)
class AuthorisationInput:
    """The resident's authorisation (委托书) as the request gives it, checked into `domain.Authorisation`."""

    signed_on: str = ""
    scope: str = ""
    document_ref: str = ""
    valid_until: str = ""


@dataclass(frozen=True)
class RequestProxy:
    """RequestProxy — 登记代办申请."""

    resident: Resident
    special_group: str
    door_to_door: bool
    item_id: str
    scenario_code: str
    authorisation: AuthorisationInput
    key_project: bool = False
    project_name: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class RecordProgress:
    """proxy_application_progressed (intake.events): one step of the application intake took in for a proxy
    request, addressed to the proxy point's tenant. `at`: when it happened, None when the event does not say."""

    request_id: str
    step: str
    proxy_tenant: str = ""
    application_id: str = ""
    handling_tenant: str = ""
    case_number: str = ""
    detail: str = ""
    material_codes: tuple[str, ...] = ()
    at: dt.datetime | None = None
    query_code: str = ""            # step accepted: the 查询码 the resident looks the case up with
