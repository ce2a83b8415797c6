"""Catalogue use cases. Each takes a command, runs it in one unit of work, records its events.

Handlers take and return domain values (`Elements`, `ItemRow`, `Unit` …); the events they record are built
by `events_out` (translate.EventsOut in the service), so nothing here knows the wire format.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from services.catalogue import domain, importing
from services.catalogue.cache import VersionCache
from services.catalogue.domain import Elements, Item, ItemRow, ItemVersion, ListingKind, Status
from services.catalogue.guide import render_guide_html
from services.catalogue.guide_pdf import render_guide_pdf
from services.catalogue.repository import CatalogueRepository, search_listed_bound
from services.catalogue.search import query_terms
from shared.clock import Clock
from shared.db import Database
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role, Unit, can_read
from shared.validation import page, uuid_field

log = logging.getLogger(__name__)
IMPORT_BATCH = 200     # drafts per unit of work when importing a published list


class CatalogueEvents(Protocol):
    """The events the catalogue publishes, each built from domain values (translate.EventsOut)."""

    def item_published(self, item: Item, version: ItemVersion, published_at: dt.datetime | None) -> Any: ...

    def item_adjusted(self, item: Item, previous: ItemVersion, new: ItemVersion,
                      published_at: dt.datetime | None) -> Any: ...

    def item_cancelled(self, item: Item, version: ItemVersion) -> Any: ...

    def item_delegated(self, item: Item, targets: list[DivisionCode], kind: ListingKind, reason: str) -> Any: ...


class CatalogueHandlers:
    def __init__(self, db: Database, *, events_out: CatalogueEvents, public_base_url: str = "http://127.0.0.1:8000",
                 cache: VersionCache | None = None, clock: Clock | None = None):
        self.db = db
        # publication, adjustment and cancellation dates come from the platform's clock (issue 20 item 4)
        self.clock = clock or Clock()
        self.events_out = events_out
        self.public_base_url = public_base_url.rstrip("/")
        self.cache = cache or VersionCache()

    def _read(self, p: Principal | None, item_id: str, version: int = 0) -> ItemRow | None:
        """A version, through the cache of published versions."""
        hit = self.cache.lookup(item_id, version)
        if hit is not None:
            return hit
        with self.db.unit_of_work(p) as uow:
            found = CatalogueRepository(uow).read_with_current(item_id, version)
        if found is None:
            return None
        row, current_version, current_status = found
        self.cache.store(row, current_version, current_status)
        return row

    # -- lifecycle -----------------------------------------------------------------------------
    def create_item(self, p: Principal, elements: Elements) -> ItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            el = domain.validate_elements(elements, repo.code_format(p.tenant.province))
            item = Item.create(str(uuid.uuid4()), p.tenant, el)
            try:
                repo.add(item, p.username, self.clock.now())
            except IntegrityError:
                raise AlreadyExists(f"本单位已有基本编码为 {el.basic_code} 的事项",
                                    field="elements.basic_code") from None
            row = repo.read(item.id)
            uow.commit()
        return row

    def import_items(self, p: Principal, source: importing.SourceFile, *,
                     batch_size: int = IMPORT_BATCH, dry_run: bool = False) -> importing.ImportReport:
        """A province's published item list into the caller's unit, as drafts (事项清单导入).

        Good rows become drafts holding what the list gives (`domain.validate_draft`); they publish
        nothing and stay drafts until completed. Rows already held (same implementation code) are not
        created again; bad rows are refused by line and the rest go on. One unit of work per batch.
        `dry_run`: the same report of what would be created, held or refused, and nothing written (the
        workbench shows it before the admin confirms). Always the caller's own unit: a province's admin
        imports the province's standard items, a county's admin the county's list."""
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            if repo.unit(str(p.tenant)) is None:
                raise NotFound(f"单位不存在：{p.tenant}（请先导入区划单位）")
            fmt = repo.code_format(p.tenant.province)
            item_types = repo.code_mappings(p.tenant.province, "item_type")
            existing = repo.existing_codes(p.tenant)
        checked = importing.check_rows(source, tenant=p.tenant, fmt=fmt, item_types=item_types)
        plan = importing.plan_import(checked, existing)
        report = importing.ImportReport(tenant=str(p.tenant), rows=len(source.rows),
                                        already_present=plan.already_present, refused=plan.refused,
                                        confirmed=not dry_run)
        if dry_run:
            report.created.extend(d.line for d in plan.to_create)
            return report
        for start in range(0, len(plan.to_create), max(1, batch_size)):
            self._create_drafts(p, fmt, plan.to_create[start:start + max(1, batch_size)], report)
        return report

    def _create_drafts(self, p: Principal, fmt: domain.CodeFormat, drafts: list[importing.DraftRow],
                       report: importing.ImportReport) -> None:
        for _ in range(3):
            try:
                with self.db.unit_of_work(p) as uow:
                    repo = CatalogueRepository(uow)
                    for d in drafts:
                        el = domain.validate_draft(d.elements, fmt)
                        repo.add(Item.create(str(uuid.uuid4()), p.tenant, el), p.username, self.clock.now())
                    uow.commit()
                report.created.extend(d.line for d in drafts)
                return
            except IntegrityError:
                # someone else created some of these codes meanwhile: look again, plan the batch anew
                log.warning("import batch of %d rows met a concurrent writer; planning it again", len(drafts))
                with self.db.unit_of_work(p) as uow:
                    existing = CatalogueRepository(uow).existing_codes(p.tenant)
                again = importing.plan_import(drafts, existing)
                report.already_present.extend(again.already_present)
                report.refused.extend(again.refused)
                drafts = again.to_create
        raise FailedPrecondition("导入时事项编码反复被并发修改，请稍后重新导入（已导入的事项不会重复创建）")

    def _load_own(self, repo: CatalogueRepository, p: Principal, item_id: str) -> Item:
        uuid_field(item_id, "item_id", "事项标识")
        visible = repo.read(item_id)
        if visible is None:
            raise NotFound("事项不存在或无权查看")
        if visible.tenant != str(p.tenant):
            raise PermissionDenied("只能管理本单位的事项")
        item = repo.get(item_id)
        if item is None:  # pragma: no cover — visible but not lockable means another tenant's row
            raise PermissionDenied("只能管理本单位的事项")
        return item

    def update_draft(self, p: Principal, item_id: str, elements: Elements) -> ItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            item = self._load_own(repo, p, item_id)
            el = domain.validate_elements(elements, repo.code_format(p.tenant.province))
            item.update_draft(el)
            repo.save(item, p.username, self.clock.now())
            row = repo.read(item_id)
            uow.commit()
        self.cache.invalidate(item_id)
        return row

    def publish(self, p: Principal, item_id: str) -> ItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            item = self._load_own(repo, p, item_id)
            v = item.publish(repo.code_format(p.tenant.province))
            repo.save(item, p.username, self.clock.now())
            repo.list_item(p.tenant, item.id, p.tenant, ListingKind.OWN, "本单位事项清单", p.username)
            row = repo.read(item_id)
            uow.emit(self.events_out.item_published(item, v, row.published_at), correlation_id=item.id)
            uow.commit()
        self.cache.invalidate(item_id)
        return row

    def adjust(self, p: Principal, item_id: str, elements: Elements, reason: str) -> ItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            item = self._load_own(repo, p, item_id)
            el = domain.validate_elements(elements, repo.code_format(p.tenant.province))
            previous, new = item.adjust(el, reason)
            repo.save(item, p.username, self.clock.now())
            row = repo.read(item_id)
            uow.emit(self.events_out.item_adjusted(item, previous, new, row.published_at), correlation_id=item.id)
            uow.commit()
        self.cache.invalidate(item_id)
        return row

    def cancel(self, p: Principal, item_id: str, reason: str) -> ItemRow:
        p.require(Role.TENANT_ADMIN)
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            item = self._load_own(repo, p, item_id)
            v, withdrawn = item.cancel(reason)
            repo.save(item, p.username, self.clock.now())
            repo.revoke_listings(item.id, self.clock.now())
            row = repo.read(item_id)
            if withdrawn:
                uow.emit(self.events_out.item_cancelled(item, v), correlation_id=item.id)
            uow.commit()
        self.cache.invalidate(item_id)
        return row

    def delegate(self, p: Principal, item_id: str, targets: list[str], kind: ListingKind,
                 reason: str) -> tuple[ItemRow, list[str]]:
        p.require(Role.TENANT_ADMIN)
        codes = [DivisionCode.parse(t, f"target_tenants[{i}]") for i, t in enumerate(targets)]
        with self.db.unit_of_work(p) as uow:
            repo = CatalogueRepository(uow)
            item = self._load_own(repo, p, item_id)
            known = repo.existing_units([str(c) for c in codes])
            chosen = domain.check_delegation(item, p.tenant, codes, kind, known)
            for code in chosen:
                repo.list_item(p.tenant, item.id, code, kind, reason, p.username)
            row = repo.read(item_id)
            listed = [c for c, k in repo.listings(item.id) if k == str(kind)]
            uow.emit(self.events_out.item_delegated(item, chosen, kind, reason), correlation_id=item.id)
            uow.commit()
        self.cache.invalidate(item_id)
        return row, listed

    # -- reading -------------------------------------------------------------------------------
    def get_item(self, p: Principal, item_id: str, version: int = 0) -> ItemRow:
        """A version the caller may see (the current one when 0)."""
        uuid_field(item_id, "item_id", "事项标识")
        if version < 0:
            raise InvalidArgument("version", "版本号不能为负数")
        row = self._read(p, item_id, version)
        if row is None or not _may_read(p, row):
            raise NotFound("事项不存在或无权查看")
        return row

    def versions(self, p: Principal, item_id: str) -> list[ItemRow]:
        uuid_field(item_id, "item_id", "事项标识")
        with self.db.unit_of_work(p) as uow:
            rows = [r for r in CatalogueRepository(uow).versions(item_id) if _may_read(p, r)]
        if not rows:
            raise NotFound("事项不存在或无权查看")
        return rows

    def list_mine(self, p: Principal, include_drafts: bool, limit: int, offset: int,
                  query: str = "") -> tuple[list[ItemRow], int]:
        """The unit's list, a page of it; with `query`, only the items holding all its terms (so an admin
        finds the draft to complete among a thousand imported ones)."""
        terms = _terms(query) if query.strip() else None
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            return CatalogueRepository(uow).list_for(p.tenant, include_drafts=include_drafts, limit=limit,
                                                     offset=offset, terms=terms)

    def search_mine(self, p: Principal, query: str, limit: int) -> tuple[list[ItemRow], int]:
        """The unit's published items holding every term of the query: which items, in what order, how each is
        listed and how many there are come from one statement under the caller's binding (search_listed); the
        content of each version found comes from the cache of published versions. When all of it is there, the
        statement ran alone in one round trip (search_listed_bound); when a version is missing, the search runs
        again in one transaction with the read of what is missing, so what it lists is what that snapshot held."""
        terms = _terms(query)
        limit, _ = page(limit, 0)
        found, total = search_listed_bound(self.db, p, terms, limit, 0)
        content = self.cache.published_many([(i, v) for i, v, _ in found])
        if None not in content:
            return [_listed(row, listing) for row, (_, _, listing) in zip(content, found, strict=True)], total
        with self.db.unit_of_work(p, generic_plans=True) as uow:
            repo = CatalogueRepository(uow)
            found, total = repo.search_listed(p.tenant, terms, limit, 0)
            keys = [(i, v) for i, v, _ in found]
            by_key = dict(zip(keys, self.cache.published_many(keys), strict=True))
            missing = [key for key, row in by_key.items() if row is None]
            if missing:
                for row in repo.read_many(missing):
                    by_key[(row.id, row.version)] = row
                    self.cache.keep_published(row)
        return [_listed(by_key[(i, v)], listing) for i, v, listing in found if by_key[(i, v)]], total

    def search_public(self, region: str, query: str, limit: int, offset: int) -> tuple[list[ItemRow], int]:
        if region:
            region = str(DivisionCode.parse(region, "region"))
        limit, offset = page(limit, offset)
        terms = query_terms(query)
        if query.strip() and not terms:
            raise InvalidArgument("query", "请输入中文或字母数字关键词")
        with self.db.unit_of_work() as uow:
            return CatalogueRepository(uow).search_public(region, terms, limit, offset)

    def get_public_item(self, item_id: str) -> ItemRow:
        uuid_field(item_id, "item_id", "事项标识")
        row = self._read(None, item_id)
        if row is None or row.status != Status.PUBLISHED:
            raise NotFound("事项不存在或未公开")
        return row

    def render_guide(self, p: Principal | None, item_id: str, fmt: str) -> tuple[bytes, str, str]:
        row = self.get_item(p, item_id) if p is not None else self.get_public_item(item_id)
        with self.db.unit_of_work(p) as uow:
            unit = CatalogueRepository(uow).unit(row.tenant)
        unit_name = unit.name if unit else row.tenant
        url = f"{self.public_base_url}/guide/{row.id}"
        stem = f"办事指南-{row.elements.get('name', row.id)}"
        if fmt == "pdf":
            return render_guide_pdf(row, unit_name=unit_name, lookup_url=url), "application/pdf", f"{stem}.pdf"
        if fmt == "html":
            html = render_guide_html(row, unit_name=unit_name, lookup_url=url)
            return html.encode("utf-8"), "text/html; charset=utf-8", f"{stem}.html"
        raise InvalidArgument("format", "请选择 HTML 或 PDF 格式")

    def resolve_handling_unit(self, p: Principal, item_id: str, version: int = 0,
                              ) -> tuple[str, ItemRow, bool, str, bool]:
        """Where an application for this item, taken in at the caller's unit, is decided: (handling unit, the
        version, taken in for a resident (代办), the handling unit's name, taken in on its behalf (代收))."""
        row = self.get_item(p, item_id, version)
        current = self.get_item(p, item_id) if version else row
        if current.status == str(Status.CANCELLED):
            raise FailedPrecondition("该事项已取消，不再受理新的申请")
        if current.status != str(Status.PUBLISHED) or (version and row.status == str(Status.DRAFT)):
            raise FailedPrecondition("该事项未发布，清单之外无许可")
        if version and version != current.version:
            raise FailedPrecondition(f"该事项现行版本为第 {current.version} 版，请按现行版本申请")
        return self._handling_at(p.tenant, item_id, row)

    def resolve_handling_unit_at(self, item_id: str, unit: str) -> tuple[str, ItemRow, bool, str, bool]:
        """resolve_handling_unit for an application taken in at `unit` with no person of the platform behind
        it (an online application the docking gateway forwards, 委托收件): the item's current published version
        and the public listings only — the same answer the unit's own window would get."""
        me = DivisionCode.parse(unit, "unit")
        row = self.get_public_item(item_id)
        return self._handling_at(me, item_id, row)

    def _handling_at(self, me: DivisionCode, item_id: str, row: ItemRow) -> tuple[str, ItemRow, bool, str, bool]:
        chain = [str(me), *(str(a) for a in me.ancestors() if len(a.value) >= 6)]
        with self.db.unit_of_work() as uow:  # listings are public information
            repo = CatalogueRepository(uow)
            listed = repo.listed_for(item_id, chain)
            owner_unit = None
            handler = None
            proxy = collect = False
            if row.tenant == str(me) or "delegated" in listed.get(str(me), set()):
                handler = str(me)
            elif "proxy" in listed.get(str(me), set()) or "collect" in listed.get(str(me), set()):
                proxy = "proxy" in listed.get(str(me), set())
                collect = not proxy
                handler = next((c for c in chain[1:] if "delegated" in listed.get(c, set())), row.tenant)
            if handler is None:
                raise FailedPrecondition("本单位受理清单中没有该事项（清单之外无许可）")
            owner_unit = repo.unit(handler)
        return handler, row, proxy, owner_unit.name if owner_unit else handler, collect

    def unit(self, code: str) -> Unit:
        code = str(DivisionCode.parse(code, "code"))
        with self.db.unit_of_work() as uow:
            u = CatalogueRepository(uow).unit(code)
        if u is None:
            raise NotFound(f"单位不存在：{code}")
        return u

    def child_units(self, code: str) -> list[Unit]:
        self.unit(code)
        with self.db.unit_of_work() as uow:
            return CatalogueRepository(uow).child_units(code)

    def code_mappings(self, province: str, code_set: str) -> list[tuple[str, str, str]]:
        """A province's whole table of one code set: (external, internal, label), empty when it has none."""
        if not province or not province.isdigit() or len(province) != 2:
            raise InvalidArgument("province", "省份代码应为 2 位数字")
        if not code_set:
            raise InvalidArgument("code_set", "代码集不能为空")
        with self.db.unit_of_work() as uow:
            return CatalogueRepository(uow).code_mapping_rows(province, code_set)

    def map_code(self, province: str, code_set: str, external: str) -> tuple[str, str]:
        if not province or not province.isdigit() or len(province) != 2:
            raise InvalidArgument("province", "省份代码应为 2 位数字")
        if not code_set:
            raise InvalidArgument("code_set", "代码集不能为空")
        with self.db.unit_of_work() as uow:
            r = CatalogueRepository(uow).map_code(province, code_set, external)
        if r is None:
            raise NotFound(f"代码映射不存在：{province}/{code_set}/{external}")
        return r


def _terms(query: str) -> list[str]:
    terms = query_terms(query)
    if not terms:
        raise InvalidArgument("query", "请输入搜索关键词")
    return terms


def _listed(row: ItemRow, listing: str) -> ItemRow:
    """The version as listed for the caller (dataclasses.replace costs five times this; a search makes 20)."""
    return ItemRow(row.id, row.tenant, row.version, row.status, row.elements, row.created_at, row.published_at,
                   row.change_reason, listing)


def _may_read(p: Principal, row: ItemRow) -> bool:
    """The application's own wall (RLS is the other): own items, a supervisor's subtree, and the
    published items of one's ancestors (a township works with its county's catalogue)."""
    owner = DivisionCode(row.tenant)
    if can_read(p, owner):
        return True
    return row.status != str(Status.DRAFT) and owner.is_ancestor_of(p.tenant)
