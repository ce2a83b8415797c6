"""Use cases of payments: the provincial payment platform's callbacks (authenticated by its SM2 signature,
not by a user), the receipt they make of a notice, the public payment status, and reconciliation (对账):
the queue of payments that matched no notice, its resolution, the daily report. The rules are in
payments.py; part of FeesHandlers (handlers.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from services.fees import documents, domain
from services.fees.domain import READERS, CaseFees, CaseStatus
from services.fees.money import yuan
from services.fees.payments import (
    MATCH_LABELS,
    PAYEE_MISMATCH,
    Callback,
    EntryStatus,
    MatchKind,
    canonical_form,
    check_day,
    check_paid_at,
    check_payee,
    check_refund,
    check_resolution,
    match,
    parse_callback,
    receipt_text,
    rejection_record,
)
from services.fees.repository import FeesRepository
from services.fees.signing import Signer, Verifier, sm3_hex
from shared.clock import CHINA_TZ, Clock
from shared.db import Database, UnitOfWork
from shared.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from shared.provinces import ProvinceBook
from shared.tenancy import DivisionCode, Principal, Role, can_read
from shared.validation import page, uuid_field

if TYPE_CHECKING:
    from services.fees.handlers import FeesEvents

log = logging.getLogger("sanji.fees")

MAX_CALLBACK_FIELDS = 40
# the name of a payment key set, as the province's record spells it (services/catalogue/provinces.py _KEY_REF)
KEY_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_CALLBACK_VALUE = 1000


@dataclass(frozen=True)
class CallbackLimits:
    """The callback's bounds (FeesSettings: every number a default a province may change, said there)."""

    clock_skew: dt.timedelta = dt.timedelta(minutes=5)   # paid_at: ahead of now, behind the notice's issue
    rejection_body_bytes: int = 2048                    # stored of one refused callback's fields
    rejections_stored_per_minute: int = 60              # refusals stored a minute; beyond: counted only


def _iso(ts: dt.datetime | None) -> str:
    return ts.isoformat() if ts else ""


def locked_case(repo: FeesRepository, number: str) -> CaseFees:
    """The case's fees, locked for this transaction; NotFound when the case has none."""
    case = repo.get_case(number, lock=True)
    if case is None:
        raise NotFound("该办件尚无收费记录")
    return case


@dataclass(frozen=True)
class ProvinceKeys:
    """Which key signs a province's payment callbacks (issue 23: several provinces in one deployment, each with
    its own public payment platform): the key of the province the callback's unit belongs to — the notice
    number's unit, else the payee account's.

    The province's record at the catalogue names its key set (`payment_key_ref`, managed by the province's
    administrator); the key itself is this service's configuration (`by_ref`: key set name → public key,
    FeesSettings.fees_payment_key_sets), never the record's. A province without a record, or whose record names
    no key set, signs with `default`; a record naming a key set this deployment does not hold verifies nothing
    (`of` answers None: every callback for that province is refused and logged, never checked with another
    province's key). `records` None: `default` for every province (one province per deployment)."""

    default: Verifier
    by_ref: Mapping[str, Verifier] = field(default_factory=dict)
    records: ProvinceBook | None = None

    def __post_init__(self) -> None:
        bad = [r for r in self.by_ref if not KEY_REF.match(r)]
        if bad:
            raise ValueError(f"a payment key set is named by letters, digits and _.:- (1-64), not {bad}")

    def of(self, province: str) -> Verifier | None:
        """The key that must have signed a callback for a unit of `province` (2 digits; '' → `default`)."""
        if self.records is None or not province:
            return self.default
        record = self.records.get(province)
        if record is None or not record.payment_key_ref:
            return self.default
        key = self.by_ref.get(record.payment_key_ref)
        if key is None:
            log.error("province %s names payment key set %r, which this deployment does not hold: its callbacks"
                      " are refused", province, record.payment_key_ref)
        return key


class PaymentHandlers:
    def __init__(self, db: Database, *, events_out: FeesEvents, clock: Clock, province: Verifier | ProvinceKeys,
                 receipt_signer: Signer, limits: CallbackLimits | None = None):
        self.db = db
        self.events_out = events_out
        self.clock = clock
        self.province = province if isinstance(province, ProvinceKeys) else ProvinceKeys(province)
        self.signer = receipt_signer
        self.limits = limits or CallbackLimits()

    # -- callbacks (authenticated by the province's SM2 signature) -------------------------------
    def record_callback(self, fields: dict[str, str], signature: str) -> dict:
        if len(fields) > MAX_CALLBACK_FIELDS or any(len(str(k)) > 64 or len(str(v)) > MAX_CALLBACK_VALUE
                                                    for k, v in fields.items()):
            self._reject("oversized callback", fields, signature)
            raise InvalidArgument("fields", "回调字段过多或过长")
        data = canonical_form(fields)
        # the province whose platform must have signed: the notice number's unit's, else the payee account's
        named = domain.notice_tenant(str(fields.get("notice_number", "")))
        if named is None:
            with self.db.unit_of_work() as uow:
                owner = FeesRepository(uow).account_owner(str(fields.get("payee_account", "")))
            named = owner.tenant if owner is not None else None
        key = self.province.of(named[:2] if named else "")
        if key is None or not key.verify(signature, data):
            self._reject("signature does not verify", fields, signature)
            raise Unauthenticated("支付回调签名验证失败，已拒绝并记录")
        now = self.clock.now()
        try:
            cb = parse_callback(fields)
            check_paid_at(cb.paid_at, now, self.limits.clock_skew)
        except InvalidArgument as exc:
            self._reject(f"invalid field {exc.field}: {exc.message}", fields, signature)
            raise
        with self.db.unit_of_work() as uow:
            account = FeesRepository(uow).account_owner(cb.payee_account)
        if account is None:
            self._reject("payee account is not a treasury account of this platform", fields, signature)
            raise FailedPrecondition("收款账户不是本平台登记的国库或非税收入账户，已拒绝并记录")
        tenant = domain.notice_tenant(cb.notice_number)
        if tenant is None or not DivisionCode(account.tenant).contains(DivisionCode(tenant)):
            # the account is not one the number's unit collects with: a notice of that number, if there is
            # one, was not paid by this; a number that names no notice goes to the account's queue
            if tenant is not None and self._notice_exists(tenant, cb.notice_number):
                self._reject("payee account is not the notice's", fields, signature)
                raise FailedPrecondition(PAYEE_MISMATCH)
            tenant = account.tenant
        paying = self.province.of(tenant[:2])
        if paying is None or paying.public_key != key.public_key:
            # signed with another province's key than the one whose unit the money goes to
            self._reject("signed by another province's payment platform", fields, signature)
            raise Unauthenticated("支付回调签名验证失败，已拒绝并记录")
        digest = sm3_hex(data)
        try:
            with self.db.unit_of_work(tenant=tenant) as uow:
                result = self._record(uow, tenant, cb, fields, signature, digest, now)
                uow.commit()
        except IntegrityError:
            # the payment id is known under another unit: the province reused it
            self._reject("payment id already recorded elsewhere", fields, signature)
            raise AlreadyExists("该支付流水号已登记，回调内容不一致，已拒绝并记录") from None
        if result.get("conflict"):
            self._reject("same payment id, different content", fields, signature)
            raise AlreadyExists("该支付流水号已登记，回调内容不一致，已拒绝并记录")
        if "refused" in result:
            reason, exc = result["refused"]
            self._reject(reason, fields, signature)
            raise exc
        return result

    def _notice_exists(self, tenant: str, number: str) -> bool:
        with self.db.unit_of_work(tenant=tenant) as uow:
            return FeesRepository(uow).get_notice(number) is not None

    def _record(self, uow: UnitOfWork, tenant: str, cb: Callback, fields: dict, signature: str, digest: str,
                now: dt.datetime) -> dict:
        repo = FeesRepository(uow)
        repo.lock(cb.notice_number)
        existing = repo.get_payment(cb.payment_id)
        if existing is not None:
            if existing["fields_digest"] != digest:
                return {"conflict": True}
            log.info("payment %s reported again; already recorded", cb.payment_id)
            return {"outcome": "duplicate", "payment_id": cb.payment_id, "notice_number": cb.notice_number,
                    "message": "该笔缴款已登记，重复通知不重复入账"}
        notice = repo.get_notice(cb.notice_number, lock=True)
        if notice is not None and notice["tenant"] != tenant:  # pragma: no cover — RLS hides it anyway
            notice = None
        if notice is not None:
            # refused, nothing recorded: money paid to another account is not the notice's payment, and a
            # payment stamped before its notice existed is not one the province made for it
            try:
                check_payee(notice["payee_account"], cb.payee_account)
            except DomainError as exc:
                return {"refused": ("payee account is not the notice's", exc)}
            try:
                check_paid_at(cb.paid_at, now, self.limits.clock_skew, issued_at=notice["issued_at"])
            except InvalidArgument as exc:
                return {"refused": (f"invalid field {exc.field}: {exc.message}", exc)}
        kind = match(notice["status"] if notice else None, notice["total_fen"] if notice else 0, cb.amount_fen)
        repo.insert_payment({"now": now, "payment_id": cb.payment_id, "tenant": tenant,
                             "notice_number": cb.notice_number,
                             "matched_notice": cb.notice_number if kind == MatchKind.MATCHED else None,
                             "amount_fen": cb.amount_fen, "paid_at": cb.paid_at, "payer_name": cb.payer_name,
                             "channel": cb.channel, "payee_account": cb.payee_account,
                             "fields": json.dumps(fields, ensure_ascii=False), "fields_digest": digest,
                             "signature": signature, "outcome": "matched" if kind == MatchKind.MATCHED else "queued"})
        if kind == MatchKind.MATCHED:
            case = locked_case(repo, notice["case_number"])
            self.apply_payment(uow, repo, case, notice, cb, now)
            return {"outcome": "recorded", "payment_id": cb.payment_id, "notice_number": cb.notice_number,
                    "message": "缴款已入账", "settled": case.status == CaseStatus.SETTLED}
        case_number = notice["case_number"] if notice else ""
        expected = notice["total_fen"] if notice else 0
        entry_id = repo.add_entry({"now": now, "tenant": tenant, "kind": str(kind), "payment_id": cb.payment_id,
                                   "notice_number": cb.notice_number, "case_number": case_number,
                                   "amount_fen": cb.amount_fen, "expected_fen": expected})
        log.warning("payment %s for notice %s queued for reconciliation: %s", cb.payment_id, cb.notice_number, kind)
        uow.emit(self.events_out.payment_queued(tenant, cb, kind, expected, case_number, entry_id, now),
                 correlation_id=case_number or cb.notice_number)
        return {"outcome": "queued", "payment_id": cb.payment_id, "notice_number": cb.notice_number,
                "message": f"已转入对账队列：{MATCH_LABELS[kind]}", "reconciliation_id": entry_id}

    def _reject(self, reason: str, fields: dict, signature: str) -> None:
        """Keep a refused callback for the security log, bounded: one refusal keeps at most
        `rejection_body_bytes` of its fields (payments.rejection_record), and at most
        `rejections_stored_per_minute` refusals are kept a minute — the others are only counted, so a flood
        of refusals without a login costs a bounded amount of storage (issue 15, item 5)."""
        record = rejection_record(reason, fields, signature, self.limits.rejection_body_bytes)
        minute = self.clock.now().replace(second=0, microsecond=0)
        cap = self.limits.rejections_stored_per_minute
        with self.db.unit_of_work() as uow:
            repo = FeesRepository(uow)
            seen = repo.count_rejection(minute)
            if seen <= cap:
                repo.log_rejection(record, minute)
            uow.commit()
        if seen <= cap:
            log.warning("payment callback refused (%s): payment_id=%s notice=%s", reason, record["payment_id"],
                        record["notice_number"])
        elif seen == cap + 1:
            log.warning("payment callbacks refused: %d this minute; from now on this minute they are counted,"
                        " not stored", seen)

    def apply_payment(self, uow: UnitOfWork, repo: FeesRepository, case: CaseFees, notice: dict, cb: Callback,
                      now: dt.datetime) -> None:
        """The notice becomes the receipt: countersigned over the notice and the payment."""
        receipt = receipt_text({**notice, "issued_at": _iso(notice["issued_at"])}, case.lines, cb)
        data = receipt.encode("utf-8")
        digest = sm3_hex(data)
        repo.mark_notice_paid(notice["notice_number"], cb.payment_id, cb.paid_at, {
            "text": receipt, "digest": digest, "sig": self.signer.sign(data), "signer": self.signer.key_id})
        case.mark_paid(cb.amount_fen, now)
        repo.save_case(case)
        uow.emit(self.events_out.payment_received(case, notice["notice_number"], cb, digest),
                 correlation_id=case.case_number)
        if case.status == CaseStatus.SETTLED:
            uow.emit(self.events_out.fees_settled(case, notice["notice_number"], now), correlation_id=case.case_number)

    def match_late(self, uow: UnitOfWork, repo: FeesRepository, case: CaseFees, notice: dict, entry: dict,
                   now: dt.datetime) -> dict:
        """A payment queued before its notice existed, now that it does: matched and applied when it fits,
        else left open with what is wrong with it. The notice as it is now."""
        kind = match(notice["status"], notice["total_fen"], entry["amount_fen"], notice["payee_account"],
                     entry["payee_account"])
        if kind != MatchKind.MATCHED:
            repo.update_entry(str(entry["id"]), status=EntryStatus.OPEN, kind=str(kind),
                              expected_fen=notice["total_fen"], case_number=case.case_number, now=now)
            return notice
        repo.update_entry(str(entry["id"]), status=EntryStatus.MATCHED, case_number=case.case_number,
                          expected_fen=notice["total_fen"], resolution="缴款书开具后自动匹配", resolved_by="system",
                          now=now)
        repo.match_payment(entry["payment_id"], notice["notice_number"])
        cb = Callback(entry["payment_id"], notice["notice_number"], entry["amount_fen"], entry["paid_at"],
                      entry["payee_account"], entry["payer_name"])
        self.apply_payment(uow, repo, case, notice, cb, now)
        return repo.get_notice(notice["notice_number"])

    def payment_status(self, notice_number: str, code: str) -> dict:
        """Public: what a payer may know by the notice they hold — its number and the verification code
        printed on it (and in its QR code) — nothing personal. A wrong code is answered as an unknown number
        is, and compared in constant time (domain.same_code)."""
        number, tenant = domain.check_notice_number(notice_number)
        code = domain.check_verification_code(code)
        with self.db.unit_of_work(tenant=tenant) as uow:
            notice = FeesRepository(uow).get_notice(number)
        right = domain.same_code(notice["verification_code"] if notice else None, code)
        if notice is None or not right:
            raise NotFound("缴款书不存在或查验码不符")
        return notice

    # -- reconciliation --------------------------------------------------------------------------
    def list_reconciliation(self, p: Principal, include_resolved: bool, limit: int,
                            offset: int) -> tuple[list[dict], int]:
        p.require(*READERS)
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow).list_entries(str(p.tenant), include_resolved, limit, offset)

    def resolve_reconciliation(self, p: Principal, entry_id: str, action: str, notice_number: str,
                               note: str) -> dict:
        p.require(Role.CASHIER)
        entry_id = uuid_field(entry_id, "id", "对账记录标识")
        action, note = check_resolution((action or "").strip(), note)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            entry = repo.get_entry(entry_id, lock=True)
            if entry is None or entry["tenant"] != str(p.tenant):
                raise NotFound("对账记录不存在或无权查看")
            if entry["status"] != EntryStatus.OPEN:
                raise FailedPrecondition("该对账记录已处理")
            if action == "match":
                number, tenant = domain.check_notice_number(notice_number)
                if tenant != str(p.tenant):
                    raise PermissionDenied("只能匹配本单位开具的缴款书")
                repo.lock(number)
                notice = repo.get_notice(number, lock=True)
                if notice is None:
                    raise InvalidArgument("notice_number", "缴款书不存在")
                kind = match(notice["status"], notice["total_fen"], entry["amount_fen"], notice["payee_account"],
                             entry["payee_account"])
                if kind != MatchKind.MATCHED:
                    raise FailedPrecondition(f"不能匹配：{MATCH_LABELS[kind]}（缴款 {yuan(entry['amount_fen'])}"
                                             f" 元，应缴 {yuan(notice['total_fen'])} 元）")
                case = locked_case(repo, notice["case_number"])
                repo.match_payment(entry["payment_id"], number)
                cb = Callback(entry["payment_id"], number, entry["amount_fen"], entry["paid_at"],
                              entry["payee_account"], entry["payer_name"])
                self.apply_payment(uow, repo, case, notice, cb, now)
                repo.update_entry(entry_id, status=EntryStatus.MATCHED, case_number=case.case_number,
                                  expected_fen=notice["total_fen"], resolution=f"人工匹配：{note}",
                                  resolved_by=p.username, now=now)
            elif action == "refund":
                committed = repo.refunds_committed(entry["payment_id"])
                amount, reason = check_refund(entry["amount_fen"] - committed, entry["amount_fen"] - committed, note)
                repo.add_refund({"now": now, "tenant": str(p.tenant), "notice_number": entry["notice_number"],
                                 "case_number": entry["case_number"], "payment_id": entry["payment_id"],
                                 "reconciliation_id": entry_id, "amount_fen": amount, "reason": reason,
                                 "requested_by": p.username})
                repo.update_entry(entry_id, status=EntryStatus.RESOLVED, resolution=f"申请退还缴款人：{note}",
                                  resolved_by=p.username, now=now)
            else:
                repo.update_entry(entry_id, status=EntryStatus.RESOLVED, resolution=f"核实后关闭：{note}",
                                  resolved_by=p.username, now=now)
            out = repo.get_entry(entry_id)
            uow.commit()
        return out

    def daily(self, p: Principal, day: str, tenant: str) -> dict:
        p.require(Role.CASHIER, Role.SUPERVISOR, Role.HEAD)
        d = check_day(day)
        target = DivisionCode.parse(tenant, "tenant") if tenant.strip() else p.tenant
        if not can_read(p, target):
            raise PermissionDenied("只能查看本单位（监察员可查看下级单位）的对账报表")
        start = dt.datetime.combine(d, dt.time(), CHINA_TZ)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            rows = repo.day_rows(str(target), start, start + dt.timedelta(days=1))
            open_entries = repo.open_entry_count(str(target))
            unit = repo.treasury_account(str(target))
        return documents.daily_report(str(target), d, rows, open_entries, unit.payee_name if unit else "")

    def render_daily(self, p: Principal, day: str, tenant: str, fmt: str) -> tuple[bytes, str, str]:
        report = self.daily(p, day, tenant)
        stem = f"收费日对账-{report['tenant']}-{report['day']}"
        if fmt == "csv":
            return documents.report_csv(report), "text/csv; charset=utf-8", f"{stem}.csv"
        if fmt == "pdf":
            return documents.report_pdf(report), "application/pdf", f"{stem}.pdf"
        raise InvalidArgument("format", "请选择 csv 或 pdf 格式")
