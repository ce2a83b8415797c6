"""python -m services.approval — the approval service process (gRPC and its event consumer)."""

import sys

from services.approval.handlers import ApprovalHandlers
from services.approval.service import event_consumer, registration
from services.approval.settings import ApprovalSettings
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.runner import ServiceParts, run_grpc_service


def main() -> int:
    settings = ApprovalSettings()
    clock = Clock.from_settings(settings)

    def compose(db) -> ServiceParts:
        calendars = CalendarCache(CalendarStore(db.engine, db.schema), ttl=settings.calendar_cache_seconds)
        handlers = ApprovalHandlers(db, clock, calendars=calendars)
        return ServiceParts([registration(handlers)],
                            [event_consumer(handlers, db, settings.amqp_url, prefetch=settings.consumer_prefetch)])

    return run_grpc_service("approval", settings, compose)


if __name__ == "__main__":
    sys.exit(main())
