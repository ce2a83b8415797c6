"""gRPC servicer of the catalogue: translate, call a handler, translate back. Nothing else.

The catalogue consumes no events: its subscription table is empty."""

from __future__ import annotations

from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from services.catalogue import translate as t
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.onboarding_handlers import OnboardingSupport
from services.catalogue.province_handlers import ProvinceHandlers
from shared import divisions
from shared.grpc.server import Registration
from shared.messaging import On
from shared.tenancy import current_principal, current_principal_or_none

# the onboarding service alone, on its own credential: a county's tree, and what the county still lacks here; a job
# runs for no person, so they are public and internal at once, as intake's SubmitOnlineApplication
INTERNAL_METHODS = {"GetCatalogueReadiness": ("onboarding",), "ImportCountyUnits": ("onboarding",)}
PUBLIC_METHODS = ("SearchPublicItems", "GetPublicItem", "RenderGuide", "GetUnit", "ListChildUnits", "MapCode",
                  "ListCodeMappings", "ResolveHandlingUnitAt", "GetProvince", "ListProvinces", *INTERNAL_METHODS)
SUBSCRIPTIONS: tuple[On, ...] = ()


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, handlers: CatalogueHandlers, messages: t.ItemMessages | None = None,
                 provinces: ProvinceHandlers | None = None):
        self.h = handlers
        self.onboarding = OnboardingSupport(handlers.db)
        self.m = messages or t.ItemMessages()
        self.provinces = provinces or ProvinceHandlers(handlers.db, handlers.clock)

    def GetProvince(self, request, context):
        return t.province_to_pb(self.provinces.get(request.tenant_code))

    def ListProvinces(self, request, context):
        return pb.ListProvincesResponse(provinces=[t.province_to_pb(r) for r in self.provinces.list()])

    def UpdateProvince(self, request, context):
        return t.province_to_pb(self.provinces.put(current_principal(), request.province.tenant_code,
                                                   t.province_fields(request.province)))

    def GetCatalogueReadiness(self, request, context):
        items, code_format = self.onboarding.readiness(current_principal(), request.unit)
        return pb.CatalogueReadiness(published_items=items, code_format=code_format)

    def ImportCountyUnits(self, request, context):
        lines = [divisions.SourceLine(x.source, x.line, x.code, x.name) for x in request.lines]
        report, tree = self.onboarding.import_county_units(current_principal(), request.province, request.county,
                                                           lines)
        return pb.ImportCountyUnitsResponse(
            accepted=[pb.DivisionLine(source=x.source, line=x.line, code=x.code, name=x.name) for x in report.accepted],
            refused=[pb.DivisionLineProblem(source=x.source, line=x.line, message=x.message) for x in report.refused],
            county_units=[pb.CountyUnit(code=c, name=n) for c, n in tree.items()])

    def CreateItem(self, request, context):
        return t.row_to_item(self.h.create_item(current_principal(), t.elements(request.elements)))

    def UpdateDraft(self, request, context):
        return t.row_to_item(self.h.update_draft(current_principal(), request.item_id, t.elements(request.elements)))

    def PublishItem(self, request, context):
        return t.row_to_item(self.h.publish(current_principal(), request.item_id))

    def AdjustItem(self, request, context):
        return t.row_to_item(self.h.adjust(current_principal(), request.item_id, t.elements(request.elements),
                                           request.reason))

    def CancelItem(self, request, context):
        return t.row_to_item(self.h.cancel(current_principal(), request.item_id, request.reason))

    def DelegateItem(self, request, context):
        row, listed = self.h.delegate(current_principal(), request.item_id, list(request.target_tenants),
                                      t.listing_kind(request.kind), request.reason)
        return pb.DelegateItemResponse(item=t.row_to_item(row), listed_for=listed)

    def ImportItems(self, request, context):
        source = t.import_source(request.content, request.filename)
        report = self.h.import_items(current_principal(), source, dry_run=not request.confirm)
        return t.import_report_to_pb(source, report, request.filename)

    def GetItem(self, request, context):
        return self.m.item(self.h.get_item(current_principal(), request.item_id, request.version))

    def ListItemVersions(self, request, context):
        return pb.ListItemVersionsResponse(
            versions=[t.row_to_item(r) for r in self.h.versions(current_principal(), request.item_id)])

    def ListMyItems(self, request, context):
        rows, total = self.h.list_mine(current_principal(), request.include_drafts, request.limit, request.offset,
                                       query=request.query)
        return pb.ListItemsResponse(items=self.m.items(rows), total=total)

    def SearchItems(self, request, context):
        rows, total = self.h.search_mine(current_principal(), request.query, request.limit)
        return pb.ListItemsResponse(items=self.m.items(rows), total=total)

    def SearchPublicItems(self, request, context):
        rows, total = self.h.search_public(request.region, request.query, request.limit, request.offset)
        return pb.ListItemsResponse(items=self.m.items(rows), total=total)

    def GetPublicItem(self, request, context):
        return self.m.item(self.h.get_public_item(request.item_id))

    def RenderGuide(self, request, context):
        content, ctype, filename = self.h.render_guide(current_principal_or_none(), request.item_id,
                                                       t.guide_format(request.format))
        return pb.RenderGuideResponse(content=content, content_type=ctype, filename=filename)

    def ResolveHandlingUnit(self, request, context):
        handler, row, proxy, name, collect = self.h.resolve_handling_unit(current_principal(), request.item_id,
                                                                          request.version)
        return pb.ResolveHandlingUnitResponse(handling_tenant=handler, item=t.row_to_item(row), proxy=proxy,
                                              handling_unit_name=name, collect=collect)

    def ResolveHandlingUnitAt(self, request, context):
        handler, row, proxy, name, collect = self.h.resolve_handling_unit_at(request.item_id, request.unit)
        return pb.ResolveHandlingUnitResponse(handling_tenant=handler, item=t.row_to_item(row), proxy=proxy,
                                              handling_unit_name=name, collect=collect)

    def GetUnit(self, request, context):
        return t.unit(self.h.unit(request.code))

    def ListChildUnits(self, request, context):
        return pb.ListUnitsResponse(units=[t.unit(u) for u in self.h.child_units(request.code)])

    def MapCode(self, request, context):
        internal, label = self.h.map_code(request.province, request.code_set, request.external_code)
        return pb.MapCodeResponse(internal_code=internal, label=label)

    def ListCodeMappings(self, request, context):
        rows = self.h.code_mappings(request.province, request.code_set)
        return pb.ListCodeMappingsResponse(mappings=[pb.CodeMapping(external_code=e, internal_code=i, label=label)
                                                     for e, i, label in rows])


def registration(handlers: CatalogueHandlers) -> Registration:
    return Registration(servicer=CatalogueServicer(handlers),
                        add_to_server=catalogue_pb2_grpc.add_CatalogueServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["CatalogueService"].full_name,
                        public_methods=PUBLIC_METHODS, internal_methods=INTERNAL_METHODS)
