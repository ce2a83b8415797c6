"""python -m services.approval — the approval service process (composition root)."""

import sys

from services.approval.administration import AdministrationHandlers
from services.approval.categories import Categories
from services.approval.handlers import ApprovalHandlers
from services.approval.project_handlers import ProjectHandlers
from services.approval.service import event_consumer, registration
from services.approval.settings import ApprovalSettings
from services.approval.translate import EventsOut
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = ApprovalSettings()
    clock = Clock.from_settings(settings)

    def compose(db) -> ServiceParts:
        # one calendar cache and one category book for both sets of handlers: a calendar the administrator
        # publishes is the one the next case action counts on
        # the province's record (the catalogue's) names the region whose years its units count on
        provinces = ProvinceBook(GrpcProvinces(settings.catalogue_target, timeout=settings.catalogue_timeout_seconds),
                                 ttl=settings.province_record_seconds)
        calendars = CalendarCache(CalendarStore(db.engine, db.schema, local_days=True,
                                                province_region=provinces.calendar_region),
                                  ttl=settings.calendar_cache_seconds)
        categories = Categories(db)
        events_out = EventsOut()
        shared = {"calendars": calendars, "categories": categories, "provinces": provinces}
        handlers = ApprovalHandlers(db, clock, events_out, **shared)
        admin = AdministrationHandlers(db, clock, events_out, **shared)
        projects = ProjectHandlers(db, clock, events_out, **shared)
        return ServiceParts([registration(handlers, admin, projects)],
                            [event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch)])

    return run_grpc_service("approval", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
