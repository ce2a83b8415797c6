"""Use cases of the fee catalogue (收费目录): a unit's admin drafts, publishes, adjusts and cancels its fee
items; everyone reads the published ones (its own unit's and those of the units above it). The rules are
in catalogue.py; part of FeesHandlers (handlers.py)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from services.fees.catalogue import FeeItem, FeeStatus, validate_definition
from services.fees.repository import FeeItemRow, FeesRepository
from shared.clock import Clock
from shared.db import Database
from shared.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role, can_read
from shared.validation import uuid_field

if TYPE_CHECKING:
    from services.fees.handlers import FeesEvents


class FeeCatalogueHandlers:
    def __init__(self, db: Database, *, events_out: FeesEvents, clock: Clock | None = None):
        self.db = db
        self.clock = clock or Clock()   # publication dates from the platform's clock (issue 20 item 4)
        self.events_out = events_out

    def readiness(self, p: Principal, unit: str) -> tuple[int, bool]:
        """For the onboarding service (its own credential only, issue 23): the unit's published fee items and
        whether a treasury account receives its fees (收缴分离) — what a new county lacks before it can charge."""
        p.require_calling_service("onboarding")
        code = str(DivisionCode.parse((unit or "").strip(), "unit"))
        with self.db.unit_of_work(tenant=code, subtree=False) as uow:
            items, treasury = uow.row(
                "SELECT (SELECT count(*) FROM fees.fee_items WHERE tenant_code = :c AND status = 'published'),"
                " EXISTS (SELECT 1 FROM fees.treasury_accounts WHERE tenant_code = :c)", {"c": code}) or (0, False)
        return int(items), bool(treasury)

    def create_fee_item(self, p: Principal, definition: dict) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        d = validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            if repo.fee_code_exists(str(p.tenant), d.fee_code):
                raise AlreadyExists(f"本单位收费目录中已有编码为 {d.fee_code} 的收费项目", field="definition.fee_code")
            item = FeeItem.create(str(uuid.uuid4()), p.tenant, d)
            try:
                repo.add_fee_item(item, p.username, self.clock.now())
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
        d = validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            item = self._own_item(repo, p, item_id)
            item.update_draft(d)
            repo.save_fee_item(item, p.username, self.clock.now())
            row = repo.read_fee_item(item_id)
            uow.commit()
        return row

    def publish_fee_item(self, p: Principal, item_id: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            item = self._own_item(repo, p, item_id)
            v = item.publish()
            repo.save_fee_item(item, p.username, self.clock.now())
            row = repo.read_fee_item(item_id)
            uow.emit(self.events_out.fee_item_published(item, v, row.published_at), correlation_id=item.id)
            uow.commit()
        return row

    def adjust_fee_item(self, p: Principal, item_id: str, definition: dict, reason: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        d = validate_definition(definition)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            item = self._own_item(repo, p, item_id)
            _, new = item.adjust(d, reason)
            repo.save_fee_item(item, p.username, self.clock.now())
            row = repo.read_fee_item(item_id)
            uow.emit(self.events_out.fee_item_published(item, new, row.published_at), correlation_id=item.id)
            uow.commit()
        return row

    def cancel_fee_item(self, p: Principal, item_id: str, reason: str) -> FeeItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            item = self._own_item(repo, p, item_id)
            v, withdrawn = item.cancel(reason)
            repo.save_fee_item(item, p.username, self.clock.now())
            row = repo.read_fee_item(item_id)
            if withdrawn:
                uow.emit(self.events_out.fee_item_cancelled(item, v), correlation_id=item.id)
            uow.commit()
        return row

    def get_fee_item(self, p: Principal, item_id: str, fee_code: str, version: int) -> FeeItemRow:
        if version < 0:
            raise InvalidArgument("version", "版本号不能为负数")
        with self.db.unit_of_work(p) as uow:
            repo = FeesRepository(uow)
            if item_id:
                row = repo.read_fee_item(uuid_field(item_id, "fee_item_id", "收费项目标识"), version)
            elif fee_code:
                row = repo.published_for(str(p.tenant), [fee_code.strip().upper()]).get(fee_code.strip().upper())
            else:
                raise InvalidArgument("fee_item_id", "请指明收费项目标识或收费项目编码")
        if row is None or not (can_read(p, DivisionCode(row.tenant)) or
                               (row.status != FeeStatus.DRAFT and DivisionCode(row.tenant).is_ancestor_of(p.tenant))):
            raise NotFound("收费项目不存在或无权查看")
        return row

    def list_fee_items(self, p: Principal, include_drafts: bool) -> list[FeeItemRow]:
        with self.db.unit_of_work(p) as uow:
            return FeesRepository(uow).list_fee_items(str(p.tenant), include_drafts)

    def list_public_fee_items(self, region: str) -> list[FeeItemRow]:
        region = str(DivisionCode.parse(region, "region")) if region.strip() else ""
        with self.db.unit_of_work() as uow:
            return FeesRepository(uow).list_public(region)
