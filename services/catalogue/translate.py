"""All translation between the catalogue's proto messages and its domain: requests → domain values,
item versions → Item messages (`ItemMessages`, which translates a published version once), and the
events it publishes (`EventsOut`, the `events_out` its handlers are given)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import events_pb2
from sanji.common.v1 import common_pb2

from services.catalogue.domain import Elements, Item, ItemRow, ItemVersion, ListingKind
from shared.errors import InvalidArgument
from shared.tenancy import Unit, UnitKind

STATUS = {"draft": pb.ITEM_STATUS_DRAFT, "published": pb.ITEM_STATUS_PUBLISHED,
          "superseded": pb.ITEM_STATUS_SUPERSEDED, "cancelled": pb.ITEM_STATUS_CANCELLED}
LISTING = {"own": pb.LISTING_KIND_OWN, "delegated": pb.LISTING_KIND_DELEGATED, "proxy": pb.LISTING_KIND_PROXY,
           "collect": pb.LISTING_KIND_COLLECT}
LISTING_FROM_PB = {pb.LISTING_KIND_DELEGATED: ListingKind.DELEGATED, pb.LISTING_KIND_PROXY: ListingKind.PROXY,
                   pb.LISTING_KIND_COLLECT: ListingKind.COLLECT}
UNIT_KIND = {UnitKind.PROVINCE: common_pb2.UNIT_KIND_PROVINCE, UnitKind.CITY: common_pb2.UNIT_KIND_CITY,
             UnitKind.COUNTY: common_pb2.UNIT_KIND_COUNTY, UnitKind.TOWNSHIP: common_pb2.UNIT_KIND_TOWNSHIP,
             UnitKind.VILLAGE: common_pb2.UNIT_KIND_VILLAGE}
GUIDE_FORMAT = {pb.GUIDE_FORMAT_HTML: "html", pb.GUIDE_FORMAT_PDF: "pdf"}


def _iso(ts: dt.datetime | None) -> str:
    return ts.isoformat() if ts else ""


# -- requests -------------------------------------------------------------------------------------
def elements(message: pb.ItemElements) -> Elements:
    return Elements.from_dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


def listing_kind(value: int) -> ListingKind:
    if value not in LISTING_FROM_PB:
        raise InvalidArgument("kind", "请选择下放（LISTING_KIND_DELEGATED）、代办（LISTING_KIND_PROXY）"
                                      "或代收（LISTING_KIND_COLLECT）")
    return LISTING_FROM_PB[value]


def guide_format(value: int) -> str:
    return GUIDE_FORMAT.get(value, "")


# -- results --------------------------------------------------------------------------------------
def row_to_item(row: ItemRow) -> pb.Item:
    item = pb.Item(id=row.id, tenant=row.tenant, version=row.version, status=STATUS[row.status],
                   created_at=_iso(row.created_at), published_at=_iso(row.published_at),
                   change_reason=row.change_reason, listing=LISTING.get(row.listing, 0), province=row.tenant[:2])
    json_format.ParseDict(row.elements, item.elements, ignore_unknown_fields=True)
    return item


def unit(u: Unit) -> common_pb2.Tenant:
    return common_pb2.Tenant(code=str(u.code), name=u.name, kind=UNIT_KIND[u.kind],
                             parent_code=str(u.parent_code or ""))


class ItemMessages:
    """Item messages of item versions, each published version translated once (the elements' parse is most of
    a GetItem's CPU). What a version says never changes once it is published (an adjustment makes a new
    version); what does — its status, how it is listed, the reason given when it is cancelled — is taken from
    the row at hand. Drafts are translated every time."""

    def __init__(self, max_versions: int = 20000):
        self._messages: OrderedDict[tuple[str, int], tuple[tuple, pb.Item]] = OrderedDict()
        self._max = max_versions
        self._lock = threading.Lock()

    def item(self, row: ItemRow) -> pb.Item:
        return self.items([row])[0]

    def items(self, rows: list[ItemRow]) -> list[pb.Item]:
        """The rows' messages, the cached ones looked up under one acquisition of the lock (a search lists 20)."""
        with self._lock:
            messages = self._messages
            hits = [None if row.status == "draft" else messages.get((row.id, row.version)) for row in rows]
            for row, hit in zip(rows, hits, strict=True):
                if hit is not None:
                    messages.move_to_end((row.id, row.version))
        return [self._message(row, hit) for row, hit in zip(rows, hits, strict=True)]

    def _message(self, row: ItemRow, hit: tuple[tuple, pb.Item] | None) -> pb.Item:
        if row.status == "draft":
            return row_to_item(row)
        stamp = (row.published_at, row.change_reason)
        if hit is None or hit[0] != stamp:
            message = row_to_item(row)
            with self._lock:
                self._messages[(row.id, row.version)] = (stamp, message)
                while len(self._messages) > self._max:
                    self._messages.popitem(last=False)
            return message
        message = hit[1]
        status, listing = STATUS[row.status], LISTING.get(row.listing, 0)
        if message.status == status and message.listing == listing:
            return message
        copy = pb.Item()
        copy.CopyFrom(message)
        copy.status, copy.listing = status, listing
        return copy


# -- events out -----------------------------------------------------------------------------------
class EventsOut:
    """The events the catalogue publishes, built from domain values (the handlers' `events_out`)."""

    def item_published(self, item: Item, version: ItemVersion,
                       published_at: dt.datetime | None) -> events_pb2.ItemPublished:
        el = version.elements
        return events_pb2.ItemPublished(item_id=item.id, version=version.version, tenant=str(item.tenant),
                                        name=el.name, basic_code=el.basic_code, item_type=el.item_type,
                                        exercise_level=el.exercise_level, published_at=_iso(published_at))

    def item_adjusted(self, item: Item, previous: ItemVersion, new: ItemVersion,
                      published_at: dt.datetime | None) -> events_pb2.ItemAdjusted:
        return events_pb2.ItemAdjusted(item_id=item.id, version=new.version, previous_version=previous.version,
                                       tenant=str(item.tenant), name=new.elements.name, reason=new.change_reason,
                                       published_at=_iso(published_at))

    def item_cancelled(self, item: Item, version: ItemVersion) -> events_pb2.ItemCancelled:
        return events_pb2.ItemCancelled(item_id=item.id, version=version.version, tenant=str(item.tenant),
                                        name=version.elements.name, reason=version.change_reason)

    def item_delegated(self, item: Item, targets: list, kind: ListingKind, reason: str) -> events_pb2.ItemDelegated:
        return events_pb2.ItemDelegated(item_id=item.id, version=item.current.version, tenant=str(item.tenant),
                                        target_tenants=[str(c) for c in targets], kind=str(kind), reason=reason)


# -- province records (issue 23) ---------------------------------------------------------------------------
def province_to_pb(record) -> pb.Province:
    return pb.Province(tenant_code=record.tenant_code, name=record.name, calendar_region=record.calendar_region,
                       payment_key_ref=record.payment_key_ref, n_tong=list(record.n_tong),
                       complaint_working_days=record.complaint_working_days,
                       rectification_days=record.rectification_days, updated_by=record.updated_by,
                       supervision_thresholds=dict(record.supervision_thresholds))


def province_fields(m: pb.Province) -> dict:
    """The record's fields from the message: the whole record (an update names every field; 0 days is refused)."""
    return {"name": m.name, "calendar_region": m.calendar_region or m.tenant_code,
            "payment_key_ref": m.payment_key_ref, "n_tong": list(m.n_tong),
            "complaint_working_days": m.complaint_working_days, "rectification_days": m.rectification_days,
            "supervision_thresholds": dict(m.supervision_thresholds)}


# -- the import's report (事项清单导入) ---------------------------------------------------------------------
def import_source(content: bytes, filename: str):
    """The uploaded list read as the import-items command reads a file; an unreadable one is refused naming
    the upload (`content`), in Chinese."""
    from services.catalogue import importing

    try:
        return importing.read_bytes(content, f"文件 {filename}" if filename else "文件")
    except importing.UnreadableFile as exc:
        raise InvalidArgument("content", exc.message) from None


def import_report_to_pb(source, report, filename: str) -> pb.ImportItemsResponse:
    """Every line of the file with what happened (or would happen) to it: new, already held, refused and why."""
    from services.catalogue import importing

    names: dict[int, tuple[str, str]] = {}
    if "name" in source.header and "implementation_code" in source.header:
        n, c = source.column("name"), source.column("implementation_code")
        for r in source.rows:
            if len(r.values) == len(source.header):
                names[r.line] = (r.values[n].strip(), r.values[c].strip())
    lines: list[pb.ImportLine] = []
    for line in report.created:
        name, code = names.get(line, ("", ""))
        lines.append(pb.ImportLine(line=line, outcome=pb.IMPORT_OUTCOME_NEW, name=name, implementation_code=code))
    for a in report.already_present:
        lines.append(pb.ImportLine(line=a.line, outcome=pb.IMPORT_OUTCOME_PRESENT, name=names.get(a.line, ("",))[0],
                                   implementation_code=a.implementation_code,
                                   reason="本单位已有该实施编码的事项（"
                                          + importing.STATUS_LABELS.get(a.status, a.status) + "），不重复创建、不修改"))
    for prob in report.refused:
        name, code = names.get(prob.line, ("", ""))
        lines.append(pb.ImportLine(line=prob.line, outcome=pb.IMPORT_OUTCOME_REFUSED, name=name,
                                   implementation_code=code, field=prob.field,
                                   reason=f"{importing.COLUMN_LABELS.get(prob.field, prob.field)}：{prob.reason}"))
    lines.sort(key=lambda x: (x.line, x.field))
    return pb.ImportItemsResponse(
        tenant=report.tenant, filename=filename, confirmed=report.confirmed, rows=report.rows,
        new_items=len(report.created), present=len(report.already_present), refused_lines=len(report.refused_lines),
        lines=lines, summary=report.summary())
