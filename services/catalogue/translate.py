"""Translation between the catalogue's proto messages and its rows and dicts."""

from __future__ import annotations

from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb

from services.catalogue.domain import ListingKind
from services.catalogue.repository import ItemRow
from shared.errors import InvalidArgument

STATUS = {"draft": pb.ITEM_STATUS_DRAFT, "published": pb.ITEM_STATUS_PUBLISHED,
          "superseded": pb.ITEM_STATUS_SUPERSEDED, "cancelled": pb.ITEM_STATUS_CANCELLED}
LISTING = {"own": pb.LISTING_KIND_OWN, "delegated": pb.LISTING_KIND_DELEGATED, "proxy": pb.LISTING_KIND_PROXY}
LISTING_FROM_PB = {pb.LISTING_KIND_DELEGATED: ListingKind.DELEGATED, pb.LISTING_KIND_PROXY: ListingKind.PROXY}


def elements_to_dict(elements: pb.ItemElements) -> dict:
    return json_format.MessageToDict(elements, preserving_proto_field_name=True)


def row_to_item(row: ItemRow) -> pb.Item:
    item = pb.Item(id=row.id, tenant=row.tenant, version=row.version, status=STATUS[row.status],
                   created_at=row.created_at.isoformat() if row.created_at else "",
                   published_at=row.published_at.isoformat() if row.published_at else "",
                   change_reason=row.change_reason, listing=LISTING.get(row.listing, 0), province=row.tenant[:2])
    json_format.ParseDict(row.elements, item.elements, ignore_unknown_fields=True)
    return item


def listing_kind(value: int) -> ListingKind:
    if value not in LISTING_FROM_PB:
        raise InvalidArgument("kind", "请选择下放（LISTING_KIND_DELEGATED）或代办（LISTING_KIND_PROXY）")
    return LISTING_FROM_PB[value]
