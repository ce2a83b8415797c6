"""What the intake's use cases take (the handlers' commands), plain Python: no I/O.

A gRPC request becomes `SubmitCommand` (translate.submit_command / proxy_command); an event of the approval
service becomes a `Record…` command (translate.record_decision …, through service.SUBSCRIPTIONS). The
handlers take these and domain values, never a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.intake.applicants import Applicant
from services.intake.domain import SubmittedMaterial


@dataclass(frozen=True)
class SubmitCommand:
    """SubmitApplication (a window, online or post submission) or SubmitProxyApplication (a proxy point's) — 收件."""

    idempotency_key: str
    item_id: str
    scenario_code: str
    applicant: Applicant
    materials: Sequence[SubmittedMaterial] = ()
    form: dict[str, str] = field(default_factory=dict)
    item_version: int = 0
    channel: int = 1
    proxy_request_id: str = ""


# What the approval service reports back (approval.events), as the consumer hands it over: the case by its
# number in the envelope's tenant, and `at`, the time the back office gives the step (None: it gave none).
@dataclass(frozen=True)
class RecordDecision:
    """case_decided: the decision (决定) on an accepted case."""

    case_number: str
    outcome: str                   # approved | denied
    document_number: str = ""
    reasons: tuple[str, ...] = ()
    decider: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True)
class RecordCompletion:
    """case_completed: 办结 (after fees_settled when the case has fees); the result can be handed out."""

    case_number: str
    outcome: str
    at: dt.datetime | None = None


@dataclass(frozen=True)
class RecordSuspension:
    """clock_suspended: a special procedure (特别程序) stops the back office's clock."""

    case_number: str
    procedure: str = ""            # its name as people read it (专家评审 …)
    days: int = 0
    suspended_on: str = ""
    notice_number: str = ""        # the written notice to the applicant (特别程序告知书)
    reason: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True)
class RecordResumption:
    """clock_resumed: the back office's clock runs again, perhaps with a new promised date."""

    case_number: str
    resumed_on: str = ""
    promised_due: str = ""
    at: dt.datetime | None = None
    statutory_due: str = ""


@dataclass(frozen=True)
class RecordDueDates:
    """due_date_reprojected (a published calendar year moved the case's dates) or deadline_extended (延期): the
    back office's due dates as of `at`, and for an extension its days and reason."""

    case_number: str
    at: dt.datetime | None
    promised_due: str = ""
    statutory_due: str = ""
    cause: str = ""
    extension_days: int = 0
    reason: str = ""
    approved_by: str = ""
