"""Fees use cases. Each takes a command, runs it in one unit of work, records its events.

The walls, each on its own: the role (`Principal.require`), the tenant carried by the case or notice
number (a cashier can only name a case of their own unit), and PostgreSQL row-level security.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sanji.fees.v1 import events_pb2 as ev
from sqlalchemy.exc import IntegrityError

from services.fees import documents, domain
from services.fees.domain import (
    MATCH_LABELS,
    CaseFees,
    CaseStatus,
    FeeDefinition,
    FeeItem,
    FeeStatus,
    LineInput,
    MatchKind,
)
from services.fees.repository import FeeItemRow, FeesRepository, log_rejection
from services.fees.signing import Signer, Verifier, sm3_hex
from shared.clock import CHINA_TZ, Clock
from shared.db import Database, UnitOfWork
from shared.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from shared.messaging import Envelope, EventConsumer, PoisonMessage
from shared.tenancy import DivisionCode, Principal, Role, can_read
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.fees")

READERS = (Role.CASHIER, Role.HEAD, Role.SUPERVISOR)
MAX_CALLBACK_FIELDS = 40
MAX_CALLBACK_VALUE = 1000


@dataclass
class CaseView:
    case: CaseFees
    notice: dict | None


def _iso(ts) -> str:
    return ts.isoformat() if ts else ""




class FeesHandlers:
    def __init__(self, db: Database, *, province: Verifier, receipt_signer: Signer, clock: Clock | None = None,
                 public_base_url: str = "http://127.0.0.1:8000"):
        self.db = db
        self.province = province
        self.signer = receipt_signer
        self.clock = clock or Clock()
        self.public_base_url = public_base_url.rstrip("/")

    def now(self) -> dt.datetime:
        return self.clock.now()

    # =========================================================================================
    # fee catalogue (收费目录)
    # =========================================================================================
    def create_fee_item(self, p: Principal, definition: dict) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        d = domain.validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            if repo.fee_code_exists(str(p.tenant), d.fee_code):
                raise AlreadyExists(f"本单位收费目录中已有编码为 {d.fee_code} 的收费项目", field="definition.fee_code")
            item = FeeItem.create(str(uuid.uuid4()), p.tenant, d)
            try:
                repo.add_fee_item(item, p.username)
            except IntegrityError:
                raise AlreadyExists(f"本单位收费目录中已有编码为 {d.fee_code} 的收费项目",
                                    field="definition.fee_code") from None
            row = repo.read_fee_item(item.id)
            uow.commit()
        return row

    def _own_item(self, repo: FeesRepository, p: Principal, item_id: str) -> FeeItem:
        uuid_field(item_id, "fee_item_id", "收费项目标识")
        row = repo.read_fee_item(item_id)
        if row is None:
            raise NotFound("收费项目不存在或无权查看")
        if row.tenant != str(p.tenant):
            raise PermissionDenied("只能管理本单位的收费目录")
        item = repo.get_fee_item(item_id)
        if item is None:  # pragma: no cover — visible but not lockable: another tenant's row
            raise PermissionDenied("只能管理本单位的收费目录")
        return item

    def update_fee_draft(self, p: Principal, item_id: str, definition: dict) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        d = domain.validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            item = self._own_item(repo, p, item_id)
            item.update_draft(d)
            repo.save_fee_item(item, p.username)
            row = repo.read_fee_item(item_id)
            uow.commit()
        return row

    def publish_fee_item(self, p: Principal, item_id: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            item = self._own_item(repo, p, item_id)
            v = item.publish()
            repo.save_fee_item(item, p.username)
            row = repo.read_fee_item(item_id)
            uow.emit(ev.FeeItemPublished(fee_item_id=item.id, tenant=str(item.tenant), fee_code=v.definition.fee_code,
                                         version=v.version, name=v.definition.name, at=_iso(row.published_at)),
                     correlation_id=item.id)
            uow.commit()
        return row

    def adjust_fee_item(self, p: Principal, item_id: str, definition: dict, reason: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        d = domain.validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            item = self._own_item(repo, p, item_id)
            _, new = item.adjust(d, reason)
            repo.save_fee_item(item, p.username, new_versions=1)
            row = repo.read_fee_item(item_id)
            uow.emit(ev.FeeItemPublished(fee_item_id=item.id, tenant=str(item.tenant), fee_code=d.fee_code,
                                         version=new.version, name=d.name, at=_iso(row.published_at)),
                     correlation_id=item.id)
            uow.commit()
        return row

    def cancel_fee_item(self, p: Principal, item_id: str, reason: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            item = self._own_item(repo, p, item_id)
            was_published = item.status == FeeStatus.PUBLISHED
            v = item.cancel(reason)
            repo.save_fee_item(item, p.username)
            row = repo.read_fee_item(item_id)
            if was_published:
                uow.emit(ev.FeeItemCancelled(fee_item_id=item.id, tenant=str(item.tenant),
                                             fee_code=v.definition.fee_code, version=v.version, reason=v.change_reason),
                         correlation_id=item.id)
            uow.commit()
        return row

    def get_fee_item(self, p: Principal, item_id: str, fee_code: str, version: int) -> FeeItemRow:
        if version < 0:
            raise InvalidArgument("version", "版本号不能为负数")
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            if item_id:
                row = repo.read_fee_item(uuid_field(item_id, "fee_item_id", "收费项目标识"), version)
            elif fee_code:
                row = repo.published_for(str(p.tenant), [fee_code.strip().upper()]).get(fee_code.strip().upper())
            else:
                raise InvalidArgument("fee_item_id", "请指明收费项目标识或收费项目编码")
        if row is None or not (can_read(p, DivisionCode(row.tenant)) or
                               (row.status != "draft" and DivisionCode(row.tenant).is_ancestor_of(p.tenant))):
            raise NotFound("收费项目不存在或无权查看")
        return row

    def list_fee_items(self, p: Principal, include_drafts: bool) -> list[FeeItemRow]:
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow.session).list_fee_items(str(p.tenant), include_drafts)

    def list_public_fee_items(self, region: str) -> list[FeeItemRow]:
        region = str(DivisionCode.parse(region, "region")) if region.strip() else ""
        with self.db.unit_of_work() as uow:
            return FeesRepository(uow.session).list_public(region)

    # =========================================================================================
    # assessment, waivers and the one notice
    # =========================================================================================
    def assess(self, p: Principal, case_number: str, lines: list[LineInput], *, government_invested: bool = False,
               key_project: bool = False, applicant_name: str = "", item_name: str = "") -> CaseView:
        p.require(Role.CASHIER)
        number = domain.check_case_number(case_number, p.tenant)
        if not lines:
            raise InvalidArgument("lines", "请至少核定一项收费")
        if len(lines) > domain.MAX_LINES:
            raise InvalidArgument("lines", f"一次最多核定 {domain.MAX_LINES} 项收费")
        codes: list[str] = []
        for i, line in enumerate(lines):
            code = (line.fee_code or "").strip().upper()
            if not code:
                raise InvalidArgument(f"lines[{i}].fee_code", "请选择收费项目")
            if code in codes:
                raise InvalidArgument(f"lines[{i}].fee_code", f"收费项目 {code} 重复核定")
            codes.append(code)
        applicant_name = domain._text(applicant_name, "applicant_name", required=False, limit=domain.MAX_NAME)
        item_name = domain._text(item_name, "item_name", required=False, limit=domain.MAX_NAME)
        now = self.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            case = repo.get_case(number, lock=True) or CaseFees(str(p.tenant), number, CaseStatus.AWAITING)
            case.check_assessable()
            case.government_invested = case.government_invested or government_invested
            case.key_project = case.key_project or key_project
            case.applicant_name = applicant_name or case.applicant_name
            case.item_name = item_name or case.item_name
            in_force = repo.published_for(str(p.tenant), codes)
            assessed = []
            for i, (code, line) in enumerate(zip(codes, lines, strict=True)):
                row = in_force.get(code)
                if row is None:
                    raise InvalidArgument(f"lines[{i}].fee_code", f"收费目录中没有已发布的收费项目 {code}，"
                                          "目录之外不得收费")
                assessed.append(domain.assess_line(
                    FeeDefinition.from_dict(row.definition), row.id, row.version,
                    LineInput(code, dict(line.quantities), line.standard_fen), line_no=i + 1,
                    favoured=case.favoured, field_prefix=f"lines[{i}]"))
            case.assess(assessed, by=p.username, at=now)
            self._save_new_or_existing(repo, case)
            total, waived, _ = case.totals
            uow.emit(ev.FeesAssessed(case_number=number, tenant=case.tenant, total_fen=total, lines=len(assessed),
                                     at=now.isoformat(), waived_fen=waived,
                                     lower_bound_applied=any(x.lower_bound_applied for x in assessed)),
                     correlation_id=number)
            uow.commit()
        return CaseView(case, None)   # an assessable case has no live notice

    @staticmethod
    def _save_new_or_existing(repo: FeesRepository, case: CaseFees) -> None:
        try:
            with repo.s.begin_nested():
                repo.save_case(case)
        except IntegrityError:
            raise FailedPrecondition("该办件的收费正在被他人同时处理，请刷新后重试") from None

    def waive(self, p: Principal, case_number: str, line_no: int, reason_code: str, amount_fen: int,
              note: str) -> CaseView:
        """减免: a listed reason, and the authority of the head (机关负责人)."""
        if not p.has(Role.HEAD):
            raise PermissionDenied("减免收费须由具有减免审批权限的机关负责人办理")
        number = domain.check_case_number(case_number, p.tenant)
        now = self.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            case = self._case_for_update(repo, number)
            case.check_waivable()
            new, reason = domain.waive(case.line(line_no), (reason_code or "").strip(), amount_fen, by=p.username,
                                       note=note or "")
            case.replace_line(new)
            if case.fully_waived:
                case.settle(now)
            repo.save_case(case)
            uow.emit(ev.FeeWaived(case_number=number, tenant=case.tenant, fee_code=new.fee_code,
                                  amount_fen=new.waived_fen, reason_code=reason.code, approved_by=p.username,
                                  at=now.isoformat(), full=reason.full), correlation_id=number)
            if case.status == CaseStatus.SETTLED:
                self._emit_settled(uow, case, "", now)
            view = CaseView(case, repo.notice_of_case(case.tenant, number))
            uow.commit()
        return view

    @staticmethod
    def _case_for_update(repo: FeesRepository, number: str) -> CaseFees:
        case = repo.get_case(number, lock=True)
        if case is None:
            raise NotFound("该办件尚无收费记录")
        return case

    def issue_notice(self, p: Principal, case_number: str) -> CaseView:
        """One notice (缴款书) per case, every line of every department on it (一费制), payable to the
        treasury / non-tax revenue account (收缴分离). Issuing again returns the same notice."""
        p.require(Role.CASHIER)
        number = domain.check_case_number(case_number, p.tenant)
        now = self.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            case = self._case_for_update(repo, number)
            if case.status in (CaseStatus.NOTICED, CaseStatus.SETTLED):
                existing = repo.notice_of_case(case.tenant, number)
                if existing is not None and existing["status"] != "void":
                    return CaseView(case, existing)
            due = case.check_issuable()
            account = repo.treasury_account(case.tenant)
            if account is None or account.kind not in ("treasury", "non_tax_revenue"):
                raise FailedPrecondition("本单位尚未配置国库或非税收入汇缴结算账户，不能开具缴款书")
            case.status = CaseStatus.NOTICED
            repo.save_case(case, lines_changed=False)
            # the tenant's yearly sequence (no gaps): its row stays locked until commit, so take it last
            year = now.astimezone(CHINA_TZ).year
            notice_number = domain.format_notice_number(case.tenant, year, repo.next_notice_seq(case.tenant, year))
            repo.lock(notice_number)
            repo.insert_notice({"notice_number": notice_number, "tenant": case.tenant, "case_number": number,
                                "total_fen": due, "payee_name": account.payee_name,
                                "payee_account": account.account_number, "payee_bank": account.bank_name,
                                "issued_by": p.username, "issued_at": now})
            uow.emit(ev.NoticeIssued(case_number=number, tenant=case.tenant, notice_number=notice_number,
                                     total_fen=due, at=now.isoformat(), payee_account=account.account_number),
                     correlation_id=number)
            notice = repo.get_notice(notice_number, lock=True)
            # payments the province reported before this notice existed (out of order): match them now
            for entry in repo.open_entries_for_notice(case.tenant, notice_number):
                notice = self._match_late(uow, repo, case, notice, entry, now)
            uow.commit()
        return CaseView(case, notice)

    def _match_late(self, uow: UnitOfWork, repo: FeesRepository, case: CaseFees, notice: dict, entry: dict,
                    now: dt.datetime) -> dict:
        kind = domain.match(notice["status"], notice["total_fen"], entry["amount_fen"])
        if kind != MatchKind.MATCHED:
            repo.update_entry(str(entry["id"]), status="open", kind=str(kind), expected_fen=notice["total_fen"],
                              case_number=case.case_number)
            return notice
        repo.update_entry(str(entry["id"]), status="matched", case_number=case.case_number,
                          expected_fen=notice["total_fen"], resolution="缴款书开具后自动匹配", resolved_by="system")
        repo.match_payment(entry["payment_id"], notice["notice_number"])
        cb = domain.Callback(entry["payment_id"], notice["notice_number"], entry["amount_fen"], entry["paid_at"],
                             notice["payee_account"], entry["payer_name"])
        self._apply_payment(uow, repo, case, notice, cb, now)
        return repo.get_notice(notice["notice_number"])

    def _apply_payment(self, uow: UnitOfWork, repo: FeesRepository, case: CaseFees, notice: dict,
                       cb: domain.Callback, now: dt.datetime) -> None:
        """The notice becomes the receipt: countersigned over the notice and the payment."""
        issued = notice["issued_at"]
        receipt = domain.receipt_text({**notice, "issued_at": _iso(issued)}, case.lines, cb)
        data = receipt.encode("utf-8")
        repo.mark_notice_paid(notice["notice_number"], cb.payment_id, cb.paid_at, {
            "text": receipt, "digest": sm3_hex(data), "sig": self.signer.sign(data), "signer": self.signer.key_id})
        case.mark_paid(cb.amount_fen, now)
        repo.save_case(case)
        uow.emit(ev.PaymentReceived(case_number=case.case_number, tenant=case.tenant,
                                    notice_number=notice["notice_number"], amount_fen=cb.amount_fen,
                                    payment_id=cb.payment_id, at=cb.paid_at.isoformat(),
                                    receipt_digest=sm3_hex(data)), correlation_id=case.case_number)
        if case.status == CaseStatus.SETTLED:
            self._emit_settled(uow, case, notice["notice_number"], now)

    @staticmethod
    def _emit_settled(uow: UnitOfWork, case: CaseFees, notice_number: str, now: dt.datetime) -> None:
        _, waived, _ = case.totals
        uow.emit(ev.FeesSettled(case_number=case.case_number, tenant=case.tenant, paid_fen=case.paid_fen,
                                waived_fen=waived, at=now.isoformat(), waived_in_full=case.fully_waived,
                                notice_number=notice_number), correlation_id=case.case_number)

    # -- reading ---------------------------------------------------------------------------------
    def _readable_case_tenant(self, p: Principal, case_number: str) -> str:
        p.require(*READERS)
        number = (case_number or "").strip()
        tenant = domain.case_tenant(number)
        if tenant is None:
            raise InvalidArgument("case_number", "办件编号格式不正确（应为 26 位数字）")
        if not can_read(p, DivisionCode(tenant)):
            raise NotFound("该办件不存在或无权查看")
        return number

    def get_case(self, p: Principal, case_number: str) -> CaseView:
        number = self._readable_case_tenant(p, case_number)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            case = repo.get_case(number)
            if case is None:
                raise NotFound("该办件尚无收费记录或无权查看")
            return CaseView(case, repo.notice_of_case(case.tenant, number))

    def list_cases(self, p: Principal, status: str, limit: int, offset: int) -> tuple[list[CaseView], int]:
        p.require(*READERS)
        if status and status not in {str(s) for s in CaseStatus}:
            raise InvalidArgument("status", "状态应为 " + "、".join(str(s) for s in CaseStatus))
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            numbers, total = repo.list_cases(str(p.tenant), status, limit, offset)
            views = []
            for n in numbers:
                case = repo.get_case(n)
                views.append(CaseView(case, repo.notice_of_case(case.tenant, n)))
        return views, total

    def render_notice(self, p: Principal, case_number: str) -> tuple[bytes, str, str]:
        view = self.get_case(p, case_number)
        if view.notice is None:
            raise FailedPrecondition("该办件尚未开具缴款书")
        with self.db.unit_of_work(p) as uow:
            account = FeesRepository(uow.session).treasury_account(view.case.tenant)
        pdf = documents.render_notice_pdf(view.case, view.notice, unit_name=account.payee_name if account else "",
                                          lookup_url=f"{self.public_base_url}/api/v1/payments/"
                                                     f"{view.notice['notice_number']}/status")
        kind = "收据" if view.notice["status"] == "paid" else "缴款书"
        return pdf, "application/pdf", f"{kind}-{view.notice['notice_number']}.pdf"

    # =========================================================================================
    # payment callbacks (authenticated by the province's SM2 signature)
    # =========================================================================================
    def record_callback(self, fields: dict[str, str], signature: str) -> dict:
        if len(fields) > MAX_CALLBACK_FIELDS or any(len(str(k)) > 64 or len(str(v)) > MAX_CALLBACK_VALUE
                                                    for k, v in fields.items()):
            self._reject("oversized callback", fields, signature)
            raise InvalidArgument("fields", "回调字段过多或过长")
        data = domain.canonical_form(fields)
        if not self.province.verify(signature, data):
            self._reject("signature does not verify", fields, signature)
            raise Unauthenticated("支付回调签名验证失败，已拒绝并记录")
        try:
            cb = domain.parse_callback(fields)
        except InvalidArgument as exc:
            self._reject(f"invalid field {exc.field}: {exc.message}", fields, signature)
            raise
        with self.db.unit_of_work() as uow:
            account = FeesRepository(uow.session).account_owner(cb.payee_account)
        if account is None:
            self._reject("payee account is not a treasury account of this platform", fields, signature)
            raise FailedPrecondition("收款账户不是本平台登记的国库或非税收入账户，已拒绝并记录")
        tenant = domain.notice_tenant(cb.notice_number)
        if tenant is None or not DivisionCode(account.tenant).contains(DivisionCode(tenant)):
            tenant = account.tenant   # a notice number that names no unit of this account: the account's queue
        digest = sm3_hex(data)
        now = self.now()
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
        return result

    def _record(self, uow: UnitOfWork, tenant: str, cb: domain.Callback, fields: dict, signature: str, digest: str,
                now: dt.datetime) -> dict:
        import json

        repo = FeesRepository(uow.session)
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
        kind = domain.match(notice["status"] if notice else None, notice["total_fen"] if notice else 0, cb.amount_fen)
        repo.insert_payment({"payment_id": cb.payment_id, "tenant": tenant, "notice_number": cb.notice_number,
                             "matched_notice": cb.notice_number if kind == MatchKind.MATCHED else None,
                             "amount_fen": cb.amount_fen, "paid_at": cb.paid_at, "payer_name": cb.payer_name,
                             "channel": cb.channel, "payee_account": cb.payee_account,
                             "fields": json.dumps(fields, ensure_ascii=False), "fields_digest": digest,
                             "signature": signature, "outcome": "matched" if kind == MatchKind.MATCHED else "queued"})
        if kind == MatchKind.MATCHED:
            case = self._case_for_update(repo, notice["case_number"])
            self._apply_payment(uow, repo, case, notice, cb, now)
            return {"outcome": "recorded", "payment_id": cb.payment_id, "notice_number": cb.notice_number,
                    "message": "缴款已入账", "settled": case.status == CaseStatus.SETTLED}
        case_number = notice["case_number"] if notice else ""
        entry_id = repo.add_entry({"tenant": tenant, "kind": str(kind), "payment_id": cb.payment_id,
                                   "notice_number": cb.notice_number, "case_number": case_number,
                                   "amount_fen": cb.amount_fen, "expected_fen": notice["total_fen"] if notice else 0})
        log.warning("payment %s for notice %s queued for reconciliation: %s", cb.payment_id, cb.notice_number, kind)
        uow.emit(ev.PaymentQueued(tenant=tenant, payment_id=cb.payment_id, notice_number=cb.notice_number,
                                  amount_fen=cb.amount_fen, expected_fen=notice["total_fen"] if notice else 0,
                                  kind=str(kind), at=now.isoformat(), case_number=case_number,
                                  reconciliation_id=entry_id), correlation_id=case_number or cb.notice_number)
        return {"outcome": "queued", "payment_id": cb.payment_id, "notice_number": cb.notice_number,
                "message": f"已转入对账队列：{MATCH_LABELS[kind]}", "reconciliation_id": entry_id}

    def _reject(self, reason: str, fields: dict, signature: str) -> None:
        log.warning("payment callback refused (%s): payment_id=%s notice=%s", reason,
                    str(fields.get("payment_id", ""))[:64], str(fields.get("notice_number", ""))[:64])
        with self.db.unit_of_work() as uow:
            log_rejection(uow.session, reason, fields, signature)
            uow.commit()

    def payment_status(self, notice_number: str) -> dict:
        """Public: what a payer may know by the number they hold — nothing personal."""
        number, tenant = domain.check_notice_number(notice_number)
        with self.db.unit_of_work(tenant=tenant) as uow:
            notice = FeesRepository(uow.session).get_notice(number)
        if notice is None:
            raise NotFound("缴款书不存在")
        return notice

    # =========================================================================================
    # reconciliation
    # =========================================================================================
    def list_reconciliation(self, p: Principal, include_resolved: bool, limit: int,
                            offset: int) -> tuple[list[dict], int]:
        p.require(*READERS)
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow.session).list_entries(str(p.tenant), include_resolved, limit, offset)

    def resolve_reconciliation(self, p: Principal, entry_id: str, action: str, notice_number: str,
                               note: str) -> dict:
        p.require(Role.CASHIER)
        entry_id = uuid_field(entry_id, "id", "对账记录标识")
        action, note = domain.check_resolution((action or "").strip(), note)
        now = self.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            entry = repo.get_entry(entry_id, lock=True)
            if entry is None or entry["tenant"] != str(p.tenant):
                raise NotFound("对账记录不存在或无权查看")
            if entry["status"] != "open":
                raise FailedPrecondition("该对账记录已处理")
            if action == "match":
                number, tenant = domain.check_notice_number(notice_number)
                if tenant != str(p.tenant):
                    raise PermissionDenied("只能匹配本单位开具的缴款书")
                repo.lock(number)
                notice = repo.get_notice(number, lock=True)
                if notice is None:
                    raise InvalidArgument("notice_number", "缴款书不存在")
                kind = domain.match(notice["status"], notice["total_fen"], entry["amount_fen"])
                if kind != MatchKind.MATCHED:
                    raise FailedPrecondition(f"不能匹配：{MATCH_LABELS[kind]}（缴款 {domain.yuan(entry['amount_fen'])}"
                                             f" 元，应缴 {domain.yuan(notice['total_fen'])} 元）")
                case = self._case_for_update(repo, notice["case_number"])
                repo.match_payment(entry["payment_id"], number)
                cb = domain.Callback(entry["payment_id"], number, entry["amount_fen"], entry["paid_at"],
                                     notice["payee_account"], entry["payer_name"])
                self._apply_payment(uow, repo, case, notice, cb, now)
                repo.update_entry(entry_id, status="matched", case_number=case.case_number,
                                  expected_fen=notice["total_fen"], resolution=f"人工匹配：{note}",
                                  resolved_by=p.username)
            elif action == "refund":
                committed = repo.refunds_committed(entry["payment_id"])
                amount, reason = domain.check_refund(entry["amount_fen"] - committed, entry["amount_fen"] - committed,
                                                     note)
                repo.add_refund({"tenant": str(p.tenant), "notice_number": entry["notice_number"],
                                 "case_number": entry["case_number"], "payment_id": entry["payment_id"],
                                 "reconciliation_id": entry_id, "amount_fen": amount, "reason": reason,
                                 "requested_by": p.username})
                repo.update_entry(entry_id, status="resolved", resolution=f"申请退还缴款人：{note}",
                                  resolved_by=p.username)
            else:
                repo.update_entry(entry_id, status="resolved", resolution=f"核实后关闭：{note}", resolved_by=p.username)
            out = repo.get_entry(entry_id)
            uow.commit()
        return out

    def daily(self, p: Principal, day: str, tenant: str) -> dict:
        p.require(Role.CASHIER, Role.SUPERVISOR, Role.HEAD)
        d = domain.check_day(day)
        target = DivisionCode.parse(tenant, "tenant") if tenant.strip() else p.tenant
        if not can_read(p, target):
            raise PermissionDenied("只能查看本单位（监察员可查看下级单位）的对账报表")
        start = dt.datetime.combine(d, dt.time(), CHINA_TZ)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
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

    # =========================================================================================
    # refunds
    # =========================================================================================
    def request_refund(self, p: Principal, notice_number: str, reconciliation_id: str, amount_fen: int,
                       reason: str) -> dict:
        p.require(Role.CASHIER)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            if reconciliation_id:
                entry = repo.get_entry(uuid_field(reconciliation_id, "reconciliation_id", "对账记录标识"), lock=True)
                if entry is None or entry["tenant"] != str(p.tenant):
                    raise NotFound("对账记录不存在或无权查看")
                if entry["status"] == "matched":
                    raise FailedPrecondition("该笔缴款已匹配入账，请按缴款书申请退费")
                payment_id, refundable = entry["payment_id"], entry["amount_fen"]
                notice_no, case_number, rec = entry["notice_number"], entry["case_number"], entry["id"]
            else:
                number, tenant = domain.check_notice_number(notice_number)
                if tenant != str(p.tenant):
                    raise PermissionDenied("只能为本单位开具的缴款书申请退费")
                notice = repo.get_notice(number, lock=True)
                if notice is None:
                    raise NotFound("缴款书不存在或无权查看")
                if notice["status"] != "paid":
                    raise FailedPrecondition("缴款书尚未缴款，无需退费")
                payment_id, refundable = notice["payment_id"], notice["total_fen"]
                notice_no, case_number, rec = number, notice["case_number"], None
            committed = repo.refunds_committed(payment_id)
            amount, reason = domain.check_refund(amount_fen, refundable - committed, reason)
            refund_id = repo.add_refund({"tenant": str(p.tenant), "notice_number": notice_no,
                                         "case_number": case_number, "payment_id": payment_id,
                                         "reconciliation_id": rec, "amount_fen": amount, "reason": reason,
                                         "requested_by": p.username})
            out = repo.get_refund(refund_id)
            uow.commit()
        return out

    def decide_refund(self, p: Principal, refund_id: str, approve: bool, note: str) -> dict:
        if not p.has(Role.HEAD):
            raise PermissionDenied("退费须经具有审批权限的机关负责人批准")
        refund_id = uuid_field(refund_id, "refund_id", "退费申请标识")
        now = self.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow.session)
            r = repo.get_refund(refund_id, lock=True)
            if r is None or r["tenant"] != str(p.tenant):
                raise NotFound("退费申请不存在或无权查看")
            if r["status"] != "pending":
                raise FailedPrecondition("该退费申请已处理")
            if r["requested_by"] == p.username:
                raise PermissionDenied("退费的申请人与批准人不能为同一人")
            if not approve and not (note or "").strip():
                raise InvalidArgument("note", "不予批准须说明理由")
            repo.decide_refund(refund_id, "approved" if approve else "rejected", p.username, (note or "").strip())
            if approve:
                if r["case_number"]:
                    repo.add_refunded(str(p.tenant), r["case_number"], r["amount_fen"])
                uow.emit(ev.RefundMade(case_number=r["case_number"], tenant=str(p.tenant),
                                       notice_number=r["notice_number"], amount_fen=r["amount_fen"],
                                       reason=r["reason"], at=now.isoformat(), refund_id=refund_id,
                                       approved_by=p.username, payment_id=r["payment_id"]),
                         correlation_id=r["case_number"] or r["notice_number"])
            out = repo.get_refund(refund_id)
            uow.commit()
        return out

    def list_refunds(self, p: Principal, status: str) -> list[dict]:
        p.require(*READERS)
        if status and status not in ("pending", "approved", "rejected"):
            raise InvalidArgument("status", "状态应为 pending、approved 或 rejected")
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow.session).list_refunds(str(p.tenant), status)

    # =========================================================================================
    # events: case_decided (approval)
    # =========================================================================================
    def on_case_decided(self, env: Envelope, uow: UnitOfWork) -> None:
        """An approved case with fees waits at the fee window (待核定); when the decision names its fee
        codes and every one can be assessed without a person (fixed standards, or the lower bound of a
        range for a government-invested or key project), it is assessed at once. A denied case's
        unpaid notice is voided. Idempotent by the inbox; a case without fees is not touched."""
        body = env.body
        number = str(body.get("case_number") or env.correlation_id or "")
        if domain.case_tenant(number) != env.tenant:
            raise PoisonMessage(f"case number {number!r} does not belong to tenant {env.tenant}")
        outcome = str(body.get("outcome", ""))
        repo = FeesRepository(uow.session)
        case = repo.get_case(number, lock=True)
        now = self.now()
        if outcome == "denied":
            if case is not None and case.status in (CaseStatus.AWAITING, CaseStatus.ASSESSED, CaseStatus.NOTICED):
                notice = repo.notice_of_case(case.tenant, number)
                if notice is not None and notice["status"] == "issued":
                    repo.void_notice(notice["notice_number"])
                case.status = CaseStatus.CLOSED
                repo.save_case(case, lines_changed=False)
            return
        if outcome != "approved" or not body.get("has_fees"):
            return
        if case is None:
            case = CaseFees(env.tenant, number, CaseStatus.AWAITING, source="decision")
        case.government_invested = case.government_invested or bool(body.get("government_invested"))
        case.key_project = case.key_project or bool(body.get("key_project"))
        case.applicant_name = case.applicant_name or str(body.get("applicant_name", ""))[:domain.MAX_NAME]
        case.item_id = str(body.get("item_id", ""))[:64]
        case.item_version = int(body.get("item_version") or 0)
        case.expected_fee_codes = tuple(str(c).upper() for c in body.get("fee_codes") or [])[:domain.MAX_LINES]
        try:
            case.decided_at = dt.datetime.fromisoformat(str(body.get("at", "")))
        except ValueError:
            case.decided_at = now
        if case.status == CaseStatus.ASSESSED and case.favoured:
            case.lines = [domain.favour_line(x) for x in case.lines]
        if case.status == CaseStatus.AWAITING and case.expected_fee_codes:
            in_force = repo.published_for(case.tenant, list(case.expected_fee_codes))
            try:
                lines = [domain.assess_line(FeeDefinition.from_dict(in_force[c].definition), in_force[c].id,
                                            in_force[c].version, LineInput(c), line_no=i + 1, favoured=case.favoured,
                                            field_prefix=f"lines[{i}]")
                         for i, c in enumerate(case.expected_fee_codes)]
            except (KeyError, InvalidArgument):
                lines = []   # needs a person: quantities, an amount within a range, or an unknown code
            if lines:
                case.assess(lines, by="system", at=now)
                total, _, _ = case.totals
                uow.emit(ev.FeesAssessed(case_number=number, tenant=case.tenant, total_fen=total, lines=len(lines),
                                         at=now.isoformat(),
                                         lower_bound_applied=any(x.lower_bound_applied for x in lines)),
                         correlation_id=number)
        repo.save_case(case)


def decision_consumer(handlers: FeesHandlers, db: Database, amqp_url: str, **kwargs) -> EventConsumer:
    """The consumer of approval's case_decided (queue evt-approval-case_decided--fees.on_case_decided)."""
    consumer = EventConsumer(amqp_url, service="fees", database=db, **kwargs)
    consumer.subscribe("approval", "case_decided", "on_case_decided", handlers.on_case_decided)
    return consumer
