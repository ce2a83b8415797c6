"""Fees use cases: `FeesHandlers`, one object per concern, each method taking a command, running it in one
unit of work (or in the consumer's, for an event) and recording its events:

- catalogue   FeeCatalogueHandlers (catalogue_handlers.py): the fee catalogue (收费目录)
- cases       CaseHandlers (case_handlers.py): a case's fees from the decision to the one notice (缴款书)
- payments    PaymentHandlers (payment_handlers.py): the province's callbacks, receipts, reconciliation (对账)
- refunds     RefundHandlers (refund_handlers.py): refunds (退费)

They take and return domain values; the events they record are built by `events_out` (translate.EventsOut in
the service: `FeesEvents` below says what it builds), so nothing here knows the wire format.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from services.fees.assessment import FeeLine
from services.fees.case_handlers import CaseHandlers
from services.fees.catalogue import FeeItem, FeeVersion, WaiverReason
from services.fees.catalogue_handlers import FeeCatalogueHandlers
from services.fees.domain import CODE_MIN_LENGTH, CaseFees
from services.fees.payment_handlers import CallbackLimits, PaymentHandlers, ProvinceKeys
from services.fees.payments import Callback, MatchKind
from services.fees.refund_handlers import RefundHandlers
from services.fees.signing import Signer, Verifier
from shared.clock import Clock
from shared.db import Database


class FeesEvents(Protocol):
    """The events the fees service publishes, each built from domain values (translate.EventsOut)."""

    def fee_item_published(self, item: FeeItem, version: FeeVersion, at: dt.datetime | None) -> Any: ...

    def fee_item_cancelled(self, item: FeeItem, version: FeeVersion) -> Any: ...

    def fees_assessed(self, case: CaseFees, at: dt.datetime) -> Any: ...

    def fee_waived(self, case: CaseFees, line: FeeLine, reason: WaiverReason, approved_by: str,
                   at: dt.datetime) -> Any: ...

    def notice_issued(self, case: CaseFees, notice_number: str, total_fen: int, payee_account: str,
                      at: dt.datetime) -> Any: ...

    def payment_received(self, case: CaseFees, notice_number: str, payment: Callback, receipt_digest: str) -> Any: ...

    def fees_settled(self, case: CaseFees, notice_number: str, at: dt.datetime) -> Any: ...

    def payment_queued(self, tenant: str, payment: Callback, kind: MatchKind, expected_fen: int, case_number: str,
                       reconciliation_id: str, at: dt.datetime) -> Any: ...

    def refund_made(self, refund: dict, approved_by: str, at: dt.datetime) -> Any: ...


class FeesHandlers:
    """The fees service's use cases, built once by the composition root (and the tests' fixtures)."""

    def __init__(self, db: Database, *, province: Verifier | ProvinceKeys, receipt_signer: Signer,
                 events_out: FeesEvents,
                 clock: Clock | None = None, public_base_url: str = "http://127.0.0.1:8000",
                 limits: CallbackLimits | None = None, verification_code_length: int = CODE_MIN_LENGTH,
                 draw: Callable[[int], int] = secrets.randbelow):
        """`draw(n)`: an integer in [0, n) for the random digits of notice numbers and the verification
        codes — `secrets.randbelow`; a test that must know a number in advance gives a seeded generator."""
        clock = clock or Clock()
        self.catalogue = FeeCatalogueHandlers(db, events_out=events_out, clock=clock)
        self.payments = PaymentHandlers(db, events_out=events_out, clock=clock, province=province,
                                        receipt_signer=receipt_signer, limits=limits)
        self.cases = CaseHandlers(db, events_out=events_out, clock=clock, payments=self.payments,
                                  public_base_url=public_base_url, verification_code_length=verification_code_length,
                                  draw=draw)
        self.refunds = RefundHandlers(db, events_out=events_out, clock=clock)
