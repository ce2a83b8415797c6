"""Use cases of refunds (退费): a cashier asks for one against a paid notice or a payment in the
reconciliation queue, the head (机关负责人) — another person — approves or refuses it. The rules are in
payments.py; part of FeesHandlers (handlers.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.fees import domain
from services.fees.domain import READERS, NoticeStatus
from services.fees.payments import EntryStatus, RefundStatus, check_refund
from services.fees.repository import FeesRepository
from shared.clock import Clock
from shared.db import Database
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import Principal, Role
from shared.validation import uuid_field

if TYPE_CHECKING:
    from services.fees.handlers import FeesEvents


class RefundHandlers:
    def __init__(self, db: Database, *, events_out: FeesEvents, clock: Clock):
        self.db = db
        self.events_out = events_out
        self.clock = clock

    def request_refund(self, p: Principal, notice_number: str, reconciliation_id: str, amount_fen: int,
                       reason: str) -> dict:
        p.require(Role.CASHIER)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            if reconciliation_id:
                entry = repo.get_entry(uuid_field(reconciliation_id, "reconciliation_id", "对账记录标识"), lock=True)
                if entry is None or entry["tenant"] != str(p.tenant):
                    raise NotFound("对账记录不存在或无权查看")
                if entry["status"] == EntryStatus.MATCHED:
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
                if notice["status"] != NoticeStatus.PAID:
                    raise FailedPrecondition("缴款书尚未缴款，无需退费")
                payment_id, refundable = notice["payment_id"], notice["total_fen"]
                notice_no, case_number, rec = number, notice["case_number"], None
            committed = repo.refunds_committed(payment_id)
            amount, reason = check_refund(amount_fen, refundable - committed, reason)
            refund_id = repo.add_refund({"now": now, "tenant": str(p.tenant), "notice_number": notice_no,
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
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            r = repo.get_refund(refund_id, lock=True)
            if r is None or r["tenant"] != str(p.tenant):
                raise NotFound("退费申请不存在或无权查看")
            if r["status"] != RefundStatus.PENDING:
                raise FailedPrecondition("该退费申请已处理")
            if r["requested_by"] == p.username:
                raise PermissionDenied("退费的申请人与批准人不能为同一人")
            if not approve and not (note or "").strip():
                raise InvalidArgument("note", "不予批准须说明理由")
            repo.decide_refund(refund_id, RefundStatus.APPROVED if approve else RefundStatus.REJECTED, p.username,
                               (note or "").strip(), now)
            if approve:
                if r["case_number"]:
                    repo.add_refunded(str(p.tenant), r["case_number"], r["amount_fen"])
                uow.emit(self.events_out.refund_made(r, p.username, now),
                         correlation_id=r["case_number"] or r["notice_number"])
            out = repo.get_refund(refund_id)
            uow.commit()
        return out

    def list_refunds(self, p: Principal, status: str) -> list[dict]:
        p.require(*READERS)
        if status and status not in {str(s) for s in RefundStatus}:
            raise InvalidArgument("status", "状态应为 pending、approved 或 rejected")
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow).list_refunds(str(p.tenant), status)
