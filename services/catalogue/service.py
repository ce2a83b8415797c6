"""gRPC servicer of the catalogue: translate, call a handler, translate back. Nothing else."""

from __future__ import annotations

from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc
from sanji.common.v1 import common_pb2

from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.translate import elements_to_dict, listing_kind, row_to_item
from shared.grpc.server import Registration
from shared.tenancy import UnitKind, current_principal, current_principal_or_none

UNIT_KIND = {UnitKind.PROVINCE: common_pb2.UNIT_KIND_PROVINCE, UnitKind.CITY: common_pb2.UNIT_KIND_CITY,
             UnitKind.COUNTY: common_pb2.UNIT_KIND_COUNTY, UnitKind.TOWNSHIP: common_pb2.UNIT_KIND_TOWNSHIP,
             UnitKind.VILLAGE: common_pb2.UNIT_KIND_VILLAGE}
PUBLIC_METHODS = ("SearchPublicItems", "GetPublicItem", "RenderGuide", "GetUnit", "ListChildUnits", "MapCode")


def _unit(u) -> common_pb2.Tenant:
    return common_pb2.Tenant(code=str(u.code), name=u.name, kind=UNIT_KIND[u.kind],
                             parent_code=str(u.parent_code or ""))


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, handlers: CatalogueHandlers):
        self.h = handlers

    def CreateItem(self, request, context):
        return row_to_item(self.h.create_item(current_principal(), elements_to_dict(request.elements)))

    def UpdateDraft(self, request, context):
        return row_to_item(self.h.update_draft(current_principal(), request.item_id,
                                               elements_to_dict(request.elements)))

    def PublishItem(self, request, context):
        return row_to_item(self.h.publish(current_principal(), request.item_id))

    def AdjustItem(self, request, context):
        return row_to_item(self.h.adjust(current_principal(), request.item_id, elements_to_dict(request.elements),
                                         request.reason))

    def CancelItem(self, request, context):
        return row_to_item(self.h.cancel(current_principal(), request.item_id, request.reason))

    def DelegateItem(self, request, context):
        row, listed = self.h.delegate(current_principal(), request.item_id, list(request.target_tenants),
                                      listing_kind(request.kind), request.reason)
        return pb.DelegateItemResponse(item=row_to_item(row), listed_for=listed)

    def GetItem(self, request, context):
        return self.h.get_item(current_principal(), request.item_id, request.version)[1]

    def ListItemVersions(self, request, context):
        return pb.ListItemVersionsResponse(
            versions=[row_to_item(r) for r in self.h.versions(current_principal(), request.item_id)])

    def ListMyItems(self, request, context):
        rows, total = self.h.list_mine(current_principal(), request.include_drafts, request.limit, request.offset,
                                       query=request.query)
        return pb.ListItemsResponse(items=self.h.messages(rows), total=total)

    def SearchItems(self, request, context):
        rows, total = self.h.search_mine(current_principal(), request.query, request.limit)
        return pb.ListItemsResponse(items=self.h.messages(rows), total=total)

    def SearchPublicItems(self, request, context):
        rows, total = self.h.search_public(request.region, request.query, request.limit, request.offset)
        return pb.ListItemsResponse(items=self.h.messages(rows), total=total)

    def GetPublicItem(self, request, context):
        return self.h.get_public_item(request.item_id)[1]

    def RenderGuide(self, request, context):
        fmt = {pb.GUIDE_FORMAT_HTML: "html", pb.GUIDE_FORMAT_PDF: "pdf"}.get(request.format, "")
        content, ctype, filename = self.h.render_guide(current_principal_or_none(), request.item_id, fmt)
        return pb.RenderGuideResponse(content=content, content_type=ctype, filename=filename)

    def ResolveHandlingUnit(self, request, context):
        handler, row, proxy, name = self.h.resolve_handling_unit(current_principal(), request.item_id, request.version)
        return pb.ResolveHandlingUnitResponse(handling_tenant=handler, item=row_to_item(row), proxy=proxy,
                                              handling_unit_name=name)

    def GetUnit(self, request, context):
        return _unit(self.h.unit(request.code))

    def ListChildUnits(self, request, context):
        return pb.ListUnitsResponse(units=[_unit(u) for u in self.h.child_units(request.code)])

    def MapCode(self, request, context):
        internal, label = self.h.map_code(request.province, request.code_set, request.external_code)
        return pb.MapCodeResponse(internal_code=internal, label=label)


def registration(handlers: CatalogueHandlers) -> Registration:
    return Registration(servicer=CatalogueServicer(handlers),
                        add_to_server=catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["CatalogueService"].full_name,
                        public_methods=PUBLIC_METHODS)
