"""Use cases of a case's fees, from approval's decision to the one notice: the decision opens the case at the
fee window (or assesses it at once, or closes it), the cashier assesses (核定), the head reduces or waives
(减免), the cashier issues the one payment notice (缴款书) and prints it; readers look cases up. The rules
are in domain.py and assessment.py; part of FeesHandlers (handlers.py).

The walls, each on its own: the role (`Principal.require`), the tenant carried by the case number (a
cashier can only name a case of their own unit), and PostgreSQL row-level security.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError

from services.fees import documents, domain
from services.fees.assessment import MAX_LINES, LineInput, assess_line, favour_line, waive
from services.fees.catalogue import FeeDefinition
from services.fees.domain import READERS, CaseDecision, CaseFees, CaseStatus, NoticeStatus
from services.fees.money import MAX_NAME, checked_text
from services.fees.payment_handlers import PaymentHandlers, locked_case
from services.fees.repository import LIST_TOTAL_CAP, FeesRepository
from shared.clock import CHINA_TZ, Clock
from shared.db import Database, UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.tenancy import DivisionCode, Principal, Role, can_read
from shared.validation import page

if TYPE_CHECKING:
    from services.fees.handlers import FeesEvents


@dataclass
class CaseView:
    """A case's fees and its live notice (or the last one), as the window sees them."""

    case: CaseFees
    notice: dict | None
    # a basic list's case (fees.proto CASE_FEES_VIEW_BASIC): its lines are not read, these are its saved totals
    # (assessed, waived, due), and its notice holds FeesRepository._NOTICE_BASIC_NAMES alone
    totals: tuple[int, int, int] | None = None


class CaseHandlers:
    def __init__(self, db: Database, *, events_out: FeesEvents, clock: Clock, payments: PaymentHandlers,
                 public_base_url: str, verification_code_length: int = domain.CODE_MIN_LENGTH,
                 draw: Callable[[int], int] = secrets.randbelow):
        self.db = db
        self.events_out = events_out
        self.clock = clock
        self.payments = payments
        self.public_base_url = public_base_url.rstrip("/")
        self.draw = draw
        self.code_length = verification_code_length
        domain.new_verification_code(verification_code_length)  # a length no code can have stops the start

    # -- assessment and waivers ------------------------------------------------------------------
    def assess(self, p: Principal, case_number: str, lines: list[LineInput], *, government_invested: bool = False,
               key_project: bool = False, applicant_name: str = "", item_name: str = "") -> CaseView:
        p.require(Role.CASHIER)
        number = domain.check_case_number(case_number, p.tenant)
        if not lines:
            raise InvalidArgument("lines", "请至少核定一项收费")
        if len(lines) > MAX_LINES:
            raise InvalidArgument("lines", f"一次最多核定 {MAX_LINES} 项收费")
        codes: list[str] = []
        for i, line in enumerate(lines):
            code = (line.fee_code or "").strip().upper()
            if not code:
                raise InvalidArgument(f"lines[{i}].fee_code", "请选择收费项目")
            if code in codes:
                raise InvalidArgument(f"lines[{i}].fee_code", f"收费项目 {code} 重复核定")
            codes.append(code)
        applicant_name = checked_text(applicant_name, "applicant_name", required=False, limit=MAX_NAME)
        item_name = checked_text(item_name, "item_name", required=False, limit=MAX_NAME)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
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
                assessed.append(assess_line(
                    FeeDefinition.from_dict(row.definition), row.id, row.version,
                    LineInput(code, dict(line.quantities), line.standard_fen), line_no=i + 1,
                    favoured=case.favoured, field_prefix=f"lines[{i}]"))
            case.assess(assessed, by=p.username, at=now)
            try:
                repo.save_case(case)
            except IntegrityError:      # a first assessment of the same case, committed meanwhile
                raise FailedPrecondition("该办件的收费正在被他人同时处理，请刷新后重试") from None
            uow.emit(self.events_out.fees_assessed(case, now), correlation_id=number)
            uow.commit()
        return CaseView(case, None)   # an assessable case has no live notice

    def waive(self, p: Principal, case_number: str, line_no: int, reason_code: str, amount_fen: int,
              note: str) -> CaseView:
        """减免: a listed reason, and the authority of the head (机关负责人)."""
        if not p.has(Role.HEAD):
            raise PermissionDenied("减免收费须由具有减免审批权限的机关负责人办理")
        number = domain.check_case_number(case_number, p.tenant)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            case = locked_case(repo, number)
            case.check_waivable()
            new, reason = waive(case.line(line_no), (reason_code or "").strip(), amount_fen, by=p.username,
                                note=note or "")
            case.replace_line(new)
            if case.fully_waived:
                case.settle(now)
            repo.save_case(case)
            uow.emit(self.events_out.fee_waived(case, new, reason, p.username, now), correlation_id=number)
            if case.status == CaseStatus.SETTLED:
                uow.emit(self.events_out.fees_settled(case, "", now), correlation_id=number)
            view = CaseView(case, repo.notice_of_case(case.tenant, number))
            uow.commit()
        return view

    # -- the one notice --------------------------------------------------------------------------
    def issue_notice(self, p: Principal, case_number: str) -> CaseView:
        """One notice (缴款书) per case, every line of every department on it (一费制), payable to the
        treasury / non-tax revenue account (收缴分离). Issuing again returns the same notice."""
        p.require(Role.CASHIER)
        number = domain.check_case_number(case_number, p.tenant)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            case = locked_case(repo, number)
            if case.status in (CaseStatus.NOTICED, CaseStatus.SETTLED):
                existing = repo.notice_of_case(case.tenant, number)
                if existing is not None and existing["status"] != NoticeStatus.VOID:
                    return CaseView(case, existing)
            due = case.check_issuable()
            account = repo.treasury_account(case.tenant)
            if account is None or account.kind not in ("treasury", "non_tax_revenue"):
                raise FailedPrecondition("本单位尚未配置国库或非税收入汇缴结算账户，不能开具缴款书")
            case.status = CaseStatus.NOTICED
            repo.save_case(case, lines_changed=False)
            year = now.astimezone(CHINA_TZ).year
            notice_number = self._new_notice_number(repo, case.tenant, year)
            repo.insert_notice({"notice_number": notice_number, "tenant": case.tenant, "case_number": number,
                                "total_fen": due, "payee_name": account.payee_name,
                                "payee_account": account.account_number, "payee_bank": account.bank_name,
                                "issued_by": p.username, "issued_at": now, "serial": None,
                                "verification_code": domain.new_verification_code(self.code_length, self.draw)})
            uow.emit(self.events_out.notice_issued(case, notice_number, due, account.account_number, now),
                     correlation_id=number)
            notice = repo.get_notice(notice_number, lock=True)
            # payments the province reported before this notice existed (out of order): match them now
            for entry in repo.open_entries_for_notice(case.tenant, notice_number):
                notice = self.payments.match_late(uow, repo, case, notice, entry, now)
            # the tenant's yearly serial (no gaps): its counter row stays locked until commit, so it is taken by the
            # last statement, sent with the COMMIT (every county's cashiers wait on that one row)
            try:
                serial = uow.commit_with_last(*repo.numbering(case.tenant, year, notice_number))[0]
            except IntegrityError as exc:
                if getattr(getattr(exc.orig, "diag", None), "constraint_name", "") == repo.SERIAL_RANGE:
                    raise domain.serials_used_up(year) from exc
                raise
        return CaseView(case, {**notice, "serial": serial})

    def _new_notice_number(self, repo: FeesRepository, tenant: str, year: int) -> str:
        """A number no notice has: the 8 random digits drawn again on the (10⁻⁸-rare) hit of an existing one.
        Locked before it is looked for, so two windows drawing the same number at once cannot both take it
        (and a callback naming it waits for this transaction)."""
        for _ in range(8):
            number = domain.draw_notice_number(tenant, year, self.draw)
            repo.lock(number)
            if not repo.notice_number_taken(number):
                return number
        raise FailedPrecondition("未能生成不重复的缴款书编号，请重试")

    def lookup_url(self, notice: dict) -> str:
        """The public payment status of the notice: its number and verification code (the QR code's link)."""
        return (f"{self.public_base_url}/api/v1/payments/{quote(notice['notice_number'])}/status"
                f"?code={quote(notice['verification_code'])}")

    def render_notice(self, p: Principal, case_number: str) -> tuple[bytes, str, str]:
        view = self.get_case(p, case_number)
        if view.notice is None:
            raise FailedPrecondition("该办件尚未开具缴款书")
        with self.db.unit_of_work(p) as uow:
            account = FeesRepository(uow).treasury_account(view.case.tenant)
        pdf = documents.render_notice_pdf(view.case, view.notice, unit_name=account.payee_name if account else "",
                                          lookup_url=self.lookup_url(view.notice))
        kind = "收据" if view.notice["status"] == NoticeStatus.PAID else "缴款书"
        return pdf, "application/pdf", f"{kind}-{view.notice['notice_number']}.pdf"

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
            repo = FeesRepository(uow)
            case = repo.get_case(number)
            if case is None:
                raise NotFound("该办件尚无收费记录或无权查看")
            return CaseView(case, repo.notice_of_case(case.tenant, number))

    def list_cases(self, p: Principal, status: str, limit: int, offset: int, *, basic: bool = False
                   ) -> tuple[list[CaseView], int, bool]:
        """A page of the cashier's list, its total counted up to LIST_TOTAL_CAP, and whether more cases match.
        `basic`: each case without its lines, with its saved totals and its notice's number, status and dates
        (CaseView.totals), as the cashier's list shows them."""
        p.require(*READERS)
        if status and status not in {str(s) for s in CaseStatus}:
            raise InvalidArgument("status", "状态应为 " + "、".join(str(s) for s in CaseStatus))
        limit, offset = page(limit, offset)
        # the page in one statement, not three per case (issue 22: the cashier's list at a year's volume): its cases
        # with the capped count, their lines (not in the basic view), their current notices; read in one round trip
        # under the caller's binding, no BEGIN or ROLLBACK (Database.read_planned)
        rows = self.db.read_planned(
            p, *FeesRepository.list_cases_statement(str(p.tenant), status, limit, offset, basic=basic))
        if basic:
            summaries, counted = FeesRepository.basic_cases_page(rows)
            views = [CaseView(case, notice, totals) for case, totals, notice in summaries]
        else:
            listed, counted = FeesRepository.cases_page(rows)
            views = [CaseView(case, notice) for case, notice in listed]
        return views, min(counted, LIST_TOTAL_CAP), counted > LIST_TOTAL_CAP

    # -- the decision (approval's case_decided) --------------------------------------------------
    def on_case_decided(self, decision: CaseDecision, env: Envelope, uow: UnitOfWork) -> None:
        """An approved case with fees waits at the fee window (待核定); when the decision names its fee
        codes and every one can be assessed without a person (fixed standards, or the lower bound of a
        range for a government-invested or key project), it is assessed at once. A denied case's
        unpaid notice is voided. Idempotent by the inbox; a case without fees is not touched."""
        number = decision.case_number or env.correlation_id or ""
        if domain.case_tenant(number) != env.tenant:
            raise PoisonMessage(f"case number {number!r} does not belong to tenant {env.tenant}")
        repo = FeesRepository(uow)
        case = repo.get_case(number, lock=True)
        now = self.clock.now()
        if decision.outcome == "denied":
            if case is not None and case.status in (CaseStatus.AWAITING, CaseStatus.ASSESSED, CaseStatus.NOTICED):
                notice = repo.notice_of_case(case.tenant, number)
                if notice is not None and notice["status"] == NoticeStatus.ISSUED:
                    repo.void_notice(notice["notice_number"])
                case.status = CaseStatus.CLOSED
                repo.save_case(case, lines_changed=False)
            return
        if decision.outcome != "approved" or not decision.has_fees:
            return
        if case is None:
            case = CaseFees(env.tenant, number, CaseStatus.AWAITING, source="decision")
        case.government_invested = case.government_invested or decision.government_invested
        case.key_project = case.key_project or decision.key_project
        case.applicant_name = case.applicant_name or decision.applicant_name[:MAX_NAME]
        case.item_id = decision.item_id[:64]
        case.item_version = decision.item_version
        case.expected_fee_codes = tuple(c.upper() for c in decision.fee_codes)[:MAX_LINES]
        try:
            case.decided_at = dt.datetime.fromisoformat(decision.at)
        except ValueError:
            case.decided_at = now
        if case.status == CaseStatus.ASSESSED and case.favoured:
            case.lines = [favour_line(x) for x in case.lines]
        if case.status == CaseStatus.AWAITING and case.expected_fee_codes:
            in_force = repo.published_for(case.tenant, list(case.expected_fee_codes))
            try:
                lines = [assess_line(FeeDefinition.from_dict(in_force[c].definition), in_force[c].id,
                                     in_force[c].version, LineInput(c), line_no=i + 1, favoured=case.favoured,
                                     field_prefix=f"lines[{i}]")
                         for i, c in enumerate(case.expected_fee_codes)]
            except (KeyError, InvalidArgument):
                lines = []   # needs a person: quantities, an amount within a range, or an unknown code
            if lines:
                case.assess(lines, by="system", at=now)
                uow.emit(self.events_out.fees_assessed(case, now), correlation_id=number)
        repo.save_case(case)
