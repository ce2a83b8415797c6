"""python -m services.approval — the approval service process (gRPC and its event consumer)."""

import sys

from services.approval.handlers import ApprovalHandlers
from services.approval.service import event_consumer, registration
from services.approval.settings import ApprovalSettings
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.runner import run_grpc_service


def main() -> int:
    settings = ApprovalSettings()
    clock = Clock.from_settings(settings)
    built: dict = {}

    def handlers(db) -> ApprovalHandlers:
        if "handlers" not in built:
            calendars = CalendarCache(CalendarStore(db.engine, db.schema), ttl=settings.calendar_cache_seconds)
            built["handlers"] = ApprovalHandlers(db, clock, calendars=calendars)
        return built["handlers"]

    return run_grpc_service(
        "approval", settings, lambda db: [registration(handlers(db))],
        extra_workers=lambda db: [event_consumer(handlers(db), db, settings.amqp_url,
                                                 prefetch=settings.consumer_prefetch)])


if __name__ == "__main__":
    sys.exit(main())
