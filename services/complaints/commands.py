"""What the complaints use cases take (the handlers' commands), plain Python: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.complaints.domain import Complainant, Subject


@dataclass(frozen=True)
class FileComplaint:
    """FileComplaint — 登记投诉 (the hall's 吐槽找茬 window, a village agent, the public page, the 12345 hotline)."""

    channel: str
    kind: str
    category: str
    content: str
    subject: Subject
    complainant: Complainant
    lead_department: str = ""
    co_departments: tuple[str, ...] = ()
    external_id: str | None = None       # the hotline's hand-over id


@dataclass(frozen=True)
class RatingInput:
    """A rating (好差评) as given: level 1 非常满意 … 5 非常不满意, indicators code → level."""

    level: int
    indicators: Mapping[str, int] = field(default_factory=dict)
    text: str = ""
    rater_name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class SubmitRating:
    channel: str
    tenant: str
    rating: RatingInput
    case_number: str = ""
    item_id: str = ""
    staff: str = ""
    department: str = ""


@dataclass(frozen=True)
class CaseAccepted:
    """intake.application_accepted, as the complaints service keeps it."""

    case_number: str
    tenant: str
    id_suffix: str
    item_id: str
    item_name: str
    department: str
    accepted_by: str
    accepted_at: str


@dataclass(frozen=True)
class Escalation:
    """complaints.complaint_escalated, read back to open the complaint at the level above."""

    number: str
    from_tenant: str
    to_tenant: str
    category: str
    content: str
    kind: str
    anonymous: bool
    complainant: Complainant
    subject: Subject
    channel: str
    filed_by_tenant: str
    follow_code: str
    round: int
    to_supervision: bool = False    # the level above is not on the platform: nothing to open
